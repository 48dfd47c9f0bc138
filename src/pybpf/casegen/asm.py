"""A tiny assembler for generated programs: instruction constructors and forward labels.

Generated code is emitted in order into an :class:`Asm`; jumps and bpf-to-bpf calls name
a :class:`Label` that is placed later (or earlier, for loops) and patched by
:meth:`Asm.assemble`, so fragments can be written as straight-line Python.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..isa.insn import Insn, lddw
from ..isa.opcodes import (
    TO_BE,
    TO_LE,
    AluOp,
    AtomicOp,
    InsnClass,
    JmpOp,
    Mode,
    PseudoCall,
    PseudoLdImm64,
    Size,
    Source,
)

SIZE_CODE = {1: Size.B, 2: Size.H, 4: Size.W, 8: Size.DW}
M64 = (1 << 64) - 1


@dataclass(eq=False)
class Label:
    """A position in the program, known once :meth:`Asm.place` has been called for it."""

    name: str = ""
    pos: int | None = None
    owner: Asm | None = None


@dataclass
class Asm:
    """Instruction slots plus the fixups that still name a label."""

    slots: list[Insn] = field(default_factory=list)
    # (slot index, label, field): field "off" for jumps, "imm" for ja32 and calls
    fixups: list[tuple[int, Label, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.slots)

    def emit(self, *insns: Insn) -> None:
        self.slots.extend(insns)

    def place(self, label: Label) -> None:
        assert label.pos is None, f"label {label.name} placed twice"
        label.pos = len(self.slots)
        label.owner = self

    def branch(self, insn: Insn, label: Label, fld: str = "off") -> None:
        self.fixups.append((len(self.slots), label, fld))
        self.slots.append(insn)



def link(parts: list[Asm]) -> list[Insn]:
    """The parts one after the other (main program first), every label patched."""
    base: dict[int, int] = {}
    out: list[Insn] = []
    for part in parts:
        base[id(part)] = len(out)
        out.extend(part.slots)
    for part in parts:
        for idx, label, fld in part.fixups:
            assert label.pos is not None and label.owner is not None, f"label {label.name} never placed"
            at = base[id(part)] + idx
            delta = base[id(label.owner)] + label.pos - (at + 1)
            if fld == "off":
                assert -0x8000 <= delta < 0x8000
            out[at] = dataclasses.replace(out[at], **{fld: delta})
    return out


# --- constructors --------------------------------------------------------------------


def alu(is64: bool, op: int, dst: int, src: int | None = None, imm: int = 0, off: int = 0) -> Insn:
    """``dst op= src`` (register) or ``dst op= imm``; ``off`` 1 = signed div/mod, 8/16/32 = movsx."""
    cls = InsnClass.ALU64 if is64 else InsnClass.ALU
    if src is None:
        return Insn(cls | op | Source.K, dst, 0, off, _s32(imm))
    return Insn(cls | op | Source.X, dst, src, off, 0)


def mov(dst: int, src: int) -> Insn:
    return alu(True, AluOp.MOV, dst, src)


def movi(dst: int, imm: int, is64: bool = True) -> Insn:
    return alu(is64, AluOp.MOV, dst, None, imm)


def neg(is64: bool, dst: int) -> Insn:
    return Insn((InsnClass.ALU64 if is64 else InsnClass.ALU) | AluOp.NEG, dst)


def endian(kind: str, dst: int, bits: int) -> Insn:
    """``le``/``be`` (class ALU) or ``bswap`` (class ALU64) of ``bits`` bits."""
    if kind == "bswap":
        return Insn(InsnClass.ALU64 | AluOp.END | TO_LE, dst, 0, 0, bits)
    return Insn(InsnClass.ALU | AluOp.END | (TO_BE if kind == "be" else TO_LE), dst, 0, 0, bits)


def ld64(dst: int, value: int) -> tuple[Insn, Insn]:
    return lddw(dst, value & M64)


def ld_map(dst: int, index: int) -> tuple[Insn, Insn]:
    """``dst = &maps[index]`` (BPF_PSEUDO_MAP_IDX)."""
    return (Insn(InsnClass.LD | Size.DW | Mode.IMM, dst, PseudoLdImm64.MAP_IDX, 0, index), Insn(0))


def ld_map_value(dst: int, index: int, off: int) -> tuple[Insn, Insn]:
    """``dst = &maps[index].value[off]`` (BPF_PSEUDO_MAP_IDX_VALUE)."""
    return (
        Insn(InsnClass.LD | Size.DW | Mode.IMM, dst, PseudoLdImm64.MAP_IDX_VALUE, 0, index),
        Insn(0, 0, 0, 0, off),
    )


def ldx(size: int, dst: int, src: int, off: int, signed: bool = False) -> Insn:
    mode = Mode.MEMSX if signed else Mode.MEM
    return Insn(InsnClass.LDX | mode | SIZE_CODE[size], dst, src, off, 0)


def stx(size: int, dst: int, src: int, off: int) -> Insn:
    return Insn(InsnClass.STX | Mode.MEM | SIZE_CODE[size], dst, src, off, 0)


def st(size: int, dst: int, off: int, imm: int) -> Insn:
    return Insn(InsnClass.ST | Mode.MEM | SIZE_CODE[size], dst, 0, off, _s32(imm))


def atomic(size: int, op: AtomicOp, dst: int, src: int, off: int) -> Insn:
    return Insn(InsnClass.STX | Mode.ATOMIC | SIZE_CODE[size], dst, src, off, int(op))


def ld_abs(size: int, imm: int) -> Insn:
    return Insn(InsnClass.LD | Mode.ABS | SIZE_CODE[size], 0, 0, 0, _s32(imm))


def ld_ind(size: int, src: int, imm: int) -> Insn:
    return Insn(InsnClass.LD | Mode.IND | SIZE_CODE[size], 0, src, 0, _s32(imm))


def jcond(is32: bool, op: int, dst: int, src: int | None = None, imm: int = 0) -> Insn:
    """A conditional jump with offset 0 (patched through :meth:`Asm.branch`)."""
    cls = InsnClass.JMP32 if is32 else InsnClass.JMP
    if src is None:
        return Insn(cls | op | Source.K, dst, 0, 0, _s32(imm))
    return Insn(cls | op | Source.X, dst, src, 0, 0)


def may_goto() -> Insn:
    """``may_goto``: falls through while the run's loop budget lasts, else jumps."""
    return Insn(InsnClass.JMP | JmpOp.JCOND)


def ja() -> Insn:
    return Insn(InsnClass.JMP | JmpOp.JA)


def ja32() -> Insn:
    """``gotol``: the target lives in ``imm``."""
    return Insn(InsnClass.JMP32 | JmpOp.JA)


def call_helper(helper_id: int) -> Insn:
    return Insn(InsnClass.JMP | JmpOp.CALL, 0, PseudoCall.HELPER, 0, helper_id)


def call_local() -> Insn:
    """A bpf-to-bpf call; the target (``imm``) is patched through :meth:`Asm.branch`."""
    return Insn(InsnClass.JMP | JmpOp.CALL, 0, PseudoCall.CALL, 0, 0)


def exit_() -> Insn:
    return Insn(InsnClass.JMP | JmpOp.EXIT)


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v
