"""``SEC(".struct_ops")`` and ``SEC(".struct_ops.link")`` variables: each is an ops
struct the object fills in (data members given, function pointers relocated to the
object's ``SEC("struct_ops/...")`` programs), which the loader turns into a struct_ops
map, as libbpf does.  This module only reads them; creating the maps and filling the
kernel's value is :mod:`pybpf.struct_ops.loader`'s job.

Also here: kfunc calls the linker left poisoned (pybpf's linker cannot resolve
``__ksym`` functions), bound to the FUNC ids of pybpf's kernel BTF by name.
"""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Sequence
from dataclasses import dataclass

from ..btf import Btf, Datasec, Ptr, Struct, Var, resolve_size
from ..btf.resolve import skip_modifiers
from ..btf.types import FuncProto
from ..errors import BpfError
from ..isa.insn import Insn
from ..isa.opcodes import PseudoCall
from .link import POISON_CALL_KFUNC_BASE
from .reader import ElfObject, read_elf
from .spec import Extern, ExternKind, ObjectSpec

SECTIONS = (".struct_ops", ".struct_ops.link")


@dataclass(frozen=True)
class LocalMember:
    """A member of the object's own declaration of the ops struct."""

    name: str
    offset: int
    size: int
    is_func: bool


@dataclass(frozen=True)
class StructOpsVar:
    """One ops variable: its bytes, its type's members, and which program each function
    pointer member was set to."""

    name: str
    section: str
    type_name: str
    data: bytes
    members: tuple[LocalMember, ...]
    programs: dict[str, str]
    """Member name -> program (function symbol) name."""

    @property
    def link(self) -> bool:
        """Declared in ``.struct_ops.link``: the map is created with ``BPF_F_LINK``."""
        return self.section == ".struct_ops.link"


def _members(btf: Btf, type_id: int) -> tuple[str, tuple[LocalMember, ...]]:
    t = btf[skip_modifiers(btf, type_id)]
    if not isinstance(t, Struct):
        raise BpfError(errno.EINVAL, f"struct_ops variable of type {btf.name_of(type_id)!r} is not a struct")
    out = []
    for m in t.members:
        mt = btf[skip_modifiers(btf, m.type)]
        is_func = isinstance(mt, Ptr) and isinstance(btf[skip_modifiers(btf, mt.type)], FuncProto)
        out.append(LocalMember(m.name, m.offset // 8, resolve_size(btf, m.type), is_func))
    return t.name, tuple(out)


def collect_struct_ops(raw: bytes | ElfObject, btf: Btf | None, path: str = "<memory>") -> list[StructOpsVar]:
    """Every struct_ops variable of the object (none without those sections)."""
    elf = raw if isinstance(raw, ElfObject) else read_elf(raw, path)
    out: list[StructOpsVar] = []
    for sec_name in SECTIONS:
        sec = elf.section_named(sec_name)
        if sec is None:
            continue
        if btf is None:
            raise BpfError(errno.EINVAL, f"{path}: {sec_name} needs the object's BTF")
        ds_id = btf.find_by_name_kind(sec_name, Datasec.kind)
        ds = btf[ds_id] if ds_id is not None else None
        if not isinstance(ds, Datasec):
            raise BpfError(errno.EINVAL, f"{path}: no DATASEC {sec_name} in BTF")
        relocs = elf.relocs_for(sec.index)
        for vi in ds.vars:
            var = btf[vi.type]
            assert isinstance(var, Var)
            type_name, members = _members(btf, var.type)
            progs: dict[str, str] = {}
            for r in relocs.relocs if relocs else ():
                if not vi.offset <= r.offset < vi.offset + vi.size:
                    continue
                moff = r.offset - vi.offset
                m = next((m for m in members if m.offset == moff), None)
                if m is None or not m.is_func:
                    raise BpfError(errno.EINVAL, f"{path}: struct_ops reloc {var.name}: cannot relocate "
                                   f"non func ptr at offset {moff}")  # fmt: skip
                sym = elf.symbol(r.sym)
                target = elf.section(sym.shndx).name if 0 < sym.shndx < len(elf.sections) else ""
                if not target.startswith("struct_ops"):
                    raise BpfError(errno.EINVAL, f"{path}: struct_ops reloc {var.name}: program "
                                   f"{sym.name} is not in a struct_ops section")  # fmt: skip
                progs[m.name] = elf.symbol_name(sym)
            out.append(StructOpsVar(var.name, sec_name, type_name, bytes(sec.data[vi.offset : vi.offset + vi.size]),
                                    members, progs))  # fmt: skip
    return out


def resolve_kfunc_calls(insns: Sequence[Insn], externs: Sequence[Extern]) -> list[Insn]:
    """Calls the linker poisoned for want of kernel symbols, bound by name to pybpf's
    kernel BTF (``call`` with ``src_reg`` ``BPF_PSEUDO_KFUNC_CALL``); ESRCH for a
    function pybpf's kernel does not have, as libbpf reports it."""
    from ..kernel.vmlinux import kfunc

    out = list(insns)
    for i, insn in enumerate(out):
        if insn.code != 0x85 or insn.src != 0 or not 0 <= insn.imm - POISON_CALL_KFUNC_BASE < len(externs):
            continue
        ext = externs[insn.imm - POISON_CALL_KFUNC_BASE]
        if ext.kind != ExternKind.KSYM or not ext.is_func:
            continue
        desc = kfunc(ext.name)
        if desc is None:
            if ext.weak:
                continue
            raise BpfError(errno.ESRCH, f"extern (func ksym) '{ext.name}': not found in kernel")
        out[i] = dataclasses.replace(insn, src=int(PseudoCall.KFUNC_CALL), imm=desc.func_id)
    return out




def struct_ops_attach(spec: ObjectSpec, path: str, prog: str, insns: Sequence[Insn]) -> tuple[list[Insn], str]:
    """A struct_ops program as the verifier takes it: kfunc calls bound, and the
    ``ops:member`` its object's variables attach it to (empty when none does, or the
    object's bytes cannot be read again)."""
    out = resolve_kfunc_calls(insns, spec.externs)
    try:
        with open(path, "rb") as f:
            raw = f.read()
        svars = collect_struct_ops(raw, spec.btf, path)
    except (OSError, BpfError):
        return out, ""
    for var in svars:
        for member, pname in var.programs.items():
            if pname == prog:
                return out, f"{var.type_name}:{member}"
    return out, ""


__all__ = ["SECTIONS", "LocalMember", "StructOpsVar", "collect_struct_ops", "resolve_kfunc_calls", "struct_ops_attach"]
