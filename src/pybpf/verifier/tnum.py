"""Tracked numbers: what the verifier knows about the individual bits of a value.

A :class:`Tnum` is a pair ``(value, mask)``: a bit set in ``mask`` is unknown, any other
bit is known and equal to that bit of ``value`` (so ``value & mask == 0``).  The set it
stands for is every number ``x`` with ``x & ~mask == value``.  The operations below are
the kernel's (kernel/bpf/tnum.c): the verifier's register states must come out bit for
bit as the kernel's, so each result is the kernel's result, not merely a sound one.

Width: every value is an unsigned number of :data:`BITS` bits.  The two width constants
below are the only place the width is written down; the tests load this same source a
second time with small widths (8 and 4 bits) to check the algorithms exhaustively.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

# Register width and sub-register width.  Tests rebind these two lines (and only these)
# to instantiate the same algorithms at a small width; nothing else may hard-code them.
BITS = 64
HALF = 32

U64 = (1 << BITS) - 1
U32 = (1 << HALF) - 1
SIGN64 = 1 << (BITS - 1)
SIGN32 = 1 << (HALF - 1)
HIGH = U64 ^ U32  # the bits above the sub-register


@dataclass(frozen=True, slots=True)
class Tnum:
    """Known bits ``value`` and unknown bits ``mask`` of a register (``value & mask == 0``)."""

    value: int
    mask: int


class _Draft:
    """A writable twin of :class:`Tnum` (the same slots, so the same layout).

    ``Tnum(value, mask)`` sets each field of the frozen dataclass through
    ``object.__setattr__``; filling this twin with plain attribute stores and then
    re-classing it to ``Tnum`` (CPython allows that between classes of identical layout)
    gives the same object in about half the time, and the verifier makes one per result.

    Why this is sound: both classes declare the same slot names and nothing else (no
    ``__dict__``, no ``__weakref__``); CPython lays slots out in sorted-name order, so each
    value sits where the frozen class's member descriptor reads it, and CPython itself refuses a
    ``__class__`` assignment between classes whose layouts differ (TypeError, never a
    silent mix-up).  From then on the object is an ordinary frozen ``Tnum``: its ``__eq__``,
    ``__hash__`` and the frozen ``__setattr__`` apply.  The module-level assert below
    keeps the two slot lists equal.
    """

    __slots__ = ("mask", "value")

    def __init__(self, value: int, mask: int) -> None:
        self.value = value
        self.mask = mask
        self.__class__ = Tnum  # type: ignore[assignment]


new_tnum: Callable[[int, int], Tnum] = Tnum
"""``Tnum(value, mask)``, faster; for the verifier's hot paths."""
if __file__.endswith(".py"):  # (compiled by mypyc, calling the class is already fast)
    new_tnum = _Draft  # type: ignore[assignment]
    assert type(new_tnum(0, 0)) is Tnum
    assert sorted(f.name for f in fields(Tnum)) == sorted(vars(_Draft)["__slots__"])

TNUM_UNKNOWN = Tnum(0, U64)
TNUM_ZERO = Tnum(0, 0)


def const(v: int) -> Tnum:
    """The single number ``v`` (taken modulo 2**BITS, so negative numbers work)."""
    return new_tnum(v & U64, 0)


def range_(lo: int, hi: int) -> Tnum:
    """The bits ``lo..hi`` (unsigned) have in common: known above their highest difference."""
    chi = (lo ^ hi) & U64
    n = chi.bit_length()
    if n >= BITS:
        return TNUM_UNKNOWN
    delta = (1 << n) - 1
    return new_tnum(lo & U64 & ~delta, delta)


def lshift(a: Tnum, shift: int) -> Tnum:
    return new_tnum((a.value << shift) & U64, (a.mask << shift) & U64)


def rshift(a: Tnum, shift: int) -> Tnum:
    return new_tnum(a.value >> shift, a.mask >> shift)


def _sext(x: int, sign: int) -> int:
    """``x`` (non-negative, below ``2 * sign``) read as a two's-complement number."""
    return x - (sign << 1) if x & sign else x


def arshift(a: Tnum, shift: int, insn_bitness: int) -> Tnum:
    """Arithmetic right shift of the low ``insn_bitness`` bits (HALF or BITS)."""
    if insn_bitness == HALF:
        return new_tnum(
            (_sext(a.value & U32, SIGN32) >> shift) & U32,
            (_sext(a.mask & U32, SIGN32) >> shift) & U32,
        )
    return new_tnum(
        (_sext(a.value, SIGN64) >> shift) & U64,
        (_sext(a.mask, SIGN64) >> shift) & U64,
    )


def add_raw(av: int, am: int, bv: int, bm: int) -> tuple[int, int]:
    """:func:`add` on bare ``(value, mask)`` pairs."""
    sv = (av + bv) & U64
    mu = (((am + bm + sv) & U64) ^ sv) | am | bm
    return sv & ~mu, mu


def add(a: Tnum, b: Tnum) -> Tnum:
    """Sum: the carries out of unknown bits are unknown, the rest is exact."""
    av = a.value
    am = a.mask
    bm = b.mask
    sv = (av + b.value) & U64
    mu = (((am + bm + sv) & U64) ^ sv) | am | bm
    return new_tnum(sv & ~mu, mu)


def sub(a: Tnum, b: Tnum) -> Tnum:
    """Difference: compares the largest and smallest borrows the unknown bits allow."""
    am = a.mask
    bm = b.mask
    dv = (a.value - b.value) & U64
    mu = (((dv + am) ^ (dv - bm)) & U64) | am | bm
    return new_tnum(dv & ~mu, mu)


def neg(a: Tnum) -> Tnum:
    """Two's-complement negation, as the difference ``0 - a``."""
    return sub(TNUM_ZERO, a)


def and_(a: Tnum, b: Tnum) -> Tnum:
    v = a.value & b.value
    return new_tnum(v, (a.value | a.mask) & (b.value | b.mask) & ~v)


def or_(a: Tnum, b: Tnum) -> Tnum:
    v = a.value | b.value
    return new_tnum(v, (a.mask | b.mask) & ~v)


def xor(a: Tnum, b: Tnum) -> Tnum:
    mu = a.mask | b.mask
    return new_tnum((a.value ^ b.value) & ~mu, mu)


def mul_raw(av: int, am: int, bv: int, bm: int) -> tuple[int, int]:
    """:func:`mul` on bare ``(value, mask)`` pairs."""
    # Shift-and-add over the bits of a.  Where a's bit is a known 1 the shifted b is added
    # to the accumulator; where it is unknown the accumulator becomes the union of itself
    # with and without that addition (this keeps the correlation between the unknown bits
    # of a partial product, which adding an all-unknown term would lose).
    accv = 0
    accm = 0
    while av or am:
        if (av | am) & 1:
            sv = (accv + bv) & U64
            mu = (((accm + bm + sv) & U64) ^ sv) | accm | bm
            sv &= ~mu
            if av & 1:
                accv = sv
                accm = mu
            else:
                mu |= accm | (accv ^ sv)
                accv = accv & sv & ~mu
                accm = mu
        av >>= 1
        am >>= 1
        bv = (bv << 1) & U64
        bm = (bm << 1) & U64
    return accv, accm


def mul(a: Tnum, b: Tnum) -> Tnum:
    """Product by long multiplication, one bit of ``a`` at a time."""
    v, m = mul_raw(a.value, a.mask, b.value, b.mask)
    return new_tnum(v, m)


def overlap(a: Tnum, b: Tnum) -> bool:
    """Whether some number belongs to both: they agree on the bits both know."""
    known = ~(a.mask | b.mask)
    return (a.value & known) == (b.value & known)


def intersect(a: Tnum, b: Tnum) -> Tnum:
    """Numbers in both (where the two disagree on a known bit, the result says 1)."""
    mu = a.mask & b.mask
    return new_tnum((a.value | b.value) & ~mu, mu)


def union(a: Tnum, b: Tnum) -> Tnum:
    """The smallest tnum holding every member of both."""
    mu = a.mask | b.mask | (a.value ^ b.value)
    return new_tnum(a.value & ~mu, mu)


def cast(a: Tnum, size: int) -> Tnum:
    """Keep the low ``size`` bytes."""
    keep = (1 << (size * 8)) - 1
    return new_tnum(a.value & keep, a.mask & keep)


def is_aligned(a: Tnum, size: int) -> bool:
    """Whether every member is a multiple of ``size`` (a power of two; 0 means any)."""
    if not size:
        return True
    return not ((a.value | a.mask) & (size - 1))


def in_(a: Tnum, b: Tnum) -> bool:
    """Whether every member of ``b`` is a member of ``a``."""
    if b.mask & ~a.mask:
        return False
    return a.value == b.value & ~a.mask


def is_const(a: Tnum) -> bool:
    return not a.mask


def equals_const(a: Tnum, v: int) -> bool:
    return not a.mask and a.value == v


def is_unknown(a: Tnum) -> bool:
    return a.mask == U64


def subreg(a: Tnum) -> Tnum:
    """The low HALF bits (the 32-bit sub-register)."""
    return new_tnum(a.value & U32, a.mask & U32)


def subreg_is_const(a: Tnum) -> bool:
    return not a.mask & U32


def clear_subreg(a: Tnum) -> Tnum:
    """The bits above the sub-register, with the sub-register known zero."""
    return new_tnum(a.value & HIGH, a.mask & HIGH)


def with_subreg(reg: Tnum, sub: Tnum) -> Tnum:
    """``reg``'s upper bits with ``sub``'s low HALF bits."""
    v = (reg.value & HIGH) | (sub.value & U32)
    return new_tnum(v, ((reg.mask & HIGH) | (sub.mask & U32)) & ~v)


def const_subreg(a: Tnum, value: int) -> Tnum:
    """``a`` with its sub-register known to be ``value``."""
    return with_subreg(a, new_tnum(value & U32, 0))


def step(t: Tnum, z: int) -> int:
    """The smallest member of ``t`` above ``z``.

    Outside the members' span the answer is clamped: ``z`` at or above the largest member
    gives the largest member, and anything below the smallest gives the smallest.
    """
    return step_raw(t.value, t.mask, z)


def step_raw(v: int, m: int, z: int) -> int:
    """:func:`step` on a bare ``(value, mask)`` pair."""
    top = v | m
    if z >= top:
        return top
    if z < v:
        return v
    # The answer agrees with z above some bit k, has a 1 at k where z has a 0, and is as
    # small as t allows below k.  Above k, z must not contradict a known bit of t, so k
    # is at or above the highest bit where it does; the lowest admissible k is the one.
    free = ~z & top  # where z has a 0 and t allows a 1
    clash = (z ^ v) & ~m
    if clash:
        free &= -(1 << (clash.bit_length() - 1))
    low = free & -free
    return (z & -(low << 1)) | low | (v & (low - 1))


def bswap16(a: Tnum) -> Tnum:
    """Swap the two low bytes; everything above them becomes zero."""
    return new_tnum(_swab(a.value, 2), _swab(a.mask, 2))


def bswap32(a: Tnum) -> Tnum:
    """Reverse the four low bytes; everything above them becomes zero."""
    return new_tnum(_swab(a.value, 4), _swab(a.mask, 4))


def bswap64(a: Tnum) -> Tnum:
    """Reverse all eight bytes."""
    return new_tnum(_swab(a.value, 8), _swab(a.mask, 8))


def _swab(x: int, nbytes: int) -> int:
    return int.from_bytes((x & ((1 << (8 * nbytes)) - 1)).to_bytes(nbytes, "little"), "big")


def sbin(a: Tnum) -> str:
    """The 64 bits, most significant first, as ``0``, ``1`` or ``x`` (unknown)."""
    out = []
    for i in range(BITS - 1, -1, -1):
        bit = 1 << i
        out.append("x" if a.mask & bit else "1" if a.value & bit else "0")
    return "".join(out)


UNUM_MAX_DECIMAL = 0xFFFF
SNUM_MAX_DECIMAL = 0x7FFF
SNUM_MIN_DECIMAL = -0x8000


def format(a: Tnum) -> str:
    """As the kernel logs a tnum: a known value as a number, else ``(0x0; 0xff)``."""
    if not a.mask:
        v = a.value
        return str(v) if v <= UNUM_MAX_DECIMAL else hex(v)
    return f"({a.value:#x}; {a.mask:#x})"
