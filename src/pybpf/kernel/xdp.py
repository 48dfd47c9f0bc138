"""An XDP buffer as ``BPF_PROG_TEST_RUN`` builds it, and the ``xdp_md`` a program sees.

One 4096-byte frame: 256 bytes of headroom, the packet, and 320 bytes kept for the shared
info at the end, so at most 3520 bytes are linear; the rest of a larger packet goes into
page-sized fragments (at most 17).  ``data_meta`` starts equal to ``data``, or, when a
context asks for metadata, that many bytes before it (taken from the headroom).
"""

from __future__ import annotations

import errno
import struct

from ..memory import MEMORY, Region, RegionKind
from .context import XDP_MD

FRAME_SIZE = 4096
HEADROOM = 256
SHARED_INFO = 320
MAX_LINEAR = FRAME_SIZE - HEADROOM - SHARED_INFO  # 3520
MAX_FRAGS = 17
FRAG_SIZE = 4096
XDP_FRAME_SIZE = 40  # struct xdp_frame kept at the top of the headroom
ETH_HLEN = 14

_U32 = struct.Struct("<I")


class XdpBuff:
    """The packet of one XDP test run: a linear part in a region plus fragments."""

    def __init__(self, packet: bytes, meta_len: int = 0, linear_len: int | None = None,
                 ingress_ifindex: int = 1, rx_queue_index: int = 0) -> None:  # fmt: skip
        if linear_len is None:
            linear_len = min(len(packet), MAX_LINEAR + meta_len)
        self.region = Region(FRAME_SIZE, RegionKind.PACKET, "xdp frame")
        MEMORY.add(self.region)
        start = HEADROOM - meta_len  # metadata comes out of the headroom: data stays at 256
        self.region.buf[start : start + linear_len] = packet[:linear_len]
        self.meta_off = start
        self.data_off = start + meta_len
        self.end_off = start + linear_len
        rest = packet[linear_len:]
        self.frags: list[bytearray] = [
            bytearray(rest[i : i + FRAG_SIZE]) for i in range(0, len(rest), FRAG_SIZE)
        ]
        self.ingress_ifindex = ingress_ifindex
        self.rx_queue_index = rx_queue_index
        self.ctx = self._make_ctx()

    @property
    def data(self) -> int:
        return self.region.base + self.data_off

    @property
    def data_end(self) -> int:
        return self.region.base + self.end_off

    @property
    def data_meta(self) -> int:
        return self.region.base + self.meta_off

    @property
    def frags_len(self) -> int:
        return sum(len(f) for f in self.frags)

    @property
    def buff_len(self) -> int:
        """What ``bpf_xdp_get_buff_len`` returns: linear data plus fragments."""
        return self.end_off - self.data_off + self.frags_len

    def output(self) -> bytes:
        """``data_out``: metadata, linear data, then every fragment."""
        return bytes(self.region.buf[self.meta_off : self.end_off]) + b"".join(self.frags)

    def _make_ctx(self) -> Region:
        ctx = Region(XDP_MD.size, RegionKind.CTX, "xdp_md", owner=self)
        ctx.add_field(XDP_MD.offset("data"), 4, lambda: self.data)
        ctx.add_field(XDP_MD.offset("data_end"), 4, lambda: self.data_end)
        ctx.add_field(XDP_MD.offset("data_meta"), 4, lambda: self.data_meta)
        _U32.pack_into(ctx.buf, XDP_MD.offset("ingress_ifindex"), self.ingress_ifindex)
        _U32.pack_into(ctx.buf, XDP_MD.offset("rx_queue_index"), self.rx_queue_index)
        MEMORY.add(ctx)
        return ctx

    def close(self) -> None:
        MEMORY.remove(self.region)
        MEMORY.remove(self.ctx)

    # --- helpers -------------------------------------------------------------------
    def adjust_head(self, delta: int) -> bool:
        meta_len = self.data_off - self.meta_off
        new_data = self.data_off + delta
        if new_data < XDP_FRAME_SIZE + meta_len or new_data > self.end_off - ETH_HLEN:
            return False
        if meta_len:
            buf = self.region.buf
            buf[self.meta_off + delta : self.meta_off + delta + meta_len] = buf[
                self.meta_off : self.data_off
            ]
        self.meta_off += delta
        self.data_off = new_data
        return True

    def adjust_meta(self, delta: int) -> int:
        """0, or the errno ``bpf_xdp_adjust_meta`` fails with: EINVAL when the new start
        leaves the headroom or passes ``data``, EACCES for a length an skb's metadata
        cannot have (not a multiple of 4, or over 255)."""
        new_meta = self.meta_off + delta
        if new_meta > self.data_off or new_meta < XDP_FRAME_SIZE:
            return errno.EINVAL
        metalen = self.data_off - new_meta
        if metalen % 4 or metalen > 255:
            return errno.EACCES
        self.meta_off = new_meta
        return 0

    def adjust_tail(self, delta: int) -> bool:
        if self.frags:
            return self._adjust_tail_frags(delta)
        new_end = self.end_off + delta
        if new_end > FRAME_SIZE - SHARED_INFO or new_end < self.data_off + ETH_HLEN:
            return False
        if delta > 0:
            self.region.buf[self.end_off : new_end] = bytes(delta)
        self.end_off = new_end
        return True

    def _adjust_tail_frags(self, delta: int) -> bool:
        if delta > 0:
            last = self.frags[-1]
            if len(last) + delta > FRAG_SIZE:
                return False
            last.extend(bytes(delta))
            return True
        shrink = -delta
        if self.buff_len - shrink < ETH_HLEN:
            return False
        while shrink and self.frags:
            last = self.frags[-1]
            cut = min(shrink, len(last))
            del last[len(last) - cut :]
            shrink -= cut
            if not last:
                self.frags.pop()
        self.end_off -= shrink
        return True
