"""check_mem_access's inlined path for constant stack offsets gives what the general path
gives: the same verdict, message, level-2 log, processed count and rewritten program for
spills, fills and stores of every size, aligned or not, inside the frame or past it, read
before written or not, through the frame pointer or a copy of it moved by a constant."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pybpf.isa.insn import Insn
from pybpf.verifier import Options, mem, verify

ALU64_MOV_K, ALU64_MOV_X, ALU64_ADD_K = 0xB7, 0xBF, 0x07
LDX_W, EXIT = 0x61, 0x95
SIZES = [0x00, 0x08, 0x10, 0x18]  # W, H, B, DW
STX_MEM, ST_MEM, LDX_MEM, LDX_MEMSX = 0x63, 0x62, 0x61, 0x81


@contextmanager
def general_path() -> Iterator[None]:
    setattr(mem, "FAST_PATHS", False)  # noqa: B010 - a module flag, typed loosely
    try:
        yield
    finally:
        setattr(mem, "FAST_PATHS", True)  # noqa: B010


offs = st.one_of(
    st.sampled_from([-8, -16, -4, -1, -2, -6, -512, -520, -504, 0, 8]),
    st.integers(-530, 8),
)


@st.composite
def access(draw: st.DrawFn) -> Insn:
    size = draw(st.sampled_from(SIZES))
    ptr = draw(st.sampled_from([10, 10, 9]))
    off = draw(st.one_of(st.integers(-8, -1).map(lambda i: 8 * i), offs))
    kind = draw(st.sampled_from(["stx", "st", "ldx", "ldxsx"]))
    if kind == "stx":
        src = draw(st.sampled_from([1, 2, 3, 4, 5, 9, 6]))
        if src in (1, 5, 9, 6) and draw(st.integers(0, 4)):  # pointers: mostly whole spills
            size = 0x18
        return Insn(STX_MEM | size, ptr, src, off, 0)
    if kind == "st":
        return Insn(ST_MEM | size, ptr, 0, off, draw(st.sampled_from([0, 1, -1, 300, 1 << 20])))
    dst = draw(st.integers(6, 8))
    if kind == "ldxsx" and size != 0x18:
        return Insn(LDX_MEMSX | size, dst, ptr, off, 0)
    return Insn(LDX_MEM | size, dst, ptr, off, 0)


@st.composite
def program(draw: st.DrawFn) -> list[Insn]:
    """Registers holding constants, an unknown number, the context and a stack pointer
    (r9 = r10 + a constant), then stack accesses; then ``r0 = 0; exit``."""
    body = [
        Insn(ALU64_MOV_K, 2, 0, 0, draw(st.sampled_from([0, 1, 255, 256, -1, 1 << 30]))),
        Insn(LDX_W, 3, 1, 0, 0),  # skb->len: an unknown u32
        Insn(ALU64_MOV_K, 4, 0, 0, 0),
        Insn(ALU64_MOV_X, 5, 1),  # the context: a pointer
        Insn(ALU64_MOV_X, 9, 10),
        Insn(ALU64_ADD_K, 9, 0, 0, draw(st.sampled_from([-8, -16, -3, -256]))),
    ]
    for _ in range(draw(st.integers(1, 10))):
        body.append(draw(access()))
    return [*body, Insn(ALU64_MOV_K, 0), Insn(EXIT)]


def _outcome(insns: list[Insn], options: Options) -> tuple[object, ...]:
    r = verify(insns, "socket_filter", log_level=2, options=options)
    xlated = [str(i) for i in r.xlated] if r.accepted else []
    return (r.accepted, r.errno, r.message, r.log, r.insns_processed, xlated)


# a spill, a narrow fill of it, a store of a constant, a read of what was never written
# (refused to the unprivileged), a misaligned word
SPILL_FILL = [
    Insn(ALU64_MOV_K, 2, 0, 0, 7), Insn(STX_MEM | 0x18, 10, 2, -8), Insn(LDX_MEM | 0x10, 3, 10, -8),
    Insn(ST_MEM | 0x00, 10, 0, -16, 5), Insn(LDX_MEMSX | 0x08, 4, 10, -16),
    Insn(STX_MEM | 0x00, 10, 2, -24), Insn(LDX_MEM | 0x18, 5, 10, -40),
    Insn(STX_MEM | 0x00, 10, 2, -22),
    Insn(ALU64_MOV_K, 0), Insn(EXIT),
]  # fmt: skip


@pytest.mark.slow
@settings(max_examples=120, deadline=None)
@example(SPILL_FILL, True)
@example(SPILL_FILL, False)
@example(SPILL_FILL[:7] + SPILL_FILL[-2:], True)
@example(SPILL_FILL[:5] + SPILL_FILL[-2:], False)
@given(program(), st.booleans())
def test_stack_accesses_verify_the_same_both_ways(insns: list[Insn], privileged: bool) -> None:
    options = Options(log_level=2) if privileged else Options.unprivileged(log_level=2)
    fast = _outcome(insns, options)
    with general_path():
        slow = _outcome(insns, options)
    assert fast == slow
