"""Map vocabulary: the kernel's map type numbers, flag bits and the map spec.

Everything here is plain data shared by the maps, the loader and the oracle: the numbers
are the kernel's UAPI values, so a spec converts to a ``BPF_MAP_CREATE`` attribute without
translation.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import Any

from ..errors import BpfError
from .btfinfo import MapBtf

# The kernel-internal "operation not supported" errno that bpf() hands to user space for
# map operations a type lacks (distinct from EOPNOTSUPP, which is 95).
ENOTSUPP = 524

PAGE_SIZE = 4096
# include/linux/slab.h on x86-64: the largest kmalloc() (order-10 pages).
KMALLOC_MAX_SIZE = 1 << 22
# The per-CPU allocator's minimum unit: the bound on a per-CPU value.
PCPU_MIN_UNIT_SIZE = 32 << 10
BPF_OBJ_NAME_LEN = 16


class MapType(IntEnum):
    """``enum bpf_map_type`` (names without the ``BPF_MAP_TYPE_`` prefix)."""

    UNSPEC = 0
    HASH = 1
    ARRAY = 2
    PROG_ARRAY = 3
    PERF_EVENT_ARRAY = 4
    PERCPU_HASH = 5
    PERCPU_ARRAY = 6
    STACK_TRACE = 7
    CGROUP_ARRAY = 8
    LRU_HASH = 9
    LRU_PERCPU_HASH = 10
    LPM_TRIE = 11
    ARRAY_OF_MAPS = 12
    HASH_OF_MAPS = 13
    DEVMAP = 14
    SOCKMAP = 15
    CPUMAP = 16
    XSKMAP = 17
    SOCKHASH = 18
    CGROUP_STORAGE = 19
    REUSEPORT_SOCKARRAY = 20
    PERCPU_CGROUP_STORAGE = 21
    QUEUE = 22
    STACK = 23
    SK_STORAGE = 24
    DEVMAP_HASH = 25
    STRUCT_OPS = 26
    RINGBUF = 27
    INODE_STORAGE = 28
    TASK_STORAGE = 29
    BLOOM_FILTER = 30
    USER_RINGBUF = 31
    CGRP_STORAGE = 32
    ARENA = 33
    # The UAPI's older spellings of the two cgroup storage types.
    CGROUP_STORAGE_DEPRECATED = 19
    PERCPU_CGROUP_STORAGE_DEPRECATED = 21

    @property
    def case_name(self) -> str:
        """The case-file spelling: lower case, no prefix."""
        return self.name.lower()

    @classmethod
    def from_name(cls, name: str) -> MapType:
        key = name.strip().upper()
        if key.startswith("BPF_MAP_TYPE_"):
            key = key[len("BPF_MAP_TYPE_") :]
        try:
            return cls[key]
        except KeyError:
            raise BpfError(errno.EINVAL, f"unknown map type {name!r}") from None


class MapFlag(IntFlag):
    """``map_flags`` bits of ``BPF_MAP_CREATE`` (names without ``BPF_F_``)."""

    NO_PREALLOC = 1 << 0
    NO_COMMON_LRU = 1 << 1
    NUMA_NODE = 1 << 2
    RDONLY = 1 << 3
    WRONLY = 1 << 4
    STACK_BUILD_ID = 1 << 5
    ZERO_SEED = 1 << 6
    RDONLY_PROG = 1 << 7
    WRONLY_PROG = 1 << 8
    CLONE = 1 << 9
    MMAPABLE = 1 << 10
    PRESERVE_ELEMS = 1 << 11
    INNER_MAP = 1 << 12
    LINK = 1 << 13
    PATH_FD = 1 << 14
    VTYPE_BTF_OBJ_FD = 1 << 15
    TOKEN_FD = 1 << 16
    SEGV_ON_FAULT = 1 << 17
    NO_USER_CONV = 1 << 18


ACCESS_MASK = int(MapFlag.RDONLY | MapFlag.RDONLY_PROG | MapFlag.WRONLY | MapFlag.WRONLY_PROG)


class UpdateFlag(IntFlag):
    """Flags of element updates (``BPF_ANY`` ... ``BPF_F_LOCK``)."""

    ANY = 0
    NOEXIST = 1
    EXIST = 2
    F_LOCK = 4


# Plain-int spellings for flag arithmetic: ``~`` of an IntFlag member only complements
# within the defined bits, which would hide unknown bits from the kernel's checks.
BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2
BPF_F_LOCK = 4


class RingbufFlag(IntFlag):
    """Flags of ``bpf_ringbuf_submit/discard/output``."""

    NO_WAKEUP = 1 << 0
    FORCE_WAKEUP = 1 << 1


class RingbufQuery(IntEnum):
    """What ``bpf_ringbuf_query`` reports."""

    AVAIL_DATA = 0
    RING_SIZE = 1
    CONS_POS = 2
    PROD_POS = 3


RINGBUF_BUSY_BIT = 1 << 31
RINGBUF_DISCARD_BIT = 1 << 30
RINGBUF_HDR_SZ = 8


def round_up(n: int, align: int) -> int:
    return (n + align - 1) // align * align


@dataclass(frozen=True)
class MapSpec:
    """The attributes a map is created with (what ``BPF_MAP_CREATE`` receives).

    ``inner`` is the template of the inner maps of a map-in-map (the kernel takes it as
    ``inner_map_fd``); ``flags`` is the raw ``map_flags`` number; ``numa_node`` only
    matters with ``MapFlag.NUMA_NODE``; ``btf`` holds the key/value type ids and their
    resolved types when the map is described by BTF (``btf_fd`` and the two ids).
    """

    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    name: str = ""
    inner: MapSpec | None = None
    map_extra: int = 0
    numa_node: int = field(default=0, compare=True)
    btf: MapBtf | None = None

    @property
    def btf_key_type_id(self) -> int:
        return self.btf.key_type_id if self.btf is not None else 0

    @property
    def btf_value_type_id(self) -> int:
        return self.btf.value_type_id if self.btf is not None else 0

    def __post_init__(self) -> None:
        if not isinstance(self.type, MapType):
            try:
                object.__setattr__(self, "type", MapType(int(self.type)))
            except (TypeError, ValueError):
                raise BpfError(errno.EINVAL, f"invalid map type {self.type!r}") from None

    @classmethod
    def from_case(cls, case: dict[str, Any]) -> MapSpec:
        """A spec from a case file's map object (see docs of the case format)."""
        if not isinstance(case, dict):
            raise BpfError(errno.EINVAL, "a map spec must be a JSON object")
        try:
            raw_type = case["type"]
            map_type = (
                MapType(int(raw_type)) if isinstance(raw_type, int) else MapType.from_name(raw_type)
            )
            inner_raw = case.get("inner")
            inner = cls.from_case(inner_raw) if inner_raw is not None else None
            btf_raw = case.get("btf")
            btf = MapBtf.from_case(btf_raw) if btf_raw is not None else None
            return cls(
                type=map_type,
                key_size=_u32(case.get("key_size", 0), "key_size"),
                value_size=_u32(case.get("value_size", 0), "value_size"),
                max_entries=_u32(case.get("max_entries", 0), "max_entries"),
                flags=_u32(case.get("flags", 0), "flags"),
                name=str(case.get("name", "") or ""),
                inner=inner,
                map_extra=int(case.get("map_extra", 0) or 0) & ((1 << 64) - 1),
                numa_node=int(case.get("numa_node", 0) or 0),
                btf=btf,
            )
        except BpfError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise BpfError(errno.EINVAL, f"bad map spec: {exc}") from None

    def to_case(self) -> dict[str, Any]:
        """The case-file form (only the fields that are not at their defaults, plus the
        four that always appear)."""
        out: dict[str, Any] = {
            "type": self.type.case_name,
            "key_size": self.key_size,
            "value_size": self.value_size,
            "max_entries": self.max_entries,
            "flags": self.flags,
        }
        if self.name:
            out["name"] = self.name
        if self.inner is not None:
            out["inner"] = self.inner.to_case()
        if self.map_extra:
            out["map_extra"] = self.map_extra
        if self.numa_node:
            out["numa_node"] = self.numa_node
        if self.btf is not None:
            out["btf"] = self.btf.to_case()
        return out


def _u32(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise BpfError(errno.EINVAL, f"map {what} must be an integer, not {v!r}")
    if not 0 <= v <= 0xFFFFFFFF:
        raise BpfError(errno.EINVAL, f"map {what} {v} does not fit in 32 bits")
    return v
