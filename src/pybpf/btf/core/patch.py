"""Applying a CO-RE decision to raw instructions, as libbpf patches them.

Works on the 8-byte little-endian encoding so that the btf package needs nothing
of :mod:`pybpf.isa`.  Supported: ALU/ALU64 with an immediate, LDX/ST/STX offsets
(adjusting the access size when the field size changed), and ``ldimm64``.
"""

from __future__ import annotations

import errno
import struct

from ...errors import BpfError
from ..ext import CoreRelo
from .relo import POISON_IMM, CoreResult

_CALL = 0x85  # BPF_JMP | BPF_CALL
_LDIMM64 = 0x18
_SIZES = {0x18: 8, 0x00: 4, 0x08: 2, 0x10: 1}  # BPF_DW, BPF_W, BPF_H, BPF_B
_SIZE_CODES = {v: k for k, v in _SIZES.items()}


def _fields(insns: bytearray, idx: int) -> tuple[int, int, int, int, int]:
    code, regs, off, imm = struct.unpack_from("<BBhi", insns, idx * 8)
    return code, regs & 0xF, regs >> 4, off, imm


def poison(insns: bytearray, idx: int) -> None:
    """Turn instruction ``idx`` into ``call 0xbad2310`` (both halves of an ldimm64)."""
    if insns[idx * 8] == _LDIMM64 and (idx + 1) * 8 < len(insns):
        struct.pack_into("<BBhi", insns, (idx + 1) * 8, _CALL, 0, 0, POISON_IMM)
    struct.pack_into("<BBhi", insns, idx * 8, _CALL, 0, 0, POISON_IMM)


def _poison(insns: bytearray, idx: int, p: str) -> list[str]:
    lines = []
    if insns[idx * 8] == _LDIMM64 and (idx + 1) * 8 < len(insns):
        lines.append(f"{p}substituting insn #{idx + 1} w/ invalid insn")
    lines.append(f"{p}substituting insn #{idx} w/ invalid insn")
    poison(insns, idx)
    return lines


def patch_insn(
    insns: bytearray, idx: int, relo: CoreRelo, res: CoreResult, prog: str = "", relo_idx: int = 0
) -> list[str]:
    """Patch instruction ``idx`` of ``insns`` in place; returns libbpf's log lines.

    ``BpfError`` (EINVAL, ERANGE) when the instruction is not what the compiler
    should have emitted for this relocation, as libbpf refuses the object then.
    """
    p = f"prog '{prog}': relo #{relo_idx}: "
    if idx * 8 + 8 > len(insns):
        raise BpfError(errno.EINVAL, f"{p}insn #{idx} is outside the program")
    if res.poison:
        return _poison(insns, idx, p)
    code, dst, src, off, imm = _fields(insns, idx)
    cls = code & 7
    if cls in (4, 7):  # ALU, ALU64
        if code & 0x08:
            raise BpfError(errno.EINVAL, f"{p}insn #{idx} (ALU/ALU64) does not take an immediate")
        if res.validate and (imm & 0xFFFFFFFFFFFFFFFF) != res.orig_val:
            raise BpfError(errno.EINVAL, f"{p}unexpected insn #{idx} (ALU/ALU64) value: got {imm & 0xFFFFFFFF}, "
                           f"exp {res.orig_val} -> {res.new_val}")  # fmt: skip
        new_imm = res.new_val & 0xFFFFFFFF
        struct.pack_into("<i", insns, idx * 8 + 4, new_imm - (1 << 32) if new_imm >> 31 else new_imm)
        return [f"{p}patched insn #{idx} (ALU/ALU64) imm {imm & 0xFFFFFFFFFFFFFFFF} -> {res.new_val}"]
    if cls in (1, 2, 3):  # LDX, ST, STX
        if res.validate and (off & 0xFFFFFFFFFFFFFFFF) != res.orig_val:
            raise BpfError(errno.EINVAL, f"{p}unexpected insn #{idx} (LDX/ST/STX) value: got {off & 0xFFFFFFFF}, "
                           f"exp {res.orig_val} -> {res.new_val}")  # fmt: skip
        if res.new_val > 0x7FFF:
            raise BpfError(errno.ERANGE, f"{p}insn #{idx} (LDX/ST/STX) value too big: {res.new_val}")
        if res.fail_memsz_adjust:
            return [
                f"{p}insn #{idx} (LDX/ST/STX) accesses field incorrectly. Make sure you are accessing "
                "pointers, unsigned integers, or fields of matching type and size.",
                *_poison(insns, idx, p),
            ]
        struct.pack_into("<h", insns, idx * 8 + 2, res.new_val)
        lines = [f"{p}patched insn #{idx} (LDX/ST/STX) off {off & 0xFFFFFFFFFFFFFFFF} -> {res.new_val}"]
        if res.new_sz != res.orig_sz:
            if _SIZES.get(code & 0x18) != res.orig_sz:
                raise BpfError(errno.EINVAL, f"{p}insn #{idx} (LDX/ST/STX) unexpected mem size: got "
                               f"{_SIZES.get(code & 0x18, -1)}, exp {res.orig_sz}")  # fmt: skip
            if res.new_sz not in _SIZE_CODES:
                raise BpfError(errno.EINVAL, f"{p}insn #{idx} (LDX/ST/STX) invalid new mem size: {res.new_sz}")
            insns[idx * 8] = (code & 0xE7) | _SIZE_CODES[res.new_sz]
            lines.append(f"{p}patched insn #{idx} (LDX/ST/STX) mem_sz {res.orig_sz} -> {res.new_sz}")
        return lines
    if code == _LDIMM64:
        if idx * 8 + 16 > len(insns):
            raise BpfError(errno.EINVAL, f"{p}insn #{idx} (LDIMM64) has unexpected form")
        code2, dst2, src2, off2, imm2 = _fields(insns, idx + 1)
        if src or off or code2 or dst2 or src2 or off2:
            raise BpfError(errno.EINVAL, f"{p}insn #{idx} (LDIMM64) has unexpected form")
        value = (imm & 0xFFFFFFFF) | ((imm2 & 0xFFFFFFFF) << 32)
        if res.validate and value != res.orig_val:
            raise BpfError(errno.EINVAL, f"{p}unexpected insn #{idx} (LDIMM64) value: got {value}, "
                           f"exp {res.orig_val} -> {res.new_val}")  # fmt: skip
        new = res.new_val & 0xFFFFFFFFFFFFFFFF
        struct.pack_into("<I", insns, idx * 8 + 4, new & 0xFFFFFFFF)
        struct.pack_into("<I", insns, idx * 8 + 12, new >> 32)
        return [f"{p}patched insn #{idx} (LDIMM64) imm64 {value} -> {res.new_val}"]
    raise BpfError(errno.EINVAL, f"{p}trying to relocate unrecognized insn #{idx}, code:0x{code:x}, "
                   f"src:0x{src:x}, dst:0x{dst:x}, off:0x{off & 0xFFFF:x}, imm:0x{imm & 0xFFFFFFFF:x}")  # fmt: skip
