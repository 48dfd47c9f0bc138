"""Programs test_verifier generates instead of listing (its ``fill_helper`` tests).

Each generator here builds the program its selftest describes: the same shape and
length, the same jumps, with the selftest's pseudo-random constants drawn from a PRNG
seeded with the test's name so that a conversion is reproducible.  The verifier's verdict
does not depend on those constants; where the expected return value does, it is
computed from the constants actually used.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby

from ..isa import Insn
from ..isa.opcodes import (
    OPCODE_CALL,
    OPCODE_EXIT,
    OPCODE_JA,
    OPCODE_LDDW,
    AluOp,
    InsnClass,
    JmpOp,
    Mode,
    PseudoCall,
    Size,
    Source,
)

HelperIds = Callable[[str], int]
"""Helper number by name (``get_prandom_u32``), from the kernel's own enum."""


@dataclass(frozen=True, slots=True)
class Filled:
    insns: bytes
    """The program in the kernel's encoding."""
    retval: int | None
    """The return value the test expects, when the generator decides it."""


def _mov64_imm(dst: int, imm: int) -> Insn:
    return Insn(InsnClass.ALU64 | AluOp.MOV | Source.K, dst, 0, 0, imm)


def _mov32_imm(dst: int, imm: int) -> Insn:
    return Insn(InsnClass.ALU | AluOp.MOV | Source.K, dst, 0, 0, imm)


def _mov64_reg(dst: int, src: int) -> Insn:
    return Insn(InsnClass.ALU64 | AluOp.MOV | Source.X, dst, src)


def _ld_abs_b(imm: int) -> Insn:
    return Insn(InsnClass.LD | Size.B | Mode.ABS, 0, 0, 0, imm)


def _jmp_imm(op: int, dst: int, imm: int, off: int, cls: int = InsnClass.JMP) -> Insn:
    return Insn(cls | op | Source.K, dst, 0, off, imm)


def _ja(off: int) -> Insn:
    return Insn(OPCODE_JA, 0, 0, off, 0)


def _call(helper: int) -> Insn:
    return Insn(OPCODE_CALL, 0, 0, 0, helper)


def _call_rel(target: int) -> Insn:
    return Insn(OPCODE_CALL, 0, PseudoCall.CALL, 0, target)


_EXIT = Insn(OPCODE_EXIT)


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def vlan_push_pop(helpers: HelperIds) -> list[Insn]:
    """Five rounds of 51 (load a packet byte, push a VLAN tag) then 51 (load, pop), every
    step jumping to a shared error exit on failure, padded to just under 2**15 insns so
    that the inlined packet loads still fit the 16-bit jump range."""
    rounds, per_round = 5, 51
    length = (1 << 15) - per_round * 2 * 5 * 6
    out: list[Insn] = [_mov64_reg(6, 1)]

    def to_error() -> int:  # from the jump about to be appended to the error label
        return length - len(out) - 3

    for _ in range(rounds):
        for _ in range(per_round):
            out.append(_ld_abs_b(0))
            out.append(_jmp_imm(JmpOp.JNE, 0, 0x34, to_error(), InsnClass.JMP32))
            out += [_mov64_reg(1, 6), _mov64_imm(2, 1), _mov64_imm(3, 2)]
            out.append(_call(helpers("skb_vlan_push")))
            out.append(_jmp_imm(JmpOp.JNE, 0, 0, to_error()))
        for _ in range(per_round):
            out.append(_ld_abs_b(0))
            out.append(_jmp_imm(JmpOp.JNE, 0, 0x34, to_error(), InsnClass.JMP32))
            out.append(_mov64_reg(1, 6))
            out.append(_call(helpers("skb_vlan_pop")))
            out.append(_jmp_imm(JmpOp.JNE, 0, 0, to_error()))
    out += [_mov64_imm(0, 0xBEF)] * (length - 3 - len(out))
    out += [_ja(1), _mov32_imm(0, 0), _EXIT]
    return out


def jump_around_ld_abs() -> list[Insn]:
    """One conditional jump over a long run of packet loads (each inlined into several
    instructions), landing just before the exit."""
    length = (1 << 15) // 7
    out: list[Insn] = [_mov64_reg(6, 1), _ld_abs_b(0)]
    out.append(_jmp_imm(JmpOp.JEQ, 0, 10, length - len(out) - 2))
    out += [_ld_abs_b(1)] * (length - 1 - len(out))
    out.append(_EXIT)
    return out


def rand_ld_dw(count: int, rng: random.Random) -> tuple[bytes, int]:
    """XOR of random 64-bit immediates (about ``count`` instructions' worth), folded to 32
    bits; returns the program and the value it computes."""
    xor = Insn(InsnClass.ALU64 | AluOp.XOR | Source.X, 0, 1).encode()
    lddw_r1 = bytes((OPCODE_LDDW, 1, 0, 0))  # r1 = imm64: opcode, regs, off
    parts = [_mov32_imm(0, 0).encode()]
    n = 1
    acc = 0
    while n < count:
        val = rng.getrandbits(64)
        acc ^= val
        # the two slots of the load: low half in the first imm, high half in the second
        parts.append(lddw_r1 + (val & 0xFFFFFFFF).to_bytes(4, "little"))
        parts.append(bytes(4) + (val >> 32).to_bytes(4, "little") + xor)
        n += 3
    tail = (
        _mov64_reg(1, 0),
        Insn(InsnClass.ALU64 | AluOp.RSH | Source.K, 1, 0, 0, 32),
        Insn(InsnClass.ALU64 | AluOp.XOR | Source.X, 0, 1),
        _EXIT,
    )
    parts += [i.encode() for i in tail]
    acc ^= acc >> 32
    return b"".join(parts), acc & 0xFFFFFFFF


_SCALE_JUMPS = 8192
_SCALE_TOTAL = 1_000_000


def scale(variant: int, helpers: HelperIds, rng: random.Random) -> list[Insn] | None:
    """8192 random branches, each around a stack store, then straight-line code up to
    the million-instruction limit; variant 2 does it seven calls deep."""
    if variant not in (1, 2):
        return None
    out: list[Insn] = []
    nest = 7 if variant == 2 else 0
    for _ in range(nest):
        out += [_call_rel(1), _EXIT]
    out.append(_mov64_reg(6, 1))
    slots = 64 - 4 * nest if nest else 64
    for k in range(1, _SCALE_JUMPS + 1):
        out.append(_call(helpers("get_prandom_u32")))
        out.append(_jmp_imm(JmpOp.JEQ, 0, _s32(rng.getrandbits(64)), 2))
        out.append(_mov64_reg(1, 10))
        out.append(Insn(InsnClass.STX | Size.DW | Mode.MEM, 1, 6, -8 * (k % slots + 1)))
    out += [_mov64_imm(0, 42)] * (_SCALE_TOTAL - _SCALE_JUMPS * 4 - len(out))
    out.append(_EXIT)
    return out


def _torturous_1(helpers: HelperIds) -> list[Insn]:
    half = 128
    out = [_call(helpers("get_prandom_u32"))] + [_EXIT] * (2 * half + 2)
    for i in range(1, half + 1):
        out[i] = _jmp_imm(JmpOp.JEQ, 0, i, half)
        out[i + half] = _ja(half - i)
    out[-2] = _mov64_imm(0, 1)
    out[-1] = _EXIT
    return out


def _torturous_2(helpers: HelperIds) -> list[Insn]:
    length, span = 4100, 2048
    out = [_call(helpers("get_prandom_u32"))] + [_EXIT] * (length - 1)
    for i in range(1, span + 1):
        out[i] = _jmp_imm(JmpOp.JEQ, 0, i, span)
    out[span + 1] = _ja(span)
    for i in range(span + 2, 2 * span + 2, 16):
        for j in range(16):
            out[i + j] = _ja(15 - j)
    out[-2] = _mov64_imm(0, 2)
    out[-1] = _EXIT
    return out


def torturous_jumps(variant: int, helpers: HelperIds) -> list[Insn] | None:
    """Dense forward jumps that stress the JIT's jump-size passes; variant 3 calls both
    of the others as subprograms."""
    if variant == 1:
        return _torturous_1(helpers)
    if variant == 2:
        return _torturous_2(helpers)
    if variant == 3:
        one = _torturous_1(helpers)
        main = [
            _call_rel(4),
            _call_rel(4 + len(one) - 1),
            Insn(InsnClass.ST | Size.B | Mode.MEM, 10, 0, -32, 0),
            _mov64_imm(0, 3),
            _EXIT,
        ]
        return main + one + _torturous_2(helpers)
    return None


def generate(name: str, helper: str, retval: int, helpers: HelperIds) -> Filled | None:
    """The program of fill helper ``helper`` for a test whose ``.retval`` is ``retval``
    (several helpers take their variant from it), or None for helpers not known here."""
    rng = random.Random(f"pybpf selftest {name}")
    if helper == "bpf_fill_ld_abs_vlan_push_pop":
        return Filled(_encode(vlan_push_pop(helpers)), None)
    if helper == "bpf_fill_jump_around_ld_abs":
        return Filled(_encode(jump_around_ld_abs()), None)
    if helper == "bpf_fill_rand_ld_dw":
        raw, value = rand_ld_dw(retval, rng)
        return Filled(raw, value)
    if helper == "bpf_fill_scale":
        got = scale(retval, helpers, rng)
        return Filled(_encode(got), 42) if got is not None else None
    if helper == "bpf_fill_torturous_jumps":
        got = torturous_jumps(retval, helpers)
        return Filled(_encode(got), None) if got is not None else None
    return None


def _encode(insns: list[Insn]) -> bytes:
    """The program's bytes; a run of one repeated slot object is encoded once."""
    return b"".join(
        first.encode() * (1 + len(list(rest)))
        for first, rest in ((next(g), g) for _, g in groupby(insns, key=id))
    )
