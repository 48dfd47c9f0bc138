"""Assembler for the bpf_conformance / uBPF text syntax (``mov %r0, 1``, ``ldxw %r0, [%r1+4]``).

One instruction or label per line; ``#`` starts a comment.  Jump targets are labels or
``+N``/``-N`` slot counts relative to the next instruction; the first ``exit`` also defines
the label ``exit``.
"""

from __future__ import annotations

import re

from ..errors import AsmError
from .insn import Insn, lddw
from .opcodes import (
    OPCODE_CALL,
    OPCODE_CALLX,
    OPCODE_EXIT,
    OPCODE_JA,
    OPCODE_JA32,
    TO_BE,
    TO_LE,
    AluOp,
    AtomicOp,
    InsnClass,
    JmpOp,
    Mode,
    PseudoCall,
    Size,
    Source,
)

_ALU = {
    "add": AluOp.ADD, "sub": AluOp.SUB, "mul": AluOp.MUL, "div": AluOp.DIV, "or": AluOp.OR,
    "and": AluOp.AND, "lsh": AluOp.LSH, "rsh": AluOp.RSH, "neg": AluOp.NEG, "mod": AluOp.MOD,
    "xor": AluOp.XOR, "mov": AluOp.MOV, "arsh": AluOp.ARSH, "sdiv": AluOp.DIV, "smod": AluOp.MOD,
}  # fmt: skip
_JMP = {
    "jeq": JmpOp.JEQ, "jgt": JmpOp.JGT, "jge": JmpOp.JGE, "jset": JmpOp.JSET, "jne": JmpOp.JNE,
    "jsgt": JmpOp.JSGT, "jsge": JmpOp.JSGE, "jlt": JmpOp.JLT, "jle": JmpOp.JLE,
    "jslt": JmpOp.JSLT, "jsle": JmpOp.JSLE,
}  # fmt: skip
_SIZES = {"b": Size.B, "h": Size.H, "w": Size.W, "dw": Size.DW}
_ATOMIC = {"add": AtomicOp.ADD, "and": AtomicOp.AND, "or": AtomicOp.OR, "xor": AtomicOp.XOR}
_MEM = re.compile(r"^\[%r(\d+)(?:([+-])((?:0x)?[0-9a-fA-F]+))?\]$")
_LABEL = re.compile(r"^[A-Za-z_.][\w.]*:$")


def _reg(tok: str, line: int) -> int:
    m = re.fullmatch(r"%r(\d+)", tok)
    if not m:
        raise AsmError(line, f"Invalid register {tok!r}")
    n = int(m.group(1))
    if n > 15:
        raise AsmError(line, f"Invalid register {tok!r}")
    return n


def _int(tok: str, line: int) -> int:
    try:
        return int(tok, 0)
    except ValueError:
        raise AsmError(line, f"Invalid number {tok!r}") from None


def _imm32(tok: str, line: int) -> int:
    v = _int(tok, line)
    if "x" in tok.lower():
        if not -(1 << 31) <= v <= 0xFFFFFFFF:
            raise AsmError(line, f"Invalid immediate {tok}: out of range")
    elif not -(1 << 31) <= v < (1 << 31):
        raise AsmError(line, f"Invalid immediate {tok}: out of range")
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _mem(tok: str, line: int) -> tuple[int, int]:
    m = _MEM.match(tok)
    if not m:
        raise AsmError(line, f"Invalid memory operand {tok!r}")
    reg = int(m.group(1))
    if reg > 15:
        raise AsmError(line, f"Invalid register in {tok!r}")
    off = 0
    if m.group(3):
        off = _int(m.group(3), line)
        if m.group(2) == "-":
            off = -off
    if not -(1 << 15) <= off < (1 << 15):
        raise AsmError(line, f"Invalid offset {off}: out of range")
    return reg, off


def _count(ops: list[str], n: int, mnemonic: str, line: int) -> None:
    if len(ops) != n:
        raise AsmError(line, f"Invalid number of operands for {mnemonic}")


def assemble_conformance(text: str) -> list[Insn]:
    """Instructions from conformance-syntax text; raises :class:`AsmError` on bad input."""
    parsed: list[tuple[int, str, list[str]]] = []
    labels: dict[str, int] = {}
    pc = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        body = raw.split("#", 1)[0].strip()
        if not body:
            continue
        if _LABEL.match(body):
            labels[body[:-1]] = pc
            continue
        parts = body.split(None, 1)
        mnemonic = parts[0]
        ops = [t.rstrip(",") for t in parts[1].split()] if len(parts) > 1 else []
        if mnemonic == "exit" and "exit" not in labels:
            labels["exit"] = pc
        parsed.append((lineno, mnemonic, ops))
        pc += 2 if mnemonic == "lddw" else 1

    out: list[Insn] = []
    for lineno, mnemonic, ops in parsed:
        pc = len(out)

        def target(tok: str, pc: int = pc, lineno: int = lineno) -> int:
            if re.fullmatch(r"[+-]\d+", tok):
                return int(tok)
            if tok not in labels:
                raise AsmError(lineno, f"Invalid label {tok!r}: not defined")
            return labels[tok] - (pc + 1)

        out.extend(_one(mnemonic, ops, lineno, target))
    return out


def _one(mnemonic: str, ops: list[str], line: int, target: object) -> list[Insn]:
    tgt = target  # callable: label or relative offset -> relative offset
    assert callable(tgt)
    base, is32 = (mnemonic[:-2], True) if mnemonic.endswith("32") else (mnemonic, False)
    if base in _ALU and not (mnemonic.startswith("movsx")):
        cls = InsnClass.ALU if is32 else InsnClass.ALU64
        op = _ALU[base]
        off = 1 if base in ("sdiv", "smod") else 0
        if op == AluOp.NEG:
            _count(ops, 1, mnemonic, line)
            return [Insn(cls | op, _reg(ops[0], line))]
        _count(ops, 2, mnemonic, line)
        dst = _reg(ops[0], line)
        if ops[1].startswith("%"):
            return [Insn(cls | op | Source.X, dst, _reg(ops[1], line), off)]
        return [Insn(cls | op, dst, 0, off, _imm32(ops[1], line))]
    m = re.fullmatch(r"movsx(8|16|32)(32|64)", mnemonic)
    if m:
        _count(ops, 2, mnemonic, line)
        cls = InsnClass.ALU if m.group(2) == "32" else InsnClass.ALU64
        return [Insn(cls | AluOp.MOV | Source.X, _reg(ops[0], line), _reg(ops[1], line), int(m.group(1)))]
    m = re.fullmatch(r"(be|le|bswap|swap)(16|32|64)", mnemonic)
    if m:
        _count(ops, 1, mnemonic, line)
        kind, bits = m.group(1), int(m.group(2))
        if kind in ("bswap", "swap"):
            code = InsnClass.ALU64 | AluOp.END | TO_LE
        else:
            code = InsnClass.ALU | AluOp.END | (TO_BE if kind == "be" else TO_LE)
        return [Insn(code, _reg(ops[0], line), 0, 0, bits)]
    if mnemonic == "lddw":
        _count(ops, 2, mnemonic, line)
        value = _int(ops[1], line)
        if not -(1 << 63) <= value < (1 << 64):
            raise AsmError(line, f"immediate {ops[1]} out of range")
        return list(lddw(_reg(ops[0], line), value))
    m = re.fullmatch(r"ldx(s?)(b|h|w|dw)", mnemonic)
    if m:
        _count(ops, 2, mnemonic, line)
        mode = Mode.MEMSX if m.group(1) else Mode.MEM
        src, off = _mem(ops[1], line)
        return [Insn(InsnClass.LDX | mode | _SIZES[m.group(2)], _reg(ops[0], line), src, off)]
    m = re.fullmatch(r"st(x?)(b|h|w|dw)", mnemonic)
    if m:
        _count(ops, 2, mnemonic, line)
        dst, off = _mem(ops[0], line)
        size = _SIZES[m.group(2)]
        if m.group(1):
            return [Insn(InsnClass.STX | Mode.MEM | size, dst, _reg(ops[1], line), off)]
        return [Insn(InsnClass.ST | Mode.MEM | size, dst, 0, off, _imm32(ops[1], line))]
    m = re.fullmatch(r"ld(abs|ind)(b|h|w)", mnemonic)
    if m:
        size = _SIZES[m.group(2)]
        if m.group(1) == "abs":
            _count(ops, 1, mnemonic, line)
            return [Insn(InsnClass.LD | Mode.ABS | size, 0, 0, 0, _imm32(ops[0], line))]
        _count(ops, 2, mnemonic, line)
        return [Insn(InsnClass.LD | Mode.IND | size, 0, _reg(ops[0], line), 0, _imm32(ops[1], line))]
    if mnemonic == "lock":
        return [_lock(ops, line)]
    if mnemonic in ("ja", "ja32"):
        _count(ops, 1, mnemonic, line)
        rel = tgt(ops[0])
        if mnemonic == "ja32":
            return [Insn(OPCODE_JA32, 0, 0, 0, rel)]
        return [Insn(OPCODE_JA, 0, 0, _off16(rel, line))]
    if base in _JMP:
        _count(ops, 3, mnemonic, line)
        cls = InsnClass.JMP32 if is32 else InsnClass.JMP
        dst = _reg(ops[0], line)
        rel = _off16(tgt(ops[2]), line)
        if ops[1].startswith("%"):
            return [Insn(cls | _JMP[base] | Source.X, dst, _reg(ops[1], line), rel)]
        return [Insn(cls | _JMP[base], dst, 0, rel, _imm32(ops[1], line))]
    if mnemonic == "call":
        if len(ops) == 1 and ops[0].startswith("%"):
            return [Insn(OPCODE_CALLX, _reg(ops[0], line))]
        if len(ops) == 2 and ops[0] == "local":
            return [Insn(OPCODE_CALL, 0, PseudoCall.CALL, 0, tgt(ops[1]))]
        if len(ops) == 2 and ops[0] in ("helper", "runtime"):
            src = PseudoCall.HELPER if ops[0] == "helper" else PseudoCall.KFUNC_CALL
            return [Insn(OPCODE_CALL, 0, src, 0, _imm32(ops[1], line))]
        _count(ops, 1, mnemonic, line)
        return [Insn(OPCODE_CALL, 0, 0, 0, _imm32(ops[0], line))]
    if mnemonic == "exit":
        _count(ops, 0, mnemonic, line)
        return [Insn(OPCODE_EXIT)]
    raise AsmError(line, f"Invalid mnemonic {mnemonic!r}")


def _off16(rel: int, line: int) -> int:
    if not -(1 << 15) <= rel < (1 << 15):
        raise AsmError(line, f"Invalid jump offset {rel}: out of range")
    return rel


def _lock(ops: list[str], line: int) -> Insn:
    fetch = bool(ops) and ops[0] == "fetch"
    rest = ops[1:] if fetch else ops
    if len(rest) != 3:
        raise AsmError(line, "Invalid number of operands for lock")
    name, mem, src = rest
    is32 = name.endswith("32")
    base = name[:-2] if is32 else name
    size = Size.W if is32 else Size.DW
    if base in _ATOMIC:
        imm = int(_ATOMIC[base]) | (1 if fetch else 0)
    elif base == "xchg":
        imm = AtomicOp.XCHG
    elif base == "cmpxchg":
        imm = AtomicOp.CMPXCHG
    else:
        raise AsmError(line, f"Invalid atomic operation {name!r}")
    dst, off = _mem(mem, line)
    return Insn(InsnClass.STX | Mode.ATOMIC | size, dst, _reg(src, line), off, imm)
