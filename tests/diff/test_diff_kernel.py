"""pybpf against the running kernel on freshly generated cases.

Cases come from :func:`pybpf.casegen.generate` with a fixed seed (``PYBPF_DIFF_SEED`` and
``PYBPF_DIFF_COUNT`` override it and the number of cases).  Each is loaded and test-run in
the kernel (pinned to CPU 0) and in pybpf; for every case the kernel accepts, the test
run's errno, ``retval``, output packet and the maps afterwards must agree.
"""

from __future__ import annotations

import os

import pytest

from pybpf import oracle
from pybpf.casegen import generate

from .harness import differences, kernel_outcome, pybpf_outcome

SEED = int(os.environ.get("PYBPF_DIFF_SEED", "424242"))
COUNT = int(os.environ.get("PYBPF_DIFF_COUNT", "2000"))
CHUNK = 100

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(not oracle.available(), reason=f"bpf() unavailable: {oracle.unavailable_reason()}"),
    pytest.mark.skipif(
        not hasattr(os, "sched_getaffinity") or 0 not in os.sched_getaffinity(0),
        reason="CPU 0 is not available to this process",
    ),
]


@pytest.mark.parametrize("start", range(0, COUNT, CHUNK))
def test_against_kernel(start: int) -> None:
    cases = generate(SEED, min(CHUNK, COUNT - start), start=start)
    failures = []
    accepted = 0
    for case in cases:
        kernel = kernel_outcome(case)
        accepted += kernel["accepted"]
        diff = differences(kernel, pybpf_outcome(case))
        if diff:
            failures.append(f"{case['name']}: " + "; ".join(diff))
    assert not failures, f"{len(failures)} cases disagree:\n" + "\n".join(failures[:10])
    # the generator is meant to make programs the verifier accepts
    assert accepted >= 0.9 * len(cases)
