"""Linking one entry point: append the subprograms it calls, relocate every reference.

For each entry program, every ``.text`` function reachable through a bpf-to-bpf call or a
callback address (``lddw`` of a function, which becomes ``BPF_PSEUDO_FUNC``) is copied
once after the program, in the order the calls are met (depth first, as libbpf does);
call and callback immediates are rewritten to the copy's position, and the function and
line info of every piece is appended with its new instruction offsets.  Then map and
global-data references become ``BPF_PSEUDO_MAP_IDX`` / ``BPF_PSEUDO_MAP_IDX_VALUE``
naming the object's maps by index, and ``.kconfig`` / ``.ksyms`` references are resolved.
"""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from ..btf.ext import FuncInfo, LineInfo
from ..errors import BpfError
from ..isa.insn import Insn
from ..isa.opcodes import OPCODE_LDDW, PseudoCall, PseudoLdImm64
from .spec import (
    CorePoison,
    ExternKind,
    LinkedProgram,
    ObjectSpec,
    ProgramDef,
    Relocation,
    RelocKind,
)

CALL = 0x85
POISON_LDIMM64_MAP_BASE = 2001000000
POISON_CALL_KFUNC_BASE = 2002000000


def _is_subprog_call(insn: Insn) -> bool:
    return (insn.code == CALL and insn.src == PseudoCall.CALL and insn.dst == 0
            and insn.off == 0)  # fmt: skip


def _is_pseudo_func(insn: Insn) -> bool:
    return insn.code == OPCODE_LDDW and insn.src == PseudoLdImm64.FUNC


@dataclass
class _Piece:
    prog: ProgramDef
    sub_insn_off: int


@dataclass
class _Linker:
    spec: ObjectSpec
    main: ProgramDef
    code: dict[int, list[Insn]]
    """Per program (by index in spec.programs) the instructions to use (CO-RE patched)."""
    insns: list[Insn] = field(default_factory=list)
    placed: dict[int, int] = field(default_factory=dict)
    pieces: list[_Piece] = field(default_factory=list)
    relocs: list[Relocation] = field(default_factory=list)
    func_info: list[FuncInfo] | None = None
    line_info: list[LineInfo] | None = None

    def fail(self, message: str, err: int = errno.EINVAL) -> BpfError:
        return BpfError(err, f"{self.spec.path}: prog '{self.main.name}': {message}")

    def index_of(self, prog: ProgramDef) -> int:
        return next(i for i, p in enumerate(self.spec.programs) if p is prog)

    def source(self, prog: ProgramDef) -> list[Insn]:
        return self.code.get(self.index_of(prog), prog.insns)

    def append(self, prog: ProgramDef) -> int:
        off = len(self.insns)
        self.placed[self.index_of(prog)] = off
        self.insns += self.source(prog)
        self.pieces.append(_Piece(prog, off))
        self.relocs += [dataclasses.replace(r, insn_idx=r.insn_idx + off) for r in prog.relocs]
        return off

    def find_text_prog(self, sec_insn: int) -> ProgramDef | None:
        text = next((p.sec_idx for p in self.spec.programs if p.is_subprog), None)
        for p in self.spec.programs:
            if p.sec_idx == text and p.sec_insn_off <= sec_insn < p.sec_insn_off + p.sec_insn_cnt:
                return p
        return None

    # -- .BTF.ext records --------------------------------------------------------------
    def add_ext_info(self, prog: ProgramDef, off: int) -> None:
        ext = self.spec.btf_ext
        if ext is None:
            return
        is_main = prog is self.main
        if is_main or self.func_info is not None:
            fi = _ext_records(prog, off, ext.func_info)
            if fi is None:
                if self.func_info is not None:
                    raise self.fail(f"missing .BTF.ext function info for '{prog.name}'")
            else:
                self.func_info = [*(self.func_info or []), *fi]
        if is_main or self.line_info is not None:
            li = _ext_records(prog, off, ext.line_info)
            if li is None:
                if self.line_info is not None:
                    raise self.fail(f"missing .BTF.ext line info for '{prog.name}'")
            else:
                self.line_info = [*(self.line_info or []), *li]

    # -- calls -------------------------------------------------------------------------
    def reloc_code(self, prog: ProgramDef) -> None:
        base = self.placed[self.index_of(prog)]
        self.add_ext_info(prog, base)
        by_insn = {r.insn_idx: r for r in prog.relocs}
        for local in range(prog.sec_insn_cnt):
            idx = base + local
            insn = self.insns[idx]
            if not _is_subprog_call(insn) and not _is_pseudo_func(insn):
                continue
            relo = by_insn.get(local)
            if relo is not None and relo.kind == RelocKind.EXTERN_CALL:
                continue
            if relo is not None and relo.kind not in (RelocKind.CALL, RelocKind.SUBPROG_ADDR):
                raise self.fail(f"unexpected relo for insn #{local}, type {relo.kind.value}")
            if relo is not None:
                if relo.kind == RelocKind.CALL:
                    target = relo.sym_off // 8 + insn.imm + 1
                else:
                    target = (relo.sym_off + insn.imm) // 8
            elif _is_pseudo_func(insn):
                raise self.fail(f"missing subprog addr relo for insn #{local}")
            else:
                target = prog.sec_insn_off + local + insn.imm + 1
            sub = self.find_text_prog(target)
            if sub is None:
                raise self.fail("no .text section found yet sub-program call exists")
            sub_idx = self.index_of(sub)
            if sub_idx not in self.placed:
                self.append(sub)
                self.reloc_code(sub)
            new_imm = self.placed[sub_idx] - idx - 1
            self.insns[idx] = dataclasses.replace(self.insns[idx], imm=new_imm)


R = TypeVar("R", FuncInfo, LineInfo)


def _ext_records(prog: ProgramDef, off: int, table: Mapping[str, Sequence[R]]) -> list[R] | None:
    """The records of ``prog``'s instructions (byte offsets in its section) moved to
    instruction indices from where it now starts (``off``); None when it has none
    (libbpf then drops the whole kind for the program)."""
    recs = table.get(prog.elf_section)
    if not recs:
        return None
    lo, hi = prog.sec_insn_off, prog.sec_insn_off + prog.sec_insn_cnt
    chosen = [r for r in recs if lo <= r.insn < hi]
    if not chosen:
        return None
    return [r.moved(r.insn + off - lo) for r in chosen]


def _relocate_data(link: _Linker, kconfig_idx: int) -> list[int]:
    """Map, global-data and extern references; the map indices the program uses."""
    spec = link.spec
    insns = link.insns
    used: list[int] = []

    def use(i: int) -> None:
        if i not in used:
            used.append(i)

    for r in link.relocs:
        i = r.insn_idx
        insn = insns[i]
        if r.kind == RelocKind.LD64:
            insns[i] = dataclasses.replace(insn, src=PseudoLdImm64.MAP_IDX, imm=r.map_idx)
            use(r.map_idx)
        elif r.kind == RelocKind.DATA:
            insns[i + 1] = dataclasses.replace(insns[i + 1], imm=_s32(insn.imm + r.sym_off))
            insns[i] = dataclasses.replace(insn, src=PseudoLdImm64.MAP_IDX_VALUE, imm=r.map_idx)
            use(r.map_idx)
        elif r.kind == RelocKind.EXTERN_LD64:
            ext = spec.externs[r.ext_idx]
            if ext.kind == ExternKind.KCONFIG:
                insns[i] = dataclasses.replace(insn, src=PseudoLdImm64.MAP_IDX_VALUE, imm=kconfig_idx)
                insns[i + 1] = dataclasses.replace(insns[i + 1], imm=ext.data_off)
                use(kconfig_idx)
            else:  # an unresolved (weak) ksym reads as address 0
                insns[i] = dataclasses.replace(insn, imm=0)
                insns[i + 1] = dataclasses.replace(insns[i + 1], imm=0)
        elif r.kind == RelocKind.EXTERN_CALL:
            # kernel functions: pybpf's kernel has no BTF to resolve them, so a weak one is
            # poisoned as libbpf does with kfuncs it cannot find
            insns[i] = Insn(CALL, 0, 0, 0, POISON_CALL_KFUNC_BASE + r.ext_idx)
        elif r.kind == RelocKind.SUBPROG_ADDR and insns[i].src != PseudoLdImm64.FUNC:
            raise link.fail(f"relo for insn #{i}: bad insn")
    return used


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def mark_pseudo_funcs(spec: ObjectSpec, code: dict[int, list[Insn]]) -> None:
    """Give every ``lddw`` of a function ``src_reg = BPF_PSEUDO_FUNC`` before linking."""
    for idx, prog in enumerate(spec.programs):
        for r in prog.relocs:
            if r.kind != RelocKind.SUBPROG_ADDR:
                continue
            insns = code.setdefault(idx, list(prog.insns))
            insns[r.insn_idx] = dataclasses.replace(insns[r.insn_idx], src=PseudoLdImm64.FUNC)


def link_program(spec: ObjectSpec, prog: ProgramDef, code: dict[int, list[Insn]] | None = None,
                 poisoned: Sequence[CorePoison] = ()) -> LinkedProgram:  # fmt: skip
    """The instructions ``prog`` is loaded with, subprograms appended and relocated.

    ``code`` holds per-program instruction lists that replace the section's (CO-RE
    patched, pseudo-func marked); it is not modified.
    """
    if prog.is_subprog:
        raise BpfError(errno.EINVAL, f"{spec.path}: '{prog.name}' is a subprogram in .text, not "
                       "an entry point")  # fmt: skip
    code = dict(code or {})
    mark_pseudo_funcs(spec, code)
    link = _Linker(spec, prog, code)
    link.append(prog)
    link.reloc_code(prog)
    used = _relocate_data(link, spec.kconfig_map_idx)
    subprogs = tuple((p.prog.name, p.sub_insn_off) for p in link.pieces[1:])
    # CO-RE poison records of every piece, at their linked positions
    moved = [dataclasses.replace(p, insn_idx=p.insn_idx + piece.sub_insn_off)
             for piece in link.pieces for p in poisoned if p.prog == piece.prog.name]
    return LinkedProgram(
        name=prog.name, section=prog.section, prog_type=prog.prog_type,
        expected_attach_type=prog.expected_attach_type, insns=tuple(link.insns),
        map_indices=tuple(used), func_info=tuple(link.func_info or ()),
        line_info=tuple(link.line_info or ()), prog_flags=prog.prog_flags,
        attach_target=prog.attach_target, subprogs=subprogs,
        core_poisoned=tuple(moved),
    )  # fmt: skip
