"""Device maps: devmap (by index) and devmap_hash (by any u32 key), the targets of
``bpf_redirect_map`` in XDP programs.

A value is ``struct bpf_devmap_val``: the ifindex of a device, optionally followed by the
fd of an XDP program (attach type ``BPF_XDP_DEVMAP``) to run on redirected frames; a
lookup gives back the ifindex and the program's id.  The kernel marks these maps
``BPF_F_RDONLY_PROG`` itself: programs may read an entry but never write it.

Devices are found by ifindex through the map's ``resolve_ifindex`` (by default
:data:`~pybpf.maps.standins.NETDEVS`, which has only the loopback device); an unknown
ifindex, a bad program fd or a program of the wrong kind are all EINVAL, as in the kernel.
The two types differ in small ways worth knowing: a devmap slot always exists (NOEXIST is
EEXIST, ifindex 0 empties it, deleting an empty slot succeeds), a devmap_hash entry does
not (ifindex 0 is EINVAL, NOEXIST on an existing key EEXIST, E2BIG when full).
"""

from __future__ import annotations

import errno
import struct
from bisect import bisect_right, insort
from typing import Any

from ..errors import BpfError
from ..memory import Region, RegionKind
from .base import Map, index_next_key, to_bytes, u32_of
from .standins import (
    BPF_PROG_TYPE_XDP,
    BPF_XDP_DEVMAP,
    NETDEVS,
    IfindexResolver,
    NetDevice,
)
from .types import BPF_EXIST, BPF_NOEXIST, MapFlag, MapSpec, MapType

DEV_CREATE_FLAG_MASK = int(MapFlag.NUMA_NODE | MapFlag.RDONLY | MapFlag.WRONLY)

_VAL = struct.Struct("<Ii")


def check_redirect_prog(m: Map, fd: int, attach_type: int) -> Any:
    """The XDP program an fd in a devmap/cpumap value names, or EINVAL."""
    if m.resolve_fd is None:
        raise BpfError(errno.EINVAL, f"fd {fd}: no resolver to turn fds into programs")
    try:
        prog = m.resolve_fd(fd)
    except BpfError:
        raise BpfError(errno.EINVAL, f"fd {fd} is not a program") from None
    if (prog is None or isinstance(prog, Map)
            or int(getattr(prog, "prog_type", -1)) != BPF_PROG_TYPE_XDP
            or int(getattr(prog, "expected_attach_type", None) or 0) != attach_type):
        raise BpfError(errno.EINVAL, f"fd {fd} is not an XDP program for this map")
    return prog


class DevEntry:
    """One device in a device map: the device, its optional program, the value region a
    program's lookup points at (ifindex, program id)."""

    __slots__ = ("dev", "idx", "prog", "region")

    def __init__(self, idx: int, dev: NetDevice, prog: Any, region: Region) -> None:
        self.idx = idx
        self.dev = dev
        self.prog = prog
        self.region = region


class DevMap(Map):
    """``BPF_MAP_TYPE_DEVMAP``."""

    BTF_CHECK = True  # map_check_no_btf

    @classmethod
    def effective_flags(cls, spec: MapSpec) -> int:
        return spec.flags | MapFlag.RDONLY_PROG

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        if (spec.max_entries == 0 or spec.key_size != 4 or spec.value_size not in (4, 8)
                or spec.flags & ~DEV_CREATE_FLAG_MASK):
            raise BpfError(errno.EINVAL, "invalid device map attributes (4-byte keys; values "
                           "are an ifindex and optionally a program fd)")
        if spec.type == MapType.DEVMAP_HASH and spec.max_entries > 1 << 31:
            raise BpfError(errno.EINVAL, "max_entries above 2^31")

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self.resolve_ifindex: IfindexResolver = NETDEVS.get
        self._slots: dict[int, DevEntry] = {}

    # ------------------------------------------------------------------ values ---

    def _parse(self, value: Any) -> tuple[int, int]:
        raw = to_bytes(value, self.value_size, "value").ljust(8, b"\0")
        ifindex, fd = _VAL.unpack(raw)
        return ifindex, fd

    def _new_entry(self, idx: int, ifindex: int, fd: int) -> DevEntry:
        """__dev_map_alloc_node: EINVAL for an unknown device or an unfit program."""
        dev = self.resolve_ifindex(ifindex)
        if dev is None:
            raise BpfError(errno.EINVAL, f"no device with ifindex {ifindex}")
        prog = check_redirect_prog(self, fd, BPF_XDP_DEVMAP) if fd > 0 else None
        region = self._allocate(self.value_size, RegionKind.MAP_VALUE, "device")
        prog_id = int(getattr(prog, "id", 0)) & 0xFFFFFFFF if prog is not None else 0
        region.buf[:] = struct.pack("<II", ifindex, prog_id)[: self.value_size]
        return DevEntry(idx, dev, prog, region)

    def _drop(self, e: DevEntry | None) -> None:
        if e is not None:
            self._retire(e.region)

    def _entry(self, key: bytes) -> DevEntry | None:
        return self._slots.get(u32_of(key))

    # ----------------------------------------------------------- syscall side ---

    def _sys_lookup(self, key: bytes) -> bytes:
        e = self._entry(key)
        if e is None:
            raise BpfError(errno.ENOENT, "no device under this key")
        return bytes(e.region.buf[: self.value_size])

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        err, msg = self._update(key, value, flags)
        if err:
            raise BpfError(err, msg)

    def _update(self, key: bytes, value: Any, flags: int) -> tuple[int, str]:
        idx = u32_of(key)
        if flags > BPF_EXIST:
            return errno.EINVAL, "invalid update flags"
        if idx >= self.max_entries:
            return errno.E2BIG, f"index {idx} is out of range"
        if flags == BPF_NOEXIST:
            return errno.EEXIST, "devmap slots always exist (BPF_NOEXIST)"
        ifindex, fd = self._parse(value)
        new: DevEntry | None = None
        if ifindex == 0:
            if fd > 0:
                return errno.EINVAL, "a program needs a device"
        else:
            new = self._new_entry(idx, ifindex, fd)
        old = self._slots.pop(idx, None)
        if new is not None:
            self._slots[idx] = new
        self._drop(old)
        return 0, ""

    def _sys_delete(self, key: bytes) -> None:
        err = -self.bpf_delete(key, self.cpu)
        if err:
            raise BpfError(err, "index out of range")

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        idx = u32_of(bytes(key))
        if idx >= self.max_entries:
            return -errno.EINVAL
        self._drop(self._slots.pop(idx, None))
        return 0

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        return index_next_key(key, self.max_entries)

    # ----------------------------------------------------------- program side ---

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        e = self._entry(bytes(key))
        return 0 if e is None else e.region.base

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        return -errno.EINVAL  # read-only for programs

    def redirect_target(self, key: bytes) -> DevEntry | None:
        """The entry ``bpf_redirect_map`` sends a frame to (None: the fallback)."""
        return self._entry(bytes(key))

    def entries(self) -> list[DevEntry]:
        """Every entry, in key order (broadcast targets)."""
        return [self._slots[k] for k in sorted(self._slots)]

    def __len__(self) -> int:
        return len(self._slots)


class DevMapHash(DevMap):
    """``BPF_MAP_TYPE_DEVMAP_HASH``: devices under sparse u32 keys (often ifindexes).

    The bucket of a key is the key itself masked to the bucket count (no hashing), new
    entries go first in their bucket, so ``get_next_key`` order is the kernel's.
    """

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self.n_buckets = 1 << (spec.max_entries - 1).bit_length()
        self._buckets: dict[int, list[DevEntry]] = {}
        self._nonempty: list[int] = []

    def _entry(self, key: bytes) -> DevEntry | None:
        idx = u32_of(key)
        for e in self._buckets.get(idx & (self.n_buckets - 1), ()):
            if e.idx == idx:
                return e
        return None

    def _unlink(self, e: DevEntry) -> None:
        b = e.idx & (self.n_buckets - 1)
        bucket = self._buckets[b]
        bucket.remove(e)
        if not bucket:
            del self._buckets[b]
            del self._nonempty[bisect_right(self._nonempty, b) - 1]

    def _update(self, key: bytes, value: Any, flags: int) -> tuple[int, str]:
        idx = u32_of(key)
        ifindex, fd = self._parse(value)
        if flags > BPF_EXIST or not ifindex:
            return errno.EINVAL, "invalid flags or ifindex 0"
        old = self._entry(key)
        if old is not None and flags & BPF_NOEXIST:
            return errno.EEXIST, "the key exists (BPF_NOEXIST)"
        new = self._new_entry(idx, ifindex, fd)
        if old is not None:
            self._unlink(old)
            self._drop(old)
        elif len(self) >= self.max_entries:
            self._drop(new)
            return errno.E2BIG, "the map is full"
        b = idx & (self.n_buckets - 1)
        bucket = self._buckets.get(b)
        if bucket is None:
            bucket = self._buckets[b] = []
            insort(self._nonempty, b)
        bucket.insert(0, new)
        return 0, ""

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        e = self._entry(bytes(key))
        if e is None:
            return -errno.ENOENT
        self._unlink(e)
        self._drop(e)
        return 0

    def _sys_delete(self, key: bytes) -> None:
        if self.bpf_delete(key, self.cpu):
            raise BpfError(errno.ENOENT, "no device under this key")

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        start = 0
        if key is not None:
            e = self._entry(key)
            if e is not None:
                b = e.idx & (self.n_buckets - 1)
                bucket = self._buckets[b]
                i = bucket.index(e)
                if i + 1 < len(bucket):
                    return bucket[i + 1].idx.to_bytes(4, "little")
                start = b + 1
        i = bisect_right(self._nonempty, start - 1)
        if i >= len(self._nonempty):
            raise BpfError(errno.ENOENT, "no more keys")
        return self._buckets[self._nonempty[i]][0].idx.to_bytes(4, "little")

    def entries(self) -> list[DevEntry]:
        return [e for b in self._nonempty for e in self._buckets[b]]

    def __len__(self) -> int:
        return sum(len(b) for b in self._buckets.values())
