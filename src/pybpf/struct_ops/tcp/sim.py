"""A TCP congestion-control simulator: bulk connections over one bottleneck, each
driven by a congestion control called where the kernel calls it.

Per acknowledgement, in the kernel's order: ``in_ack_event`` (with ``CA_ACK_ECE`` when
the segment was CE-marked), ``pkts_acked`` (with the RTT sample), the loss/ECN state
machine (``ssthresh`` and ``set_state`` on entering Recovery or CWR; ``cwnd_event
(CA_EVENT_COMPLETE_CWR)`` and ``set_state(Open)`` on leaving), then ``cong_control`` or,
outside a window reduction, ``cong_avoid``.  A retransmission timeout calls
``ssthresh``, ``cwnd_event(CA_EVENT_LOSS)`` and ``set_state(Loss)``, and ``undo_cwnd`` when a
segment it declared lost turns out delivered; the first
transmission ``cwnd_event(CA_EVENT_TX_START)``; the connection's start and end ``init``
and ``release``.  Simplifications: every segment is acknowledged at once (no delayed
ACKs), losses are detected three transmissions later (the link keeps order), the window
goes to ``ssthresh`` when a reduction starts (no proportional rate reduction), and a
sender is always limited by its window.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from ...kernel.state import Kernel
from .algos import (
    ACK_ECE,
    ACK_SLOWPATH,
    CA_CWR,
    CA_LOSS,
    CA_OPEN,
    CA_RECOVERY,
    EV_COMPLETE_CWR,
    EV_LOSS,
    EV_TX_START,
    CongestionOps,
)
from .link import Link, LinkConfig
from .sock import TcpSock

TCP_INFINITE_SSTHRESH = 0x7FFFFFFF
TCP_INIT_CWND = 10
TCP_ECN_OK = 1
RTO_MIN_NS = 200_000_000
HZ = 250
_ACK, _RTO, _SAMPLE, _START = 0, 1, 2, 3


@dataclass
class Sample:
    """One point of a flow's trace."""

    t_ms: float
    cwnd: int
    ssthresh: int
    in_flight: int
    srtt_ms: float
    throughput_mbps: float
    queue_pkts: int


@dataclass
class FlowStats:
    name: str
    algorithm: str
    throughput_mbps: float
    mean_rtt_ms: float
    p95_rtt_ms: float
    sent: int
    lost: int
    retransmits: int
    ce_marked: int
    timeouts: int
    final_cwnd: int
    undos: int = 0
    trace: list[Sample] = field(default_factory=list)

    @property
    def loss_rate(self) -> float:
        return self.lost / self.sent if self.sent else 0.0

    def to_json(self, with_trace: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "algorithm": self.algorithm,
            "throughput_mbps": round(self.throughput_mbps, 4), "mean_rtt_ms": round(self.mean_rtt_ms, 3),
            "p95_rtt_ms": round(self.p95_rtt_ms, 3), "sent": self.sent, "lost": self.lost,
            "loss_rate": round(self.loss_rate, 6), "retransmits": self.retransmits,
            "ce_marked": self.ce_marked, "timeouts": self.timeouts, "undos": self.undos,
            "final_cwnd": self.final_cwnd,
        }  # fmt: skip
        if with_trace:
            out["trace"] = [[s.t_ms, s.cwnd, s.ssthresh, s.in_flight, round(s.srtt_ms, 3),
                             round(s.throughput_mbps, 4), s.queue_pkts] for s in self.trace]  # fmt: skip
        return out


class Flow:
    """One bulk connection: the stack's state in Python, the CA-visible state in the
    ``tcp_sock``."""

    def __init__(self, name: str, ops: CongestionOps, link: Link, ecn: bool, start_ns: int,
                 rto_min_ns: int = RTO_MIN_NS) -> None:  # fmt: skip
        self.name, self.ops, self.link, self.start_ns = name, ops, link, start_ns
        self.rto_min_ns = rto_min_ns
        self.mss = link.cfg.mss
        self.tp = TcpSock()
        self.ecn = ecn or ops.needs_ecn
        self.nxt = 0  # next new segment
        self.una = 0
        self.tx = 0  # transmissions so far (their ids)
        self.outstanding: OrderedDict[int, tuple[int, int, bool]] = OrderedDict()
        self.delivered: set[int] = set()
        self.retx: deque[int] = deque()
        self.high_seq = 0
        self.started = False
        self.sent = self.lost = self.retransmits = self.ce = self.timeouts = self.undos = 0
        self.rto_txs: dict[int, tuple[int, int, bool]] = {}
        self.undo_pending = False
        self.bytes_delivered = 0
        self.last_progress = start_ns
        self.rto_backoff = 1
        self.rtts: list[int] = []
        self.trace: list[Sample] = []
        self.last_sample_bytes = 0
        tp = self.tp
        tp.set("snd_cwnd", TCP_INIT_CWND)
        tp.set("snd_ssthresh", TCP_INFINITE_SSTHRESH)
        tp.set("snd_cwnd_clamp", 0xFFFFFFFF)
        tp.set("mss_cache", self.mss)
        tp.set("ecn_flags", TCP_ECN_OK if self.ecn else 0)
        tp.is_cwnd_limited = True

    # -- helpers -------------------------------------------------------------------------
    @property
    def cwnd(self) -> int:
        return self.tp.get("snd_cwnd")

    def state(self) -> int:
        return self.tp.ca_state

    def set_state(self, st: int) -> None:
        self.ops.set_state(self.tp, st)  # the kernel calls the op before storing the state
        self.tp.ca_state = st

    def rto_ns(self) -> int:
        srtt_ns = (self.tp.get("srtt_us") >> 3) * 1000
        return max(self.rto_min_ns, 2 * srtt_ns) * self.rto_backoff

    def reduce(self, st: int) -> None:
        """Start a window reduction (Recovery or CWR): ``tcp_init_cwnd_reduction``."""
        tp = self.tp
        tp.set("prior_cwnd", self.cwnd)
        tp.set("prior_ssthresh", tp.get("snd_ssthresh"))
        ss = self.ops.ssthresh(tp)
        tp.set("snd_ssthresh", ss)
        self.high_seq = self.nxt
        tp.set("high_seq", self.nxt * self.mss)
        self.set_state(st)
        tp.set("snd_cwnd", max(ss, 1))
        tp.set("snd_cwnd_cnt", 0)


class Simulator:
    """Flows over one link for ``duration_s``; ``sample_ms`` between trace points;
    ``rto_min_ms`` the least retransmission timeout (the kernel's 200 ms)."""

    def __init__(self, link: LinkConfig, *, duration_s: float = 10.0, sample_ms: float = 10.0,
                 seed: int = 1, kernel: Kernel | None = None, rto_min_ms: float = 200.0) -> None:  # fmt: skip
        self.rto_min_ns = int(rto_min_ms * 1e6)
        self.cfg = link.check()
        self.link = Link(self.cfg, seed)
        self.kernel = kernel or Kernel(seed=seed)
        self.duration_ns = int(duration_s * 1e9)
        self.sample_ns = max(int(sample_ms * 1e6), 1_000_000)
        self.flows: list[Flow] = []
        self.events: list[tuple[int, int, int, Any]] = []
        self.order = 0
        self.now = 0

    def add_flow(self, ops: CongestionOps, *, name: str = "", ecn: bool = False, start_s: float = 0.0) -> Flow:
        f = Flow(name or f"flow{len(self.flows)}:{ops.name}", ops, self.link, ecn, int(start_s * 1e9),
                 self.rto_min_ns)  # fmt: skip
        self.flows.append(f)
        self._at(f.start_ns, _START, f)
        return f

    def _at(self, t: int, kind: int, data: Any) -> None:
        self.order += 1
        heapq.heappush(self.events, (t, self.order, kind, data))

    def _clock(self, t: int) -> None:
        self.now = t
        self.kernel.fixed_time_ns = t

    # -- the run -------------------------------------------------------------------------
    def run(self) -> list[FlowStats]:
        self._at(self.sample_ns, _SAMPLE, None)
        while self.events:
            t, _, kind, data = heapq.heappop(self.events)
            if t > self.duration_ns:
                break
            self._clock(t)
            if kind == _ACK:
                self._on_ack(*data)
            elif kind == _RTO:
                self._on_rto(*data)
            elif kind == _SAMPLE:
                self._sample()
                self._at(t + self.sample_ns, _SAMPLE, None)
            else:
                self._start(data)
        self._clock(self.duration_ns)
        for f in self.flows:
            f.ops.release(f.tp)
        return [self._stats(f) for f in self.flows]

    def _start(self, f: Flow) -> None:
        f.tp.set("tcp_mstamp", self.now // 1000)
        f.ops.init(f.tp)
        f.last_progress = self.now
        self._send(f)

    def _send(self, f: Flow) -> None:
        tp, link = f.tp, self.link
        while len(f.outstanding) < f.cwnd:
            if not f.started:
                f.started = True
                f.ops.cwnd_event(tp, EV_TX_START)
            if f.retx:
                seg, retx = f.retx.popleft(), True
                if seg in f.delivered:
                    continue
                f.retransmits += 1
            else:
                seg, retx = f.nxt, False
                f.nxt += 1
            f.tx += 1
            f.sent += 1
            f.outstanding[f.tx] = (seg, self.now, retx)
            v = link.enqueue(self.now, f.ecn)
            if not v.dropped:
                self._at(v.depart_ns + 2 * link.one_way_ns, _ACK, (f, f.tx, v.ce))
            if len(f.outstanding) == 1 or f.tx == 1:
                self._at(self.now + f.rto_ns(), _RTO, (f, f.tx))
        tp.set("snd_nxt", f.nxt * f.mss)
        tp.set("packets_out", len(f.outstanding))
        tp.set("max_packets_out", max(tp.get("max_packets_out"), len(f.outstanding)))
        tp.set("lsndtime", self.now * HZ // 1_000_000_000)

    def _on_ack(self, f: Flow, tx: int, ce: bool) -> None:
        tp, ops = f.tp, f.ops
        tp.set("tcp_mstamp", self.now // 1000)
        rec = f.outstanding.pop(tx, None)
        if rec is None:
            # declared lost by a timeout, delivered after all: the timeout was spurious
            # (the kernel learns it from timestamps) and the reduction is undone
            seg, sent_ns, retx = f.rto_txs.pop(tx, (-1, 0, True))
            if seg >= 0 and seg not in f.delivered and seg >= f.una:
                f.delivered.add(seg)
                f.bytes_delivered += f.mss
                tp.set("delivered", tp.get("delivered") + 1)
            if not retx and f.state() == CA_LOSS and f.undo_pending:
                f.undo_pending = False
                tp.set("snd_cwnd", ops.undo_cwnd(tp))
                tp.set("snd_ssthresh", max(tp.get("snd_ssthresh"), tp.get("prior_ssthresh")))
                f.set_state(CA_OPEN)
                f.undos += 1
            while f.una in f.delivered:
                f.delivered.discard(f.una)
                f.una += 1
            tp.set("snd_una", f.una * f.mss)
            self._send(f)
            return
        seg, sent_ns, retx = rec
        new = seg not in f.delivered
        if new:
            f.delivered.add(seg)
            f.bytes_delivered += f.mss
            tp.set("delivered", tp.get("delivered") + 1)
            if ce:
                f.ce += 1
                tp.set("delivered_ce", tp.get("delivered_ce") + 1)
        rtt_us = -1
        if not retx:
            rtt_us = (self.now - sent_ns) // 1000
            f.rtts.append(rtt_us)
            srtt = tp.get("srtt_us")
            tp.set("srtt_us", rtt_us << 3 if srtt == 0 else srtt + rtt_us - (srtt >> 3))
        progressed = False
        while f.una in f.delivered:
            f.delivered.discard(f.una)
            f.una += 1
            progressed = True
        if progressed:
            f.last_progress = self.now
            f.rto_backoff = 1
            f.delivered = {s for s in f.delivered if s >= f.una} if len(f.delivered) > 4096 else f.delivered
        tp.set("snd_una", f.una * f.mss)
        ack = f.una * f.mss
        # losses: transmissions three or more before this one that were not acknowledged
        newly_lost = False
        while f.outstanding:
            first_tx = next(iter(f.outstanding))
            if first_tx > tx - 3:
                break
            lseg, _, _ = f.outstanding.pop(first_tx)
            f.lost += 1
            newly_lost = True
            f.retx.append(lseg)
        in_flight = len(f.outstanding)
        ece = ce and f.ecn
        ops.in_ack_event(tp, ACK_SLOWPATH | (ACK_ECE if ece else 0))
        ops.pkts_acked(tp, 1, rtt_us, in_flight)
        st = f.state()
        changed = False
        if st in (CA_RECOVERY, CA_CWR, CA_LOSS) and f.una >= f.high_seq:
            if st == CA_CWR:
                ops.cwnd_event(tp, EV_COMPLETE_CWR)
            if st != CA_LOSS and tp.get("snd_ssthresh") < TCP_INFINITE_SSTHRESH:
                tp.set("snd_cwnd", tp.get("snd_ssthresh"))
            f.set_state(CA_OPEN)
            st, changed = CA_OPEN, True
        if newly_lost and st in (CA_OPEN, CA_CWR):
            f.reduce(CA_RECOVERY)
            st, changed = CA_RECOVERY, True
        elif ece and st == CA_OPEN:
            f.reduce(CA_CWR)
            st, changed = CA_CWR, True
        if ops.has("cong_control"):
            rs = {"delivered": 1, "acked_sacked": 1, "prior_in_flight": in_flight + 1, "rtt_us": rtt_us,
                  "losses": int(newly_lost), "is_retrans": int(retx)}  # fmt: skip
            ops.cong_control(tp, ack, 0, rs)
        elif st in (CA_OPEN, CA_LOSS) and not changed and new:
            ops.cong_avoid(tp, ack, 1)
        self._send(f)

    def _on_rto(self, f: Flow, tx: int) -> None:
        if not f.outstanding:
            return
        deadline = f.last_progress + f.rto_ns()
        if self.now < deadline:
            self._at(deadline, _RTO, (f, tx))
            return
        tp, ops = f.tp, f.ops
        f.timeouts += 1
        tp.set("prior_cwnd", f.cwnd)
        tp.set("prior_ssthresh", tp.get("snd_ssthresh"))
        tp.set("snd_ssthresh", ops.ssthresh(tp))
        ops.cwnd_event(tp, EV_LOSS)
        tp.set("snd_cwnd", 1)
        tp.set("snd_cwnd_cnt", 0)
        f.set_state(CA_LOSS)
        lost = [seg for seg, _, _ in f.outstanding.values()]
        f.lost += len(lost)
        f.rto_txs.update(f.outstanding)
        f.undo_pending = True
        f.outstanding.clear()
        f.retx = deque(sorted(set(lost) | set(f.retx)))
        f.high_seq = f.nxt
        f.rto_backoff = min(f.rto_backoff * 2, 64)
        f.last_progress = self.now
        self._send(f)
        self._at(self.now + f.rto_ns(), _RTO, (f, f.tx))

    # -- results -------------------------------------------------------------------------
    def _sample(self) -> None:
        q = self.link.queue_len(self.now)
        for f in self.flows:
            if self.now < f.start_ns:
                continue
            delta = f.bytes_delivered - f.last_sample_bytes
            f.last_sample_bytes = f.bytes_delivered
            tp = f.tp
            f.trace.append(Sample(self.now / 1e6, f.cwnd, tp.get("snd_ssthresh"), len(f.outstanding),
                                  (tp.get("srtt_us") >> 3) / 1000, delta * 8 / (self.sample_ns / 1e9) / 1e6, q))  # fmt: skip

    def _stats(self, f: Flow) -> FlowStats:
        dur = max(self.duration_ns - f.start_ns, 1)
        rtts = sorted(f.rtts)
        mean = sum(rtts) / len(rtts) / 1000 if rtts else 0.0
        p95 = rtts[min(len(rtts) - 1, int(0.95 * len(rtts)))] / 1000 if rtts else 0.0
        return FlowStats(f.name, f.ops.name, f.bytes_delivered * 8 / (dur / 1e9) / 1e6, mean, p95, f.sent,
                         f.lost, f.retransmits, f.ce, f.timeouts, f.cwnd, f.undos, f.trace)  # fmt: skip
