"""The struct_ops examples (``struct_ops/*.bpf.c``, objects committed beside them,
``make -C examples/struct_ops`` rebuilds them): congestion controls written in BPF C,
registered into pybpf's simulated TCP stack, drive a connection over a bottleneck link.

The stated result: BPF Reno and BPF CUBIC give exactly the cwnd/ssthresh traces of
pybpf's Python reference algorithms on the same link, and CUBIC fills the link.
"""

from __future__ import annotations

from pathlib import Path

from c_examples import CExample, Report

from pybpf.kernel.state import Kernel
from pybpf.struct_ops.loader import open_struct_ops
from pybpf.struct_ops.tcp.algos import BpfCongestionOps, Cubic, Reno
from pybpf.struct_ops.tcp.link import LinkConfig
from pybpf.struct_ops.tcp.sim import FlowStats, Simulator

HERE = Path(__file__).resolve().parent / "struct_ops"
LINK = LinkConfig(bandwidth_mbps=20, rtt_ms=40, queue_pkts=60, loss=0.001)
SECONDS = 3.0


def _simulate(ops: object, kernel: Kernel | None) -> FlowStats:
    sim = Simulator(LINK, duration_s=SECONDS, kernel=kernel)
    sim.add_flow(ops)  # type: ignore[arg-type]
    return sim.run()[0]


def tcp_congestion_control(report: Report, kernel: bool) -> None:
    del kernel  # the running kernel has no simulator to compare with
    for stem, ref in (("reno", Reno), ("cubic", Cubic)):
        k = Kernel(seed=1)
        _, loaded = open_struct_ops(str(HERE / f"{stem}.bpf.o"), kernel=k, verify=True)
        ops = loaded[0]
        assert ops.map.kops is not None
        report.note(f"{stem}.bpf.o: struct_ops '{ops.var.name}': programs verified, ops registered")
        bpf = _simulate(BpfCongestionOps(ops.map.kops, k), k)
        py = _simulate(ref(), None)
        same = [(s.cwnd, s.ssthresh) for s in bpf.trace] == [(s.cwnd, s.ssthresh) for s in py.trace]
        report.check(same, f"{stem}: BPF and Python {ref.__name__} give the same cwnd trace "
                           f"({len(bpf.trace)} samples, {SECONDS:.0f} s over {LINK.bandwidth_mbps} Mbit/s)",
                     f"{stem}: traces differ")  # fmt: skip
        report.note(f"    {stem}: {bpf.throughput_mbps:.1f} Mbit/s, mean RTT {bpf.mean_rtt_ms:.1f} ms, "
                    f"{bpf.lost} lost")  # fmt: skip
        if stem == "cubic":
            report.check(bpf.throughput_mbps > 0.8 * LINK.bandwidth_mbps,
                         f"cubic: fills over 80% of the {LINK.bandwidth_mbps} Mbit/s link")  # fmt: skip


class StructOpsExample(CExample):
    @property
    def name(self) -> str:
        return f"struct_ops/{self.stem}"

    @property
    def source(self) -> Path:
        return HERE / "reno.bpf.c"

    @property
    def object(self) -> Path:
        return HERE / "reno.bpf.o"


STRUCT_OPS_EXAMPLES = (
    StructOpsExample("tcp_cc", "TCP congestion control in BPF (Reno, CUBIC) through struct_ops",
                     tcp_congestion_control),
)  # fmt: skip
