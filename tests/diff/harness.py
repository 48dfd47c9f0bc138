"""Running a case in the kernel and in pybpf, and comparing what the two did.

An *outcome* is the part of a result that must agree: the verdict, and for an accepted
case the test run's errno, ``retval`` and output packet, and every map's contents after
the run (as sorted (key, value) pairs: hash maps iterate in an order that depends on a
random seed).  ``duration_ns`` is never compared, and generated programs use
``bpf_ktime_get_ns`` and ``bpf_get_prandom_u32`` only in ways that cannot reach these.

Per-CPU map values hold one slot per possible CPU, so the kernel runs pinned to CPU 0
(where pybpf runs) and pybpf is given the recording machine's number of possible CPUs.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
from pathlib import Path
from typing import Any

from pybpf.case import Case, run_case
from pybpf.kernel.state import Kernel, possible_cpus

CORPUS = Path(__file__).resolve().parent.parent / "data" / "diff" / "corpus.jsonl.gz"
CORPUS_SEED = 20260101
CORPUS_COUNT = 2000
FORMAT = "pybpf-diff-corpus"

Outcome = dict[str, Any]


def kernel_outcome(case: dict[str, Any]) -> Outcome:
    """The running kernel's outcome for ``case`` (bpf() must work), run on CPU 0."""
    from pybpf import oracle

    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        res = oracle.load_case(case, dump_maps=True, log_size=1 << 20)
    finally:
        os.sched_setaffinity(0, old)
    out: Outcome = {"accepted": res.accepted, "errno": res.errno}
    if not res.accepted:
        out["message"] = res.message
        return out
    if res.run is not None:
        out["run"] = {"errno": res.run.errno, "retval": res.run.retval, "data": res.run.data}
    out["maps"] = [sorted([k, v] for k, v in dump.items) for dump in res.maps_after]
    return out


def pybpf_outcome(case: dict[str, Any], num_cpus: int | None = None) -> Outcome:
    """pybpf's outcome for ``case`` on a simulated machine with ``num_cpus`` CPUs."""
    kernel = Kernel(num_cpus=num_cpus or possible_cpus(), seed=0)
    res = run_case(Case.from_json(case), kernel, dump_maps=True)
    out: Outcome = {"accepted": res.accepted, "errno": res.errno}
    if not res.accepted:
        out["message"] = res.message
        return out
    if res.run is not None:
        run = res.run
        out["run"] = {"errno": run.get("errno", 0), "retval": run["retval"], "data": run["data"]}
        if "error" in run:
            out["run"]["error"] = run["error"]
    out["maps"] = [sorted([k, v] for k, v in items) for items in res.maps_after or []]
    return out


def differences(kernel: Outcome, mine: Outcome) -> list[str]:
    """What pybpf got wrong for a case the kernel accepted (empty: they agree)."""
    if not kernel["accepted"]:
        return []  # verdicts are the verifier's business, not compared here
    if not mine["accepted"]:
        return [f"pybpf refused the program: errno {mine['errno']}: {mine.get('message', '')}"]
    out: list[str] = []
    krun, mrun = kernel.get("run"), mine.get("run")
    if (krun is None) != (mrun is None):
        out.append(f"run: kernel {krun} pybpf {mrun}")
    elif krun is not None and mrun is not None:
        if krun["errno"] != mrun["errno"]:
            out.append(f"run errno: kernel {krun['errno']} pybpf {mrun['errno']} {mrun.get('error', '')}")
        if krun["retval"] != mrun["retval"]:
            out.append(f"retval: kernel {krun['retval']:#x} pybpf {mrun['retval']:#x}")
        if krun["data"] != mrun["data"]:
            out.append(f"data: {_first_difference(krun['data'], mrun['data'])}")
    for i, (km, mm) in enumerate(zip(kernel["maps"], mine["maps"])):
        if km != mm:
            out.append(f"map {i}: kernel {_short(km)} pybpf {_short(mm)}")
    if len(kernel["maps"]) != len(mine["maps"]):
        out.append(f"maps: kernel has {len(kernel['maps'])}, pybpf {len(mine['maps'])}")
    return out


def _first_difference(a: str, b: str) -> str:
    ba, bb = bytes.fromhex(a), bytes.fromhex(b)
    if len(ba) != len(bb):
        return f"kernel {len(ba)} bytes, pybpf {len(bb)} bytes"
    i = next(i for i in range(len(ba)) if ba[i] != bb[i])
    return f"byte {i}: kernel {ba[i:i + 8].hex()} pybpf {bb[i:i + 8].hex()}"


def _short(items: list[list[str]]) -> str:
    text = json.dumps(items)
    return text if len(text) < 300 else text[:300] + "..."


# --- the recorded corpus -------------------------------------------------------------------


@functools.cache
def read_corpus(path: Path = CORPUS) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the records (``{"case": ..., "kernel": outcome}``) of a corpus file
    (read once per process)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        header = json.loads(f.readline())
        if header.get("format") != FORMAT:
            raise ValueError(f"{path} is not a {FORMAT} file")
        return header, [json.loads(line) for line in f]
