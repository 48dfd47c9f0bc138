"""Queue and stack maps."""

from __future__ import annotations

import errno
from typing import Any

import pytest

from pybpf.errors import BpfError
from pybpf.maps import MapSpec, MapType, QueueMap, create_map


def errno_of(fn: Any, *args: Any) -> int:
    try:
        fn(*args)
    except BpfError as exc:
        return exc.errno
    return 0


def qs(t: MapType, n: int = 3) -> QueueMap:
    m = create_map(MapSpec(t, 0, 4, n), 2)
    assert isinstance(m, QueueMap)
    return m


@pytest.mark.parametrize(("spec", "err"), [
    (MapSpec(MapType.QUEUE, 4, 4, 1), errno.EINVAL),
    (MapSpec(MapType.QUEUE, 0, 0, 1), errno.EINVAL),
    (MapSpec(MapType.QUEUE, 0, 4, 0), errno.EINVAL),
    (MapSpec(MapType.STACK, 0, 4, 1, 1), errno.EINVAL),
    (MapSpec(MapType.STACK, 0, (1 << 22) + 1, 1), errno.E2BIG),
])
def test_creation_errors(spec: MapSpec, err: int) -> None:
    with pytest.raises(BpfError) as exc:
        create_map(spec, 2)
    assert exc.value.errno == err


def test_huge_queue_costs_nothing_up_front() -> None:
    m = create_map(MapSpec(MapType.QUEUE, 0, 4, 0xFFFFFFFF), 2)
    m.update(None, 1)
    assert len(m) == 1


@pytest.mark.parametrize(("t", "order"), [(MapType.QUEUE, [1, 2, 3]), (MapType.STACK, [3, 2, 1])])
def test_order(t: MapType, order: list[int]) -> None:
    m = qs(t)
    for v in (1, 2, 3):
        m.push(v)
    assert m.values() == [v.to_bytes(4, "little") for v in order]
    assert m.peek() == order[0].to_bytes(4, "little")
    assert [int.from_bytes(m.pop(), "little") for _ in range(3)] == order
    assert errno_of(m.pop) == errno.ENOENT
    assert errno_of(m.peek) == errno.ENOENT


@pytest.mark.parametrize(("t", "after"), [(MapType.QUEUE, [2, 3, 4]), (MapType.STACK, [4, 3, 2])])
def test_full_and_overwrite_oldest(t: MapType, after: list[int]) -> None:
    m = qs(t)
    for v in (1, 2, 3):
        m.push(v)
    assert errno_of(m.push, 4) == errno.E2BIG
    m.push(4, 2)  # BPF_EXIST drops the oldest value
    assert [int.from_bytes(v, "little") for v in m.values()] == after


def test_flags_and_syscall_rules() -> None:
    m = qs(MapType.QUEUE)
    assert errno_of(m.push, 1, 1) == errno.EINVAL  # BPF_NOEXIST
    assert errno_of(m.push, 1, 3) == errno.EINVAL
    assert errno_of(m.push, 1, 4) == errno.EINVAL  # BPF_F_LOCK
    m.push(7)
    assert errno_of(m.lookup_and_delete, None, 4) == errno.EINVAL
    assert errno_of(m.lookup_and_delete, None, 1) == errno.EINVAL
    assert errno_of(m.lookup, b"\x01\0\0\0") == errno.EINVAL  # key must be NULL
    assert errno_of(m.update, 1, 1) == errno.EINVAL
    assert m.lookup(b"") == (7).to_bytes(4, "little")
    assert errno_of(m.delete, None) == errno.EINVAL
    assert errno_of(m.get_next_key, None) == errno.EINVAL
    assert errno_of(m.lookup_batch, None, 2) == 524
    with pytest.raises(BpfError):
        list(m)


def test_program_side() -> None:
    m = qs(MapType.STACK, 2)
    assert m.bpf_push(b"\x01\0\0\0", 0, 0) == 0
    assert m.bpf_push(b"\x02\0\0\0", 0, 1) == 0
    assert m.bpf_push(b"\x03\0\0\0", 0, 0) == -errno.E2BIG
    assert m.bpf_push(b"\x03\0\0\0", 1, 0) == -errno.EINVAL
    assert m.bpf_push(b"\x03\0\0\0", 2, 0) == 0
    assert m.bpf_peek(0) == b"\x03\0\0\0"
    assert m.bpf_pop(0) == b"\x03\0\0\0"
    assert m.bpf_pop(0) == b"\x02\0\0\0"
    assert m.bpf_pop(0) == -errno.ENOENT
    assert m.bpf_peek(0) == -errno.ENOENT
    assert m.bpf_lookup(b"", 0) == 0
    assert m.bpf_update(b"", b"\0" * 4, 0, 0) == -errno.EINVAL
    assert m.bpf_delete(b"", 0) == -errno.EINVAL


def test_freeze_and_rdonly() -> None:
    m = create_map(MapSpec(MapType.QUEUE, 0, 4, 2, 8), 2)
    assert errno_of(m.update, None, 1) == errno.EPERM
    assert errno_of(m.lookup_and_delete, None) == errno.EPERM
    assert errno_of(m.lookup, None) == errno.ENOENT
    q = qs(MapType.QUEUE)
    q.push(1)
    q.freeze()
    assert errno_of(q.push, 2) == errno.EPERM
    assert errno_of(q.pop) == errno.EPERM
    assert q.peek() == (1).to_bytes(4, "little")
    assert q.bpf_pop(0) == (1).to_bytes(4, "little")
