"""Map helpers on the newer map types, against the kernel's recorded BPF_PROG_TEST_RUN.

``bpf_map_peek_elem`` on a bloom filter tests the program's value (it reads, never
writes, the buffer) and ``bpf_redirect_map`` on a cpumap redirects only to a CPU that has
an entry, falling back to the flags' low bits otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pybpf.case import Case, run_case
from pybpf.kernel.state import Kernel

CASES = json.loads((Path(__file__).parent.parent / "data" / "helpers" / "bloom_cpumap.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_matches_the_kernel(case: dict[str, Any]) -> None:
    out = run_case(Case.from_json({k: v for k, v in case.items() if k != "kernel"}), Kernel(seed=0))
    assert out.accepted, out.message
    assert out.run is not None and out.run["retval"] == case["kernel"]["retval"]


@pytest.mark.kernel
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_recording_still_holds(case: dict[str, Any]) -> None:
    from pybpf import oracle

    if not oracle.available():
        pytest.skip("bpf() is refused here")
    res = oracle.load_case({k: v for k, v in case.items() if k != "kernel"})
    assert res.run is not None and res.run.retval == case["kernel"]["retval"]
