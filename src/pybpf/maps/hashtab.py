"""Hash maps: hash, percpu_hash, lru_hash, lru_percpu_hash and hash_of_maps.

The table is the kernel's: ``n_buckets`` (max_entries rounded up to a power of two)
buckets chosen by ``jhash(key, seed)``, a new element linked at the head of its bucket
(an update of an existing key, too, links a fresh element at the head and unlinks the old
one), and ``get_next_key`` walking the rest of the key's bucket and then the following
buckets.  With ``BPF_F_ZERO_SEED`` the seed is 0 and the walk order equals the kernel's.

Element memory: a preallocated map has one pool region of fixed-size slots
(``[key rounded to 8][value rounded to 8] x copies``, one copy per CPU for per-CPU maps),
handed out through the kernel's per-CPU free lists (plain maps keep one spare slot per CPU
for replacing updates) or through the LRU machine.  ``BPF_F_NO_PREALLOC`` gives every
element a region of its own, released only at the next ``synchronize_rcu``.
"""

from __future__ import annotations

import errno
import random
from bisect import bisect_right, insort
from collections.abc import Iterator
from typing import Any, ClassVar

from ..errors import BpfError
from ..memory import Region, RegionKind
from .base import BatchResult, Map, reject_btf, to_bytes
from .btfinfo import BtfKind, BtfType
from .freelist import PcpuFreelist
from .hashindex import MAX_NATIVE_BUCKETS, NODE_HEADER, NativeIndex
from .hashslots import DELETE, REPLACE, NativeSlots
from .inner import InnerMapSlot, check_template, effective_max_entries
from .jhash import jhash
from .lru import Lru, LruNode
from .types import (
    ACCESS_MASK,
    BPF_EXIST,
    BPF_F_LOCK,
    BPF_NOEXIST,
    ENOTSUPP,
    KMALLOC_MAX_SIZE,
    PCPU_MIN_UNIT_SIZE,
    MapFlag,
    MapSpec,
    round_up,
)

HTAB_CREATE_FLAG_MASK = int(
    MapFlag.NO_PREALLOC | MapFlag.NO_COMMON_LRU | MapFlag.NUMA_NODE | ACCESS_MASK | MapFlag.ZERO_SEED
)
MAX_NATIVE_SLOTS = 1 << 22
"""Larger (CPUs x element slots) keep their free lists in Python: native code only looks up."""
MAX_NATIVE_NODES = 1 << 26
"""Bytes of mirror nodes beyond which a preallocated map gets no mirror."""
HTAB_ELEM_HEADER = 48  # sizeof(struct htab_elem) on 64-bit kernels
BUCKET_SIZE = 16  # sizeof(struct bucket)


class _Elem(LruNode):
    """One element: its key, cached hash, where its slot lives, (map-in-map) the map, and
    its node in the map's native mirror (0 when it has none)."""

    __slots__ = ("hash", "in_table", "inner", "key", "mirror", "node", "off", "region")

    def __init__(self, region: Region, off: int) -> None:
        self.node = 0
        self.mirror: NativeIndex | None = None
        super().__init__()
        self.region = region
        self.off = off
        self.key = b""
        self.hash = 0
        self.inner: Map | None = None
        self.in_table = False


_SLOT_REF: Any = LruNode.__dict__["ref"]  # the slot the property below stands in front of


class _LruElem(_Elem):
    """An LRU element whose reference bit native code can set too: the bit reads as set
    when either the Python slot or the mirror node's byte is."""

    __slots__ = ()

    @property
    def ref(self) -> int:
        if self.node and self.mirror is not None and self.mirror.ref(self.node):
            return 1
        return int(_SLOT_REF.__get__(self))

    @ref.setter
    def ref(self, value: int) -> None:
        _SLOT_REF.__set__(self, value)
        if self.node and self.mirror is not None:
            self.mirror.set_ref(self.node, value)


class HashMap(Map):
    """``BPF_MAP_TYPE_HASH``; the other hash types refine it with class flags."""

    LRU: ClassVar[bool] = False
    BATCH_OPS = frozenset(
        {"lookup_batch", "lookup_and_delete_batch", "update_batch", "delete_batch"}
    )
    BTF_CHECK = True

    @classmethod
    def check_btf(cls, spec: MapSpec, key: BtfType, value: BtfType) -> None:
        """Hash maps need a key type; hash_of_maps takes no BTF at all."""
        if cls.FD_VALUES:
            reject_btf(spec)
        if key.kind is BtfKind.VOID:
            raise BpfError(errno.EINVAL, "hash maps need a BTF key type")

    # ------------------------------------------------------------------ creation ---

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        """The kernel's creation checks (htab_map_alloc_check and htab_map_alloc)."""
        flags = spec.flags
        percpu_lru = bool(flags & MapFlag.NO_COMMON_LRU)
        prealloc = not flags & MapFlag.NO_PREALLOC
        if cls.FD_VALUES and spec.value_size != 4:
            raise BpfError(errno.EINVAL, "hash_of_maps values are 4-byte map fds")
        if flags & ~HTAB_CREATE_FLAG_MASK:
            raise BpfError(errno.EINVAL, f"flags 0x{flags:x} are not valid for hash maps")
        if flags & MapFlag.RDONLY_PROG and flags & MapFlag.WRONLY_PROG:
            raise BpfError(errno.EINVAL, "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG exclude each other")
        if not cls.LRU and percpu_lru:
            raise BpfError(errno.EINVAL, "BPF_F_NO_COMMON_LRU is only for LRU maps")
        if cls.LRU and not prealloc:
            raise BpfError(ENOTSUPP, "LRU maps are always preallocated")
        if flags & MapFlag.NUMA_NODE and (cls.PERCPU or percpu_lru):
            raise BpfError(errno.EINVAL, "per-CPU maps cannot be bound to a NUMA node")
        if spec.max_entries == 0 or spec.key_size == 0 or spec.value_size == 0:
            raise BpfError(errno.EINVAL, "key_size, value_size and max_entries must be non-zero")
        if spec.key_size + spec.value_size >= KMALLOC_MAX_SIZE - HTAB_ELEM_HEADER:
            raise BpfError(errno.E2BIG, "key and value together are too large")
        if cls.PERCPU and round_up(spec.value_size, 8) > PCPU_MIN_UNIT_SIZE:
            raise BpfError(errno.E2BIG, "per-CPU value larger than 32 KiB")
        if cls.FD_VALUES:
            check_template(spec.inner)
        max_entries = effective_max_entries(spec, num_cpus)
        if max_entries > 1 << 31:
            raise BpfError(errno.E2BIG, "max_entries above 2^31")
        n_buckets = 1 << (max_entries - 1).bit_length()
        if n_buckets > 0xFFFFFFFF // BUCKET_SIZE:
            raise BpfError(errno.E2BIG, "too many hash buckets")

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self.max_entries = effective_max_entries(spec, num_cpus)
        self.prealloc = not spec.flags & MapFlag.NO_PREALLOC
        self.n_buckets = 1 << (self.max_entries - 1).bit_length()
        self.seed = 0 if spec.flags & MapFlag.ZERO_SEED else random.getrandbits(32)
        self.key_area = round_up(self.key_size, 8)
        self.value_stride = 8 if self.FD_VALUES else round_up(self.value_size, 8)
        self.copies = num_cpus if self.PERCPU else 1
        self.slot_size = self.key_area + self.copies * self.value_stride
        self._buckets: dict[int, list[_Elem]] = {}
        self._nonempty: list[int] = []  # sorted indices of non-empty buckets
        self._index: dict[bytes, _Elem] = {}
        self.count = 0  # elements of a non-preallocated map
        self._lru: Lru | None = None
        self._freelist: PcpuFreelist[_Elem] | None = None
        self._extra: list[_Elem] = []
        self._native: NativeIndex | None = None
        self._slots: NativeSlots[_Elem] | None = None
        self._elems: dict[int, _Elem] = {}  # by slot, once the free lists are native
        self.nslots = 0
        self.pool: Region | None = None
        """A preallocated map's element slots (``slot_size`` bytes each)."""
        if self.prealloc:
            spares = num_cpus if not self.PERCPU and not self.LRU else 0
            nslots = self.nslots = self.max_entries + spares
            pool = self.pool = self._allocate(nslots * self.slot_size, RegionKind.MAP_VALUE, "elements")
            slot = self.slot_size

            elem_type = _LruElem if self.LRU else _Elem

            def make(i: int) -> _Elem:
                return elem_type(pool, i * slot)

            self._make = make

            if self.LRU:
                percpu_lru = bool(spec.flags & MapFlag.NO_COMMON_LRU)
                self._lru = Lru(percpu_lru, num_cpus, self._evict, make)
                self._lru.populate(nslots)
            else:
                self._freelist = PcpuFreelist(num_cpus, make)
                self._freelist.populate(nslots)
                for _ in range(spares):
                    spare = self._freelist.pop(self.cpu)
                    assert spare is not None
                    self._extra.append(spare)

    # -------------------------------------------------------------- table plumbing ---

    def _hash(self, key: bytes) -> int:
        return jhash(key, self.seed)

    @property
    def native_writes(self) -> bool:
        """Whether native code may update and delete elements itself: preallocated plain
        and per-CPU hashes whose values hold nothing that must be released."""
        small = self.num_cpus * self.nslots <= MAX_NATIVE_SLOTS  # the free stacks' size
        return small and self.prealloc and not self.LRU and not self.FD_VALUES and not self.has_special_fields

    def native_index(self) -> NativeIndex | None:
        """The table's mirror in native memory (see :mod:`.hashindex`), built on first use
        and kept in step from then on; None for tables too large to mirror.  A map native
        code may change moves its free lists into native memory at the same time."""
        self._sync()
        nodes = self.nslots * (NODE_HEADER + self.key_area)
        if self._native is None and self.n_buckets <= MAX_NATIVE_BUCKETS and nodes <= MAX_NATIVE_NODES and not self.closed:
            self._native = NativeIndex(self.n_buckets, self.key_size, self.nslots)
            for b in self._nonempty:
                for e in reversed(self._buckets[b]):
                    self._mirror_link(e)
            if self.native_writes:
                assert self._freelist is not None
                self._elems = {self._slot_of(e): e for e in self._index.values()}
                self._elems.update((self._slot_of(e), e) for e in self._extra)
                for stack in self._freelist.stacks:
                    self._elems.update((self._slot_of(e), e) for e in stack)
                self._slots = NativeSlots.from_freelist(self._freelist, self._extra, self.nslots, self._elem_at,
                                                        self._slot_of)  # fmt: skip
                self._freelist = None
                self._extra = []
        return self._native

    @property
    def native_slots(self) -> NativeSlots[_Elem] | None:
        return self._slots

    def _slot_of(self, e: _Elem) -> int:
        return e.off // self.slot_size

    def _elem_at(self, slot: int) -> _Elem:
        e = self._elems.get(slot)
        if e is None:
            e = self._elems[slot] = self._make(slot)
        return e

    def _sync(self) -> None:
        """Bring the lists up to date with what native code changed (its journal)."""
        slots = self._slots
        if slots is None or not slots.pending():
            return
        native = self._native
        assert native is not None
        records = slots.take_journal()
        if records is None:
            self._rebuild(native)
            return
        for kind, slot, other in records:
            e = self._elem_at(slot)
            if kind == DELETE:
                self._unlink(e, mirror=False)
                e.inner = None
                continue
            e.key = bytes(e.region.buf[e.off : e.off + self.key_size])
            e.node = native.node_of(slot)
            e.hash = native.hash_of(e.node)
            e.mirror = native
            self._link_head(e, mirror=False)
            if kind == REPLACE:
                self._unlink(self._elem_at(other), mirror=False)

    def _rebuild(self, native: NativeIndex) -> None:
        """Make the lists again from the mirror (native code changed more than its
        journal holds)."""
        for e in self._index.values():
            e.in_table = False
            e.node = 0
        self._buckets, self._index, self._nonempty = {}, {}, []
        for b, nodes in native.chains():
            bucket = self._buckets[b] = []
            self._nonempty.append(b)
            for node in nodes:
                e = self._elem_at(native.slot_of(node))
                e.key, e.hash, e.node, e.mirror = native.key_of(node), native.hash_of(node), node, native
                e.in_table = True
                self._index[e.key] = e
                bucket.append(e)

    def _mirror_link(self, e: _Elem) -> None:
        native = self._native
        assert native is not None
        if self.FD_VALUES:
            value = e.inner.address if e.inner is not None else 0
        else:
            value = self._value_addr(e, 0)
        e.node = native.link_head(e.key, e.hash, value, self._slot_of(e) if self.prealloc else 0)
        e.mirror = native

    def _link_head(self, e: _Elem, mirror: bool = True) -> None:
        b = e.hash & (self.n_buckets - 1)
        bucket = self._buckets.get(b)
        if bucket is None:
            bucket = self._buckets[b] = []
            insort(self._nonempty, b)
        bucket.insert(0, e)
        self._index[e.key] = e
        e.in_table = True
        if mirror and self._native is not None:
            self._mirror_link(e)

    def _unlink(self, e: _Elem, mirror: bool = True) -> None:
        """Take ``e`` out of the table (and of the mirror, unless native code did)."""
        b = e.hash & (self.n_buckets - 1)
        bucket = self._buckets[b]
        for i, x in enumerate(bucket):
            if x is e:
                if not mirror:
                    e.node = 0
                elif e.node:
                    assert self._native is not None
                    ref = e.ref
                    self._native.unlink(e.node, e.hash, bucket[i - 1].node if i else 0)
                    e.node = 0
                    e.ref = ref
                del bucket[i]
                break
        if not bucket:
            del self._buckets[b]
            del self._nonempty[bisect_right(self._nonempty, b) - 1]
        if self._index.get(e.key) is e:
            del self._index[e.key]
        e.in_table = False
        if self.kptr_fields:  # the element leaves the table: it gives back what it holds
            for c in range(self.copies if self.PERCPU else 1):
                self._kptr_free(e.region.buf, self._value_off(e, c))

    def _evict(self, node: LruNode) -> bool:
        """The LRU's del_from_htab: unlink an element if it is still in the table."""
        assert isinstance(node, _Elem)
        if not node.in_table:
            return False
        self._unlink(node)
        return True

    def _value_off(self, e: _Elem, copy: int = 0) -> int:
        return e.off + self.key_area + copy * self.value_stride

    def _value_addr(self, e: _Elem, copy: int = 0) -> int:
        return e.region.base + self._value_off(e, copy)

    def _set_key(self, e: _Elem, key: bytes, h: int) -> None:
        e.key = key
        e.hash = h
        e.region.buf[e.off : e.off + self.key_size] = key

    def _write(self, e: _Elem, copy: int, data: bytes) -> None:
        off = self._value_off(e, copy)
        if not self.FD_VALUES:
            data = self._kptr_clean(data, self.value_stride if self.PERCPU else 0)
        e.region.buf[off : off + len(data)] = data

    def _read_value(self, e: _Elem) -> bytes:
        """The syscall-side value of an element (all CPUs for per-CPU maps)."""
        if self.FD_VALUES:
            assert e.inner is not None
            return (e.inner.id & 0xFFFFFFFF).to_bytes(4, "little")
        if self.PERCPU:
            off = self._value_off(e)
            return bytes(e.region.buf[off : off + self.copies * self.value_stride])
        off = self._value_off(e)
        return bytes(e.region.buf[off : off + self.value_size])

    def _store_all(self, e: _Elem, value: Any) -> None:
        """Store a syscall-side value (``onallcpus``)."""
        if self.FD_VALUES:
            assert isinstance(value, Map)
            e.inner = value
            self._write(e, 0, value.address.to_bytes(8, "little"))
        elif self.PERCPU:
            self._write(e, 0, value)
        else:
            self._write(e, 0, value[: self.value_size])

    def _release_in_place(self, e: _Elem, cpu: int | None) -> None:
        """An in-place per-CPU update gives back what the overwritten copies (all, or
        ``cpu``'s) hold, as the kernel frees their fields after copying the value."""
        if self.kptr_fields:
            for c in range(self.copies) if cpu is None else (cpu,):
                self._kptr_free(e.region.buf, self._value_off(e, c))

    def _store_cpu(self, e: _Elem, value: bytes, cpu: int, fresh: bool) -> None:
        """Store a program-side value: this CPU's copy; a fresh per-CPU element has the
        other CPUs' copies zeroed."""
        if not self.PERCPU:
            self._write(e, 0, value[: self.value_size])
            return
        for c in range(self.copies):
            if c == cpu:
                self._write(e, c, value[: self.value_size])
            elif fresh:
                self._write(e, c, bytes(self.value_size))

    # -------------------------------------------------------------- allocation -----

    def _new_elem(self, cpu: int, replacing: _Elem | None) -> _Elem:
        """alloc_htab_elem for non-LRU maps; raises E2BIG when the map is full."""
        if self.prealloc:
            if self._slots is not None:
                got = self._slots.swap_extra(cpu, replacing) if replacing is not None else self._slots.pop(cpu)
                if got is None:
                    raise BpfError(errno.E2BIG, "hash map is full")
                return got
            if replacing is not None:
                e = self._extra[cpu]
                self._extra[cpu] = replacing
                return e
            assert self._freelist is not None
            got = self._freelist.pop(cpu)
            if got is None:
                raise BpfError(errno.E2BIG, "hash map is full")
            return got
        if self.count >= self.max_entries and replacing is None:
            raise BpfError(errno.E2BIG, "hash map is full")
        self.count += 1
        region = self._allocate(self.slot_size, RegionKind.MAP_VALUE, "element")
        return _Elem(region, 0)

    def _free_elem(self, e: _Elem, cpu: int) -> None:
        """free_htab_elem: back to the free list, or retired after a grace period."""
        e.inner = None
        if self._lru is not None:
            self._lru.push_free(e)
        elif self._slots is not None:
            self._slots.push(cpu, e)
        elif self.prealloc:
            assert self._freelist is not None
            self._freelist.push(cpu, e)
        else:
            self.count -= 1
            self._retire(e.region)

    # -------------------------------------------------------------- core updates ---

    @staticmethod
    def _check_flags(old: _Elem | None, flags: int) -> int:
        f = flags & ~BPF_F_LOCK
        if old is not None and f == BPF_NOEXIST:
            return errno.EEXIST
        if old is None and f == BPF_EXIST:
            return errno.ENOENT
        return 0

    def _update(self, key: bytes, value: Any, flags: int, cpu: int, onallcpus: bool) -> int:
        """One element update as the kernel performs it; 0 or a positive errno."""
        self._sync()
        if self.LRU:
            if self.PERCPU:
                return self._update_lru_percpu(key, value, flags, cpu, onallcpus)
            return self._update_lru(key, value, flags, cpu, onallcpus)
        if self.PERCPU:
            return self._update_percpu(key, value, flags, cpu, onallcpus)
        return self._update_plain(key, value, flags, cpu, onallcpus)

    def _update_plain(self, key: bytes, value: Any, flags: int, cpu: int, onallcpus: bool) -> int:
        if (flags & ~BPF_F_LOCK) > BPF_EXIST:
            return errno.EINVAL
        h = self._hash(key)
        if flags & BPF_F_LOCK:
            return errno.EINVAL  # no bpf_spin_lock in the value (no BTF)
        old = self._index.get(key)
        err = self._check_flags(old, flags)
        if err:
            return err
        try:
            new = self._new_elem(cpu, old)
        except BpfError as exc:
            return exc.errno
        self._set_key(new, key, h)
        if onallcpus:
            self._store_all(new, value)
        else:
            self._store_cpu(new, value, cpu, fresh=True)
        self._link_head(new)
        if old is not None:
            self._unlink(old)
            old.inner = None
            if not self.prealloc:
                self._free_elem(old, cpu)
        return 0

    def _update_percpu(self, key: bytes, value: Any, flags: int, cpu: int, onallcpus: bool) -> int:
        if flags > BPF_EXIST:
            return errno.EINVAL
        h = self._hash(key)
        old = self._index.get(key)
        err = self._check_flags(old, flags)
        if err:
            return err
        if old is not None:
            self._release_in_place(old, None if onallcpus else cpu)
            if onallcpus:
                self._store_all(old, value)
            else:
                self._store_cpu(old, value, cpu, fresh=False)
            return 0
        try:
            new = self._new_elem(cpu, None)
        except BpfError as exc:
            return exc.errno
        self._set_key(new, key, h)
        if onallcpus:
            self._store_all(new, value)
        else:
            self._store_cpu(new, value, cpu, fresh=True)
        self._link_head(new)
        return 0

    def _lru_pop(self, key: bytes, h: int, cpu: int) -> _Elem | None:
        assert self._lru is not None
        node = self._lru.pop_free(cpu)
        if node is None:
            return None
        assert isinstance(node, _Elem)
        self._set_key(node, key, h)
        return node

    def _update_lru(self, key: bytes, value: Any, flags: int, cpu: int, onallcpus: bool) -> int:
        if flags > BPF_EXIST:
            return errno.EINVAL
        assert self._lru is not None
        h = self._hash(key)
        # The kernel takes the new node before looking at the table; taking it may evict.
        new = self._lru_pop(key, h, cpu)
        if new is None:
            return errno.ENOMEM
        if onallcpus:
            self._store_all(new, value)
        else:
            self._store_cpu(new, value, cpu, fresh=True)
        old = self._index.get(key)
        err = self._check_flags(old, flags)
        if err:
            self._lru.push_free(new)
            return err
        self._link_head(new)
        if old is not None:
            Lru.set_ref(new)
            self._unlink(old)
            self._lru.push_free(old)
        return 0

    def _update_lru_percpu(
        self, key: bytes, value: Any, flags: int, cpu: int, onallcpus: bool
    ) -> int:
        if flags > BPF_EXIST:
            return errno.EINVAL
        assert self._lru is not None
        h = self._hash(key)
        new: _Elem | None = None
        if flags != BPF_EXIST:
            new = self._lru_pop(key, h, cpu)
            if new is None:
                return errno.ENOMEM
        old = self._index.get(key)
        err = self._check_flags(old, flags)
        if not err:
            if old is not None:
                Lru.set_ref(old)
                self._release_in_place(old, None if onallcpus else cpu)
                if onallcpus:
                    self._store_all(old, value)
                else:
                    self._store_cpu(old, value, cpu, fresh=False)
            else:
                assert new is not None
                if onallcpus:
                    self._store_all(new, value)
                else:
                    self._store_cpu(new, value, cpu, fresh=True)
                self._link_head(new)
                new = None
        if new is not None:
            self._lru.push_free(new)
        return err

    def _delete(self, key: bytes, cpu: int) -> int:
        self._sync()
        e = self._index.get(key)
        if e is None:
            return errno.ENOENT
        self._unlink(e)
        self._free_elem(e, cpu)
        return 0

    # ---------------------------------------------------------------- syscall side ---

    def _sys_lookup(self, key: bytes) -> bytes:
        self._sync()
        e = self._index.get(key)
        if e is None:
            raise BpfError(errno.ENOENT, "no such key")
        return self._read_value(e)

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        err = self._update(key, value, flags, self.cpu, onallcpus=True)
        if err:
            raise BpfError(err, _update_message(err))

    def _sys_delete(self, key: bytes) -> None:
        if self._delete(key, self.cpu):
            raise BpfError(errno.ENOENT, "no such key")

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        self._sync()
        e = self._index.get(key) if key is not None else None
        start = 0
        if e is not None:
            b = e.hash & (self.n_buckets - 1)
            bucket = self._buckets[b]
            for i, x in enumerate(bucket):
                if x is e:
                    if i + 1 < len(bucket):
                        return bucket[i + 1].key
                    break
            start = b + 1
        i = bisect_right(self._nonempty, start - 1)
        if i < len(self._nonempty):
            return self._buckets[self._nonempty[i]][0].key
        raise BpfError(errno.ENOENT, "no more keys")

    def _sys_lookup_and_delete(self, key: bytes) -> bytes:
        self._sync()
        if self.FD_VALUES:
            raise BpfError(ENOTSUPP, "hash_of_maps has no lookup-and-delete")
        e = self._index.get(key)
        if e is None:
            raise BpfError(errno.ENOENT, "no such key")
        value = self._read_value(e)
        self._unlink(e)
        self._free_elem(e, self.cpu)
        return value

    def _sys_value(self, value: Any) -> Any:
        if self.FD_VALUES:
            if value is None:
                raise BpfError(errno.EFAULT, "value is NULL")
            return value  # resolved in update, after the kernel's own checks
        return super()._sys_value(value)

    def _lookup_batch(
        self, in_batch: bytes | None, count: int, elem_flags: int, flags: int, delete: bool
    ) -> BatchResult:
        """The hash table's own batch walk: the token is a bucket index, and a batch
        always takes whole buckets."""
        self._sync()
        if elem_flags & ~BPF_F_LOCK or elem_flags & BPF_F_LOCK:
            raise BpfError(errno.EINVAL, f"bad element flags 0x{elem_flags:x}")
        if flags:
            raise BpfError(errno.EINVAL, f"bad batch flags 0x{flags:x}")
        if count <= 0:
            return BatchResult(0)
        batch = 0
        if in_batch is not None:
            if len(in_batch) < 4:
                raise BpfError(errno.EINVAL, "a hash batch token is 4 bytes")
            batch = int.from_bytes(in_batch[:4], "little")
        if batch >= self.n_buckets:
            return BatchResult(0, errno=errno.ENOENT)
        keys: list[bytes] = []
        values: list[bytes] = []
        err = 0
        while True:
            bucket = self._buckets.get(batch, [])
            if len(bucket) > count - len(keys):
                if not keys:
                    err = errno.ENOSPC
                break
            if bucket:
                taken = list(bucket)
                for e in taken:
                    keys.append(e.key)
                    values.append(self._read_value(e))
                if delete:
                    for e in taken:
                        self._unlink(e)
                    for e in reversed(taken):
                        self._free_elem(e, self.cpu)
            batch += 1
            if batch >= self.n_buckets:
                err = errno.ENOENT
                break
        return BatchResult(len(keys), keys, values, batch.to_bytes(4, "little"), err)

    # ---------------------------------------------------------------- program side ---

    def _prog_key(self, key: bytes) -> bytes:
        return to_bytes(key, self.key_size, "key")

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        self._sync()
        self._cpu_ok(cpu)
        e = self._index.get(self._prog_key(key))
        if e is None:
            return 0
        if self.LRU:
            Lru.set_ref(e)
        if self.FD_VALUES:
            return e.inner.address if e.inner is not None else 0
        return self._value_addr(e, cpu if self.PERCPU else 0)

    def bpf_lookup_percpu(self, key: bytes, target_cpu: int) -> int:
        self._sync()
        if not self.PERCPU or not 0 <= target_cpu < self.num_cpus:
            return 0
        e = self._index.get(self._prog_key(key))
        if e is None:
            return 0
        if self.LRU:
            Lru.set_ref(e)
        return self._value_addr(e, target_cpu)

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        self._cpu_ok(cpu)
        if self.FD_VALUES:
            return -errno.EINVAL  # programs cannot store maps (the verifier refuses)
        k = self._prog_key(key)
        v = bytes(value[: self.value_size]).ljust(self.value_size, b"\0")
        return -self._update(k, v, flags, cpu, onallcpus=False)

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        self._cpu_ok(cpu)
        if self.FD_VALUES:
            return -errno.EINVAL
        return -self._delete(self._prog_key(key), cpu)

    def for_each_elem(self, cpu: int) -> Iterator[tuple[int, int]]:
        """Bucket by bucket, head to tail, as the kernel walks the table.  Elements the
        callback deletes are still visited if already reached, and their successors."""
        self._cpu_ok(cpu)
        if self.FD_VALUES:
            raise BpfError(errno.EINVAL, "hash_of_maps has no for-each")
        self._sync()
        for b in list(self._nonempty):
            self._sync()  # the callback may have changed the table natively
            for e in list(self._buckets.get(b, ())):
                yield e.region.base + e.off, self._value_addr(e, cpu if self.PERCPU else 0)

    def close(self) -> None:
        """Native code that still holds the mirror's address finds nothing from now on."""
        self._sync()
        if self._native is not None:
            self._native.clear()
        super().close()

    # --------------------------------------------------------------------- Pythonic ---

    def __len__(self) -> int:
        self._sync()
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        self._sync()
        try:
            return to_bytes(key, self.key_size, "key") in self._index
        except BpfError:
            return False


class PercpuHashMap(HashMap):
    """``BPF_MAP_TYPE_PERCPU_HASH``: one value per possible CPU."""

    PERCPU = True


class LruHashMap(HashMap):
    """``BPF_MAP_TYPE_LRU_HASH``: full maps evict instead of failing."""

    LRU = True


class LruPercpuHashMap(HashMap):
    """``BPF_MAP_TYPE_LRU_PERCPU_HASH``."""

    LRU = True
    PERCPU = True


class HashOfMapsMap(InnerMapSlot, HashMap):
    """``BPF_MAP_TYPE_HASH_OF_MAPS``: values are maps (fds in, map ids out)."""

    FD_VALUES = True

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        inner = self._resolve_inner(value)
        err = self._update(key, inner, flags, self.cpu, onallcpus=True)
        if err:
            raise BpfError(err, _update_message(err))

    def _py_value(self, raw: bytes) -> Any:
        return raw

    def __getitem__(self, key: Any) -> Any:
        """The inner Map object stored under ``key``."""
        self._need_read()
        k = self._need_key(key)
        e = self._index.get(k)
        if e is None:
            raise KeyError(key)
        return e.inner


def _update_message(err: int) -> str:
    return {
        errno.EINVAL: "invalid update flags",
        errno.EEXIST: "key already exists (BPF_NOEXIST)",
        errno.ENOENT: "key does not exist (BPF_EXIST)",
        errno.E2BIG: "map is full",
        errno.ENOMEM: "no free element could be found",
    }.get(err, "update failed")
