"""``bpf_seq_printf_btf`` / ``bpf_snprintf_btf`` text byte for byte against the kernel.

Two sets, recorded by ``python -m tests.iter.btf_show_harness`` (see there):

* the types pybpf's kernel BTF shares with the running kernel's, shown by one iterator
  program through both helpers on pybpf (its own type ids), every layout flag;
* types only the running kernel has (bitfields, char arrays, named unions, arrays of
  pointers, enum64, 128-bit integers, ...), cut out of its BTF and shown by pybpf's
  formatter on that BTF.

Hashed pointers (no ``BTF_F_PTR_RAW``) are compared as "some non-NULL hash".
"""

from __future__ import annotations

from typing import Any

import pytest

from .btf_closure import unpack
from .btf_show_harness import (
    ShowCase,
    load_recorded,
    normalize,
    run_on_kernel,
    run_on_pybpf,
    show_on_btf,
    type_signature,
)

RECORDED = load_recorded()


def _usable(recorded: dict[str, Any]) -> list[tuple[ShowCase, dict[str, Any]]]:
    """The shared-type cases whose pybpf type still has the recorded layout."""
    sigs = recorded["signatures"]
    ok = {key for key, sig in sigs.items() if type_signature(*reversed(key.split(" ", 1))) == sig}
    out = []
    for rec in recorded["cases"]:
        case = ShowCase.from_json(rec)
        if case.type_id_override or f"{case.kind} {case.type_name}" in ok:
            out.append((case, {"text": rec["text"], "ret": rec["ret"]}))
    return out


def _mismatches(
    cases: list[ShowCase], want: list[dict[str, Any]], got: list[dict[str, Any]]
) -> list[str]:
    bad = []
    for case, w, g in zip(cases, want, got, strict=True):
        if normalize(case, w) != normalize(case, g):
            bad.append(f"{case.kind} {case.type_name} flags={case.flags} snprintf={case.snprintf_size}: "
                       f"kernel {w!r:.300} pybpf {g!r:.300}")  # fmt: skip
    return bad


def test_shared_types_keep_their_layout() -> None:
    """Nearly all recorded types still have the kernel's layout in pybpf's BTF (a type
    whose layout changed is left out of the comparison, not compared wrongly)."""
    usable = {f"{c.kind} {c.type_name}" for c, _ in _usable(RECORDED) if not c.type_id_override}
    assert len(usable) >= 0.9 * len(RECORDED["signatures"])


def test_shared_types_through_the_iterator_match_the_kernel() -> None:
    pairs = _usable(RECORDED)
    cases = [c for c, _ in pairs]
    got = run_on_pybpf(cases)
    bad = _mismatches(cases, [w for _, w in pairs], got)
    assert not bad, f"{len(bad)} of {len(cases)} differ:\n" + "\n".join(bad[:10])


def test_kernel_only_types_match_the_kernel() -> None:
    types = {key: (unpack(t["btf"]), t["id"]) for key, t in RECORDED["kernel_types"].items()}
    cases, want, got = [], [], []
    for rec in RECORDED["kernel_cases"]:
        case = ShowCase.from_json(rec)
        btf, tid = types[f"{case.kind} {case.type_name}"]
        cases.append(case)
        want.append({"text": rec["text"], "ret": rec["ret"]})
        got.append(show_on_btf(btf, tid, case))
    bad = _mismatches(cases, want, got)
    assert not bad, f"{len(bad)} of {len(cases)} differ:\n" + "\n".join(bad[:10])


def test_the_recording_covers_what_the_layout_depends_on() -> None:
    """Every flag, both helpers, refusals, and a multi-line nested text."""
    flags = {rec["flags"] for rec in RECORDED["cases"]}
    assert {0, 1, 2, 4, 8} <= flags | {f & bit for f in flags for bit in (1, 2, 4, 8)}
    assert any(rec["snprintf_size"] for rec in RECORDED["cases"])
    assert {rec["ret"] for rec in RECORDED["cases"]} >= {0, -22, -2, -34}
    assert any("\n  " in rec["text"] for rec in RECORDED["kernel_cases"])
    assert len(RECORDED["cases"]) + len(RECORDED["kernel_cases"]) > 1000


def _need_kernel() -> None:
    from pybpf.oracle import available, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")


@pytest.mark.kernel
@pytest.mark.slow
def test_the_running_kernel_still_shows_so() -> None:
    _need_kernel()
    pairs = _usable(RECORDED)
    cases = [c for c, _ in pairs]
    try:
        live = run_on_kernel(cases)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    bad = _mismatches(cases, [w for _, w in pairs], live)
    assert not bad, f"{len(bad)} of {len(cases)} differ:\n" + "\n".join(bad[:10])


@pytest.mark.kernel
@pytest.mark.slow
def test_kernel_only_types_live_on_the_full_kernel_btf() -> None:
    """The running kernel against pybpf's formatter on the kernel's whole BTF (not a cut)."""
    from pybpf.btf import Kind, load_vmlinux

    _need_kernel()
    real = load_vmlinux()
    cases = [ShowCase.from_json(rec) for rec in RECORDED["kernel_cases"]]
    cases = [
        c for c in cases if real.find_by_name_kind(c.type_name, Kind[c.kind.upper()]) is not None
    ]
    try:
        live = run_on_kernel(cases)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    got = [show_on_btf(real, int(real.find_by_name_kind(c.type_name, Kind[c.kind.upper()]) or 0), c)
           for c in cases]  # fmt: skip
    bad = _mismatches(cases, live, got)
    assert not bad, f"{len(bad)} of {len(cases)} differ:\n" + "\n".join(bad[:10])
