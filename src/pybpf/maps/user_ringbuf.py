"""The user ring buffer: user space produces records, programs drain them.

Memory is the ring buffer's (consumer page, producer page, data area seen twice so a
record may run past the end); here the data area has two copies kept equal, which is what
the double mapping shows.  The producer side follows libbpf's ``user_ring_buffer``:
:meth:`reserve` a sample (E2BIG if it can never fit, ENOSPC if it does not fit now),
fill it, :meth:`submit` or :meth:`discard` it.  The program side is
``bpf_user_ringbuf_drain``: :meth:`drain` hands each committed sample to a callback in
order, skipping discarded ones, and stops at a busy one, at a callback's non-zero return,
or with an error for a malformed header (the producer is untrusted).
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import Any

from ..errors import BpfError
from ..memory import RegionKind
from .base import Map
from .ringbuf import CONSUMER_OFF, DATA_OFF, DYNPTR_MAX_SIZE, PRODUCER_OFF, RingBufMap
from .types import (
    ENOTSUPP,
    PAGE_SIZE,
    RINGBUF_BUSY_BIT,
    RINGBUF_DISCARD_BIT,
    RINGBUF_HDR_SZ,
    MapSpec,
    RingbufFlag,
    round_up,
)

MAX_USER_RINGBUF_SAMPLES = 128 * 1024
_HDR = struct.Struct("<II")
_U64 = struct.Struct("<Q")


class UserSample:
    """A reserved record: write its bytes, then submit or discard it."""

    def __init__(self, ring: UserRingBufMap, pos: int, size: int) -> None:
        self.ring = ring
        self.pos = pos
        self.size = size
        self.done = False

    def write(self, data: bytes, offset: int = 0) -> None:
        if offset < 0 or offset + len(data) > self.size:
            raise BpfError(errno.EINVAL, "write outside the reserved sample")
        self.ring._put(self.pos + RINGBUF_HDR_SZ + offset, bytes(data))

    def submit(self) -> None:
        self.ring.submit(self)

    def discard(self) -> None:
        self.ring.discard(self)


class UserRingBufMap(Map):
    """``BPF_MAP_TYPE_USER_RINGBUF``."""

    MMAP_OK = True

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        RingBufMap.validate(spec, num_cpus)

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self.size = spec.max_entries
        self.mask = self.size - 1
        self.data = self._allocate(DATA_OFF + 2 * self.size, RegionKind.RINGBUF, "user_ringbuf")
        self.busy = False
        self.wakeups = 0

    # ------------------------------------------------------------- positions ---

    @property
    def consumer_pos(self) -> int:
        return int(_U64.unpack_from(self.data.buf, CONSUMER_OFF)[0])

    @consumer_pos.setter
    def consumer_pos(self, v: int) -> None:
        _U64.pack_into(self.data.buf, CONSUMER_OFF, v & ((1 << 64) - 1))

    @property
    def producer_pos(self) -> int:
        return int(_U64.unpack_from(self.data.buf, PRODUCER_OFF)[0])

    @producer_pos.setter
    def producer_pos(self, v: int) -> None:
        _U64.pack_into(self.data.buf, PRODUCER_OFF, v & ((1 << 64) - 1))

    def _put(self, pos: int, data: bytes) -> None:
        """Write at ring position ``pos`` into both copies of the data area."""
        buf = self.data.buf
        off = pos & self.mask
        first = min(len(data), self.size - off)
        for base in (DATA_OFF, DATA_OFF + self.size):
            buf[base + off : base + off + first] = data[:first]
            if first < len(data):
                buf[base : base + len(data) - first] = data[first:]

    def _header(self, pos: int) -> int:
        return int(_HDR.unpack_from(self.data.buf, DATA_OFF + (pos & self.mask))[0])

    # ------------------------------------------------------------ user space ---

    def reserve(self, size: int) -> UserSample:
        """Reserve ``size`` bytes for a record (libbpf's ``user_ring_buffer__reserve``)."""
        if size < 0 or size > 0xFFFFFFFF:
            raise BpfError(errno.E2BIG, "sample size out of range")
        total = round_up(size + RINGBUF_HDR_SZ, 8)
        if total > self.size:
            raise BpfError(errno.E2BIG, f"a {size}-byte sample never fits a {self.size}-byte "
                           "ring")
        prod = self.producer_pos
        if self.size - (prod - self.consumer_pos) < total:
            raise BpfError(errno.ENOSPC, "the ring is full")
        self._put(prod, _HDR.pack((size | RINGBUF_BUSY_BIT) & 0xFFFFFFFF, 0))
        self.producer_pos = prod + total
        return UserSample(self, prod, size)

    def _commit(self, sample: UserSample, discard: bool) -> None:
        if sample.ring is not self or sample.done:
            raise BpfError(errno.EINVAL, "not a pending sample of this ring")
        sample.done = True
        length = sample.size | (RINGBUF_DISCARD_BIT if discard else 0)
        self._put(sample.pos, _HDR.pack(length, 0))

    def submit(self, sample: UserSample) -> None:
        self._commit(sample, discard=False)

    def discard(self, sample: UserSample) -> None:
        self._commit(sample, discard=True)

    def produce(self, data: bytes) -> None:
        """Reserve, fill and submit one record."""
        sample = self.reserve(len(data))
        sample.write(data)
        sample.submit()

    # ----------------------------------------------------------- program side ---

    def peek(self) -> tuple[int, int] | int:
        """The next sample for the kernel: (address, size), or a negative errno
        (-ENODATA nothing ready, -EAGAIN a discarded sample was skipped, -EINVAL/-E2BIG a
        malformed producer)."""
        prod = self.producer_pos
        if prod % 8:
            return -errno.EINVAL
        cons = self.consumer_pos
        if cons >= prod:
            return -errno.ENODATA
        hdr_len = self._header(cons)
        flags = hdr_len & (RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT)
        size = hdr_len & ~flags
        total = round_up(size + RINGBUF_HDR_SZ, 8)
        if total > prod - cons:
            return -errno.EINVAL
        if total > self.size:
            return -errno.E2BIG
        if size > DYNPTR_MAX_SIZE:
            return -errno.E2BIG
        if flags & RINGBUF_DISCARD_BIT:
            self.consumer_pos = cons + total
            return -errno.EAGAIN
        if flags & RINGBUF_BUSY_BIT:
            return -errno.ENODATA
        return self.data.base + DATA_OFF + ((cons + RINGBUF_HDR_SZ) & self.mask), size

    def release(self, size: int) -> None:
        """Consume the sample just handed out."""
        self.consumer_pos = self.consumer_pos + round_up(size + RINGBUF_HDR_SZ, 8)

    def drain(self, callback: Callable[[int, int], int], flags: int = 0) -> int:
        """``bpf_user_ringbuf_drain``: call ``callback(address, size)`` per sample until
        it returns non-zero or nothing is ready; returns the samples drained or a
        negative errno."""
        if flags & ~int(RingbufFlag.NO_WAKEUP | RingbufFlag.FORCE_WAKEUP):
            return -errno.EINVAL
        if self.busy:
            return -errno.EBUSY
        self.busy = True
        samples = discarded = 0
        ret = 0
        try:
            while samples < MAX_USER_RINGBUF_SAMPLES and ret == 0:
                got = self.peek()
                if isinstance(got, int):
                    if got == -errno.ENODATA:
                        break
                    if got == -errno.EAGAIN:
                        discarded += 1
                        samples += 1
                        continue
                    return got
                addr, size = got
                ret = callback(addr, size)
                self.release(size)
                samples += 1
            drained = samples - discarded
        finally:
            self.busy = False
        if flags & RingbufFlag.FORCE_WAKEUP or (not flags & RingbufFlag.NO_WAKEUP and samples):
            self.wakeups += 1
        return drained

    def consume(self) -> list[bytes]:
        """Drain every ready sample into a list (for tests and Python users)."""
        out: list[bytes] = []

        def take(addr: int, size: int) -> int:
            off = addr - self.data.base
            out.append(bytes(self.data.buf[off : off + size]))
            return 0

        self.drain(take)
        return out

    # ----------------------------------------------------------- syscall side ---

    def _sys_lookup(self, key: bytes) -> bytes:
        raise BpfError(ENOTSUPP, "ring buffers have no elements")

    def _sys_value(self, value: Any) -> Any:
        return b""

    def _mmap_view(self, writable: bool, offset: int, length: int | None) -> memoryview:
        """Page 0 (consumer position) is read-only for user space; the producer page and
        the data pages may be mapped writable."""
        total = 2 * PAGE_SIZE + 2 * self.size
        if length is None:
            length = total - offset
        if writable and offset == 0:
            raise BpfError(errno.EPERM, "the consumer position page cannot be mapped writable")
        if length <= 0 or offset + length > total:
            raise BpfError(errno.EINVAL, "mapping extends past the ring buffer")
        view = memoryview(self.data.buf)[CONSUMER_OFF + offset : CONSUMER_OFF + offset + length]
        return view if writable else view.toreadonly()

    def __iter__(self) -> Any:
        raise BpfError(ENOTSUPP, "ring buffers have no keys; use consume()")

    def __len__(self) -> int:
        return (self.producer_pos - self.consumer_pos) & ((1 << 64) - 1)
