"""The conformance suite and the differential corpus on every tier.

``tests/test_conformance.py`` runs the conformance files in the interpreter and
``tests/diff`` replays the corpus (verified) on the default tier; here each runs on the
tiers those leave out, so that every tier passes both.  The corpus programs are loaded
unchecked (only the ones the kernel accepted are compared, and loading does not change a
program), so this costs runs, not verification.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybpf.case import Case, run_case
from pybpf.conformance import Outcome, parse
from pybpf.conformance import run_case as run_conformance_case
from pybpf.kernel.state import Kernel
from pybpf.vm.tiers import default, make_runner, using

from ..diff.harness import CORPUS, differences, read_corpus
from .conftest import TIERS

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "bpf_conformance"
NOT_INTERP = [t for t in TIERS if t != "interp"]
NOT_DEFAULT = [t for t in TIERS if t != default().value]
CHUNK = 250


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="bpf_conformance data not present")
@pytest.mark.parametrize("tier", NOT_INTERP)
def test_conformance_suite(tier: str) -> None:
    runner = make_runner(Kernel(seed=0), tier)
    results = []
    for directory, negative in ((CONFORMANCE, False), (CONFORMANCE / "negative", True)):
        for path in sorted(directory.glob("*.data")):
            case = parse(path)
            if case is not None:
                results.append(run_conformance_case(case, runner, negative))  # type: ignore[arg-type]
    failed = {r.name for r in results if r.outcome is Outcome.FAILED}
    # wrong on purpose (see tests/test_conformance.py), and an exit offset Linux ignores
    assert failed == {"error", "incorrect_return_value_high_bits", "unused-exit-offset"}
    assert sum(r.outcome is Outcome.PASSED for r in results) == 313 + 55


def _outcome(case: dict[str, Any], num_cpus: int) -> dict[str, Any]:
    """pybpf's outcome as ``tests/diff/harness.pybpf_outcome`` has it, loaded unchecked."""
    kernel = Kernel(num_cpus=num_cpus, seed=0)
    res = run_case(Case.from_json(case), kernel, dump_maps=True, verify=False)
    out: dict[str, Any] = {"accepted": res.accepted, "errno": res.errno}
    if res.run is not None:
        run = res.run
        out["run"] = {"errno": run.get("errno", 0), "retval": run["retval"], "data": run["data"]}
        if "error" in run:
            out["run"]["error"] = run["error"]
    out["maps"] = [sorted([k, v] for k, v in items) for items in res.maps_after or []]
    return out


def _count() -> int:
    return read_corpus()[0]["count"] if CORPUS.exists() else 0


@pytest.mark.skipif(not CORPUS.exists(), reason=f"{CORPUS} not recorded")
@pytest.mark.parametrize("start", range(0, _count(), CHUNK))
@pytest.mark.parametrize("tier", NOT_DEFAULT)
def test_differential_corpus(tier: str, start: int) -> None:
    header, records = read_corpus()
    failures = []
    with using(tier):
        for rec in records[start : start + CHUNK]:
            if not rec["kernel"]["accepted"]:
                continue
            diff = differences(rec["kernel"], _outcome(rec["case"], header["num_cpus"]))
            if diff:
                failures.append(f"{rec['case']['name']}: " + "; ".join(diff))
    assert not failures, f"{len(failures)} cases disagree on {tier}:\n" + "\n".join(failures[:10])
