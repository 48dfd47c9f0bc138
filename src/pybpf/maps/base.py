"""The map base class: the kernel's syscall-side checks, the program-side contract, and
the Pythonic layer every map type shares.

A map has three faces:

* **syscall side** (``lookup``, ``update``, ``delete``, ``get_next_key``,
  ``lookup_and_delete``, ``freeze``, the batch commands, ``mmap``): bytes in, bytes out,
  failures raise :class:`~pybpf.errors.BpfError` with the errno ``bpf(2)`` returns for the
  same call.  The checks the kernel's ``kernel/bpf/syscall.c`` makes before it reaches the
  map (flags, fd permissions, ``BPF_F_RDONLY``/``BPF_F_WRONLY``, freezing) live here, in
  the kernel's order, so every type inherits them.  They run on CPU ``self.cpu``.
* **program side** (``bpf_lookup``, ``bpf_update``, ``bpf_delete``, ``bpf_push``,
  ``bpf_pop``, ``bpf_peek``, ``bpf_lookup_percpu``): what the helpers call.  They return
  what the helper returns (an address or 0, 0 or a negative errno) and never raise for
  a condition the kernel reports through the return value.  The current CPU is an
  argument; per-CPU maps touch only that CPU's copy.
* **Pythonic**: ``m[k]``, ``m[k] = v``, ``del m[k]``, ``k in m``, iteration in
  ``get_next_key`` order, ``items()``, ``len(m)``.  Keys and values may be bytes or ints
  (little-endian, sized to the map).

Every value a program can point to lives in a :class:`~pybpf.memory.Region`; the map
object itself is a small region of kind ``MAP`` whose base address is what a BPF register
holds for ``CONST_PTR_TO_MAP`` (see :func:`map_at`).
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import BpfError
from ..memory import MEMORY, Region, RegionKind, allocate, release
from .btfinfo import BtfType
from .types import (
    BPF_F_LOCK,
    ENOTSUPP,
    PAGE_SIZE,
    MapFlag,
    MapSpec,
    MapType,
    round_up,
)

# Regions above this size are refused with ENOMEM: the kernel's own limit is whatever
# vmalloc() can find, which depends on the machine; a Python bytearray commits its memory.
MAX_REGION_BYTES = 1 << 30

# Size of the region standing for ``struct bpf_map`` (its contents are not modelled).
MAP_OBJECT_SIZE = 256

FdResolver = Callable[[int], object]
"""Turns a file descriptor from a syscall-side value into the object it refers to
(a :class:`Map` for map-in-map, a program object for ``prog_array``).  It raises
``BpfError(EBADF)`` for an fd that is not open, and ``BpfError(EINVAL)`` for one of the
wrong kind, as the kernel does."""

KeyLike = bytes | bytearray | memoryview | int
ValueLike = Any


@dataclass(frozen=True)
class BatchResult:
    """What a batch command hands back.

    ``count`` is the number the kernel writes back into ``attr->batch.count``;
    ``keys``/``values`` hold that many entries (values in the syscall layout: per-CPU maps
    give every CPU's copy); ``next_batch`` is what the kernel wrote to ``out_batch`` (the
    token to pass as ``in_batch`` next time), or None where it leaves ``out_batch``
    untouched; ``errno`` is 0 or the errno the command returned after it started (``ENOENT``
    when the walk reached the end, ``ENOSPC`` when the first bucket does not fit, or the
    error that stopped an update/delete part way).  Errors the kernel reports before it
    touches anything (bad flags, permissions, an unsupported command) are raised instead.
    """

    count: int
    keys: list[bytes] = field(default_factory=list)
    values: list[bytes] = field(default_factory=list)
    next_batch: bytes | None = None
    errno: int = 0

    def check(self) -> BatchResult:
        """Raise the returned errno (if any), for callers that want exceptions."""
        if self.errno:
            raise BpfError(self.errno, f"batch operation failed after {self.count} elements")
        return self


class MapMapping:
    """A memory mapping of a map (``mmap`` of the map fd).

    ``view`` is a live memoryview of the mapped bytes (read-only unless ``writable``).
    A writable mapping keeps the map "write active", which makes ``freeze`` fail with
    ``EBUSY`` until it is closed, as in the kernel.
    """

    def __init__(self, owner: Map, view: memoryview, writable: bool) -> None:
        self.owner = owner
        self.view = view
        self.writable = writable
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.writable:
                self.owner._write_active -= 1
            self.view.release()

    def __enter__(self) -> MapMapping:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _err(code: int, message: str) -> BpfError:
    return BpfError(code, message)


def reject_btf(spec: MapSpec) -> None:
    """The kernel's ``map_check_no_btf``: types that hold kernel objects take no BTF."""
    raise _err(ENOTSUPP, f"{spec.type.case_name} maps cannot be described by BTF")


def to_bytes(v: Any, size: int, what: str) -> bytes:
    """``v`` (bytes or int) as exactly ``size`` bytes, or BpfError(EINVAL)."""
    if isinstance(v, bytes | bytearray | memoryview):
        b = bytes(v)
        if len(b) != size:
            raise _err(errno.EINVAL, f"{what} must be {size} bytes, got {len(b)}")
        return b
    if isinstance(v, int) and not isinstance(v, bool):
        if size == 0:
            raise _err(errno.EINVAL, f"{what} has size 0 and cannot be given as an integer")
        bits = size * 8
        if not -(1 << (bits - 1)) <= v < (1 << bits):
            raise _err(errno.EINVAL, f"{what} {v} does not fit in {size} bytes")
        return (v & ((1 << bits) - 1)).to_bytes(size, "little")
    raise _err(errno.EINVAL, f"{what} must be bytes or an int, not {type(v).__name__}")


class Map:
    """Base of every map type.  See the module docstring for the three faces."""

    # Which batch commands the type has (the kernel's ops table); others give ENOTSUPP.
    BATCH_OPS: ClassVar[frozenset[str]] = frozenset()
    # Types whose syscall-side value is a file descriptor (4 bytes).
    FD_VALUES: ClassVar[bool] = False
    PERCPU: ClassVar[bool] = False
    MMAP_OK: ClassVar[bool] = False
    # Whether the kernel's ops table has a map_check_btf callback (see check_btf).
    BTF_CHECK: ClassVar[bool] = False

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        """Raise the BpfError the kernel's creation checks give for ``spec``."""

    @classmethod
    def effective_flags(cls, spec: MapSpec) -> int:
        """The map_flags the kernel keeps (some types add flags of their own)."""
        return spec.flags

    @classmethod
    def check_btf(cls, spec: MapSpec, key: BtfType, value: BtfType) -> None:
        """The type's own judgement of its BTF key and value (``map_check_btf``), called
        only when ``BTF_CHECK`` is set.  This default is the kernel's ``map_check_no_btf``:
        the type takes no BTF at all."""
        reject_btf(spec)

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        self.spec = spec
        self.num_cpus = num_cpus
        self.key_size = spec.key_size
        self.value_size = spec.value_size
        self.max_entries = spec.max_entries  # the kernel may adjust it (LRU per-CPU)
        self.flags = self.effective_flags(spec)
        self.btf = spec.btf
        self.id = 0
        self.frozen = False
        self.cpu = 0  # the CPU syscall-side operations run on
        self.resolve_fd: FdResolver | None = None
        self.closed = False
        self._write_active = 0
        self._regions: list[Region] = []
        self._retired: list[Region] = []
        self.region = self._allocate(MAP_OBJECT_SIZE, RegionKind.MAP, "map", writable=False)

    # ------------------------------------------------------------------ basics --------

    def __repr__(self) -> str:
        name = f" {self.spec.name!r}" if self.spec.name else ""
        return (
            f"<{type(self).__name__}{name} {self.spec.type.case_name} key={self.key_size} "
            f"value={self.value_size} max={self.max_entries} flags=0x{self.flags:x}>"
        )

    @property
    def type(self) -> MapType:
        return self.spec.type

    @property
    def address(self) -> int:
        """The map's address as a BPF register holds it (``CONST_PTR_TO_MAP``)."""
        return self.region.base

    @property
    def info_flags(self) -> int:
        """map_flags as ``BPF_OBJ_GET_INFO_BY_FD`` reports them: BPF_F_RDONLY and
        BPF_F_WRONLY belong to the fd, not to the map."""
        return int(self.flags) & ~int(MapFlag.RDONLY | MapFlag.WRONLY)

    @property
    def rdonly_prog(self) -> bool:
        return bool(self.flags & MapFlag.RDONLY_PROG)

    @property
    def wronly_prog(self) -> bool:
        return bool(self.flags & MapFlag.WRONLY_PROG)

    @property
    def sys_value_size(self) -> int:
        """The size of a value on the syscall side (the kernel's bpf_map_value_size)."""
        if self.PERCPU:
            return round_up(self.value_size, 8) * self.num_cpus
        if self.FD_VALUES:
            return 4
        return self.value_size

    def _allocate(self, size: int, kind: RegionKind, what: str, writable: bool = True) -> Region:
        if size > MAX_REGION_BYTES:
            raise _err(errno.ENOMEM, f"map needs {size} bytes of {what}, over pybpf's limit")
        name = f"{self.spec.name or self.spec.type.case_name}:{what}"
        region = allocate(size, kind, name, writable=writable, owner=self)
        self._regions.append(region)
        return region

    def _retire(self, region: Region) -> None:
        """Free ``region`` after the current RCU grace period (see synchronize_rcu)."""
        self._retired.append(region)

    def synchronize_rcu(self) -> None:
        """End of an RCU grace period: release element memory freed since the last one.

        Memory of deleted elements stays valid until then, so a pointer a program got from
        a lookup keeps working after the element is deleted, as under RCU.  The runtime may
        call this between program runs; nothing else calls it.
        """
        for r in self._retired:
            if r in self._regions:
                self._regions.remove(r)
            release(r)
        self._retired.clear()

    def close(self) -> None:
        """Release all the map's memory.  Later operations fail with EBADF."""
        if self.closed:
            return
        self._kptr_free_all()
        self.closed = True
        for r in self._regions + self._retired:
            release(r)
        self._regions.clear()
        self._retired.clear()

    # ------------------------------------------------------- kptrs held by values -----

    @property
    def kptr_fields(self) -> tuple[Any, ...]:
        """The kptrs of the value (:class:`pybpf.maps.kptr.KptrField`), none without BTF."""
        from .kptr import map_kptrs

        return map_kptrs(self.spec)

    @property
    def has_special_fields(self) -> bool:
        from .kptr import record_fields

        return bool(record_fields(self.spec))

    def _kptr_clean(self, data: bytes, stride: int = 0) -> bytes:
        """A value (``stride``-byte copies for per-CPU data) with its kptrs zeroed: they
        are never copied in from user space or from a program's buffer."""
        fields = self.kptr_fields
        if not fields:
            return data
        from .kptr import clear_kptr_fields

        stride = stride or len(data)
        return b"".join(clear_kptr_fields(fields, data[i : i + stride]) for i in range(0, len(data), stride))

    def _kptr_free(self, buf: Any, off: int) -> None:
        """The value at ``buf[off:]`` is overwritten or goes away: release what it holds."""
        fields = self.kptr_fields
        if fields:
            from .kptr import free_kptr_fields

            free_kptr_fields(fields, buf, off)

    def _kptr_free_all(self) -> None:
        """The map is freed: every element gives back the objects it holds."""
        if not self.kptr_fields:
            return
        for cpu in range(self.num_cpus if self.PERCPU else 1):
            try:
                elems = list(self.for_each_elem(cpu))
            except BpfError:
                return  # a map type with no element walk (local storage) holds none here
            for _, vaddr in elems:
                region = MEMORY.find(vaddr, 1)
                if region is not None:
                    self._kptr_free(region.buf, vaddr - region.base)

    def _check_open(self) -> None:
        if self.closed:
            raise _err(errno.EBADF, "map is closed")

    # --------------------------------------------------------- syscall permissions -----

    def _can_read(self) -> bool:
        return not self.flags & MapFlag.WRONLY

    def _can_write(self) -> bool:
        return not self.flags & MapFlag.RDONLY and not self.frozen

    def _need_read(self) -> None:
        self._check_open()
        if not self._can_read():
            raise _err(errno.EPERM, "map was created write-only for syscalls (BPF_F_WRONLY)")

    def _need_write(self) -> None:
        self._check_open()
        if self.flags & MapFlag.RDONLY:
            raise _err(errno.EPERM, "map was created read-only for syscalls (BPF_F_RDONLY)")
        if self.frozen:
            raise _err(errno.EPERM, "map is frozen: syscall writes are refused")

    # ------------------------------------------------------------ key/value input ------

    def _sys_key(self, key: KeyLike | None) -> bytes | None:
        """A syscall key: None stands for a NULL pointer."""
        if key is None:
            return None
        if self.key_size == 0:
            if isinstance(key, bytes | bytearray | memoryview) and len(key) == 0:
                return None
            raise _err(errno.EINVAL, "this map has no keys; pass None")
        return to_bytes(key, self.key_size, "key")

    def _need_key(self, key: KeyLike | None) -> bytes:
        k = self._sys_key(key)
        if k is None:
            if self.key_size:
                raise _err(errno.EFAULT, "key is NULL")
            return b""
        return k

    def _sys_value(self, value: ValueLike) -> Any:
        """A syscall value in the kernel's layout.  Per-CPU maps also accept one value
        (given to every CPU) or a sequence of per-CPU values."""
        if value is None:
            raise _err(errno.EFAULT, "value is NULL")
        if self.PERCPU:
            return self._percpu_value(value)
        return to_bytes(value, self.sys_value_size, "value")

    def _percpu_value(self, value: ValueLike) -> bytes:
        stride = round_up(self.value_size, 8)
        if isinstance(value, bytes | bytearray | memoryview) and len(value) == stride * self.num_cpus:
            return bytes(value)
        if isinstance(value, list | tuple):
            if len(value) != self.num_cpus:
                raise _err(
                    errno.EINVAL, f"need one value per possible CPU ({self.num_cpus}), got {len(value)}"
                )
            parts = [self._one_cpu_value(v, stride) for v in value]
        else:
            parts = [self._one_cpu_value(value, stride)] * self.num_cpus
        return b"".join(parts)

    def _one_cpu_value(self, v: Any, stride: int) -> bytes:
        if isinstance(v, bytes | bytearray | memoryview) and len(v) == stride:
            return bytes(v)
        return to_bytes(v, self.value_size, "value").ljust(stride, b"\0")

    # ---------------------------------------------------------------- syscall side -----

    def lookup(self, key: KeyLike | None, flags: int = 0) -> bytes:
        """``BPF_MAP_LOOKUP_ELEM``: the value in the syscall layout."""
        if flags & ~BPF_F_LOCK:
            raise _err(errno.EINVAL, f"unknown lookup flags 0x{flags:x}")
        self._need_read()
        if flags & BPF_F_LOCK:
            raise _err(errno.EINVAL, "BPF_F_LOCK needs a bpf_spin_lock in the value")
        value = self._sys_lookup(self._need_key(key))
        return self._kptr_clean(value, self._sys_stride()) if self.kptr_fields else value

    def _sys_stride(self) -> int:
        return (self.value_size + 7) // 8 * 8 if self.PERCPU else self.value_size

    def update(self, key: KeyLike | None, value: ValueLike, flags: int = 0) -> None:
        """``BPF_MAP_UPDATE_ELEM`` (``flags``: BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK)."""
        self._need_write()
        if flags & BPF_F_LOCK:
            raise _err(errno.EINVAL, "BPF_F_LOCK needs a bpf_spin_lock in the value")
        k = self._need_key(key)
        self._sys_update(k, self._sys_value(value), flags)

    def delete(self, key: KeyLike | None) -> None:
        """``BPF_MAP_DELETE_ELEM``."""
        self._need_write()
        self._sys_delete(self._need_key(key))

    def get_next_key(self, key: KeyLike | None) -> bytes:
        """``BPF_MAP_GET_NEXT_KEY``; ``None`` (NULL) asks for the first key."""
        self._need_read()
        return self._sys_get_next_key(self._sys_key(key))

    def lookup_and_delete(self, key: KeyLike | None = None, flags: int = 0) -> bytes:
        """``BPF_MAP_LOOKUP_AND_DELETE_ELEM`` (pop for queue/stack, which take no key)."""
        if flags & ~BPF_F_LOCK:
            raise _err(errno.EINVAL, f"unknown flags 0x{flags:x}")
        self._check_open()
        if not self._can_read() or not self._can_write():
            raise _err(errno.EPERM, "lookup-and-delete needs both read and write access")
        if flags and self.spec.type in (MapType.QUEUE, MapType.STACK):
            raise _err(errno.EINVAL, "queue/stack pop takes no flags")
        if flags & BPF_F_LOCK:
            raise _err(errno.EINVAL, "BPF_F_LOCK needs a bpf_spin_lock in the value")
        return self._sys_lookup_and_delete(self._need_key(key))

    def freeze(self) -> None:
        """``BPF_MAP_FREEZE``: from now on syscall writes fail with EPERM.

        A second freeze fails with EPERM too (the frozen map already lacks write
        permission); EBUSY comes when a writable mmap of the map is open.
        """
        self._need_write()
        if self.has_special_fields:
            raise _err(ENOTSUPP, "maps whose values hold special fields (kptrs, locks, timers) cannot be frozen")
        if self._write_active:
            raise _err(errno.EBUSY, "map has a writable memory mapping")
        self.frozen = True

    # batch commands ------------------------------------------------------------------

    def _batch_start(self, op: str, read: bool, write: bool) -> None:
        self._check_open()
        if read and not self._can_read():
            raise _err(errno.EPERM, "map is not readable through syscalls")
        if write and not self._can_write():
            raise _err(errno.EPERM, "map is not writable through syscalls")
        if op not in self.BATCH_OPS:
            raise _err(ENOTSUPP, f"{self.spec.type.case_name} maps have no {op} command")

    def lookup_batch(
        self, in_batch: bytes | None, count: int, elem_flags: int = 0, flags: int = 0
    ) -> BatchResult:
        """``BPF_MAP_LOOKUP_BATCH``: up to ``count`` elements after token ``in_batch``
        (None: from the start).  Pass ``result.next_batch`` to continue."""
        self._batch_start("lookup_batch", True, False)
        return self._kptr_clean_batch(self._lookup_batch(in_batch, count, elem_flags, flags, delete=False))

    def _kptr_clean_batch(self, res: BatchResult) -> BatchResult:
        """Batch lookups copy values out as single lookups do: kptrs read as zero."""
        if not self.kptr_fields:
            return res
        from dataclasses import replace

        return replace(res, values=[self._kptr_clean(v, self._sys_stride()) for v in res.values])

    def lookup_and_delete_batch(
        self, in_batch: bytes | None, count: int, elem_flags: int = 0, flags: int = 0
    ) -> BatchResult:
        """``BPF_MAP_LOOKUP_AND_DELETE_BATCH``: as lookup_batch, deleting what it returns."""
        self._batch_start("lookup_and_delete_batch", True, True)
        return self._kptr_clean_batch(self._lookup_batch(in_batch, count, elem_flags, flags, delete=True))

    def update_batch(
        self, keys: Sequence[KeyLike], values: Sequence[ValueLike], elem_flags: int = 0,
        flags: int = 0,
    ) -> BatchResult:
        """``BPF_MAP_UPDATE_BATCH``: ``count`` of the result is how many were stored."""
        self._batch_start("update_batch", False, True)
        if elem_flags & ~BPF_F_LOCK or elem_flags & BPF_F_LOCK:
            raise _err(errno.EINVAL, f"bad element flags 0x{elem_flags:x} for a batch update")
        if len(keys) != len(values):
            raise _err(errno.EINVAL, "update_batch needs as many values as keys")
        ks = [self._need_key(k) for k in keys]
        vs = [self._sys_value(v) for v in values]
        done = 0
        for k, v in zip(ks, vs):
            try:
                self._sys_update(k, v, elem_flags)
            except BpfError as exc:
                return BatchResult(done, errno=exc.errno)
            done += 1
        return BatchResult(done)

    def delete_batch(
        self, keys: Sequence[KeyLike], elem_flags: int = 0, flags: int = 0
    ) -> BatchResult:
        """``BPF_MAP_DELETE_BATCH``: stops at the first key that fails."""
        self._batch_start("delete_batch", False, True)
        if elem_flags & ~BPF_F_LOCK or elem_flags & BPF_F_LOCK:
            raise _err(errno.EINVAL, f"bad element flags 0x{elem_flags:x} for a batch delete")
        ks = [self._need_key(k) for k in keys]
        done = 0
        for k in ks:
            try:
                self._sys_delete(k)
            except BpfError as exc:
                return BatchResult(done, errno=exc.errno)
            done += 1
        return BatchResult(done)

    def _lookup_batch(
        self, in_batch: bytes | None, count: int, elem_flags: int, flags: int, delete: bool
    ) -> BatchResult:
        """The kernel's generic lookup batch: a get_next_key walk whose token is a key."""
        if elem_flags & ~BPF_F_LOCK or elem_flags & BPF_F_LOCK:
            raise _err(errno.EINVAL, f"bad element flags 0x{elem_flags:x}")
        if count <= 0:
            return BatchResult(0)
        prev = None if in_batch is None else to_bytes(in_batch, self.key_size, "in_batch")
        keys: list[bytes] = []
        values: list[bytes] = []
        err = 0
        while len(keys) < count:
            try:
                key = self._sys_get_next_key(prev)
            except BpfError as exc:
                err = exc.errno
                break
            try:
                value = self._sys_lookup(key)
            except BpfError as exc:
                if exc.errno != errno.ENOENT:
                    return BatchResult(0, errno=exc.errno)
            else:
                keys.append(key)
                values.append(value)
            prev = key
        return BatchResult(len(keys), keys, values, prev if keys else None, err)

    # mmap --------------------------------------------------------------------------------

    def mmap(self, writable: bool = False, offset: int = 0, length: int | None = None) -> MapMapping:
        """``mmap(MAP_SHARED)`` of the map fd (``BPF_F_MMAPABLE`` arrays, ring buffers)."""
        self._check_open()
        if not self.MMAP_OK or self.has_special_fields:
            raise _err(ENOTSUPP, f"{self.spec.type.case_name} maps cannot be memory-mapped")
        if writable:
            if self.flags & MapFlag.RDONLY:
                raise _err(errno.EACCES, "the map fd is read-only")
            if self.frozen:
                raise _err(errno.EPERM, "a frozen map cannot be mapped writable")
            if self.flags & MapFlag.RDONLY_PROG:
                raise _err(errno.EACCES, "a BPF_F_RDONLY_PROG map cannot be mapped writable")
        if offset % PAGE_SIZE or offset < 0:
            raise _err(errno.EINVAL, "mmap offset must be page aligned")
        view = self._mmap_view(writable, offset, length)
        if writable:
            self._write_active += 1
        return MapMapping(self, view, writable)

    def _mmap_view(self, writable: bool, offset: int, length: int | None) -> memoryview:
        raise _err(ENOTSUPP, "not mappable")

    # ---------------------------------------------------------- type hooks (syscall) --

    def _sys_lookup(self, key: bytes) -> bytes:
        raise _err(ENOTSUPP, f"{self.spec.type.case_name} maps have no lookup")

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        raise _err(ENOTSUPP, f"{self.spec.type.case_name} maps have no update")

    def _sys_delete(self, key: bytes) -> None:
        raise _err(ENOTSUPP, f"{self.spec.type.case_name} maps have no delete")

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        raise _err(ENOTSUPP, f"{self.spec.type.case_name} maps have no keys to walk")

    def _sys_lookup_and_delete(self, key: bytes) -> bytes:
        raise _err(ENOTSUPP, f"{self.spec.type.case_name} maps have no lookup-and-delete")

    # ---------------------------------------------------------------- program side -----

    def _cpu_ok(self, cpu: int) -> None:
        if not 0 <= cpu < self.num_cpus:
            raise _err(errno.EINVAL, f"cpu {cpu} is not a possible CPU (0..{self.num_cpus - 1})")

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        """``bpf_map_lookup_elem``: address of the value (this CPU's copy) or 0."""
        return 0

    def bpf_lookup_percpu(self, key: bytes, target_cpu: int) -> int:
        """``bpf_map_lookup_percpu_elem``: address of ``target_cpu``'s copy, or 0."""
        return 0

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        """``bpf_map_update_elem``: 0 or a negative errno."""
        return -errno.EINVAL

    def bpf_update_at(self, key: bytes, value_address: int, flags: int, cpu: int, pc: int) -> int:
        """A program's ``bpf_map_update_elem`` with its value pointer: the value is the
        ``value_size`` bytes there (maps of objects take the object itself)."""
        return self.bpf_update(key, MEMORY.read(value_address, self.spec.value_size, pc), flags, cpu)

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        """``bpf_map_delete_elem``: 0 or a negative errno."""
        return -errno.EINVAL

    def bpf_push(self, value: bytes, flags: int, cpu: int) -> int:
        """``bpf_map_push_elem`` (queue/stack): 0 or a negative errno."""
        return -errno.EINVAL

    def bpf_pop(self, cpu: int) -> bytes | int:
        """``bpf_map_pop_elem``: the value, or a negative errno."""
        return -errno.EINVAL

    def bpf_peek(self, cpu: int) -> bytes | int:
        """``bpf_map_peek_elem``: the value, or a negative errno."""
        return -errno.EINVAL

    def for_each_elem(self, cpu: int) -> Iterator[tuple[int, int]]:
        """``bpf_for_each_map_elem``: (key address, value address) of each element in the
        kernel's order (this CPU's copy for per-CPU maps).  The helper calls the callback
        per pair, stops when it returns 1, and returns the number of pairs it used."""
        raise _err(errno.EINVAL, f"{self.spec.type.case_name} maps have no for-each")

    def redirect_target(self, key: bytes) -> object | None:
        """What ``bpf_redirect_map`` (or a socket redirect) finds under ``key``: the
        target object, or None for the helper's fallback.  Maps that are not redirect
        targets have nothing."""
        return None

    def direct_value_addr(self, off: int) -> int:
        """The address a ``BPF_PSEUDO_MAP_VALUE`` load of offset ``off`` yields.

        Only single-element arrays support it; others raise as the kernel's verifier does.
        """
        raise _err(errno.EINVAL, "no direct value access support for this map type")

    # --------------------------------------------------------------------- Pythonic ---

    def _py_value(self, raw: bytes) -> Any:
        """A syscall-side value as the Pythonic API returns it."""
        if self.PERCPU:
            stride = round_up(self.value_size, 8)
            return [raw[i * stride : i * stride + self.value_size] for i in range(self.num_cpus)]
        return raw

    def __getitem__(self, key: KeyLike) -> Any:
        try:
            return self._py_value(self.lookup(key))
        except BpfError as exc:
            if exc.errno == errno.ENOENT:
                raise KeyError(key) from None
            raise

    def __setitem__(self, key: KeyLike, value: ValueLike) -> None:
        self.update(key, value)

    def __delitem__(self, key: KeyLike) -> None:
        try:
            self.delete(key)
        except BpfError as exc:
            if exc.errno == errno.ENOENT:
                raise KeyError(key) from None
            raise

    def __contains__(self, key: object) -> bool:
        try:
            self.lookup(key)  # type: ignore[arg-type]
        except BpfError as exc:
            if exc.errno in (errno.ENOENT, errno.EINVAL):
                return False
            raise
        return True

    def __iter__(self) -> Iterator[bytes]:
        key: bytes | None = None
        while True:
            try:
                key = self.get_next_key(key)
            except BpfError as exc:
                if exc.errno == errno.ENOENT:
                    return
                raise
            yield key

    def keys(self) -> list[bytes]:
        # A comprehension, not list(self): list() asks __len__, which may walk the keys.
        return [k for k in self]

    def values(self) -> list[Any]:
        return [v for _, v in self.items()]

    def items(self) -> list[tuple[bytes, Any]]:
        out = []
        for k in self.keys():
            try:
                out.append((k, self[k]))
            except KeyError:
                continue
        return out

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return True


def map_at(address: int) -> Map | None:
    """The map whose ``struct bpf_map`` region holds ``address`` (a CONST_PTR_TO_MAP)."""
    region = MEMORY.find(address, 1)
    if region is None or region.kind is not RegionKind.MAP:
        return None
    owner = region.owner
    return owner if isinstance(owner, Map) else None


def u32_of(key: bytes) -> int:
    return int.from_bytes(key[:4], "little")


def index_next_key(key: bytes | None, max_entries: int) -> bytes:
    """``get_next_key`` of the maps keyed by a u32 index (arrays and their kin): from no
    key or an index out of range the first, then the next; ENOENT after the last."""
    index = 0xFFFFFFFF if key is None else u32_of(key)
    if index == max_entries - 1:
        raise BpfError(errno.ENOENT, "no more keys")
    return (0 if index >= max_entries else index + 1).to_bytes(4, "little")
