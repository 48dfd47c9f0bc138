"""Frames for the examples: Ethernet with IPv4 (TCP, UDP, ICMP), IPv6 and ARP.

Every frame is well formed (lengths and the IPv4 header checksum are right), so what the
programs do to them can be checked byte for byte.
"""

from __future__ import annotations

import ipaddress
import struct

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17

SRC_MAC = bytes.fromhex("020000000001")
DST_MAC = bytes.fromhex("020000000002")
PROTO_NAMES = {IPPROTO_ICMP: "ICMP", IPPROTO_TCP: "TCP", IPPROTO_UDP: "UDP"}


def ipv4_checksum(header: bytes) -> int:
    """The ones' complement checksum of an IPv4 header (RFC 791); 0 when it is valid."""
    total = sum(int(w) for w in struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ethernet(ethertype: int, payload: bytes) -> bytes:
    return DST_MAC + SRC_MAC + struct.pack("!H", ethertype) + payload


def ipv4(proto: int, src: str, dst: str, l4: bytes, ttl: int = 64) -> bytes:
    """An Ethernet frame carrying an IPv4 packet with a 20-byte header and ``l4``."""
    header = bytearray(struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0x1234, 0x4000, ttl, proto, 0,
        ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed,
    ))  # fmt: skip
    struct.pack_into("!H", header, 10, ipv4_checksum(bytes(header)))
    return ethernet(ETH_P_IP, bytes(header) + l4)


def tcp(src: str, dst: str, sport: int, dport: int, ttl: int = 64, payload: bytes = b"") -> bytes:
    """A TCP SYN (20-byte header, no options)."""
    header = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
    return ipv4(IPPROTO_TCP, src, dst, header + payload, ttl)


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes = b"") -> bytes:
    header = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    return ipv4(IPPROTO_UDP, src, dst, header + payload)


def icmp_echo(src: str, dst: str) -> bytes:
    return ipv4(IPPROTO_ICMP, src, dst, struct.pack("!BBHHH", 8, 0, 0, 1, 1) + bytes(8))


def arp_request(sender: str, target: str) -> bytes:
    body = struct.pack(
        "!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1, SRC_MAC, ipaddress.IPv4Address(sender).packed,
        bytes(6), ipaddress.IPv4Address(target).packed,
    )  # fmt: skip
    return ethernet(ETH_P_ARP, body)


def ipv6_tcp(src: str, dst: str, sport: int, dport: int) -> bytes:
    l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
    header = struct.pack("!IHBB16s16s", 6 << 28, len(l4), IPPROTO_TCP, 64,
                         ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed)  # fmt: skip
    return ethernet(ETH_P_IPV6, header + l4)


def describe_changes(before: bytes, after: bytes) -> str:
    """Which bytes a program changed: ``byte 22: 40 -> 3f; bytes 24-25: ...``."""
    if len(before) != len(after):
        return f"length {len(before)} -> {len(after)}"
    parts: list[str] = []
    i = 0
    while i < len(before):
        if before[i] == after[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(before) and before[j + 1] != after[j + 1]:
            j += 1
        where = f"byte {i}" if i == j else f"bytes {i}-{j}"
        parts.append(f"{where}: {before[i : j + 1].hex()} -> {after[i : j + 1].hex()}")
        i = j + 1
    return "; ".join(parts) if parts else "unchanged"
