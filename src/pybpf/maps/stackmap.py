"""The stack trace map: ``bpf_get_stackid`` stores a call chain and returns its id.

The id of a stack is ``jhash2(ips, 0)`` masked to ``n_buckets`` (max_entries rounded up
to a power of two): one bucket per id, holding one stack.  A different stack hashing to a
taken bucket gets EEXIST unless ``BPF_F_REUSE_STACKID`` replaces it; ``BPF_F_FAST_STACK_CMP``
trusts equal hashes.  At most ``max_entries`` stacks are stored (ENOMEM after that until
one is deleted).  User space reads a stack by id (the u64 ips, zero-padded to the value
size), walks ids in increasing order, and deletes them; nothing can be written.

With ``BPF_F_STACK_BUILD_ID`` every frame is a 32-byte ``struct bpf_stack_build_id``;
pybpf has no executables to take build ids from, so frames carry their ip with status
``BPF_STACK_BUILD_ID_IP``, which is what the kernel does when it cannot read one.

The call chain itself comes from whoever runs the program (:meth:`get_stackid` takes the
ips, innermost first); the map only stores it.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Sequence
from typing import Any

from ..errors import BpfError
from .base import Map, u32_of
from .jhash import jhash
from .types import MapFlag, MapSpec

STACK_CREATE_FLAG_MASK = int(MapFlag.NUMA_NODE | MapFlag.RDONLY | MapFlag.WRONLY
                             | MapFlag.STACK_BUILD_ID)
PERF_EVENT_MAX_STACK = 127  # sysctl kernel.perf_event_max_stack (default)
BUILD_ID_SIZE = 20
STACK_BUILD_ID_ENTRY = 32  # struct bpf_stack_build_id
BPF_STACK_BUILD_ID_IP = 2

BPF_F_SKIP_FIELD_MASK = 0xFF
BPF_F_USER_STACK = 1 << 8
BPF_F_FAST_STACK_CMP = 1 << 9
BPF_F_REUSE_STACKID = 1 << 10
GET_STACKID_FLAGS = (BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_FAST_STACK_CMP
                     | BPF_F_REUSE_STACKID)

M64 = (1 << 64) - 1


def _max_stack() -> int:
    try:
        with open("/proc/sys/kernel/perf_event_max_stack") as f:
            return int(f.read())
    except (OSError, ValueError):
        return PERF_EVENT_MAX_STACK


class _Bucket:
    __slots__ = ("hash", "ips")

    def __init__(self, h: int, ips: tuple[int, ...]) -> None:
        self.hash = h
        self.ips = ips


class StackTraceMap(Map):
    """``BPF_MAP_TYPE_STACK_TRACE``."""

    BTF_CHECK = True  # map_check_no_btf
    max_stack = _max_stack()

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        if spec.flags & ~STACK_CREATE_FLAG_MASK:
            raise BpfError(errno.EINVAL, f"flags 0x{spec.flags:x} are not valid for a stack map")
        vs = spec.value_size
        if spec.max_entries == 0 or spec.key_size != 4 or vs < 8 or vs % 8:
            raise BpfError(errno.EINVAL, "stack maps have 4-byte keys and values of whole u64s")
        if spec.flags & MapFlag.STACK_BUILD_ID:
            if vs % STACK_BUILD_ID_ENTRY or vs // STACK_BUILD_ID_ENTRY > cls.max_stack:
                raise BpfError(errno.EINVAL, "build-id stack values are whole 32-byte entries, "
                               f"at most {cls.max_stack}")
        elif vs // 8 > cls.max_stack:
            raise BpfError(errno.EINVAL, f"stack values hold at most {cls.max_stack} frames")
        if spec.max_entries > 1 << 31:
            raise BpfError(errno.E2BIG, "max_entries above 2^31")

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self.n_buckets = 1 << (spec.max_entries - 1).bit_length()
        self.build_id = bool(spec.flags & MapFlag.STACK_BUILD_ID)
        self.elem_size = STACK_BUILD_ID_ENTRY if self.build_id else 8
        self._buckets: dict[int, _Bucket] = {}

    # ------------------------------------------------------------------- core ---

    def max_depth(self, flags: int) -> int:
        """Frames a stack id can cover: the value's capacity plus the frames skipped,
        capped by the sysctl."""
        depth = self.value_size // self.elem_size + (flags & BPF_F_SKIP_FIELD_MASK)
        return min(depth, self.max_stack)

    def get_stackid(self, ips: Sequence[int], flags: int) -> int:
        """``bpf_get_stackid`` given the call chain ``ips`` (innermost first, as perf
        collects it, at most ``max_depth(flags)`` long): the stack id or a negative
        errno.  Nothing changes on failure."""
        if flags & ~GET_STACKID_FLAGS:
            return -errno.EINVAL
        skip = flags & BPF_F_SKIP_FIELD_MASK
        depth = self.max_depth(flags)
        chain = [ip & M64 for ip in ips[:depth]]
        if len(chain) <= skip:
            return -errno.EFAULT
        frames = tuple(chain[skip:][: depth - skip])
        h = jhash(struct.pack(f"<{len(frames)}Q", *frames), 0)
        sid = h & (self.n_buckets - 1)
        old = self._buckets.get(sid)
        same = old is not None and old.hash == h
        if same and flags & BPF_F_FAST_STACK_CMP:
            return sid
        if not self.build_id:
            if same and old is not None and old.ips == frames:
                return sid
            if old is not None and not flags & BPF_F_REUSE_STACKID:
                return -errno.EEXIST
        # A fresh bucket comes from a pool of max_entries, even to replace a stack.
        if len(self._buckets) >= self.max_entries:
            return -errno.ENOMEM
        if self.build_id:
            if same and old is not None and old.ips == frames:
                return sid
            if old is not None and not flags & BPF_F_REUSE_STACKID:
                return -errno.EEXIST
        self._buckets[sid] = _Bucket(h, frames)
        return sid

    def stack(self, sid: int) -> tuple[int, ...] | None:
        """The ips stored under ``sid`` (None if none)."""
        b = self._buckets.get(sid)
        return None if b is None else b.ips

    def _value(self, b: _Bucket) -> bytes:
        if self.build_id:
            out = b"".join(struct.pack("<i20sQ", BPF_STACK_BUILD_ID_IP, bytes(BUILD_ID_SIZE), ip)
                           for ip in b.ips)
        else:
            out = struct.pack(f"<{len(b.ips)}Q", *b.ips)
        return out.ljust(self.value_size, b"\0")

    # ----------------------------------------------------------- syscall side ---

    def _sys_lookup(self, key: bytes) -> bytes:
        b = self._buckets.get(u32_of(key))
        if b is None:
            raise BpfError(errno.ENOENT, "no stack with this id")
        return self._value(b)

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        raise BpfError(errno.EINVAL, "stack maps are written by bpf_get_stackid only")

    def _sys_delete(self, key: bytes) -> None:
        err = -self.bpf_delete(key, self.cpu)
        if err:
            raise BpfError(err, "stack id out of range" if err == errno.E2BIG else
                           "no stack with this id")

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        sid = 0
        if key is not None:
            k = u32_of(key)
            sid = k + 1 if k < self.n_buckets and k in self._buckets else 0
        taken = [i for i in self._buckets if i >= sid]
        if not taken:
            raise BpfError(errno.ENOENT, "no more stacks")
        return min(taken).to_bytes(4, "little")

    # ----------------------------------------------------------- program side ---

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        return 0  # the verifier refuses lookups in stack maps

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        return -errno.EINVAL

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        sid = u32_of(key)
        if sid >= self.n_buckets:
            return -errno.E2BIG
        if self._buckets.pop(sid, None) is None:
            return -errno.ENOENT
        return 0

    def __len__(self) -> int:
        return len(self._buckets)
