"""Simulation results as numbers and as a plot."""

from __future__ import annotations

from collections.abc import Sequence

from .png import Panel, Series, plot
from .sim import FlowStats


def _smooth(ys: list[float], n: int) -> list[float]:
    out, acc = [], 0.0
    for i, y in enumerate(ys):
        acc += y - (ys[i - n] if i >= n else 0.0)
        out.append(acc / min(i + 1, n))
    return out


def _series(stats: Sequence[FlowStats], pick: str, window: int = 1) -> list[Series]:
    out = []
    for s in stats:
        xs = [p.t_ms / 1000 for p in s.trace]
        ys = _smooth([float(getattr(p, pick)) for p in s.trace], window)
        out.append(Series(s.name, xs, ys))
    return out


def plot_png(stats: Sequence[FlowStats], title: str = "", sample_ms: float = 10.0) -> bytes:
    """cwnd, throughput (averaged over 200 ms), smoothed RTT and the bottleneck queue
    against time (s)."""
    window = max(1, int(200 / sample_ms))
    q = [Series("QUEUE", [p.t_ms / 1000 for p in stats[0].trace], [float(p.queue_pkts) for p in stats[0].trace])] \
        if stats else []  # fmt: skip
    panels = [
        Panel("CWND (SEGMENTS)", _series(stats, "cwnd")),
        Panel("THROUGHPUT (MBIT/S)", _series(stats, "throughput_mbps", window)),
        Panel("SRTT (MS)", _series(stats, "srtt_ms")),
        Panel("QUEUE (PACKETS)", q),
    ]
    return plot(panels, title)


def summary_lines(stats: Sequence[FlowStats]) -> list[str]:
    head = f"{'flow':<24} {'Mbit/s':>8} {'rtt ms':>8} {'p95 ms':>8} {'sent':>7} {'lost':>6} {'loss%':>6} {'CE':>6} {'RTO':>4} {'cwnd':>6}"
    out = [head]
    for s in stats:
        out.append(f"{s.name:<24} {s.throughput_mbps:8.3f} {s.mean_rtt_ms:8.2f} {s.p95_rtt_ms:8.2f} {s.sent:7d} "
                   f"{s.lost:6d} {100 * s.loss_rate:6.2f} {s.ce_marked:6d} {s.timeouts:4d} {s.final_cwnd:6d}")  # fmt: skip
    return out
