"""pybpf's verdicts and instruction counts on the example congestion controls equal the
kernel's (recorded; live where bpf() works)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .kernel_verdicts import kernel_verdicts, pybpf_verdicts

EXAMPLES = Path(__file__).parents[2] / "examples" / "struct_ops"
RECORDED = Path(__file__).parents[1] / "data" / "struct_ops_verdicts_kernel.json"


@pytest.mark.parametrize("obj", ["reno.bpf.o", "cubic.bpf.o"])
def test_recorded(obj: str) -> None:
    assert pybpf_verdicts(EXAMPLES / obj) == json.loads(RECORDED.read_text())[obj]


@pytest.mark.kernel
@pytest.mark.parametrize("obj", ["reno.bpf.o", "cubic.bpf.o"])
def test_live(obj: str) -> None:
    from pybpf.oracle import available

    if not available() or not Path("/sys/kernel/btf/vmlinux").exists():
        pytest.skip("bpf() or the kernel's BTF is not available")
    assert pybpf_verdicts(EXAMPLES / obj) == kernel_verdicts(EXAMPLES / obj)
