"""Hypothesis strategies for instructions the kernel's structural rules accept."""

from __future__ import annotations

from hypothesis import strategies as st

from pybpf.isa import KNOWN_OPCODES, Insn, reserved_fields_error
from pybpf.isa.opcodes import OPCODE_LDDW, AtomicOp

S16 = st.integers(-(1 << 15), (1 << 15) - 1)
S32 = st.integers(-(1 << 31), (1 << 31) - 1)
REG = st.integers(0, 10)
SMALL = st.sampled_from([0, 1, 8, 16, 32, 64, -1])


@st.composite
def valid_insn(draw: st.DrawFn) -> list[Insn]:
    """One instruction (two slots for lddw) whose fields the kernel accepts."""
    code = draw(st.sampled_from(sorted(KNOWN_OPCODES)))
    if code == OPCODE_LDDW:
        src = draw(st.integers(0, 6))
        lo = draw(S32)
        hi = 0 if src in (1, 5) else draw(S32)
        return [Insn(code, draw(REG), src, 0, lo), Insn(0, 0, 0, 0, hi)]
    imm = draw(st.one_of(SMALL, S32))
    if code & 0x07 == 0x03 and code & 0xE0 == 0xC0:
        imm = draw(st.sampled_from([int(a) for a in AtomicOp]))
    dst, src, off = draw(REG), draw(st.one_of(st.just(0), REG)), draw(st.one_of(SMALL, S16))
    if code == 0x95:
        off = 0  # the kernel ignores an exit's offset, and no text shows it: keep it canonical
    # repair fields the kernel reserves for this opcode without drawing again (rejection
    # sampling makes hypothesis slow): keep as much of the drawn instruction as possible
    for cand_src, cand_off, cand_imm in _repairs(src, off, imm):
        insn = Insn(code, dst, cand_src, cand_off, cand_imm)
        if reserved_fields_error(insn) is None:
            return [insn]
    return [Insn(0x95)]


def _repairs(src: int, off: int, imm: int) -> list[tuple[int, int, int]]:
    out = []
    for s in (src, 0, 1):
        for o in (off, 0, 1):
            for i in (imm, 0, 16, 1):
                out.append((s, o, i))
    return out
