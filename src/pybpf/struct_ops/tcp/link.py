"""The bottleneck: one FIFO queue drained at the link rate, with a propagation delay,
random loss and ECN marking above a queue threshold."""

from __future__ import annotations

import errno
import random
from collections import deque
from dataclasses import dataclass

from ...errors import BpfError

HEADER_BYTES = 52
"""IP + TCP headers with timestamps, added to each segment's MSS on the wire."""


@dataclass(frozen=True)
class LinkConfig:
    """A bottleneck link: ``bandwidth_mbps`` drain rate, ``rtt_ms`` base round trip
    (propagation both ways), ``queue_pkts`` buffer, ``loss`` random drop probability,
    ``ecn_k_pkts`` the queue length from which ECN-capable packets are CE-marked
    (0: no marking), ``mss`` segment payload."""

    bandwidth_mbps: float = 10.0
    rtt_ms: float = 40.0
    queue_pkts: int = 100
    loss: float = 0.0
    ecn_k_pkts: int = 0
    mss: int = 1448

    def check(self) -> LinkConfig:
        if self.bandwidth_mbps <= 0 or self.rtt_ms <= 0 or self.queue_pkts < 1 or self.mss < 64:
            raise BpfError(errno.EINVAL, "link needs positive bandwidth and RTT, a queue of at least 1, mss >= 64")
        if not 0.0 <= self.loss < 1.0 or self.ecn_k_pkts < 0:
            raise BpfError(errno.EINVAL, "loss must be in [0, 1) and the ECN threshold >= 0")
        return self

    @property
    def bdp_pkts(self) -> float:
        return self.bandwidth_mbps * 1e6 * self.rtt_ms / 1e3 / (8 * (self.mss + HEADER_BYTES))


@dataclass
class Verdict:
    dropped: bool
    ce: bool
    depart_ns: int
    queue_pkts: int


class Link:
    def __init__(self, cfg: LinkConfig, seed: int = 1) -> None:
        self.cfg = cfg.check()
        self.rng = random.Random(seed)
        self.tx_ns = int((cfg.mss + HEADER_BYTES) * 8 * 1e9 / (cfg.bandwidth_mbps * 1e6))
        self.one_way_ns = int(cfg.rtt_ms * 1e6 / 2)
        self.departures: deque[int] = deque()
        self.last_depart = 0
        self.drops = 0
        self.random_drops = 0
        self.marks = 0

    def queue_len(self, now: int) -> int:
        d = self.departures
        while d and d[0] <= now:
            d.popleft()
        return len(d)

    def enqueue(self, now: int, ect: bool) -> Verdict:
        q = self.queue_len(now)
        if q >= self.cfg.queue_pkts:
            self.drops += 1
            return Verdict(True, False, 0, q)
        if self.cfg.loss and self.rng.random() < self.cfg.loss:
            self.random_drops += 1
            return Verdict(True, False, 0, q)
        ce = bool(ect and self.cfg.ecn_k_pkts and q >= self.cfg.ecn_k_pkts)
        self.marks += ce
        depart = max(now, self.last_depart) + self.tx_ns
        self.last_depart = depart
        self.departures.append(depart)
        return Verdict(False, ce, depart, q + 1)
