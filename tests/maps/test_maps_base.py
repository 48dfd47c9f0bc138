"""Things every map shares: the map object region, the factory, closing."""

from __future__ import annotations

import errno

import pytest

from pybpf.errors import BpfError
from pybpf.maps import (
    MAP_CLASSES,
    BtfType,
    Map,
    MapBtf,
    MapSpec,
    MapType,
    create_map,
    map_at,
    possible_cpus,
    validate_spec,
)
from pybpf.memory import MEMORY, RegionKind

_STORAGE_BTF = MapBtf(1, 2, BtfType.integer(4), BtfType.integer(8))

SPECS = [
    MapSpec(MapType.HASH, 4, 8, 4),
    MapSpec(MapType.ARRAY, 4, 8, 4),
    MapSpec(MapType.PROG_ARRAY, 4, 4, 4),
    MapSpec(MapType.PERCPU_HASH, 4, 8, 4),
    MapSpec(MapType.PERCPU_ARRAY, 4, 8, 4),
    MapSpec(MapType.LRU_HASH, 4, 8, 4),
    MapSpec(MapType.LRU_PERCPU_HASH, 4, 8, 4),
    MapSpec(MapType.ARRAY_OF_MAPS, 4, 4, 4, inner=MapSpec(MapType.ARRAY, 4, 4, 1)),
    MapSpec(MapType.HASH_OF_MAPS, 4, 4, 4, inner=MapSpec(MapType.HASH, 4, 4, 1)),
    MapSpec(MapType.QUEUE, 0, 8, 4),
    MapSpec(MapType.STACK, 0, 8, 4),
    MapSpec(MapType.RINGBUF, 0, 0, 4096),
    MapSpec(MapType.PERF_EVENT_ARRAY, 4, 4, 2),
    MapSpec(MapType.STACK_TRACE, 4, 64, 4),
    MapSpec(MapType.CGROUP_ARRAY, 4, 4, 2),
    MapSpec(MapType.LPM_TRIE, 8, 8, 4, 1),
    MapSpec(MapType.DEVMAP, 4, 8, 4),
    MapSpec(MapType.SOCKMAP, 4, 8, 4),
    MapSpec(MapType.CPUMAP, 4, 8, 2),
    MapSpec(MapType.XSKMAP, 4, 4, 4),
    MapSpec(MapType.SOCKHASH, 4, 8, 4),
    MapSpec(MapType.CGROUP_STORAGE, 16, 8, 0),
    MapSpec(MapType.REUSEPORT_SOCKARRAY, 4, 8, 4),
    MapSpec(MapType.PERCPU_CGROUP_STORAGE, 8, 8, 0),
    MapSpec(MapType.SK_STORAGE, 4, 8, 0, 1, btf=_STORAGE_BTF),
    MapSpec(MapType.DEVMAP_HASH, 4, 8, 4),
    MapSpec(MapType.INODE_STORAGE, 4, 8, 0, 1, btf=_STORAGE_BTF),
    MapSpec(MapType.TASK_STORAGE, 4, 8, 0, 1, btf=_STORAGE_BTF),
    MapSpec(MapType.BLOOM_FILTER, 0, 8, 4),
    MapSpec(MapType.USER_RINGBUF, 0, 0, 4096),
    MapSpec(MapType.CGRP_STORAGE, 4, 8, 0, 1, btf=_STORAGE_BTF),
    MapSpec(MapType.ARENA, 0, 0, 4, 1024),
]


def test_every_type_is_implemented() -> None:
    # struct_ops maps need a kernel value type: pybpf.struct_ops creates them
    assert {s.type for s in SPECS} == set(MAP_CLASSES) - {MapType.STRUCT_OPS}
    assert set(MapType) - set(MAP_CLASSES) == {MapType.UNSPEC}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.type.case_name)
def test_map_object_region(spec: MapSpec) -> None:
    m = create_map(spec, 2)
    assert isinstance(m, Map)
    assert m.region.kind is RegionKind.MAP and m.region.owner is m
    assert m.address == m.region.base
    assert map_at(m.address) is m and map_at(m.address + 8) is m
    assert m.id == 0 and not m.frozen and m.cpu == 0
    validate_spec(spec, 2)
    m.close()
    assert map_at(m.address) is None
    m.close()  # closing twice is harmless


def test_map_at_other_addresses() -> None:
    m = create_map(MapSpec(MapType.ARRAY, 4, 8, 4), 2)
    assert map_at(m.bpf_lookup(b"\0\0\0\0", 0)) is None
    assert map_at(0) is None
    assert MEMORY.find(m.address) is m.region


@pytest.mark.parametrize(("type_number", "err"), [
    (MapType.UNSPEC, errno.EINVAL),
    (MapType.STRUCT_OPS, errno.EINVAL),  # no btf_vmlinux_value_type_id, as the kernel says
    (MapType.LPM_TRIE, errno.EINVAL),  # no BPF_F_NO_PREALLOC
    (MapType.BLOOM_FILTER, errno.EINVAL),  # a key
])
def test_factory_refusals(type_number: MapType, err: int) -> None:
    with pytest.raises(BpfError) as exc:
        create_map(MapSpec(type_number, 4, 4, 1), 2)
    assert exc.value.errno == err


def test_names() -> None:
    m = create_map(MapSpec(MapType.ARRAY, 4, 4, 1, name="my.map_1"), 2)
    assert "my.map_1" in repr(m)
    for bad in ("a-b", "x" * 16, "é"):
        with pytest.raises(BpfError) as exc:
            create_map(MapSpec(MapType.ARRAY, 4, 4, 1, name=bad), 2)
        assert exc.value.errno == errno.EINVAL


def test_possible_cpus_and_default() -> None:
    n = possible_cpus()
    assert n >= 1
    m = create_map(MapSpec(MapType.PERCPU_ARRAY, 4, 4, 1))
    assert m.num_cpus == n
    assert len(m.lookup(b"\0\0\0\0")) == 8 * n


def test_numa_node_flag() -> None:
    create_map(MapSpec(MapType.ARRAY, 4, 4, 1, 4, numa_node=0), 2)
    with pytest.raises(BpfError) as exc:
        create_map(MapSpec(MapType.ARRAY, 4, 4, 1, 4, numa_node=7), 2)
    assert exc.value.errno == errno.EINVAL


def test_bad_program_cpu() -> None:
    m = create_map(MapSpec(MapType.HASH, 4, 4, 1), 2)
    with pytest.raises(BpfError):
        m.bpf_update(b"\0" * 4, b"\0" * 4, 0, 5)
