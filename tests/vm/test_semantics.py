"""Every ALU and JMP operation, on every tier, against plain Python arithmetic."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.isa import Insn
from pybpf.isa.opcodes import AluOp, InsnClass, JmpOp, Source
from pybpf.kernel.state import Kernel
from pybpf.vm.raw import run_raw as _run_raw

from .conftest import TIERS

U64 = st.one_of(st.integers(0, (1 << 64) - 1), st.sampled_from([0, 1, 2, 63, 64, (1 << 63), (1 << 64) - 1, (1 << 32) - 1, 1 << 31]))
M64, M32 = (1 << 64) - 1, (1 << 32) - 1
KERNEL = Kernel(seed=0)  # pure arithmetic: one kernel (and so one runner per tier) for all


# The jit compiles every distinct program (tens of ms each), so operands come from memory
# (one program per operation) and its immediates from a few edge values.
JIT_IMMS = (0, 1, -1, -(1 << 31))


def run_raw(prog: tuple[list[Insn], bytes], tier: str) -> int:
    insns, mem = prog
    return _run_raw(insns, mem, kernel=KERNEL, tier=tier)


def imm_for(tier: str, b: int) -> int:
    """The 32-bit immediate a test draws from ``b`` (the jit sees only a few)."""
    return JIT_IMMS[b % len(JIT_IMMS)] if tier == "jit" else s(b, 32)


def s(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def c_mod(a: int, b: int) -> int:
    return a - b * c_div(a, b)


def expected_alu(op: int, a: int, b: int, bits: int, signed: bool) -> int:
    m = (1 << bits) - 1
    a, b = a & m, b & m
    sh = b & (bits - 1)
    if op == AluOp.ADD:
        r = a + b
    elif op == AluOp.SUB:
        r = a - b
    elif op == AluOp.MUL:
        r = a * b
    elif op == AluOp.DIV:
        r = 0 if b == 0 else (c_div(s(a, bits), s(b, bits)) if signed else a // b)
    elif op == AluOp.MOD:
        r = a if b == 0 else (c_mod(s(a, bits), s(b, bits)) if signed else a % b)
    elif op == AluOp.OR:
        r = a | b
    elif op == AluOp.AND:
        r = a & b
    elif op == AluOp.XOR:
        r = a ^ b
    elif op == AluOp.LSH:
        r = a << sh
    elif op == AluOp.RSH:
        r = a >> sh
    elif op == AluOp.ARSH:
        r = s(a, bits) >> sh
    elif op == AluOp.MOV:
        r = b
    else:
        raise AssertionError(op)
    return r & m


ALU_OPS = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.MOD, AluOp.OR, AluOp.AND,
           AluOp.XOR, AluOp.LSH, AluOp.RSH, AluOp.ARSH, AluOp.MOV]  # fmt: skip


def _program(a: int, b: int, body: list[Insn]) -> tuple[list[Insn], bytes]:
    """r0 = a and r1 = b, read from the input buffer, then ``body``."""
    load = [Insn(0xBF, 6, 1), Insn(0x79, 0, 6, 0), Insn(0x79, 1, 6, 8)]
    return [*load, *body, Insn(0x95)], a.to_bytes(8, "little") + b.to_bytes(8, "little")


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("op", ALU_OPS, ids=lambda o: AluOp(o).name)
@pytest.mark.parametrize("is64", [True, False], ids=["alu64", "alu32"])
@settings(max_examples=80, deadline=None)
@given(a=U64, b=U64, signed=st.booleans(), use_imm=st.booleans())
def test_alu_against_python(
    tier: str, op: int, is64: bool, a: int, b: int, signed: bool, use_imm: bool
) -> None:
    signed = signed and op in (AluOp.DIV, AluOp.MOD)
    cls = InsnClass.ALU64 if is64 else InsnClass.ALU
    off = 1 if signed else 0
    if use_imm:
        imm = imm_for(tier, b)
        body = [Insn(cls | op | Source.K, 0, 0, off, imm)]
        operand = imm & M64 if is64 else imm & M32  # immediates sign-extend to 64 bits
    else:
        body = [Insn(cls | op | Source.X, 0, 1, off)]
        operand = b
    got = run_raw(_program(a, b, body), tier=tier)
    assert got == expected_alu(op, a, operand, 64 if is64 else 32, signed)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("is64", [True, False], ids=["neg64", "neg32"])
@settings(deadline=None)
@given(a=U64)
def test_neg(tier: str, is64: bool, a: int) -> None:
    cls = InsnClass.ALU64 if is64 else InsnClass.ALU
    got = run_raw(_program(a, 0, [Insn(cls | AluOp.NEG, 0)]), tier=tier)
    assert got == ((-a) & M64 if is64 else (-(a & M32)) & M32)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("bits", [8, 16, 32])
@settings(deadline=None)
@given(a=U64, b=U64)
def test_movsx(tier: str, bits: int, a: int, b: int) -> None:
    got = run_raw(_program(a, b, [Insn(InsnClass.ALU64 | AluOp.MOV | Source.X, 0, 1, bits)]), tier=tier)
    assert got == s(b, bits) & M64
    if bits < 32:
        got = run_raw(_program(a, b, [Insn(InsnClass.ALU | AluOp.MOV | Source.X, 0, 1, bits)]), tier=tier)
        assert got == s(b, bits) & M32


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("bits", [16, 32, 64])
@settings(deadline=None)
@given(a=U64)
def test_byte_swaps(tier: str, bits: int, a: int) -> None:
    low = a & ((1 << bits) - 1)
    swapped = int.from_bytes(low.to_bytes(bits // 8, "little"), "big")
    assert run_raw(_program(a, 0, [Insn(0xDC, 0, 0, 0, bits)]), tier=tier) == swapped  # be
    assert run_raw(_program(a, 0, [Insn(0xD4, 0, 0, 0, bits)]), tier=tier) == low  # le
    assert run_raw(_program(a, 0, [Insn(0xD7, 0, 0, 0, bits)]), tier=tier) == swapped  # bswap


JMP_OPS = {
    JmpOp.JEQ: lambda a, b, sa, sb: a == b,
    JmpOp.JNE: lambda a, b, sa, sb: a != b,
    JmpOp.JGT: lambda a, b, sa, sb: a > b,
    JmpOp.JGE: lambda a, b, sa, sb: a >= b,
    JmpOp.JLT: lambda a, b, sa, sb: a < b,
    JmpOp.JLE: lambda a, b, sa, sb: a <= b,
    JmpOp.JSGT: lambda a, b, sa, sb: sa > sb,
    JmpOp.JSGE: lambda a, b, sa, sb: sa >= sb,
    JmpOp.JSLT: lambda a, b, sa, sb: sa < sb,
    JmpOp.JSLE: lambda a, b, sa, sb: sa <= sb,
    JmpOp.JSET: lambda a, b, sa, sb: (a & b) != 0,
}


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("op", list(JMP_OPS), ids=lambda o: JmpOp(o).name)
@pytest.mark.parametrize("is32", [False, True], ids=["jmp", "jmp32"])
@settings(max_examples=80, deadline=None)
@given(a=U64, b=U64, use_imm=st.booleans())
def test_jumps_against_python(tier: str, op: int, is32: bool, a: int, b: int, use_imm: bool) -> None:
    cls = InsnClass.JMP32 if is32 else InsnClass.JMP
    bits = 32 if is32 else 64
    if use_imm:
        imm = imm_for(tier, b)
        jump = Insn(cls | op | Source.K, 0, 0, 2, imm)
        operand = imm & ((1 << bits) - 1)
    else:
        jump = Insn(cls | op | Source.X, 0, 1, 2)
        operand = b & ((1 << bits) - 1)
    a_ = a & ((1 << bits) - 1)
    body = [jump, Insn(0xB7, 0, 0, 0, 0), Insn(0x95), Insn(0xB7, 0, 0, 0, 1)]
    taken = JMP_OPS[op](a_, operand, s(a_, bits), s(operand, bits))
    assert run_raw(_program(a, b, body), tier=tier) == int(taken)
