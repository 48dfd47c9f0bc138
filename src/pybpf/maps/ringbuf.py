"""The BPF ring buffer: programs reserve and commit variable-size records, user space
consumes them in order.

Memory is laid out as the kernel lays out ``struct bpf_ringbuf``: one page of internals,
the consumer-position page, the producer-position page, then the data area.  The kernel
maps the data pages twice in a row so a record running past the end stays contiguous;
here the region carries a second copy of the data area, which a wrapping record's tail is
written into and copied back from when the record is committed.

Each record starts with the kernel's 8-byte header: ``len`` (bit 31 busy, bit 30
discarded) and ``pg_off``, the page distance from the start of the ring buffer to the
header, which is how ``bpf_ringbuf_submit`` finds its ring from a bare sample pointer.
"""

from __future__ import annotations

import errno
import struct
from typing import Any

from ..errors import BpfError
from ..memory import MEMORY, RegionKind
from .base import Map, MapMapping
from .types import (
    ENOTSUPP,
    PAGE_SIZE,
    RINGBUF_BUSY_BIT,
    RINGBUF_DISCARD_BIT,
    RINGBUF_HDR_SZ,
    MapFlag,
    MapSpec,
    RingbufFlag,
    RingbufQuery,
    round_up,
)

_HDR = struct.Struct("<II")
_U64 = struct.Struct("<Q")
RINGBUF_PGOFF = 1  # pages before the consumer position
CONSUMER_OFF = RINGBUF_PGOFF * PAGE_SIZE
PRODUCER_OFF = CONSUMER_OFF + PAGE_SIZE
DATA_OFF = PRODUCER_OFF + PAGE_SIZE
RINGBUF_MAX_RECORD_SZ = 0xFFFFFFFF // 4
DYNPTR_MAX_SIZE = (1 << 24) - 1
M64 = (1 << 64) - 1


class RingBufMap(Map):
    """``BPF_MAP_TYPE_RINGBUF``."""

    MMAP_OK = True

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        size = spec.max_entries
        if spec.flags & ~int(MapFlag.NUMA_NODE):
            raise BpfError(errno.EINVAL, f"flags 0x{spec.flags:x} are not valid for a ring buffer")
        if spec.key_size or spec.value_size or size == 0 or size & (size - 1) or size % PAGE_SIZE:
            raise BpfError(
                errno.EINVAL,
                "a ring buffer has no key or value and a power-of-two, page-multiple size",
            )

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self.size = spec.max_entries
        self.mask = self.size - 1
        self.data = self._allocate(DATA_OFF + 2 * self.size, RegionKind.RINGBUF, "ringbuf")
        self.consumer_pos = 0
        self.producer_pos = 0
        self.pending_pos = 0
        self.wakeups = 0  # notifications a consumer would have received

    # -------------------------------------------------------------- helpers ---

    @property
    def data_base(self) -> int:
        """Address of the first data byte."""
        return self.data.base + DATA_OFF

    def _sync_positions(self) -> None:
        _U64.pack_into(self.data.buf, CONSUMER_OFF, self.consumer_pos & M64)
        _U64.pack_into(self.data.buf, PRODUCER_OFF, self.producer_pos & M64)

    def _hdr(self, pos: int) -> tuple[int, int]:
        hdr_len, pg_off = _HDR.unpack_from(self.data.buf, DATA_OFF + (pos & self.mask))
        return hdr_len, pg_off

    @staticmethod
    def _rec_len(hdr_len: int) -> int:
        return round_up((hdr_len & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT)) + RINGBUF_HDR_SZ, 8)

    # ----------------------------------------------------------- program side ---

    def _reserve(self, size: int) -> int:
        if size > RINGBUF_MAX_RECORD_SZ or size < 0:
            return 0
        length = round_up(size + RINGBUF_HDR_SZ, 8)
        if length > self.size:
            return 0
        pend = self.pending_pos
        prod = self.producer_pos
        while prod - pend > 0:
            hdr_len, _ = self._hdr(pend)
            if hdr_len & RINGBUF_BUSY_BIT:
                break
            pend += self._rec_len(hdr_len)
        self.pending_pos = pend
        new_prod = prod + length
        if new_prod - self.consumer_pos > self.mask or new_prod - pend > self.mask:
            return 0
        off = prod & self.mask
        pg_off = (DATA_OFF + off) // PAGE_SIZE
        _HDR.pack_into(self.data.buf, DATA_OFF + off, (size | RINGBUF_BUSY_BIT) & 0xFFFFFFFF, pg_off)
        # A record running past the end continues in the second copy: show it the bytes
        # the double mapping would show.
        overflow = off + length - self.size
        if overflow > 0:
            buf = self.data.buf
            buf[DATA_OFF + self.size : DATA_OFF + self.size + overflow] = buf[
                DATA_OFF : DATA_OFF + overflow
            ]
        self.producer_pos = new_prod
        self._sync_positions()
        return self.data_base + off + RINGBUF_HDR_SZ

    def reserve(self, size: int, flags: int = 0) -> int:
        """``bpf_ringbuf_reserve``: address of ``size`` writable bytes, or 0."""
        if flags:
            return 0
        return self._reserve(size)

    def reserve_dynptr(self, size: int, flags: int = 0) -> tuple[int, int]:
        """``bpf_ringbuf_reserve_dynptr``: (0 or negative errno, sample address or 0)."""
        if flags:
            return -errno.EINVAL, 0
        if size > DYNPTR_MAX_SIZE:
            return -errno.E2BIG, 0
        addr = self._reserve(size)
        if not addr:
            return -errno.EINVAL, 0
        return 0, addr

    def commit(self, sample: int, flags: int = 0, discard: bool = False) -> None:
        """``bpf_ringbuf_submit`` / ``bpf_ringbuf_discard`` of a reserved sample."""
        hdr_at = sample - RINGBUF_HDR_SZ - self.data_base
        if not 0 <= hdr_at < self.size or hdr_at % 8:
            raise BpfError(errno.EINVAL, f"0x{sample:x} is not a sample of this ring buffer")
        hdr_len, pg_off = _HDR.unpack_from(self.data.buf, DATA_OFF + hdr_at)
        size = hdr_len & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT)
        end = hdr_at + RINGBUF_HDR_SZ + size
        if end > self.size:  # copy the wrapped tail back to the start
            buf = self.data.buf
            n = end - self.size
            buf[DATA_OFF : DATA_OFF + n] = buf[DATA_OFF + self.size : DATA_OFF + self.size + n]
        new_len = hdr_len ^ RINGBUF_BUSY_BIT
        if discard:
            new_len |= RINGBUF_DISCARD_BIT
        _HDR.pack_into(self.data.buf, DATA_OFF + hdr_at, new_len & 0xFFFFFFFF, pg_off)
        if flags & RingbufFlag.FORCE_WAKEUP or (
            (self.consumer_pos & self.mask) == hdr_at and not flags & RingbufFlag.NO_WAKEUP
        ):
            self.wakeups += 1

    def submit(self, sample: int, flags: int = 0) -> None:
        self.commit(sample, flags, discard=False)

    def discard(self, sample: int, flags: int = 0) -> None:
        self.commit(sample, flags, discard=True)

    def output(self, data: bytes, flags: int = 0) -> int:
        """``bpf_ringbuf_output``: 0, -EINVAL for bad flags, -EAGAIN when full."""
        if flags & ~int(RingbufFlag.NO_WAKEUP | RingbufFlag.FORCE_WAKEUP):
            return -errno.EINVAL
        addr = self._reserve(len(data))
        if not addr:
            return -errno.EAGAIN
        off = addr - self.data.base
        self.data.buf[off : off + len(data)] = bytes(data)
        self.commit(addr, flags)
        return 0

    def query(self, flags: int) -> int:
        """``bpf_ringbuf_query``."""
        if flags == RingbufQuery.AVAIL_DATA:
            return (self.producer_pos - self.consumer_pos) & M64
        if flags == RingbufQuery.RING_SIZE:
            return self.size
        if flags == RingbufQuery.CONS_POS:
            return self.consumer_pos & M64
        if flags == RingbufQuery.PROD_POS:
            return self.producer_pos & M64
        return 0

    # ------------------------------------------------------------ user space ---

    def consume(self, limit: int | None = None) -> list[bytes]:
        """Read committed records in order, like libbpf's ``ring_buffer__consume``.

        Stops at the first record still being written; discarded records are skipped
        (and consumed).  Returns the samples' bytes.
        """
        out: list[bytes] = []
        cons = self.consumer_pos
        while cons < self.producer_pos:
            hdr_len, _ = self._hdr(cons)
            if hdr_len & RINGBUF_BUSY_BIT:
                break
            start = cons & self.mask
            size = hdr_len & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT)
            cons += self._rec_len(hdr_len)
            if not hdr_len & RINGBUF_DISCARD_BIT:
                out.append(self._read_wrapped(start + RINGBUF_HDR_SZ, size))
            self.consumer_pos = cons
            self._sync_positions()
            if limit is not None and len(out) >= limit:
                break
        return out

    def _read_wrapped(self, off: int, size: int) -> bytes:
        buf = self.data.buf
        off &= self.mask
        first = min(size, self.size - off)
        data = bytes(buf[DATA_OFF + off : DATA_OFF + off + first])
        if first < size:
            data += bytes(buf[DATA_OFF : DATA_OFF + size - first])
        return data

    @property
    def avail_data(self) -> int:
        return self.producer_pos - self.consumer_pos

    def __len__(self) -> int:
        """Records ready for ``consume`` (committed, not discarded)."""
        n = 0
        cons = self.consumer_pos
        while cons < self.producer_pos:
            hdr_len, _ = self._hdr(cons)
            if hdr_len & RINGBUF_BUSY_BIT:
                break
            if not hdr_len & RINGBUF_DISCARD_BIT:
                n += 1
            cons += self._rec_len(hdr_len)
        return n

    def __iter__(self) -> Any:
        raise BpfError(ENOTSUPP, "ring buffers have no keys; use consume()")

    # ----------------------------------------------------------- syscall side ---

    def _sys_lookup(self, key: bytes) -> bytes:
        raise BpfError(ENOTSUPP, "ring buffers have no elements")

    def _sys_value(self, value: Any) -> Any:
        return b""

    def _mmap_view(self, writable: bool, offset: int, length: int | None) -> memoryview:
        """Offsets as the kernel's ring buffer mmap: page 0 consumer position, page 1
        producer position, then the data pages (twice)."""
        total = 2 * PAGE_SIZE + 2 * self.size
        if length is None:
            length = (PAGE_SIZE if writable else total) - offset
        if writable and (offset != 0 or length != PAGE_SIZE):
            raise BpfError(errno.EPERM, "only the consumer position page can be mapped writable")
        if length <= 0 or offset + length > total:
            raise BpfError(errno.EINVAL, "mapping extends past the ring buffer")
        view = memoryview(self.data.buf)[CONSUMER_OFF + offset : CONSUMER_OFF + offset + length]
        return view if writable else view.toreadonly()

    def mmap(self, writable: bool = False, offset: int = 0, length: int | None = None) -> MapMapping:
        """Map the ring buffer.  Writes to the consumer page are picked up by ``consume``
        through ``sync_from_mapping``."""
        return super().mmap(writable, offset, length)

    def sync_from_mapping(self) -> None:
        """Adopt a consumer position that user space wrote through a mapping."""
        self.consumer_pos = _U64.unpack_from(self.data.buf, CONSUMER_OFF)[0]


def ringbuf_of(address: int) -> RingBufMap | None:
    """The ring buffer whose memory holds ``address`` (e.g. a reserved sample)."""
    region = MEMORY.find(address, 1)
    if region is None or region.kind is not RegionKind.RINGBUF:
        return None
    owner = region.owner
    return owner if isinstance(owner, RingBufMap) else None
