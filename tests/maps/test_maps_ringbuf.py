"""The BPF ring buffer: records, headers, wrap-around, positions, consumer, mmap."""

from __future__ import annotations

import errno
import struct
from typing import Any

import pytest

from pybpf.errors import BpfError
from pybpf.maps import ENOTSUPP, MapFlag, MapSpec, MapType, RingBufMap, create_map, ringbuf_of
from pybpf.maps.ringbuf import DATA_OFF
from pybpf.memory import MEMORY


def rb(size: int = 4096) -> RingBufMap:
    m = create_map(MapSpec(MapType.RINGBUF, 0, 0, size), 2)
    assert isinstance(m, RingBufMap)
    return m


def errno_of(fn: Any, *args: Any) -> int:
    try:
        fn(*args)
    except BpfError as exc:
        return exc.errno
    return 0


@pytest.mark.parametrize(("spec", "err"), [
    (MapSpec(MapType.RINGBUF, 0, 0, 4096 * 3), errno.EINVAL),
    (MapSpec(MapType.RINGBUF, 0, 0, 2048), errno.EINVAL),
    (MapSpec(MapType.RINGBUF, 0, 0, 0), errno.EINVAL),
    (MapSpec(MapType.RINGBUF, 4, 0, 4096), errno.EINVAL),
    (MapSpec(MapType.RINGBUF, 0, 8, 4096), errno.EINVAL),
    (MapSpec(MapType.RINGBUF, 0, 0, 4096, MapFlag.MMAPABLE), errno.EINVAL),
    (MapSpec(MapType.RINGBUF, 0, 0, 4096, MapFlag.RDONLY), errno.EINVAL),
])
def test_creation_errors(spec: MapSpec, err: int) -> None:
    with pytest.raises(BpfError) as exc:
        create_map(spec, 2)
    assert exc.value.errno == err


def test_record_header_layout() -> None:
    m = rb()
    assert m.output(b"hello") == 0
    hdr_len, pg_off = struct.unpack_from("<II", m.data.buf, DATA_OFF)
    assert (hdr_len, pg_off) == (5, 3)  # three pages precede the data
    assert m.query(3) == 16 and m.query(0) == 16 and m.query(1) == 4096 and m.query(2) == 0
    assert m.query(9) == 0
    assert len(m) == 1
    assert m.consume() == [b"hello"]
    assert m.query(0) == 0 and m.query(2) == 16


def test_reserve_submit_discard() -> None:
    m = rb()
    a = m.reserve(20)
    assert ringbuf_of(a) is m
    hdr = struct.unpack_from("<I", m.data.buf, a - m.data.base - 8)[0]
    assert hdr == 20 | (1 << 31)  # busy while reserved
    MEMORY.write(a, b"x" * 20)
    b = m.reserve(3)
    m.submit(b)
    assert m.consume() == []  # the first record is still busy
    m.submit(a)
    c = m.reserve(1)
    m.discard(c)
    assert m.consume() == [b"x" * 20, bytes(3)]
    assert m.query(0) == 0
    assert m.reserve(4, 1) == 0  # reserve takes no flags
    assert m.reserve(4096) == 0  # larger than the ring
    assert m.output(b"", 4) == -errno.EINVAL
    assert m.reserve_dynptr(8, 1) == (-errno.EINVAL, 0)
    assert m.reserve_dynptr(1 << 24, 0) == (-errno.E2BIG, 0)
    err, addr = m.reserve_dynptr(8, 0)
    assert err == 0 and addr
    m.discard(addr)


def test_full_ring_and_pending_records() -> None:
    m = rb()
    n = 0
    while m.output(bytes(100)) == 0:
        n += 1
    assert n == 4095 // 112
    assert m.output(bytes(100)) == -errno.EAGAIN
    assert len(m.consume(limit=2)) == 2
    assert m.output(bytes(100)) == 0


def test_wrapping_record_is_contiguous() -> None:
    m = rb()
    for _ in range(36):
        assert m.output(bytes(104)) == 0  # 36 * 112 = 4032 bytes
    assert len(m.consume()) == 36
    a = m.reserve(200)  # runs past the end of the data area
    assert a - m.data_base == 4032 + 8
    payload = bytes(range(200))
    MEMORY.write(a, payload)
    m.submit(a)
    assert m.consume() == [payload]
    # the wrapped tail now sits at the start of the data area
    assert bytes(m.data.buf[DATA_OFF : DATA_OFF + 200 - 56]) == payload[56:]


def test_wakeup_accounting() -> None:
    m = rb()
    m.output(b"a")  # consumer caught up: notify
    m.output(b"b")  # consumer behind: no notification
    m.output(b"c", 2)  # forced
    m.output(b"d", 1)
    assert m.wakeups == 2


def test_syscall_side_and_mmap() -> None:
    m = rb()
    for call in (lambda: m.lookup(None), lambda: m.update(None, b""), lambda: m.delete(None),
                 lambda: m.get_next_key(None), lambda: m.lookup_and_delete(None),
                 lambda: m.lookup_batch(None, 1)):
        with pytest.raises(BpfError) as exc:
            call()
        assert exc.value.errno == ENOTSUPP
    assert errno_of(m.mmap, True, 0, 8192) == errno.EPERM
    w = m.mmap(True, 0, 4096)
    assert errno_of(m.freeze) == errno.EBUSY
    m.output(b"zz")
    ro = m.mmap(False, 4096)
    assert len(ro.view) == 4096 + 2 * 4096
    assert struct.unpack_from("<Q", ro.view, 0)[0] == 16  # producer position
    struct.pack_into("<Q", w.view, 0, 16)  # user space consumes by hand
    m.sync_from_mapping()
    assert m.query(0) == 0
    w.close()
    ro.close()
    m.freeze()
    assert errno_of(m.mmap, True, 0, 4096) == errno.EPERM
