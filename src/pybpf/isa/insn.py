"""One instruction slot, its binary encoding and the kernel's structural rules.

A program is a list of 8-byte slots, as the kernel sees it: a 64-bit immediate load
(``lddw``) takes two slots, the second one carrying the upper 32 bits in its ``imm`` and
zero everywhere else.  Jump offsets and program counters count slots.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import InvalidInstruction
from .opcodes import (
    ADDR_SPACE_CAST,
    MAY_GOTO,
    OPCODE_CALLX,
    OPCODE_LDDW,
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

_SLOT = struct.Struct("<BBhi")
SLOT_SIZE = 8


@dataclass(frozen=True, slots=True)
class Insn:
    """A single 8-byte instruction slot with its fields already split."""

    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0

    @property
    def cls(self) -> int:
        return self.code & 0x07

    @property
    def op(self) -> int:
        return self.code & 0xF0

    @property
    def size(self) -> int:
        return self.code & 0x18

    @property
    def mode(self) -> int:
        return self.code & 0xE0

    @property
    def source(self) -> int:
        return self.code & 0x08

    @property
    def is_lddw(self) -> bool:
        return self.code == OPCODE_LDDW

    def encode(self) -> bytes:
        return _SLOT.pack(
            self.code & 0xFF,
            (self.dst & 0x0F) | ((self.src & 0x0F) << 4),
            _s16(self.off),
            _s32(self.imm),
        )


def _s16(v: int) -> int:
    v &= 0xFFFF
    return v - 0x10000 if v & 0x8000 else v


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - 0x100000000 if v & 0x80000000 else v


def decode(data: bytes | bytearray | memoryview) -> list[Insn]:
    """Split raw bytes into instruction slots (no validation beyond the length)."""
    if len(data) % SLOT_SIZE:
        raise InvalidInstruction(
            len(data) // SLOT_SIZE, f"program length {len(data)} is not a multiple of 8 bytes"
        )
    out = []
    for code, regs, off, imm in _SLOT.iter_unpack(bytes(data)):
        out.append(Insn(code, regs & 0x0F, regs >> 4, off, imm))
    return out


def encode(insns: Iterable[Insn]) -> bytes:
    return b"".join(i.encode() for i in insns)


def decode_hex(text: str) -> list[Insn]:
    """Instructions from the case-file hex form: 16 hex digits a slot, whitespace ignored."""
    digits = "".join(text.split())
    try:
        raw = bytes.fromhex(digits)
    except ValueError as exc:
        raise InvalidInstruction(0, f"instruction hex is not valid hex: {exc}") from None
    return decode(raw)


def encode_hex(insns: Iterable[Insn], sep: str = " ") -> str:
    return sep.join(i.encode().hex() for i in insns)


def lddw(dst: int, value: int, src: int = 0) -> tuple[Insn, Insn]:
    """The two slots of ``dst = value`` (with ``src`` a pseudo source when non-zero)."""
    value &= 0xFFFFFFFFFFFFFFFF
    return (
        Insn(OPCODE_LDDW, dst, src, 0, _s32(value)),
        Insn(0, 0, 0, 0, _s32(value >> 32)),
    )


def lddw_value(first: Insn, second: Insn) -> int:
    """The unsigned 64-bit immediate of an ``lddw`` pair."""
    return ((second.imm & 0xFFFFFFFF) << 32) | (first.imm & 0xFFFFFFFF)


# --- the kernel's table of known opcodes (core.c's instruction table) -------------------


def _known_opcodes() -> frozenset[int]:
    codes: set[int] = set()
    alu_ops: list[int] = [op for op in AluOp if op not in (AluOp.NEG, AluOp.END)]
    for cls in (InsnClass.ALU, InsnClass.ALU64):
        for op in alu_ops:
            codes.add(cls | op | Source.X)
            codes.add(cls | op | Source.K)
        codes.add(cls | AluOp.NEG)
        codes.add(cls | AluOp.END | TO_LE)
    codes.add(InsnClass.ALU | AluOp.END | Source.X)  # to big endian
    cond: list[int] = [
        JmpOp.JEQ, JmpOp.JNE, JmpOp.JGT, JmpOp.JLT, JmpOp.JGE, JmpOp.JLE,
        JmpOp.JSGT, JmpOp.JSLT, JmpOp.JSGE, JmpOp.JSLE, JmpOp.JSET,
    ]  # fmt: skip
    for cls in (InsnClass.JMP, InsnClass.JMP32):
        for op in cond:
            codes.add(cls | op | Source.X)
            codes.add(cls | op | Source.K)
        codes.add(cls | JmpOp.JA)
    codes.update(
        {
            InsnClass.JMP | JmpOp.CALL,
            InsnClass.JMP | JmpOp.EXIT,
            InsnClass.JMP | JmpOp.JCOND,
        }
    )
    for size in Size:
        codes.add(InsnClass.STX | Mode.MEM | size)
        codes.add(InsnClass.ST | Mode.MEM | size)
        codes.add(InsnClass.LDX | Mode.MEM | size)
        codes.add(InsnClass.STX | Mode.ATOMIC | size)
    for size in (Size.B, Size.H, Size.W):
        codes.add(InsnClass.LDX | Mode.MEMSX | size)
        codes.add(InsnClass.LD | Mode.ABS | size)
        codes.add(InsnClass.LD | Mode.IND | size)
    codes.add(OPCODE_LDDW)
    return frozenset(codes)


KNOWN_OPCODES = _known_opcodes()

_ATOMIC_ALU = {AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR}
_ATOMIC_RMW = _ATOMIC_ALU | {
    AtomicOp.FETCH_ADD, AtomicOp.FETCH_OR, AtomicOp.FETCH_AND, AtomicOp.FETCH_XOR,
    AtomicOp.XCHG, AtomicOp.CMPXCHG,
}  # fmt: skip
_ATOMIC_ORDERED = {AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL}


# instructions whose fields were found fine: the check is a function of the instruction
# alone, and the same few instructions come back in program after program (bounded, so a
# stream of distinct programs cannot make it grow without end)
FIELDS_OK: set[Insn] = set()
_FIELDS_OK_MAX = 1 << 16


def reserved_fields_error(insn: Insn) -> str | None:
    """The kernel's complaint about an instruction's fields, or None if they are fine.

    These are the field checks the kernel makes instruction by instruction (the verifier's
    per-class checks); the messages are the kernel's own.  ``lddw`` pairing and unknown
    opcodes are checked over the whole program by :func:`check_program`.
    """
    if insn in FIELDS_OK:
        return None
    problem = _fields_error(insn)
    if problem is None:
        if len(FIELDS_OK) >= _FIELDS_OK_MAX:
            FIELDS_OK.clear()
        FIELDS_OK.add(insn)
    return problem


def _fields_error(insn: Insn) -> str | None:
    code, cls, op = insn.code, insn.cls, insn.op
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        if op == AluOp.NEG:
            if insn.source != Source.K or insn.src or insn.off or insn.imm:
                return "BPF_NEG uses reserved fields"
        elif op == AluOp.END:
            if (
                insn.src
                or insn.off
                or insn.imm not in (16, 32, 64)
                or (cls == InsnClass.ALU64 and insn.source != TO_LE)
            ):
                return "BPF_END uses reserved fields"
        elif op == AluOp.MOV:
            if insn.source == Source.X:
                if cls == InsnClass.ALU:
                    if insn.off not in (0, 8, 16) or insn.imm:
                        return "BPF_MOV uses reserved fields"
                elif insn.off == ADDR_SPACE_CAST:
                    if insn.imm not in (1, 1 << 16):
                        return (
                            "addr_space_cast insn can only convert between address space 1 and 0"
                        )
                elif insn.off not in (0, 8, 16, 32) or insn.imm:
                    return "BPF_MOV uses reserved fields"
            elif insn.src or insn.off:
                return "BPF_MOV uses reserved fields"
        elif op > AluOp.END:
            return f"invalid BPF_ALU opcode {op:x}"
        else:
            signed_ok = insn.off == 0 or (insn.off == 1 and op in (AluOp.DIV, AluOp.MOD))
            if insn.source == Source.X:
                if insn.imm or not signed_ok:
                    return "BPF_ALU uses reserved fields"
            elif insn.src or not signed_ok:
                return "BPF_ALU uses reserved fields"
        return None
    if cls == InsnClass.LDX:
        if insn.mode not in (Mode.MEM, Mode.MEMSX) or insn.imm:
            return "BPF_LDX uses reserved fields"
        return None
    if cls == InsnClass.STX:
        if insn.mode == Mode.ATOMIC:
            return _atomic_error(insn)
        if insn.mode != Mode.MEM or insn.imm:
            return "BPF_STX uses reserved fields"
        return None
    if cls == InsnClass.ST:
        if insn.mode != Mode.MEM or insn.src:
            return "BPF_ST uses reserved fields"
        return None
    if cls in (InsnClass.JMP, InsnClass.JMP32):
        if op == JmpOp.CALL:
            if (
                insn.source != Source.K
                or (insn.src != PseudoCall.KFUNC_CALL and insn.off)
                or insn.src not in (PseudoCall.HELPER, PseudoCall.CALL, PseudoCall.KFUNC_CALL)
                or insn.dst
                or cls == InsnClass.JMP32
            ):
                return "BPF_CALL uses reserved fields"
        elif op == JmpOp.JA:
            if (
                insn.source != Source.K
                or insn.src
                or insn.dst
                or (cls == InsnClass.JMP and insn.imm)
                or (cls == InsnClass.JMP32 and insn.off)
            ):
                return "BPF_JA uses reserved fields"
        elif op == JmpOp.EXIT:
            if insn.source != Source.K or insn.imm or insn.src or insn.dst or cls == InsnClass.JMP32:
                return "BPF_EXIT uses reserved fields"
        elif op == JmpOp.JCOND:
            if (
                code != InsnClass.JMP | JmpOp.JCOND
                or insn.src != MAY_GOTO
                or insn.dst
                or insn.imm
                or insn.off == 0
            ):
                return f"invalid may_goto off {insn.off} imm {insn.imm}"
        elif op > JmpOp.JCOND:
            return f"invalid BPF_JMP/JMP32 opcode {op:x}"
        elif insn.source == Source.X:
            if insn.imm:
                return "BPF_JMP/JMP32 uses reserved fields"
        elif insn.src:
            return "BPF_JMP/JMP32 uses reserved fields"
        return None
    # BPF_LD
    if insn.mode in (Mode.ABS, Mode.IND):
        if (
            insn.dst
            or insn.off
            or insn.size == Size.DW
            or (insn.mode == Mode.ABS and insn.src)
        ):
            return "BPF_LD_[ABS|IND] uses reserved fields"
        return None
    if insn.mode == Mode.IMM:
        if insn.size != Size.DW:
            return "invalid BPF_LD_IMM insn"
        if insn.off:
            return "BPF_LD_IMM64 uses reserved fields"
        return None
    return "invalid BPF_LD mode"


def _atomic_error(insn: Insn) -> str | None:
    if insn.imm in _ATOMIC_ORDERED:
        return None
    if insn.imm not in _ATOMIC_RMW:
        return f"BPF_ATOMIC uses invalid atomic opcode {insn.imm:02x}"
    if insn.size not in (Size.W, Size.DW):
        return "invalid atomic operand size"
    return None


def check_program(insns: Sequence[Insn], allow_callx: bool = False) -> None:
    """Raise :class:`InvalidInstruction` for the first slot no kernel would accept.

    Checks what the kernel checks before it looks at any register: every opcode is known,
    every ``lddw`` has a well-formed second slot and a known pseudo source, the fields an
    instruction does not use are zero, registers exist.
    """
    if not insns:
        raise InvalidInstruction(0, "empty program")
    i, n = 0, len(insns)
    while i < n:
        insn = insns[i]
        if insn.is_lddw:
            second_ok = i + 1 < n and insns[i + 1].code == 0
            if second_ok:
                s = insns[i + 1]
                second_ok = not (s.dst or s.src or s.off)
            if not second_ok:
                raise InvalidInstruction(i, "invalid bpf_ld_imm64 insn")
            if insn.src not in PseudoLdImm64.__members__.values():
                raise InvalidInstruction(i, "unrecognized bpf_ld_imm64 insn")
            if insn.src in (PseudoLdImm64.MAP_FD, PseudoLdImm64.MAP_IDX) and insns[i + 1].imm:
                raise InvalidInstruction(i, "unrecognized bpf_ld_imm64 insn")
        elif insn.code == OPCODE_CALLX and allow_callx:
            if insn.src or insn.off or insn.imm:
                raise InvalidInstruction(i, "callx uses reserved fields")
            i += 1
            continue
        elif insn.code not in KNOWN_OPCODES:
            raise InvalidInstruction(i, f"unknown opcode {insn.code:02x}")
        problem = reserved_fields_error(insn)
        if problem:
            raise InvalidInstruction(i, problem)
        for reg in (insn.dst, insn.src):
            if reg > 10:
                raise InvalidInstruction(i, f"R{reg} is invalid")
        i += 2 if insn.is_lddw else 1


def pseudo_name(src: int) -> str:
    try:
        return PseudoLdImm64(src).name
    except ValueError:
        return str(src)
