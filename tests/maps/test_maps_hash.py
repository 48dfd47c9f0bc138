"""Hash maps (hash, percpu_hash, hash_of_maps): flags, errnos, order, memory, batches."""

from __future__ import annotations

import errno
import itertools

import pytest

from pybpf.errors import BpfError
from pybpf.maps import ENOTSUPP, MapFlag, MapSpec, MapType, create_map, jhash, map_at
from pybpf.maps.hashtab import HashMap
from pybpf.memory import MEMORY

ZS = MapFlag.ZERO_SEED


def hmap(max_entries: int = 16, flags: int = ZS, key_size: int = 4, value_size: int = 8,
         t: MapType = MapType.HASH, ncpu: int = 2) -> HashMap:
    m = create_map(MapSpec(t, key_size, value_size, max_entries, flags), ncpu)
    assert isinstance(m, HashMap)
    return m


def errno_of(fn: object, *args: object) -> int:
    try:
        fn(*args)  # type: ignore[operator]
    except BpfError as exc:
        return exc.errno
    return 0


def k4(i: int) -> bytes:
    return i.to_bytes(4, "little")


# ------------------------------------------------------------------------ creation ---

@pytest.mark.parametrize(("spec", "err"), [
    (MapSpec(MapType.HASH, 0, 4, 1), errno.EINVAL),
    (MapSpec(MapType.HASH, 4, 0, 1), errno.EINVAL),
    (MapSpec(MapType.HASH, 4, 4, 0), errno.EINVAL),
    (MapSpec(MapType.HASH, 4, 4, 1, MapFlag.NO_COMMON_LRU), errno.EINVAL),
    (MapSpec(MapType.HASH, 4, 4, 1, MapFlag.MMAPABLE), errno.EINVAL),
    (MapSpec(MapType.HASH, 4, 4, 1, 1 << 25), errno.EINVAL),
    (MapSpec(MapType.HASH, 4, 4, 1, MapFlag.RDONLY | MapFlag.WRONLY), errno.EINVAL),
    (MapSpec(MapType.HASH, 4, 4, 1, MapFlag.RDONLY_PROG | MapFlag.WRONLY_PROG), errno.EINVAL),
    (MapSpec(MapType.HASH, 4, (1 << 22) - 52, 1), errno.E2BIG),
    (MapSpec(MapType.PERCPU_HASH, 4, 32769, 1), errno.E2BIG),
    (MapSpec(MapType.PERCPU_HASH, 4, 4, 1, MapFlag.NUMA_NODE), errno.EINVAL),
    (MapSpec(MapType.HASH, 4, 4, (1 << 27) + 1, MapFlag.NO_PREALLOC), errno.E2BIG),
    (MapSpec(MapType.LRU_HASH, 4, 4, 4, MapFlag.NO_PREALLOC), ENOTSUPP),
    (MapSpec(MapType.HASH, 4, 4, 1, map_extra=1), errno.EINVAL),
    (MapSpec(MapType.HASH, 4, 4, 1, MapFlag.TOKEN_FD), errno.EINVAL),
    (MapSpec(MapType.HASH_OF_MAPS, 4, 8, 1, inner=MapSpec(MapType.ARRAY, 4, 4, 1)), errno.EINVAL),
    (MapSpec(MapType.HASH_OF_MAPS, 4, 4, 1), errno.EBADF),
    (MapSpec(MapType.HASH_OF_MAPS, 4, 4, 1, inner=MapSpec(MapType.PROG_ARRAY, 4, 4, 1)), ENOTSUPP),
    (MapSpec(MapType.HASH_OF_MAPS, 4, 4, 1,
             inner=MapSpec(MapType.ARRAY_OF_MAPS, 4, 4, 1, inner=MapSpec(MapType.ARRAY, 4, 4, 1))),
     errno.EINVAL),
    (MapSpec(MapType.HASH, 4, 4, 1, name="bad-name"), errno.EINVAL),
    (MapSpec(MapType.HASH, 4, 4, 1, name="x" * 16), errno.EINVAL),
])
def test_creation_errors(spec: MapSpec, err: int) -> None:
    with pytest.raises(BpfError) as exc:
        create_map(spec, 2)
    assert exc.value.errno == err


def test_large_no_prealloc_map_is_cheap() -> None:
    m = hmap(1 << 27, ZS | MapFlag.NO_PREALLOC)
    assert m.n_buckets == 1 << 27
    m[1] = 2
    assert m.keys() == [k4(1)]
    m.close()


def test_prealloc_beyond_the_memory_limit_is_enomem() -> None:
    with pytest.raises(BpfError) as exc:
        hmap(1 << 27, ZS, value_size=64)
    assert exc.value.errno == errno.ENOMEM


# ---------------------------------------------------------------------- update flags ---

def test_update_flags_and_errnos() -> None:
    m = hmap(2)
    m.update(k4(1), 1)
    assert errno_of(m.update, k4(1), 2, 1) == errno.EEXIST  # BPF_NOEXIST
    assert errno_of(m.update, k4(2), 2, 2) == errno.ENOENT  # BPF_EXIST
    assert errno_of(m.update, k4(2), 2, 4) == errno.EINVAL  # BPF_F_LOCK without a lock
    assert errno_of(m.update, k4(2), 2, 8) == errno.EINVAL  # unknown flag
    assert errno_of(m.update, k4(2), 2, 3) == errno.EINVAL
    m.update(k4(1), 5, 2)
    assert m[k4(1)] == (5).to_bytes(8, "little")
    m.update(k4(2), 2)
    assert errno_of(m.update, k4(3), 3) == errno.E2BIG  # full
    m.update(k4(2), 7)  # replacing still works when full
    assert len(m) == 2
    assert errno_of(m.lookup, k4(3)) == errno.ENOENT
    assert errno_of(m.lookup, k4(1), 4) == errno.EINVAL
    assert errno_of(m.lookup, k4(1), 1) == errno.EINVAL
    assert errno_of(m.delete, k4(3)) == errno.ENOENT


def test_no_prealloc_capacity() -> None:
    m = hmap(3, ZS | MapFlag.NO_PREALLOC)
    for i in range(3):
        m[i] = i
    assert errno_of(m.update, k4(9), 9) == errno.E2BIG
    m[1] = 11
    del m[0]
    m[9] = 9
    assert sorted(int.from_bytes(k, "little") for k in m) == [1, 2, 9]


def test_program_side_returns_negative_errnos() -> None:
    m = hmap(1)
    assert m.bpf_update(k4(1), bytes(8), 0, 0) == 0
    assert m.bpf_update(k4(1), bytes(8), 1, 0) == -errno.EEXIST
    assert m.bpf_update(k4(2), bytes(8), 2, 0) == -errno.ENOENT
    assert m.bpf_update(k4(2), bytes(8), 0, 1) == -errno.E2BIG
    assert m.bpf_update(k4(2), bytes(8), 4, 0) == -errno.EINVAL
    assert m.bpf_delete(k4(2), 0) == -errno.ENOENT
    assert m.bpf_lookup(k4(2), 0) == 0
    assert m.bpf_delete(k4(1), 1) == 0


# -------------------------------------------------------------------------- ordering ---

def test_zero_seed_order_matches_the_kernel() -> None:
    # Recorded from Linux: keys 0..9 (u32) inserted in order, max_entries 16.
    m = hmap(16)
    for i in range(10):
        m[i] = 0
    assert [int.from_bytes(k, "little") for k in m] == [4, 5, 0, 7, 2, 1, 8, 9, 6, 3]


def test_new_and_updated_elements_go_to_the_bucket_head() -> None:
    m = hmap(4)
    same = [i for i in range(200) if jhash(k4(i), 0) & 3 == jhash(k4(0), 0) & 3][:2]
    a, b = same
    m[a] = 1
    m[b] = 2
    assert [int.from_bytes(k, "little") for k in m][:2] == [b, a]
    m[a] = 3  # an update links a fresh element at the head
    assert [int.from_bytes(k, "little") for k in m][:2] == [a, b]


def test_get_next_key_of_missing_key_restarts() -> None:
    m = hmap(8)
    for i in range(5):
        m[i] = i
    first = m.get_next_key(None)
    assert m.get_next_key(k4(1000)) == first
    keys = m.keys()
    for x, y in itertools.pairwise(keys):
        assert m.get_next_key(x) == y
    assert errno_of(m.get_next_key, keys[-1]) == errno.ENOENT


def test_random_seed_is_random_but_consistent() -> None:
    m = hmap(64, 0)
    for i in range(40):
        m[i] = i
    assert sorted(m.keys()) == sorted(k4(i) for i in range(40))
    assert all(m[i] == i.to_bytes(8, "little") for i in range(40))


# ----------------------------------------------------------------- memory and RCU ---

def test_value_addresses_are_stable_and_survive_delete() -> None:
    m = hmap(4)
    m[1] = 0x1122334455667788
    addr = m.bpf_lookup(k4(1), 0)
    assert MEMORY.read(addr, 8) == (0x1122334455667788).to_bytes(8, "little")
    MEMORY.write(addr, (5).to_bytes(8, "little"))  # a program writes through the pointer
    assert m[1] == (5).to_bytes(8, "little")
    del m[1]
    assert MEMORY.read(addr, 8) == (5).to_bytes(8, "little")  # still mapped, as under RCU


def test_no_prealloc_elements_are_freed_after_a_grace_period() -> None:
    m = hmap(4, ZS | MapFlag.NO_PREALLOC)
    m[1] = 7
    addr = m.bpf_lookup(k4(1), 0)
    del m[1]
    assert MEMORY.read(addr, 8) == (7).to_bytes(8, "little")
    m.synchronize_rcu()
    assert MEMORY.find(addr) is None


def test_replace_in_prealloc_map_uses_the_spare_element() -> None:
    m = hmap(1)
    m[1] = 1
    a1 = m.bpf_lookup(k4(1), 0)
    m[1] = 2
    a2 = m.bpf_lookup(k4(1), 0)
    assert a1 != a2  # a fresh element replaced the old one
    assert MEMORY.read(a1, 8) == (1).to_bytes(8, "little")
    m[1] = 3  # the old element is the spare now and gets reused
    assert m.bpf_lookup(k4(1), 0) == a1


def test_close_releases_memory() -> None:
    m = hmap(4)
    m[1] = 1
    addr = m.bpf_lookup(k4(1), 0)
    base = m.address
    m.close()
    assert MEMORY.find(addr) is None and map_at(base) is None
    assert errno_of(m.lookup, k4(1)) == errno.EBADF


# --------------------------------------------------------------------------- per-CPU ---

def test_percpu_value_layout() -> None:
    m = hmap(4, ZS, value_size=4, t=MapType.PERCPU_HASH, ncpu=3)
    m.update(k4(1), [1, 2, 3])
    raw = m.lookup(k4(1))
    assert raw == bytes.fromhex("0100000000000000" "0200000000000000" "0300000000000000")
    assert m[1] == [k4(1), k4(2), k4(3)]
    m.update(k4(1), bytes(range(24)))  # raw layout: padding is stored too
    assert m.lookup(k4(1)) == bytes(range(24))
    with pytest.raises(BpfError):
        m.update(k4(1), [1, 2])


def test_percpu_program_side_touches_one_cpu() -> None:
    m = hmap(4, ZS, value_size=4, t=MapType.PERCPU_HASH, ncpu=2)
    m.update(k4(1), [5, 6])
    assert m.bpf_update(k4(1), k4(9), 0, 1) == 0
    assert m[1] == [k4(5), k4(9)]
    assert m.bpf_update(k4(2), k4(7), 0, 1) == 0  # fresh element: other CPUs zeroed
    assert m[2] == [k4(0), k4(7)]
    a0, a1 = m.bpf_lookup(k4(2), 0), m.bpf_lookup(k4(2), 1)
    assert MEMORY.read(a1, 4) == k4(7) and MEMORY.read(a0, 4) == k4(0)
    assert m.bpf_lookup_percpu(k4(2), 1) == a1
    assert m.bpf_lookup_percpu(k4(2), 2) == 0


def test_percpu_flags() -> None:
    m = hmap(1, ZS, value_size=4, t=MapType.PERCPU_HASH)
    assert errno_of(m.update, k4(1), 1, 4) == errno.EINVAL
    m.update(k4(1), 1)
    assert errno_of(m.update, k4(1), 1, 1) == errno.EEXIST
    assert errno_of(m.update, k4(2), 1, 0) == errno.E2BIG
    assert m.bpf_update(k4(1), k4(0), 4, 0) == -errno.EINVAL


# ---------------------------------------------------------------- lookup and delete ---

def test_lookup_and_delete() -> None:
    m = hmap(4)
    m[1] = 10
    assert m.lookup_and_delete(k4(1)) == (10).to_bytes(8, "little")
    assert errno_of(m.lookup_and_delete, k4(1)) == errno.ENOENT
    assert errno_of(m.lookup_and_delete, k4(1), 1) == errno.EINVAL
    assert errno_of(m.lookup_and_delete, k4(1), 4) == errno.EINVAL
    assert errno_of(m.lookup_and_delete, None) == errno.EFAULT


# ------------------------------------------------------------------------- access ---

def test_rdonly_and_wronly() -> None:
    ro = hmap(4, ZS | MapFlag.RDONLY)
    assert errno_of(ro.update, k4(1), 1) == errno.EPERM
    assert errno_of(ro.delete, k4(1)) == errno.EPERM
    assert errno_of(ro.lookup, k4(1)) == errno.ENOENT
    assert errno_of(ro.lookup_and_delete, k4(1)) == errno.EPERM
    assert errno_of(ro.freeze) == errno.EPERM
    assert ro.bpf_update(k4(1), bytes(8), 0, 0) == 0  # programs are not bound by it
    wo = hmap(4, ZS | MapFlag.WRONLY)
    wo.update(k4(1), 1)
    assert errno_of(wo.lookup, k4(1)) == errno.EPERM
    assert errno_of(wo.get_next_key, None) == errno.EPERM
    assert errno_of(wo.lookup, k4(1), 8) == errno.EINVAL  # flags are checked first
    assert errno_of(wo.lookup_batch, None, 4) == errno.EPERM
    wo.delete(k4(1))


def test_freeze() -> None:
    m = hmap(4)
    m[1] = 1
    m.freeze()
    assert m.frozen
    assert errno_of(m.update, k4(2), 2) == errno.EPERM
    assert errno_of(m.delete, k4(1)) == errno.EPERM
    assert errno_of(m.lookup_and_delete, k4(1)) == errno.EPERM
    assert errno_of(m.update_batch, [k4(2)], [2]) == errno.EPERM
    assert errno_of(m.delete_batch, [k4(1)]) == errno.EPERM
    assert errno_of(m.lookup_and_delete_batch, None, 4) == errno.EPERM
    assert errno_of(m.freeze) == errno.EPERM  # frozen maps lack write permission
    assert m[1] == (1).to_bytes(8, "little")
    assert m.lookup_batch(None, 8).count == 1
    assert m.bpf_update(k4(2), bytes(8), 0, 0) == 0  # programs may still write


# ------------------------------------------------------------------------- batches ---

def test_batch_walk_uses_bucket_tokens() -> None:
    m = hmap(16)
    for i in range(10):
        m[i] = i
    order = m.keys()
    got: list[bytes] = []
    token = None
    while True:
        r = m.lookup_batch(token, 3)
        got += r.keys
        assert [int.from_bytes(v, "little") for v in r.values] == [
            int.from_bytes(k, "little") for k in r.keys]
        assert r.next_batch is not None and len(r.next_batch) == 4
        token = r.next_batch
        if r.errno:
            assert r.errno == errno.ENOENT
            assert int.from_bytes(token, "little") == m.n_buckets
            break
    assert got == order
    again = m.lookup_batch(token, 3)
    assert (again.errno, again.count, again.next_batch) == (errno.ENOENT, 0, None)


def test_batch_enospc_when_a_bucket_does_not_fit() -> None:
    m = hmap(2)
    same = [i for i in range(200) if jhash(k4(i), 0) & 1 == 0][:2]
    for i in same:
        m[i] = i
    r = m.lookup_batch(None, 1)
    assert (r.errno, r.count) == (errno.ENOSPC, 0)
    assert r.next_batch == (0).to_bytes(4, "little")


def test_batch_flags_are_checked_before_anything() -> None:
    m = hmap(4)
    m[1] = 1
    for call in (lambda: m.lookup_batch(None, 4, elem_flags=1),
                 lambda: m.lookup_batch(None, 4, flags=1),
                 lambda: m.lookup_batch(None, 4, elem_flags=4),
                 lambda: m.update_batch([k4(1)], [1], elem_flags=1),
                 lambda: m.delete_batch([k4(1)], elem_flags=4)):
        with pytest.raises(BpfError) as exc:
            call()
        assert exc.value.errno == errno.EINVAL
    assert m.lookup_batch(None, 0).count == 0


def test_update_and_delete_batch_partial_counts() -> None:
    m = hmap(3)
    r = m.update_batch([k4(1), k4(2), k4(3), k4(4)], [1, 2, 3, 4])
    assert (r.count, r.errno) == (3, errno.E2BIG)
    r = m.delete_batch([k4(1), k4(9), k4(2)])
    assert (r.count, r.errno) == (1, errno.ENOENT)
    assert sorted(m.keys()) == [k4(2), k4(3)]


def test_lookup_and_delete_batch_empties_the_map() -> None:
    m = hmap(8, ZS, t=MapType.PERCPU_HASH, value_size=4)
    for i in range(6):
        m[i] = [i, i + 100]
    r = m.lookup_and_delete_batch(None, 100)
    assert r.errno == errno.ENOENT and r.count == 6
    assert all(len(v) == 16 for v in r.values)
    assert len(m) == 0


# --------------------------------------------------------------------- hash of maps ---

def test_hash_of_maps() -> None:
    inner_spec = MapSpec(MapType.ARRAY, 4, 4, 2)
    outer = create_map(MapSpec(MapType.HASH_OF_MAPS, 4, 4, 4, ZS, inner=inner_spec), 2)
    a = create_map(inner_spec, 2)
    a.id = 77
    wrong = create_map(MapSpec(MapType.ARRAY, 4, 4, 3), 2)
    outer.update(k4(1), a)
    assert outer.lookup(k4(1)) == (77).to_bytes(4, "little")
    assert outer[k4(1)] is a
    assert map_at(outer.bpf_lookup(k4(1), 0)) is a
    assert outer.bpf_lookup(k4(2), 0) == 0
    assert errno_of(outer.update, k4(2), wrong) == errno.EINVAL
    assert errno_of(outer.update, k4(2), 5) == errno.EBADF  # no resolver
    outer.resolve_fd = lambda fd: {5: a}[fd] if fd == 5 else (_ for _ in ()).throw(
        BpfError(errno.EBADF, "bad fd"))
    outer.update(k4(2), 5)
    assert outer.lookup(k4(2)) == (77).to_bytes(4, "little")
    assert errno_of(outer.update, k4(3), 6) == errno.EBADF
    assert errno_of(outer.lookup_and_delete, k4(1)) == ENOTSUPP
    assert outer.bpf_update(k4(1), bytes(4), 0, 0) == -errno.EINVAL
    outer.delete(k4(1))
    assert errno_of(outer.lookup, k4(1)) == errno.ENOENT


# ------------------------------------------------------------------------ Pythonic ---

def test_pythonic_api() -> None:
    m = hmap(8)
    m[1] = 100
    m[b"\x02\0\0\0"] = b"\x01" * 8
    assert m[1] == (100).to_bytes(8, "little")
    assert 1 in m and 3 not in m and "x" not in m
    assert len(m) == 2
    assert dict(m.items()) == {k4(1): (100).to_bytes(8, "little"), k4(2): b"\x01" * 8}
    del m[1]
    with pytest.raises(KeyError):
        del m[1]
    with pytest.raises(KeyError):
        _ = m[1]
    with pytest.raises(BpfError):
        m[1 << 40] = 1
    with pytest.raises(BpfError):
        m[b"\x01"] = 1
    with pytest.raises(BpfError):
        m["1"] = 1  # type: ignore[index]
    m[-1] = -1
    assert m[0xFFFFFFFF] == b"\xff" * 8


def test_for_each_elem_walks_in_table_order() -> None:
    m = hmap(16, ZS, t=MapType.PERCPU_HASH, value_size=4)
    for i in range(6):
        m[i] = [i, i + 10]
    pairs = list(m.for_each_elem(1))
    assert [MEMORY.read(k, 4) for k, _ in pairs] == m.keys()
    assert [int.from_bytes(MEMORY.read(v, 4), "little") for _, v in pairs] == [
        int.from_bytes(k, "little") + 10 for k in m]
    with pytest.raises(BpfError):
        next(create_map(MapSpec(MapType.HASH_OF_MAPS, 4, 4, 1,
                                inner=MapSpec(MapType.ARRAY, 4, 4, 1)), 2).for_each_elem(0))
