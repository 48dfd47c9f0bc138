"""pybpf's iterator programs, links and output against the kernel's answers for the same
cases (``harness.CASES``): verifier verdicts and messages for the key/value buffers and
the context, link creation refused for maps too small or of the wrong type, and the
text read from hash, LRU, array and per-CPU maps (final call included)."""

from __future__ import annotations

import json

import pytest

from .harness import CASES, DATA, Case, kernel_possible_cpus, normalize, run_kernel, run_pybpf

RECORDED = json.loads(DATA.read_text())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_pybpf_gives_the_kernels_recorded_answer(case: Case) -> None:
    want = RECORDED["cases"][case.name]
    got = run_pybpf(case, RECORDED["possible_cpus"])
    assert normalize(case, got) == normalize(case, want)


def test_every_case_is_recorded() -> None:
    assert {c.name for c in CASES} == set(RECORDED["cases"])


@pytest.mark.kernel
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_running_kernel_still_answers_so(case: Case) -> None:
    from pybpf.oracle import available, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    try:
        got = run_kernel(case)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    ncpus = kernel_possible_cpus()
    if ncpus == RECORDED["possible_cpus"]:
        assert normalize(case, got) == normalize(case, RECORDED["cases"][case.name])
    assert normalize(case, got) == normalize(case, run_pybpf(case, ncpus))
