"""The TCP simulator with the Python reference algorithms."""

from __future__ import annotations

import itertools

import pytest

from pybpf.errors import BpfError
from pybpf.struct_ops.tcp.algos import Cubic, Reno, icbrt
from pybpf.struct_ops.tcp.link import LinkConfig
from pybpf.struct_ops.tcp.report import plot_png
from pybpf.struct_ops.tcp.sim import Simulator


def _run(algo: object, **link: float) -> object:
    sim = Simulator(LinkConfig(**link), duration_s=3.0)  # type: ignore[arg-type]
    sim.add_flow(algo)  # type: ignore[arg-type]
    return sim.run()[0]


def test_reno_fills_the_link_and_halves_on_loss() -> None:
    st = _run(Reno(), bandwidth_mbps=10, rtt_ms=40, queue_pkts=30)
    assert st.throughput_mbps > 8.5  # type: ignore[attr-defined]
    cwnds = [s.cwnd for s in st.trace]  # type: ignore[attr-defined]
    drops = [(a, b) for a, b in itertools.pairwise(cwnds) if b < a]
    assert drops and all(b <= a * 0.55 + 2 for a, b in drops)  # halved (sampled every 10 ms)
    assert st.lost > 0 and st.timeouts == 0  # type: ignore[attr-defined]


def test_cubic_is_deterministic_and_differs_from_reno() -> None:
    a = _run(Cubic(), bandwidth_mbps=10, rtt_ms=40, queue_pkts=30, loss=0.001)
    b = _run(Cubic(), bandwidth_mbps=10, rtt_ms=40, queue_pkts=30, loss=0.001)
    r = _run(Reno(), bandwidth_mbps=10, rtt_ms=40, queue_pkts=30, loss=0.001)
    assert [s.cwnd for s in a.trace] == [s.cwnd for s in b.trace]  # type: ignore[attr-defined]
    assert [s.cwnd for s in a.trace] != [s.cwnd for s in r.trace]  # type: ignore[attr-defined]


def test_icbrt() -> None:
    for x in (0, 1, 7, 8, 26, 27, 10**12, 2**63 - 1):
        c = icbrt(x)
        assert c**3 <= x < (c + 1) ** 3 or c == (1 << 21)


def test_bad_link() -> None:
    with pytest.raises(BpfError):
        LinkConfig(bandwidth_mbps=0).check()


def test_png() -> None:
    st = _run(Reno())
    png = plot_png([st], "RENO")  # type: ignore[list-item]
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
