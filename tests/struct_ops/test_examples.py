"""The example congestion controls in BPF C (examples/struct_ops, objects committed):
loaded from their .struct_ops sections, they drive the simulator exactly as the Python
references do."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybpf.errors import BpfError
from pybpf.kernel.state import Kernel
from pybpf.maps.struct_ops import StructOpsState
from pybpf.struct_ops.loader import open_struct_ops
from pybpf.struct_ops.tcp.algos import BpfCongestionOps, Cubic, Reno
from pybpf.struct_ops.tcp.link import LinkConfig
from pybpf.struct_ops.tcp.sim import Simulator
from pybpf.struct_ops.tcp_ca import tcp_congestion_controls

EXAMPLES = Path(__file__).parents[2] / "examples" / "struct_ops"
LINKS = [
    LinkConfig(bandwidth_mbps=10, rtt_ms=40, queue_pkts=40, loss=0.002),
    LinkConfig(bandwidth_mbps=25, rtt_ms=20, queue_pkts=60),
]


def _trace(ops: object, cfg: LinkConfig, kernel: Kernel | None = None) -> list[tuple[int, int]]:
    sim = Simulator(cfg, duration_s=4.0, kernel=kernel)
    sim.add_flow(ops)  # type: ignore[arg-type]
    st = sim.run()[0]
    return [(s.cwnd, s.ssthresh) for s in st.trace]


@pytest.mark.parametrize("cfg", LINKS)
@pytest.mark.parametrize(("obj", "ref"), [("reno", Reno), ("cubic", Cubic)])
def test_bpf_matches_python_reference(obj: str, ref: type, cfg: LinkConfig) -> None:
    k = Kernel(seed=1)
    _, ops = open_struct_ops(str(EXAMPLES / f"{obj}.bpf.o"), kernel=k, verify=True)
    assert ops[0].map.kops is not None
    bpf = _trace(BpfCongestionOps(ops[0].map.kops, k), cfg, k)
    assert bpf == _trace(ref(), cfg)
    assert len({c for c, _ in bpf}) > 10


def test_sections_become_maps() -> None:
    k = Kernel(seed=1)
    _, reno = open_struct_ops(str(EXAMPLES / "reno.bpf.o"), kernel=k, verify=True)
    _, cubic = open_struct_ops(str(EXAMPLES / "cubic.bpf.o"), kernel=k, verify=True)
    assert reno[0].map.state == StructOpsState.INUSE and reno[0].link is None  # .struct_ops
    assert cubic[0].map.state == StructOpsState.READY and cubic[0].link is not None  # .struct_ops.link
    assert set(cubic[0].programs) == {"init", "ssthresh", "set_state", "cong_avoid", "undo_cwnd"}
    assert tcp_congestion_controls(k).names() == ["reno", "cubic", "bpf_reno", "bpf_cubic_ex"]
    with pytest.raises(BpfError) as e:
        cubic[0].map.delete(0)  # a link map is unregistered through its link
    assert e.value.errno == 95
    cubic[0].unregister()
    reno[0].unregister()
    assert tcp_congestion_controls(k).registered == {}
    open_struct_ops(str(EXAMPLES / "reno.bpf.o"), kernel=k, verify=True)
    with pytest.raises(BpfError) as e:
        open_struct_ops(str(EXAMPLES / "reno.bpf.o"), kernel=k, verify=True)
    assert e.value.errno == 17  # the name is taken


def test_timeouts_and_undo_match() -> None:
    """Spurious timeouts (a 5 ms minimum RTO) take both through Loss, undo_cwnd and back."""
    cfg = LinkConfig(bandwidth_mbps=10, rtt_ms=40, queue_pkts=100)
    k = Kernel(seed=1)
    _, ops = open_struct_ops(str(EXAMPLES / "reno.bpf.o"), kernel=k)
    assert ops[0].map.kops is not None
    runs = []
    for algo, kern in ((BpfCongestionOps(ops[0].map.kops, k), k), (Reno(), None)):
        sim = Simulator(cfg, duration_s=2.0, kernel=kern, rto_min_ms=5)
        sim.add_flow(algo)
        runs.append(sim.run()[0])
    bpf, py = runs
    assert bpf.timeouts > 0 and bpf.undos > 0
    assert [(s.cwnd, s.ssthresh) for s in bpf.trace] == [(s.cwnd, s.ssthresh) for s in py.trace]
