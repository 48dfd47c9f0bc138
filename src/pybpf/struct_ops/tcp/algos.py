"""Congestion controls the simulator can drive: the BPF programs of a registered
``tcp_congestion_ops`` (:class:`BpfCongestionOps`), and Python references
(:class:`Reno`, :class:`Cubic`) written to compute exactly what the example BPF
programs compute, on the same ``tcp_sock`` fields."""

from __future__ import annotations

import struct
from typing import Any, Protocol

from ...kernel.vmlinux import alloc_object, offsetof
from . import kfuncs as K
from .sock import TcpSock

U32 = 0xFFFFFFFF
U64 = (1 << 64) - 1

# enum tcp_ca_state / tcp_ca_event / tcp_ca_ack_event_flags
CA_OPEN, CA_DISORDER, CA_CWR, CA_RECOVERY, CA_LOSS = 0, 1, 2, 3, 4
EV_TX_START, EV_CWND_RESTART, EV_COMPLETE_CWR, EV_LOSS, EV_ECN_NO_CE, EV_ECN_IS_CE = range(6)
ACK_SLOWPATH, ACK_WIN_UPDATE, ACK_ECE = 1, 2, 4


class CongestionOps(Protocol):
    """What the simulator calls, named as the ops members (absent ones: ``has`` False)."""

    name: str
    needs_ecn: bool

    def has(self, member: str) -> bool: ...
    def init(self, tp: TcpSock) -> None: ...
    def release(self, tp: TcpSock) -> None: ...
    def ssthresh(self, tp: TcpSock) -> int: ...
    def cong_avoid(self, tp: TcpSock, ack: int, acked: int) -> None: ...
    def cong_control(self, tp: TcpSock, ack: int, flag: int, rs: dict[str, int]) -> None: ...
    def set_state(self, tp: TcpSock, state: int) -> None: ...
    def cwnd_event(self, tp: TcpSock, ev: int) -> None: ...
    def in_ack_event(self, tp: TcpSock, flags: int) -> None: ...
    def pkts_acked(self, tp: TcpSock, pkts: int, rtt_us: int, in_flight: int) -> None: ...
    def undo_cwnd(self, tp: TcpSock) -> int: ...


class _PyOps:
    name = ""
    needs_ecn = False
    members: frozenset[str] = frozenset()

    def has(self, member: str) -> bool:
        return member in self.members

    def init(self, tp: TcpSock) -> None: ...
    def release(self, tp: TcpSock) -> None: ...
    def cong_control(self, tp: TcpSock, ack: int, flag: int, rs: dict[str, int]) -> None: ...
    def set_state(self, tp: TcpSock, state: int) -> None: ...
    def cwnd_event(self, tp: TcpSock, ev: int) -> None: ...
    def in_ack_event(self, tp: TcpSock, flags: int) -> None: ...
    def pkts_acked(self, tp: TcpSock, pkts: int, rtt_us: int, in_flight: int) -> None: ...

    def ssthresh(self, tp: TcpSock) -> int:
        return K.tcp_reno_ssthresh(tp.address)

    def cong_avoid(self, tp: TcpSock, ack: int, acked: int) -> None:
        K.tcp_reno_cong_avoid(tp.address, ack, acked)

    def undo_cwnd(self, tp: TcpSock) -> int:
        return K.tcp_reno_undo_cwnd(tp.address)


class Reno(_PyOps):
    """NewReno's window rules: slow start, one segment per window, halve on loss."""

    name = "reno"
    members = frozenset({"ssthresh", "cong_avoid", "undo_cwnd"})


# --- CUBIC ------------------------------------------------------------------------------
# State in icsk_ca_priv, as the BPF version keeps it (u32 each):
CUBIC_FIELDS = ("cnt", "w_max", "k_ms", "epoch_ms", "origin", "ack_cnt", "tcp_cwnd")
CUBIC_BETA = 717  # /1024
CUBIC_C_NUM, CUBIC_C_DEN = 4, 10  # C = 0.4 segments/s^3


def icbrt(x: int) -> int:
    """The integer cube root as the BPF version computes it: Newton's iteration from a
    power of two above the root, then a step either way (u64 arithmetic)."""
    if x == 0:
        return 0
    r = 1 << ((x.bit_length() + 2) // 3)
    for _ in range(6):
        r = (2 * r + x // ((r * r) & U64)) // 3
    if (r * r * r) & U64 > x:
        r -= 1
    if (r * r * r) & U64 > x:
        r -= 1
    if ((r + 1) ** 3) & U64 <= x:
        r += 1
    return r


class Cubic(_PyOps):
    """CUBIC (RFC 9438) in integer arithmetic: W(t) = C (t - K)^3 + W_max, with t in
    milliseconds from the start of the epoch plus the smoothed RTT, beta 0.7 and fast
    convergence; below ssthresh, slow start.  No HyStart, no Reno-friendly region, and
    (the simulated senders being always window-limited) no cwnd-limited test."""

    name = "cubic"
    members = frozenset({"init", "ssthresh", "cong_avoid", "set_state", "undo_cwnd"})

    def _ca(self, tp: TcpSock) -> tuple[list[int], memoryview]:
        priv = tp.ca_priv()
        return list(struct.unpack_from("<7I", priv, 0)), priv

    @staticmethod
    def _store(priv: memoryview, ca: list[int]) -> None:
        struct.pack_into("<7I", priv, 0, *(v & U32 for v in ca))

    def init(self, tp: TcpSock) -> None:
        self._store(tp.ca_priv(), [0] * 7)

    def ssthresh(self, tp: TcpSock) -> int:
        ca, priv = self._ca(tp)
        cwnd = tp.get("snd_cwnd")
        ca[3] = 0  # epoch_ms
        if cwnd < ca[1]:
            ca[1] = (cwnd * (1024 + CUBIC_BETA) // 2048) & U32
        else:
            ca[1] = cwnd
        self._store(priv, ca)
        return max((cwnd * CUBIC_BETA) >> 10, 2)

    def set_state(self, tp: TcpSock, state: int) -> None:
        if state == CA_LOSS:
            self._store(tp.ca_priv(), [0] * 7)

    def cong_avoid(self, tp: TcpSock, ack: int, acked: int) -> None:
        a = tp.address
        if tp.get("snd_cwnd") < tp.get("snd_ssthresh"):
            acked = K.tcp_slow_start(a, acked)
            if not acked:
                return
        ca, priv = self._ca(tp)
        cwnd = tp.get("snd_cwnd")
        now_ms = (tp.get("tcp_mstamp") // 1000) & U32
        if ca[3] == 0:
            ca[3] = now_ms or 1
            ca[5] = acked
            if ca[1] <= cwnd:
                ca[2], ca[4] = 0, cwnd
            else:
                ca[2] = icbrt((ca[1] - cwnd) * 2_500_000_000)
                ca[4] = ca[1]
        t = ((now_ms - ca[3]) & U32) + (tp.get("srtt_us") >> 3) // 1000
        d = t - ca[2] if t > ca[2] else ca[2] - t
        delta = (CUBIC_C_NUM * d * d * d // (CUBIC_C_DEN * 1_000_000_000)) & U64
        target = ca[4] + delta if t > ca[2] else ca[4] - min(delta, ca[4])
        if target > cwnd:
            cnt = cwnd // (target - cwnd)
        else:
            cnt = 100 * cwnd
        if ca[1] == 0 and cnt > 20:
            cnt = 20
        ca[0] = max(cnt, 1) & U32
        self._store(priv, ca)
        K.tcp_cong_avoid_ai(a, ca[0], acked)


REFERENCES: dict[str, type[_PyOps]] = {"reno": Reno, "cubic": Cubic}


# --- BPF --------------------------------------------------------------------------------


class BpfCongestionOps:
    """The programs of a registered ``tcp_congestion_ops``, called as the kernel's
    trampolines do: arguments in a u64 array, samples in kernel objects."""

    def __init__(self, kops: Any, kernel: Any, tier: Any = None) -> None:
        from ..call import OpsCaller
        from ..tcp_ca import TCP_CONG_NEEDS_ECN

        self.name = kops.name
        self.needs_ecn = bool(kops.data.get("flags", 0) & TCP_CONG_NEEDS_ECN)
        self.call = OpsCaller(kops.programs, kernel, tier)
        self.sample = alloc_object("ack_sample", name="ack_sample")
        self.rs = alloc_object("rate_sample", name="rate_sample")
        self._sample_off = {f: offsetof("ack_sample", f) for f in ("pkts_acked", "rtt_us", "in_flight")}

    def has(self, member: str) -> bool:
        return self.call.has(member)

    def _maybe(self, member: str, *args: int) -> int | None:
        return self.call(member, *args) if self.call.has(member) else None

    def init(self, tp: TcpSock) -> None:
        self._maybe("init", tp.address)

    def release(self, tp: TcpSock) -> None:
        self._maybe("release", tp.address)

    def ssthresh(self, tp: TcpSock) -> int:
        return self.call("ssthresh", tp.address) & U32

    def cong_avoid(self, tp: TcpSock, ack: int, acked: int) -> None:
        self._maybe("cong_avoid", tp.address, ack & U32, acked & U32)

    def cong_control(self, tp: TcpSock, ack: int, flag: int, rs: dict[str, int]) -> None:
        self.rs.update(rs)
        self._maybe("cong_control", tp.address, ack & U32, flag, self.rs.address)

    def set_state(self, tp: TcpSock, state: int) -> None:
        self._maybe("set_state", tp.address, state)

    def cwnd_event(self, tp: TcpSock, ev: int) -> None:
        self._maybe("cwnd_event", tp.address, ev)

    def in_ack_event(self, tp: TcpSock, flags: int) -> None:
        self._maybe("in_ack_event", tp.address, flags)

    def pkts_acked(self, tp: TcpSock, pkts: int, rtt_us: int, in_flight: int) -> None:
        if not self.call.has("pkts_acked"):
            return
        buf, o = self.sample.region.buf, self._sample_off
        struct.pack_into("<I", buf, o["pkts_acked"], pkts & U32)
        struct.pack_into("<i", buf, o["rtt_us"], rtt_us)
        struct.pack_into("<I", buf, o["in_flight"], in_flight & U32)
        self.call("pkts_acked", tp.address, self.sample.address)

    def undo_cwnd(self, tp: TcpSock) -> int:
        return self.call("undo_cwnd", tp.address) & U32
