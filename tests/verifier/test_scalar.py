"""The scalar domain: exactly the kernel's, and sound.

Exactness: programs whose verifier logs (level 2, recorded from the running 6.18 kernel in
``tests/data/verifier/scalar_*.json``) are replayed with pybpf's transfer functions, and
every register state the kernel printed is compared with :func:`format_scalar` of the
replayed one (see :mod:`tests.verifier.scalar_logs`); a live test does the same with
fresh programs where bpf() works.

Soundness: every concrete result of concrete inputs drawn from the abstract inputs lies in
the abstract output (all eight ranges and the tnum).  Checked on the production source
instantiated at 4 and 8 bits (:mod:`tests.verifier.widths`) — systematically over the
abstract states that intersecting a tnum with one range produces, with all their members —
and with hypothesis at 64 bits, where each abstract value is built around a concrete
member.  ``is_branch_taken`` must never claim a direction some pair contradicts, and
``refine`` must keep every pair for which its condition holds.  The shortcuts the module
takes for speed are checked against its general computation the same ways.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.isa import decode_hex
from pybpf.oracle import available, prog_load, unavailable_reason
from pybpf.verifier import scalar as sc
from pybpf.verifier import tnum
from pybpf.verifier.scalar import Bounds

from . import scalar_logs as sl
from .widths import instantiate, members

DATA = Path(__file__).resolve().parent.parent / "data" / "verifier"
U64 = (1 << 64) - 1
U32 = (1 << 32) - 1

ALU_OPS = (sc.ADD, sc.SUB, sc.MUL, sc.AND, sc.OR, sc.XOR, sc.LSH, sc.RSH, sc.ARSH)
JMP_OPS = (sc.JEQ, sc.JNE, sc.JGT, sc.JGE, sc.JLT, sc.JLE, sc.JSGT, sc.JSGE, sc.JSLT,
           sc.JSLE, sc.JSET)  # fmt: skip


# ---------------------------------------------------------------------------------------
# Exactness: the kernel's logs


def _load(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text())["programs"])


LOG_FILES = sorted(DATA.glob("scalar_*.json"))


MIN_COMPARED = {"scalar_alu": 4000, "scalar_jmp": 4000, "scalar_mixed": 4000,
                "scalar_probes": 400}  # fmt: skip


def test_recorded_logs_are_all_there() -> None:
    assert {p.stem for p in LOG_FILES} == set(MIN_COMPARED)


@pytest.mark.parametrize("path", LOG_FILES, ids=lambda p: p.stem)
def test_recorded_kernel_logs_agree(path: Path) -> None:
    compared = 0
    wrong: list[str] = []
    for prog in _load(path):
        rep = sl.replay(decode_hex(prog["insns"]), prog["log"])
        compared += len(rep.comparisons)
        wrong += [f"{prog['name']}: {p}" for p in rep.problems]
        wrong += [
            f"{prog['name']} {c.where} R{c.reg}:\n  kernel {c.kernel}\n  pybpf  {c.ours}"
            for c in rep.disagreements
        ]
    assert not wrong, "\n".join(wrong[:20])
    assert compared >= MIN_COMPARED[path.stem]


def test_probe_logs_cover_their_behaviours() -> None:
    logs = {p["name"]: "\n".join(p["log"]) for p in _load(DATA / "scalar_probes.json")}
    assert set(logs) == set(sl.PROBES)
    assert "REG INVARIANTS VIOLATION (false_reg1)" in logs["invariants"]
    assert "REG INVARIANTS VIOLATION (alu)" in logs["invariants"]
    assert "from 15 to 15:" in logs["fork"] and "from 17 to 17:" in logs["fork"]
    assert "R6=16" in logs["single_value"]


@pytest.mark.kernel
@pytest.mark.skipif(not available(), reason=f"bpf() unavailable: {unavailable_reason()}")
def test_live_kernel_agrees() -> None:
    programs = [sl.assemble_probe(body) for body in sl.PROBES.values()]
    rng = random.Random()
    for style in sl.STYLES:
        programs += [sl.generate(rng.randrange(1 << 30), style) for _ in range(10)]
    wrong: list[str] = []
    for insns in programs:
        res = prog_load(1, insns, log_level=2, log_size=1 << 24)
        rep = sl.replay(insns, sl.relevant_lines(res.log))
        wrong += rep.problems + [f"{c.where} R{c.reg}: {c.kernel} != {c.ours}"
                                 for c in rep.disagreements]  # fmt: skip
    assert not wrong, "\n".join(wrong[:20])


# ---------------------------------------------------------------------------------------
# The log's text


def test_format_constants() -> None:
    assert sc.format_scalar(sc.known(0)) == "0"
    assert sc.format_scalar(sc.known(-1)) == "-1"
    assert sc.format_scalar(sc.known(32767)) == "32767"
    assert sc.format_scalar(sc.known(32768)) == "0x8000"
    assert sc.format_scalar(sc.known(-32768)) == "-32768"
    assert sc.format_scalar(sc.known(-32769)) == "0xffffffffffff7fff"
    assert sc.format_scalar(sc.known(-100000)) == "0xfffffffffffe7960"
    assert sc.format_scalar(sc.known(0xFFFFFFFF)) == "0xffffffff"
    assert sc.format_scalar(sc.known(5), precise=True) == "P5"


def test_format_ranges_merge_like_the_kernel() -> None:
    u = sc.unknown()
    assert sc.format_scalar(u) == "scalar()"
    assert sc.format_scalar(u, ["id=1"]) == "scalar(id=1)"
    b = sc.alu(sc.AND, u, sc.known(255))
    assert sc.format_scalar(b, ["id=3"]) == (
        "scalar(id=3,smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))"
    )
    assert sc.format_scalar(sc.alu(sc.NEG, b, b)) == "scalar(smin=smin32=-255,smax=smax32=0)"
    assert sc.format_scalar(sc.alu(sc.OR, b, sc.known(-256)), precise=True) == (
        "Pscalar(smin=smin32=-256,smax=smax32=-1,umin=0xffffffffffffff00,umin32=0xffffff00,"
        "var_off=(0xffffffffffffff00; 0xff))"
    )
    w = sc.alu(sc.MOV, u, u, alu32=True)
    assert sc.format_scalar(w) == "scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))"
    assert sc.format_ranges(b) == "smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff)"


def test_format_32bit_signed_bounds_in_hex_are_not_sign_extended() -> None:
    b = Bounds(tnum.TNUM_UNKNOWN, sc.S64_MIN, sc.S64_MAX, 0, U64, -100000, 5, 0, U32)
    assert sc.format_ranges(b) == "smin32=0xfffe7960,smax32=5"
    b = Bounds(tnum.TNUM_UNKNOWN, sc.S64_MIN, sc.S64_MAX, 0, U64, -100000, 5, 0xFFFE7960, U32)
    assert sc.format_ranges(b) == "smin32=umin32=0xfffe7960,smax32=5"


def test_format_numbers() -> None:
    assert sc.format_unum(65535) == "65535"
    assert sc.format_unum(65536) == "0x10000"
    assert sc.format_snum(-1) == "-1"
    assert sc.format_snum(U64) == "-1"
    assert sc.format_snum(-32769) == "0xffffffffffff7fff"


def test_invariants_violation_text() -> None:
    bad = Bounds(tnum.new_tnum(0x10007, 0xFFFFFFFF00000000), -0x7FFFFFFFFFFEFFF9,
                 0x7FFFFFFF00010001, 0x10007, 0xFFFFFFFF00010001, 0x10007, 0x10001, 0x10007,
                 0x10001)  # fmt: skip
    assert sc.check_invariants(bad) == "range bounds violation"
    assert sc.invariants_violation(bad, "false_reg1") == (
        "verifier bug: REG INVARIANTS VIOLATION (false_reg1): range bounds violation "
        "u64=[0x10007, 0xffffffff00010001] s64=[0x8000000000010007, 0x7fffffff00010001] "
        "u32=[0x10007, 0x10001] s32=[0x10007, 0x10001] "
        "var_off=(0x10007, 0xffffffff00000000)"
    )
    reset = sc.forget_ranges(bad)
    assert reset.var_off == bad.var_off
    assert sc.check_invariants(reset) == "const subreg tnum out of sync with range bounds"
    assert sc.check_invariants(sc.known(3)) is None
    assert sc.invariants_violation(sc.unknown(), "alu") is None


# ---------------------------------------------------------------------------------------
# API details


def test_constructors_and_queries() -> None:
    k = sc.known(-2)
    assert k == Bounds(tnum.const(-2), -2, -2, U64 - 1, U64 - 1, -2, -2, U32 - 1, U32 - 1)
    assert sc.is_const(k) and sc.const_value(k) == U64 - 1
    assert sc.unknown() is sc.UNKNOWN and not sc.is_const(sc.UNKNOWN)
    h = sc.known32(sc.UNKNOWN, 7)
    assert sc.is_const(h, subreg32=True) and not sc.is_const(h)
    assert sc.const_value(h, subreg32=True) == 7
    assert (h.smin, h.u32_min, h.s32_max) == (sc.S64_MIN, 7, 7)
    assert sc.contains(k, U64 - 1) and not sc.contains(k, 0)


def test_negate_and_flip() -> None:
    for op in JMP_OPS:
        assert sc.negate(sc.negate(op)) == op
        assert sc.flip(sc.flip(op)) == op
    assert sc.negate(sc.JSET) == sc.JSET_NOT == 0x48
    assert sc.flip(sc.JGT) == sc.JLT and sc.negate(sc.JGT) == sc.JLE
    assert sc.flip(sc.JSGE) == sc.JSLE and sc.negate(sc.JSLT) == sc.JSGE


def test_fork() -> None:
    minus_one_or_zero = sc.alu(sc.ARSH, sc.UNKNOWN, sc.known(63))
    assert sc.fork(minus_one_or_zero) == (sc.known(-1), sc.known(0))
    w = sc.alu(sc.ARSH, sc.UNKNOWN, sc.known(31), alu32=True)
    split = sc.fork(sc.alu(sc.OR, sc.UNKNOWN, sc.known(0)))  # nothing to split
    assert split is None
    assert w.smin == 0  # a 32-bit arsh zero-extends, so only the low half is -1/0
    cur, pushed = sc.fork(w) or (None, None)
    assert cur is not None and pushed is not None
    assert (cur.u32_min, pushed.u32_min) == (U32, 0) and cur.umax == w.umax


def test_untracked_operations_are_unknown() -> None:
    b = sc.alu(sc.AND, sc.UNKNOWN, sc.known(255))
    for op in (sc.DIV, sc.MOD):
        assert sc.alu(op, b, sc.known(3)) is sc.UNKNOWN
        assert sc.alu(op, b, sc.known(3), alu32=True, off=1) is sc.UNKNOWN
    assert sc.alu(sc.LSH, b, b) is sc.UNKNOWN  # shift by a non-constant
    assert sc.alu(sc.LSH, b, sc.known(64)) is sc.UNKNOWN
    assert sc.alu(sc.RSH, b, sc.known(32), alu32=True) is sc.UNKNOWN
    assert sc.alu(sc.ARSH, b, sc.known(31), alu32=True) is not sc.UNKNOWN


# ---------------------------------------------------------------------------------------
# Soundness at small widths: concrete semantics


@cache
def small(bits: int, half: int) -> ModuleType:
    return instantiate(bits, half)[1]


def _sx(x: int, bits: int) -> int:
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >> (bits - 1) else x


def concrete_alu(op: int, x: int, y: int, alu32: bool, bits: int, half: int) -> int | None:
    """``x op y`` on a bits-wide machine (ALU32: on the low half, zero-extended)."""
    w = half if alu32 else bits
    m = (1 << w) - 1
    x &= m
    y &= m
    if op == sc.ADD:
        return (x + y) & m
    if op == sc.SUB:
        return (x - y) & m
    if op == sc.MUL:
        return (x * y) & m
    if op == sc.AND:
        return x & y
    if op == sc.OR:
        return x | y
    if op == sc.XOR:
        return x ^ y
    if op == sc.NEG:
        return -x & m
    if y >= w:
        return None
    if op == sc.LSH:
        return (x << y) & m
    if op == sc.RSH:
        return x >> y
    if op == sc.ARSH:
        return (_sx(x, w) >> y) & m
    raise AssertionError(op)


def condition(op: int, x: int, y: int, is32: bool, bits: int, half: int) -> bool:
    w = half if is32 else bits
    x &= (1 << w) - 1
    y &= (1 << w) - 1
    sx, sy = _sx(x, w), _sx(y, w)
    return {
        sc.JEQ: x == y, sc.JNE: x != y, sc.JGT: x > y, sc.JGE: x >= y, sc.JLT: x < y,
        sc.JLE: x <= y, sc.JSGT: sx > sy, sc.JSGE: sx >= sy, sc.JSLT: sx < sy,
        sc.JSLE: sx <= sy, sc.JSET: bool(x & y),
    }[op]  # fmt: skip


def covers(r: Any, values: list[int], bits: int, half: int) -> bool:
    """Whether the abstract ``r`` allows every one of ``values`` (unsigned, bits wide)."""
    if not values:
        return True
    t = r.var_off
    ored = andd = values[0]
    for v in values:
        ored |= v
        andd &= v
    if (ored & ~t.mask) != t.value or (andd & ~t.mask) != t.value:
        return False
    lo32 = [v & ((1 << half) - 1) for v in values]
    s64 = [_sx(v, bits) for v in values]
    s32 = [_sx(v, half) for v in lo32]
    return bool(
        r.umin <= min(values) and max(values) <= r.umax
        and r.smin <= min(s64) and max(s64) <= r.smax
        and r.u32_min <= min(lo32) and max(lo32) <= r.u32_max
        and r.s32_min <= min(s32) and max(s32) <= r.s32_max
    )  # fmt: skip


def gamma(s: ModuleType, b: Any, bits: int) -> list[int]:
    return [x for x in members(b.var_off, bits) if s.contains(b, x)]


@cache
def family(bits: int, half: int) -> dict[Any, tuple[int, ...]]:
    """Every consistent abstract state a tnum and one range (of any of the four kinds)
    make once reg_bounds_sync'ed, with its members."""
    s = small(bits, half)
    m64 = (1 << bits) - 1
    m32 = (1 << half) - 1
    smin, smax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    s32min, s32max = -(1 << (half - 1)), (1 << (half - 1)) - 1
    out: dict[Any, tuple[int, ...]] = {}
    for mask in range(1 << bits):
        for value in range(1 << bits):
            if value & mask:
                continue
            cands = []
            for lo, hi in itertools.combinations_with_replacement(range(m64 + 1), 2):
                cands.append((smin, smax, lo, hi, s32min, s32max, 0, m32))
            for lo, hi in itertools.combinations_with_replacement(range(smin, smax + 1), 2):
                cands.append((lo, hi, 0, m64, s32min, s32max, 0, m32))
            for lo, hi in itertools.combinations_with_replacement(range(m32 + 1), 2):
                cands.append((smin, smax, 0, m64, s32min, s32max, lo, hi))
            for lo, hi in itertools.combinations_with_replacement(range(s32min, s32max + 1), 2):
                cands.append((smin, smax, 0, m64, lo, hi, 0, m32))
            for c in cands:
                b = s._sync(value, mask, *c)
                if b not in out and s.check_invariants(b) is None:
                    g = gamma(s, b, bits)
                    if g:
                        out[b] = tuple(g)
    return out


def random_states(bits: int, half: int, n: int, seed: int) -> list[tuple[Any, tuple[int, ...]]]:
    """``n`` random consistent abstract states (tnum and all four ranges random)."""
    s = small(bits, half)
    r = random.Random(seed)
    m64 = (1 << bits) - 1
    m32 = (1 << half) - 1
    out: list[tuple[Any, tuple[int, ...]]] = []
    while len(out) < n:
        mask = r.getrandbits(bits) & (r.getrandbits(bits) if r.random() < 0.6 else m64)
        value = r.getrandbits(bits) & ~mask

        def rng(lo: int, hi: int, p: float) -> tuple[int, int]:
            if r.random() > p:
                return lo, hi
            a, b = r.randint(lo, hi), r.randint(lo, hi)
            return min(a, b), max(a, b)

        sm = rng(-(1 << (bits - 1)), (1 << (bits - 1)) - 1, 0.4)
        um = rng(0, m64, 0.5)
        s32 = rng(-(1 << (half - 1)), (1 << (half - 1)) - 1, 0.3)
        u32 = rng(0, m32, 0.3)
        b = s._sync(value, mask, sm[0], sm[1], um[0], um[1], s32[0], s32[1], u32[0], u32[1])
        if s.check_invariants(b) is None:
            g = gamma(s, b, bits)
            if g:
                out.append((b, tuple(g)))
    return out


def check_alu(s: ModuleType, a: Any, ga: tuple[int, ...], b: Any, gb: tuple[int, ...],
              bits: int, half: int) -> None:  # fmt: skip
    for op in ALU_OPS:
        for alu32 in (False, True):
            r = s.alu(op, a, b, alu32)
            vals = [concrete_alu(op, x, y, alu32, bits, half) for x in ga for y in gb]
            got = [v for v in vals if v is not None]
            assert covers(r, got, bits, half), (hex(op), alu32, a, b, r)


def check_jumps(s: ModuleType, a: Any, ga: tuple[int, ...], b: Any, gb: tuple[int, ...],
                bits: int, half: int) -> None:  # fmt: skip
    for op in JMP_OPS:
        for is32 in (False, True):
            taken = s.is_branch_taken(op, a, b, is32)
            ta, tb = s.refine(op, a, b, is32)
            fa, fb = s.refine(s.negate(op), a, b, is32)
            yes_x, yes_y, no_x, no_y = [], [], [], []
            for x in ga:
                for y in gb:
                    if condition(op, x, y, is32, bits, half):
                        assert taken != 0, (hex(op), is32, a, b, x, y)
                        yes_x.append(x)
                        yes_y.append(y)
                    else:
                        assert taken != 1, (hex(op), is32, a, b, x, y)
                        no_x.append(x)
                        no_y.append(y)
            assert covers(ta, yes_x, bits, half) and covers(tb, yes_y, bits, half), (hex(op), a, b)
            assert covers(fa, no_x, bits, half) and covers(fb, no_y, bits, half), (hex(op), a, b)


def check_unary(s: ModuleType, a: Any, ga: tuple[int, ...], bits: int, half: int) -> None:
    for alu32 in (False, True):
        r = s.alu(s.NEG, a, a, alu32)
        assert covers(r, [concrete_alu(sc.NEG, x, 0, alu32, bits, half) or 0 for x in ga],
                      bits, half)  # fmt: skip
        z = s.alu(s.MOV, s.UNKNOWN, a, alu32)
        assert covers(z, [x & ((1 << half) - 1) if alu32 else x for x in ga], bits, half)
    for nbits in range(1, bits):
        r = s.sync(s._coerce_bits(a, nbits))
        assert covers(r, [x & ((1 << nbits) - 1) for x in ga], bits, half)
    for nbits in range(1, half + 1):
        r = s._sext64_bits(a, nbits)
        assert covers(r, [_sx(x, nbits) & ((1 << bits) - 1) for x in ga], bits, half)
    for nbits in range(1, half):
        r = s.zext_32_to_64(s._sext32_bits(a, nbits), sync_after=True)
        assert covers(r, [_sx(x, nbits) & ((1 << half) - 1) for x in ga], bits, half)
    for op in JMP_OPS:
        for is32 in (False, True):
            yes = [x for x in ga if condition(op, x, x, is32, bits, half)]
            no = [x for x in ga if not condition(op, x, x, is32, bits, half)]
            assert covers(s.refine_same(op, a, is32), yes, bits, half), (hex(op), a)
            assert covers(s.refine_same(s.negate(op), a, is32), no, bits, half), (hex(op), a)
    split = s.fork(a)
    if split is not None:
        cur, pushed = split
        assert all(s.contains(cur, x) or s.contains(pushed, x) for x in ga)


# ---------------------------------------------------------------------------------------
# Soundness at small widths: the tests


def test_family_is_rich() -> None:
    fam = family(4, 2)
    assert len(fam) > 500
    assert any(len(g) == 16 for g in fam.values())
    assert sum(1 for b in fam if b.var_off.mask == 0) == 16


def test_unary_sound_exhaustive_4bit() -> None:
    s = small(4, 2)
    for a, ga in family(4, 2).items():
        check_unary(s, a, ga, 4, 2)


def test_binary_sound_against_constants_4bit() -> None:
    s = small(4, 2)
    fam = list(family(4, 2).items())
    consts = [(s.known(c), (c,)) for c in range(16)]
    for (a, ga), (b, gb) in itertools.product(fam[::5], consts):
        check_alu(s, a, ga, b, gb, 4, 2)
        check_alu(s, b, gb, a, ga, 4, 2)


def test_binary_sound_pairs_4bit() -> None:
    s = small(4, 2)
    fam = list(family(4, 2).items())[::13]
    for (a, ga), (b, gb) in itertools.product(fam, fam):
        check_alu(s, a, ga, b, gb, 4, 2)


def test_jumps_sound_4bit() -> None:
    s = small(4, 2)
    fam = list(family(4, 2).items())
    consts = [(s.known(c), (c,)) for c in range(16)]
    for (a, ga), (b, gb) in itertools.product(fam[::8], consts[::3]):
        check_jumps(s, a, ga, b, gb, 4, 2)
    sample = fam[::40]
    for (a, ga), (b, gb) in itertools.product(sample, sample):
        check_jumps(s, a, ga, b, gb, 4, 2)


def test_sound_random_8bit() -> None:
    s = small(8, 4)
    states = random_states(8, 4, 200, seed=8)
    r = random.Random(9)
    for a, ga in states:
        check_unary(s, a, ga, 8, 4)
        b, gb = r.choice(states)
        check_alu(s, a, ga, b, gb, 8, 4)
        check_jumps(s, a, ga, b, gb, 8, 4)
        c = r.randrange(256)
        check_alu(s, a, ga, s.known(c), (c,), 8, 4)
        check_jumps(s, a, ga, s.known(c), (c,), 8, 4)


# ---------------------------------------------------------------------------------------
# The shortcuts equal the general computation


@contextmanager
def no_shortcuts(s: ModuleType) -> Iterator[None]:
    setattr(s, "SHORTCUTS", False)  # noqa: B010 - a module, typed loosely
    try:
        yield
    finally:
        setattr(s, "SHORTCUTS", True)  # noqa: B010


def _both(s: ModuleType, fn: Callable[[], Any]) -> tuple[Any, Any]:
    fast = fn()
    with no_shortcuts(s):
        slow = fn()
    return fast, slow


def test_shortcuts_agree_4bit() -> None:
    s = small(4, 2)
    fam = list(family(4, 2))
    for a in fam:
        t = a.var_off
        for umax in range(16):
            args = (t.value, t.mask, a.smin, a.smax, a.umin, umax, a.s32_min, a.s32_max,
                    a.u32_min, a.u32_max)  # fmt: skip
            fast, slow = _both(s, lambda args=args: s._sync(*args))  # type: ignore[misc]
            assert fast == slow, args
    for a, b in itertools.product(fam[::13], fam[::13]):
        for op in ALU_OPS:
            fast, slow = _both(s, lambda op=op, a=a, b=b: s.alu(op, a, b))  # type: ignore[misc]
            assert fast == slow


def test_shortcuts_agree_random_8bit() -> None:
    s = small(8, 4)
    r = random.Random(88)
    for _ in range(20000):
        mask = r.getrandbits(8) & r.getrandbits(8)
        args = [r.getrandbits(8) & ~mask, mask]
        lo, hi = sorted((r.randint(-128, 127), r.randint(-128, 127)))
        args += [lo, hi] if r.random() < 0.5 else [-128, 127]
        lo, hi = sorted((r.randrange(256), r.randrange(256 if r.random() < 0.5 else 8)))
        args += [lo, hi]
        lo, hi = sorted((r.randint(-8, 7), r.randint(-8, 7)))
        args += [lo, hi] if r.random() < 0.5 else [-8, 7]
        lo, hi = sorted((r.randrange(16), r.randrange(16)))
        args += [lo, hi] if r.random() < 0.5 else [0, 15]
        fast, slow = _both(s, lambda args=args: s._sync(*args))  # type: ignore[misc]
        assert fast == slow, args


# ---------------------------------------------------------------------------------------
# Soundness at 64 bits


INTERESTING = [0, 1, 2, 7, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
               1 << 32, (1 << 63) - 1, 1 << 63, U64 - 1, U64]  # fmt: skip


@st.composite
def abstract_with_member(draw: st.DrawFn) -> tuple[Bounds, int]:
    """A synced 64-bit abstract value and one concrete member of it.

    Built around the member: some of its bits unknown, and one range (of a random kind,
    width and offset) around it — what conditional jumps and masks make in programs.
    """
    x = draw(st.one_of(st.integers(0, U64), st.sampled_from(INTERESTING),
                       st.integers(0, 1 << 20)))  # fmt: skip
    mask = draw(st.one_of(st.just(0), st.just(U64), st.integers(0, U64),
                          st.integers(0, 64).map(lambda n: (1 << n) - 1),
                          st.integers(0, 64).map(lambda n: U64 ^ ((1 << n) - 1))))  # fmt: skip
    t = tnum.new_tnum(x & ~mask, mask)
    kind = draw(st.sampled_from(["u64", "s64", "u32", "s32", "none"]))
    below = draw(st.one_of(st.integers(0, 16), st.integers(0, U64)))
    above = draw(st.one_of(st.integers(0, 16), st.integers(0, U64)))
    b = Bounds(t, sc.S64_MIN, sc.S64_MAX, 0, U64, sc.S32_MIN, sc.S32_MAX, 0, U32)
    if kind == "u64":
        b = Bounds(t, b.smin, b.smax, max(0, x - below), min(U64, x + above), b.s32_min,
                   b.s32_max, 0, U32)  # fmt: skip
    elif kind == "s64":
        v = _sx(x, 64)
        b = Bounds(t, max(sc.S64_MIN, v - below), min(sc.S64_MAX, v + above), 0, U64,
                   b.s32_min, b.s32_max, 0, U32)  # fmt: skip
    elif kind == "u32":
        v = x & U32
        b = Bounds(t, b.smin, b.smax, 0, U64, b.s32_min, b.s32_max, max(0, v - below),
                   min(U32, v + above))  # fmt: skip
    elif kind == "s32":
        v = _sx(x, 32)
        b = Bounds(t, b.smin, b.smax, 0, U64, max(sc.S32_MIN, v - below),
                   min(sc.S32_MAX, v + above), 0, U32)  # fmt: skip
    b = sc.sync(b)
    assert sc.contains(b, x)
    return b, x


@settings(max_examples=150, deadline=None)
@given(abstract_with_member(), abstract_with_member())
def test_alu_sound_64(am: tuple[Bounds, int], bn: tuple[Bounds, int]) -> None:
    (a, x), (b, y) = am, bn
    for op in ALU_OPS:
        for alu32 in (False, True):
            z = concrete_alu(op, x, y, alu32, 64, 32)
            if z is not None:
                r = sc.alu(op, a, b, alu32)
                assert sc.contains(r, z), (hex(op), alu32, a, b, x, y, r)
    for alu32 in (False, True):
        z = concrete_alu(sc.NEG, x, 0, alu32, 64, 32)
        assert z is not None and sc.contains(sc.alu(sc.NEG, a, a, alu32), z)


@settings(max_examples=150, deadline=None)
@given(abstract_with_member(), abstract_with_member())
def test_jumps_sound_64(am: tuple[Bounds, int], bn: tuple[Bounds, int]) -> None:
    (a, x), (b, y) = am, bn
    for op in JMP_OPS:
        for is32 in (False, True):
            holds = condition(op, x, y, is32, 64, 32)
            taken = sc.is_branch_taken(op, a, b, is32)
            assert taken == -1 or taken == int(holds), (hex(op), is32, a, b, x, y)
            ra, rb = sc.refine(op if holds else sc.negate(op), a, b, is32)
            assert sc.contains(ra, x) and sc.contains(rb, y), (hex(op), is32, holds, a, b, x, y)
            same = sc.refine_same(op if condition(op, x, x, is32, 64, 32) else sc.negate(op),
                                  a, is32)  # fmt: skip
            assert sc.contains(same, x)


@settings(max_examples=150, deadline=None)
@given(abstract_with_member())
def test_width_changes_sound_64(am: tuple[Bounds, int]) -> None:
    a, x = am
    for size in (1, 2, 4):
        assert sc.contains(sc.coerce_to_size(a, size), x & ((1 << (8 * size)) - 1))
        assert sc.contains(sc.coerce_to_size_sx(a, size), _sx(x, 8 * size) & U64)
        assert sc.contains(sc.alu(sc.MOV, a, a, False, 8 * size), _sx(x, 8 * size) & U64)
    for size in (1, 2):
        sub = sc.coerce_subreg_to_size_sx(a, size)
        assert sc.contains(sc.zext_32_to_64(sub, sync_after=True), _sx(x, 8 * size) & U32)
        assert sc.contains(sc.alu(sc.MOV, a, a, True, 8 * size), _sx(x, 8 * size) & U32)
    assert sc.contains(sc.zext_32_to_64(a), x & U32)
    assert sc.contains(sc.alu(sc.MOV, sc.UNKNOWN, a, True), x & U32)
    swapped = {
        16: int.from_bytes((x & 0xFFFF).to_bytes(2, "little"), "big"),
        32: int.from_bytes((x & U32).to_bytes(4, "little"), "big"),
        64: int.from_bytes(x.to_bytes(8, "little"), "big"),
    }
    for imm in (16, 32, 64):
        assert sc.contains(sc.byte_swap(a, imm, True, False), swapped[imm])
        assert sc.contains(sc.byte_swap(a, imm, False, True), swapped[imm])
        le = x & ((1 << imm) - 1)
        assert sc.contains(sc.byte_swap(a, imm, False, False), le)


@settings(max_examples=150, deadline=None)
@given(abstract_with_member(), st.integers(0, U64), st.integers(0, U64))
def test_shortcuts_agree_64(am: tuple[Bounds, int], lo: int, hi: int) -> None:
    a, _ = am
    t = a.var_off
    for umin, umax in ((a.umin, min(a.umax, hi & 0x7FFFFFFF)), (min(lo, hi), max(lo, hi))):
        args = (t.value, t.mask, a.smin, a.smax, umin, umax, a.s32_min, a.s32_max, a.u32_min,
                a.u32_max)  # fmt: skip
        fast, slow = _both(sc, lambda args=args: sc._sync(*args))  # type: ignore[misc]
        assert fast == slow
    for op in ALU_OPS:
        fast, slow = _both(sc, lambda op=op: sc.alu(op, a, sc.known(lo & 0x3F)))  # type: ignore[misc]
        assert fast == slow


def test_single_member_matches_the_kernels_formulation_5bit() -> None:
    """``_single_member`` (used by every sync) against __update_reg64_bounds' own test,
    written with tnum_step, for every tnum and every clamped u64 range at 5 bits."""
    t5, s = instantiate(5, 2)
    for mask in range(32):
        for value in range(32):
            if value & mask:
                continue
            t = t5.new_tnum(value, mask)
            top = value | mask
            for umin in range(value, 32):
                for umax in range(umin, top + 1):
                    nxt = t5.step(t, umin)
                    inside = umin & ~mask == value
                    if inside and nxt > umax:
                        want = umin
                    elif not inside and nxt == top:
                        want = top
                    elif not inside and nxt <= umax and t5.step(t, nxt) > umax:
                        want = nxt
                    else:
                        want = -1
                    assert s._single_member(value, mask, umin, umax) == want, (t, umin, umax)
