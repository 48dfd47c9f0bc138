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
