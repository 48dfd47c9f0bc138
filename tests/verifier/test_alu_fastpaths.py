"""The verifier's fast paths for ALU instructions give exactly what the general paths give.

``scalar.SHORTCUTS`` and ``alu.FAST_PATHS`` switch the shortcuts off: the scalar domain
then computes constants through the full transfer functions and reg_bounds_sync, and
``check_alu_op`` goes through ``check_reg_arg`` and ``adjust_reg_min_max_vals`` for every
instruction.  Each property below runs the same input both ways and wants the same
answer: the Bounds for the scalar operations, and for whole programs the verdict, the
message, the level-2 log, the processed count and the rewritten instructions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pybpf.isa.insn import Insn
from pybpf.verifier import Options, alu, scalar, tnum, verify
from pybpf.verifier.scalar import Bounds
from pybpf.verifier.tnum import Tnum

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1
S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1
S32_MIN, S32_MAX = -(1 << 31), (1 << 31) - 1

ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR, MOV, ARSH = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0,
)  # fmt: skip
BINARY = [ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, MOD, XOR, ARSH]

INTERESTING = [0, 1, 2, 7, 31, 32, 63, 64, 0xFF, 0x7FFF, 0x8000, 0xFFFF, S32_MAX, 1 << 31,
               U32, 1 << 32, S64_MAX, 1 << 63, U64 - 1, U64]  # fmt: skip


@contextmanager
def general_paths() -> Iterator[None]:
    """The general computation everywhere (no scalar shortcuts, no inlined ALU paths)."""
    setattr(scalar, "SHORTCUTS", False)  # noqa: B010 - module flags, typed loosely
    setattr(alu, "FAST_PATHS", False)  # noqa: B010
    try:
        yield
    finally:
        setattr(scalar, "SHORTCUTS", True)  # noqa: B010
        setattr(alu, "FAST_PATHS", True)  # noqa: B010


u64s = st.one_of(st.integers(0, U64), st.sampled_from(INTERESTING), st.integers(0, 300))


@st.composite
def abstract(draw: st.DrawFn) -> Bounds:
    """A synced abstract value: a constant (made by ``known`` or not), or some bits
    unknown with a range around a member."""
    x = draw(u64s)
    kind = draw(st.sampled_from(["known", "copy", "bits", "range"]))
    if kind == "known":
        return scalar.known(x)
    if kind == "copy":  # equal to known(x) but another object, so not found in its cache
        k = scalar.known(x)
        return Bounds(Tnum(x, 0), k.smin, k.smax, k.umin, k.umax, k.s32_min, k.s32_max,
                      k.u32_min, k.u32_max)  # fmt: skip
    mask = draw(st.sampled_from([0xFF, 0xF0, U32, 1 << 63 | 1, U64, 0x3]))
    b = Bounds(Tnum(x & ~mask, mask), S64_MIN, S64_MAX, 0, U64, S32_MIN, S32_MAX, 0, U32)
    if kind == "range":
        lo = draw(st.integers(0, 1000))
        hi = draw(st.integers(0, 1000))
        b = Bounds(b.var_off, b.smin, b.smax, x - lo if x >= lo else 0, min(x + hi, U64),
                   b.s32_min, b.s32_max, b.u32_min, b.u32_max)  # fmt: skip
    return scalar.sync(b)


@st.composite
def inconsistent_const(draw: st.DrawFn) -> Bounds:
    """A constant tnum whose ranges do not all agree with it (a dead branch's value)."""
    x = draw(u64s)
    k = scalar.known(x)
    fields = [k.smin, k.smax, k.umin, k.umax, k.s32_min, k.s32_max, k.u32_min, k.u32_max]
    i = draw(st.integers(0, 7))
    fields[i] += draw(st.sampled_from([-1, 1]))
    return Bounds(Tnum(x, 0), *fields)


def _slow(fn: Callable[..., Bounds], *args: Any) -> Bounds:
    with general_paths():
        return fn(*args)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(BINARY), abstract(), u64s, st.booleans())
def test_alu_imm_is_alu_with_a_constant(op: int, dst: Bounds, imm: int, alu32: bool) -> None:
    if op in (LSH, RSH, ARSH):
        imm %= 32 if alu32 else 64
    fast = scalar.alu_imm(op, dst, imm, alu32)
    assert fast == _slow(scalar.alu, op, dst, scalar.known(imm), alu32)
    assert fast == _slow(scalar.alu_imm, op, dst, imm, alu32)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([*BINARY, NEG, MOV]), abstract(), abstract(), st.booleans())
def test_alu_shortcuts_agree(op: int, dst: Bounds, src: Bounds, alu32: bool) -> None:
    assert scalar.alu(op, dst, src, alu32) == _slow(scalar.alu, op, dst, src, alu32)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(BINARY), inconsistent_const(), u64s, st.booleans())
def test_inconsistent_constants_take_the_general_path(
    op: int, dst: Bounds, imm: int, alu32: bool
) -> None:
    assert not scalar._is_known(dst)
    fast = scalar.alu_imm(op, dst, imm, alu32)
    assert fast == _slow(scalar.alu, op, dst, scalar.known(imm), alu32)


@given(st.integers(-(1 << 66), 1 << 66))
def test_known_wraps_and_shares(v: int) -> None:
    u = v & U64
    b = scalar.known(v)
    s = u - (1 << 64) if u >> 63 else u
    lo = u & U32
    s32 = lo - (1 << 32) if lo >> 31 else lo
    assert b == Bounds(Tnum(u, 0), s, s, u, u, s32, s32, lo, lo)
    assert scalar.known(u) is b
    assert scalar._is_known(b)
    assert scalar.check_invariants(b) is None


@given(abstract(), inconsistent_const())
def test_is_known_is_the_field_by_field_test(b: Bounds, bad: Bounds) -> None:
    for x in (b, bad):
        v = x.var_off.value
        k = scalar.known(v)
        expect = not x.var_off.mask and (
            (x.smin, x.smax, x.umin, x.umax, x.s32_min, x.s32_max, x.u32_min, x.u32_max)
            == (k.smin, k.smax, k.umin, k.umax, k.s32_min, k.s32_max, k.u32_min, k.u32_max)
        )
        if not x.var_off.mask:
            assert scalar._is_known(x) == expect


def test_fast_constructors_make_the_dataclasses() -> None:
    t = tnum.new_tnum(5, 0xF0)
    assert type(t) is Tnum and t == Tnum(5, 0xF0) and hash(t) == hash(Tnum(5, 0xF0))
    b = scalar._new(t, -1, 2, 3, 4, -5, 6, 7, 8)
    ref = Bounds(Tnum(5, 0xF0), -1, 2, 3, 4, -5, 6, 7, 8)
    assert type(b) is Bounds and b == ref and hash(b) == hash(ref) and repr(b) == repr(ref)
    for obj, name in ((t, "mask"), (b, "smin")):
        try:
            setattr(obj, name, 0)
        except AttributeError:  # FrozenInstanceError is one
            pass
        else:
            raise AssertionError(f"{type(obj).__name__} is writable")


# ---------------------------------------------------------------------------------------
# Whole programs: check_alu_op's inlined paths against the general one


ALU, ALU64, JMP, JMP32 = 0x04, 0x07, 0x05, 0x06
K, X = 0x00, 0x08
LDX_W = 0x61
JUMPS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0]
imms = st.one_of(st.sampled_from([0, 1, -1, 7, 8, 31, 32, 63, 0x7FFFFFFF, -0x80000000, 255]),
                 st.integers(-(1 << 31), (1 << 31) - 1))  # fmt: skip
regs = st.one_of(st.integers(2, 5), st.integers(0, 10))


@st.composite
def alu_insn(draw: st.DrawFn) -> Insn:
    cls = draw(st.sampled_from([ALU, ALU64]))
    op = draw(st.sampled_from([*BINARY, ADD, ADD, MOV, MOV, NEG]))
    src = draw(st.sampled_from([K, X]))
    dst = draw(
        st.one_of(st.integers(2, 5), st.integers(2, 5), st.integers(0, 9), st.integers(0, 11))
    )
    if op == NEG:
        return Insn(cls | op | K, dst)
    if src == K:
        imm = draw(imms)
        if op in (LSH, RSH, ARSH) and draw(st.booleans()):
            imm %= 64 if cls == ALU64 else 32
        return Insn(cls | op | K, dst, 0, 0, imm)
    off = draw(st.sampled_from([0, 0, 0, 8, 16, 32])) if op == MOV else 0
    return Insn(cls | op | X, dst, draw(regs), off, 0)


@st.composite
def program(draw: st.DrawFn) -> list[Insn]:
    """Moves and arithmetic on constants, unknown numbers (read from the context) and
    pointers, with forward conditional jumps between them; then ``r0 = 0; exit``."""
    n = draw(st.integers(1, 14))
    body: list[Insn] = []
    body.append(Insn(ALU64 | MOV | K, 0, 0, 0, draw(imms)))
    for r in range(2, 9):  # numbers, known or not
        if draw(st.booleans()):  # skb->len or skb->protocol: an unknown u32
            body.append(Insn(LDX_W, r, 1, draw(st.sampled_from([0, 16])), 0))
        else:
            body.append(Insn(draw(st.sampled_from([ALU, ALU64])) | MOV | K, r, 0, 0, draw(imms)))
    body.append(Insn(ALU64 | MOV | X, 9, draw(st.sampled_from([1, 10]))))  # a pointer
    for _ in range(draw(st.integers(0, 3))):  # copies share an id (linked registers)
        body.append(Insn(ALU64 | MOV | X, draw(st.integers(2, 5)), draw(st.integers(2, 5))))
    for i in range(n):
        if draw(st.integers(0, 4)) == 0:
            cls = draw(st.sampled_from([JMP, JMP32]))
            op = draw(st.sampled_from(JUMPS))
            target = draw(st.integers(0, n - i - 1))  # to the body or the final r0 = 0
            if draw(st.booleans()):
                body.append(Insn(cls | op | K, draw(regs), 0, target, draw(imms)))
            else:
                body.append(Insn(cls | op | X, draw(regs), draw(regs), target, 0))
        else:
            body.append(draw(alu_insn()))
    return [*body, Insn(ALU64 | MOV | K, 0, 0, 0, 0), Insn(0x95)]


def _outcome(insns: list[Insn], options: Options) -> tuple[object, ...]:
    r = verify(insns, "socket_filter", log_level=2, options=options)
    xlated = [str(i) for i in r.xlated] if r.accepted else []
    return (r.accepted, r.errno, r.message, r.log, r.insns_processed, xlated)


# r2 = skb->len; r3 = r2; r3 += 5 (a linked register with a constant added: id=1+5)
LINKED_ADD = [
    Insn(LDX_W, 2, 1, 0, 0), Insn(ALU64 | MOV | X, 3, 2), Insn(ALU64 | ADD | K, 3, 0, 0, 5),
    Insn(JMP | 0x20 | K, 3, 0, 1, 10), Insn(ALU64 | MOV | K, 0), Insn(0x95),
]  # fmt: skip

# r2 = skb->len; r3 = r2; if r2 != 7 skip: both are then the constant 7 and keep their id,
# so the constant paths of r3 += 5 and r2 += r3 must track the added constant as well
LINKED_KNOWN = [
    Insn(LDX_W, 2, 1, 0, 0), Insn(ALU64 | MOV | X, 3, 2), Insn(JMP | 0x50 | K, 2, 0, 4, 7),
    Insn(ALU64 | ADD | K, 3, 0, 0, 5), Insn(ALU64 | ADD | X, 2, 3), Insn(ALU64 | SUB | X, 3, 3),
    Insn(JMP | 0x20 | K, 2, 0, 0, 10), Insn(ALU64 | MOV | K, 0), Insn(0x95),
]  # fmt: skip

# constant shifts by a constant register, within and beyond the width (no constant then)
SHIFT_BY_CONSTANTS = [
    Insn(ALU64 | MOV | K, 2, 0, 0, 3), Insn(ALU64 | MOV | K, 3, 0, 0, 40),
    Insn(ALU64 | MOV | K, 4, 0, 0, 63), Insn(ALU | LSH | X, 2, 3), Insn(ALU64 | MOV | K, 5, 0, 0, -9),
    Insn(ALU64 | ARSH | X, 5, 4), Insn(ALU64 | LSH | X, 4, 3), Insn(ALU64 | RSH | X, 4, 4),
    Insn(ALU64 | MOV | K, 0), Insn(0x95),
]  # fmt: skip

# pointers with no variable part plus constants: within the stack, past it (refused to the
# unprivileged), far enough for the offset checks, and a context pointer
PTR_ADDS = [
    Insn(ALU64 | MOV | X, 9, 10), Insn(ALU64 | ADD | K, 9, 0, 0, -8),
    Insn(ALU64 | MOV | X, 8, 1), Insn(ALU64 | ADD | K, 8, 0, 0, 16), Insn(ALU64 | ADD | K, 8, 0, 0, -16),
    Insn(ALU64 | MOV | X, 7, 10), Insn(ALU64 | ADD | K, 7, 0, 0, -600),
    Insn(ALU64 | ADD | K, 8, 0, 0, 0x1FFFFFFF), Insn(ALU64 | ADD | K, 8, 0, 0, 1),
    Insn(ALU64 | MOV | K, 0), Insn(0x95),
]  # fmt: skip
PTR_ADDS_SHORT = PTR_ADDS[:5] + PTR_ADDS[-2:]
PTR_ADDS_FAR = PTR_ADDS[:5] + PTR_ADDS[7:]


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@example(LINKED_ADD, True)
@example(PTR_ADDS, True)
@example(PTR_ADDS, False)
@example(PTR_ADDS_SHORT, False)
@example(PTR_ADDS_FAR, False)
@example(LINKED_KNOWN, True)
@example(LINKED_KNOWN, False)
@example(SHIFT_BY_CONSTANTS, True)
@example(SHIFT_BY_CONSTANTS, False)
@given(program(), st.booleans())
def test_programs_verify_the_same_both_ways(insns: list[Insn], privileged: bool) -> None:
    options = Options(log_level=2) if privileged else Options.unprivileged(log_level=2)
    fast = _outcome(insns, options)
    with general_paths():
        slow = _outcome(insns, options)
    assert fast == slow
