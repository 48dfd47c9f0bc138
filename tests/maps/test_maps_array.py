"""Array maps: array, percpu_array, prog_array, array_of_maps."""

from __future__ import annotations

import errno
from typing import Any

import pytest

from pybpf.errors import BpfError
from pybpf.maps import (
    ENOTSUPP,
    ArrayMap,
    ArrayOfMapsMap,
    MapFlag,
    MapSpec,
    MapType,
    ProgArrayMap,
    create_map,
    map_at,
)
from pybpf.memory import MEMORY


def k4(i: int) -> bytes:
    return i.to_bytes(4, "little")


def errno_of(fn: Any, *args: Any) -> int:
    try:
        fn(*args)
    except BpfError as exc:
        return exc.errno
    return 0


def arr(max_entries: int = 4, value_size: int = 12, flags: int = 0,
        t: MapType = MapType.ARRAY, ncpu: int = 2) -> ArrayMap:
    m = create_map(MapSpec(t, 4, value_size, max_entries, flags), ncpu)
    assert isinstance(m, ArrayMap)
    return m


@pytest.mark.parametrize(("spec", "err"), [
    (MapSpec(MapType.ARRAY, 8, 4, 1), errno.EINVAL),
    (MapSpec(MapType.ARRAY, 4, 0, 1), errno.EINVAL),
    (MapSpec(MapType.ARRAY, 4, 4, 0), errno.EINVAL),
    (MapSpec(MapType.ARRAY, 4, 4, 1, MapFlag.NO_PREALLOC), errno.EINVAL),
    (MapSpec(MapType.ARRAY, 4, 4, 1, MapFlag.PRESERVE_ELEMS), errno.EINVAL),
    (MapSpec(MapType.PERCPU_ARRAY, 4, 4, 1, MapFlag.MMAPABLE), errno.EINVAL),
    (MapSpec(MapType.PERCPU_ARRAY, 4, 4, 1, MapFlag.NUMA_NODE), errno.EINVAL),
    (MapSpec(MapType.PERCPU_ARRAY, 4, 32769, 1), errno.E2BIG),
    (MapSpec(MapType.ARRAY, 4, 1 << 31, 1), errno.E2BIG),
    (MapSpec(MapType.ARRAY, 4, 4, 0xFFFFFFFF), errno.ENOMEM),
    (MapSpec(MapType.PROG_ARRAY, 4, 8, 1), errno.EINVAL),
    (MapSpec(MapType.PROG_ARRAY, 4, 4, 1, MapFlag.RDONLY_PROG), errno.EINVAL),
    (MapSpec(MapType.ARRAY_OF_MAPS, 4, 4, 1), errno.EBADF),
    (MapSpec(MapType.ARRAY_OF_MAPS, 4, 4, 1, MapFlag.INNER_MAP,
             inner=MapSpec(MapType.ARRAY, 4, 4, 1)), errno.EINVAL),
])
def test_creation_errors(spec: MapSpec, err: int) -> None:
    with pytest.raises(BpfError) as exc:
        create_map(spec, 2)
    assert exc.value.errno == err


def test_array_basics() -> None:
    m = arr(3)
    assert m[0] == bytes(12)
    m[1] = 5
    assert m.lookup(k4(1)) == (5).to_bytes(12, "little")
    assert errno_of(m.lookup, k4(3)) == errno.ENOENT
    assert errno_of(m.update, k4(3), 1) == errno.E2BIG
    assert errno_of(m.update, k4(1), 1, 1) == errno.EEXIST
    assert errno_of(m.update, k4(1), 1, 8) == errno.EINVAL
    assert errno_of(m.update, k4(1), 1, 4) == errno.EINVAL
    m.update(k4(1), 6, 2)
    assert errno_of(m.delete, k4(1)) == errno.EINVAL
    assert errno_of(m.lookup_and_delete, k4(1)) == ENOTSUPP
    assert len(m) == 3 and 2 in m and 3 not in m


def test_array_get_next_key() -> None:
    m = arr(3)
    assert m.get_next_key(None) == k4(0)
    assert m.get_next_key(k4(0)) == k4(1)
    assert errno_of(m.get_next_key, k4(2)) == errno.ENOENT
    assert m.get_next_key(k4(7)) == k4(0)
    assert m.keys() == [k4(0), k4(1), k4(2)]


def test_array_memory_layout_and_program_side() -> None:
    m = arr(4, 12)
    a0, a3 = m.bpf_lookup(k4(0), 0), m.bpf_lookup(k4(3), 1)
    assert a3 - a0 == 3 * 16  # stride round_up(value_size, 8)
    assert m.bpf_lookup(k4(4), 0) == 0
    assert m.bpf_update(k4(2), b"\x07" * 12, 0, 0) == 0
    assert m[2] == b"\x07" * 12
    assert m.bpf_update(k4(4), bytes(12), 0, 0) == -errno.E2BIG
    assert m.bpf_update(k4(2), bytes(12), 1, 0) == -errno.EEXIST
    assert m.bpf_update(k4(2), bytes(12), 4, 0) == -errno.EINVAL
    assert m.bpf_delete(k4(2), 0) == -errno.EINVAL
    MEMORY.write(a0, b"abc")
    assert m[0][:3] == b"abc"


def test_direct_value_addr() -> None:
    one = arr(1, 8)
    assert one.direct_value_addr(0) == one.bpf_lookup(k4(0), 0)
    assert one.direct_value_addr(7) == one.bpf_lookup(k4(0), 0) + 7
    assert errno_of(one.direct_value_addr, 8) == errno.EINVAL
    assert errno_of(arr(2, 8).direct_value_addr, 0) == ENOTSUPP
    assert errno_of(arr(1, 8, t=MapType.PERCPU_ARRAY).direct_value_addr, 0) == errno.EINVAL
    h = create_map(MapSpec(MapType.HASH, 4, 4, 1), 2)
    assert errno_of(h.direct_value_addr, 0) == errno.EINVAL


def test_percpu_array() -> None:
    m = arr(3, 4, t=MapType.PERCPU_ARRAY, ncpu=2)
    m.update(k4(1), [1, 2])
    assert m.lookup(k4(1)) == bytes.fromhex("0100000000000000" "0200000000000000")
    assert m[1] == [k4(1), k4(2)]
    assert m.bpf_update(k4(1), k4(9), 0, 1) == 0
    assert m[1] == [k4(1), k4(9)]
    assert m.bpf_lookup(k4(1), 1) == m.bpf_lookup_percpu(k4(1), 1)
    assert m.bpf_lookup_percpu(k4(1), 2) == 0
    assert errno_of(m.update, k4(1), 1, 4) == errno.EINVAL
    assert errno_of(m.update, k4(1), 1, 1) == errno.EEXIST
    with pytest.raises(BpfError):
        m.bpf_lookup(k4(1), 2)  # not a possible CPU


def test_array_batches() -> None:
    m = arr(5, 4)
    for i in range(5):
        m[i] = i * 10
    r = m.lookup_batch(None, 2)
    assert (r.count, r.errno, r.next_batch) == (2, 0, k4(1))
    r = m.lookup_batch(r.next_batch, 10)
    assert (r.count, r.errno, r.next_batch) == (3, errno.ENOENT, k4(4))
    assert r.values == [k4(20), k4(30), k4(40)]
    r = m.lookup_batch(k4(4), 10)
    assert (r.count, r.errno, r.next_batch) == (0, errno.ENOENT, None)
    r = m.update_batch([k4(0), k4(9), k4(1)], [1, 2, 3])
    assert (r.count, r.errno) == (1, errno.E2BIG)
    assert errno_of(m.delete_batch, [k4(0)]) == ENOTSUPP
    assert errno_of(m.lookup_and_delete_batch, None, 3) == ENOTSUPP


def test_mmap_and_freeze() -> None:
    m = arr(4, 8, MapFlag.MMAPABLE)
    w = m.mmap(writable=True)
    assert len(w.view) == 4096
    w.view[8:16] = (42).to_bytes(8, "little")
    assert m[1] == (42).to_bytes(8, "little")
    assert errno_of(m.freeze) == errno.EBUSY
    w.close()
    m.freeze()
    assert errno_of(m.mmap, True) == errno.EPERM
    r = m.mmap(writable=False)
    assert r.view.readonly
    r.close()
    assert errno_of(m.mmap, False, 0, 8192) == errno.EINVAL
    assert errno_of(arr(4, 8).mmap) == errno.EINVAL
    assert errno_of(arr(4, 8, MapFlag.MMAPABLE | MapFlag.RDONLY_PROG).mmap, True) == errno.EACCES
    assert errno_of(arr(4, 8, MapFlag.MMAPABLE | MapFlag.RDONLY).mmap, True) == errno.EACCES
    assert errno_of(arr(4, 8, t=MapType.PERCPU_ARRAY).mmap) == ENOTSUPP


class Prog:
    def __init__(self, ident: int) -> None:
        self.id = ident


def test_prog_array() -> None:
    m = create_map(MapSpec(MapType.PROG_ARRAY, 4, 4, 4), 2)
    assert isinstance(m, ProgArrayMap)
    p1, p2 = Prog(11), Prog(12)
    m.update(k4(0), p1)
    assert m.get_program(0) is p1 and m.get_program(1) is None and m.get_program(9) is None
    assert m.lookup(k4(0)) == k4(11)
    assert errno_of(m.lookup, k4(1)) == errno.ENOENT
    assert errno_of(m.lookup, k4(9)) == errno.ENOENT
    assert errno_of(m.update, k4(1), p2, 2) == errno.EINVAL
    assert errno_of(m.update, k4(4), p2) == errno.E2BIG
    assert errno_of(m.update, k4(1), 3) == errno.EBADF  # an fd, but no resolver
    m.resolve_fd = lambda fd: p2 if fd == 3 else m
    m.update(k4(1), 3)
    assert m[1] is p2
    assert errno_of(m.update, k4(2), 4) == errno.EINVAL  # the fd is a map
    assert errno_of(m.delete, k4(4)) == errno.E2BIG
    assert errno_of(m.delete, k4(2)) == errno.ENOENT
    m.delete(k4(0))
    assert m.get_program(0) is None
    assert errno_of(m.lookup_batch, None, 4) == ENOTSUPP
    assert errno_of(m.lookup_and_delete, k4(1)) == ENOTSUPP
    assert m.bpf_lookup(k4(1), 0) == 0
    assert len(m) == 1


def test_array_of_maps() -> None:
    template = MapSpec(MapType.ARRAY, 4, 4, 2, MapFlag.INNER_MAP)
    outer = create_map(MapSpec(MapType.ARRAY_OF_MAPS, 4, 4, 3, inner=template), 2)
    assert isinstance(outer, ArrayOfMapsMap)
    small = create_map(MapSpec(MapType.ARRAY, 4, 4, 2, MapFlag.INNER_MAP), 2)
    big = create_map(MapSpec(MapType.ARRAY, 4, 4, 9, MapFlag.INNER_MAP), 2)
    other = create_map(MapSpec(MapType.ARRAY, 4, 8, 2, MapFlag.INNER_MAP), 2)
    small.id, big.id = 5, 6
    outer.update(k4(0), small)
    outer.update(k4(1), big)  # BPF_F_INNER_MAP templates accept any size
    assert errno_of(outer.update, k4(2), other) == errno.EINVAL
    assert errno_of(outer.update, k4(2), small, 1) == errno.EINVAL
    assert errno_of(outer.update, k4(3), small) == errno.E2BIG
    assert outer.lookup(k4(1)) == k4(6)
    assert map_at(outer.bpf_lookup(k4(1), 0)) is big
    assert outer.bpf_lookup(k4(2), 0) == 0 and outer.bpf_lookup(k4(7), 0) == 0
    r = outer.lookup_batch(None, 8)
    assert (r.keys, r.values, r.errno) == ([k4(0), k4(1)], [k4(5), k4(6)], errno.ENOENT)
    assert r.next_batch == k4(2)
    outer.delete(k4(0))
    assert outer[1] is big and 0 not in outer


def test_array_of_maps_checks_size_without_inner_map_flag() -> None:
    outer = create_map(MapSpec(MapType.ARRAY_OF_MAPS, 4, 4, 2,
                               inner=MapSpec(MapType.ARRAY, 4, 4, 2)), 2)
    assert errno_of(outer.update, k4(0), create_map(MapSpec(MapType.ARRAY, 4, 4, 3), 2)) \
        == errno.EINVAL
    outer.update(k4(0), create_map(MapSpec(MapType.ARRAY, 4, 4, 2), 2))


def test_for_each_elem() -> None:
    m = arr(3, 4)
    for i in range(3):
        m[i] = i * 7
    seen = [(int.from_bytes(MEMORY.read(k, 4), "little"), MEMORY.read(v, 4))
            for k, v in m.for_each_elem(0)]
    assert seen == [(0, k4(0)), (1, k4(7)), (2, k4(14))]
    with pytest.raises(BpfError):
        next(create_map(MapSpec(MapType.PROG_ARRAY, 4, 4, 1), 2).for_each_elem(0))
