"""Fragments that call: bpf-to-bpf calls to static subprograms (generated on the spot),
and the helpers every program type has, used so that their nondeterminism (time,
randomness) cannot reach the result."""

from __future__ import annotations

from ..isa.helper_ids import HELPER_IDS
from ..isa.opcodes import AluOp, JmpOp
from . import asm
from .asm import Asm, Label
from .frag_arith import fold_epilogue
from .frag_mem import atomic_op
from .gen import CTX, FP, Frame, Gen, Subprog

HELPER_KTIME_GET_NS = HELPER_IDS["ktime_get_ns"]
HELPER_GET_PRANDOM_U32 = HELPER_IDS["get_prandom_u32"]
HELPER_GET_SMP_PROCESSOR_ID = HELPER_IDS["get_smp_processor_id"]
HELPER_GET_NUMA_NODE_ID = HELPER_IDS["get_numa_node_id"]

SUB_SCRATCH = 32
SUB_PTR_SLOTS = (-40, -48)
SUB_KEY_BUF = -56


def frag_helpers(g: Gen) -> None:
    rng = g.rng
    kinds = ["prandom", "smp", "numa"] + (["ktime"] * 2 if g.frame.time_slot is not None else [])
    kind = rng.choice(kinds)
    g.note(kind)
    g.before_call()
    if kind == "ktime":
        # two readings: only their order is used, which is certain
        slot = g.frame.time_slot
        assert slot is not None
        g.emit(asm.call_helper(HELPER_KTIME_GET_NS), asm.stx(8, FP, 0, slot))
        g.emit(asm.call_helper(HELPER_KTIME_GET_NS), asm.ldx(8, 1, FP, slot))
        ok = Label("monotonic")
        if rng.random() < 0.5:
            g.asm.branch(asm.jcond(False, JmpOp.JGE, 0, 1), ok)
        else:
            g.asm.branch(asm.jcond(False, JmpOp.JLE, 1, 0), ok)
        g.emit(asm.alu(True, AluOp.XOR, g.acc(), None, 0x7101))
        g.asm.place(ok)
        t = g.rng.choice([2, 3])
        g.emit(asm.mov(t, 0), asm.alu(True, AluOp.SUB, t, 1))  # elapsed time: not zero-tested
        g.emit(asm.movi(t, 0) if rng.random() < 0.5 else asm.alu(True, AluOp.AND, t, None, 0))
        g.define(t)
        g.mix(t)
    elif kind == "prandom":
        g.emit(asm.call_helper(HELPER_GET_PRANDOM_U32))
        if rng.random() < 0.5:
            g.emit(asm.alu(True, AluOp.RSH, 0, None, 32))  # a u32: the high half is zero
        else:
            hi = Label("u32")
            g.emit(asm.ld64(1, 0xFFFFFFFF))
            g.asm.branch(asm.jcond(False, JmpOp.JLE, 0, 1), hi)
            g.emit(asm.alu(True, AluOp.XOR, g.acc(), None, 0x7102))
            g.asm.place(hi)
            g.emit(asm.movi(0, 1))
        g.define(0)
        g.mix(0)
    else:
        g.emit(asm.call_helper(HELPER_GET_SMP_PROCESSOR_ID if kind == "smp" else HELPER_GET_NUMA_NODE_ID))
        g.define(0)
        g.mix(0)


def frag_call(g: Gen) -> None:
    """Call a new static subprogram with scalar, stack-pointer and context arguments."""
    from .registry import fallback

    if g.frame.depth >= g.config.max_call_depth or len(g.subprogs) >= g.config.max_subprogs:
        fallback(g)
        return
    g.note("call")
    rng = g.rng
    g.before_call()
    kinds: list[tuple[str, int]] = []
    for reg in range(1, rng.randint(0, 5) + 1):
        r = rng.random()
        stack_args = sum(1 for k in kinds if k[0] == "stack")
        if r < 0.5:
            if rng.random() < 0.7:
                g.emit(asm.mov(reg, g.acc()))
            else:
                g.emit(asm.movi(reg, g.imm32()))
            kinds.append(("scalar", 0))
        elif r < 0.8 and stack_args < len(SUB_PTR_SLOTS):
            window = 8 * rng.randint(1, min(4, g.frame.scratch // 8))
            off = -8 * rng.randint(window // 8, g.frame.scratch // 8)
            g.emit(asm.mov(reg, FP), asm.alu(True, AluOp.ADD, reg, None, off))
            kinds.append(("stack", window))
        elif g.frame.has_ctx and ("ctx", 0) not in kinds:
            g.emit(asm.mov(reg, CTX))
            kinds.append(("ctx", 0))
        else:
            g.emit(asm.ld64(reg, g.imm64()))
            kinds.append(("scalar", 0))
    sub = Subprog(Label(f"sub{len(g.subprogs)}"), Asm())
    g.subprogs.append(sub)
    g.asm.branch(asm.call_local(), sub.entry, "imm")
    _generate_subprog(g, sub, kinds)
    g.define(0)
    g.mix(0)


def _generate_subprog(g: Gen, sub: Subprog, kinds: list[tuple[str, int]]) -> None:
    outer_asm, outer_frame = g.asm, g.frame
    outer_depths = (g.branch_depth, g.loop_depth)
    g.asm = sub.asm
    g.branch_depth = g.loop_depth = 0
    frame = Frame(outer_frame.depth + 1, ("ctx", 0) in kinds, SUB_SCRATCH, SUB_KEY_BUF)
    g.frame = frame
    g.asm.place(sub.entry)
    rng = g.rng
    scalars: list[int] = []
    for reg, (kind, window) in enumerate(kinds, start=1):
        if kind == "scalar":
            scalars.append(reg)
        elif kind == "ctx":
            g.emit(asm.mov(CTX, reg))
        else:
            slot = SUB_PTR_SLOTS[len(frame.ptr_args)]
            g.emit(asm.stx(8, FP, reg, slot))
            frame.ptr_args.append((slot, window))
    for k in range(1, SUB_SCRATCH // 8 + 1):
        if scalars and rng.random() < 0.5:
            g.emit(asm.stx(8, FP, rng.choice(scalars), -8 * k))
        else:
            g.emit(asm.st(8, FP, -8 * k, g.imm32()))
    for acc in (7, 8, 9):
        if scalars and rng.random() < 0.7:
            g.emit(asm.mov(acc, rng.choice(scalars)))
        else:
            g.emit(asm.movi(acc, g.imm32()))
    frame.live = set(scalars)
    g.body("sub", rng.randint(1, 4))
    fold_epilogue(g)
    g.asm, g.frame = outer_asm, outer_frame
    g.branch_depth, g.loop_depth = outer_depths


def frag_ptrarg(g: Gen) -> None:
    """Reads, writes and atomics through a pointer into the caller's stack."""
    g.note("ptrarg")
    rng = g.rng
    slot, window = rng.choice(g.frame.ptr_args)
    p = g.temp()
    g.emit(asm.ldx(8, p, FP, slot))
    g.frame.reserved.add(p)
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        size = rng.choice([1, 2, 4, 8])
        pos = rng.randrange(0, window - size + 1, size)
        if r < 0.3:
            g.emit(asm.stx(size, p, g.scalar(), pos))
        elif r < 0.5 and size >= 4:
            atomic_op(g, p, pos, size, avoid=(p,))
        else:
            t = g.temp(avoid=(p,))
            g.emit(asm.ldx(size, t, p, pos, size < 8 and rng.random() < 0.2))
            g.define(t)
            g.mix(t)
    g.frame.reserved.discard(p)
    g.frame.live.discard(p)
