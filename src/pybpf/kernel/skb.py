"""A socket buffer as ``BPF_PROG_TEST_RUN`` builds it, and the ``__sk_buff`` a program sees.

The packet lives in one 4096-byte region (64 bytes of headroom, as NET_SKB_PAD gives on
x86) so that packet pointers are plain addresses into it.  The context is a 192-byte
region laid out as ``struct __sk_buff``: fields the program may write (mark, priority,
cb, tstamp, ...) are its bytes, and the fields the kernel computes (len, data, data_end,
data_meta, sk, and the narrow-read quirks of 16-bit kernel fields) are hooks, so a
4-byte load of ``data`` yields the full 64-bit pointer as the kernel's context
conversion does.  ``docs/kernel/test-run.md`` has the measured rules followed here.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass
from typing import Any

from ..memory import MEMORY, FieldSetter, Region, RegionKind
from .context import BPF_SOCK, SK_BUFF

BUFFER_SIZE = 4096
HEADROOM = 64
SHARED_INFO = 320
MAX_LINEAR = BUFFER_SIZE - HEADROOM - SHARED_INFO  # 3712
NET_SKB_PAD = 64  # the head room skb_cow always leaves
MAX_ALLOC = 4 * 4096 - SHARED_INFO  # the longest skb bpf_skb_change_head may make
ETH_HLEN = 14
SKF_NET_OFF = -0x100000
SKF_LL_OFF = -0x200000
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_802_3 = 0x0001
ETH_P_802_2 = 0x0004

PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST = 0, 1, 2, 3

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


@dataclass(frozen=True)
class NetDevice:
    ifindex: int
    name: str
    mac: bytes
    broadcast: bytes


LOOPBACK = NetDevice(1, "lo", bytes(6), bytes(6))


def eth_type_trans(frame: bytes, dev: NetDevice) -> tuple[int, int]:
    """(protocol as a host number, pkt_type) the way the kernel classifies a frame."""
    dst = frame[0:6]
    if dst[0] & 1:
        pkt_type = PACKET_BROADCAST if dst == dev.broadcast else PACKET_MULTICAST
    elif dst == dev.mac:
        pkt_type = PACKET_HOST
    else:
        pkt_type = PACKET_OTHERHOST
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype >= 0x0600:
        return ethertype, pkt_type
    if frame[14:16] == b"\xff\xff":
        return ETH_P_802_3, pkt_type
    return ETH_P_802_2, pkt_type


def csum_add(a: int, b: int) -> int:
    s = a + b
    return (s & 0xFFFFFFFF) + (s >> 32)


def csum_partial(data: bytes, seed: int = 0) -> int:
    """The ones'-complement sum the kernel keeps in ``skb->csum`` (32-bit, folded lazily)."""
    if len(data) % 2:
        data += b"\0"
    total = seed + sum(int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2))
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


def csum_fold(c: int) -> int:
    while c >> 16:
        c = (c & 0xFFFF) + (c >> 16)
    return c


class SkBuff:
    """The packet and its metadata for one skb test run."""

    def __init__(self, frame: bytes, dev: NetDevice = LOOPBACK) -> None:
        self.region = Region(BUFFER_SIZE, RegionKind.PACKET, "skb data")
        MEMORY.add(self.region)
        self.region.buf[HEADROOM : HEADROOM + len(frame)] = frame
        self.mac_header = HEADROOM
        self.network_header = HEADROOM + ETH_HLEN
        self.data_off = HEADROOM
        self.len = len(frame)
        self.dev = dev
        protocol, pkt_type = eth_type_trans(frame, dev)
        self.protocol = protocol  # host order; programs read it byte-swapped
        self.pkt_type = pkt_type
        self.csum: int | None = None
        self.storage_maps: list[Any] = []  # socket storage maps holding the dummy socket's
        self.ctx = self._make_ctx()
        self.sock = self._make_sock(frame, protocol)
        self.sync_ctx()

    # --- geometry ------------------------------------------------------------------
    @property
    def data(self) -> int:
        return self.region.base + self.data_off

    @property
    def data_end(self) -> int:
        return self.data + self.len

    def pull(self, n: int) -> None:
        self.data_off += n
        self.len -= n
        self.sync_ctx()

    def push(self, n: int) -> None:
        self.data_off -= n
        self.len += n
        self.sync_ctx()

    def linear(self) -> bytes:
        return bytes(self.region.buf[self.data_off : self.data_off + self.len])

    @property
    def headroom(self) -> int:
        return self.data_off

    def expand_head(self, extra: int) -> None:
        """Move the packet into a buffer ``extra`` bytes larger at the front (what
        pskb_expand_head does when a helper needs more head room)."""
        old = self.region
        self.region = Region(old.size + extra, RegionKind.PACKET, "skb data")
        self.region.buf[extra:] = old.buf
        MEMORY.remove(old)
        MEMORY.add(self.region)
        self.data_off += extra
        self.mac_header += extra
        self.network_header += extra

    def change_head(self, head_room: int, flags: int) -> int:
        """``bpf_skb_change_head``: ``head_room`` zeroed bytes in front of the packet,
        which become its MAC header.  0 or an errno."""
        new_len = self.len + head_room
        if flags or new_len > MAX_ALLOC or new_len > 0xFFFFFFFF:
            return errno.EINVAL
        need = max(head_room, NET_SKB_PAD)
        if need > self.headroom:
            delta = need - self.headroom
            self.expand_head((delta + NET_SKB_PAD - 1) // NET_SKB_PAD * NET_SKB_PAD)
        self.push(head_room)
        self.region.buf[self.data_off : self.data_off + head_room] = bytes(head_room)
        self.mac_header = self.data_off
        return 0

    def close(self) -> None:
        for m in self.storage_maps:
            m.forget(self.sock)
        MEMORY.remove(self.region)
        MEMORY.remove(self.ctx)
        MEMORY.remove(self.sock)

    # --- the __sk_buff context -----------------------------------------------------
    def _make_ctx(self) -> Region:
        ctx = Region(SK_BUFF.size, RegionKind.CTX, "__sk_buff", owner=self)
        off = SK_BUFF.offset
        ctx.add_field(off("len"), 4, lambda: self.len)
        ctx.add_field(off("data"), 4, lambda: self.data)
        ctx.add_field(off("data_end"), 4, lambda: self.data_end)
        ctx.add_field(off("data_meta"), 4, lambda: self.data)
        ctx.add_field(off("sk"), 8, lambda: self.sock.base)
        ctx.add_field(off("protocol"), 4, lambda: self._protocol_raw())
        ctx.add_field(off("ifindex"), 4, lambda: self.dev.ifindex)
        # pkt_type is a 3-bit kernel field: every narrow read gives the whole value
        for o in range(4):
            ctx.add_field(off("pkt_type") + o, 1, lambda: self.pkt_type)
        for o in (0, 2):
            ctx.add_field(off("pkt_type") + o, 2, lambda: self.pkt_type)
        ctx.add_field(off("pkt_type"), 4, lambda: self.pkt_type)
        # 16-bit kernel fields: a 2-byte read of the upper half returns the whole value
        for name in ("queue_mapping", "protocol", "vlan_tci", "vlan_proto", "tc_index",
                     "tc_classid", "gso_segs", "gso_size"):  # fmt: skip
            self._narrow16(ctx, off(name))
        for name in ("tc_index", "tc_classid"):
            ctx.add_field(off(name), 4, None, self._store16(ctx, off(name)))
        ctx.add_field(off("queue_mapping"), 4, None, self._store_queue_mapping(ctx, off("queue_mapping")))
        MEMORY.add(ctx)
        return ctx

    @staticmethod
    def _store16(ctx: Region, o: int) -> FieldSetter:
        """Writes keep only the 16 bits the kernel field has."""

        def store(value: int) -> None:
            _U32.pack_into(ctx.buf, o, value & 0xFFFF)

        return store

    @staticmethod
    def _store_queue_mapping(ctx: Region, o: int) -> FieldSetter:
        """The kernel ignores queue_mapping writes of 0xffff and more, comparing a
        register's whole 64 bits but an immediate as a signed 32-bit number (so a
        negative immediate is stored, truncated to the 16-bit field)."""

        def store(value: int) -> None:
            if value < 0xFFFF:
                _U32.pack_into(ctx.buf, o, value & 0xFFFF)

        return store

    def _narrow16(self, ctx: Region, o: int) -> None:
        name = SK_BUFF.at(o)
        assert name is not None
        if name.name == "protocol":
            ctx.add_field(o + 2, 2, lambda: self._protocol_raw())
            ctx.add_field(o, 2, lambda: self._protocol_raw())
            ctx.add_field(o, 1, lambda: self._protocol_raw() & 0xFF)
            ctx.add_field(o + 1, 1, lambda: self._protocol_raw() >> 8)
        else:
            ctx.add_field(o + 2, 2, lambda: _U16.unpack_from(ctx.buf, o)[0])

    def _protocol_raw(self) -> int:
        return int.from_bytes(self.protocol.to_bytes(2, "big"), "little")

    def sync_ctx(self) -> None:
        """Refresh the context bytes behind computed fields, for narrow reads of them."""
        buf = self.ctx.buf
        _U32.pack_into(buf, SK_BUFF.offset("len"), self.len)
        _U32.pack_into(buf, SK_BUFF.offset("pkt_type"), self.pkt_type)
        _U32.pack_into(buf, SK_BUFF.offset("protocol"), self._protocol_raw())
        _U32.pack_into(buf, SK_BUFF.offset("ifindex"), self.dev.ifindex)

    def ctx_value(self, name: str) -> int:
        """The value a full-width read of field ``name`` gives."""
        f = SK_BUFF.field(name)
        hook = (self.ctx.fields or {}).get((f.offset, f.size))
        if hook is not None and hook[0] is not None:
            return hook[0]()
        fmt = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}[f.size] if f.size <= 8 else None
        if fmt is None:
            return int.from_bytes(self.ctx.buf[f.offset : f.end], "little")
        return int(struct.unpack_from(fmt, self.ctx.buf, f.offset)[0])

    def set_ctx(self, name: str, value: int) -> None:
        f = SK_BUFF.field(name)
        self.ctx.buf[f.offset : f.end] = (value & ((1 << (8 * f.size)) - 1)).to_bytes(f.size, "little")

    # --- the socket test runs attach -------------------------------------------------
    def _make_sock(self, frame: bytes, protocol: int) -> Region:
        sock = Region(BPF_SOCK.size, RegionKind.KERNEL, "bpf_sock", owner=self)
        off = BPF_SOCK.offset
        _U32.pack_into(sock.buf, off("state"), 7)  # TCP_CLOSE
        _U32.pack_into(sock.buf, off("rx_queue_mapping"), 0xFFFFFFFF)
        # "no queue" is returned as a 64-bit -1 by the kernel's field conversion
        sock.add_field(off("rx_queue_mapping"), 4, lambda: (1 << 64) - 1)
        l3 = frame[ETH_HLEN:]
        if protocol == ETH_P_IP and len(l3) >= 20:
            _U32.pack_into(sock.buf, off("family"), 2)
            sock.buf[off("src_ip4") : off("src_ip4") + 4] = l3[12:16]
            sock.buf[off("dst_ip4") : off("dst_ip4") + 4] = l3[16:20]
        elif protocol == ETH_P_IPV6 and len(l3) >= 40:
            _U32.pack_into(sock.buf, off("family"), 10)
            sock.buf[off("src_ip6") : off("src_ip6") + 16] = l3[8:24]
            sock.buf[off("dst_ip6") : off("dst_ip6") + 16] = l3[24:40]
        MEMORY.add(sock)
        return sock

    # --- packet access for helpers and legacy loads -----------------------------------
    def load_bytes(self, offset: int, size: int) -> bytes | None:
        """``size`` bytes at ``offset`` from data, or None when out of the packet."""
        if offset < 0 or offset + size > self.len:
            return None
        start = self.data_off + offset
        return bytes(self.region.buf[start : start + size])

    def load_bytes_relative(self, offset: int, size: int) -> bytes | None:
        """LD_ABS/LD_IND: offsets from data, or from the network or MAC header (SKF_*)."""
        if offset >= 0:
            return self.load_bytes(offset, size)
        if offset >= SKF_NET_OFF:
            start = self.network_header + (offset - SKF_NET_OFF)
        elif offset >= SKF_LL_OFF:
            start = self.mac_header + (offset - SKF_LL_OFF)
        else:
            return None
        end_limit = self.data_off + self.len
        if start < self.mac_header or start + size > end_limit:
            return None
        return bytes(self.region.buf[start : start + size])

    def store_bytes(self, offset: int, data: bytes, recompute_csum: bool) -> bool:
        if offset < 0 or offset + len(data) > self.len:
            return False
        start = self.data_off + offset
        if recompute_csum and self.csum is not None:
            old = bytes(self.region.buf[start : start + len(data)])
            # the sum is patched for the bytes wherever they are, as the kernel does
            self.csum = csum_add(self.csum, (~csum_partial(old)) & 0xFFFFFFFF)
            self.csum = csum_add(self.csum, csum_partial(data))
        self.region.buf[start : start + len(data)] = data
        return True

    def checksum_from_network(self) -> int:
        start = self.network_header
        return csum_partial(bytes(self.region.buf[start : self.data_off + self.len]))
