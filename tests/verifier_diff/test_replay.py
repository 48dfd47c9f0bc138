"""pybpf's verifier against the kernel's recorded verdicts on the corpus (no kernel needed).

``tests/data/verifier_diff/corpus.jsonl.gz`` holds, for every case of the seeded corpus
(regenerated here from its seed and index), what Linux answered at log level 1
(``record.py`` re-records it).  The default run replays a fixed fifth of the corpus
(every fifth case, about 40 s) to stay within a minute; ``PYBPF_VERIFIER_DIFF_FULL=1``
replays all of it (about 3 minutes).  ``report.py`` prints the disagreements by mistake kind and by kernel message.
"""

from __future__ import annotations

import os

import pytest

from pybpf.casegen import MISTAKES, Area

from .harness import (
    BAR_MESSAGE,
    BAR_VERDICT,
    CORPUS,
    Agreement,
    compare_record,
    grouped,
    read_corpus,
)

FULL = os.environ.get("PYBPF_VERIFIER_DIFF_FULL", "") not in ("", "0")
STRIDE = 1 if FULL else 5

pytestmark = pytest.mark.skipif(not CORPUS.exists(), reason=f"{CORPUS} not recorded")


def test_corpus_is_what_the_header_says() -> None:
    header, records = read_corpus()
    assert len(records) == header["count"] >= 5000
    assert [r.index for r in records] == list(range(header["count"]))
    rejected = sum(not r.accepted for r in records)
    assert rejected == header["rejected"]
    assert 0.4 <= rejected / len(records) <= 0.6, "about half the corpus should be rejected"
    # every kind of mistake is in the corpus, with the verdict it was designed for
    kinds = {r.mistake for r in records}
    assert kinds == {m.kind for m in MISTAKES} | {"valid"}
    assert {m.area for m in MISTAKES} == set(Area)
    valid = [r for r in records if r.mistake == "valid"]
    assert sum(r.accepted for r in valid) >= 0.99 * len(valid)
    unlike = []
    for m in MISTAKES:
        mine = [r for r in records if r.mistake == m.kind]
        refused = sum(not r.accepted for r in mine)
        if (refused >= 0.6 * len(mine)) != m.rejects:
            unlike.append(f"{m.kind}: {refused} of {len(mine)} rejected")
    assert not unlike, "mistakes the kernel does not treat as designed: " + ", ".join(unlike)


def test_replay_meets_the_bar() -> None:
    header, records = read_corpus()
    comparisons = [compare_record(header["seed"], r) for r in records[::STRIDE]]
    figures = Agreement.of(comparisons)
    worst = [f"{len(cs):4d}  {key}\n      e.g. {cs[0].describe()[:300]}"
             for key, cs in list(grouped(comparisons, "mistake").items())[:15]]  # fmt: skip
    report = (f"{'whole corpus' if FULL else f'every {STRIDE}th case'}: {figures.summary()}\n"
              + "\n".join(worst))  # fmt: skip
    print(report)
    # THE BAR (the verifier issue): verdicts agree on >= 99% of the cases, pybpf accepts
    # nothing the kernel rejects, messages agree on >= 90% of the cases the kernel rejects.
    assert BAR_VERDICT == 0.99 and BAR_MESSAGE == 0.90
    assert not figures.shortfalls(), "; ".join(figures.shortfalls()) + "\n" + report
