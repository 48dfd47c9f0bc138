"""Opening an object: from ELF bytes to an :class:`ObjectSpec`, in libbpf's order.

Sections are sorted out first (programs, data, maps, BTF, relocations; debug info and
unknown sections are skipped), then BTF is read and fixed up, externs are collected,
maps are defined (``.maps``, the legacy ``maps`` section, global data, ``.kconfig``),
programs get their types from their section names, and relocations are recorded against
programs and maps.  Nothing is created in a kernel here.
"""

from __future__ import annotations

import errno
import os
import struct
from dataclasses import dataclass, field

from ..btf import Btf, Datasec, Func, FuncLinkage, Var, VarLinkage
from ..btf.ext import BtfExt, parse_ext
from ..errors import BpfError
from ..isa.insn import decode
from ..isa.opcodes import OPCODE_LDDW, PseudoCall
from .btfview import align_of, fixup_datasecs, load_object_btf, resolve_size, skip_modifiers
from .mapdefs import (
    collect_btf_maps,
    collect_legacy_maps,
    data_section_origin,
    make_internal_map,
)
from .reader import (
    SHN_LORESERVE,
    SHT_LLVM_ADDRSIG,
    SHT_NOBITS,
    SHT_PROGBITS,
    SHT_REL,
    SHT_STRTAB,
    SHT_SYMTAB,
    STB_GLOBAL,
    STB_LOCAL,
    STB_WEAK,
    STT_FUNC,
    STT_SECTION,
    STV_HIDDEN,
    STV_INTERNAL,
    ElfObject,
    Reloc,
    RelocTable,
    Symbol,
    read_elf,
)
from .sections import find_sec_def, split_autoload
from .spec import (
    Extern,
    ExternKind,
    MapDef,
    MapOrigin,
    ObjectSpec,
    ProgramDef,
    Relocation,
    RelocKind,
    Variable,
)

INSN_SIZE = 8
ARENA_SEC = ".addr_space.1"
BPF_OBJ_NAME_LEN = 16
CALL = 0x85  # BPF_JMP | BPF_CALL


@dataclass
class _Sections:
    license: str = ""
    kern_version: int = 0
    text_shndx: int = 0
    maps_shndx: int = -1
    legacy_maps_shndx: int = -1
    btf: bytes | None = None
    btf_ext: bytes | None = None
    data: list[int] = field(default_factory=list)
    relos: list[RelocTable] = field(default_factory=list)
    programs: list[ProgramDef] = field(default_factory=list)


def object_name(path: str) -> str:
    """libbpf's object name: the file's base name cut at the first dot, 15 characters."""
    base = os.path.basename(path)[: BPF_OBJ_NAME_LEN - 1]
    return base.split(".", 1)[0]


def _is_dwarf(name: str) -> bool:
    return name.startswith(".debug_")


def _ignored(sec_type: int, name: str, size: int) -> bool:
    if sec_type in (SHT_STRTAB, SHT_LLVM_ADDRSIG):
        return True
    if sec_type == SHT_PROGBITS and size == 0 and name == ".text":
        return True
    if _is_dwarf(name):
        return True
    if name.startswith(".rel"):
        rest = name[4:]
        if _is_dwarf(rest) or rest in (".BTF", ".BTF.ext"):
            return True
    return False


def _collect_sections(elf: ElfObject) -> _Sections:
    out = _Sections()
    for sec in elf.sections[1:]:
        name = sec.name
        if _ignored(sec.type, name, sec.size):
            continue
        if name == "license":
            out.license = sec.data.split(b"\0", 1)[0][:63].decode("latin-1")
        elif name == "version":
            if len(sec.data) != 4:
                raise elf.error("invalid kver section")
            out.kern_version = struct.unpack("<I", sec.data)[0]
        elif name == "maps":
            out.legacy_maps_shndx = sec.index
        elif name == ".maps":
            out.maps_shndx = sec.index
        elif name in (".BTF", ".BTF.ext"):
            if sec.type != SHT_PROGBITS:
                raise elf.error(f"section {name} is not PROGBITS")
            if name == ".BTF":
                out.btf = sec.data
            else:
                out.btf_ext = sec.data
        elif sec.type == SHT_SYMTAB:
            pass
        elif sec.type == SHT_PROGBITS and sec.size > 0:
            if sec.is_exec:
                if name == ".text":
                    out.text_shndx = sec.index
                out.programs += _add_programs(elf, sec.index)
            elif data_section_origin(name, False) is not None:
                out.data.append(sec.index)
            # .struct_ops, .addr_space.1 and anything else: not handled here
        elif sec.type == SHT_REL:
            target = elf.section(sec.info)
            if target.is_exec or name == ".rel.maps":
                table = next(t for t in elf.reloc_tables if t.section.index == sec.index)
                out.relos.append(table)
        elif sec.type == SHT_NOBITS and data_section_origin(name, True) is not None:
            out.data.append(sec.index)
    return out


def _add_programs(elf: ElfObject, shndx: int) -> list[ProgramDef]:
    """One program per function symbol of an executable section."""
    sec = elf.section(shndx)
    raw_name = sec.name
    progs = []
    for sym in elf.symbols:
        if sym.shndx != shndx or sym.type != STT_FUNC:
            continue
        off, size = sym.value, sym.size
        if off + size > sec.size:
            raise elf.error(f"sec '{raw_name}': program at offset {off} crosses section boundary")
        if raw_name != ".text" and sym.bind == STB_LOCAL:
            raise elf.error(f"sec '{raw_name}': program '{sym.name}' is static and not supported",
                            errno.EOPNOTSUPP)  # fmt: skip
        if size == 0 or size % INSN_SIZE or off % INSN_SIZE:
            raise elf.error(f"sec '{raw_name}': corrupted program '{sym.name}', offset {off}, "
                            f"size {size}")  # fmt: skip
        section, autoload = split_autoload(raw_name)
        prog = ProgramDef(sym.name, section, shndx, off // INSN_SIZE,
                          decode(sec.data[off : off + size]), autoload, raw_name)  # fmt: skip
        prog.sym_global = sym.bind != STB_LOCAL
        prog.mark_btf_static = prog.sym_global and sym.visibility in (STV_HIDDEN, STV_INTERNAL)
        progs.append(prog)
    return progs


# --- externs ----------------------------------------------------------------------------


def _find_extern_btf_id(btf: Btf, name: str) -> int:
    for type_id in btf.find_by_name(name):
        t = btf[type_id]
        if isinstance(t, Var):
            if t.linkage != VarLinkage.GLOBAL_EXTERN:
                raise BpfError(errno.EINVAL, f"BTF for extern '{name}' is not an extern VAR")
            return type_id
        if isinstance(t, Func):
            if t.linkage != FuncLinkage.EXTERN:
                raise BpfError(errno.EINVAL, f"BTF for extern '{name}' is not an extern FUNC")
            return type_id
    raise BpfError(errno.ENOENT, f"failed to find BTF for extern '{name}'")


def _extern_section(btf: Btf, type_id: int) -> Datasec | None:
    for sid in btf.own_ids():
        t = btf[sid]
        if isinstance(t, Datasec) and any(v.type == type_id for v in t.vars):
            return t
    return None


def _kcfg_type(btf: Btf, type_id: int) -> tuple[str, bool]:
    """(kind, signed) of a kconfig extern's type, as libbpf classifies them."""
    from ..btf import Array, Enum, Enum64, Int, IntEncoding

    t = btf[skip_modifiers(btf, type_id)]
    if isinstance(t, Int):
        if t.encoding & IntEncoding.BOOL:
            return ("bool" if t.size == 1 else "", False)
        signed = bool(t.encoding & IntEncoding.SIGNED)
        if t.size == 1:
            return "char", signed
        if t.size not in (2, 4, 8):
            return "", signed
        return "int", signed
    if isinstance(t, Enum | Enum64):
        if t.name != "libbpf_tristate" or (isinstance(t, Enum) and t.size != 4):
            return "", False
        return "tristate", False
    if isinstance(t, Array) and t.nelems and _kcfg_type(btf, t.type)[0] == "char":
        return "char_arr", False
    return "", False


def _collect_externs(elf: ElfObject, btf: Btf | None) -> list[Extern]:
    out: list[Extern] = []
    for sym in elf.symbols:
        if not sym.is_extern:
            continue
        if btf is None:
            raise elf.error(f"extern '{sym.name}' needs BTF, and the object has none", errno.ENOENT)
        try:
            btf_id = _find_extern_btf_id(btf, sym.name)
        except BpfError as exc:
            raise elf.error(exc.message, exc.errno) from None
        t = btf[btf_id]
        sec = _extern_section(btf, btf_id)
        if sec is None:
            raise elf.error(f"failed to find BTF for extern '{sym.name}' [{btf_id}] section",
                            errno.ENOENT)  # fmt: skip
        weak = sym.bind == STB_WEAK
        if sec.name == ".kconfig":
            if isinstance(t, Func):
                raise elf.error(f"extern function {sym.name} is unsupported under .kconfig",
                                errno.EOPNOTSUPP)  # fmt: skip
            assert isinstance(t, Var)
            size = resolve_size(btf, t.type)
            kind, signed = _kcfg_type(btf, t.type)
            if not kind:
                raise elf.error(f"extern (kcfg) '{sym.name}': type is unsupported", errno.EOPNOTSUPP)
            out.append(Extern(t.name, ExternKind.KCONFIG, sym.index, btf_id, weak, False, size,
                              align_of(btf, t.type), 0, kind, signed))  # fmt: skip
        elif sec.name == ".ksyms":
            out.append(Extern(t.name, ExternKind.KSYM, sym.index, btf_id, weak,
                              isinstance(t, Func)))  # fmt: skip
        else:
            raise elf.error(f"unrecognized extern section '{sec.name}'", errno.EOPNOTSUPP)
    # kconfig first, by descending alignment, then ascending size, then name; ksyms by name
    out.sort(key=lambda e: (e.kind != ExternKind.KCONFIG, -e.align if e.kind ==
                            ExternKind.KCONFIG else 0, e.size if e.kind == ExternKind.KCONFIG
                            else 0, e.name))  # fmt: skip
    off = 0
    for e in out:
        if e.kind == ExternKind.KCONFIG:
            e.data_off = (off + e.align - 1) // e.align * e.align
            off = e.data_off + e.size
    if btf is not None and any(e.kind == ExternKind.KCONFIG for e in out):
        _fixup_kconfig_datasec(elf, btf, out, off)
    return out


def _fixup_kconfig_datasec(elf: ElfObject, btf: Btf, externs: list[Extern], size: int) -> None:
    """Lay ``.kconfig`` out as its map holds it: each extern at its offset, allocated."""
    import dataclasses

    from .btfview import datasec_named

    found = datasec_named(btf, ".kconfig")
    if found is None:
        return
    sec_id, sec = found
    offsets = {e.name: e.data_off for e in externs if e.kind == ExternKind.KCONFIG}
    new_vars = []
    for vsi in sec.vars:
        var = btf[vsi.type]
        if not isinstance(var, Var) or var.name not in offsets:
            raise elf.error(f"failed to find extern definition for BTF var "
                            f"'{getattr(var, 'name', '?')}'", errno.ESRCH)  # fmt: skip
        btf.replace(vsi.type, dataclasses.replace(var, linkage=VarLinkage.GLOBAL_ALLOCATED))
        new_vars.append(dataclasses.replace(vsi, offset=offsets[var.name]))
    new_vars.sort(key=lambda v: v.offset)
    btf.replace(sec_id, dataclasses.replace(sec, size=size, vars=tuple(new_vars)))


def _mark_func_static(btf: Btf, name: str) -> None:
    """A hidden global function is verified as a static one: its BTF FUNC says so."""
    import dataclasses

    type_id = btf.find_by_name_kind(name, Func.kind)
    if type_id is not None:
        f = btf[type_id]
        assert isinstance(f, Func)
        btf.replace(type_id, dataclasses.replace(f, linkage=FuncLinkage.STATIC))


# --- relocations ------------------------------------------------------------------------


def _find_prog(progs: list[ProgramDef], shndx: int, insn_idx: int) -> ProgramDef | None:
    for p in progs:
        if p.sec_idx == shndx and p.sec_insn_off <= insn_idx < p.sec_insn_off + p.sec_insn_cnt:
            return p
    return None


def _sym_is_subprog(sym: Symbol, text_shndx: int) -> bool:
    if sym.shndx != text_shndx:
        return False
    if sym.bind == STB_LOCAL and sym.type == STT_SECTION:
        return True
    return sym.bind in (STB_GLOBAL, STB_WEAK) and sym.type == STT_FUNC


@dataclass
class _Ctx:
    elf: ElfObject
    secs: _Sections
    maps: list[MapDef]
    externs: list[Extern]
    data_origin: dict[int, MapOrigin]

    def fail(self, message: str) -> BpfError:
        return self.elf.error(message)


def _record_reloc(ctx: _Ctx, prog: ProgramDef, insn_idx: int, sym: Symbol, rel: Reloc,
                  sym_name: str) -> Relocation:  # fmt: skip
    insn = prog.insns[insn_idx]
    is_call = insn.code == CALL
    is_ld64 = insn.code == OPCODE_LDDW
    if not is_call and not is_ld64:
        raise ctx.fail(f"prog '{prog.name}': invalid relo against '{sym_name}' for "
                       f"insns[{insn_idx}].code {insn.code:#x}")  # fmt: skip
    if is_ld64 and insn_idx + 1 >= prog.sec_insn_cnt:
        raise ctx.fail(f"prog '{prog.name}': relo against '{sym_name}' on a truncated ldimm64 "
                       f"at insn {insn_idx}")  # fmt: skip
    if sym.is_extern:
        for i, ext in enumerate(ctx.externs):
            if ext.sym_idx == sym.index:
                kind = RelocKind.EXTERN_CALL if is_call else RelocKind.EXTERN_LD64
                return Relocation(kind, insn_idx, sym_name, ext_idx=i)
        raise ctx.fail(f"prog '{prog.name}': extern relo failed to find extern for '{sym_name}'")
    text = ctx.secs.text_shndx
    if is_call:
        if insn.src != PseudoCall.CALL:
            raise ctx.fail(f"prog '{prog.name}': incorrect bpf_call opcode")
        if not sym.shndx or sym.shndx != text:
            where = ctx.elf.section(sym.shndx).name if 0 < sym.shndx < len(ctx.elf.sections) \
                else "?"  # fmt: skip
            raise ctx.fail(f"prog '{prog.name}': bad call relo against '{sym_name}' in section "
                           f"'{where}'")  # fmt: skip
        if sym.value % INSN_SIZE:
            raise ctx.fail(f"prog '{prog.name}': bad call relo against '{sym_name}' at offset "
                           f"{sym.value}")  # fmt: skip
        return Relocation(RelocKind.CALL, insn_idx, sym_name, sym_off=sym.value)
    if not sym.shndx or sym.shndx >= SHN_LORESERVE:
        raise ctx.fail(f"prog '{prog.name}': invalid relo against '{sym_name}' in special section "
                       f"{sym.shndx:#x}; forgot to initialize global var?..")  # fmt: skip
    if _sym_is_subprog(sym, text):
        if sym.value % INSN_SIZE or insn.imm % INSN_SIZE:
            raise ctx.fail(f"prog '{prog.name}': bad subprog addr relo against '{sym_name}' at "
                           f"offset {sym.value}+{insn.imm}")  # fmt: skip
        return Relocation(RelocKind.SUBPROG_ADDR, insn_idx, sym_name, sym_off=sym.value)
    sec_name = ctx.elf.section(sym.shndx).name
    if sec_name == ARENA_SEC:
        raise ctx.elf.error(f"prog '{prog.name}': __arena global '{sym_name}': arena maps are not "
                            "supported by pybpf", errno.EOPNOTSUPP)  # fmt: skip
    origin = ctx.data_origin.get(sym.shndx)
    if origin is None:
        if sym.shndx not in (ctx.secs.maps_shndx, ctx.secs.legacy_maps_shndx):
            raise ctx.fail(f"prog '{prog.name}': bad map relo against '{sym_name}' in section "
                           f"'{sec_name}'")  # fmt: skip
        for idx, m in enumerate(ctx.maps):
            if not m.internal and m.sec_idx == sym.shndx and m.sec_offset == sym.value:
                return Relocation(RelocKind.LD64, insn_idx, sym_name, map_idx=idx)
        raise ctx.fail(f"prog '{prog.name}': map relo failed to find map for section "
                       f"'{sec_name}', off {sym.value}")  # fmt: skip
    for idx, m in enumerate(ctx.maps):
        if m.origin == origin and m.sec_idx == sym.shndx:
            return Relocation(RelocKind.DATA, insn_idx, sym_name, map_idx=idx, sym_off=sym.value)
    raise ctx.fail(f"prog '{prog.name}': data relo failed to find map for section '{sec_name}'")


def _collect_prog_relos(ctx: _Ctx, table: RelocTable) -> None:
    elf = ctx.elf
    target = elf.section(table.target)
    for n, rel in enumerate(table.relocs):
        sym = elf.symbol(rel.sym)
        if sym.shndx >= len(elf.sections) and sym.shndx < SHN_LORESERVE:
            raise ctx.fail(f"sec '{table.section.name}': corrupted symbol #{rel.sym} pointing to "
                           f"invalid section #{sym.shndx} for relo #{n}")  # fmt: skip
        if rel.offset % INSN_SIZE or rel.offset >= target.size:
            raise ctx.fail(f"sec '{table.section.name}': invalid offset {rel.offset:#x} for "
                           f"relo #{n}")  # fmt: skip
        if rel.type not in (1, 10, 0):
            raise ctx.fail(f"sec '{table.section.name}': relo #{n} has type {rel.type_name}, "
                           "which program code cannot take")  # fmt: skip
        insn_idx = rel.offset // INSN_SIZE
        name = elf.symbol_name(sym) or "<?"
        prog = _find_prog(ctx.secs.programs, table.target, insn_idx)
        if prog is None:
            continue  # code outside every function (an overridden weak one)
        prog.relocs.append(_record_reloc(ctx, prog, insn_idx - prog.sec_insn_off, sym, rel, name))


def _collect_map_relos(ctx: _Ctx, table: RelocTable, btf: Btf | None) -> None:
    """``.rel.maps``: the ``.values`` slots of map-in-map and program-array maps."""
    from ..btf import Struct
    from .mapdefs import MAP_IN_MAP

    elf = ctx.elf
    if btf is None:
        raise ctx.fail(".rel.maps without BTF")
    from .btfview import datasec_named

    found = datasec_named(btf, ".maps")
    if found is None:
        raise ctx.fail(".rel.maps without a .maps DATASEC")
    _, sec = found
    for n, rel in enumerate(table.relocs):
        sym = elf.symbol(rel.sym)
        name = sym.name or "<?>"
        owner = None
        for m in ctx.maps:
            if m.origin != MapOrigin.BTF:
                continue
            vsi = sec.vars[m.btf_var_idx]
            if vsi.offset <= rel.offset and rel.offset + 8 <= vsi.offset + vsi.size:
                owner = m
                break
        if owner is None:
            raise elf.error(f".maps relo #{n}: cannot find map '{name}' at offset {rel.offset}")
        mtype = owner.spec.type
        if mtype in MAP_IN_MAP:
            if sym.shndx != ctx.secs.maps_shndx:
                raise elf.error(f".maps relo #{n}: '{name}' isn't a BTF-defined map")
            if not any(m.name == name for m in ctx.maps):
                raise elf.error(f".maps relo #{n}: '{name}' isn't a valid map reference",
                                errno.ESRCH)  # fmt: skip
        elif mtype == 3:  # PROG_ARRAY
            targ = next((p for p in ctx.secs.programs if p.name == name), None)
            if targ is None:
                raise elf.error(f".maps relo #{n}: '{name}' isn't a valid program reference",
                                errno.ESRCH)  # fmt: skip
            if (targ.sec_idx != sym.shndx or targ.sec_insn_off * 8 != sym.value
                    or targ.is_subprog):  # fmt: skip
                raise elf.error(f".maps relo #{n}: '{name}' isn't an entry-point program")
        else:
            raise elf.error(f".maps relo #{n}: map '{owner.name}' cannot take initial values")
        vsi = sec.vars[owner.btf_var_idx]
        var = btf[vsi.type]
        assert isinstance(var, Var)
        def_t = btf[skip_modifiers(btf, var.type)]
        if not isinstance(def_t, Struct) or not def_t.members:
            raise elf.error(f".maps relo #{n}: map '{owner.name}' has no members")
        last = def_t.members[-1]
        if last.name != "values":
            raise elf.error(f".maps relo #{n}: map '{owner.name}' has no 'values' member")
        moff = last.offset // 8
        if rel.offset - vsi.offset < moff or (rel.offset - vsi.offset - moff) % 8:
            raise elf.error(f".maps relo #{n}: bad offset {rel.offset} in map '{owner.name}'")
        slot = (rel.offset - vsi.offset - moff) // 8
        if slot >= len(owner.init_slots):
            owner.init_slots += [None] * (slot + 1 - len(owner.init_slots))
        owner.init_slots[slot] = name


# --- the whole opening ------------------------------------------------------------------


def open_object(raw: bytes, path: str = "<memory>", name: str | None = None,
                strict_maps: bool = True) -> ObjectSpec:  # fmt: skip
    """Read an object file's bytes into an :class:`ObjectSpec` (nothing is created)."""
    elf = read_elf(raw, path)
    obj_name = name if name is not None else object_name(path)
    secs = _collect_sections(elf)
    btf: Btf | None = None
    ext: BtfExt | None = None
    # as libbpf: a broken .BTF or .BTF.ext is dropped (the programs load without it)
    # unless the object cannot do without BTF (maps defined in SEC(".maps"))
    needs_btf = secs.maps_shndx >= 0
    if secs.btf is not None:
        try:
            btf = load_object_btf(secs.btf, path)
            if secs.btf_ext is not None:
                try:
                    ext = parse_ext(secs.btf_ext, btf)
                except BpfError as exc:
                    if needs_btf:
                        raise elf.error(exc.message, exc.errno) from None
        except BpfError:
            if needs_btf:
                raise
            btf = None
    externs = _collect_externs(elf, btf)
    if btf is not None:
        fixup_datasecs(btf, elf)

    maps: list[MapDef] = []
    if secs.maps_shndx >= 0:
        if btf is None:
            raise elf.error("SEC(\".maps\") needs BTF, and the object has none", errno.ENOENT)
        maps += collect_btf_maps(elf, btf, secs.maps_shndx, strict_maps)
    if secs.legacy_maps_shndx >= 0:
        maps += collect_legacy_maps(elf, secs.legacy_maps_shndx)
    data_origin: dict[int, MapOrigin] = {}
    for shndx in secs.data:
        sec = elf.section(shndx)
        origin = data_section_origin(sec.name, sec.type == SHT_NOBITS)
        assert origin is not None
        data_origin[shndx] = origin
        if sec.size == 0:
            continue
        maps.append(make_internal_map(obj_name, origin, sec.name, shndx, sec.size,
                                      None if origin == MapOrigin.BSS else sec.data, btf, elf))
    kconfig_idx = -1
    kcfg = [e for e in externs if e.kind == ExternKind.KCONFIG]
    if kcfg:
        last = max(kcfg, key=lambda e: e.data_off)
        size = last.data_off + last.size
        m = make_internal_map(obj_name, MapOrigin.KCONFIG, ".kconfig", elf.symtab_index, size,
                              None, btf, elf)  # fmt: skip
        if not m.variables:
            m.variables = tuple(Variable(e.name, e.data_off, e.size, 0) for e in kcfg)
        kconfig_idx = len(maps)
        maps.append(m)

    for p in secs.programs:
        p.is_subprog = p.sec_idx == secs.text_shndx
        d = find_sec_def(p.section)
        p.sec_def = d
        if d is not None:
            p.prog_type = d.prog_type
            p.expected_attach_type = d.attach_type
        if p.mark_btf_static and btf is not None:
            _mark_func_static(btf, p.name)
    ctx = _Ctx(elf, secs, maps, externs, data_origin)
    for table in secs.relos:
        if table.target == secs.maps_shndx:
            _collect_map_relos(ctx, table, btf)
        else:
            _collect_prog_relos(ctx, table)
    progs = sorted(secs.programs, key=lambda p: (p.sec_idx, p.sec_insn_off))
    return ObjectSpec(obj_name, path, secs.license, secs.kern_version, progs, maps, btf, ext,
                      externs, kconfig_idx)  # fmt: skip


def open_file(path: str, name: str | None = None) -> ObjectSpec:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise BpfError(exc.errno or errno.EIO, f"{path}: {exc.strerror}") from None
    return open_object(raw, path, name)
