"""struct_ops map rules: pybpf's answers against the kernel's (recorded, and live where
bpf() works)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .backends import KernelBackend, PybpfBackend
from .scenarios import run_scenarios

RECORDED = Path(__file__).parent.parent / "data" / "struct_ops_tcp_kernel.json"


def test_pybpf_matches_recorded_kernel() -> None:
    want = json.loads(RECORDED.read_text())
    got = run_scenarios(PybpfBackend())
    assert {k: got.get(k) for k in want} == want


@pytest.mark.kernel
def test_pybpf_matches_running_kernel() -> None:
    from pybpf.oracle import available

    if not available():
        pytest.skip("bpf() is not available")
    try:
        kb = KernelBackend()
    except Exception as exc:  # no tcp_congestion_ops, no BTF: nothing to compare with
        pytest.skip(f"kernel cannot run the scenarios: {exc}")
    try:
        want = run_scenarios(kb)
    finally:
        kb.close()
    got = run_scenarios(PybpfBackend())
    assert {k: got.get(k) for k in want} == want


def test_failed_registration_leaves_nothing_registered() -> None:
    from pybpf.struct_ops.tcp_ca import tcp_congestion_controls

    b = PybpfBackend()
    run_scenarios(b)
    assert tcp_congestion_controls(b.k).registered == {}


def test_programs_live_as_long_as_the_map() -> None:
    import struct

    from pybpf.isa import assemble
    from pybpf.kernel.state import Kernel
    from pybpf.struct_ops import create_map, load_struct_ops_program, ops_type
    from pybpf.struct_ops.call import OpsCaller

    k = Kernel(seed=0)
    t = ops_type("tcp_congestion_ops")
    lay = t.layout
    off = {m.name: lay.data_offset + m.offset for m in lay.members}
    v = bytearray(lay.value_size)
    v[off["name"] : off["name"] + 4] = b"keep"
    progs = {n: load_struct_ops_program(assemble("r0 = 5\nexit"), t, n, kernel=k)
             for n in ("ssthresh", "undo_cwnd", "cong_avoid")}  # fmt: skip
    for n, p in progs.items():
        struct.pack_into("<Q", v, off[n], p.fd)
    m = create_map("tcp_congestion_ops", kernel=k)
    m.update(0, bytes(v))
    for p in progs.values():
        k.close_fd(p.fd)  # the loader lets go of its fds
    assert OpsCaller(m.programs, k)("ssthresh", 0) == 5
