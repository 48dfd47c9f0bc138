"""LRU hash maps: eviction exactly as Linux does it (answers recorded from Linux 6.18 with
two possible CPUs, the test process on CPU 0, BPF_F_ZERO_SEED)."""

from __future__ import annotations

import errno

import pytest

from pybpf.errors import BpfError
from pybpf.maps import ENOTSUPP, MapFlag, MapSpec, MapType, create_map
from pybpf.maps.hashtab import HashMap

ZS = MapFlag.ZERO_SEED


def k4(i: int) -> bytes:
    return i.to_bytes(4, "little")


def lru(max_entries: int, flags: int = ZS, t: MapType = MapType.LRU_HASH,
        value_size: int = 8) -> HashMap:
    m = create_map(MapSpec(t, 4, value_size, max_entries, flags), 2)
    assert isinstance(m, HashMap)
    return m


def walk(m: HashMap) -> list[int]:
    return [int.from_bytes(k, "little") for k in m]


def test_plain_eviction() -> None:
    m = lru(4)
    for k in range(1, 7):
        m[k] = k
    assert walk(m) == [4, 6, 5, 3]


def test_program_lookup_protects_a_key() -> None:
    m = lru(4)
    for k in range(1, 5):
        m[k] = k
    assert m.bpf_lookup(k4(1), 0) != 0  # sets the reference bit
    for k in (5, 6):
        m[k] = k
    assert walk(m) == [4, 6, 5, 1]


def test_syscall_lookup_does_not_protect() -> None:
    m = lru(4)
    for k in range(1, 5):
        m[k] = k
    m.lookup(k4(1))
    for k in (5, 6):
        m[k] = k
    assert 1 not in walk(m)


def test_rotation_with_references() -> None:
    m = lru(8)
    for k in range(1, 9):
        m[k] = k
    m.bpf_lookup(k4(1), 0)
    m.bpf_lookup(k4(2), 0)
    for k in range(9, 13):
        m[k] = k
    assert walk(m) == [10, 7, 2, 1, 8, 12, 11, 9]


def test_noexist_update_of_existing_key_still_takes_a_node() -> None:
    # The kernel allocates the new node (evicting if needed) before it checks the flags.
    m = lru(4)
    for k in range(1, 5):
        m[k] = k
    m.update(k4(1), 1, 1)  # taking the node evicted key 1 itself, so NOEXIST succeeds
    for _ in range(2):
        with pytest.raises(BpfError) as exc:
            m.update(k4(1), 1, 1)
        assert exc.value.errno == errno.EEXIST
    assert walk(m) == [4, 1, 3]


def test_no_common_lru_rounds_and_splits_capacity() -> None:
    m = lru(5, ZS | MapFlag.NO_COMMON_LRU)
    assert m.max_entries == 6  # rounded up to a multiple of the CPU count
    for k in range(1, 10):
        m[k] = k
    assert walk(m) == [7, 8, 9]  # CPU 0 owns only half of the elements
    m.cpu = 1
    for k in range(10, 14):
        m[k] = k
    # CPU 1's shrink evicts up to four unreferenced nodes at once
    assert walk(m) == [7, 13, 8, 9]


def test_no_common_lru_overflow_is_e2big() -> None:
    with pytest.raises(BpfError) as exc:
        lru(0xFFFFFFFF, ZS | MapFlag.NO_COMMON_LRU)
    assert exc.value.errno == errno.E2BIG


def test_lru_needs_prealloc() -> None:
    with pytest.raises(BpfError) as exc:
        lru(4, ZS | MapFlag.NO_PREALLOC)
    assert exc.value.errno == ENOTSUPP


def test_never_full_and_never_over_capacity() -> None:
    m = lru(16)
    for k in range(1000):
        m.cpu = k % 2
        m[k] = k
        assert len(m) <= 16
        assert k in m  # the newest key is always there
    assert m.bpf_update(k4(5000), bytes(8), 0, 1) == 0


def test_lru_flags() -> None:
    m = lru(4)
    for bad in (3, 4, 8):
        with pytest.raises(BpfError) as exc:
            m.update(k4(1), 1, bad)
        assert exc.value.errno == errno.EINVAL
    assert m.bpf_update(k4(1), bytes(8), 4, 0) == -errno.EINVAL
    with pytest.raises(BpfError) as exc:
        m.update(k4(1), 1, 2)
    assert exc.value.errno == errno.ENOENT


def test_lru_percpu_exist_update_takes_no_node() -> None:
    m = lru(4, ZS, MapType.LRU_PERCPU_HASH, 4)
    for k in range(1, 5):
        m[k] = [k, k]
    before = walk(m)
    with pytest.raises(BpfError):
        m.update(k4(9), 9, 2)  # BPF_EXIST on a missing key: ENOENT, nothing evicted
    assert walk(m) == before
    m.update(k4(1), [7, 8], 2)
    assert m[1] == [k4(7), k4(8)]
    assert m.bpf_update(k4(1), k4(3), 0, 1) == 0
    assert m[1] == [k4(7), k4(3)]


def test_lookup_and_delete_gives_the_node_back() -> None:
    m = lru(4)
    for k in range(1, 5):
        m[k] = k
    assert m.lookup_and_delete(k4(2)) == (2).to_bytes(8, "little")
    m[9] = 9
    assert sorted(walk(m)) == [1, 3, 4, 9]
