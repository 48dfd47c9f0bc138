"""Precision through linked scalars: pybpf's verifier against the kernel's.

A conditional jump refines every scalar that shares an id with its operands; the kernel
records those scalars in the jump history and, when precision is backtracked over the
jump, makes them all precise if one of them is. Without that, a checkpoint keeps a
linked register imprecise and pruning calls unequal states equal (false accepts).

Each case is compared on its verdict, errno, message, processed-instruction count and
every ``mark_precise:`` line of the level-2 log. Recorded answers:
tests/data/verifier/linked_precision_kernel.json (regenerate with
``python -m tests.verifier.test_linked_precision`` where bpf() works).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pybpf.isa.asm_c import assemble_c
from pybpf.kernel.progtypes import prog_type_from_name
from pybpf.verifier import Options, verify

DATA = Path(__file__).resolve().parents[1] / "data" / "verifier" / "linked_precision_kernel.json"
TEST_STATE_FREQ = 8  # BPF_F_TEST_STATE_FREQ: a checkpoint at every prune point
_PROCESSED = re.compile(r"processed (\d+) insns")
_KEEP = re.compile(r"^mark_precise: ")


@dataclass(frozen=True)
class Case:
    """One program in the kernel-log assembly syntax, with its load flags."""

    name: str
    text: str
    prog_flags: int = TEST_STATE_FREQ
    prog_type: str = "socket_filter"


# r6 and r7 share an id; the compare on r7 refines r6 too, so the later demand for r6's
# precision must reach r7 and r0 through that compare (selftest linked_regs_broken_link_2).
_REG_REG = """
call bpf_get_prandom_u32#7
r6 = r0
r7 = r0
call bpf_get_prandom_u32#7
if r0 > 0x1 goto pc+0
if r7 >= r0 goto pc+3
r7 += r7
if r6 == 0x0 goto pc+1
r0 /= 0
r0 = 0
exit
"""

# One path links r7 to r6, the other does not; r0 shares r6's id but is dead at the
# compare, so only the live registers are linked (selftest check_ids_in_regsafe).
_FP_MATH = """
r1 = 0
*(u64 *)(r10 -8) = r1
r9 = r10
r9 += -8
call bpf_ktime_get_ns#5
r7 = r0
call bpf_ktime_get_ns#5
r6 = r0
if r6 > r7 goto pc+1
r7 = r6
if r7 > 0x4 goto pc+2
r9 += r6
r0 = *(u8 *)(r9 +0)
r0 = 0
exit
"""

# A spilled copy shares the id: the fill and its use as an offset need the slot precise.
_SPILL = """
r1 = 0
*(u64 *)(r10 -16) = r1
call bpf_get_prandom_u32#7
*(u64 *)(r10 -8) = r0
if r0 > 0x7 goto pc+5
r1 = *(u64 *)(r10 -8)
r2 = r10
r2 += -16
r2 += r1
r0 = *(u8 *)(r2 +0)
r0 = 0
exit
"""

# Nine live copies of one scalar: six fit in the history record, the rest lose their id
# and are not refined by the compare (r6 stays unbounded).
_OVERFLOW = """
r0 = 0
*(u64 *)(r10 -8) = r0
call bpf_get_prandom_u32#7
r1 = r0
r2 = r0
r3 = r0
r4 = r0
r5 = r0
r6 = r0
r7 = r0
r8 = r0
if r0 > 0x7 goto pc+11
r9 = r10
r9 += -8
r9 += r{use}
r0 = *(u8 *)(r9 +0)
r0 = r1
r0 += r2
r0 += r3
r0 += r4
r0 += r5
r0 += r6
r0 += r7
r0 += r8
r0 = 0
exit
"""

# The caller's r6 and the callee's r1 share an id across frames; the callee's compare
# refines both and the caller then uses r6 as a stack offset (refined only on the path
# that returns 0 when {guard} is set).
_FRAMES = """
r1 = 0
*(u64 *)(r10 -8) = r1
call bpf_get_prandom_u32#7
r6 = r0
r1 = r0
call pc+{call}
{guard}r9 = r10
r9 += -8
r9 += r6
r0 = *(u8 *)(r9 +0)
r0 = 0
exit
if r1 > 0x7 goto pc+2
r0 = 0
exit
r0 = 1
exit
"""

CASES: tuple[Case, ...] = (
    Case("reg_reg_compare", _REG_REG),
    Case("reg_reg_compare_no_freq", _REG_REG, prog_flags=0),
    Case("fp_math_ids", _FP_MATH),
    Case("fp_math_ids_no_freq", _FP_MATH, prog_flags=0),
    Case("spilled_copy", _SPILL),
    Case("overflow_r5_refined", _OVERFLOW.replace("{use}", "5")),
    Case("overflow_r6_not_refined", _OVERFLOW.replace("{use}", "6")),
    Case("caller_frame", _FRAMES.format(call=6, guard="")),
    Case("caller_frame_no_freq", _FRAMES.format(call=6, guard=""), prog_flags=0),
    Case("caller_frame_guarded", _FRAMES.format(call=7, guard="if r0 != 0x0 goto pc+4\n")),
    Case("caller_frame_guarded_no_freq", _FRAMES.format(call=7, guard="if r0 != 0x0 goto pc+4\n"), prog_flags=0),
)


def _summary(accepted: bool, errno: int, message: str, log: str) -> dict[str, Any]:
    m = _PROCESSED.search(log)
    return {
        "accepted": accepted,
        "errno": errno,
        "message": message,
        "processed": int(m.group(1)) if m else None,
        "mark_precise": [line for line in log.splitlines() if _KEEP.match(line)],
    }


def pybpf_answer(case: Case) -> dict[str, Any]:
    insns = assemble_c(case.text)
    pt = prog_type_from_name(case.prog_type)
    r = verify(insns, pt, options=Options(log_level=2).with_prog_flags(case.prog_flags))
    return _summary(r.accepted, r.errno, r.message if not r.accepted else "", r.log)


def kernel_answer(case: Case) -> dict[str, Any] | None:
    """The running kernel's answer, or None where bpf() is refused."""
    from pybpf import oracle
    from pybpf.oracle.log import summarize_log

    if not oracle.available():
        return None
    insns = assemble_c(case.text)
    pt = prog_type_from_name(case.prog_type)
    k = oracle.prog_load(int(pt), insns, log_level=2, prog_flags=case.prog_flags)
    if k.fd is not None:
        oracle.close(k.fd)
    message = summarize_log(k.log).message if k.errno else ""
    return _summary(not k.errno, k.errno, message, k.log)


def recorded() -> dict[str, Any]:
    return dict(json.loads(DATA.read_text()))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_matches_recorded_kernel(case: Case) -> None:
    want = recorded()[case.name]
    assert pybpf_answer(case) == want


@pytest.mark.kernel
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_matches_running_kernel(case: Case) -> None:
    got = kernel_answer(case)
    if got is None:
        pytest.skip("bpf() refused")
    assert pybpf_answer(case) == got


def test_recorded_kernel_rejects_the_selftest_forms() -> None:
    """The recorded answers are the ones the selftests expect (guards a bad recording)."""
    data = recorded()
    assert data["reg_reg_compare"]["message"] == "div by zero"
    assert not data["fp_math_ids"]["accepted"]
    assert not data["fp_math_ids_no_freq"]["accepted"]
    assert data["overflow_r5_refined"]["accepted"]
    assert not data["overflow_r6_not_refined"]["accepted"]


def _record() -> int:
    out: dict[str, Any] = {}
    for case in CASES:
        got = kernel_answer(case)
        if got is None:
            print("bpf() refused: nothing recorded", file=sys.stderr)
            return 1
        out[case.name] = got
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {DATA} ({len(out)} cases)")
    return 0


if __name__ == "__main__":
    raise SystemExit(_record())
