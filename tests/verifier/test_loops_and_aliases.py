"""Programs the verifier once got wrong: ``may_goto`` loops closed by a ``goto`` back to
the ``may_goto`` (pybpf used to explore them forever), and comparisons of a register with
itself (the kernel refines one register through two pointers to it).

The expected answers are Linux 6.18's, recorded by hand from ``BPF_PROG_LOAD`` at log
level 2; ``test_kernel_agrees`` re-checks them where bpf() works.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from pybpf.isa import assemble, encode_hex
from pybpf.isa.insn import Insn
from pybpf.verifier import verify

MAY_GOTO = 0xE5  # BPF_JMP | BPF_JCOND, src 0
JA, JA32, MOV_K, ADD_K, EXIT = 0x05, 0x06, 0xB7, 0x07, 0x95

# name -> (instructions, accepted, message, processed)
MAY_GOTO_CASES: dict[str, tuple[list[Insn], bool, str, int]] = {
    "may_goto, goto back to it": (
        [Insn(MAY_GOTO, off=1), Insn(JA, off=-2), Insn(MOV_K), Insn(EXIT)], True, "", 5),
    "may_goto, gotol back to it": (
        [Insn(MAY_GOTO, off=1), Insn(JA32, imm=-2), Insn(MOV_K), Insn(EXIT)], True, "", 5),
    "may_goto loop body, goto back": (
        [Insn(MOV_K), Insn(MAY_GOTO, off=2), Insn(ADD_K, imm=1), Insn(JA, off=-3), Insn(EXIT)],
        True, "", 14),
    "goto into a may_goto loop": (
        [Insn(MOV_K), Insn(JA), Insn(MAY_GOTO, off=1), Insn(JA, off=-3), Insn(EXIT)], True, "", 7),
    "may_goto, goto to itself": (
        [Insn(MAY_GOTO, off=1), Insn(JA, off=-1), Insn(MOV_K), Insn(EXIT)],
        False, "old state: R1=ctx() R10=fp0", 10),
}  # fmt: skip

SELF_COMPARE = "r9 = *(u32 *)(r1 + 0)\nr9 &= 0xffff\n{cond}\nr0 = r9\nexit\nl:\nr0 = 0\nexit"
R9_16 = "R9=scalar(smin=smin32=0,smax=umax=smax32=umax32=0xffff,var_off=(0x0; 0xffff))"
R9_NARROW = (
    "R9=scalar(smin=umin=smin32=umin32=1,smax=umax=smax32=umax32=0xfffe,var_off=(0x0; 0xffff))"
)
# condition -> the state the kernel prints after it (the fall-through branch)
SELF_COMPARE_CASES = {
    "if w9 s>= w9 goto l": R9_NARROW,
    "if r9 > r9 goto l": R9_16,
    "if w9 < w9 goto l": R9_16,
    "if r9 != r9 goto l": R9_16,
}


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def fire(*_: object) -> None:
        raise TimeoutError(f"no verdict within {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("name", MAY_GOTO_CASES)
def test_may_goto_loops_end(name: str) -> None:
    insns, accepted, message, processed = MAY_GOTO_CASES[name]
    with _deadline(20):
        r = verify(insns, "socket_filter", log_level=1)
    assert (r.accepted, r.message, r.insns_processed) == (accepted, message, processed)


def _fallthrough_line(log: str) -> str:
    return next(line for line in log.splitlines() if line.startswith("2: "))


@pytest.mark.parametrize("cond", SELF_COMPARE_CASES)
def test_register_compared_with_itself(cond: str) -> None:
    insns = assemble(SELF_COMPARE.format(cond=cond))
    r = verify(list(insns), "socket_filter", log_level=2)
    assert r.accepted
    assert _fallthrough_line(r.log).endswith("; " + SELF_COMPARE_CASES[cond])


@pytest.mark.kernel
def test_kernel_agrees() -> None:
    from pybpf import oracle

    try:
        probe = oracle.load_case(
            {"name": "probe", "prog_type": "socket_filter", "insns": encode_hex(assemble("r0 = 0\nexit"))}
        )
    except Exception as exc:  # bpf() refused here
        pytest.skip(f"no bpf(): {exc}")
    if not probe.accepted:
        pytest.skip("the kernel refuses even a trivial program here")
    for name, (insns, accepted, message, processed) in MAY_GOTO_CASES.items():
        k = oracle.load_case({"name": name, "prog_type": "socket_filter", "insns": encode_hex(insns)})
        assert (k.accepted, k.message, k.insns_processed) == (accepted, message, processed), name
    for cond, state in SELF_COMPARE_CASES.items():
        case = {"name": cond, "prog_type": "socket_filter",
                "insns": encode_hex(assemble(SELF_COMPARE.format(cond=cond)))}  # fmt: skip
        k = oracle.load_case(case, log_level=2)
        assert _fallthrough_line(k.log).endswith("; " + state), cond
