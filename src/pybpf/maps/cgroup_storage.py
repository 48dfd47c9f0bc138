"""cgroup storage: one value per (cgroup, attach type) a program is attached to.

The map has no entries of its own: attaching a program that uses it to a cgroup creates
the storage (zeroed), and ``bpf_get_local_storage`` hands the program the storage of the
cgroup and attach type it runs for.  pybpf has no attach, so :meth:`attach` stands for it.

Keys on the syscall side are ``struct bpf_cgroup_storage_key`` (u64 cgroup inode id, u32
attach type, 16 bytes with padding: storage per attach type) or a bare u64 cgroup id
(8-byte keys: one storage shared by every attach type).  Entries cannot be created or
deleted through bpf() (update needs an existing storage: ENOENT; delete: EINVAL).
``get_next_key`` lists storages newest first, as the kernel's list does.  The per-CPU
variant keeps one copy per CPU, and reads and writes all of them on the syscall side.
"""

from __future__ import annotations

import errno
import struct
from typing import Any

from ..errors import BpfError
from ..memory import Region, RegionKind
from .base import Map
from .btfinfo import BtfKind, BtfType, is_reg_int, member_is_reg_int
from .types import (
    ACCESS_MASK,
    BPF_ANY,
    BPF_EXIST,
    BPF_F_LOCK,
    PCPU_MIN_UNIT_SIZE,
    MapFlag,
    MapSpec,
    round_up,
)

CGROUP_STORAGE_KEY_SIZE = 16  # struct bpf_cgroup_storage_key
SHARED_KEY_SIZE = 8
# BPF_LOCAL_STORAGE_MAX_VALUE_SIZE: U16_MAX less the 128-byte storage element header.
LOCAL_STORAGE_MAX_VALUE_SIZE = 0xFFFF - 128
LOCAL_STORAGE_CREATE_FLAG_MASK = int(MapFlag.NUMA_NODE) | ACCESS_MASK

_KEY = struct.Struct("<QI4x")


class _Storage:
    __slots__ = ("attach_type", "cgroup_id", "region")

    def __init__(self, cgroup_id: int, attach_type: int, region: Region) -> None:
        self.cgroup_id = cgroup_id
        self.attach_type = attach_type
        self.region = region


class CgroupStorageMap(Map):
    """``BPF_MAP_TYPE_CGROUP_STORAGE``."""

    BTF_CHECK = True

    @classmethod
    def max_value_size(cls) -> int:
        return LOCAL_STORAGE_MAX_VALUE_SIZE

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        if spec.key_size not in (CGROUP_STORAGE_KEY_SIZE, SHARED_KEY_SIZE):
            raise BpfError(errno.EINVAL, "cgroup storage keys are 8 (cgroup id) or 16 bytes "
                           "(struct bpf_cgroup_storage_key)")
        if spec.value_size == 0:
            raise BpfError(errno.EINVAL, "value_size must be non-zero")
        if spec.value_size > cls.max_value_size():
            raise BpfError(errno.E2BIG, f"value_size above {cls.max_value_size()}")
        flags = spec.flags
        if flags & ~LOCAL_STORAGE_CREATE_FLAG_MASK or (
                flags & MapFlag.RDONLY_PROG and flags & MapFlag.WRONLY_PROG):
            raise BpfError(errno.EINVAL, f"flags 0x{flags:x} are not valid for cgroup storage")
        if spec.max_entries:
            raise BpfError(errno.EINVAL, "cgroup storage takes max_entries 0")

    @classmethod
    def check_btf(cls, spec: MapSpec, key: BtfType, value: BtfType) -> None:
        """The key must be the u64 cgroup id or the two-member storage key struct."""
        if spec.key_size == CGROUP_STORAGE_KEY_SIZE:
            ok = (key.kind is BtfKind.STRUCT and len(key.members) == 2
                  and member_is_reg_int(key, key.members[0], 0, 8)
                  and member_is_reg_int(key, key.members[1], 8, 4))
        else:
            ok = is_reg_int(key, 64)
        if not ok:
            raise BpfError(errno.EINVAL, "cgroup storage BTF key does not match its layout")

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self.isolated = spec.key_size == CGROUP_STORAGE_KEY_SIZE
        self.copies = num_cpus if self.PERCPU else 1
        self.stride = round_up(self.value_size, 8) if self.PERCPU else self.value_size
        self._by_key: dict[tuple[int, int], _Storage] = {}
        self._order: list[_Storage] = []  # newest first

    # ------------------------------------------------------------------ plumbing ---

    def _norm(self, cgroup_id: int, attach_type: int) -> tuple[int, int]:
        return (cgroup_id, attach_type if self.isolated else 0)

    def _key_of(self, key: bytes) -> tuple[int, int]:
        if self.isolated:
            cg, at = _KEY.unpack(key)
            return cg, at
        return int.from_bytes(key, "little"), 0

    def _find(self, key: bytes) -> _Storage | None:
        return self._by_key.get(self._key_of(key))

    def _new_region(self) -> Region:
        return self._allocate(self.stride * self.copies, RegionKind.MAP_VALUE, "storage")

    # ------------------------------------------------------------- attach side ---

    def attach(self, cgroup_id: int, attach_type: int) -> int:
        """Stand-in for attaching a program that uses this map to a cgroup: create (or,
        if it exists, reuse) the storage of (cgroup, attach type).  Returns the address
        of the storage (CPU 0's copy for the per-CPU variant)."""
        k = self._norm(cgroup_id, attach_type)
        st = self._by_key.get(k)
        if st is None:
            st = _Storage(cgroup_id, attach_type, self._new_region())
            self._by_key[k] = st
            self._order.insert(0, st)
        return st.region.base

    def detach(self, cgroup_id: int, attach_type: int) -> None:
        """The program was detached: its storage goes away (after RCU)."""
        st = self._by_key.pop(self._norm(cgroup_id, attach_type), None)
        if st is not None:
            self._order.remove(st)
            self._retire(st.region)

    def storage_addr(self, cgroup_id: int, attach_type: int, cpu: int) -> int:
        """What ``bpf_get_local_storage`` returns for a program running for this cgroup
        and attach type on ``cpu`` (0 if the program was never attached there)."""
        self._cpu_ok(cpu)
        st = self._by_key.get(self._norm(cgroup_id, attach_type))
        if st is None:
            return 0
        return st.region.base + (cpu * self.stride if self.PERCPU else 0)

    # ----------------------------------------------------------- syscall side ---

    def _sys_lookup(self, key: bytes) -> bytes:
        st = self._find(key)
        if st is None:
            raise BpfError(errno.ENOENT, "no storage for this cgroup")
        return bytes(st.region.buf[: self.stride * self.copies])

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        if flags & ~(BPF_F_LOCK | BPF_EXIST):
            raise BpfError(errno.EINVAL, "cgroup storage updates take BPF_ANY or BPF_EXIST")
        st = self._find(key)
        if st is None:
            raise BpfError(errno.ENOENT, "no storage for this cgroup (attach a program first)")
        # The kernel swaps in a fresh buffer; the old one lives until RCU is done.
        region = self._new_region()
        region.buf[: self.value_size] = value[: self.value_size]
        self._retire(st.region)
        st.region = region

    def _sys_delete(self, key: bytes) -> None:
        raise BpfError(errno.EINVAL, "cgroup storage cannot be deleted through bpf()")

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        if not self._order:
            raise BpfError(errno.ENOENT, "no storages")
        if key is None:
            st = self._order[0]
        else:
            cur = self._find(key)
            if cur is None:
                raise BpfError(errno.ENOENT, "no storage for this key")
            i = self._order.index(cur) + 1
            if i >= len(self._order):
                raise BpfError(errno.ENOENT, "no more keys")
            st = self._order[i]
        if self.isolated:
            return _KEY.pack(st.cgroup_id, st.attach_type)
        return st.cgroup_id.to_bytes(8, "little")

    # ----------------------------------------------------------- program side ---

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        return 0  # programs reach storage through bpf_get_local_storage only

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        return -errno.EINVAL

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        return -errno.EINVAL

    def __len__(self) -> int:
        return len(self._order)


class PercpuCgroupStorageMap(CgroupStorageMap):
    """``BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE``: one copy per CPU."""

    PERCPU = True

    @classmethod
    def max_value_size(cls) -> int:
        return min(LOCAL_STORAGE_MAX_VALUE_SIZE, PCPU_MIN_UNIT_SIZE)

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        if flags not in (BPF_ANY, BPF_EXIST):
            raise BpfError(errno.EINVAL, "per-CPU cgroup storage updates take BPF_ANY or "
                           "BPF_EXIST")
        st = self._find(key)
        if st is None:
            raise BpfError(errno.ENOENT, "no storage for this cgroup (attach a program first)")
        st.region.buf[: self.stride * self.copies] = value
