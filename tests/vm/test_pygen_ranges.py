"""The python tier's masks: left out where values stay in range or only their low 64 bits
matter, and never where the result would change."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.cli.cmd_asm import read_source
from pybpf.errors import BpfError
from pybpf.isa import Insn, assemble, lddw
from pybpf.isa.opcodes import AluOp, InsnClass, JmpOp, Mode, Size, Source
from pybpf.kernel.state import Kernel
from pybpf.vm.executable import Executable
from pybpf.vm.pygen.module import generate
from pybpf.vm.raw import run_raw

BENCH = Path(__file__).resolve().parents[2] / "bench" / "programs"
MASK = "0xffffffffffffffff"
KERNEL = Kernel(seed=0)


def _loop_body(source: str) -> list[str]:
    """The lines of the first loop up to its back jump (what runs every round)."""
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "while True:")
    indent = len(lines[start + 1]) - len(lines[start + 1].lstrip())
    body = []
    for line in lines[start + 1 :]:
        if len(line) - len(line.lstrip()) < indent or line.strip() == "continue":
            break
        body.append(line)
    return body


def test_tight_loop_masks_once_per_round() -> None:
    """alu_loop: the counter stays under its bound (no mask), the xorshift state is
    masked once, before its right shift; the exit masks what the loop left dirty."""
    insns = list(assemble(read_source(str(BENCH / "alu_loop.s"))))
    code = generate(Executable(insns, "alu_loop"))
    body = _loop_body(code.source)
    assert sum(line.count(MASK) for line in body) == 1
    assert any(line.strip() == "r1 = r1 + 0x1" for line in body)
    assert run_raw(insns, bytes(16), KERNEL, "python") == run_raw(
        insns, bytes(16), KERNEL, "interp"
    )


RING = [
    AluOp.ADD,
    AluOp.SUB,
    AluOp.MUL,
    AluOp.LSH,
    AluOp.OR,
    AluOp.AND,
    AluOp.XOR,
    AluOp.NEG,
    AluOp.MOV,
]
CLEAN_USERS = [AluOp.RSH, AluOp.ARSH, AluOp.DIV, AluOp.MOD]
JMPS = [
    JmpOp.JEQ,
    JmpOp.JNE,
    JmpOp.JGT,
    JmpOp.JGE,
    JmpOp.JLT,
    JmpOp.JLE,
    JmpOp.JSET,
    JmpOp.JSGT,
    JmpOp.JSLT,
]
REGS = [0, 1, 2, 3]
IMM = st.one_of(
    st.sampled_from([0, 1, -1, 2, 13, 63, 64, -16, 0x7FFFFFFF, -(1 << 31)]),
    st.integers(-(1 << 31), (1 << 31) - 1),
)


@st.composite
def alu_insn(draw: st.DrawFn) -> Insn:
    op = draw(st.sampled_from(RING * 3 + CLEAN_USERS))
    cls = draw(st.sampled_from([InsnClass.ALU64] * 4 + [InsnClass.ALU]))
    d = draw(st.sampled_from(REGS))
    if op == AluOp.NEG:
        return Insn(cls | op, d)
    if draw(st.booleans()):
        return Insn(cls | op | Source.X, d, draw(st.sampled_from(REGS)))
    return Insn(cls | op, d, 0, 0, draw(IMM))


@st.composite
def dirty_loops(draw: st.DrawFn) -> list[Insn]:
    """r9 = buffer; r0..r3 random; a counted loop (r4) of ring-heavy ALU code with a
    conditional skip inside; then r0..r3 stored (64-bit stores need clean values)."""
    out: list[Insn] = [Insn(0xBF, 9, 1)]
    for r in REGS:
        out += lddw(r, draw(st.one_of(st.integers(0, (1 << 64) - 1), st.integers(0, 1000))))
    rounds = draw(st.integers(1, 40))
    out.append(Insn(InsnClass.ALU64 | AluOp.MOV, 4, 0, 0, 0))
    body: list[Insn] = [draw(alu_insn()) for _ in range(draw(st.integers(1, 8)))]
    skipped = [draw(alu_insn()) for _ in range(draw(st.integers(1, 3)))]
    jcls = draw(st.sampled_from([InsnClass.JMP, InsnClass.JMP, InsnClass.JMP32]))
    jop = draw(st.sampled_from(JMPS))
    if draw(st.booleans()):
        cond = Insn(
            jcls | jop | Source.X,
            draw(st.sampled_from(REGS)),
            draw(st.sampled_from(REGS)),
            len(skipped),
        )
    else:
        cond = Insn(jcls | jop, draw(st.sampled_from(REGS)), 0, len(skipped), draw(IMM))
    tail = [draw(alu_insn()) for _ in range(draw(st.integers(0, 3)))]
    loop = [*body, cond, *skipped, *tail, Insn(InsnClass.ALU64 | AluOp.ADD, 4, 0, 0, 1)]
    back = Insn(InsnClass.JMP | JmpOp.JLT, 4, 0, -(len(loop) + 1), rounds)
    out += [*loop, back]
    out += [Insn(InsnClass.STX | Mode.MEM | Size.DW, 9, r, 8 * r) for r in REGS]
    out.append(Insn(0x95))
    return out


def _outcome(insns: list[Insn], tier: str) -> tuple[object, bytes]:
    out = bytearray(64)
    try:
        r0: object = run_raw(insns, bytes(64), KERNEL, tier, out=out)
    except BpfError as exc:
        r0 = (type(exc).__name__, exc.errno)
    return r0, bytes(out)


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(insns=dirty_loops())
def test_dirty_values_give_the_interpreters_results(insns: list[Insn]) -> None:
    assert _outcome(insns, "python") == _outcome(insns, "interp")
