"""Closure factories for the interpreter, one per instruction form.

Each factory is built once, at import, from a small template, so that every ALU and jump
form gets a closure with its expression written out (no dispatch on the operation at run
time).  The expressions are the semantics of :mod:`pybpf.isa.semantics`; the property
tests check the two agree.  Memory closures keep a one-region cache (base, last valid
address, buffer) that the interpreter clears at the start of every run.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from ..isa.opcodes import AluOp, JmpOp
from ..isa.semantics import alu32, alu64, s32, s64, sign_extend

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
SIGN64 = 1 << 63
SIGN32 = 1 << 31

Handler = Callable[[list[int]], int]
Factory = Callable[..., Handler]

# Result expressions over ``a`` (destination) and ``b`` (operand), already unsigned.
_ALU64 = {
    AluOp.ADD: "(a + b) & M64",
    AluOp.SUB: "(a - b) & M64",
    AluOp.MUL: "(a * b) & M64",
    AluOp.DIV: "a // b if b else 0",
    AluOp.MOD: "a % b if b else a",
    AluOp.OR: "a | b",
    AluOp.AND: "a & b",
    AluOp.XOR: "a ^ b",
    AluOp.LSH: "(a << (b & 63)) & M64",
    AluOp.RSH: "a >> (b & 63)",
    AluOp.ARSH: "(((a ^ SIGN64) - SIGN64) >> (b & 63)) & M64",
    AluOp.MOV: "b",
}
_ALU32 = {
    AluOp.ADD: "(a + b) & M32",
    AluOp.SUB: "(a - b) & M32",
    AluOp.MUL: "(a * b) & M32",
    AluOp.DIV: "a // b if b else 0",
    AluOp.MOD: "a % b if b else a",
    AluOp.OR: "a | b",
    AluOp.AND: "a & b",
    AluOp.XOR: "a ^ b",
    AluOp.LSH: "(a << (b & 31)) & M32",
    AluOp.RSH: "a >> (b & 31)",
    AluOp.ARSH: "(((a ^ SIGN32) - SIGN32) >> (b & 31)) & M32",
    AluOp.MOV: "b",
}
_COND = {
    JmpOp.JEQ: "a == b",
    JmpOp.JNE: "a != b",
    JmpOp.JGT: "a > b",
    JmpOp.JGE: "a >= b",
    JmpOp.JLT: "a < b",
    JmpOp.JLE: "a <= b",
    JmpOp.JSET: "a & b",
    JmpOp.JSGT: "(a ^ SIGN) > (b ^ SIGN)",
    JmpOp.JSGE: "(a ^ SIGN) >= (b ^ SIGN)",
    JmpOp.JSLT: "(a ^ SIGN) < (b ^ SIGN)",
    JmpOp.JSLE: "(a ^ SIGN) <= (b ^ SIGN)",
}

_NAMESPACE: dict[str, Any] = {
    "M64": M64, "M32": M32, "SIGN64": SIGN64, "SIGN32": SIGN32,
    "alu64": alu64, "alu32": alu32, "s64": s64, "s32": s32, "sign_extend": sign_extend,
}  # fmt: skip


def _build(name: str, params: str, body: str) -> Factory:
    src = f"def {name}({params}):\n    def h(r):\n" + "".join(
        f"        {line}\n" for line in body.splitlines()
    ) + "    return h\n"
    ns = dict(_NAMESPACE)
    exec(compile(src, f"<pybpf handler {name}>", "exec"), ns)
    return ns[name]  # type: ignore[no-any-return]


def _subst(expr: str, a: str, b: str) -> str:
    out = []
    for tok in _tokens(expr):
        out.append(a if tok == "a" else b if tok == "b" else tok)
    return "".join(out)


def _tokens(expr: str) -> list[str]:
    toks, word = [], ""
    for ch in expr:
        if ch.isalnum() or ch == "_":
            word += ch
        else:
            if word:
                toks.append(word)
                word = ""
            toks.append(ch)
    if word:
        toks.append(word)
    return toks


def _alu_factories() -> dict[tuple[bool, int, bool], Factory]:
    out: dict[tuple[bool, int, bool], Factory] = {}
    for is64, table in ((True, _ALU64), (False, _ALU32)):
        for op, expr in table.items():
            mask = "" if is64 else " & M32"
            a = "r[d]" if is64 else "(r[d] & M32)"
            # register operand
            b = "r[s]" if is64 else f"(r[s]{mask})"
            body = f"r[d] = {_subst(expr, a, b)}\nreturn nxt"
            out[(is64, op, True)] = _build(f"alu_{int(is64)}_{op:x}_x", "d, s, nxt", body)
            # immediate operand (pre-masked by the caller)
            body = f"r[d] = {_subst(expr, a, 'b')}\nreturn nxt"
            out[(is64, op, False)] = _build(f"alu_{int(is64)}_{op:x}_k", "d, b, nxt", body)
        neg = "(-r[d]) & M64" if is64 else "(-(r[d] & M32)) & M32"
        out[(is64, AluOp.NEG, False)] = _build(f"neg_{int(is64)}", "d, b, nxt", f"r[d] = {neg}\nreturn nxt")
    return out


def _cond_factories() -> dict[tuple[bool, int, bool, bool], Factory]:
    out: dict[tuple[bool, int, bool, bool], Factory] = {}
    for is32 in (False, True):
        for op, expr in _COND.items():
            sign = "SIGN32" if is32 else "SIGN64"
            expr = expr.replace("SIGN", sign)
            a = "(r[d] & M32)" if is32 else "r[d]"
            for reg in (True, False):
                b = ("(r[s] & M32)" if is32 else "r[s]") if reg else "b"
                cond = _subst(expr, a, b).replace(f"{sign}32", sign).replace(f"{sign}64", sign)
                params = "d, s, target, nxt, budget" if reg else "d, b, target, nxt, budget"
                for backward in (False, True):
                    guard = "budget[0] -= 1\nif budget[0] < 0:\n    raise BudgetExceeded\n" if backward else ""
                    body = guard + f"return target if {cond} else nxt"
                    name = f"j_{int(is32)}_{op:x}_{'x' if reg else 'k'}_{int(backward)}"
                    out[(is32, op, reg, backward)] = _build(name, params, body)
    return out


class BudgetExceeded(Exception):
    """A backward jump found the instruction budget spent."""


_NAMESPACE["BudgetExceeded"] = BudgetExceeded
ALU = _alu_factories()
COND = _cond_factories()


# --- memory ---------------------------------------------------------------------------

_UNPACK = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I"), 8: struct.Struct("<Q")}


def load_factory(
    d: int, s: int, off: int, size: int, signed: bool, nxt: int, pc: int, cache: list[Any], slow: Any
) -> Handler:
    """``rd = *(size *)(rs + off)`` with a one-region cache; ``slow`` resolves misses."""
    unpack = _UNPACK[size].unpack_from
    bits = size * 8
    if signed:
        half = 1 << (bits - 1)
        full = 1 << bits

        def ldxs(r: list[int]) -> int:
            addr = (r[s] + off) & M64
            if cache[0] <= addr <= cache[1]:
                v = unpack(cache[2], addr - cache[0])[0]
            else:
                v = slow(addr, size, pc, cache)
            r[d] = (v - full if v >= half else v) & M64
            return nxt

        return ldxs

    def ldx(r: list[int]) -> int:
        addr = (r[s] + off) & M64
        if cache[0] <= addr <= cache[1]:
            r[d] = unpack(cache[2], addr - cache[0])[0]
        else:
            r[d] = slow(addr, size, pc, cache)
        return nxt

    return ldx


def store_factory(
    d: int, s: int | None, imm: int, off: int, size: int, nxt: int, pc: int, cache: list[Any], slow: Any
) -> Handler:
    """``*(size *)(rd + off) = rs`` (or ``= imm`` when ``s`` is None).

    ``slow`` gets the whole value: the register's 64 bits, or the immediate as a signed
    number, since the kernel's rewrite of some context stores looks at exactly that.
    """
    pack = _UNPACK[size].pack_into
    mask = (1 << (size * 8)) - 1
    if s is None:
        value = imm & mask

        def st(r: list[int]) -> int:
            addr = (r[d] + off) & M64
            if cache[0] <= addr <= cache[1]:
                pack(cache[2], addr - cache[0], value)
            else:
                slow(addr, size, imm, pc, cache)  # signed: context fields may look at it
            return nxt

        return st

    def stx(r: list[int]) -> int:
        addr = (r[d] + off) & M64
        if cache[0] <= addr <= cache[1]:
            pack(cache[2], addr - cache[0], r[s] & mask)
        else:
            slow(addr, size, r[s], pc, cache)
        return nxt

    return stx
