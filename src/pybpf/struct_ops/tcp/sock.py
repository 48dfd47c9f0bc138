"""A simulated TCP socket: a ``tcp_sock`` kernel object the congestion-control
programs point at, with fast Python access to the fields the stack and the
algorithms use (offsets from pybpf's kernel BTF)."""

from __future__ import annotations

import struct
from functools import cache

from ...kernel.vmlinux import KObject, alloc_object, offsetof

_FIELDS: dict[str, str] = {
    "snd_cwnd": "I", "snd_ssthresh": "I", "snd_cwnd_cnt": "I", "snd_cwnd_clamp": "I",
    "snd_cwnd_stamp": "I", "prior_cwnd": "I", "prior_ssthresh": "I", "srtt_us": "I",
    "mdev_us": "I", "packets_out": "I", "max_packets_out": "I", "mss_cache": "I",
    "delivered": "I", "delivered_ce": "I", "lost_out": "I", "sacked_out": "I",
    "retrans_out": "I", "app_limited": "I", "snd_una": "I", "snd_nxt": "I",
    "tcp_mstamp": "Q", "ecn_flags": "B", "lost": "I", "total_retrans": "I",
    "data_segs_out": "I", "high_seq": "I", "undo_marker": "I", "lsndtime": "I",
    "rcv_nxt": "I", "segs_out": "I",
}  # fmt: skip


@cache
def _offsets() -> dict[str, tuple[int, struct.Struct]]:
    return {n: (offsetof("tcp_sock", n), struct.Struct("<" + f)) for n, f in _FIELDS.items()}


@cache
def icsk_offset(path: str) -> int:
    return offsetof("tcp_sock", f"inet_conn.{path}")


CA_PRIV_SIZE = 13 * 8
"""``icsk_ca_priv``: the algorithm's private state (``inet_csk_ca(sk)``)."""


class TcpSock:
    """One connection's ``tcp_sock``; attributes named as the kernel's fields."""

    __slots__ = ("address", "buf", "obj")

    def __init__(self) -> None:
        self.obj: KObject = alloc_object("tcp_sock", name="tcp_sock")
        self.buf = self.obj.region.buf
        self.address = self.obj.address

    def get(self, name: str) -> int:
        off, st = _offsets()[name]
        return int(st.unpack_from(self.buf, off)[0])

    def set(self, name: str, value: int) -> None:
        off, st = _offsets()[name]
        st.pack_into(self.buf, off, value & ((1 << (8 * st.size)) - 1))

    @property
    def ca_state(self) -> int:
        return int(self.obj["inet_conn.icsk_ca_state"])

    @ca_state.setter
    def ca_state(self, v: int) -> None:
        self.obj["inet_conn.icsk_ca_state"] = v

    @property
    def is_cwnd_limited(self) -> bool:
        return bool(self.obj["is_cwnd_limited"])

    @is_cwnd_limited.setter
    def is_cwnd_limited(self, v: bool) -> None:
        self.obj["is_cwnd_limited"] = int(v)

    def ca_priv(self) -> memoryview:
        off = icsk_offset("icsk_ca_priv")
        return memoryview(self.buf)[off : off + CA_PRIV_SIZE]

    def free(self) -> None:
        self.obj.free()

