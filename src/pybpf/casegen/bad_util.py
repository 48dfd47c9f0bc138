"""Building blocks the deliberate mistakes share: pointers in temporaries, map lookups
with and without their NULL check, packet pointers, and subprograms with a given body.

A mistake is emitted at the top level of the main program, where the verifier is sure
to reach it; registers holding pointers are never put in :attr:`Frame.live`, so the
fragments generated after a mistake (for the kinds the kernel accepts) read scalars only.
"""

from __future__ import annotations

from collections.abc import Callable

from ..isa.helper_ids import HELPER_IDS
from ..isa.insn import Insn
from ..isa.opcodes import AluOp, JmpOp
from . import asm
from .asm import Asm, Label
from .frag_arith import fold_epilogue
from .frag_call import SUB_KEY_BUF, SUB_SCRATCH
from .frag_mem import HELPER_LOOKUP, _call_with_key, direct_map, pick_map, rodata_map
from .frag_net import load_ctx
from .gen import CTX, FP, Frame, Gen, MapInfo, Subprog

Body = Callable[[Gen], None]
HELPER_PRANDOM = HELPER_IDS["get_prandom_u32"]


def fp_ptr(g: Gen, off: int, avoid: tuple[int, ...] = ()) -> int:
    """A temporary holding ``fp + off``."""
    p = g.temp(avoid)
    g.emit(asm.mov(p, FP), asm.alu(True, AluOp.ADD, p, None, off))
    return p


def ctx_ptr(g: Gen, avoid: tuple[int, ...] = ()) -> int:
    p = g.temp(avoid)
    g.emit(asm.mov(p, CTX))
    return p


def value_ptr(g: Gen, avoid: tuple[int, ...] = (), m: MapInfo | None = None) -> tuple[int, MapInfo]:
    """A temporary pointing at the start of a map value (``BPF_PSEUDO_MAP_IDX_VALUE``)."""
    m = m or direct_map(g)
    p = g.temp(avoid)
    g.emit(asm.ld_map_value(p, m.index, 0))
    return p, m


def map_ptr(g: Gen, avoid: tuple[int, ...] = ()) -> tuple[int, MapInfo]:
    m = pick_map(g)
    p = g.temp(avoid)
    g.emit(asm.ld_map(p, m.index))
    return p, m


def any_pointer(g: Gen, avoid: tuple[int, ...] = ()) -> tuple[int, str]:
    """A temporary holding some pointer the verifier tracks, and what kind it is."""
    kinds = ["fp", "ctx", "map_value", "map_ptr"]
    if g.prog_type in ("sched_cls", "sched_act", "xdp"):
        kinds.append("pkt")
    kind = g.rng.choice(kinds)
    if kind == "fp":
        return fp_ptr(g, -8 * g.rng.randint(1, g.frame.scratch // 8), avoid), kind
    if kind == "ctx":
        return ctx_ptr(g, avoid), kind
    if kind == "map_value":
        return value_ptr(g, avoid)[0], kind
    if kind == "map_ptr":
        return map_ptr(g, avoid)[0], kind
    d, _ = packet_pointers(g, avoid)
    return d, kind


def lookup(g: Gen, m: MapInfo | None = None, key: int | None = None) -> MapInfo:
    """``r0 = bpf_map_lookup_elem(m, key)``: r0 is a map value or NULL afterwards."""
    m = m or pick_map(g)
    _call_with_key(g, m, HELPER_LOOKUP, key)
    g.emit(asm.call_helper(HELPER_LOOKUP))
    return m


def with_value(g: Gen, fn: Callable[[Gen, int, MapInfo], None], m: MapInfo | None = None) -> None:
    """Look a value up and run ``fn(g, 0, map)`` where r0 is known not to be NULL."""
    m = lookup(g, m)
    null = Label("null")
    g.asm.branch(asm.jcond(False, JmpOp.JEQ, 0, None, 0), null)
    g.frame.reserved.add(0)
    fn(g, 0, m)
    g.frame.reserved.discard(0)
    g.asm.place(null)
    g.frame.live.clear()


def readonly_map(g: Gen) -> MapInfo:
    return rodata_map(g)


def packet_pointers(g: Gen, avoid: tuple[int, ...] = ()) -> tuple[int, int]:
    """Temporaries holding ``data`` and ``data_end`` (packet program types)."""
    data_off, end_off = (0, 4) if g.is_xdp else (76, 80)
    d = g.temp(avoid)
    e = g.temp((*avoid, d))
    g.emit(asm.ldx(4, d, CTX, data_off), asm.ldx(4, e, CTX, end_off))
    return d, e


def bounds_ok(g: Gen, ptr: int, end: int, n: int, skip: Label, avoid: tuple[int, ...] = ()) -> None:
    """Go to ``skip`` unless ``n`` bytes from ``ptr`` lie before ``end``."""
    p = g.temp((ptr, end, *avoid))
    g.emit(asm.mov(p, ptr), asm.alu(True, AluOp.ADD, p, None, n))
    if g.rng.random() < 0.5:
        g.asm.branch(asm.jcond(False, JmpOp.JGT, p, end), skip)
    else:
        g.asm.branch(asm.jcond(False, JmpOp.JLT, end, p), skip)


def loaded(g: Gen, reg: int) -> None:
    """``reg`` now holds a scalar worth folding into the result."""
    g.define(reg)
    g.mix(reg)


def read(g: Gen, base: int, off: int, size: int, avoid: tuple[int, ...] = ()) -> None:
    t = g.temp((base, *avoid))
    g.emit(asm.ldx(size, t, base, off))
    loaded(g, t)


def access(g: Gen, base: int, off: int, size: int, avoid: tuple[int, ...] = ()) -> None:
    """A read, a register store or an immediate store of ``size`` bytes at ``base + off``."""
    r = g.rng.random()
    if r < 0.45:
        read(g, base, off, size, avoid)
    elif r < 0.75:
        g.emit(asm.stx(size, base, g.scalar(), off))
    else:
        g.emit(asm.st(size, base, off, g.imm32()))


# --- subprograms ----------------------------------------------------------------------------


def new_subprog(g: Gen) -> Subprog:
    sub = Subprog(Label(f"sub{len(g.subprogs)}"), Asm())
    g.subprogs.append(sub)
    return sub


def call_subprog(g: Gen, inner: Body, *, args: int = 1, ctx: bool = False, init: bool = True,
                 epilogue: bool = True, unknown_args: bool = False, result: bool = True) -> None:  # fmt: skip
    """Call a new subprogram running ``inner``.

    ``args`` scalars go in r1…; with ``ctx`` the context follows them (and lands in the
    callee's r6).  ``init`` gives the callee an initialised scratch stack and accumulators
    (without it, r6-r9 are unset on entry); ``epilogue`` ends it with the usual fold and
    exit (without it, ``inner`` must end the function itself).  With ``unknown_args`` the
    scalars come from context fields, so that the verifier cannot know them.  ``result``:
    r0 comes back a scalar, to be folded into the accumulators.
    """
    g.before_call()
    for reg in range(1, args + 1):
        if unknown_args and g.frame.has_ctx:
            load_ctx(g, reg)
        else:
            g.emit(asm.mov(reg, g.acc()))
    if ctx:
        g.emit(asm.mov(args + 1, CTX))
    sub = new_subprog(g)
    g.asm.branch(asm.call_local(), sub.entry, "imm")
    outer_asm, outer_frame, depths = g.asm, g.frame, (g.branch_depth, g.loop_depth)
    g.asm = sub.asm
    g.branch_depth = g.loop_depth = 0
    g.frame = Frame(outer_frame.depth + 1, ctx, SUB_SCRATCH if init else 0, SUB_KEY_BUF)
    g.asm.place(sub.entry)
    if ctx:
        g.emit(asm.mov(CTX, args + 1))
    if init:
        for k in range(1, SUB_SCRATCH // 8 + 1):
            g.emit(asm.st(8, FP, -8 * k, g.imm32()))
        for acc in (7, 8, 9):
            if args and g.rng.random() < 0.6:
                g.emit(asm.mov(acc, g.rng.randint(1, args)))
            else:
                g.emit(asm.movi(acc, g.imm32()))
        g.frame.live = set(range(1, args + 1))
    inner(g)
    if epilogue:
        fold_epilogue(g)
    g.asm, g.frame = outer_asm, outer_frame
    g.branch_depth, g.loop_depth = depths
    if result:
        g.define(0)
        g.mix(0)


def undecided(g: Gen, reg: int, target: Label) -> None:
    """A jump to ``target`` the verifier must follow both ways when ``reg`` holds an
    unknown context field (any width, sign-extended or not)."""
    op = g.rng.choice([JmpOp.JEQ, JmpOp.JNE, JmpOp.JGT, JmpOp.JGE, JmpOp.JLT, JmpOp.JLE])
    g.asm.branch(asm.jcond(False, op, reg, None, g.rng.randint(1, 100)), target)


def unknown_scalar(g: Gen, avoid: tuple[int, ...] = ()) -> int:
    """A temporary holding a context field (unknown to the verifier) or, without a
    context, a random number."""
    if g.frame.has_ctx:
        t = g.temp(avoid)
        load_ctx(g, t)
    else:
        g.before_call()
        g.emit(asm.call_helper(HELPER_PRANDOM))
        t = 0
    g.define(t)
    return t


def filler(g: Gen, count: int) -> list[Insn]:
    """``count`` harmless instructions on the accumulators."""
    out: list[Insn] = []
    for _ in range(count):
        acc = g.acc()
        op = g.rng.choice([AluOp.ADD, AluOp.XOR, AluOp.SUB, AluOp.OR])
        out.append(asm.alu(True, op, acc, None, g.imm32()))
    return out
