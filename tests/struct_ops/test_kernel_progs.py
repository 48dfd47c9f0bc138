"""The kernel's own congestion controls in BPF (selftests progs/bpf_dctcp.c and
progs/bpf_cubic.c of Debian's linux-source-6.12), compiled at test time: they load,
pass pybpf's verifier, register, and drive the simulator -- DCTCP backs off in
proportion to ECN marking, CUBIC grows its window as a cubic."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from pybpf.kernel.state import Kernel
from pybpf.struct_ops.loader import open_struct_ops
from pybpf.struct_ops.tcp.algos import BpfCongestionOps
from pybpf.struct_ops.tcp.link import LinkConfig
from pybpf.struct_ops.tcp.sim import Simulator


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tests.elf.conftest import CLANG
    from tests.elf.test_selftests_progs import HELPER_DEFS, VMLINUX, build_selftests, selftests_dir

    for what, ok in (("clang-19", CLANG is not None), ("linux-source-6.12", selftests_dir().is_dir()),
                     ("bpftool", shutil.which("bpftool") is not None), ("vmlinux BTF", VMLINUX.exists()),
                     ("libbpf-dev", HELPER_DEFS.exists())):  # fmt: skip
        if not ok:
            pytest.skip(f"{what} is not available")
    built = build_selftests(tmp_path_factory.mktemp("tcp_ca"), ["bpf_dctcp.c", "bpf_cubic.c"])
    if len(built) != 2:
        pytest.skip("the selftests programs did not compile")
    return {p.stem: p for p in built}


def _run(path: Path, var: str, cfg: LinkConfig, seconds: float) -> object:
    k = Kernel(seed=1)
    _, ops = open_struct_ops(str(path), kernel=k, verify=True, register=False)
    lo = next(o for o in ops if o.var.name == var)
    lo.register()
    assert lo.map.kops is not None
    sim = Simulator(cfg, duration_s=seconds, kernel=k, sample_ms=20)
    sim.add_flow(BpfCongestionOps(lo.map.kops, k))
    return sim.run()[0]


@pytest.mark.slow
def test_bpf_dctcp_backs_off_under_ecn(objects: dict[str, Path]) -> None:
    cfg = LinkConfig(bandwidth_mbps=50, rtt_ms=10, queue_pkts=200, ecn_k_pkts=15)
    st = _run(objects["bpf_dctcp"], "dctcp", cfg, 2.0)
    assert st.ce_marked > 0 and st.lost == 0  # type: ignore[attr-defined]
    assert st.throughput_mbps > 0.9 * 50 * 1448 / 1500  # type: ignore[attr-defined]
    cw = [s.cwnd for s in st.trace[25:]]  # type: ignore[attr-defined]
    cuts = [b / a for a, b in itertools.pairwise(cw) if b < a]
    assert cuts and min(cuts) > 0.6  # gentle, marking-proportional cuts, not halving
    assert max(s.queue_pkts for s in st.trace[25:]) < 60  # type: ignore[attr-defined]


@pytest.mark.slow
def test_bpf_cubic_grows_as_a_cubic(objects: dict[str, Path]) -> None:
    cfg = LinkConfig(bandwidth_mbps=20, rtt_ms=60, queue_pkts=60)
    st = _run(objects["bpf_cubic"], "cubic", cfg, 12.0)
    tr = st.trace  # type: ignore[attr-defined]
    assert st.throughput_mbps > 15  # type: ignore[attr-defined]
    # the longest stretch without a cut: growth slows towards W_max, then speeds up again
    best: list[int] = []
    run: list[int] = []
    for s in tr:
        if run and s.cwnd < run[-1]:
            run = []
        run.append(s.cwnd)
        best = max(best, run, key=len)
    assert len(best) > 60
    n = len(best) // 5
    steps = [best[(i + 1) * n] - best[i * n] for i in range(4)]
    assert steps[0] > min(steps[1:3]) < steps[3]
