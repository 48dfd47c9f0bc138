"""What each ALU and JMP operation computes, on plain integers.

The one definition of eBPF arithmetic that the interpreter, the code generators and the
verifier's constant folding share, and that the property tests check against Python's
own arithmetic.  Values are unsigned: 64-bit in ``[0, 2**64)``, 32-bit in ``[0, 2**32)``.
"""

from __future__ import annotations

from .opcodes import AluOp, JmpOp

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1


def s64(v: int) -> int:
    v &= M64
    return v - (1 << 64) if v >> 63 else v


def s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v >> 31 else v


def sign_extend(v: int, bits: int) -> int:
    """``v``'s low ``bits`` bits read as a signed number (a Python int)."""
    mask = (1 << bits) - 1
    v &= mask
    return v - (1 << bits) if v >> (bits - 1) else v


def _sdiv(a: int, b: int) -> int:
    """C division: truncate toward zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _smod(a: int, b: int) -> int:
    """C remainder: the sign of the dividend."""
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def bswap(v: int, bits: int) -> int:
    return int.from_bytes((v & ((1 << bits) - 1)).to_bytes(bits // 8, "little"), "big")


def alu64(op: int, dst: int, src: int, off: int = 0) -> int:
    """``dst op= src`` for 64-bit operands (``src`` already sign-extended for immediates).

    ``off`` selects signed division/modulo (1) or the sign-extending move (8, 16, 32).
    """
    a, b = dst & M64, src & M64
    if op == AluOp.ADD:
        return (a + b) & M64
    if op == AluOp.SUB:
        return (a - b) & M64
    if op == AluOp.MUL:
        return (a * b) & M64
    if op == AluOp.DIV:
        if b == 0:
            return 0
        if off == 1:
            return _sdiv(s64(a), s64(b)) & M64
        return a // b
    if op == AluOp.MOD:
        if b == 0:
            return a
        if off == 1:
            return _smod(s64(a), s64(b)) & M64
        return a % b
    if op == AluOp.OR:
        return a | b
    if op == AluOp.AND:
        return a & b
    if op == AluOp.XOR:
        return a ^ b
    if op == AluOp.LSH:
        return (a << (b & 63)) & M64
    if op == AluOp.RSH:
        return a >> (b & 63)
    if op == AluOp.ARSH:
        return (s64(a) >> (b & 63)) & M64
    if op == AluOp.NEG:
        return (-a) & M64
    if op == AluOp.MOV:
        if off in (8, 16, 32):
            return sign_extend(b, off) & M64
        return b
    raise ValueError(f"not an ALU operation: {op:#x}")


def alu32(op: int, dst: int, src: int, off: int = 0) -> int:
    """``wdst op= wsrc``: operate on the low 32 bits; the result is zero-extended."""
    a, b = dst & M32, src & M32
    if op == AluOp.ADD:
        return (a + b) & M32
    if op == AluOp.SUB:
        return (a - b) & M32
    if op == AluOp.MUL:
        return (a * b) & M32
    if op == AluOp.DIV:
        if b == 0:
            return 0
        if off == 1:
            return _sdiv(s32(a), s32(b)) & M32
        return a // b
    if op == AluOp.MOD:
        if b == 0:
            return a
        if off == 1:
            return _smod(s32(a), s32(b)) & M32
        return a % b
    if op == AluOp.OR:
        return a | b
    if op == AluOp.AND:
        return a & b
    if op == AluOp.XOR:
        return a ^ b
    if op == AluOp.LSH:
        return (a << (b & 31)) & M32
    if op == AluOp.RSH:
        return a >> (b & 31)
    if op == AluOp.ARSH:
        return (s32(a) >> (b & 31)) & M32
    if op == AluOp.NEG:
        return (-a) & M32
    if op == AluOp.MOV:
        if off in (8, 16):
            return sign_extend(b, off) & M32
        return b
    raise ValueError(f"not an ALU operation: {op:#x}")


def endian(value: int, bits: int, to_big: bool, unconditional: bool = False) -> int:
    """BPF_END on a little-endian machine: ``le`` truncates, ``be`` and ``bswap`` swap."""
    if to_big or unconditional:
        return bswap(value, bits)
    return value & ((1 << bits) - 1)


def jmp_taken(op: int, dst: int, src: int, is32: bool = False) -> bool:
    """Whether a conditional jump is taken (``src`` already sign-extended for immediates)."""
    if is32:
        a, b = dst & M32, src & M32
        sa, sb = s32(a), s32(b)
    else:
        a, b = dst & M64, src & M64
        sa, sb = s64(a), s64(b)
    if op == JmpOp.JEQ:
        return a == b
    if op == JmpOp.JNE:
        return a != b
    if op == JmpOp.JGT:
        return a > b
    if op == JmpOp.JGE:
        return a >= b
    if op == JmpOp.JLT:
        return a < b
    if op == JmpOp.JLE:
        return a <= b
    if op == JmpOp.JSGT:
        return sa > sb
    if op == JmpOp.JSGE:
        return sa >= sb
    if op == JmpOp.JSLT:
        return sa < sb
    if op == JmpOp.JSLE:
        return sa <= sb
    if op == JmpOp.JSET:
        return (a & b) != 0
    raise ValueError(f"not a conditional jump: {op:#x}")
