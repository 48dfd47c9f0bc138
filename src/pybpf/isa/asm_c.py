"""Assembler for the C-like syntax of the kernel's verifier log and of llvm-objdump.

Reads what :mod:`pybpf.isa.disasm` writes in either syntax, so decode -> text -> encode is
the identity, and what people paste from verifier logs, ``bpftool prog dump xlated`` and
``llvm-objdump -d``: line prefixes ``12: (79)`` and raw byte columns are skipped, ``;``
and ``//`` start comments, ``name:`` defines a label that jumps and calls may name.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import AsmError
from .helper_ids import helper_id
from .insn import Insn, lddw
from .opcodes import (
    OPCODE_CALL,
    OPCODE_CALLX,
    OPCODE_EXIT,
    OPCODE_JA,
    OPCODE_JA32,
    OPCODE_LDDW,
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

_NUM = r"[+-]?(?:0x[0-9a-fA-F]+|\d+)"
_REG = r"([rw])(\d+)"
_TYPE = r"\*\(\s*([us])(8|16|32|64)\s*\*\)"
_ADDR = r"\(\s*r(\d+)\s*(?:([+-])\s*(0x[0-9a-fA-F]+|\d+))?\s*\)"
_TARGET = r"(?:pc)?([+-](?:0x[0-9a-fA-F]+|\d+)|[A-Za-z_.][\w.]*)"

_SIZE_BITS = {8: Size.B, 16: Size.H, 32: Size.W, 64: Size.DW}
_ALU_SYM = {
    "+=": (AluOp.ADD, 0), "-=": (AluOp.SUB, 0), "*=": (AluOp.MUL, 0), "/=": (AluOp.DIV, 0),
    "|=": (AluOp.OR, 0), "&=": (AluOp.AND, 0), "<<=": (AluOp.LSH, 0), ">>=": (AluOp.RSH, 0),
    "%=": (AluOp.MOD, 0), "^=": (AluOp.XOR, 0), "=": (AluOp.MOV, 0), "s>>=": (AluOp.ARSH, 0),
    "s/=": (AluOp.DIV, 1), "s%=": (AluOp.MOD, 1),
}  # fmt: skip
_JMP_SYM = {
    "==": JmpOp.JEQ, ">": JmpOp.JGT, ">=": JmpOp.JGE, "&": JmpOp.JSET, "!=": JmpOp.JNE,
    "s>": JmpOp.JSGT, "s>=": JmpOp.JSGE, "<": JmpOp.JLT, "<=": JmpOp.JLE, "s<": JmpOp.JSLT,
    "s<=": JmpOp.JSLE,
}  # fmt: skip
_ATOMIC_ALU = {"+=": AtomicOp.ADD, "&=": AtomicOp.AND, "|=": AtomicOp.OR, "^=": AtomicOp.XOR}
_ATOMIC_FETCH = {"add": AtomicOp.FETCH_ADD, "and": AtomicOp.FETCH_AND, "or": AtomicOp.FETCH_OR,
                 "xor": AtomicOp.FETCH_XOR}  # fmt: skip

_PREFIX = re.compile(r"^\s*(\d+):\s*(?:\(([0-9a-fA-F]{2})\)\s*)?((?:[0-9a-f]{2} )*[0-9a-f]{2}\t)?")
_OBJDUMP_HEADER = re.compile(r"^[0-9a-f]+ <[^>]*>:$|^Disassembly of section|file format")


def _num(tok: str) -> int:
    return int(tok, 0)


def _imm32(v: int, line: int) -> int:
    if not -(1 << 31) <= v <= 0xFFFFFFFF:
        raise AsmError(line, f"immediate {v} does not fit in 32 bits")
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _off(sign: str | None, digits: str | None, line: int) -> int:
    if not digits:
        return 0
    v = _num(digits)
    v = -v if sign == "-" else v
    if not -(1 << 15) <= v < (1 << 15):
        raise AsmError(line, f"offset {v} out of range")
    return v


def _reg(num: str, line: int) -> int:
    n = int(num)
    if n > 10:
        raise AsmError(line, f"invalid register r{n}")
    return n


class _Stmt:
    """One parsed statement; ``build`` makes its slots once labels are known."""

    def __init__(self, line: int, build: Callable[[int, dict[str, int]], list[Insn]], width: int):
        self.line = line
        self.build = build
        self.width = width


def _rel(tok: str, pc: int, labels: dict[str, int], line: int) -> int:
    if tok[0] in "+-":
        return _num(tok)
    if tok not in labels:
        raise AsmError(line, f"undefined label {tok!r}")
    return labels[tok] - (pc + 1)


def assemble_c(text: str) -> list[Insn]:
    """Instructions from kernel-log or llvm-objdump text; raises :class:`AsmError`."""
    stmts: list[_Stmt] = []
    labels: dict[str, int] = {}
    pc = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        body = re.split(r";|//", raw, maxsplit=1)[0].rstrip()
        if not body.strip() or _OBJDUMP_HEADER.search(body.strip()):
            continue
        code: int | None = None
        m = _PREFIX.match(body)
        if m and (m.group(2) or m.group(3) or re.match(r"^\s*\d+:\s", body)):
            code = int(m.group(2), 16) if m.group(2) else None
            if m.group(3):
                code = int(m.group(3)[:2], 16)
            body = body[m.end() :]
        body = re.sub(r"\s+<[^<>\s]*>\s*$", "", body).strip()
        if re.fullmatch(r"[A-Za-z_.][\w.]*:", body):
            labels[body[:-1]] = pc
            continue
        stmt = _parse(body, lineno, code)
        stmts.append(stmt)
        pc += stmt.width
    out: list[Insn] = []
    for stmt in stmts:
        out.extend(stmt.build(len(out), labels))
    return out


def _fixed(line: int, *insns: Insn) -> _Stmt:
    return _Stmt(line, lambda pc, labels: list(insns), len(insns))


def _parse(s: str, line: int, code: int | None) -> _Stmt:
    if s == "exit":
        return _fixed(line, Insn(OPCODE_EXIT))
    m = re.fullmatch(r"(goto|gotol|may_goto)\s+" + _TARGET, s)
    if m:
        kind, tok = m.group(1), m.group(2)

        def jump(pc: int, labels: dict[str, int]) -> list[Insn]:
            rel = _rel(tok, pc, labels, line)
            if kind == "gotol":
                return [Insn(OPCODE_JA32, 0, 0, 0, _imm32(rel, line))]
            if not -(1 << 15) <= rel < (1 << 15):
                raise AsmError(line, f"jump offset {rel} out of range")
            if kind == "may_goto":
                return [Insn(InsnClass.JMP | JmpOp.JCOND, 0, 0, rel)]
            return [Insn(OPCODE_JA, 0, 0, rel)]

        return _Stmt(line, jump, 1)
    m = re.fullmatch(r"if\s+" + _REG + r"\s*(s?[<>]=?|==|!=|&)\s*(?:" + _REG + "|(" + _NUM + r"))\s+goto\s+" + _TARGET, s)
    if m:
        cls = InsnClass.JMP32 if m.group(1) == "w" else InsnClass.JMP
        dst = _reg(m.group(2), line)
        op = _JMP_SYM.get(m.group(3))
        if op is None:
            raise AsmError(line, f"unknown comparison {m.group(3)!r}")
        src_reg = m.group(5)
        imm_text = m.group(6)
        tok = m.group(7)

        def cond(pc: int, labels: dict[str, int]) -> list[Insn]:
            rel = _rel(tok, pc, labels, line)
            if not -(1 << 15) <= rel < (1 << 15):
                raise AsmError(line, f"jump offset {rel} out of range")
            if src_reg is not None:
                return [Insn(cls | op | Source.X, dst, _reg(src_reg, line), rel)]
            return [Insn(cls | op, dst, 0, rel, _imm32(_num(imm_text), line))]

        return _Stmt(line, cond, 1)
    if s.startswith("call"):
        return _parse_call(s, line)
    if s.startswith("lock "):
        m = re.fullmatch(r"lock\s+" + _TYPE + r"\s*" + _ADDR + r"\s*(\+=|&=|\|=|\^=)\s*" + _REG, s)
        if not m:
            raise AsmError(line, f"cannot parse {s!r}")
        size = _SIZE_BITS[int(m.group(2))]
        return _fixed(line, Insn(InsnClass.STX | Mode.ATOMIC | size, _reg(m.group(3), line),
                                 _reg(m.group(8), line), _off(m.group(4), m.group(5), line),
                                 _ATOMIC_ALU[m.group(6)]))  # fmt: skip
    m = re.fullmatch(r"store_release\(\(\s*u(8|16|32|64)\s*\*\)" + _ADDR + r",\s*" + _REG + r"\)", s)
    if m:
        size = _SIZE_BITS[int(m.group(1))]
        return _fixed(line, Insn(InsnClass.STX | Mode.ATOMIC | size, _reg(m.group(2), line),
                                 _reg(m.group(6), line), _off(m.group(3), m.group(4), line),
                                 AtomicOp.STORE_REL))  # fmt: skip
    m = re.fullmatch(_TYPE + r"\s*" + _ADDR + r"\s*=\s*(?:" + _REG + "|(" + _NUM + "))", s)
    if m:
        size = _SIZE_BITS[int(m.group(2))]
        dst = _reg(m.group(3), line)
        off = _off(m.group(4), m.group(5), line)
        if m.group(7) is not None:
            return _fixed(line, Insn(InsnClass.STX | Mode.MEM | size, dst, _reg(m.group(7), line), off))
        return _fixed(line, Insn(InsnClass.ST | Mode.MEM | size, dst, 0, off, _imm32(_num(m.group(8)), line)))
    m = re.fullmatch(_REG + r"\s*(s?>>=|<<=|s/=|s%=|[-+*/|&%^]=|=)\s*(.+)", s)
    if m:
        return _parse_assign(m.group(1), _reg(m.group(2), line), m.group(3), m.group(4).strip(), line, code)
    raise AsmError(line, f"cannot parse {s!r}")


def _parse_call(s: str, line: int) -> _Stmt:
    m = re.fullmatch(r"callx\s+r(\d+)", s)
    if m:
        return _fixed(line, Insn(OPCODE_CALLX, _reg(m.group(1), line)))
    m = re.fullmatch(r"call\s+pc([+-]\d+)", s)
    if m:
        return _fixed(line, Insn(OPCODE_CALL, 0, PseudoCall.CALL, 0, int(m.group(1))))
    m = re.fullmatch(r"call\s+([\w.-]+)#(-?\d+)", s)
    if m:
        src = PseudoCall.KFUNC_CALL if m.group(1) == "kernel-function" else PseudoCall.HELPER
        return _fixed(line, Insn(OPCODE_CALL, 0, src, 0, _imm32(int(m.group(2)), line)))
    m = re.fullmatch(r"call\s+(" + _NUM + ")", s)
    if m:
        return _fixed(line, Insn(OPCODE_CALL, 0, 0, 0, _imm32(_num(m.group(1)), line)))
    m = re.fullmatch(r"call\s+([A-Za-z_.][\w.]*)", s)
    if m:
        name = m.group(1)
        hid = helper_id(name)
        if hid is not None and name.startswith("bpf_"):
            return _fixed(line, Insn(OPCODE_CALL, 0, 0, 0, hid))

        def local(pc: int, labels: dict[str, int]) -> list[Insn]:
            if name in labels:
                return [Insn(OPCODE_CALL, 0, PseudoCall.CALL, 0, labels[name] - (pc + 1))]
            if hid is not None:
                return [Insn(OPCODE_CALL, 0, 0, 0, hid)]
            raise AsmError(line, f"unknown helper or label {name!r}")

        return _Stmt(line, local, 1)
    raise AsmError(line, f"cannot parse {s!r}")


def _parse_assign(
    rw: str, dst: int, sym: str, rhs: str, line: int, code: int | None
) -> _Stmt:
    is32 = rw == "w"
    cls = InsnClass.ALU if is32 else InsnClass.ALU64
    if sym == "=":
        # 64-bit immediates and pseudo loads
        m = re.fullmatch("(" + _NUM + r")(\s+ll)?", rhs)
        if m and not is32:
            value = _num(m.group(1))
            if m.group(2) or code == OPCODE_LDDW or not -(1 << 31) <= value < (1 << 31):
                if not -(1 << 63) <= value < (1 << 64):
                    raise AsmError(line, f"immediate {m.group(1)} does not fit in 64 bits")
                return _fixed(line, *lddw(dst, value))
        pseudo = _parse_pseudo(rhs, line)
        if pseudo is not None:
            src, lo, hi = pseudo
            first, second = lddw(dst, (hi << 32) | (lo & 0xFFFFFFFF), src)
            return _fixed(line, first, second)
        m = re.fullmatch(r"(be|le|bswap)(16|32|64)\s+r(\d+)", rhs)
        if m:
            if int(m.group(3)) != dst:
                raise AsmError(line, "byte swap must name the same register twice")
            if m.group(1) == "bswap":
                code_ = InsnClass.ALU64 | AluOp.END | TO_LE
            else:
                code_ = InsnClass.ALU | AluOp.END | (TO_BE if m.group(1) == "be" else TO_LE)
            return _fixed(line, Insn(code_, dst, 0, 0, int(m.group(2))))
        m = re.fullmatch(r"-" + _REG, rhs)
        if m:
            return _fixed(line, Insn(cls | AluOp.NEG, dst))
        m = re.fullmatch(_TYPE + r"\s*" + _ADDR, rhs)
        if m:
            size = _SIZE_BITS[int(m.group(2))]
            mode = Mode.MEMSX if m.group(1) == "s" else Mode.MEM
            return _fixed(line, Insn(InsnClass.LDX | mode | size, dst, _reg(m.group(3), line),
                                     _off(m.group(4), m.group(5), line)))  # fmt: skip
        m = re.fullmatch(_TYPE + r"\s*skb\[(?:r(\d+)(?:\s*\+\s*(" + _NUM + "))?|(" + _NUM + r"))\]", rhs)
        if m:
            size = _SIZE_BITS[int(m.group(2))]
            if m.group(3) is not None:
                disp = _imm32(_num(m.group(4)), line) if m.group(4) else 0
                return _fixed(line, Insn(InsnClass.LD | Mode.IND | size, 0, _reg(m.group(3), line), 0, disp))
            return _fixed(line, Insn(InsnClass.LD | Mode.ABS | size, 0, 0, 0, _imm32(_num(m.group(5)), line)))
        m = re.fullmatch(r"(?:atomic(64)?_fetch_(add|and|or|xor)|atomic(64)?_xchg|load_acquire)\(\(\s*u(8|16|32|64)\s*\*\)" + _ADDR + r"(?:,\s*" + _REG + r")?\)", rhs)
        if m:
            size = _SIZE_BITS[int(m.group(4))]
            if m.group(2):
                imm: int = _ATOMIC_FETCH[m.group(2)]
            elif rhs.startswith("load_acquire"):
                imm = AtomicOp.LOAD_ACQ
            else:
                imm = AtomicOp.XCHG
            base, off = _reg(m.group(5), line), _off(m.group(6), m.group(7), line)
            if imm == AtomicOp.LOAD_ACQ:
                return _fixed(line, Insn(InsnClass.STX | Mode.ATOMIC | size, base, dst, off, imm))
            return _fixed(line, Insn(InsnClass.STX | Mode.ATOMIC | size, base, _reg(m.group(9), line), off, imm))
        m = re.fullmatch(r"atomic(64)?_cmpxchg\(\(\s*u(32|64)\s*\*\)" + _ADDR + r",\s*[rw]0,\s*" + _REG + r"\)", rhs)
        if m:
            size = _SIZE_BITS[int(m.group(2))]
            return _fixed(line, Insn(InsnClass.STX | Mode.ATOMIC | size, _reg(m.group(3), line),
                                     _reg(m.group(7), line), _off(m.group(4), m.group(5), line),
                                     AtomicOp.CMPXCHG))  # fmt: skip
        m = re.fullmatch(r"(xchg_64|xchg32_32|cmpxchg_64|cmpxchg32_32)\(\s*r(\d+)\s*(?:([+-])\s*(0x[0-9a-fA-F]+|\d+))?\s*,\s*(?:[rw]0\s*,\s*)?" + _REG + r"\)", rhs)
        if m:
            size = Size.DW if m.group(1).endswith("_64") else Size.W
            imm = AtomicOp.CMPXCHG if m.group(1).startswith("cmp") else AtomicOp.XCHG
            return _fixed(line, Insn(InsnClass.STX | Mode.ATOMIC | size, _reg(m.group(2), line),
                                     _reg(m.group(6), line), _off(m.group(3), m.group(4), line), imm))  # fmt: skip
        m = re.fullmatch(r"addr_space_cast\(r(\d+),\s*(\d+),\s*(\d+)\)", rhs)
        if m:
            imm = (int(m.group(2)) << 16) | int(m.group(3))
            return _fixed(line, Insn(InsnClass.ALU64 | AluOp.MOV | Source.X, dst, _reg(m.group(1), line), 1, imm))
        m = re.fullmatch(r"\(s(8|16|32)\)\s*" + _REG, rhs)
        if m:
            return _fixed(line, Insn(cls | AluOp.MOV | Source.X, dst, _reg(m.group(3), line), int(m.group(1))))
    op, off = _ALU_SYM[sym]
    m = re.fullmatch(_REG, rhs)
    if m:
        return _fixed(line, Insn(cls | op | Source.X, dst, _reg(m.group(2), line), off))
    m = re.fullmatch(_NUM, rhs)
    if m:
        return _fixed(line, Insn(cls | op, dst, 0, off, _imm32(_num(rhs), line)))
    raise AsmError(line, f"cannot parse right-hand side {rhs!r}")


def _parse_pseudo(rhs: str, line: int) -> tuple[int, int, int] | None:
    """``map[fd:3]``, ``map[idx:0][0]+8``, ``btf_id[12]``, ``func[pc+4]``: (src, imm, imm2)."""
    m = re.fullmatch(r"map\[(fd|idx):(-?\d+)\](?:\[0\]\+(\d+))?", rhs)
    if m:
        value = m.group(3) is not None
        if m.group(1) == "fd":
            src = PseudoLdImm64.MAP_VALUE if value else PseudoLdImm64.MAP_FD
        else:
            src = PseudoLdImm64.MAP_IDX_VALUE if value else PseudoLdImm64.MAP_IDX
        return src, int(m.group(2)), int(m.group(3) or 0)
    m = re.fullmatch(r"btf_id\[(-?\d+)(?:,(-?\d+))?\]", rhs)
    if m:
        return PseudoLdImm64.BTF_ID, int(m.group(1)), int(m.group(2) or 0)
    m = re.fullmatch(r"func\[pc([+-]\d+)(?:,(\d+))?\]", rhs)
    if m:
        return PseudoLdImm64.FUNC, int(m.group(1)), int(m.group(2) or 0)
    return None
