"""CO-RE: rewrite the instructions ``.BTF.ext`` marks, for the kernel's types.

For each CO-RE record the btf package's resolver compares the local type (the object's
BTF) with the target's (pybpf's kernel BTF, a given BTF, or ``/sys/kernel/btf/vmlinux``)
and answers the value the instruction must hold: a field's offset, size or existence, a
type's id or size, an enum value.  This module puts the answer into the instruction as
libbpf does: the immediate of an ALU op or ``lddw``, the offset (and maybe the size) of a
load or store.  A record that cannot be resolved poisons its instruction: it becomes a
call of an unknown helper (``0xbad2310``) that the verifier refuses only if it is reached.
"""

from __future__ import annotations

import dataclasses
import errno
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..btf.ext import CoreRelo
from ..errors import BpfError
from ..isa.insn import Insn
from ..isa.opcodes import OPCODE_LDDW
from .spec import CorePoison, ObjectSpec

if TYPE_CHECKING:
    from ..btf import Btf

CORE_POISON_IMM = 0xBAD2310
CALL = 0x85
VMLINUX_BTF = "/sys/kernel/btf/vmlinux"

_SIZE_OF = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}  # BPF_W, BPF_H, BPF_B, BPF_DW
_SIZE_CODE = {4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18}


@dataclass(frozen=True)
class CoreResult:
    """What a CO-RE record resolves to (libbpf's ``bpf_core_relo_res``)."""

    orig_val: int
    new_val: int
    poison: bool = False
    validate: bool = True
    fail_memsz_adjust: bool = False
    orig_sz: int = 0
    new_sz: int = 0
    orig_type_id: int = 0
    new_type_id: int = 0
    reason: str = ""


def target_btf_for(given: Btf | str | Path | None, kernel: Any) -> Btf:
    """The BTF CO-RE relocates against: the one given, pybpf's kernel BTF, or the host's."""
    from ..btf import Btf, parse

    if isinstance(given, Btf):
        return given
    path = given
    if path is None:
        kbtf = getattr(kernel, "btf", None)
        if isinstance(kbtf, Btf):
            return kbtf
        path = VMLINUX_BTF
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise BpfError(exc.errno or errno.ENOENT, f"CO-RE target BTF {path}: {exc.strerror}") from None
    return parse(raw, lazy=True)


def _resolver() -> Any:
    """The btf package's CO-RE resolver (``calc_relo(local, relo, target)``)."""
    try:
        mod = importlib.import_module("pybpf.btf.core")
    except ImportError:
        mod = None
    fn = getattr(mod, "calc_relo", None) if mod is not None else None
    if fn is None:
        raise BpfError(errno.EOPNOTSUPP, "CO-RE relocations need pybpf.btf's resolver, which "
                       "this pybpf does not have yet")  # fmt: skip
    return fn


def _poison(insns: list[Insn], idx: int) -> None:
    count = 2 if insns[idx].code == OPCODE_LDDW and idx + 1 < len(insns) else 1
    for i in range(idx, idx + count):
        insns[i] = Insn(CALL, 0, 0, 0, CORE_POISON_IMM)


def patch_insn(insns: list[Insn], idx: int, res: CoreResult, where: str) -> bool:
    """Apply one resolved record to ``insns[idx]``; True when it was poisoned."""
    insn = insns[idx]
    cls = insn.code & 0x07

    def bad(why: str) -> BpfError:
        return BpfError(errno.EINVAL, f"{where}: {why}")

    if cls in (0x04, 0x07):  # ALU, ALU64
        if insn.code & 0x08:
            raise bad(f"trying to relocate unrecognized insn #{idx}, code:{insn.code:#x}")
        if res.poison:
            _poison(insns, idx)
            return True
        if res.validate and (insn.imm & 0xFFFFFFFF) != (res.orig_val & 0xFFFFFFFF):
            raise bad(f"unexpected insn #{idx} (ALU/ALU64) value: got {insn.imm}, exp "
                      f"{res.orig_val} -> {res.new_val}")  # fmt: skip
        insns[idx] = dataclasses.replace(insn, imm=_s32(res.new_val))
        return False
    if cls in (0x01, 0x02, 0x03):  # LDX, ST, STX
        if res.poison:
            _poison(insns, idx)
            return True
        if res.validate and insn.off != res.orig_val:
            raise bad(f"unexpected insn #{idx} (LDX/ST/STX) value: got {insn.off}, exp "
                      f"{res.orig_val} -> {res.new_val}")  # fmt: skip
        if res.new_val > 0x7FFF:
            raise BpfError(errno.ERANGE, f"{where}: insn #{idx} (LDX/ST/STX) value too big: "
                           f"{res.new_val}")  # fmt: skip
        if res.fail_memsz_adjust:
            _poison(insns, idx)
            return True
        new = dataclasses.replace(insn, off=res.new_val)
        if res.new_sz != res.orig_sz:
            if _SIZE_OF.get(insn.code & 0x18) != res.orig_sz:
                raise bad(f"insn #{idx} (LDX/ST/STX) unexpected mem size: got "
                          f"{_SIZE_OF.get(insn.code & 0x18)}, exp {res.orig_sz}")  # fmt: skip
            if res.new_sz not in _SIZE_CODE:
                raise bad(f"insn #{idx} (LDX/ST/STX) invalid new mem size: {res.new_sz}")
            new = dataclasses.replace(new, code=(insn.code & 0xE7) | _SIZE_CODE[res.new_sz])
        insns[idx] = new
        return False
    if cls == 0x00:  # LD
        nxt = insns[idx + 1] if idx + 1 < len(insns) else None
        if (insn.code != OPCODE_LDDW or insn.src or insn.off or nxt is None or nxt.code
                or nxt.dst or nxt.src or nxt.off):  # fmt: skip
            raise bad(f"insn #{idx} (LDIMM64) has unexpected form")
        if res.poison:
            _poison(insns, idx)
            return True
        imm = (insn.imm & 0xFFFFFFFF) | (nxt.imm & 0xFFFFFFFF) << 32
        if res.validate and imm != res.orig_val:
            raise bad(f"unexpected insn #{idx} (LDIMM64) value: got {imm}, exp {res.orig_val} -> "
                      f"{res.new_val}")  # fmt: skip
        insns[idx] = dataclasses.replace(insn, imm=_s32(res.new_val))
        insns[idx + 1] = dataclasses.replace(nxt, imm=_s32(res.new_val >> 32))
        return False
    raise bad(f"trying to relocate unrecognized insn #{idx}, code:{insn.code:#x}")


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def apply_core(spec: ObjectSpec, target: Btf) -> tuple[dict[int, list[Insn]], list[CorePoison]]:
    """Every program's instructions with its CO-RE records applied, and what was poisoned."""
    ext = spec.btf_ext
    code: dict[int, list[Insn]] = {}
    poisoned: list[CorePoison] = []
    if ext is None or not ext.core_relos or spec.btf is None:
        return code, poisoned
    calc = _resolver()
    for sec_name, relos in ext.core_relos.items():
        for n, relo in enumerate(relos):
            found = _owner(spec, sec_name, relo)
            if found is None:
                continue
            idx, prog = found
            if not prog.autoload and not prog.is_subprog:
                continue
            local = relo.insn - prog.sec_insn_off
            insns = code.setdefault(idx, list(prog.insns))
            where = f"{spec.path}: prog '{prog.name}': relo #{n}"
            try:
                res = calc(spec.btf, relo, target)
            except BpfError as exc:
                raise BpfError(exc.errno, f"{where}: {exc.message}") from None
            if patch_insn(insns, local, res, where):
                poisoned.append(CorePoison(prog.name, local, n, res.reason or "unresolved"))
    return code, poisoned


def _owner(spec: ObjectSpec, sec_name: str, relo: CoreRelo) -> tuple[int, Any] | None:
    for i, p in enumerate(spec.programs):
        if p.elf_section == sec_name and \
                p.sec_insn_off <= relo.insn < p.sec_insn_off + p.sec_insn_cnt:  # fmt: skip
            return i, p
    return None
