"""Deliberate mistakes in single instructions: forbidden pointer arithmetic, division by a
zero constant, invalid shifts, writes to r10, reserved fields, unknown opcodes and
registers, bad ``lddw`` pseudo sources, and misused LD_ABS/LD_IND.
"""

from __future__ import annotations

import dataclasses

from ..isa.insn import Insn
from ..isa.opcodes import AluOp, InsnClass, JmpOp, Mode, Size
from . import asm
from .asm import Label
from .bad_util import HELPER_PRANDOM, any_pointer, filler, map_ptr, undecided, unknown_scalar
from .frag_arith import CONDS
from .frag_mem import direct_map, new_data_map, pick_map
from .gen import CTX, FP, Gen, MapInfo

# --- pointer arithmetic ---------------------------------------------------------------------


def emit_pointer_alu32(g: Gen) -> None:
    """32-bit arithmetic on a pointer (not ``-=``, which root may: the result is a number)."""
    rng = g.rng
    p, _ = any_pointer(g)
    op = rng.choice([AluOp.ADD, AluOp.AND, AluOp.OR, AluOp.XOR, AluOp.LSH, AluOp.MUL])
    if rng.random() < 0.6:
        g.emit(asm.alu(False, op, p, None, rng.randint(1, 16)))
    else:
        g.emit(asm.alu(False, op, p, g.scalar()))


def emit_pointer_bitwise(g: Gen) -> None:
    """``&=``, ``|=`` or ``^=`` on a pointer."""
    rng = g.rng
    p, _ = any_pointer(g)
    op = rng.choice([AluOp.AND, AluOp.OR, AluOp.XOR])
    if rng.random() < 0.6:
        g.emit(asm.alu(True, op, p, None, rng.choice([-8, -16, 0xFF, 1, 7])))
    else:
        g.emit(asm.alu(True, op, p, g.scalar()))


def emit_pointer_bad_op(g: Gen) -> None:
    """Multiplication, division, modulo or a shift on a pointer."""
    rng = g.rng
    p, _ = any_pointer(g)
    op = rng.choice([AluOp.MUL, AluOp.DIV, AluOp.MOD, AluOp.LSH, AluOp.RSH, AluOp.ARSH])
    if rng.random() < 0.6:
        g.emit(asm.alu(True, op, p, None, rng.randint(1, 8)))
    else:
        g.emit(asm.alu(True, op, p, g.scalar()))


def emit_pointer_plus_pointer(g: Gen) -> None:
    """``ptr += ptr`` (``ptr -= ptr`` is a number for root, whatever the two point to)."""
    p, _ = any_pointer(g)
    q, _ = any_pointer(g, (p,))
    g.emit(asm.alu(True, AluOp.ADD, p, q))


def emit_scalar_minus_pointer(g: Gen) -> None:
    """``scalar -= pointer`` (a pointer may only be subtracted from a pointer)."""
    p, _ = any_pointer(g)
    acc = g.acc()
    g.emit(asm.alu(True, AluOp.SUB, acc, p))


def emit_map_ptr_arith(g: Gen) -> None:
    """Arithmetic on the pointer to the map itself."""
    rng = g.rng
    p, _ = map_ptr(g)
    if rng.random() < 0.7:
        g.emit(asm.alu(True, rng.choice([AluOp.ADD, AluOp.SUB]), p, None, rng.choice([1, 4, 8, 64])))
    else:
        g.emit(asm.alu(True, AluOp.ADD, p, g.scalar()))


# --- ALU ------------------------------------------------------------------------------------


def emit_div_by_zero(g: Gen) -> None:
    """Division or modulo by the constant zero (K form)."""
    rng = g.rng
    op = rng.choice([AluOp.DIV, AluOp.MOD])
    g.emit(asm.alu(rng.random() < 0.6, op, g.dst(), None, 0, off=rng.choice([0, 1])))


def emit_div_by_zero_reg(g: Gen) -> None:
    """Division by a register holding zero: defined (the result is 0 or the dividend), so
    the kernel accepts it."""
    rng = g.rng
    t = g.temp()
    g.emit(asm.movi(t, 0))
    g.define(t)
    op = rng.choice([AluOp.DIV, AluOp.MOD])
    g.emit(asm.alu(rng.random() < 0.6, op, g.dst(), t, off=rng.choice([0, 1])))


def emit_bad_shift(g: Gen) -> None:
    """A constant shift by the operand's width or more, or by a negative amount."""
    rng = g.rng
    is64 = rng.random() < 0.6
    bits = 64 if is64 else 32
    amount = rng.choice([bits, bits + 1, rng.randint(bits, 255), -1, -rng.randint(2, 64), 1 << 20])
    g.emit(asm.alu(is64, rng.choice([AluOp.LSH, AluOp.RSH, AluOp.ARSH]), g.dst(), None, amount))


def emit_big_shift_reg(g: Gen) -> None:
    """A register shift by a known amount past the width: allowed (the result is unknown)."""
    rng = g.rng
    is64 = rng.random() < 0.6
    bits = 64 if is64 else 32
    t = g.temp()
    g.emit(asm.movi(t, rng.randint(bits, 127)))
    g.define(t)
    g.emit(asm.alu(is64, rng.choice([AluOp.LSH, AluOp.RSH, AluOp.ARSH]), g.dst(), t))


def emit_write_r10(g: Gen) -> None:
    """An instruction whose destination is the read-only frame pointer."""
    rng = g.rng
    how = rng.randrange(6)
    if how == 0:
        g.emit(asm.movi(FP, g.imm32()))
    elif how == 1:
        g.emit(asm.mov(FP, g.scalar()))
    elif how == 2:
        g.emit(asm.alu(True, rng.choice([AluOp.ADD, AluOp.SUB]), FP, None, rng.choice([-8, 8, 16])))
    elif how == 3:
        g.emit(asm.alu(False, AluOp.MOV, FP, None, 0))
    elif how == 4:
        g.emit(asm.ldx(8, FP, FP, -8 * rng.randint(1, 16)))
    else:
        g.emit(asm.neg(True, FP))


# --- encodings ------------------------------------------------------------------------------


def emit_reserved_fields(g: Gen) -> None:
    """A known opcode with a field it does not use set to something other than zero."""
    rng = g.rng
    acc = g.acc()
    nz = rng.choice([1, 2, 5, 10])
    kind = rng.randrange(11)
    if kind == 0:  # ALU K with a source register or an offset
        insn = asm.alu(rng.random() < 0.5, rng.choice([AluOp.ADD, AluOp.OR, AluOp.XOR, AluOp.SUB]), acc, None, 1)
        insn = dataclasses.replace(insn, src=nz) if rng.random() < 0.5 else dataclasses.replace(insn, off=nz)
    elif kind == 1:  # ALU X with an immediate or an offset
        insn = asm.alu(rng.random() < 0.5, rng.choice([AluOp.ADD, AluOp.AND, AluOp.SUB]), acc, g.scalar())
        insn = dataclasses.replace(insn, imm=nz) if rng.random() < 0.5 else dataclasses.replace(insn, off=nz)
    elif kind == 2:  # mov/movsx, div/mod with an offset they do not take
        if rng.random() < 0.5:
            insn = asm.alu(True, AluOp.MOV, acc, g.scalar(), off=rng.choice([1, 24, 64, -8]))
        else:
            insn = asm.alu(True, rng.choice([AluOp.DIV, AluOp.MOD]), acc, None, 3, off=rng.choice([2, -1, 8]))
    elif kind == 3:  # neg or byte swap with fields set
        if rng.random() < 0.5:
            insn = dataclasses.replace(asm.neg(True, acc), imm=nz)
        else:
            insn = dataclasses.replace(asm.endian("be", acc, rng.choice([16, 32, 64])), src=nz)
    elif kind == 4:  # a byte swap of an unknown width
        insn = asm.endian(rng.choice(["le", "be", "bswap"]), acc, rng.choice([0, 8, 24, 48, 128]))
    elif kind == 5:  # a conditional jump (K) with a source register
        insn = dataclasses.replace(asm.jcond(False, rng.choice(CONDS), acc, None, 1), src=nz, off=0)
    elif kind == 6:  # ja with a register or an immediate
        insn = dataclasses.replace(asm.ja(), **rng.choice([{"src": nz}, {"dst": nz}, {"imm": nz}]))
    elif kind == 7:  # ldx with an immediate
        t = g.temp()
        insn = dataclasses.replace(asm.ldx(8, t, FP, -8), imm=nz)
    elif kind == 8:  # st with a source register, stx with an immediate
        if rng.random() < 0.5:
            insn = dataclasses.replace(asm.st(8, FP, -8, 1), src=nz)
        else:
            insn = dataclasses.replace(asm.stx(8, FP, acc, -8), imm=nz)
    elif kind == 9:  # a helper call with an offset or a destination register
        g.before_call()
        insn = dataclasses.replace(asm.call_helper(7), **rng.choice([{"off": nz}, {"dst": nz}]))
    else:  # an exit with fields set, on one side of a branch
        go_on = Label("go_on")
        undecided(g, unknown_scalar(g), go_on)
        g.emit(asm.movi(0, 0))
        insn = dataclasses.replace(asm.exit_(), **rng.choice([{"dst": nz}, {"src": nz}, {"imm": nz}, {"off": nz}]))
        g.emit(insn)
        g.asm.place(go_on)
        g.frame.live.discard(0)
        return
    g.emit(insn)


_UNKNOWN_OPCODES = (
    0xE4, 0xEC, 0xF4, 0xFC, 0xE7, 0xEF, 0xF7, 0xFF,  # ALU ops 0xe0, 0xf0
    0xF5, 0xFD, 0xF6, 0xFE,  # JMP op 0xf0
    0x86, 0x8E, 0x96, 0x9E,  # JMP32 call and exit
    0xE6, 0xEE,  # JMP32 jcond
    0x60, 0x68, 0x70, 0x78, 0x80, 0xA0, 0xC0, 0xE0,  # LD with memory modes
    0x21, 0x29, 0x41, 0xA1, 0xE1,  # LDX with other modes
    0x99, 0x22, 0x82, 0xC2, 0x23, 0x83, 0xA3,  # MEMSX DW, ST/STX with other modes
    0x8D, 0x9D,  # call and exit with the X bit
)


def emit_unknown_opcode(g: Gen) -> None:
    rng = g.rng
    code = rng.choice(_UNKNOWN_OPCODES)
    g.emit(Insn(code, g.acc() if rng.random() < 0.5 else 0, 0, 0, 0))


def emit_bad_register(g: Gen) -> None:
    """A register number past r10."""
    rng = g.rng
    bad = rng.randint(11, 15)
    kind = rng.randrange(5)
    if kind == 0:
        g.emit(asm.movi(bad, g.imm32()))
    elif kind == 1:
        g.emit(asm.alu(True, AluOp.ADD, g.acc(), bad))
    elif kind == 2:
        g.emit(asm.ldx(8, bad, FP, -8))
    elif kind == 3:
        g.emit(asm.stx(8, FP, bad, -8))
    else:
        skip = Label("skip")
        g.asm.branch(asm.jcond(False, JmpOp.JEQ, bad, None, 0), skip)
        g.emit(*filler(g, 1))
        g.asm.place(skip)


# --- lddw pseudo sources -----------------------------------------------------------------------


def emit_ld_map_bad_index(g: Gen) -> None:
    """A map (or map value) load naming a map the case does not have (patched after
    linking, when the number of maps is known)."""
    t = g.temp()
    g.marks["ld_map"] = len(g.asm)
    if g.rng.random() < 0.6:
        g.emit(asm.ld_map(t, 0))
    else:
        g.emit(asm.ld_map_value(t, 0, 0))


def patch_ld_map_bad_index(g: Gen, insns: list[Insn]) -> None:
    pos = g.marks["ld_map"]
    insns[pos] = dataclasses.replace(insns[pos], imm=len(g.maps) + g.rng.randint(0, 3))


def emit_ld_map_value_oob(g: Gen) -> None:
    """``BPF_PSEUDO_MAP_IDX_VALUE`` with an offset at or past the end of the value."""
    rng = g.rng
    m = direct_map(g)
    off = rng.choice([m.value_size, m.value_size + rng.randint(1, 64), 1 << 16, 0xFFFFFFFF])
    t = g.temp()
    first, second = asm.ld_map_value(t, m.index, 0)
    g.emit(first, dataclasses.replace(second, imm=off - (1 << 32) if off >> 31 else off))


def emit_ld_map_value_unsupported(g: Gen) -> None:
    """``BPF_PSEUDO_MAP_IDX_VALUE`` on a map that has no direct value access: a hash map,
    a per-CPU array, an array of more than one element."""
    rng = g.rng
    candidates = [m for m in g.data_maps() if not m.direct]
    if candidates and rng.random() < 0.5:
        m = rng.choice(candidates)
    else:
        kind = rng.choice(["hash", "percpu_array", "array", "lru_hash", "percpu_hash"])
        if kind == "array":
            m = g.add_map(MapInfo(0, "array", 4, rng.choice([8, 16]), rng.randint(2, 8)))
        else:
            m = new_data_map(g, (kind,))
    t = g.temp()
    g.emit(asm.ld_map_value(t, m.index, rng.choice([0, 0, 4])))


def emit_ld_imm64_bad_src(g: Gen) -> None:
    """An ``lddw`` with a pseudo source the kernel does not know, or a map load with an
    immediate in its second slot."""
    rng = g.rng
    t = g.temp()
    if rng.random() < 0.6:
        first, second = asm.ld64(t, g.imm64())
        g.emit(dataclasses.replace(first, src=rng.randint(7, 15)), second)
    else:
        m = pick_map(g)
        first, second = asm.ld_map(t, m.index)
        g.emit(first, dataclasses.replace(second, imm=rng.choice([1, 4, -1])))


def emit_ld_imm64_bad_second(g: Gen) -> None:
    """An ``lddw`` whose second slot has an opcode, registers or an offset, or whose first
    slot has an offset."""
    rng = g.rng
    t = g.temp()
    first, second = asm.ld64(t, g.imm64())
    field = rng.choice(["code", "dst", "src", "off", "first_off"])
    if field == "first_off":
        first = dataclasses.replace(first, off=rng.choice([1, -1, 8]))
    else:
        second = dataclasses.replace(second, **{field: rng.choice([1, 7]) if field != "code" else
                                               rng.choice([0x07, 0xB7, 0x18, 0x05])})  # fmt: skip
    g.emit(first, second)
    g.define(t)
    g.mix(t)


def patch_ld_imm64_truncated(g: Gen, insns: list[Insn]) -> None:
    """The program ends in the first half of an ``lddw``."""
    insns.append(asm.ld64(g.rng.randint(0, 9), g.imm64())[0])


# --- LD_ABS / LD_IND ----------------------------------------------------------------------------


def _ld_abs_insn(g: Gen) -> Insn:
    rng = g.rng
    size = rng.choice([1, 2, 4])
    if rng.random() < 0.6:
        return asm.ld_abs(size, rng.randint(0, 40))
    src = rng.choice([1, 2, 3, 4, 5])
    g.emit(asm.movi(src, rng.randint(0, 20)))
    return asm.ld_ind(size, src, rng.randint(0, 20))


def emit_ldabs_wrong_type(g: Gen) -> None:
    """LD_ABS/LD_IND in a program type without socket-buffer loads (xdp, cgroup_skb)."""
    g.before_call()
    g.emit(_ld_abs_insn(g))
    g.define(0)
    g.mix(0)


def emit_ldabs_without_skb(g: Gen) -> None:
    """LD_ABS/LD_IND while r6 does not hold the context."""
    rng = g.rng
    g.before_call()
    how = rng.randrange(3)
    if how == 0:
        g.emit(asm.movi(CTX, g.imm32()))
    elif how == 1:
        g.emit(asm.mov(CTX, FP))
    else:
        g.emit(asm.alu(True, AluOp.ADD, CTX, None, rng.choice([4, 8])))
    g.emit(_ld_abs_insn(g))
    g.define(0)
    g.mix(0)


def emit_ldabs_reserved(g: Gen) -> None:
    """LD_ABS/LD_IND with a destination register, an offset, a source for ABS, or a
    double-word size."""
    rng = g.rng
    g.before_call()
    insn = _ld_abs_insn(g)
    field = rng.choice(["dst", "off", "src", "size"])
    if field == "dst":
        insn = dataclasses.replace(insn, dst=rng.randint(1, 9))
    elif field == "off":
        insn = dataclasses.replace(insn, off=rng.choice([1, -1, 4]))
    elif field == "src" and insn.mode == Mode.ABS:
        insn = dataclasses.replace(insn, src=rng.randint(1, 5))
    else:
        insn = dataclasses.replace(insn, code=(insn.code & ~0x18) | Size.DW)
    g.emit(insn)
    g.define(0)
    g.mix(0)


def emit_ldind_uninit_index(g: Gen) -> None:
    """LD_IND whose index register holds nothing (r1-r5 right after a call)."""
    rng = g.rng
    g.before_call()
    g.emit(asm.call_helper(HELPER_PRANDOM))
    src = rng.choice([1, 2, 3, 4, 5])
    g.emit(Insn(InsnClass.LD | Mode.IND | rng.choice([Size.B, Size.H, Size.W]), 0, src, 0, rng.randint(0, 20)))
    g.define(0)
    g.mix(0)


def emit_ldind_pointer_index(g: Gen) -> None:
    """LD_IND indexed by a pointer: root may (the index is only added to the offset)."""
    rng = g.rng
    g.before_call()
    src = rng.choice([1, 2, 3, 4, 5])
    g.emit(asm.mov(src, rng.choice([FP, CTX])))
    g.emit(Insn(InsnClass.LD | Mode.IND | rng.choice([Size.B, Size.H, Size.W]), 0, src, 0, rng.randint(0, 20)))
    g.define(0)
    g.mix(0)
