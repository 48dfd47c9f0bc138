"""BPF maps with the kernel's behaviour: every type's rules, errnos and orders.

``create_map(spec)`` validates a :class:`MapSpec` as ``BPF_MAP_CREATE`` does and returns
the map; see :mod:`pybpf.maps.base` for the syscall-side, program-side and Pythonic APIs
all maps share.
"""

from __future__ import annotations

import errno
import os

from ..errors import BpfError
from .arena import ArenaMap
from .array import ArrayMap, ArrayOfMapsMap, PercpuArrayMap, ProgArrayMap
from .base import BatchResult, FdResolver, Map, MapMapping, map_at
from .bloom import BloomFilterMap
from .btfcheck import check_map_btf
from .btfdescribe import describe_map_btf, describe_type
from .btfinfo import BtfKind, BtfMember, BtfType, MapBtf, SpecialField
from .cgroup_storage import CgroupStorageMap, PercpuCgroupStorageMap
from .cpumap import CpuEntry, CpuMap
from .devmap import DevEntry, DevMap, DevMapHash
from .fdarrays import CgroupArrayMap, PerfEventArrayMap
from .hashtab import HashMap, HashOfMapsMap, LruHashMap, LruPercpuHashMap, PercpuHashMap
from .jhash import jhash, jhash2
from .local_storage import (
    CgrpStorageMap,
    InodeStorageMap,
    LocalStorageMap,
    SkStorageMap,
    TaskStorageMap,
)
from .lpm_trie import LpmTrieMap, lpm_key
from .queue_stack import QueueMap, StackMap
from .ringbuf import RingBufMap, ringbuf_of
from .sockmap import ReuseportSockArrayMap, SockHashMap, SockMapMap
from .stackmap import StackTraceMap
from .standins import (
    NETDEVS,
    Cgroup,
    Inode,
    NetDevice,
    NetDeviceTable,
    PerfEvent,
    PerfRecord,
    Socket,
    Task,
    XdpSocket,
)
from .struct_ops import StructOpsMap
from .types import (
    BPF_OBJ_NAME_LEN,
    ENOTSUPP,
    MapFlag,
    MapSpec,
    MapType,
    RingbufFlag,
    RingbufQuery,
    UpdateFlag,
)
from .user_ringbuf import UserRingBufMap, UserSample
from .xskmap import XskMap

__all__ = [
    "ENOTSUPP",
    "MAP_CLASSES",
    "NETDEVS",
    "ArenaMap",
    "ArrayMap",
    "ArrayOfMapsMap",
    "BatchResult",
    "BloomFilterMap",
    "BtfKind",
    "BtfMember",
    "BtfType",
    "Cgroup",
    "CgroupArrayMap",
    "CgroupStorageMap",
    "CgrpStorageMap",
    "CpuEntry",
    "CpuMap",
    "DevEntry",
    "DevMap",
    "DevMapHash",
    "FdResolver",
    "HashMap",
    "HashOfMapsMap",
    "Inode",
    "InodeStorageMap",
    "LocalStorageMap",
    "LpmTrieMap",
    "LruHashMap",
    "LruPercpuHashMap",
    "Map",
    "MapBtf",
    "MapFlag",
    "MapMapping",
    "MapSpec",
    "MapType",
    "NetDevice",
    "NetDeviceTable",
    "PercpuArrayMap",
    "PercpuCgroupStorageMap",
    "PercpuHashMap",
    "PerfEvent",
    "PerfEventArrayMap",
    "PerfRecord",
    "ProgArrayMap",
    "QueueMap",
    "ReuseportSockArrayMap",
    "RingBufMap",
    "RingbufFlag",
    "RingbufQuery",
    "SkStorageMap",
    "SockHashMap",
    "SockMapMap",
    "Socket",
    "SpecialField",
    "StackMap",
    "StackTraceMap",
    "Task",
    "TaskStorageMap",
    "UpdateFlag",
    "UserRingBufMap",
    "UserSample",
    "XdpSocket",
    "XskMap",
    "create_map",
    "describe_map_btf",
    "describe_type",
    "jhash",
    "jhash2",
    "lpm_key",
    "map_at",
    "possible_cpus",
    "ringbuf_of",
    "validate_spec",
]

MAP_CLASSES: dict[MapType, type[Map]] = {
    MapType.HASH: HashMap,
    MapType.ARRAY: ArrayMap,
    MapType.PROG_ARRAY: ProgArrayMap,
    MapType.PERCPU_HASH: PercpuHashMap,
    MapType.PERCPU_ARRAY: PercpuArrayMap,
    MapType.LRU_HASH: LruHashMap,
    MapType.LRU_PERCPU_HASH: LruPercpuHashMap,
    MapType.ARRAY_OF_MAPS: ArrayOfMapsMap,
    MapType.HASH_OF_MAPS: HashOfMapsMap,
    MapType.QUEUE: QueueMap,
    MapType.STACK: StackMap,
    MapType.RINGBUF: RingBufMap,
    MapType.PERF_EVENT_ARRAY: PerfEventArrayMap,
    MapType.STACK_TRACE: StackTraceMap,
    MapType.CGROUP_ARRAY: CgroupArrayMap,
    MapType.LPM_TRIE: LpmTrieMap,
    MapType.DEVMAP: DevMap,
    MapType.SOCKMAP: SockMapMap,
    MapType.CPUMAP: CpuMap,
    MapType.XSKMAP: XskMap,
    MapType.SOCKHASH: SockHashMap,
    MapType.CGROUP_STORAGE: CgroupStorageMap,
    MapType.REUSEPORT_SOCKARRAY: ReuseportSockArrayMap,
    MapType.PERCPU_CGROUP_STORAGE: PercpuCgroupStorageMap,
    MapType.SK_STORAGE: SkStorageMap,
    MapType.DEVMAP_HASH: DevMapHash,
    MapType.INODE_STORAGE: InodeStorageMap,
    MapType.TASK_STORAGE: TaskStorageMap,
    MapType.BLOOM_FILTER: BloomFilterMap,
    MapType.USER_RINGBUF: UserRingBufMap,
    MapType.CGRP_STORAGE: CgrpStorageMap,
    MapType.ARENA: ArenaMap,
    MapType.STRUCT_OPS: StructOpsMap,  # created by struct_ops.create_struct_ops_map
}

# Types the kernel has whose map_extra is meaningful.
_MAP_EXTRA_TYPES = (MapType.BLOOM_FILTER, MapType.ARENA)


def possible_cpus() -> int:
    """The number of possible CPUs (``/sys/devices/system/cpu/possible``)."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            text = f.read().strip()
        count = 0
        for part in text.split(","):
            if "-" in part:
                lo, hi = part.split("-")
                count += int(hi) - int(lo) + 1
            elif part:
                count += 1
        if count > 0:
            return count
    except (OSError, ValueError):
        pass
    return os.cpu_count() or 1


def _check_name(name: str) -> None:
    """bpf_obj_name_cpy: at most 15 characters of [A-Za-z0-9_.]."""
    if len(name) >= BPF_OBJ_NAME_LEN:
        raise BpfError(errno.EINVAL, f"map name {name!r} is longer than 15 characters")
    for ch in name:
        if not (ch.isascii() and (ch.isalnum() or ch in "_.")):
            raise BpfError(errno.EINVAL, f"map name {name!r} has a character other than [A-Za-z0-9_.]")


def _validate_common(spec: MapSpec) -> type[Map]:
    """The map_create checks that come before the type's own."""
    flags = spec.flags
    if flags & MapFlag.TOKEN_FD:
        raise BpfError(errno.EINVAL, "BPF_F_TOKEN_FD needs a BPF token, which pybpf has not")
    if spec.btf_key_type_id and not spec.btf_value_type_id:
        raise BpfError(errno.EINVAL, "a BTF key type needs a BTF value type")
    if spec.type not in _MAP_EXTRA_TYPES and spec.map_extra != 0:
        raise BpfError(errno.EINVAL, "map_extra is only for bloom filters and arenas")
    if flags & MapFlag.RDONLY and flags & MapFlag.WRONLY:
        raise BpfError(errno.EINVAL, "BPF_F_RDONLY and BPF_F_WRONLY exclude each other")
    if flags & MapFlag.NUMA_NODE and spec.numa_node not in (0, -1, 0xFFFFFFFF):
        raise BpfError(errno.EINVAL, f"NUMA node {spec.numa_node} is not online")
    if not 0 < int(spec.type) <= int(MapType.ARENA):
        raise BpfError(errno.EINVAL, f"invalid map type {int(spec.type)}")
    cls = MAP_CLASSES.get(spec.type)
    if cls is None:
        raise BpfError(
            errno.EOPNOTSUPP, f"pybpf does not implement {spec.type.case_name} maps"
        )
    return cls


def validate_spec(spec: MapSpec, num_cpus: int | None = None) -> None:
    """Raise the BpfError ``BPF_MAP_CREATE`` would fail with for ``spec`` (size limits
    aside), without creating anything."""
    ncpu = num_cpus or possible_cpus()
    cls = _validate_common(spec)
    cls.validate(spec, ncpu)
    if spec.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        assert spec.inner is not None  # checked by the type
        validate_spec(spec.inner, ncpu)
    _check_name(spec.name)
    check_map_btf(cls, spec)


def create_map(spec: MapSpec, num_cpus: int | None = None) -> Map:
    """A new map for ``spec``, refused with the kernel's errno where the kernel refuses.

    ``num_cpus`` is the number of possible CPUs (per-CPU values, LRU lists); by default
    this machine's.
    """
    ncpu = num_cpus or possible_cpus()
    if ncpu <= 0:
        raise BpfError(errno.EINVAL, "num_cpus must be positive")
    cls = _validate_common(spec)
    cls.validate(spec, ncpu)
    if spec.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        assert spec.inner is not None
        # The inner template stands for a map the loader created first.
        validate_spec(spec.inner, ncpu)
    # The kernel allocates the map before it copies the name and checks the BTF; no
    # allocation here can fail in a way that would come before those, so check first.
    _check_name(spec.name)
    check_map_btf(cls, spec)
    return cls(spec, ncpu)
