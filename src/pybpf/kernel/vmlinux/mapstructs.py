"""Which kernel struct stands for a map of each type (``map->ops->map_btf_id``).

A map pointer in a program (``CONST_PTR_TO_MAP``, or ``&map`` cast to a struct) is a
pointer to that struct, whose first member is ``struct bpf_map map``: the verifier
walks it for map-pointer loads and the map's region holds its bytes.
"""

from __future__ import annotations

from types import MappingProxyType

from ...maps.types import MapType

_M = MapType

MAP_STRUCTS = MappingProxyType({
    _M.HASH: "bpf_htab",
    _M.ARRAY: "bpf_array",
    _M.PROG_ARRAY: "bpf_array",
    _M.PERF_EVENT_ARRAY: "bpf_array",
    _M.PERCPU_HASH: "bpf_htab",
    _M.PERCPU_ARRAY: "bpf_array",
    _M.STACK_TRACE: "bpf_stack_map",
    _M.CGROUP_ARRAY: "bpf_array",
    _M.LRU_HASH: "bpf_htab",
    _M.LRU_PERCPU_HASH: "bpf_htab",
    _M.LPM_TRIE: "lpm_trie",
    _M.ARRAY_OF_MAPS: "bpf_array",
    _M.HASH_OF_MAPS: "bpf_htab",
    _M.DEVMAP: "bpf_dtab",
    _M.SOCKMAP: "bpf_stab",
    _M.CPUMAP: "bpf_cpu_map",
    _M.XSKMAP: "xsk_map",
    _M.SOCKHASH: "bpf_shtab",
    _M.CGROUP_STORAGE: "bpf_cgroup_storage_map",
    _M.REUSEPORT_SOCKARRAY: "reuseport_array",
    _M.PERCPU_CGROUP_STORAGE: "bpf_cgroup_storage_map",
    _M.QUEUE: "bpf_queue_stack",
    _M.STACK: "bpf_queue_stack",
    _M.SK_STORAGE: "bpf_local_storage_map",
    _M.DEVMAP_HASH: "bpf_dtab",
    _M.STRUCT_OPS: "bpf_struct_ops_map",
    _M.RINGBUF: "bpf_ringbuf_map",
    _M.INODE_STORAGE: "bpf_local_storage_map",
    _M.TASK_STORAGE: "bpf_local_storage_map",
    _M.BLOOM_FILTER: "bpf_bloom_filter",
    _M.USER_RINGBUF: "bpf_ringbuf_map",
    _M.CGRP_STORAGE: "bpf_local_storage_map",
    _M.ARENA: "bpf_arena",
})  # fmt: skip
"""The struct name for each map type (every type but ``UNSPEC``)."""


def map_struct(map_type: int) -> str:
    """The struct a map of ``map_type`` is, as its BTF names it (``bpf_map`` if unknown)."""
    try:
        return MAP_STRUCTS.get(MapType(map_type), "bpf_map")
    except ValueError:
        return "bpf_map"
