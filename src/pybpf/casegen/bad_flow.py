"""Deliberate mistakes in a program's structure: unreachable code, jumps out of range or
into an ``lddw``, calls to nowhere, missing exits, loops that never end, call chains too
deep or too large for the stack, recursion, and what functions return.

``emit_*`` functions write code at a point of the main program; ``patch_*`` functions
edit the linked program (positions recorded in :attr:`Gen.marks`).
"""

from __future__ import annotations

import dataclasses

from ..isa.insn import Insn
from ..isa.opcodes import AluOp, JmpOp
from . import asm
from .asm import Label
from .bad_util import call_subprog, filler, new_subprog, undecided
from .frag_arith import CONDS
from .frag_mem import direct_map, pick_map
from .gen import CTX, FP, Gen

# --- unreachable code, jumps and calls to bad places ---------------------------------------


def emit_unreachable_tail(g: Gen) -> None:
    """After the main program's final exit: code nothing jumps to."""
    g.emit(*filler(g, g.rng.randint(1, 3)))
    if g.rng.random() < 0.5:
        g.emit(asm.exit_())


def emit_unreachable_skipped(g: Gen) -> None:
    """An unconditional jump over code nothing else reaches."""
    end = Label("over")
    if g.rng.random() < 0.3:
        g.asm.branch(asm.ja32(), end, "imm")
    else:
        g.asm.branch(asm.ja(), end)
    g.emit(*filler(g, g.rng.randint(1, 3)))
    g.asm.place(end)


def emit_jump_out_of_range(g: Gen) -> None:
    """A jump whose target :func:`patch_jump_out_of_range` sets after linking (the range
    check comes before the search for unreachable code, so an unconditional one is fine)."""
    rng = g.rng
    g.marks["jump"] = len(g.asm)
    r = rng.random()
    if r < 0.35:
        g.emit(asm.jcond(rng.random() < 0.4, rng.choice(CONDS), g.scalar(), None, g.imm32()))
    elif r < 0.55:
        g.emit(asm.jcond(False, rng.choice(CONDS), g.scalar(), g.scalar()))
    elif r < 0.8:
        g.emit(asm.ja())
    else:
        g.emit(asm.ja32())


def patch_jump_out_of_range(g: Gen, insns: list[Insn]) -> None:
    """Point the placeholder past the end, before the start or into a subprogram."""
    rng = g.rng
    pos = g.marks["jump"]
    n = len(insns)
    main_len = len(g.asm)
    r = rng.random()
    if g.subprogs and r < 0.35:
        target = rng.randrange(main_len, n)
    elif r < 0.7:
        target = n + rng.randint(0, 3)
    else:
        target = -rng.randint(1, 6)
    delta = target - (pos + 1)
    insn = insns[pos]
    if insn.code == asm.ja32().code:
        insns[pos] = dataclasses.replace(insn, imm=delta)
    else:
        insns[pos] = dataclasses.replace(insn, off=delta)


def emit_jump_into_lddw(g: Gen) -> None:
    """A jump (forward or backward) to the second slot of an ``lddw``."""
    rng = g.rng
    t = g.temp()
    first, second = asm.ld64(t, g.imm64())
    middle = Label("middle")
    if rng.random() < 0.6:
        if rng.random() < 0.6:
            g.asm.branch(asm.jcond(False, rng.choice(CONDS), g.scalar(), None, g.imm32()), middle)
        else:
            g.asm.branch(asm.ja(), middle)
        g.emit(first)
        g.asm.place(middle)
        g.emit(second)
    else:
        g.emit(first)
        g.asm.place(middle)
        g.emit(second)
        g.emit(*filler(g, rng.randint(0, 2)))
        g.asm.branch(asm.jcond(rng.random() < 0.3, rng.choice(CONDS), g.acc(), None, g.imm32()), middle)
    g.define(t)
    g.mix(t)


def emit_call_bad_target(g: Gen) -> None:
    g.before_call()
    g.marks["call"] = len(g.asm)
    g.emit(asm.call_local())
    g.define(0)
    g.mix(0)


def patch_call_bad_target(g: Gen, insns: list[Insn]) -> None:
    """Call past the end, before the start, or into the second slot of an ``lddw``."""
    rng = g.rng
    pos = g.marks["call"]
    n = len(insns)
    middles = [i + 1 for i, x in enumerate(insns[:-1]) if x.is_lddw]
    r = rng.random()
    if middles and r < 0.3:
        target = rng.choice(middles)
    elif r < 0.65:
        target = n + rng.randint(0, 3)
    else:
        target = -rng.randint(1, 6)
    insns[pos] = dataclasses.replace(insns[pos], imm=target - (pos + 1))


def patch_no_exit(g: Gen, insns: list[Insn]) -> None:
    """The last instruction of the main program or of a subprogram is not an exit."""
    ends = [len(g.asm) - 1]
    at = len(g.asm)
    for sub in g.subprogs:
        at += len(sub.asm)
        ends.append(at - 1)
    end = g.rng.choice(ends)
    insns[end] = g.rng.choice([asm.movi(0, g.imm32()), asm.alu(True, AluOp.ADD, 0, None, 1),
                               asm.mov(0, 7)])  # fmt: skip


# --- calls --------------------------------------------------------------------------------


def _chain(g: Gen, length: int, stack: list[int] | None = None) -> None:
    """main → s1 → … → s<length>: each callee calls the next (``stack[i]``: a store that
    deep into s<i>'s frame)."""
    g.before_call()
    g.emit(asm.mov(1, g.acc()))
    subs = [new_subprog(g) for _ in range(length)]
    g.asm.branch(asm.call_local(), subs[0].entry, "imm")
    for i, sub in enumerate(subs):
        a = sub.asm
        a.place(sub.entry)
        if stack is not None and stack[i]:
            a.emit(asm.st(8, FP, -stack[i], g.imm32()))
        if g.rng.random() < 0.3:
            a.emit(asm.alu(True, AluOp.ADD, 1, None, 1) if g.rng.random() < 0.5 else asm.movi(1, g.imm32()))
        if i + 1 < length:
            a.branch(asm.call_local(), subs[i + 1].entry, "imm")
        else:
            a.emit(asm.movi(0, g.imm32()))
        a.emit(asm.exit_())
    g.define(0)
    g.mix(0)


def emit_call_too_deep(g: Gen) -> None:
    """More than eight frames: main plus a chain of eight or more subprograms."""
    _chain(g, g.rng.randint(8, 10))


def emit_stack_too_large(g: Gen) -> None:
    """A call chain whose frames add up to more than 512 bytes of stack."""
    rng = g.rng
    length = rng.randint(1, 3)
    # the main program uses at least 128 bytes: the callees take more than the rest
    need = 512 - 128 + 8
    sizes = [8 * rng.randint(-(-need // (8 * length)), 64) for _ in range(length)]
    _chain(g, length, sizes)


def emit_recursion(g: Gen) -> None:
    """A subprogram that calls itself (directly or through a second one)."""
    rng = g.rng
    g.before_call()
    g.emit(asm.mov(1, g.acc()))
    a_sub = new_subprog(g)
    mutual = rng.random() < 0.4
    b_sub = new_subprog(g) if mutual else a_sub
    g.asm.branch(asm.call_local(), a_sub.entry, "imm")
    for sub, callee in ((a_sub, b_sub), (b_sub, a_sub)) if mutual else ((a_sub, a_sub),):
        a = sub.asm
        a.place(sub.entry)
        a.emit(asm.movi(0, 0))
        done = Label("done")
        if rng.random() < 0.7:
            a.branch(asm.jcond(False, JmpOp.JEQ, 1, None, 0), done)
            a.emit(asm.alu(True, AluOp.ADD, 1, None, -1))
        a.branch(asm.call_local(), callee.entry, "imm")
        a.place(done)
        a.emit(asm.exit_())
    g.define(0)
    g.mix(0)


# --- what functions return ------------------------------------------------------------------


def _return_pointer(g: Gen, kind: str) -> None:
    """A subprogram whose r0 holds a pointer of ``kind`` at its exit."""
    rng = g.rng

    def inner(g: Gen) -> None:
        g.emit(*filler(g, rng.randint(0, 2)))
        if kind == "fp":
            g.emit(asm.mov(0, FP))
        elif kind == "fp_off":
            g.emit(asm.mov(0, FP), asm.alu(True, AluOp.ADD, 0, None, -8 * rng.randint(1, 4)))
        elif kind == "ctx":
            g.emit(asm.mov(0, CTX))
        elif kind == "map_value":
            g.emit(asm.ld_map_value(0, direct_map(g).index, 0))
        else:
            g.emit(asm.ld_map(0, pick_map(g).index))
        g.emit(asm.exit_())

    call_subprog(g, inner, args=rng.randint(0, 2), ctx=kind == "ctx", epilogue=False, result=False)


def emit_subprog_returns_stack(g: Gen) -> None:
    """A subprogram returning a pointer into its own (soon gone) frame."""
    _return_pointer(g, g.rng.choice(["fp", "fp_off"]))


def emit_subprog_returns_pointer(g: Gen) -> None:
    """A subprogram returning the context, a map value or a map: Linux 6.18 lets it."""
    _return_pointer(g, g.rng.choice(["ctx", "map_value", "map_ptr"]))


def emit_exit_without_r0(g: Gen) -> None:
    """A subprogram that may exit before anything is written to r0."""
    rng = g.rng

    def inner(g: Gen) -> None:
        g.emit(*filler(g, rng.randint(0, 2)))
        go_on = Label("go_on")
        undecided(g, 1, go_on)
        g.emit(asm.exit_())
        g.asm.place(go_on)

    call_subprog(g, inner, args=rng.randint(1, 3), unknown_args=True)


def patch_retval_range(g: Gen, insns: list[Insn]) -> None:
    """cgroup_skb must return 0 or 1: the epilogue's ``r0 &= 1`` lets more through."""
    pos = g.marks["retval"]
    insns[pos] = g.rng.choice([
        asm.alu(True, AluOp.AND, 0, None, g.rng.choice([2, 3, 7, 0xFF, -1])),
        asm.alu(True, AluOp.OR, 0, None, g.rng.choice([2, 4])),
        asm.movi(0, g.rng.choice([2, 3, -1, 0x10000])),
        asm.alu(True, AluOp.RSH, 0, None, g.rng.choice([1, 16, 31])),
        asm.alu(True, AluOp.ADD, 0, None, 1),
        asm.mov(0, 0),
        asm.mov(0, CTX),
    ])  # fmt: skip


# --- loops the verifier sees never end -------------------------------------------------------


def emit_infinite_loop(g: Gen) -> None:
    """A loop whose state is the same on every iteration."""
    rng = g.rng
    t = g.temp()
    k = g.imm32()
    head = Label("forever")
    variant = rng.randrange(3)
    if variant == 0:  # t = K; ...; if t == K goto head
        g.asm.place(head)
        g.emit(asm.movi(t, k))
        g.emit(*_stateless(g, t, rng.randint(0, 2)))
        g.asm.branch(asm.jcond(rng.random() < 0.3, JmpOp.JEQ, t, None, k), head)
    elif variant == 1:  # ...; if t != K goto out; goto head
        g.emit(asm.movi(t, k))
        out = Label("out")
        g.asm.place(head)
        g.emit(*_stateless(g, t, rng.randint(0, 2)))
        g.asm.branch(asm.jcond(False, JmpOp.JNE, t, None, k), out)
        if rng.random() < 0.5:
            g.asm.branch(asm.ja(), head)
        else:
            g.asm.branch(asm.ja32(), head, "imm")
        g.asm.place(out)
    else:  # t = K; head: if t s>= K goto head (with t unchanged)
        g.emit(asm.movi(t, k))
        g.asm.place(head)
        g.emit(*_stateless(g, t, rng.randint(0, 2)))
        g.asm.branch(asm.jcond(False, rng.choice([JmpOp.JGE, JmpOp.JLE, JmpOp.JSGE, JmpOp.JSLE]), t, None, k), head)
    g.define(t)
    g.mix(t)


def _stateless(g: Gen, keep: int, count: int) -> list[Insn]:
    """Instructions that leave the verifier's state as it was: rewrite a temporary
    with the value it already has."""
    out: list[Insn] = []
    for _ in range(count):
        out.append(g.rng.choice([asm.alu(True, AluOp.ADD, keep, None, 0),
                                 asm.alu(True, AluOp.OR, keep, None, 0),
                                 asm.mov(keep, keep)]))  # fmt: skip
    return out
