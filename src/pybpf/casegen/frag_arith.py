"""Fragments of pure computation: ALU and ALU64 operations, 64-bit constants, branches
and bounded loops."""

from __future__ import annotations

from ..isa.opcodes import AluOp, JmpOp
from . import asm
from .asm import Label
from .gen import ACCS, Gen

ALU_OPS = (AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND, AluOp.LSH,
           AluOp.RSH, AluOp.NEG, AluOp.MOD, AluOp.XOR, AluOp.MOV, AluOp.ARSH, AluOp.END)  # fmt: skip
SHIFTS = (AluOp.LSH, AluOp.RSH, AluOp.ARSH)
CONDS = (JmpOp.JEQ, JmpOp.JNE, JmpOp.JGT, JmpOp.JGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSET,
         JmpOp.JSGT, JmpOp.JSGE, JmpOp.JSLT, JmpOp.JSLE)  # fmt: skip


def alu_one(g: Gen, op: int | None = None) -> None:
    """One ALU/ALU64 instruction on scalar registers, any operation and operand form."""
    rng = g.rng
    is64 = rng.random() < 0.6
    op = rng.choice(ALU_OPS) if op is None else op
    dst = g.dst()
    use_reg = rng.random() < 0.5
    bits = 64 if is64 else 32
    if op == AluOp.NEG:
        g.emit(asm.neg(is64, dst))
    elif op == AluOp.END:
        kind = rng.choice(["le", "be", "bswap"])
        g.emit(asm.endian(kind, dst, rng.choice([16, 32, 64])))
    elif op == AluOp.MOV:
        # a move overwrites: prefer a temporary so the accumulators keep their history
        free = [r for r in range(6) if r not in g.frame.reserved]
        target = rng.choice(free) if rng.random() < 0.8 else dst
        if target != dst:
            g.clobber([target])
        src = g.scalar()
        r = rng.random()
        if r < 0.3:
            g.emit(asm.movi(target, g.imm32(), is64))
        elif r < 0.55:
            g.emit(asm.alu(is64, AluOp.MOV, target, src))
        else:  # sign-extending move
            off = rng.choice([8, 16, 32] if is64 else [8, 16])
            g.emit(asm.alu(is64, AluOp.MOV, target, src, off=off))
        g.define(target)
    elif op in (AluOp.DIV, AluOp.MOD):
        signed = 1 if rng.random() < 0.5 else 0
        if use_reg:
            g.emit(asm.alu(is64, op, dst, g.scalar(), off=signed))
        else:
            imm = g.imm32() or rng.choice([1, -1, 3, -7])
            g.emit(asm.alu(is64, op, dst, None, imm, off=signed))
    elif op in SHIFTS:
        if use_reg:
            # a register shift amount, kept in range as the ISA requires
            t = g.temp(avoid=(dst,))
            g.emit(asm.mov(t, g.scalar()), asm.alu(True, AluOp.AND, t, None, bits - 1))
            g.define(t)
            g.emit(asm.alu(is64, op, dst, t))
        else:
            g.emit(asm.alu(is64, op, dst, None, rng.randrange(bits)))
    else:
        if use_reg:
            g.emit(asm.alu(is64, op, dst, g.scalar()))
        else:
            g.emit(asm.alu(is64, op, dst, None, g.imm32()))


def frag_alu(g: Gen) -> None:
    g.note("alu")
    for _ in range(g.rng.randint(2, 8)):
        alu_one(g)


def frag_alu32(g: Gen) -> None:
    """32-bit subregister arithmetic followed by a 64-bit use of the result."""
    g.note("alu32")
    rng = g.rng
    for _ in range(rng.randint(2, 6)):
        dst = g.dst()
        op = rng.choice([o for o in ALU_OPS if o not in (AluOp.END, AluOp.NEG, AluOp.MOV)])
        if op in SHIFTS:
            g.emit(asm.alu(False, op, dst, None, rng.randrange(32)))
        elif op in (AluOp.DIV, AluOp.MOD):
            g.emit(asm.alu(False, op, dst, g.scalar(), off=rng.choice([0, 1])))
        elif rng.random() < 0.5:
            g.emit(asm.alu(False, op, dst, g.scalar()))
        else:
            g.emit(asm.alu(False, op, dst, None, g.imm32()))
        g.mix(dst)


def frag_lddw(g: Gen) -> None:
    """64-bit constants through ``lddw``, combined with the accumulators."""
    g.note("lddw")
    for _ in range(g.rng.randint(1, 3)):
        t = g.temp()
        g.emit(asm.ld64(t, g.imm64()))
        g.define(t)
        if g.rng.random() < 0.7:
            alu_one(g, g.rng.choice([AluOp.ADD, AluOp.XOR, AluOp.MUL, AluOp.SUB, AluOp.DIV,
                                     AluOp.MOD, AluOp.OR, AluOp.AND]))  # fmt: skip


def _condition(g: Gen, target: Label) -> None:
    """A conditional jump to ``target`` on scalars: JMP or JMP32, immediate or register."""
    rng = g.rng
    is32 = rng.random() < 0.4
    op = rng.choice(CONDS)
    r = rng.random()
    if r < 0.3:
        # a small-range value, so that both outcomes are likely
        t = g.temp()
        g.emit(asm.mov(t, g.scalar()), asm.alu(True, AluOp.AND, t, None, rng.choice([1, 3, 7, 15])))
        g.define(t)
        g.asm.branch(asm.jcond(is32, op, t, None, rng.randint(0, 8)), target)
    elif r < 0.65:
        g.asm.branch(asm.jcond(is32, op, g.scalar(), None, g.imm32()), target)
    else:
        g.asm.branch(asm.jcond(is32, op, g.scalar(), g.scalar()), target)


def frag_if(g: Gen) -> None:
    """``if (cond) { ... }`` or ``if (cond) { ... } else { ... }``, forward jumps only."""
    g.note("jmp")
    rng = g.rng
    g.branch_depth += 1
    skip = Label("skip")
    _condition(g, skip)
    before = g.snapshot()
    g.body("branch", rng.randint(1, 2))
    if rng.random() < 0.5:
        end = Label("end")
        if rng.random() < 0.5:
            g.asm.branch(asm.ja32(), end, "imm")
            g.note("ja32")
        else:
            g.asm.branch(asm.ja(), end)
        then_live = g.snapshot()
        g.frame.live = set(before)
        g.asm.place(skip)
        g.body("branch", rng.randint(1, 2))
        g.asm.place(end)
        g.join(then_live)
    else:
        g.asm.place(skip)
        g.join(before)
    g.branch_depth -= 1


def frag_flag(g: Gen) -> None:
    """Record a comparison's outcome: ``if (cond) acc ^= K``."""
    g.note("jmp")
    skip = Label("flag")
    _condition(g, skip)
    acc = g.acc()
    g.emit(asm.alu(True, AluOp.XOR, acc, None, g.imm32() or 1))
    g.asm.place(skip)


def frag_loop(g: Gen) -> None:
    """A loop the verifier can bound: constant trip counts, or a masked unknown one."""
    g.note("loop")
    rng = g.rng
    g.loop_depth += 1
    c = g.temp()
    g.frame.reserved.add(c)
    variant = rng.choice(["down", "up", "top", "unknown", "may_goto"])
    n = rng.randint(1, 10)
    is32 = rng.random() < 0.3
    head = Label("loop")
    if variant in ("down", "up"):
        g.emit(asm.movi(c, n if variant == "down" else 0))
        g.define(c)
        _loop_entry(g)
        g.asm.place(head)
        g.body("loop", rng.randint(1, 2))
        if variant == "down":
            g.emit(asm.alu(not is32, AluOp.ADD, c, None, -1))
            op = rng.choice([JmpOp.JNE, JmpOp.JSGT, JmpOp.JGT])
            g.asm.branch(asm.jcond(is32, op, c, None, 0), head)
        else:
            g.emit(asm.alu(not is32, AluOp.ADD, c, None, 1))
            op = rng.choice([JmpOp.JNE, JmpOp.JLT, JmpOp.JSLT])
            g.asm.branch(asm.jcond(is32, op, c, None, n), head)
    elif variant == "may_goto":
        # bounded by its counter long before the may_goto budget runs out
        g.note("may_goto")
        g.emit(asm.movi(c, n))
        g.define(c)
        _loop_entry(g)
        done = Label("done")
        g.asm.place(head)
        before = g.snapshot()
        g.asm.branch(asm.may_goto(), done)
        g.body("loop", rng.randint(1, 2))
        g.emit(asm.alu(True, AluOp.ADD, c, None, -1))
        g.asm.branch(asm.jcond(is32, JmpOp.JNE, c, None, 0), head)
        g.asm.place(done)
        g.join(before)
    else:
        if variant == "top":
            g.emit(asm.movi(c, n))
        else:
            g.emit(asm.mov(c, g.acc()), asm.alu(True, AluOp.AND, c, None, rng.choice([3, 7, 15])))
        g.define(c)
        _loop_entry(g)
        done = Label("done")
        g.asm.place(head)
        before = g.snapshot()
        # a 64-bit test: the verifier narrows the counter's 64-bit range from it
        g.asm.branch(asm.jcond(False, JmpOp.JEQ, c, None, 0), done)
        g.body("loop", rng.randint(1, 2))
        g.emit(asm.alu(True, AluOp.ADD, c, None, -1))
        if rng.random() < 0.5:
            g.asm.branch(asm.ja32(), head, "imm")
            g.note("ja32")
        else:
            g.asm.branch(asm.ja(), head)
        g.asm.place(done)
        g.join(before)
    g.frame.reserved.discard(c)
    g.mix(c)
    g.loop_depth -= 1


def _loop_entry(g: Gen) -> None:
    """Forget the temporaries: a later iteration may find pointers where the first
    found scalars, so the body must not read a temporary it did not set itself."""
    g.clobber([r for r in range(6) if r not in g.frame.reserved])


def fold_epilogue(g: Gen) -> None:
    """r0 = a mix of every scalar, with the high half folded into the low (retval is u32)."""
    g.clobber([r for r in range(6) if r != 0])
    if 0 in g.frame.live:
        g.mix(0)
    r7, r8, r9 = ACCS
    g.emit(
        asm.mov(0, r7),
        asm.alu(True, AluOp.MUL, 0, None, 0x9E3779B1),
        asm.alu(True, AluOp.XOR, 0, r8),
        asm.alu(True, AluOp.MUL, 0, None, 0x85EBCA77),
        asm.alu(True, AluOp.ADD, 0, r9),
        asm.mov(1, 0),
        asm.alu(True, AluOp.RSH, 1, None, 32),
        asm.alu(True, AluOp.XOR, 0, 1),
    )
    if g.checks_retval and g.frame.depth == 0:
        g.marks["retval"] = len(g.asm)
        g.emit(asm.alu(True, AluOp.AND, 0, None, 1))
    g.emit(asm.exit_())
