"""The verifier's abstract value of a scalar register, and how instructions change it.

A :class:`Bounds` is what the kernel keeps in ``struct bpf_reg_state`` about a number:
the known bits (``var_off``) and eight ranges, signed and unsigned, over the whole 64-bit
register and over its low 32 bits.  The functions here are the kernel's transfer
functions (kernel/bpf/verifier.c of the running 6.18 kernel): arithmetic
(:func:`alu`), the reconciliation of the nine facts with each other (:func:`sync`),
conditional jumps (:func:`is_branch_taken`, :func:`refine`), truncation and sign
extension, and the text the verifier log prints (:func:`format_scalar`).  They must give
the kernel's answer exactly, imprecision included, because verdicts, pruning and log
text all depend on it.

Representation: plain Python ints; the signed fields hold negative numbers, the unsigned
fields non-negative ones.  Every function is pure and returns a new :class:`Bounds`.

Width: :data:`BITS` and :data:`HALF` below are the only places the register widths are
written; the tests load this same source with small widths to check it exhaustively.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields

from . import tnum as _tn
from .tnum import Tnum

# Register width and sub-register width.  Tests rebind these two lines (and only these)
# to instantiate the same algorithms at a small width; nothing else may hard-code them.
BITS = 64
HALF = 32

U64 = (1 << BITS) - 1
U32 = (1 << HALF) - 1
MOD64 = 1 << BITS
MOD32 = 1 << HALF
SIGN64 = 1 << (BITS - 1)
SIGN32 = 1 << (HALF - 1)
S64_MIN = -SIGN64
S64_MAX = SIGN64 - 1
S32_MIN = -SIGN32
S32_MAX = SIGN32 - 1
HIGH = U64 ^ U32  # the bits above the sub-register
NOT_U32 = ~U32  # clears the sub-register of a signed or unsigned number

SHORTCUTS = True
"""Take the exact shortcuts (constants, small non-negative ranges); tests turn them off
to check that they agree with the general computation."""

# Opcode fields (include/uapi/linux/bpf.h), as plain ints for speed.
ADD = 0x00
SUB = 0x10
MUL = 0x20
DIV = 0x30
OR = 0x40
AND = 0x50
LSH = 0x60
RSH = 0x70
NEG = 0x80
MOD = 0x90
XOR = 0xA0
MOV = 0xB0
ARSH = 0xC0
END = 0xD0
_SHIFT_OPS = (LSH, RSH, ARSH)

JEQ = 0x10
JGT = 0x20
JGE = 0x30
JSET = 0x40
JNE = 0x50
JSGT = 0x60
JSGE = 0x70
JLT = 0xA0
JLE = 0xB0
JSLT = 0xC0
JSLE = 0xD0
JSET_NOT = JSET | 0x08
"""The negation of JSET, which BPF has no opcode for (the kernel's ``BPF_JSET | BPF_X``)."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """Known bits and the eight ranges of a scalar (the value part of ``bpf_reg_state``)."""

    var_off: Tnum
    smin: int
    smax: int
    umin: int
    umax: int
    s32_min: int
    s32_max: int
    u32_min: int
    u32_max: int


class _Draft:
    """A writable twin of :class:`Bounds` (the same slots, so the same layout).

    A frozen dataclass sets each of its nine fields through ``object.__setattr__``;
    filling this twin with plain stores and re-classing it to ``Bounds`` gives the same
    object in about half the time (every transfer function returns a new one).  Why the
    re-classing is sound: :class:`pybpf.verifier.tnum._Draft`, which does the same for
    ``Tnum``; the module-level assert below keeps the two slot lists equal.
    """

    __slots__ = (
        "s32_max", "s32_min", "smax", "smin", "u32_max", "u32_min", "umax", "umin", "var_off",
    )  # fmt: skip

    def __init__(
        self, var_off: Tnum, smin: int, smax: int, umin: int, umax: int,
        s32_min: int, s32_max: int, u32_min: int, u32_max: int,
    ) -> None:  # fmt: skip
        self.var_off = var_off
        self.smin = smin
        self.smax = smax
        self.umin = umin
        self.umax = umax
        self.s32_min = s32_min
        self.s32_max = s32_max
        self.u32_min = u32_min
        self.u32_max = u32_max
        self.__class__ = Bounds  # type: ignore[assignment]


new_bounds: Callable[[Tnum, int, int, int, int, int, int, int, int], Bounds] = Bounds
"""``Bounds(var_off, smin, smax, umin, umax, s32_min, s32_max, u32_min, u32_max)``,
faster; for the verifier's hot paths."""
if __file__.endswith(".py"):  # (compiled by mypyc, calling the class is already fast)
    new_bounds = _Draft  # type: ignore[assignment]
    assert sorted(f.name for f in fields(Bounds)) == sorted(vars(_Draft)["__slots__"])
_new = new_bounds
_tnum = _tn.new_tnum


# Not isa.semantics.s64/s32: the tests load this module at small widths (4 and 2 bits,
# through MOD64/SIGN64/U32/...), so its signed readings go through those names.
def _s64(x: int) -> int:
    return x - MOD64 if x & SIGN64 else x


def _s32(x: int) -> int:
    """The low HALF bits of ``x`` (any int) as a signed number."""
    x &= U32
    return x - MOD32 if x & SIGN32 else x


# ---------------------------------------------------------------------------------------
# Construction


UNKNOWN = Bounds(_tn.TNUM_UNKNOWN, S64_MIN, S64_MAX, 0, U64, S32_MIN, S32_MAX, 0, U32)


def unknown() -> Bounds:
    """Nothing known (the bounds part of __mark_reg_unknown)."""
    return UNKNOWN


def known(v: int) -> Bounds:
    """Exactly the 64-bit value ``v`` (__mark_reg_known); negative ``v`` wraps."""
    b = _KNOWN.get(v)
    if b is not None:
        return b
    if v < 0 or v > U64:  # the cache holds the unsigned 64-bit form
        v &= U64
        b = _KNOWN.get(v)
        if b is not None:
            return b
    s = v - MOD64 if v & SIGN64 else v
    lo = v & U32
    s32 = lo - MOD32 if lo & SIGN32 else lo
    b = _new(_tnum(v, 0), s, s, v, v, s32, s32, lo, lo)
    if len(_KNOWN) >= _KNOWN_LIMIT:
        _KNOWN.clear()
    _KNOWN[v] = b
    return b


_KNOWN: dict[int, Bounds] = {}
"""Constants made so far: immediates recur, and Bounds are immutable, so they are shared."""
_KNOWN_LIMIT = 4096


def known32(b: Bounds, v: int) -> Bounds:
    """``b`` with its low 32 bits exactly ``v`` (__mark_reg32_known); 64-bit ranges kept."""
    lo = v & U32
    t = b.var_off
    hv = t.value & HIGH
    s32 = lo - MOD32 if lo & SIGN32 else lo
    return _new(_tnum(hv | lo, t.mask & HIGH), b.smin, b.smax, b.umin, b.umax, s32, s32, lo, lo)


def is_const(b: Bounds, subreg32: bool = False) -> bool:
    """Whether the bits (of the whole register, or of its low half) are all known."""
    if subreg32:
        return not b.var_off.mask & U32
    return not b.var_off.mask


def const_value(b: Bounds, subreg32: bool = False) -> int:
    """The known value (unsigned), assuming :func:`is_const`."""
    if subreg32:
        return b.var_off.value & U32
    return b.var_off.value


def contains(b: Bounds, x: int) -> bool:
    """Whether the unsigned 64-bit number ``x`` is allowed by all nine facts of ``b``."""
    t = b.var_off
    if x & ~t.mask != t.value:
        return False
    s = x - MOD64 if x & SIGN64 else x
    lo = x & U32
    s32 = lo - MOD32 if lo & SIGN32 else lo
    return (
        b.umin <= x <= b.umax
        and b.smin <= s <= b.smax
        and b.u32_min <= lo <= b.u32_max
        and b.s32_min <= s32 <= b.s32_max
    )


# ---------------------------------------------------------------------------------------
# reg_bounds_sync


def sync(b: Bounds) -> Bounds:
    """Make the nine facts agree with each other (reg_bounds_sync)."""
    t = b.var_off
    return _sync(
        t.value, t.mask, b.smin, b.smax, b.umin, b.umax, b.s32_min, b.s32_max,
        b.u32_min, b.u32_max, t,
    )  # fmt: skip


def _sync(
    vv: int, vm: int, smin: int, smax: int, umin: int, umax: int,
    s32n: int, s32x: int, u32n: int, u32x: int, t: Tnum | None = None,
) -> Bounds:  # fmt: skip
    """reg_bounds_sync on bare fields; ``t`` is reused as var_off if it comes out equal."""
    # 1. What the known bits say about every range (__update_reg_bounds).
    v = vv & U32
    m = vm & U32
    x = v | (m & SIGN32)
    x = x - MOD32 if x & SIGN32 else x
    if x > s32n:
        s32n = x
    x = v | (m & S32_MAX)
    x = x - MOD32 if x & SIGN32 else x
    if x < s32x:
        s32x = x
    if v > u32n:
        u32n = v
    if v | m < u32x:
        u32x = v | m
    x = vv | (vm & SIGN64)
    x = x - MOD64 if x & SIGN64 else x
    if x > smin:
        smin = x
    x = vv | (vm & S64_MAX)
    x = x - MOD64 if x & SIGN64 else x
    if x < smax:
        smax = x
    if vv > umin:
        umin = vv
    top = vv | vm
    if top < umax:
        umax = top
    c = _single_member(vv, vm, umin, umax)
    if c >= 0:
        return known(c)

    # Shortcuts, each giving exactly what the general steps below would.
    if SHORTCUTS:
        if not vm:
            if smin == smax and s32n == s32x and u32n == u32x:
                return known(vv)  # a consistent constant: nothing below can change it
        elif (
            umax <= S32_MAX
            and ((smin == S64_MIN and smax == S64_MAX) or (smin >= 0 and smax <= S32_MAX))
            and ((u32n == 0 and u32x == U32) or u32x <= S32_MAX)
            and ((s32n == S32_MIN and s32x == S32_MAX) or (s32n >= 0 and s32x <= S32_MAX))
        ):
            # Only non-negative 31-bit numbers, and every range either says nothing or lies
            # within them: all signednesses and widths agree, so the deductions come down
            # to one interval shared by all eight ranges, which then narrows the tnum.
            lo = umin
            hi = umax
            if smin > lo:
                lo = smin
            if smax < hi:
                hi = smax
            if u32n > lo:
                lo = u32n
            if u32x < hi:
                hi = u32x
            if s32n > lo:
                lo = s32n
            if s32x < hi:
                hi = s32x
            if lo <= hi:
                d = (1 << (lo ^ hi).bit_length()) - 1
                vm &= d
                vv = (vv | (lo & ~d)) & ~vm
                if vv > lo:
                    lo = vv
                if vv | vm < hi:
                    hi = vv | vm
                c = _single_member(vv, vm, lo, hi)
                if c >= 0:
                    return known(c)
                if t is None or t.value != vv or t.mask != vm:
                    t = _tnum(vv, vm)
                return _new(t, lo, hi, lo, hi, lo, hi, lo, hi)
        elif (
            vm == U64
            and smin == S64_MIN
            and smax == S64_MAX
            and umin == 0
            and umax == U64
            and s32n == S32_MIN
            and s32x == S32_MAX
            and u32n == 0
            and u32x == U32
        ):
            return UNKNOWN

    # 2. Signed and unsigned, 32 and 64 bits, inform each other (__reg_deduce_bounds);
    #    the kernel runs three rounds, later rounds being no-ops once nothing changes.
    for _ in range(3):
        before = (smin, smax, umin, umax, s32n, s32x, u32n, u32x, vv, vm)

        # __reg32_deduce_bounds
        if umin >> HALF == umax >> HALF:
            lo = umin & U32
            if lo > u32n:
                u32n = lo
            hi = umax & U32
            if hi < u32x:
                u32x = hi
            lo = lo - MOD32 if lo & SIGN32 else lo
            hi = hi - MOD32 if hi & SIGN32 else hi
            if lo <= hi:
                if lo > s32n:
                    s32n = lo
                if hi < s32x:
                    s32x = hi
        if smin >> HALF == smax >> HALF:
            lo = smin & U32
            hi = smax & U32
            if lo <= hi:
                if lo > u32n:
                    u32n = lo
                if hi < u32x:
                    u32x = hi
            lo = lo - MOD32 if lo & SIGN32 else lo
            hi = hi - MOD32 if hi & SIGN32 else hi
            if lo <= hi:
                if lo > s32n:
                    s32n = lo
                if hi < s32x:
                    s32x = hi
        if ((umin >> HALF) + 1) & U32 == (umax >> HALF) & U32:
            lo = _s32(umin)
            hi = _s32(umax)
            if lo < 0 <= hi:
                if lo > s32n:
                    s32n = lo
                if hi < s32x:
                    s32x = hi
        if ((smin >> HALF) + 1) & U32 == (smax >> HALF) & U32:
            lo = _s32(smin)
            hi = _s32(smax)
            if lo < 0 <= hi:
                if lo > s32n:
                    s32n = lo
                if hi < s32x:
                    s32x = hi
        lo = u32n - MOD32 if u32n & SIGN32 else u32n
        hi = u32x - MOD32 if u32x & SIGN32 else u32x
        if lo <= hi:
            if lo > s32n:
                s32n = lo
            if hi < s32x:
                s32x = hi
        lo = s32n & U32
        hi = s32x & U32
        if lo <= hi:
            if lo > u32n:
                u32n = lo
            if hi < u32x:
                u32x = hi
        elif u32x < lo:
            # u32 range within the non-negative part of a sign-crossing s32 range
            s32n = u32n - MOD32 if u32n & SIGN32 else u32n
            if hi < u32x:
                u32x = hi
        elif hi < u32n:
            # u32 range within the negative part
            s32x = u32x - MOD32 if u32x & SIGN32 else u32x
            if lo > u32n:
                u32n = lo

        # __reg64_deduce_bounds
        lo = umin - MOD64 if umin & SIGN64 else umin
        hi = umax - MOD64 if umax & SIGN64 else umax
        if lo <= hi:
            if lo > smin:
                smin = lo
            if hi < smax:
                smax = hi
        lo = smin & U64
        hi = smax & U64
        if lo <= hi:
            if lo > umin:
                umin = lo
            if hi < umax:
                umax = hi
        elif umax < lo:
            smin = umin - MOD64 if umin & SIGN64 else umin
            if hi < umax:
                umax = hi
        elif hi < umin:
            smax = umax - MOD64 if umax & SIGN64 else umax
            if lo > umin:
                umin = lo

        # __reg_deduce_mixed_bounds
        x = (umin & HIGH) | u32n
        if x > umin:
            umin = x
        x = (umax & HIGH) | u32x
        if x < umax:
            umax = x
        x = (smin & NOT_U32) | u32n
        if x > smin:
            smin = x
        x = (smax & NOT_U32) | u32x
        if x < smax:
            smax = x
        lo = s32n & U32
        hi = s32x & U32
        if lo <= hi:
            x = (umin & HIGH) | lo
            if x > umin:
                umin = x
            x = (umax & HIGH) | hi
            if x < umax:
                umax = x
            x = (smin & NOT_U32) | lo
            if x > smin:
                smin = x
            x = (smax & NOT_U32) | hi
            if x < smax:
                smax = x
        if s32n >= 0 and smin >= S32_MIN and smax <= S32_MAX:
            smin = umin = s32n
            smax = s32x
            umax = s32x & U64
            # var_off &= tnum_range(umin, umax)
            n = (umin ^ umax).bit_length()
            if n < BITS:
                d = (1 << n) - 1
                mu = vm & d
                vv = (vv | (umin & ~d)) & ~mu
                vm = mu

        if before == (smin, smax, umin, umax, s32n, s32x, u32n, u32x, vv, vm):
            break

    # 3. What the ranges say about the bits (__reg_bound_offset).
    chi = umin ^ umax
    n = chi.bit_length()
    if n < BITS:
        d = (1 << n) - 1
        mu = vm & d
        vv = (vv | (umin & ~d)) & ~mu
        vm = mu
    d = (1 << (u32n ^ u32x).bit_length()) - 1
    lowm = vm & d & U32
    lowv = ((vv & U32) | (u32n & ~d)) & ~lowm
    vv = (vv & HIGH) | lowv
    vm = (vm & HIGH) | lowm

    # 4. And the bits, once more, about the ranges.
    v = vv & U32
    m = vm & U32
    x = v | (m & SIGN32)
    x = x - MOD32 if x & SIGN32 else x
    if x > s32n:
        s32n = x
    x = v | (m & S32_MAX)
    x = x - MOD32 if x & SIGN32 else x
    if x < s32x:
        s32x = x
    if v > u32n:
        u32n = v
    if v | m < u32x:
        u32x = v | m
    x = vv | (vm & SIGN64)
    x = x - MOD64 if x & SIGN64 else x
    if x > smin:
        smin = x
    x = vv | (vm & S64_MAX)
    x = x - MOD64 if x & SIGN64 else x
    if x < smax:
        smax = x
    if vv > umin:
        umin = vv
    top = vv | vm
    if top < umax:
        umax = top
    c = _single_member(vv, vm, umin, umax)
    if c >= 0:
        return known(c)
    if t is None or t.value != vv or t.mask != vm:
        t = _tnum(vv, vm)
    return _new(t, smin, smax, umin, umax, s32n, s32x, u32n, u32x)


def _single_member(vv: int, vm: int, umin: int, umax: int) -> int:
    """The one number the known bits and ``[umin, umax]`` still allow, else -1.

    This is the tail of the kernel's __update_reg64_bounds: when the tnum and the u64
    range meet in a single number the register becomes that constant.  (If they do not
    meet at all, the kernel's test picks the tnum's largest member.)
    """
    if not vm:
        return -1 if umin == vv == umax else vv
    if umin & ~vm == vv:
        # umin is a member; the next one up counts one more through the unknown bits
        if umin >= vv | vm:
            return umin if umin > umax else -1
        nxt = ((((umin & vm) | ~vm) + 1) & vm) | vv
        return umin if nxt > umax else -1
    nxt = _tn.step_raw(vv, vm, umin)
    if nxt == vv | vm:
        return nxt
    if nxt <= umax and _tn.step_raw(vv, vm, nxt) > umax:
        return nxt
    return -1


# ---------------------------------------------------------------------------------------
# Arithmetic (adjust_scalar_min_max_vals)


def alu(
    op: int,
    dst: Bounds,
    src: Bounds,
    alu32: bool = False,
    off: int = 0,
    imm: int = 0,
    to_be: bool = False,
) -> Bounds:
    """The new value of ``dst`` after ``dst op= src`` on two scalars.

    ``op`` is the instruction's operation field (``AluOp``), ``alu32`` says the class
    is BPF_ALU.  For an immediate operand pass ``known(imm)`` (sign-extended, as the
    kernel does).  ``off`` selects the sign-extending moves (8/16/32) and is otherwise
    ignored (signed division, ``off == 1``, is as unknown as the unsigned one); ``imm``
    and ``to_be`` (the source bit of BPF_END) describe byte swaps.  NEG ignores ``src``.
    Where the kernel cannot compute a range (division, modulo, a shift by a non-constant
    or by the width or more) the result is :func:`unknown` — all 64 bits, even for ALU32.
    AND/OR with a constant may make the kernel fork the path first: see :func:`fork`.
    """
    if op == MOV:
        return _mov(dst, src, alu32, off)
    if op == END:
        return byte_swap(dst, imm, not alu32, to_be)
    if op == NEG:
        t = dst.var_off
        if not t.mask and _is_known(dst):
            return known(-t.value & U32) if alu32 else known(-t.value)
        return _sub(_ZERO, dst, alu32)
    fn = _BINARY.get(op)
    if fn is None:
        return UNKNOWN
    st = src.var_off
    dt = dst.var_off
    if op in _SHIFT_OPS:  # only a constant, in-range shift
        if alu32:
            if (
                st.mask & U32
                or src.s32_min != src.s32_max
                or src.u32_min != src.u32_max
                or src.umax >= HALF
            ):
                return UNKNOWN
        elif st.mask or src.smin != src.smax or src.umin != src.umax or src.umax >= BITS:
            return UNKNOWN
    if SHORTCUTS and not st.mask and not dt.mask and _is_known(dst) and _is_known(src):
        r = _CONCRETE[op](dt.value, st.value, alu32)
        return known(r & (U32 if alu32 else U64))
    return fn(dst, src, alu32)


def alu_imm(op: int, dst: Bounds, imm: int, alu32: bool = False) -> Bounds:
    """:func:`alu` with the operand ``known(imm)`` (``imm`` as an unsigned 64-bit value):
    the same result, without re-checking that a fresh constant is one."""
    t = dst.var_off
    if SHORTCUTS and not t.mask:
        v = t.value
        if _KNOWN.get(v) is dst or _is_known(dst):
            if op == ADD:
                return known((v + imm) & (U32 if alu32 else U64))
            fn = _CONCRETE.get(op)
            if fn is not None and (imm < (HALF if alu32 else BITS) or op not in _SHIFT_OPS):
                r = fn(v, imm, alu32)
                return known(r & (U32 if alu32 else U64))
    return alu(op, dst, known(imm), alu32)


def _is_known(b: Bounds) -> bool:
    """Whether ``b`` is exactly ``known(b.var_off.value)`` (its var_off being constant)."""
    v = b.var_off.value
    if _KNOWN.get(v) is b:  # made by known() (the usual case), so consistent
        return True
    lo = v & U32
    return (
        b.umin == v
        and b.umax == v
        and b.smin == b.smax == (v - MOD64 if v & SIGN64 else v)
        and b.u32_min == lo
        and b.u32_max == lo
        and b.s32_min == b.s32_max == (lo - MOD32 if lo & SIGN32 else lo)
    )


def _finish(
    alu32: bool, vv: int, vm: int, smin: int, smax: int, umin: int, umax: int,
    s32n: int, s32x: int, u32n: int, u32x: int,
) -> Bounds:  # fmt: skip
    """Zero-extend an ALU32 result (zext_32_to_64), then reg_bounds_sync."""
    if alu32:
        vv &= U32
        vm &= U32
        umin = u32n
        umax = u32x
        if s32n >= 0 and s32x >= 0:
            smin = s32n
            smax = s32x
        else:
            smin = 0
            smax = U32
    return _sync(vv, vm, smin, smax, umin, umax, s32n, s32x, u32n, u32x)


def _add(d: Bounds, s: Bounds, alu32: bool) -> Bounds:
    dt = d.var_off
    st = s.var_off
    am = dt.mask
    bm = st.mask
    vv = (dt.value + st.value) & U64
    vm = (((am + bm + vv) & U64) ^ vv) | am | bm
    vv &= ~vm
    s32n = d.s32_min + s.s32_min
    s32x = d.s32_max + s.s32_max
    if s32n < S32_MIN or s32n > S32_MAX or s32x < S32_MIN or s32x > S32_MAX:
        s32n = S32_MIN
        s32x = S32_MAX
    # Unsigned sums that all wrap, or all don't, still form a range; a mix does not.
    u32n = d.u32_min + s.u32_min
    u32x = d.u32_max + s.u32_max
    if u32x > U32 and u32n <= U32:
        u32n = 0
        u32x = U32
    else:
        u32n &= U32
        u32x &= U32
    if alu32:  # the 64-bit ranges are about to be replaced by the zero extension
        return _finish(True, vv, vm, 0, 0, 0, 0, s32n, s32x, u32n, u32x)
    smin = d.smin + s.smin
    smax = d.smax + s.smax
    if smin < S64_MIN or smin > S64_MAX or smax < S64_MIN or smax > S64_MAX:
        smin = S64_MIN
        smax = S64_MAX
    umin = d.umin + s.umin
    umax = d.umax + s.umax
    if umax > U64 and umin <= U64:
        umin = 0
        umax = U64
    else:
        umin &= U64
        umax &= U64
    return _sync(vv, vm, smin, smax, umin, umax, s32n, s32x, u32n, u32x)


def _sub(d: Bounds, s: Bounds, alu32: bool) -> Bounds:
    dt = d.var_off
    st = s.var_off
    am = dt.mask
    bm = st.mask
    dv = (dt.value - st.value) & U64
    vm = (((dv + am) ^ (dv - bm)) & U64) | am | bm
    vv = dv & ~vm
    s32n = d.s32_min - s.s32_max
    s32x = d.s32_max - s.s32_min
    if s32n < S32_MIN or s32n > S32_MAX or s32x < S32_MIN or s32x > S32_MAX:
        s32n = S32_MIN
        s32x = S32_MAX
    # Differences that all wrap, or all don't, still form a range; a mix does not.
    u32n = d.u32_min - s.u32_max
    u32x = d.u32_max - s.u32_min
    if u32n < 0 <= u32x:
        u32n = 0
        u32x = U32
    else:
        u32n &= U32
        u32x &= U32
    if alu32:
        return _finish(True, vv, vm, 0, 0, 0, 0, s32n, s32x, u32n, u32x)
    smin = d.smin - s.smax
    smax = d.smax - s.smin
    if smin < S64_MIN or smin > S64_MAX or smax < S64_MIN or smax > S64_MAX:
        smin = S64_MIN
        smax = S64_MAX
    umin = d.umin - s.umax
    umax = d.umax - s.umin
    if umin < 0 <= umax:
        umin = 0
        umax = U64
    else:
        umin &= U64
        umax &= U64
    return _sync(vv, vm, smin, smax, umin, umax, s32n, s32x, u32n, u32x)


def _mul(d: Bounds, s: Bounds, alu32: bool) -> Bounds:
    dt = d.var_off
    st = s.var_off
    vv, vm = _tn.mul_raw(dt.value, dt.mask, st.value, st.mask)
    u32n = d.u32_min * s.u32_min
    u32x = d.u32_max * s.u32_max
    if u32x > U32 or u32n > U32:
        u32n = 0
        u32x = U32
    a = d.s32_min
    b = d.s32_max
    c = s.s32_min
    e = s.s32_max
    p0 = a * c
    p1 = a * e
    p2 = b * c
    p3 = b * e
    s32n = min(p0, p1, p2, p3)
    s32x = max(p0, p1, p2, p3)
    if s32n < S32_MIN or s32x > S32_MAX:
        s32n = S32_MIN
        s32x = S32_MAX
    if alu32:
        return _finish(True, vv, vm, 0, 0, 0, 0, s32n, s32x, u32n, u32x)
    umin = d.umin * s.umin
    umax = d.umax * s.umax
    if umax > U64 or umin > U64:
        umin = 0
        umax = U64
    a = d.smin
    b = d.smax
    c = s.smin
    e = s.smax
    p0 = a * c
    p1 = a * e
    p2 = b * c
    p3 = b * e
    smin = min(p0, p1, p2, p3)
    smax = max(p0, p1, p2, p3)
    if smin < S64_MIN or smax > S64_MAX:
        smin = S64_MIN
        smax = S64_MAX
    return _sync(vv, vm, smin, smax, umin, umax, s32n, s32x, u32n, u32x)


def _logic(
    alu32: bool, src_const32: bool, src_const: bool, vv: int, vm: int,
    u32n: int, u32x: int, umin: int, umax: int,
) -> Bounds:  # fmt: skip
    """The common tail of AND, OR and XOR once each computed its unsigned ranges.

    Both widths take their signed range from the unsigned one when that does not cross
    the sign boundary; a constant result makes the register (or sub-register) known.
    """
    if src_const32 and not vm & U32:
        u32n = u32x = vv & U32
        s32n = s32x = u32n - MOD32 if u32n & SIGN32 else u32n
    else:
        s32n = u32n - MOD32 if u32n & SIGN32 else u32n
        s32x = u32x - MOD32 if u32x & SIGN32 else u32x
        if s32n > s32x:
            s32n = S32_MIN
            s32x = S32_MAX
    if src_const and not vm:
        if alu32:
            return known(vv & U32)
        return known(vv)
    smin = umin - MOD64 if umin & SIGN64 else umin
    smax = umax - MOD64 if umax & SIGN64 else umax
    if smin > smax:
        smin = S64_MIN
        smax = S64_MAX
    if alu32:
        # The 64-bit half ends with __update_reg_bounds, which can make the register a
        # constant before the zero extension; reproduce it.
        return _update_then_finish(vv, vm, smin, smax, umin, umax, s32n, s32x, u32n, u32x)
    return _sync(vv, vm, smin, smax, umin, umax, s32n, s32x, u32n, u32x)


def _update_then_finish(
    vv: int, vm: int, smin: int, smax: int, umin: int, umax: int,
    s32n: int, s32x: int, u32n: int, u32x: int,
) -> Bounds:  # fmt: skip
    """__update_reg_bounds, then the ALU32 zero extension and reg_bounds_sync."""
    s32n, s32x, u32n, u32x = _update32(vv, vm, s32n, s32x, u32n, u32x)
    x = vv | (vm & SIGN64)
    x = x - MOD64 if x & SIGN64 else x
    smin = max(smin, x)
    x = vv | (vm & S64_MAX)
    x = x - MOD64 if x & SIGN64 else x
    smax = min(smax, x)
    umin = max(umin, vv)
    umax = min(umax, vv | vm)
    c = _single_member(vv, vm, umin, umax)
    if c >= 0:
        return known(c & U32)
    return _finish(True, vv, vm, smin, smax, umin, umax, s32n, s32x, u32n, u32x)


def _update32(
    vv: int, vm: int, s32n: int, s32x: int, u32n: int, u32x: int
) -> tuple[int, int, int, int]:
    """__update_reg32_bounds: what the low known bits say about the 32-bit ranges."""
    v = vv & U32
    m = vm & U32
    x = v | (m & SIGN32)
    x = x - MOD32 if x & SIGN32 else x
    if x > s32n:
        s32n = x
    x = v | (m & S32_MAX)
    x = x - MOD32 if x & SIGN32 else x
    if x < s32x:
        s32x = x
    if v > u32n:
        u32n = v
    if v | m < u32x:
        u32x = v | m
    return s32n, s32x, u32n, u32x


def _and(d: Bounds, s: Bounds, alu32: bool) -> Bounds:
    dt = d.var_off
    st = s.var_off
    sm = st.mask
    vv = dt.value & st.value
    vm = (dt.value | dt.mask) & (st.value | sm) & ~vv
    return _logic(
        alu32, not sm & U32, not sm, vv, vm,
        vv & U32, min(d.u32_max, s.u32_max), vv, min(d.umax, s.umax),
    )  # fmt: skip


def _or(d: Bounds, s: Bounds, alu32: bool) -> Bounds:
    dt = d.var_off
    st = s.var_off
    sm = st.mask
    vv = dt.value | st.value
    vm = (dt.mask | sm) & ~vv
    top = vv | vm
    return _logic(
        alu32, not sm & U32, not sm, vv, vm,
        max(d.u32_min, s.u32_min), top & U32, max(d.umin, s.umin), top,
    )  # fmt: skip


def _xor(d: Bounds, s: Bounds, alu32: bool) -> Bounds:
    dt = d.var_off
    st = s.var_off
    sm = st.mask
    vm = dt.mask | sm
    vv = (dt.value ^ st.value) & ~vm
    top = vv | vm
    return _logic(alu32, not sm & U32, not sm, vv, vm, vv & U32, top & U32, vv, top)


def _lsh(d: Bounds, s: Bounds, alu32: bool) -> Bounds:
    t = d.var_off
    if alu32:
        k = s.u32_min
        kmax = s.u32_max
        if kmax > HALF - 1 or d.u32_max > 1 << (HALF - 1 - kmax):
            u32n = 0
            u32x = U32
        else:
            u32n = (d.u32_min << k) & U32
            u32x = (d.u32_max << kmax) & U32
        vv = ((t.value & U32) << k) & U32
        vm = ((t.mask & U32) << k) & U32
        s32n, s32x, u32n, u32x = _update32(vv, vm, S32_MIN, S32_MAX, u32n, u32x)
        return _finish(True, vv, vm, 0, 0, 0, 0, s32n, s32x, u32n, u32x)
    k = s.umin
    kmax = s.umax
    if k == HALF and kmax == HALF:
        smin = d.s32_min << HALF
        smax = d.s32_max << HALF
    else:
        smin = S64_MIN
        smax = S64_MAX
    if d.umax > 1 << (BITS - 1 - kmax):
        umin = 0
        umax = U64
    else:
        umin = (d.umin << k) & U64
        umax = (d.umax << kmax) & U64
    if kmax > HALF - 1 or d.u32_max > 1 << (HALF - 1 - kmax):
        u32n = 0
        u32x = U32
    else:
        u32n = (d.u32_min << k) & U32
        u32x = (d.u32_max << kmax) & U32
    vv = (t.value << k) & U64
    vm = (t.mask << k) & U64
    return _sync(vv, vm, smin, smax, umin, umax, S32_MIN, S32_MAX, u32n, u32x)


def _rsh(d: Bounds, s: Bounds, alu32: bool) -> Bounds:
    t = d.var_off
    if alu32:
        k = s.u32_min
        vv = (t.value & U32) >> k
        vm = (t.mask & U32) >> k
        s32n, s32x, u32n, u32x = _update32(
            vv, vm, S32_MIN, S32_MAX, d.u32_min >> s.u32_max, d.u32_max >> k
        )
        return _finish(True, vv, vm, 0, 0, 0, 0, s32n, s32x, u32n, u32x)
    k = s.umin
    return _sync(
        t.value >> k, t.mask >> k, S64_MIN, S64_MAX, d.umin >> s.umax, d.umax >> k,
        S32_MIN, S32_MAX, 0, U32,
    )  # fmt: skip


def _arsh(d: Bounds, s: Bounds, alu32: bool) -> Bounds:
    t = d.var_off
    if alu32:
        k = s.u32_min
        r = _tn.arshift(t, k, HALF)
        s32n, s32x, u32n, u32x = _update32(r.value, r.mask, d.s32_min >> k, d.s32_max >> k, 0, U32)
        return _finish(True, r.value, r.mask, 0, 0, 0, 0, s32n, s32x, u32n, u32x)
    k = s.umin
    r = _tn.arshift(t, k, BITS)
    return _sync(r.value, r.mask, d.smin >> k, d.smax >> k, 0, U64, S32_MIN, S32_MAX, 0, U32)


_BINARY = {
    ADD: _add, SUB: _sub, MUL: _mul, AND: _and, OR: _or, XOR: _xor,
    LSH: _lsh, RSH: _rsh, ARSH: _arsh,
}  # fmt: skip


def _c_add(a: int, b: int, alu32: bool) -> int:
    return a + b


def _c_sub(a: int, b: int, alu32: bool) -> int:
    return a - b


def _c_mul(a: int, b: int, alu32: bool) -> int:
    return a * b


def _c_and(a: int, b: int, alu32: bool) -> int:
    return a & b


def _c_or(a: int, b: int, alu32: bool) -> int:
    return a | b


def _c_xor(a: int, b: int, alu32: bool) -> int:
    return a ^ b


def _c_lsh(a: int, b: int, alu32: bool) -> int:
    return a << (b & U32 if alu32 else b)


def _c_rsh(a: int, b: int, alu32: bool) -> int:
    return (a & U32) >> (b & U32) if alu32 else a >> b


def _c_arsh(a: int, b: int, alu32: bool) -> int:
    if alu32:
        return _s32(a) >> (b & U32)
    return (a - MOD64 if a & SIGN64 else a) >> b


_CONCRETE = {
    ADD: _c_add, SUB: _c_sub, MUL: _c_mul, AND: _c_and, OR: _c_or, XOR: _c_xor,
    LSH: _c_lsh, RSH: _c_rsh, ARSH: _c_arsh,
}  # fmt: skip
"""What each operation does to two known operands (the fast path of :func:`alu`)."""

_ZERO = known(0)


def _mov(dst: Bounds, src: Bounds, alu32: bool, off: int) -> Bounds:
    if not alu32:
        if off == 0:
            return src
        return coerce_to_size_sx(src, off >> 3)
    if off:
        src = coerce_subreg_to_size_sx(src, off >> 3)
    elif not src.var_off.mask & U32:
        return known(src.var_off.value & U32)
    return zext_32_to_64(src, sync_after=True)


def fork(dst: Bounds) -> tuple[Bounds, Bounds] | None:
    """The two values the kernel splits ``dst`` into before AND/OR with a constant.

    maybe_fork_scalars: a register known to be -1 or 0 (over 64 bits, else over its low
    32 bits) is explored as two paths.  Returns ``(current, pushed)``: the current path
    continues (re-executing nothing) with ``current`` (all ones), and a new path is
    pushed at the same instruction with ``pushed`` (zero), which then executes the AND/OR
    again.  ``None`` when the kernel does not fork.  The caller checks the instruction
    (AND or OR, the source a 64-bit constant).
    """
    if dst.smin == -1 and dst.smax == 0:
        return known(-1), known(0)
    if dst.s32_min == -1 and dst.s32_max == 0:
        return known32(dst, -1), known32(dst, 0)
    return None


# ---------------------------------------------------------------------------------------
# Byte swaps, zero and sign extension


def byte_swap(dst: Bounds, imm: int, alu64: bool, to_be: bool) -> Bounds:
    """BPF_END on a little-endian machine: ``bswap`` (ALU64) and ``be``/``le`` (ALU).

    A swap keeps only the known bits (moved) and forgets the ranges; 16- and 32-bit forms
    then truncate the register (scalar_byte_swap, then reg_bounds_sync).
    """
    b = dst
    if alu64 or to_be:
        t = dst.var_off
        if imm == 16:
            t = _tn.bswap16(t)
        elif imm == 32:
            t = _tn.bswap32(t)
        elif imm == 64:
            t = _tn.bswap64(t)
        b = _new(t, S64_MIN, S64_MAX, 0, U64, S32_MIN, S32_MAX, 0, U32)
    if imm == 16 or imm == 32:
        b = sync(_coerce_bits(b, imm))  # coerce_reg_to_size syncs, and so does the caller
    return sync(b)


def end(dst: Bounds, imm: int, to_be: bool, alu64: bool) -> Bounds:
    """:func:`byte_swap` with the arguments in instruction order (source bit, class)."""
    return byte_swap(dst, imm, alu64, to_be)


def zext_32_to_64(b: Bounds, sync_after: bool = False) -> Bounds:
    """The register after an ALU32 write: its low 32 bits, zero-extended (zext_32_to_64).

    ``sync_after`` runs reg_bounds_sync on the result, as the kernel does after a 32-bit
    move.
    """
    t = b.var_off
    s32n = b.s32_min
    s32x = b.s32_max
    if s32n >= 0 and s32x >= 0:
        smin = s32n
        smax = s32x
    else:
        smin = 0
        smax = U32
    if sync_after:
        return _sync(
            t.value & U32, t.mask & U32, smin, smax, b.u32_min, b.u32_max,
            s32n, s32x, b.u32_min, b.u32_max,
        )  # fmt: skip
    return _new(
        _tnum(t.value & U32, t.mask & U32), smin, smax, b.u32_min, b.u32_max,
        s32n, s32x, b.u32_min, b.u32_max,
    )  # fmt: skip


def coerce_to_size(b: Bounds, size: int) -> Bounds:
    """Truncate to the low ``size`` bytes, zero-extended (coerce_reg_to_size; size < 8)."""
    return sync(_coerce_bits(b, size * 8))


def _coerce_bits(b: Bounds, nbits: int) -> Bounds:
    """coerce_reg_to_size for ``nbits`` bits, without its final reg_bounds_sync."""
    keep = (1 << nbits) - 1
    t = b.var_off
    umin = b.umin
    umax = b.umax
    if umin & ~keep == umax & ~keep:
        umin &= keep
        umax &= keep
    else:
        umin = 0
        umax = keep
    if nbits < HALF:
        return _new(
            _tnum(t.value & keep, t.mask & keep), umin, umax, umin, umax,
            S32_MIN, S32_MAX, 0, U32,
        )  # fmt: skip
    return _new(
        _tnum(t.value & keep, t.mask & keep), umin, umax, umin, umax,
        b.s32_min, b.s32_max, b.u32_min, b.u32_max,
    )  # fmt: skip


def coerce_to_size_sx(b: Bounds, size: int) -> Bounds:
    """Sign-extend the low ``size`` bytes (1, 2 or 4) to 64 bits (coerce_reg_to_size_sx).

    Like the kernel, this does not end with reg_bounds_sync.
    """
    return _sext64_bits(b, size * 8)


def _sext64_bits(b: Bounds, nbits: int) -> Bounds:
    sign = 1 << (nbits - 1)
    t = b.var_off
    if not t.mask:
        lo = t.value & ((sign << 1) - 1)
        v = (lo - (sign << 1) if lo & sign else lo) & U64
        s = v - MOD64 if v & SIGN64 else v
        w = v & U32
        s32 = w - MOD32 if w & SIGN32 else w
        return _new(_tnum(v, 0), s, s, v, v, s32, s32, w, w)
    smax = b.smax
    smin = b.smin
    if (smax & U64) >> nbits == (smin & U64) >> nbits:
        hi = smax & ((sign << 1) - 1)
        hi = hi - (sign << 1) if hi & sign else hi
        lo = smin & ((sign << 1) - 1)
        lo = lo - (sign << 1) if lo & sign else lo
        if lo > hi:
            lo, hi = hi, lo
        if (hi >= 0) == (lo >= 0):
            ulo = lo & U64
            uhi = hi & U64
            return _new(
                _tn.range_(ulo, uhi), lo, hi, ulo, uhi,
                _s32(lo), _s32(hi), lo & U32, hi & U32,
            )  # fmt: skip
    return _new(_tn.TNUM_UNKNOWN, -sign, sign - 1, 0, U64, -sign, sign - 1, 0, U32)


def coerce_subreg_to_size_sx(b: Bounds, size: int) -> Bounds:
    """Sign-extend the low ``size`` bytes (1 or 2) to 32 bits (coerce_subreg_to_size_sx).

    The 64-bit ranges are left as they were (the caller zero-extends next).
    """
    return _sext32_bits(b, size * 8)


def _sext32_bits(b: Bounds, nbits: int) -> Bounds:
    sign = 1 << (nbits - 1)
    keep = (sign << 1) - 1
    t = b.var_off
    if not t.mask:
        lo = t.value & keep
        v = (lo - (sign << 1) if lo & sign else lo) & U64
        w = v & U32
        s32 = w - MOD32 if w & SIGN32 else w
        return _new(_tnum(v, 0), b.smin, b.smax, b.umin, b.umax, s32, s32, w, w)
    s32x = b.s32_max
    s32n = b.s32_min
    if (s32x & U32) >> nbits == (s32n & U32) >> nbits:
        hi = s32x & keep
        hi = hi - (sign << 1) if hi & sign else hi
        lo = s32n & keep
        lo = lo - (sign << 1) if lo & sign else lo
        if lo > hi:
            lo, hi = hi, lo
        if (hi >= 0) == (lo >= 0):
            r = _tn.range_(lo & U64, hi & U64)
            return _new(
                _tnum(r.value & U32, r.mask & U32), b.smin, b.smax, b.umin, b.umax,
                lo, hi, lo & U32, hi & U32,
            )  # fmt: skip
    return _new(_tnum(0, U32), b.smin, b.smax, b.umin, b.umax, -sign, sign - 1, 0, U32)


# ---------------------------------------------------------------------------------------
# Conditional jumps


def negate(op: int) -> int:
    """The condition of the fall-through branch (rev_opcode); JSET becomes JSET_NOT."""
    return _NEGATE.get(op, 0)


def flip(op: int) -> int:
    """The condition with its operands exchanged: ``a op b`` == ``b flip(op) a``."""
    return _FLIP.get(op, 0)


_NEGATE = {
    JEQ: JNE, JNE: JEQ, JSET: JSET_NOT, JSET_NOT: JSET, JGE: JLT, JGT: JLE, JLE: JGT,
    JLT: JGE, JSGE: JSLT, JSGT: JSLE, JSLE: JSGT, JSLT: JSGE,
}  # fmt: skip
_FLIP = {
    JEQ: JEQ, JNE: JNE, JSET: JSET, JGE: JLE, JGT: JLT, JLE: JGE, JLT: JGT,
    JSGE: JSLE, JSGT: JSLT, JSLE: JSGE, JSLT: JSGT,
}  # fmt: skip


def is_branch_taken(op: int, dst: Bounds, src: Bounds, is32: bool) -> int:
    """Whether ``if dst op src`` jumps: 1 always, 0 never, -1 can't tell.

    is_scalar_branch_taken, for two scalars (JMP32 when ``is32``: the low halves).
    """
    if is32:
        t1v = dst.var_off.value & U32
        t1m = dst.var_off.mask & U32
        t2v = src.var_off.value & U32
        t2m = src.var_off.mask & U32
        umin1 = dst.u32_min
        umax1 = dst.u32_max
        smin1 = dst.s32_min
        smax1 = dst.s32_max
        umin2 = src.u32_min
        umax2 = src.u32_max
        smin2 = src.s32_min
        smax2 = src.s32_max
    else:
        t1v = dst.var_off.value
        t1m = dst.var_off.mask
        t2v = src.var_off.value
        t2m = src.var_off.mask
        umin1 = dst.umin
        umax1 = dst.umax
        smin1 = dst.smin
        smax1 = dst.smax
        umin2 = src.umin
        umax2 = src.umax
        smin2 = src.smin
        smax2 = src.smax
    if op in (JEQ, JNE):
        # the answer when the two are sure to differ
        differ = 0 if op == JEQ else 1
        if not t1m and not t2m:
            return int(t1v == t2v) ^ differ
        both = ~(t1m | t2m)
        if (t1v ^ t2v) & both:
            return differ
        if umin1 > umax2 or umax1 < umin2 or smin1 > smax2 or smax1 < smin2:
            return differ
        if not is32 and (
            dst.u32_min > src.u32_max
            or dst.u32_max < src.u32_min
            or dst.s32_min > src.s32_max
            or dst.s32_max < src.s32_min
        ):
            return differ
        return -1
    if op == JGT:
        return 1 if umin1 > umax2 else 0 if umax1 <= umin2 else -1
    if op == JLT:
        return 1 if umax1 < umin2 else 0 if umin1 >= umax2 else -1
    if op == JGE:
        return 1 if umin1 >= umax2 else 0 if umax1 < umin2 else -1
    if op == JLE:
        return 1 if umax1 <= umin2 else 0 if umin1 > umax2 else -1
    if op == JSGT:
        return 1 if smin1 > smax2 else 0 if smax1 <= smin2 else -1
    if op == JSLT:
        return 1 if smax1 < smin2 else 0 if smin1 >= smax2 else -1
    if op == JSGE:
        return 1 if smin1 >= smax2 else 0 if smax1 < smin2 else -1
    if op == JSLE:
        return 1 if smax1 <= smin2 else 0 if smin1 > smax2 else -1
    if op == JSET:
        if t2m:
            if t1m:
                return -1
            t1v, t1m, t2v = t2v, t2m, t1v
        if t1v & t2v:
            return 1
        if not (t1v | t1m) & t2v:
            return 0
        return -1
    return -1


def refine(op: int, dst: Bounds, src: Bounds, is32: bool) -> tuple[Bounds, Bounds]:
    """``(dst, src)`` on the branch where ``dst op src`` holds, each reg_bounds_sync'ed.

    regs_refine_cond_op followed by reg_bounds_sync, as reg_set_min_max does it; call it
    with :func:`negate` ``(op)`` for the fall-through branch.  The kernel skips this when
    either operand is a pointer; when both are the same register use :func:`refine_same`.
    The results may be inconsistent on a branch that cannot be taken: the caller runs
    :func:`invariants_violation` on each (true_reg1, true_reg2, false_reg1, false_reg2).
    """
    if op in (JGE, JGT, JSGE, JSGT):
        a, b = _refine_synced(_FLIP[op], src, dst, is32)
        return b, a
    return _refine_synced(op, dst, src, is32)


def _refine_synced(op: int, r1: Bounds, r2: Bounds, is32: bool) -> tuple[Bounds, Bounds]:
    """regs_refine_cond_op (G/SG forms already flipped to L/SL), then reg_bounds_sync."""
    t1 = r1.var_off
    t2 = r2.var_off
    if op in (JLE, JLT):
        lt = 1 if op == JLT else 0
        if is32:
            x = min(r1.u32_max, (r2.u32_max - lt) & U32)
            n = max((r1.u32_min + lt) & U32, r2.u32_min)
            return (
                _sync(t1.value, t1.mask, r1.smin, r1.smax, r1.umin, r1.umax,
                      r1.s32_min, r1.s32_max, r1.u32_min, x, t1),
                _sync(t2.value, t2.mask, r2.smin, r2.smax, r2.umin, r2.umax,
                      r2.s32_min, r2.s32_max, n, r2.u32_max, t2),
            )  # fmt: skip
        x = min(r1.umax, (r2.umax - lt) & U64)
        n = max((r1.umin + lt) & U64, r2.umin)
        return (
            _sync(t1.value, t1.mask, r1.smin, r1.smax, r1.umin, x,
                  r1.s32_min, r1.s32_max, r1.u32_min, r1.u32_max, t1),
            _sync(t2.value, t2.mask, r2.smin, r2.smax, n, r2.umax,
                  r2.s32_min, r2.s32_max, r2.u32_min, r2.u32_max, t2),
        )  # fmt: skip
    if op in (JSLE, JSLT):
        lt = 1 if op == JSLT else 0
        if is32:
            x = min(r1.s32_max, _s32(r2.s32_max - lt))
            n = max(_s32(r1.s32_min + lt), r2.s32_min)
            return (
                _sync(t1.value, t1.mask, r1.smin, r1.smax, r1.umin, r1.umax,
                      r1.s32_min, x, r1.u32_min, r1.u32_max, t1),
                _sync(t2.value, t2.mask, r2.smin, r2.smax, r2.umin, r2.umax,
                      n, r2.s32_max, r2.u32_min, r2.u32_max, t2),
            )  # fmt: skip
        x = min(r1.smax, _s64((r2.smax - lt) & U64))
        n = max(_s64((r1.smin + lt) & U64), r2.smin)
        return (
            _sync(t1.value, t1.mask, r1.smin, x, r1.umin, r1.umax,
                  r1.s32_min, r1.s32_max, r1.u32_min, r1.u32_max, t1),
            _sync(t2.value, t2.mask, n, r2.smax, r2.umin, r2.umax,
                  r2.s32_min, r2.s32_max, r2.u32_min, r2.u32_max, t2),
        )  # fmt: skip
    if op == JEQ:
        if is32:
            u32n = max(r1.u32_min, r2.u32_min)
            u32x = min(r1.u32_max, r2.u32_max)
            s32n = max(r1.s32_min, r2.s32_min)
            s32x = min(r1.s32_max, r2.s32_max)
            mu = t1.mask & t2.mask & U32
            lo = (t1.value | t2.value) & U32 & ~mu
            v1 = (t1.value & HIGH) | lo
            v2 = (t2.value & HIGH) | lo
            return (
                _sync(v1, ((t1.mask & HIGH) | mu) & ~v1, r1.smin, r1.smax, r1.umin, r1.umax,
                      s32n, s32x, u32n, u32x),
                _sync(v2, ((t2.mask & HIGH) | mu) & ~v2, r2.smin, r2.smax, r2.umin, r2.umax,
                      s32n, s32x, u32n, u32x),
            )  # fmt: skip
        umin = max(r1.umin, r2.umin)
        umax = min(r1.umax, r2.umax)
        smin = max(r1.smin, r2.smin)
        smax = min(r1.smax, r2.smax)
        mu = t1.mask & t2.mask
        v = (t1.value | t2.value) & ~mu
        return (
            _sync(v, mu, smin, smax, umin, umax, r1.s32_min, r1.s32_max, r1.u32_min,
                  r1.u32_max),
            _sync(v, mu, smin, smax, umin, umax, r2.s32_min, r2.s32_max, r2.u32_min,
                  r2.u32_max),
        )  # fmt: skip
    a, b = _refine_bits(op, r1, r2, is32)
    return sync(a), sync(b)


def refine_same(op: int, b: Bounds, is32: bool) -> Bounds:
    """:func:`refine` for ``if rX op rX``: both operands are one register.

    The kernel does not special-case this: its refinement writes through two pointers to
    the same register, so the second operand sees the first one's update, and the
    register is then reg_bounds_sync'ed twice (once as each operand).  ``rX < rX`` thus
    pulls both ends of the ranges in by one.
    """
    if op in (JGE, JGT, JSGE, JSGT):
        op = _FLIP[op]
    if op == JLT:
        if is32:
            x = min(b.u32_max, (b.u32_max - 1) & U32)
            n = max((b.u32_min + 1) & U32, b.u32_min)
            b = _new(b.var_off, b.smin, b.smax, b.umin, b.umax, b.s32_min, b.s32_max, n, x)
        else:
            x = min(b.umax, (b.umax - 1) & U64)
            n = max((b.umin + 1) & U64, b.umin)
            b = _new(b.var_off, b.smin, b.smax, n, x, b.s32_min, b.s32_max, b.u32_min, b.u32_max)
    elif op == JSLT:
        if is32:
            x = min(b.s32_max, _s32(b.s32_max - 1))
            n = max(_s32(b.s32_min + 1), b.s32_min)
            b = _new(b.var_off, b.smin, b.smax, b.umin, b.umax, n, x, b.u32_min, b.u32_max)
        else:
            x = min(b.smax, _s64((b.smax - 1) & U64))
            n = max(_s64((b.smin + 1) & U64), b.smin)
            b = _new(b.var_off, n, x, b.umin, b.umax, b.s32_min, b.s32_max, b.u32_min, b.u32_max)
    elif op in (JNE, JSET, JSET_NOT):
        b = _refine_bits(op, b, b, is32)[0]
    return sync(sync(b))


def _refine_bits(op: int, r1: Bounds, r2: Bounds, is32: bool) -> tuple[Bounds, Bounds]:
    """regs_refine_cond_op for JNE, JSET and JSET_NOT (not yet synced)."""
    if op in (JNE, JSET, JSET_NOT):
        swapped = False
        cmask = U32 if is32 else U64
        if r2.var_off.mask & cmask:
            r1, r2 = r2, r1
            swapped = True
            if r2.var_off.mask & cmask:
                return (r2, r1)
        val = r2.var_off.value & cmask
        if op == JNE:
            r1 = _exclude(r1, val, is32)
        elif op == JSET:
            if val & (val - 1) or not val:
                return (r2, r1) if swapped else (r1, r2)
            t = r1.var_off
            if is32:
                t = _tn.with_subreg(t, _tn.or_(_tn.subreg(t), _tnum(val, 0)))
            else:
                t = _tn.or_(t, _tnum(val, 0))
            r1 = _replace_var_off(r1, t)
        else:
            # The ranges are forgotten before the tnum narrows, so that a dead branch
            # cannot leave the two contradicting each other.
            t = r1.var_off
            if is32:
                t = _tn.with_subreg(t, _tn.and_(_tn.subreg(t), _tnum(~val & U64, 0)))
            else:
                t = _tn.and_(t, _tnum(~val & U64, 0))
            r1 = _new(t, S64_MIN, S64_MAX, 0, U64, S32_MIN, S32_MAX, 0, U32)
        return (r2, r1) if swapped else (r1, r2)
    return (r1, r2)


def _exclude(b: Bounds, val: int, is32: bool) -> Bounds:
    """JNE against a constant: move any bound that sits exactly on ``val`` inwards."""
    if is32:
        u32n = b.u32_min
        u32x = b.u32_max
        s32n = b.s32_min
        s32x = b.s32_max
        sval = val - MOD32 if val & SIGN32 else val
        if u32n == val:
            u32n = (u32n + 1) & U32
        if u32x == val:
            u32x = (u32x - 1) & U32
        if s32n == sval:
            s32n = _s32(s32n + 1)
        if s32x == sval:
            s32x = _s32(s32x - 1)
        return _new(b.var_off, b.smin, b.smax, b.umin, b.umax, s32n, s32x, u32n, u32x)
    umin = b.umin
    umax = b.umax
    smin = b.smin
    smax = b.smax
    sval = val - MOD64 if val & SIGN64 else val
    if umin == val:
        umin = (umin + 1) & U64
    if umax == val:
        umax = (umax - 1) & U64
    if smin == sval:
        smin = _s64((smin + 1) & U64)
    if smax == sval:
        smax = _s64((smax - 1) & U64)
    return _new(b.var_off, smin, smax, umin, umax, b.s32_min, b.s32_max, b.u32_min, b.u32_max)


def _replace_var_off(b: Bounds, t: Tnum) -> Bounds:
    return _new(t, b.smin, b.smax, b.umin, b.umax, b.s32_min, b.s32_max, b.u32_min, b.u32_max)


def check_invariants(b: Bounds) -> str | None:
    """What reg_bounds_sanity_check objects to in ``b``, or None when it is consistent."""
    if b.umin > b.umax or b.smin > b.smax or b.u32_min > b.u32_max or b.s32_min > b.s32_max:
        return "range bounds violation"
    t = b.var_off
    if not t.mask:
        v = t.value
        s = v - MOD64 if v & SIGN64 else v
        if b.umin != v or b.umax != v or b.smin != s or b.smax != s:
            return "const tnum out of sync with range bounds"
    if not t.mask & U32:
        v = t.value & U32
        s = v - MOD32 if v & SIGN32 else v
        if b.u32_min != v or b.u32_max != v or b.s32_min != s or b.s32_max != s:
            return "const subreg tnum out of sync with range bounds"
    return None


def forget_ranges(b: Bounds) -> Bounds:
    """``b`` with all eight ranges unbounded and its known bits kept (__mark_reg_unbounded).

    The kernel does this to a register that fails its consistency check (after logging
    :func:`invariants_violation`) and then carries on.
    """
    return _new(b.var_off, S64_MIN, S64_MAX, 0, U64, S32_MIN, S32_MAX, 0, U32)


def invariants_violation(b: Bounds, ctx: str) -> str | None:
    """The log line reg_bounds_sanity_check writes for an inconsistent ``b``, else None.

    ``ctx`` names the check (``alu``, ``true_reg1``, ``false_reg2``, ...).  The line comes
    without its trailing newline.
    """
    msg = check_invariants(b)
    if msg is None:
        return None
    t = b.var_off
    return (
        f"verifier bug: REG INVARIANTS VIOLATION ({ctx}): {msg} "
        f"u64=[{b.umin:#x}, {b.umax:#x}] s64=[{b.smin & U64:#x}, {b.smax & U64:#x}] "
        f"u32=[{b.u32_min:#x}, {b.u32_max:#x}] s32=[{b.s32_min & U32:#x}, {b.s32_max & U32:#x}] "
        f"var_off=({t.value:#x}, {t.mask:#x})"
    )


# ---------------------------------------------------------------------------------------
# The verifier log's text


UNUM_MAX_DECIMAL = 0xFFFF
SNUM_MAX_DECIMAL = 0x7FFF
SNUM_MIN_DECIMAL = -0x8000


def format_unum(v: int) -> str:
    """An unsigned number as the log prints it: decimal up to 0xffff, else hex."""
    return str(v) if v <= UNUM_MAX_DECIMAL else hex(v)


def format_snum(v: int) -> str:
    """A signed number (given signed or as its unsigned 64-bit pattern) as the log does.

    Decimal within the s16 range, else the hex of the 64-bit pattern.
    """
    if v & SIGN64 and v > 0:
        v -= MOD64
    if SNUM_MIN_DECIMAL <= v <= SNUM_MAX_DECIMAL:
        return str(v)
    return hex(v & U64)


def format_scalar(b: Bounds, parts: Iterable[str] = (), precise: bool = False) -> str:
    """A scalar register's value as the 6.18 verifier log prints it.

    A constant prints as its value (``5``, ``-1``, ``0xffffffff``); anything else as
    ``scalar(...)``: first ``parts`` (the caller's ``id=2`` or ``id=2+5``, ``ref_obj_id=3``,
    in the kernel's order), then the ranges that say something, then ``var_off`` unless
    it is unknown.  ``precise`` prefixes the ``P`` of a precise scalar.
    """
    t = b.var_off
    head = "P" if precise else ""
    if not t.mask:
        return head + format_snum(t.value)
    items = list(parts)
    ranges = format_ranges(b)
    if ranges:
        items.append(ranges)
    return head + "scalar(" + ",".join(items) + ")"


def format_ranges(b: Bounds) -> str:
    """The ``smin=...,var_off=(...)`` part of a non-constant value (print_scalar_ranges).

    Equal bounds are printed once under all their names (``smax=umax=255``); a signed and
    an unsigned bound are merged only when neither is negative or both are; a 32-bit
    signed bound outside the s16 range is shown as its 32-bit pattern, not sign-extended.
    """
    s32n = b.s32_min
    s32x = b.s32_max
    # (name, 64-bit pattern, negative?, omitted?) in the kernel's order
    vals = [
        b.smin & U64, b.smax & U64, b.umin, b.umax,
        s32n & U64 if SNUM_MIN_DECIMAL <= s32n <= SNUM_MAX_DECIMAL else s32n & U32,
        s32x & U64 if SNUM_MIN_DECIMAL <= s32x <= SNUM_MAX_DECIMAL else s32x & U32,
        b.u32_min, b.u32_max,
    ]  # fmt: skip
    omit = [
        b.smin == S64_MIN, b.smax == S64_MAX, b.umin == 0, b.umax == U64,
        s32n == S32_MIN, s32x == S32_MAX, b.u32_min == 0, b.u32_max == U32,
    ]  # fmt: skip
    out = []
    for i in range(8):
        if omit[i]:
            continue
        val = vals[i]
        signed = i in (0, 1, 4, 5)
        neg = signed and bool(val & SIGN64)
        names = [_RANGE_NAMES[i]]
        for j in range(i + 2, 8, 2):
            if omit[j] or vals[j] != val:
                continue
            if (j in (0, 1, 4, 5) and bool(vals[j] & SIGN64)) != neg:
                continue
            omit[j] = True
            names.append(_RANGE_NAMES[j])
        out.append("=".join(names) + "=" + (format_snum(val) if signed else format_unum(val)))
    t = b.var_off
    if t.mask != U64:
        out.append(f"var_off={_tn.format(t)}")
    return ",".join(out)


_RANGE_NAMES = ("smin", "smax", "umin", "umax", "smin32", "smax32", "umin32", "umax32")
