"""Map commands against the running kernel."""

from __future__ import annotations

import errno

import pytest

from pybpf.oracle import (
    ElemFlag,
    MapFlag,
    MapType,
    OracleError,
    Session,
    map_create,
    map_delete,
    map_delete_batch,
    map_freeze,
    map_get_info,
    map_get_next_key,
    map_items,
    map_lookup,
    map_lookup_and_delete,
    map_lookup_batch,
    map_update,
    map_update_batch,
    possible_cpus,
    syscall_value_size,
)

from .conftest import needs_kernel

pytestmark = [pytest.mark.kernel, needs_kernel]


def u32(v: int) -> bytes:
    return v.to_bytes(4, "little")


def u64(v: int) -> bytes:
    return v.to_bytes(8, "little")


def test_array_create_update_lookup(session: Session) -> None:
    fd = session.map_create(MapType.ARRAY, 4, 8, 4)
    assert map_lookup(fd, u32(1), 8) == (0, bytes(8))  # arrays start zeroed
    assert map_update(fd, u32(1), u64(0x1122334455667788), ElemFlag.ANY) == 0
    assert map_lookup(fd, u32(1), 8) == (0, u64(0x1122334455667788))
    assert map_lookup(fd, u32(4), 8) == (errno.ENOENT, None)  # past max_entries
    assert map_update(fd, u32(4), u64(1), ElemFlag.ANY) == errno.E2BIG
    assert map_update(fd, u32(0), u64(1), ElemFlag.NOEXIST) == errno.EEXIST
    assert map_delete(fd, u32(0)) == errno.EINVAL  # array elements cannot be deleted


def test_hash_create_update_lookup_errnos(session: Session) -> None:
    fd = session.map_create(MapType.HASH, 4, 8, 2)
    assert map_lookup(fd, u32(7), 8) == (errno.ENOENT, None)
    assert map_update(fd, u32(7), u64(70), ElemFlag.NOEXIST) == 0
    assert map_update(fd, u32(7), u64(71), ElemFlag.NOEXIST) == errno.EEXIST
    assert map_update(fd, u32(8), u64(80), ElemFlag.EXIST) == errno.ENOENT
    assert map_lookup(fd, u32(7), 8) == (0, u64(70))
    assert map_update(fd, u32(8), u64(80), ElemFlag.ANY) == 0
    assert map_update(fd, u32(9), u64(90), ElemFlag.ANY) == errno.E2BIG  # full
    assert map_delete(fd, u32(9)) == errno.ENOENT
    assert map_delete(fd, u32(8)) == 0
    err, items = map_items(fd, 4, 8)
    assert err == 0 and items == [(u32(7), u64(70))]
    assert map_get_next_key(fd, u32(7), 4) == (errno.ENOENT, None)


def test_map_info_reports_what_was_created(session: Session) -> None:
    fd = session.map_create(MapType.LRU_HASH, 8, 16, 32, flags=MapFlag.NO_COMMON_LRU, name="lru")
    info = map_get_info(fd)
    assert (info.type, info.key_size, info.value_size, info.max_entries) == (
        MapType.LRU_HASH, 8, 16, 32,
    )  # fmt: skip
    assert info.flags == MapFlag.NO_COMMON_LRU
    assert info.name == "lru"
    assert info.id > 0


def test_create_refused_raises_with_errno() -> None:
    with pytest.raises(OracleError) as exc:
        map_create(MapType.HASH, 0, 8, 1)  # hash keys cannot be empty
    assert exc.value.errno == errno.EINVAL


def test_percpu_values_carry_every_cpu(session: Session) -> None:
    fd = session.map_create(MapType.PERCPU_ARRAY, 4, 4, 1)
    total = syscall_value_size(MapType.PERCPU_ARRAY, 4)
    assert total == 8 * possible_cpus()
    value = b"".join(u32(cpu + 1) + bytes(4) for cpu in range(possible_cpus()))
    assert map_update(fd, u32(0), value, ElemFlag.ANY) == 0
    assert map_lookup(fd, u32(0), total) == (0, value)


def test_lookup_buffer_follows_the_map_not_the_caller(session: Session) -> None:
    """A too-small value size must not let the kernel write past the buffer."""
    fd = session.map_create(MapType.PERCPU_ARRAY, 4, 4, 1)
    err, value = map_lookup(fd, u32(0), 1)
    assert err == 0 and value is not None
    assert len(value) == syscall_value_size(MapType.PERCPU_ARRAY, 4)


def test_freeze_blocks_syscall_writes(session: Session) -> None:
    fd = session.map_create(MapType.ARRAY, 4, 4, 1)
    assert map_update(fd, u32(0), u32(5), ElemFlag.ANY) == 0
    assert map_freeze(fd) == 0
    assert map_update(fd, u32(0), u32(6), ElemFlag.ANY) == errno.EPERM
    assert map_lookup(fd, u32(0), 4) == (0, u32(5))


def test_queue_push_peek_pop(session: Session) -> None:
    fd = session.map_create(MapType.QUEUE, 0, 4, 2)
    assert map_update(fd, None, b"abcd", ElemFlag.ANY) == 0
    assert map_lookup(fd, None, 4) == (0, b"abcd")
    assert map_lookup_and_delete(fd, None, 4) == (0, b"abcd")
    assert map_lookup_and_delete(fd, None, 4) == (errno.ENOENT, None)


def test_batch_update_lookup_delete(session: Session) -> None:
    fd = session.map_create(MapType.HASH, 4, 8, 8)
    keys = [u32(i) for i in range(5)]
    values = [u64(i * 10) for i in range(5)]
    res = map_update_batch(fd, keys, values)
    assert (res.errno, res.count) == (0, 5)

    seen: dict[bytes, bytes] = {}
    token = None
    count = 2
    for _ in range(20):
        page = map_lookup_batch(fd, count, 4, 8, in_batch=token)
        if page.errno == errno.ENOSPC:  # a bucket holds more than `count`: the kernel's
            count *= 2  # hash seed is random, so ask again with room for the bucket
            continue
        seen.update(zip(page.keys, page.values))
        if page.errno == errno.ENOENT:
            break
        assert page.errno == 0
        token = page.out_batch
    assert seen == dict(zip(keys, values))

    res = map_delete_batch(fd, keys[:3])
    assert (res.errno, res.count) == (0, 3)
    assert sorted(k for k, _ in map_items(fd, 4, 8)[1]) == keys[3:]


def test_map_in_map_holds_an_inner_map(session: Session) -> None:
    inner = session.map_create(MapType.ARRAY, 4, 4, 1)
    outer = session.map_create(MapType.ARRAY_OF_MAPS, 4, 4, 2, inner_map_fd=inner)
    assert map_update(outer, u32(0), u32(inner), ElemFlag.ANY) == 0
    err, value = map_lookup(outer, u32(0), 4)  # user space reads back the inner map's id
    assert err == 0 and value == u32(map_get_info(inner).id)


def test_session_closes_its_fds() -> None:
    import os

    with Session() as s:
        fd = s.map_create(MapType.ARRAY, 4, 4, 1)
        os.fstat(fd)
    with pytest.raises(OSError):
        os.fstat(fd)
