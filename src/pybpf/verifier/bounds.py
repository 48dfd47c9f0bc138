"""Bounds operations the verifier core needs beside the scalar ALU: pointer offsets,
bounds widened for a 32-bit half, a constant added to a linked register, helper returns."""

from __future__ import annotations

from . import scalar as sc
from . import tnum
from .scalar import Bounds

_new = sc.new_bounds

S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1
S32_MIN, S32_MAX = -(1 << 31), (1 << 31) - 1
U32 = 0xFFFFFFFF
U64 = (1 << 64) - 1


def unbound32(b: Bounds) -> Bounds:
    """``b`` with the 32-bit ranges forgotten (__mark_reg32_unbounded)."""
    return _new(b.var_off, b.smin, b.smax, b.umin, b.umax, S32_MIN, S32_MAX, 0, U32)


def with_bounds64(var_off: tnum.Tnum, smin: int, smax: int, umin: int, umax: int) -> Bounds:
    """A pointer offset: 64-bit ranges and known bits, nothing about the 32-bit half."""
    return _new(var_off, smin, smax, umin, umax, S32_MIN, S32_MAX, 0, U32)


def add_const(b: Bounds, delta: int) -> Bounds:
    """``b + delta`` for a linked register (scalar add of a known value)."""
    return sc.alu(0x00, b, sc.known(delta & U64), False)


def refine_range(
    b: Bounds, smin: int | None = None, smax: int | None = None,
    umin: int | None = None, umax: int | None = None,
) -> Bounds:  # fmt: skip
    """Narrow ``b`` to the given 64- and 32-bit limits (a helper's known return range)."""
    new = _new(
        b.var_off,
        smin if smin is not None else b.smin,
        smax if smax is not None else b.smax,
        umin if umin is not None else b.umin,
        umax if umax is not None else b.umax,
        smin if smin is not None and smin >= S32_MIN else b.s32_min,
        smax if smax is not None and smax <= S32_MAX else b.s32_max,
        umin if umin is not None else b.u32_min,
        umax if umax is not None and umax <= U32 else b.u32_max,
    )
    return sc.sync(new)
