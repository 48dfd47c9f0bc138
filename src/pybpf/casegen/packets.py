"""Random packets and test-run contexts for generated cases.

Frames are Ethernet with an IPv4, IPv6, ARP, VLAN or arbitrary payload, of lengths the
kernel accepts for every packet program type: at least 14 bytes, at least a full IP
header after the Ethernet header for IPv4/IPv6 (skb test runs refuse shorter ones), and
at most 3712 bytes (the skb limit).  Destination MACs vary so that ``pkt_type`` varies.
"""

from __future__ import annotations

import random
import struct

ETH_HLEN = 14
SKB_MAX = 3712
XDP_META_MAX = 216

_LO_MAC = bytes(6)
_BROADCAST = b"\xff" * 6


def _bytes(rng: random.Random, n: int) -> bytes:
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n > 0 else b""


def _length(rng: random.Random, minimum: int) -> int:
    r = rng.random()
    if r < 0.55:
        n = rng.randint(minimum, max(minimum, 80))
    elif r < 0.85:
        n = rng.randint(minimum, 300)
    elif r < 0.97:
        n = rng.randint(minimum, 1514)
    else:
        n = rng.randint(minimum, SKB_MAX)
    return max(n, minimum)


def _dst_mac(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.4:
        return _LO_MAC
    if r < 0.55:
        return _BROADCAST
    if r < 0.7:
        return b"\x01\x00\x5e" + _bytes(rng, 3)
    if r < 0.75:
        return b"\x33\x33" + _bytes(rng, 4)
    return bytes([rng.randrange(256) & 0xFE]) + _bytes(rng, 5)


def _ipv4(rng: random.Random, total: int) -> bytes:
    ihl = 5 if rng.random() < 0.85 else rng.randint(5, 15)
    proto = rng.choice([6, 17, 1, 47, rng.randrange(256)])
    hdr = struct.pack(
        ">BBHHHBBH4s4s",
        0x40 | ihl, rng.randrange(256), min(total, 0xFFFF) if rng.random() < 0.8 else rng.randrange(0x10000),
        rng.randrange(0x10000), rng.choice([0, 0x4000, rng.randrange(0x10000)]), rng.randint(1, 255),
        proto, 0, _bytes(rng, 4), _bytes(rng, 4),
    )  # fmt: skip
    return hdr + _bytes(rng, 4 * ihl - 20)


def _ipv6(rng: random.Random, payload: int) -> bytes:
    return struct.pack(
        ">IHBB16s16s",
        0x60000000 | rng.getrandbits(28), payload & 0xFFFF, rng.choice([6, 17, 58, 0, 43]),
        rng.randint(1, 255), b"\x20\x01" + _bytes(rng, 14), b"\xfe\x80" + _bytes(rng, 14),
    )  # fmt: skip


def random_frame(rng: random.Random) -> bytes:
    """One Ethernet frame of a random kind and length (14 ≤ length ≤ 3712)."""
    dst = _dst_mac(rng)
    src = bytes([rng.randrange(256) & 0xFE]) + _bytes(rng, 5)
    kind = rng.choices(["ipv4", "ipv6", "arp", "vlan", "raw", "zero", "short"],
                       [40, 20, 5, 5, 15, 5, 10])[0]  # fmt: skip
    if kind == "zero":
        return bytes(_length(rng, ETH_HLEN))
    if kind == "short":
        return dst + src + _bytes(rng, rng.randint(2, 20))
    if kind == "ipv4":
        n = _length(rng, ETH_HLEN + 20)
        l3 = _ipv4(rng, n - ETH_HLEN)
        body = (l3 + _bytes(rng, n - ETH_HLEN - len(l3)))[: n - ETH_HLEN]
        if len(body) < 20:  # an IHL > 5 header longer than the frame: keep the 20 bytes
            body = l3[:20]
        return dst + src + b"\x08\x00" + body
    if kind == "ipv6":
        n = _length(rng, ETH_HLEN + 40)
        l3 = _ipv6(rng, n - ETH_HLEN - 40)
        return dst + src + b"\x86\xdd" + l3 + _bytes(rng, n - ETH_HLEN - 40)
    if kind == "arp":
        n = _length(rng, ETH_HLEN + 28)
        return dst + src + b"\x08\x06" + _bytes(rng, n - ETH_HLEN)
    if kind == "vlan":
        n = _length(rng, ETH_HLEN + 4)
        inner = rng.choice([b"\x08\x00", b"\x86\xdd", _bytes(rng, 2)])
        return dst + src + b"\x81\x00" + _bytes(rng, 2) + inner + _bytes(rng, n - ETH_HLEN - 4)
    # raw: any ethertype, including 802.3 lengths (< 0x600) with or without 0xffff
    n = _length(rng, ETH_HLEN)
    ethertype = rng.choice([rng.randrange(0x600), rng.randrange(0x600, 0x10000), 0x88CC, 0x0600])
    payload = _bytes(rng, n - ETH_HLEN)
    if ethertype < 0x600 and len(payload) >= 2 and rng.random() < 0.3:
        payload = b"\xff\xff" + payload[2:]
    if ethertype in (0x0800, 0x86DD):
        ethertype = 0x88B5
    return dst + src + ethertype.to_bytes(2, "big") + payload


def skb_ctx(rng: random.Random, skb_len: int) -> bytes:
    """A ``__sk_buff`` for ctx_in with only the fields a test run may set.

    ``skb_len`` is the skb's length when the kernel checks ``wire_len`` (the frame for
    sched_cls/act, the frame minus 14 for socket_filter).
    """
    ctx = bytearray(192)

    def put(off: int, size: int, value: int) -> None:
        ctx[off : off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    if rng.random() < 0.7:
        put(8, 4, rng.getrandbits(32))  # mark
    if rng.random() < 0.5:
        put(32, 4, rng.getrandbits(32))  # priority
    if rng.random() < 0.3:
        put(36, 4, rng.choice([0, 1, 2, rng.getrandbits(32)]))  # ingress_ifindex
    if rng.random() < 0.2:
        put(40, 4, rng.choice([0, 1]))  # ifindex: only the loopback exists everywhere
    for i in range(5):
        if rng.random() < 0.5:
            put(48 + 4 * i, 4, rng.getrandbits(32))  # cb[i]
    if rng.random() < 0.3:
        put(152, 8, rng.getrandbits(64))  # tstamp
    if rng.random() < 0.4:
        put(160, 4, rng.choice([skb_len, rng.randint(skb_len, 65536), 65536]))  # wire_len
    if rng.random() < 0.3:
        put(164, 4, rng.choice([0, 1, rng.randrange(0x10000), 0xFFFF]))  # gso_segs
    if rng.random() < 0.3:
        put(176, 4, rng.getrandbits(rng.choice([8, 16, 32])))  # gso_size
    if rng.random() < 0.2:
        put(184, 8, rng.getrandbits(64))  # hwtstamp
    out = bytes(ctx)
    if rng.random() < 0.2:  # a shorter ctx_in: the kernel zero-fills the rest
        used = len(out.rstrip(b"\0"))
        out = out[: rng.randint(used, 192)]
    return out


def xdp_ctx(rng: random.Random, size: int) -> bytes:
    """An ``xdp_md`` for ctx_in: some metadata, usually the whole packet linear."""
    room = min(XDP_META_MAX, size - ETH_HLEN)
    meta = 4 * rng.randint(0, room // 4) if rng.random() < 0.6 else 0
    meta = min(meta, 4 * rng.randint(0, 8)) if rng.random() < 0.7 else meta
    end = size
    if rng.random() < 0.1 and size - meta > 64:  # the rest of the packet in fragments
        end = rng.randint(meta + 14, size - 1)
    ingress = rng.choice([0, 1, 1])
    return struct.pack("<IIIIII", meta, end, 0, ingress, 0, 0)
