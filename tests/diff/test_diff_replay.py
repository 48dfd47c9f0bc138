"""pybpf against the kernel's recorded answers for the seeded corpus (no kernel needed).

``tests/data/diff/corpus.jsonl.gz`` holds generated cases with what Linux answered for
them (``tests/diff/record.py`` re-records it).  For every case the kernel accepted, pybpf
must give the same test-run errno, ``retval``, output packet and map contents.
"""

from __future__ import annotations

from typing import Any

import pytest

from .harness import CORPUS, differences, pybpf_outcome, read_corpus

CHUNK = 100
pytestmark = pytest.mark.skipif(not CORPUS.exists(), reason=f"{CORPUS} not recorded")


def _header() -> dict[str, Any]:
    return read_corpus()[0] if CORPUS.exists() else {"count": 0}


def test_corpus_is_what_the_header_says() -> None:
    header, cases = read_corpus()
    assert len(cases) == header["count"]
    accepted = sum(r["kernel"]["accepted"] for r in cases)
    assert accepted >= 0.95 * len(cases), "the generator should make programs the verifier accepts"
    assert {r["case"]["prog_type"] for r in cases} == {"socket_filter", "sched_cls", "sched_act", "xdp"}


@pytest.mark.parametrize("start", range(0, _header()["count"], CHUNK))
def test_replay(start: int) -> None:
    header, records = read_corpus()
    failures = []
    for rec in records[start : start + CHUNK]:
        diff = differences(rec["kernel"], pybpf_outcome(rec["case"], header["num_cpus"]))
        if diff:
            failures.append(f"{rec['case']['name']}: " + "; ".join(diff))
    assert not failures, f"{len(failures)} cases disagree:\n" + "\n".join(failures[:10])
