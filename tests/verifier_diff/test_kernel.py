"""pybpf's verifier against the running kernel on a fresh sample of the generator.

A few hundred cases of another seed (``PYBPF_VERIFIER_DIFF_SEED`` and
``PYBPF_VERIFIER_DIFF_COUNT`` override it and the number), half of them with a deliberate
mistake, each loaded by the kernel and verified by pybpf; the bar is the one the
recorded corpus is held to.  Skipped where bpf() is refused.
"""

from __future__ import annotations

import os

import pytest

from pybpf import oracle

from .harness import Agreement, compare, corpus_case, grouped, kernel_answer

SEED = int(os.environ.get("PYBPF_VERIFIER_DIFF_SEED", "7070"))
COUNT = int(os.environ.get("PYBPF_VERIFIER_DIFF_COUNT", "300"))

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(not oracle.available(), reason=f"bpf() unavailable: {oracle.unavailable_reason()}"),
]


def test_fresh_sample_against_kernel() -> None:
    comparisons = []
    for index in range(COUNT):
        case = corpus_case(SEED, index)
        comparisons.append(compare(SEED, index, case, kernel_answer(case)))
    figures = Agreement.of(comparisons)
    assert 0.35 * COUNT <= figures.rejected <= 0.65 * COUNT, "about half should be rejected"
    worst = [f"{len(cs):4d}  {key}\n      e.g. {cs[0].describe()[:300]}"
             for key, cs in list(grouped(comparisons, "mistake").items())[:10]]  # fmt: skip
    report = f"seed {SEED}: {figures.summary()}\n" + "\n".join(worst)
    print(report)
    # THE BAR (the verifier issue): verdicts agree on >= 99% of the cases, pybpf accepts
    # nothing the kernel rejects, messages agree on >= 90% of the cases the kernel rejects.
    assert not figures.shortfalls(), "; ".join(figures.shortfalls()) + "\n" + report
