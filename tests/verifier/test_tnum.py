"""Tracked numbers: every operation is sound, and the exact ones are exact.

Soundness is checked exhaustively on the same source instantiated at small widths (see
:mod:`tests.verifier.widths`): every pair of 4-bit tnums for the binary operations, every
6-bit tnum for the unary ones, every member of each.  At 64 bits hypothesis draws tnums
together with members.  Bit-for-bit agreement with the kernel's results is the business
of ``test_scalar``'s log replays (the tnum is printed as ``var_off``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.verifier import tnum
from pybpf.verifier.tnum import Tnum

from .widths import instantiate, members

U64 = (1 << 64) - 1


def all_tnums(mod: ModuleType, bits: int) -> list[Tnum]:
    """Every tnum of ``bits`` bits, made by (so comparable with those of) ``mod``."""
    out = []
    for mask in range(1 << bits):
        for value in range(1 << bits):
            if not value & mask:
                out.append(mod.new_tnum(value, mask))
    return out


def _sx(x: int, bits: int) -> int:
    return x - (1 << bits) if x >> (bits - 1) & 1 else x


def _in(t: Tnum, x: int) -> bool:
    return x & ~t.mask == t.value


# ---------------------------------------------------------------------------------------
# Exhaustive at small widths


T4, _ = instantiate(4, 2)
T6, _ = instantiate(6, 3)
W4 = all_tnums(T4, 4)
W6 = all_tnums(T6, 6)
M4 = {t: members(t, 4) for t in W4}
M6 = {t: members(t, 6) for t in W6}


BINARY: dict[str, Callable[[int, int, int], int]] = {
    "add": lambda x, y, m: (x + y) & m,
    "sub": lambda x, y, m: (x - y) & m,
    "mul": lambda x, y, m: (x * y) & m,
    "and_": lambda x, y, m: x & y,
    "or_": lambda x, y, m: x | y,
    "xor": lambda x, y, m: x ^ y,
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_sound_exhaustive_4bit(name: str) -> None:
    op = getattr(T4, name)
    conc = BINARY[name]
    for a, b in itertools.product(W4, W4):
        r = op(a, b)
        assert not r.value & r.mask, (a, b, r)
        for x in M4[a]:
            for y in M4[b]:
                assert _in(r, conc(x, y, 15)), (name, a, b, x, y, r)


def test_add_sub_of_constants_are_exact() -> None:
    for x, y in itertools.product(range(16), range(16)):
        assert T4.add(T4.const(x), T4.const(y)) == T4.const(x + y)
        assert T4.sub(T4.const(x), T4.const(y)) == T4.const(x - y)
        assert T4.mul(T4.const(x), T4.const(y)) == T4.const(x * y)


def test_set_operations_exhaustive_4bit() -> None:
    for a, b in itertools.product(W4, W4):
        common = set(M4[a]) & set(M4[b])
        assert T4.overlap(a, b) == bool(common)
        inter = T4.intersect(a, b)
        assert all(_in(inter, x) for x in common)
        if common:
            assert set(M4[inter]) == common  # exact when the two agree
        uni = T4.union(a, b)
        assert all(_in(uni, x) for x in M4[a] + M4[b])
        assert T4.in_(a, b) == set(M4[b]).issubset(M4[a])


def test_union_is_the_smallest_cover_4bit() -> None:
    for a, b in itertools.product(W4, W4):
        want = set(M4[a]) | set(M4[b])
        covers = [t for t in W4 if want.issubset(M4[t])]
        assert T4.union(a, b) == min(covers, key=lambda t: len(M4[t]))


def test_shifts_exhaustive_6bit() -> None:
    for a in W6:
        for k in range(6):
            left = T6.lshift(a, k)
            right = T6.rshift(a, k)
            arith = T6.arshift(a, k, 6)
            for x in M6[a]:
                assert _in(left, (x << k) & 63)
                assert _in(right, x >> k)
                assert _in(arith, (_sx(x, 6) >> k) & 63)
        for k in range(3):
            arith32 = T6.arshift(a, k, 3)
            for x in M6[a]:
                assert _in(arith32, (_sx(x & 7, 3) >> k) & 7)


def test_neg_exhaustive_6bit() -> None:
    for a in W6:
        r = T6.neg(a)
        assert all(_in(r, -x & 63) for x in M6[a])


def test_range_exhaustive_6bit() -> None:
    for lo in range(64):
        for hi in range(lo, 64):
            r = T6.range_(lo, hi)
            assert all(_in(r, x) for x in range(lo, hi + 1))
            # the known bits are exactly those above the highest bit where lo and hi differ
            n = (lo ^ hi).bit_length()
            assert r.mask == ((1 << n) - 1 if n < 6 else 63)


def test_step_exhaustive_6bit() -> None:
    for t in W6:
        mem = M6[t]
        for z in range(64):
            above = [x for x in mem if x > z]
            if z >= mem[-1]:
                want = mem[-1]
            elif z < mem[0]:
                want = mem[0]
            else:
                want = above[0]
            assert T6.step(t, z) == want, (t, z)


def test_subregister_operations_exhaustive_6bit() -> None:
    for a in W6:
        sub = T6.subreg(a)
        high = T6.clear_subreg(a)
        assert set(M6[sub]) == {x & 7 for x in M6[a]}
        assert set(M6[high]) == {x & 56 for x in M6[a]}
        assert T6.subreg_is_const(a) == (len(set(M6[sub])) == 1)
        for b in W6[::7]:
            w = T6.with_subreg(a, b)
            assert set(M6[w]) == {(x & 56) | (y & 7) for x in M6[a] for y in M6[b]}
        for v in range(8):
            c = T6.const_subreg(a, v)
            assert set(M6[c]) == {(x & 56) | v for x in M6[a]}


def test_predicates_exhaustive_6bit() -> None:
    for a in W6:
        assert T6.is_const(a) == (len(M6[a]) == 1)
        assert T6.is_unknown(a) == (len(M6[a]) == 64)
        for v in (0, 5, 63):
            assert T6.equals_const(a, v) == (M6[a] == [v])
        for size in (0, 1, 2, 4, 8):
            assert T6.is_aligned(a, size) == all(size == 0 or x % size == 0 for x in M6[a])


# ---------------------------------------------------------------------------------------
# 64 bits


@st.composite
def tnum_and_member(draw: st.DrawFn) -> tuple[Tnum, int]:
    """A 64-bit tnum (often with long known or unknown runs) and one of its members."""
    x = draw(st.integers(0, U64))
    kind = draw(st.sampled_from(["random", "low", "high", "sparse"]))
    if kind == "random":
        mask = draw(st.integers(0, U64))
    elif kind == "low":
        mask = (1 << draw(st.integers(0, 64))) - 1
    elif kind == "high":
        mask = U64 ^ ((1 << draw(st.integers(0, 64))) - 1)
    else:
        mask = draw(st.integers(0, U64)) & draw(st.integers(0, U64)) & draw(st.integers(0, U64))
    return tnum.new_tnum(x & ~mask & U64, mask), x


PAIRS = st.tuples(tnum_and_member(), tnum_and_member())


@settings(max_examples=300, deadline=None)
@given(PAIRS)
def test_binary_sound_64(pair: tuple[tuple[Tnum, int], tuple[Tnum, int]]) -> None:
    (a, x), (b, y) = pair
    for name, conc in BINARY.items():
        r = getattr(tnum, name)(a, b)
        assert _in(r, conc(x, y, U64)), (name, a, b, x, y, r)
    assert tnum.overlap(a, b) or x != y
    assert _in(tnum.union(a, b), x) and _in(tnum.union(a, b), y)
    if _in(b, x):
        assert _in(tnum.intersect(a, b), x)


@settings(max_examples=300, deadline=None)
@given(tnum_and_member(), st.integers(0, 63))
def test_unary_sound_64(am: tuple[Tnum, int], k: int) -> None:
    a, x = am
    assert _in(tnum.neg(a), -x & U64)
    assert _in(tnum.lshift(a, k), (x << k) & U64)
    assert _in(tnum.rshift(a, k), x >> k)
    assert _in(tnum.arshift(a, k, 64), (_sx(x, 64) >> k) & U64)
    assert _in(tnum.arshift(a, k % 32, 32), (_sx(x & 0xFFFFFFFF, 32) >> (k % 32)) & 0xFFFFFFFF)
    for size in (1, 2, 4):
        assert _in(tnum.cast(a, size), x & ((1 << (8 * size)) - 1))
    assert _in(tnum.bswap16(a), int.from_bytes((x & 0xFFFF).to_bytes(2, "little"), "big"))
    assert _in(tnum.bswap32(a), int.from_bytes((x & 0xFFFFFFFF).to_bytes(4, "little"), "big"))
    assert _in(tnum.bswap64(a), int.from_bytes(x.to_bytes(8, "little"), "big"))
    assert _in(tnum.subreg(a), x & 0xFFFFFFFF)
    assert _in(tnum.clear_subreg(a), x & ~0xFFFFFFFF & U64)
    nxt = tnum.step(a, x)
    top = a.value | a.mask
    assert nxt == top if x == top else (x < nxt and _in(a, nxt))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, U64), st.integers(0, U64))
def test_range_64(lo: int, hi: int) -> None:
    lo, hi = min(lo, hi), max(lo, hi)
    r = tnum.range_(lo, hi)
    assert _in(r, lo) and _in(r, hi) and _in(r, (lo + hi) // 2)


def test_mul_keeps_correlated_bits() -> None:
    # 6.18's product (the union of the accumulators with and without each uncertain
    # partial product) differs from 6.12's; these are the var_offs the running kernel
    # printed for {57, 59} * 158 and {13, 15} * 243, after intersecting the product with
    # its range.
    a = tnum.new_tnum(57, 2)
    r = tnum.mul(a, tnum.const(158))
    assert _in(r, 57 * 158) and _in(r, 59 * 158)
    assert tnum.intersect(r, tnum.range_(57 * 158, 59 * 158)) == Tnum(0x202A, 0x7C4)
    b = tnum.mul(tnum.new_tnum(13, 2), tnum.const(243))
    assert tnum.intersect(b, tnum.range_(13 * 243, 15 * 243)) == Tnum(0xC05, 0x2FA)


def test_unknown_and_constants() -> None:
    assert Tnum(0, U64) == tnum.TNUM_UNKNOWN
    assert tnum.is_unknown(tnum.TNUM_UNKNOWN)
    assert tnum.const(-1) == Tnum(U64, 0)
    assert tnum.range_(0, U64) == tnum.TNUM_UNKNOWN
    assert tnum.range_(5, 5) == tnum.const(5)
    assert tnum.new_tnum(3, 4) == Tnum(3, 4)


def test_format_as_the_kernel_logs_it() -> None:
    assert tnum.format(Tnum(0, 0xFF)) == "(0x0; 0xff)"
    assert tnum.format(Tnum(0xFFFFFFFFFFFFFF00, 0xFF)) == "(0xffffffffffffff00; 0xff)"
    assert tnum.format(tnum.const(5)) == "5"
    assert tnum.format(tnum.const(0xFFFF)) == "65535"
    assert tnum.format(tnum.const(0x10000)) == "0x10000"


def test_sbin() -> None:
    s = tnum.sbin(Tnum(0b101, 0b010))
    assert len(s) == 64
    assert s.endswith("1x1") and set(s[:-3]) == {"0"}
