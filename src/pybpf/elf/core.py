"""CO-RE: rewrite the instructions ``.BTF.ext`` marks, for the target kernel's types.

The btf package decides each relocation (:mod:`pybpf.btf.core`: the local spec, the
target candidates, libbpf's matching rules) and patches the instruction; this module
picks the target BTF (one given, pybpf's kernel BTF, or ``/sys/kernel/btf/vmlinux``),
walks the records of every program that will be loaded, and keeps a note of each
instruction that was poisoned (turned into a call of the unknown helper ``0xbad2310``,
which the verifier refuses only if it can reach it).
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BpfError
from ..isa.insn import Insn, decode, encode
from .spec import CorePoison, ObjectSpec, ProgramDef

if TYPE_CHECKING:
    from ..btf import Btf

VMLINUX_BTF = "/sys/kernel/btf/vmlinux"


def target_btf_for(given: Btf | str | Path | None, kernel: Any) -> Btf:
    """The BTF CO-RE relocates against: the one given, pybpf's kernel BTF, or the host's."""
    from ..btf import Btf
    from ..btf.files import load_file, load_vmlinux

    if isinstance(given, Btf):
        return given
    if given is not None:
        return load_file(given)
    kbtf = getattr(kernel, "btf", None)
    if isinstance(kbtf, Btf):
        return kbtf
    try:
        return load_vmlinux(VMLINUX_BTF)
    except BpfError as exc:
        raise BpfError(exc.errno, f"CO-RE needs a target BTF (pybpf.open(..., btf=...)): "
                       f"{exc.message}") from None  # fmt: skip


def _owner(spec: ObjectSpec, sec_name: str, insn: int) -> tuple[int, ProgramDef] | None:
    for i, p in enumerate(spec.programs):
        if p.elf_section == sec_name and p.sec_insn_off <= insn < p.sec_insn_off + p.sec_insn_cnt:
            return i, p
    return None


def apply_core(spec: ObjectSpec, target: Btf) -> tuple[dict[int, list[Insn]], list[CorePoison]]:
    """Every program's instructions with its CO-RE records applied (by program index),
    and the instructions that were poisoned."""
    try:
        from ..btf.core import CoreRelocator, CoreTarget, patch_insn
    except ImportError:  # pragma: no cover - only in a pybpf without the btf package's CO-RE
        raise BpfError(errno.EOPNOTSUPP, f"{spec.path}: CO-RE relocations need "
                       "pybpf.btf.core, which this pybpf lacks") from None  # fmt: skip

    ext = spec.btf_ext
    code: dict[int, list[Insn]] = {}
    poisoned: list[CorePoison] = []
    if ext is None or not ext.core_relos:
        return code, poisoned
    if spec.btf is None:
        raise BpfError(errno.EINVAL, f"{spec.path}: CO-RE relocations without .BTF")
    relocator = CoreRelocator(spec.btf, CoreTarget(target))
    raw: dict[int, bytearray] = {}
    for sec_name, relos in ext.core_relos.items():
        for n, relo in enumerate(relos):
            found = _owner(spec, sec_name, relo.insn)
            if found is None:
                continue
            idx, prog = found
            if not prog.autoload and not prog.is_subprog:
                continue
            relocator.prog_name = prog.name
            buf = raw.setdefault(idx, bytearray(encode(prog.insns)))
            local = relo.insn - prog.sec_insn_off
            try:
                res = relocator.resolve(relo, n).result
                patch_insn(buf, local, relo, res, prog.name, n)
            except BpfError as exc:
                raise BpfError(exc.errno, f"{spec.path}: {exc.message}") from None
            if res.poison or res.fail_memsz_adjust:
                why = "field access of the wrong size" if res.fail_memsz_adjust else \
                    f"no {relo.kind.label} target for [{relo.type_id}] {relo.access}"  # fmt: skip
                poisoned.append(CorePoison(prog.name, local, n, why))
    for idx, buf in raw.items():
        code[idx] = decode(bytes(buf))
    return code, poisoned
