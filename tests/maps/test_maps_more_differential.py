"""The map types beyond the base set against Linux: recorded answers everywhere, the
running kernel where bpf() works.

Recorded data (tests/data/maps/{create_more,seq_more,objects_more}.json) comes from
``tests/maps/record_more.py``.  Creation covers attribute combinations around every
type's limits, with and without BTF; sequences cover bloom filters (every peek, false
positives included) and LPM tries (updates, deletes, longest-prefix lookups, key order,
batches); object cases cover the maps of sockets, devices, CPUs, perf events, cgroups and
object-local storage with real objects on the kernel side and stand-ins on pybpf's.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import creatediff
import objdiff
import perfdiff
import pytest
import seqdiff

from pybpf.maps import possible_cpus

DATA = Path(__file__).resolve().parent.parent / "data" / "maps"


def _load(name: str) -> dict[str, Any]:
    with open(DATA / name) as f:
        data: dict[str, Any] = json.load(f)
    return data


CREATE = _load("create_more.json")
SEQ = _load("seq_more.json")
OBJECTS = _load("objects_more.json")
PERF = _load("perf_output.json")


def _diff(ops: list[Any], want: list[Any], got: list[Any]) -> str:
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            return f"op {i} {ops[i]}:\n kernel {a}\n pybpf  {b}"
    return f"lengths differ: {len(want)} vs {len(got)}"


# ---------------------------------------------------------------------- recorded ---


def test_recorded_creation_rules() -> None:
    ncpu = CREATE["num_cpus"]
    bad = [f"{c['name']}: kernel {c['kernel']} pybpf {got}"
           for c in CREATE["cases"]
           if (got := creatediff.run_pybpf(c, ncpu)) != c["kernel"]]
    assert not bad, "\n".join(bad)
    assert len(CREATE["cases"]) > 500


def test_recorded_creation_covers_every_new_type() -> None:
    types = {c["spec"]["type"] for c in CREATE["cases"]}
    assert types >= {
        "perf_event_array", "cgroup_array", "stack_trace", "lpm_trie", "bloom_filter", "devmap",
        "devmap_hash", "cpumap", "xskmap", "sockmap", "sockhash", "reuseport_sockarray",
        "cgroup_storage", "percpu_cgroup_storage", "sk_storage", "inode_storage",
        "task_storage", "cgrp_storage", "user_ringbuf", "arena",
    }
    assert sum(1 for c in CREATE["cases"] if "btf_names" in c) > 100


@pytest.mark.parametrize("case", SEQ["cases"], ids=[c["name"] for c in SEQ["cases"]])
def test_recorded_sequences(case: dict[str, Any]) -> None:
    run = seqdiff.run_bloom_pybpf if case["kind"] == "bloom" else seqdiff.run_lpm_pybpf
    got = run(case)
    assert got == case["kernel"], _diff(case["ops"], case["kernel"], got)


@pytest.mark.parametrize("case", OBJECTS["cases"], ids=[c["name"] for c in OBJECTS["cases"]])
def test_recorded_object_maps(case: dict[str, Any]) -> None:
    got = objdiff.run_pybpf(case, OBJECTS["num_cpus"])
    assert got == case["kernel"], _diff(case["ops"], case["kernel"], got)


def test_recorded_perf_event_output() -> None:
    (case,) = PERF["cases"]
    assert case["flags"] == perfdiff.FLAGS
    assert perfdiff.run_pybpf() == case["kernel"]


def test_recorded_bloom_data_has_false_positives() -> None:
    """The bloom sequences only prove the hash if some absent values test positive."""
    positives = 0
    for case in SEQ["cases"]:
        if case["kind"] != "bloom":
            continue
        pushed: set[str] = set()
        for op, res in zip(case["ops"], case["kernel"]):
            if op["op"] == "push" and res == 0:
                pushed.add(op["value"])
            elif op["op"] == "peek" and res == 0 and op["value"] not in pushed:
                positives += 1
    assert positives > 50


# ------------------------------------------------------------------- live kernel ---


@pytest.mark.kernel
def test_live_creation_rules(kernel: Any) -> None:
    ncpu = possible_cpus()
    bad = []
    for c in creatediff.cases():
        want = creatediff.run_kernel(c)
        if want == {"create": errno.ENOMEM}:
            continue  # the kernel could not find the memory today: says nothing of the rules
        got = creatediff.run_pybpf(c, ncpu)
        if want != got:
            bad.append(f"{c['name']}: kernel {want} pybpf {got}")
    assert not bad, "\n".join(bad)


@pytest.mark.kernel
def test_live_bloom_fresh_seeds(kernel: Any) -> None:
    seed = int.from_bytes(os.urandom(4), "little")
    for i, (vs, me, nh) in enumerate([(4, 2, 0), (7, 11, 3), (8, 3, 9)]):
        case = seqdiff.bloom_case(seed + i, vs, me, nh, 300)
        want = seqdiff.run_bloom_kernel(case)
        got = seqdiff.run_bloom_pybpf(case)
        assert got == want, f"seed {seed + i}: " + _diff(case["ops"], want, got)


@pytest.mark.kernel
def test_live_lpm_fresh_seeds(kernel: Any) -> None:
    seed = int.from_bytes(os.urandom(4), "little")
    for i, (d, vs, me) in enumerate([(1, 2, 5), (4, 8, 16), (6, 4, 30), (16, 8, 12)]):
        case = seqdiff.lpm_case(seed + i, d, vs, me, 300)
        want = seqdiff.run_lpm_kernel(case)
        got = seqdiff.run_lpm_pybpf(case)
        assert got == want, f"seed {seed + i}: " + _diff(case["ops"], want, got)


@pytest.mark.kernel
def test_live_perf_event_output(kernel: Any) -> None:
    if not {0, 1} <= os.sched_getaffinity(0) or possible_cpus() < 2:
        pytest.skip("needs CPUs 0 and 1")
    try:
        want = perfdiff.run_kernel()
    except OSError as exc:  # pragma: no cover - perf_event_open refused
        pytest.skip(f"perf events unavailable: {exc}")
    assert perfdiff.run_pybpf() == want


@pytest.mark.kernel
@pytest.mark.parametrize("case", objdiff.cases(), ids=lambda c: c["name"])
def test_live_object_maps(kernel: Any, case: dict[str, Any]) -> None:
    try:
        want = objdiff.run_kernel(case)
    except OSError as exc:  # pragma: no cover - a kind of object this host cannot make
        pytest.skip(f"cannot open the objects this case uses: {exc}")
    got = objdiff.run_pybpf(case, possible_cpus())
    assert got == want, _diff(case["ops"], want, got)
