"""The loader's view of the object's BTF: parse it, fix it up as libbpf does, and answer
the few questions maps and global data ask.

Everything the loader needs from :mod:`pybpf.btf` goes through here, so the rest of
``pybpf.elf`` does not depend on that package's internals.  Clang leaves a DATASEC's size
and its global variables' offsets at zero; they are filled in from the ELF section sizes
and the symbols, and hidden globals become static, before anything reads them.
"""

from __future__ import annotations

import dataclasses
import errno
from typing import TYPE_CHECKING

from ..btf import (
    Array,
    Btf,
    BtfType,
    Datasec,
    Enum,
    Enum64,
    Float,
    Int,
    Kind,
    Ptr,
    Struct,
    TypeTag,
    Union,
    Var,
    VarLinkage,
)
from ..btf import parse as parse_btf
from ..btf.resolve import align_of, resolve_size, skip_modifiers
from ..errors import BpfError
from ..maps.btfinfo import BtfKind, BtfMember, MapBtf, SpecialField
from ..maps.btfinfo import BtfType as MapBtfType
from .reader import STB_GLOBAL, STB_WEAK, STT_OBJECT, STV_HIDDEN, STV_INTERNAL

if TYPE_CHECKING:
    from .reader import ElfObject

__all__ = [
    "Btf",
    "align_of",
    "datasec_named",
    "fixup_datasecs",
    "load_object_btf",
    "map_btf",
    "resolve_size",
    "skip_modifiers",
]

KCONFIG_SEC = ".kconfig"
KSYMS_SEC = ".ksyms"


def load_object_btf(raw: bytes, label: str) -> Btf:
    """Parse ``.BTF``; a malformed one is one line naming the object."""
    try:
        return parse_btf(raw)
    except BpfError as exc:
        raise BpfError(exc.errno, f"{label}: .BTF: {exc.message}") from None
    except (ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
        raise BpfError(errno.EINVAL, f"{label}: .BTF is corrupt ({exc})") from None


def datasec_named(btf: Btf, name: str) -> tuple[int, Datasec] | None:
    type_id = btf.find_by_name_kind(name, Kind.DATASEC)
    if type_id is None:
        return None
    t = btf[type_id]
    assert isinstance(t, Datasec)
    return type_id, t


def _elf_var_symbol(elf: ElfObject, name: str) -> tuple[int, int] | None:
    """(value, visibility) of the global or weak data symbol ``name``."""
    for s in elf.symbols:
        if s.type == STT_OBJECT and s.bind in (STB_GLOBAL, STB_WEAK) and s.name == name:
            return s.value, s.visibility
    return None


def fixup_datasecs(btf: Btf, elf: ElfObject) -> None:
    """Give every DATASEC its ELF section's size and its variables their symbol offsets,
    mark hidden globals static, and sort variables by offset."""
    for type_id in list(btf.own_ids()):
        if btf.kind(type_id) != Kind.DATASEC:
            continue
        sec = btf[type_id]
        assert isinstance(sec, Datasec)
        if sec.name in (KCONFIG_SEC, KSYMS_SEC):
            continue
        size = sec.size
        fix_offsets = False
        if size == 0:
            elf_sec = elf.section_named(sec.name)
            if elf_sec is None or elf_sec.size == 0:
                raise elf.error(f"BTF DATASEC {sec.name!r} has no ELF section to take its size "
                                "from", errno.ENOENT)  # fmt: skip
            size = elf_sec.size
            fix_offsets = True
        new_vars = []
        for vsi in sec.vars:
            var = btf[vsi.type]
            if not isinstance(var, Var):
                raise elf.error(f"BTF DATASEC {sec.name!r} holds a {var.kind.label}, not a VAR")
            if var.linkage in (VarLinkage.STATIC, VarLinkage.GLOBAL_EXTERN):
                new_vars.append(vsi)
                continue
            found = _elf_var_symbol(elf, var.name)
            if found is None:
                raise elf.error(f"BTF DATASEC {sec.name!r}: no ELF symbol for variable "
                                f"{var.name!r}", errno.ENOENT)  # fmt: skip
            value, visibility = found
            if fix_offsets:
                vsi = dataclasses.replace(vsi, offset=value)
            if visibility in (STV_HIDDEN, STV_INTERNAL):
                btf.replace(vsi.type, dataclasses.replace(var, linkage=VarLinkage.STATIC))
            new_vars.append(vsi)
        new_vars.sort(key=lambda v: v.offset)
        btf.replace(type_id, dataclasses.replace(sec, size=size, vars=tuple(new_vars)))


# --- map key/value types for BPF_MAP_CREATE -------------------------------------------

_SPECIAL_STRUCTS = {
    "bpf_spin_lock": SpecialField.SPIN_LOCK,
    "bpf_timer": SpecialField.TIMER,
    "bpf_wq": SpecialField.WORKQUEUE,
    "bpf_refcount": SpecialField.REFCOUNT,
    "bpf_list_head": SpecialField.LIST_HEAD,
    "bpf_rb_root": SpecialField.RB_ROOT,
}
_KPTR_TAGS = {
    "kptr_untrusted": SpecialField.KPTR_UNREF,
    "kptr": SpecialField.KPTR_REF,
    "percpu_kptr": SpecialField.KPTR_PERCPU,
}
_MAX_DEPTH = 8


def _kind_of(t: BtfType) -> BtfKind:
    return {
        Kind.INT: BtfKind.INT, Kind.PTR: BtfKind.PTR, Kind.ARRAY: BtfKind.ARRAY,
        Kind.STRUCT: BtfKind.STRUCT, Kind.UNION: BtfKind.UNION, Kind.ENUM: BtfKind.ENUM,
        Kind.ENUM64: BtfKind.ENUM64, Kind.FLOAT: BtfKind.FLOAT, Kind.DATASEC: BtfKind.DATASEC,
        Kind.FWD: BtfKind.FWD, Kind.FUNC: BtfKind.FUNC,
    }.get(t.kind, BtfKind.VOID)  # fmt: skip


def _special_fields(btf: Btf, type_id: int, base: int, depth: int) -> list[tuple[SpecialField, int]]:
    """Special fields found in a value, with their byte offsets (nested structs, arrays
    and DATASEC variables searched as the kernel's field parser does)."""
    if depth > _MAX_DEPTH:
        return []
    out: list[tuple[SpecialField, int]] = []
    t = btf[skip_modifiers(btf, type_id)]
    if isinstance(t, Struct | Union):
        if t.name in _SPECIAL_STRUCTS and depth > 0:
            return [(_SPECIAL_STRUCTS[t.name], base)]
        for m in t.members:
            if m.bitfield_size:
                continue
            out += _member_fields(btf, m.type, base + m.offset // 8, depth + 1)
    elif isinstance(t, Datasec):
        for v in t.vars:
            var = btf[v.type]
            if isinstance(var, Var):
                out += _member_fields(btf, var.type, base + v.offset, depth + 1)
    return out


def _member_fields(btf: Btf, type_id: int, off: int, depth: int) -> list[tuple[SpecialField, int]]:
    raw = btf[type_id]
    # a pointer whose pointee carries a kptr type tag
    t_id = skip_modifiers(btf, type_id)
    t = btf[t_id]
    if isinstance(t, Ptr):
        tag = btf[t.type]
        if isinstance(tag, TypeTag) and tag.name in _KPTR_TAGS:
            return [(_KPTR_TAGS[tag.name], off)]
        return []
    del raw
    if isinstance(t, Struct) and t.name in _SPECIAL_STRUCTS:
        return [(_SPECIAL_STRUCTS[t.name], off)]
    if isinstance(t, Array):
        try:
            elem = resolve_size(btf, t.type)
        except BpfError:
            return []
        out: list[tuple[SpecialField, int]] = []
        inner = _member_fields(btf, t.type, off, depth)
        if inner:
            for i in range(min(t.nelems, 64)):
                out += [(k, o + i * elem) for k, o in inner]
        return out
    if isinstance(t, Struct | Union):
        return _special_fields(btf, t_id, off, depth)
    return []


def _describe(btf: Btf, type_id: int, depth: int = 0) -> MapBtfType:
    """A resolved type in the small form map creation checks use."""
    if type_id == 0:
        return MapBtfType.void()
    t_id = skip_modifiers(btf, type_id)
    t = btf[t_id]
    kind = _kind_of(t)
    if kind in (BtfKind.VOID, BtfKind.FWD, BtfKind.FUNC):
        return MapBtfType(kind, 0, t.name)
    size = resolve_size(btf, t_id)
    if isinstance(t, Int):
        return MapBtfType(BtfKind.INT, size, t.name, t.bits, t.offset)
    members: tuple[BtfMember, ...] = ()
    kflag = False
    if isinstance(t, Struct | Union) and depth < _MAX_DEPTH:
        kflag = t.kflag
        members = tuple(BtfMember(m.name, m.offset, _describe(btf, m.type, depth + 1),
                                  m.bitfield_size) for m in t.members)  # fmt: skip
    fields: tuple[tuple[SpecialField, int], ...] = ()
    if isinstance(t, Struct | Union | Datasec):
        fields = tuple(_special_fields(btf, t_id, 0, 0))
    name = t.name if isinstance(t, Struct | Union | Enum | Enum64 | Float | Datasec) else ""
    return MapBtfType(kind, size, name, members=members, fields=fields, kflag=kflag)


def map_btf(btf: Btf, key_type_id: int, value_type_id: int) -> MapBtf:
    """What ``BPF_MAP_CREATE`` gets with ``btf_fd``: the two ids and their types."""
    return MapBtf(key_type_id, value_type_id,
                  _describe(btf, key_type_id) if key_type_id else MapBtfType.void(),
                  _describe(btf, value_type_id) if value_type_id else MapBtfType.void(),
                  btf)  # fmt: skip


def var_is_static(btf: Btf, var_type_id: int) -> bool:
    var = btf[var_type_id]
    return isinstance(var, Var) and var.linkage == VarLinkage.STATIC


def ptr_target(btf: Btf, type_id: int) -> int | None:
    t = btf[skip_modifiers(btf, type_id)]
    return t.type if isinstance(t, Ptr) else None
