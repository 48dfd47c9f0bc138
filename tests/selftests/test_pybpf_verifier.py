"""pybpf's verifier on the kernel's own test_verifier programs.

Privileged: every converted case is verified by pybpf and compared with the running
kernel's answer recorded in ``tests/data/selftests/kernel_verdicts.json`` (verdict, the
message, and for accepted programs the number of instructions processed, which pins the
pruning).  Unprivileged: pybpf's ``Options.unprivileged`` against the ``_unpriv``
expectations written in the 6.1 selftests (the running kernel here refuses unprivileged
bpf(), so those expectations are the reference).

The bars are the agreement reached so far; raise them as the verifier improves, never
lower them to make a change pass.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest

from pybpf.case import Case, _case_maps
from pybpf.kernel.state import Kernel
from pybpf.selftests.test_verifier import SelftestCase
from pybpf.verifier import Options, VerifyResult, verify

from .conftest import VERDICTS

SHARDS = 4
TOO_BIG = 100_000
"""Cases the kernel needed more instructions for are left to the benchmarks."""
SECONDS_PER_CASE = 30


class _Timeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def fire(*_: Any) -> None:
        raise _Timeout

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _verify(sc: SelftestCase, options: Options) -> VerifyResult | str:
    """pybpf's answer, or why there is none (a crash or a time-out is a disagreement)."""
    assert sc.case is not None
    case = Case.from_json(dict(sc.case))
    kernel = Kernel(seed=0)
    maps = _case_maps(case, kernel)
    opts = replace(options, strict_alignment=bool(sc.prog_flags & 1),
                   any_alignment=bool(sc.prog_flags & 2))  # fmt: skip
    try:
        with _time_limit(SECONDS_PER_CASE):
            return verify(list(case.insns), case.prog_type, maps=maps, kernel=kernel,
                          expected_attach_type=case.expected_attach_type, options=opts)  # fmt: skip
    except _Timeout:
        return "time-out"
    except Exception as exc:  # a crash is counted, not raised: the report lists them all
        return f"crash: {exc!r}"
    finally:
        for m in maps:
            m.close()


@dataclass
class Tally:
    counts: Counter[str]
    disagreements: list[str]


def _privileged(cases: list[SelftestCase], recorded: dict[str, Any]) -> Tally:
    counts: Counter[str] = Counter()
    bad: list[str] = []
    for sc in cases:
        k = recorded.get(sc.name)
        if sc.case is None or k is None or k.get("insns_processed", 0) > TOO_BIG:
            continue
        counts["compared"] += 1
        r = _verify(sc, Options(log_level=1))
        if isinstance(r, str):
            counts["no answer"] += 1
            bad.append(f"{sc.name}: {r}")
            continue
        if r.accepted != k["accepted"]:
            counts["false accept" if r.accepted else "false reject"] += 1
            bad.append(
                f"{sc.name}: pybpf {r.accepted} {r.message!r}, kernel {k['accepted']} {k['message']!r}"
            )
            continue
        counts["verdict"] += 1
        if not r.accepted:
            counts["rejected"] += 1
            if r.message == k["message"]:
                counts["message"] += 1
            else:
                bad.append(f"{sc.name}: message {r.message!r}, kernel {k['message']!r}")
        else:
            counts["accepted"] += 1
            if r.insns_processed == k["insns_processed"]:
                counts["processed"] += 1
            else:
                bad.append(
                    f"{sc.name}: processed {r.insns_processed}, kernel {k['insns_processed']}"
                )
    return Tally(counts, bad)


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    verdicts: dict[str, Any] = json.loads(VERDICTS.read_text())["verdicts"]
    return verdicts


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS))
def test_privileged_agrees_with_the_kernel(
    shard: int, selftest_cases: list[SelftestCase], recorded: dict[str, Any]
) -> None:
    tally = _privileged(selftest_cases[shard::SHARDS], recorded)
    c = tally.counts
    print(f"\nshard {shard}: {dict(c)}")
    report = "\n".join(tally.disagreements[:40])
    assert c["compared"] > 250
    assert c["false accept"] == 0, report
    assert c["verdict"] >= 0.99 * c["compared"], report
    assert c["message"] >= 0.98 * c["rejected"], report
    assert c["processed"] >= 0.98 * c["accepted"], report


@pytest.mark.slow
def test_unprivileged_meets_the_selftests_expectations(selftest_cases: list[SelftestCase]) -> None:
    counts: Counter[str] = Counter()
    bad: list[str] = []
    for sc in selftest_cases:
        if sc.case is None or sc.unpriv is None:
            continue
        counts["compared"] += 1
        r = _verify(sc, Options.unprivileged(log_level=4))
        if isinstance(r, str):
            bad.append(f"{sc.name}: {r}")
            continue
        want_accept = sc.unpriv.verdict.value == "accept"
        if r.accepted == want_accept:
            counts["verdict"] += 1
        else:
            bad.append(
                f"{sc.name}: pybpf {r.accepted} {r.message!r}, 6.1 expects {sc.unpriv.verdict.value}"
            )
        if sc.unpriv.verdict_matches(r.accepted, r.log):
            counts["as expected"] += 1
    print(f"\nunprivileged: {dict(counts)}")
    assert counts["compared"] > 600
    # Most of the gap is the speculative-execution hardening of unprivileged loads
    # (sanitize_speculative_path, pointer-ALU limits, map pointer comparisons), not yet
    # built; see the closing notes.
    assert counts["verdict"] >= 0.93 * counts["compared"], "\n".join(bad[:60])
    assert counts["as expected"] >= 0.90 * counts["compared"], "\n".join(bad[:60])
