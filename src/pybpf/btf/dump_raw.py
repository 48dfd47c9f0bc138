"""``bpftool btf dump`` without ``format c``: one line (or JSON object) per type.

The text and the JSON follow bpftool v7 field for field, so the two can be diffed.
"""

from __future__ import annotations

from typing import Any

from .btf import Btf
from .kinds import func_linkage_label, int_encoding_label, var_linkage_label
from .types import (
    Array,
    BtfType,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    Ptr,
    Restrict,
    Struct,
    Typedef,
    TypeTag,
    Union,
    Var,
    Volatile,
)

_U64 = (1 << 64) - 1


def _n(name: str) -> str:
    return name if name else "(anon)"


def _raw_enum_val(t: Enum, value: int) -> tuple[int, int]:
    """(text value, JSON value) for a 32-bit enumerator as bpftool prints them."""
    word = value & 0xFFFFFFFF
    s32 = word - (1 << 32) if word & 0x80000000 else word
    if t.signed:
        return s32, s32
    return word, s32 & _U64  # the JSON writer widens the s32 field before printing it


def type_line(btf: Btf, type_id: int, t: BtfType) -> str:
    """One type as bpftool prints it (members on the following tab-indented lines)."""
    head = f"[{type_id}] {t.kind.label} '{_n(t.name)}'"
    if isinstance(t, Int):
        return f"{head} size={t.size} bits_offset={t.offset} nr_bits={t.bits} encoding={int_encoding_label(t.encoding)}"
    if isinstance(t, Ptr | Const | Volatile | Restrict | Typedef | TypeTag):
        return f"{head} type_id={t.type}"
    if isinstance(t, Array):
        return f"{head} type_id={t.type} index_type_id={t.index_type} nr_elems={t.nelems}"
    if isinstance(t, Struct | Union):
        lines = [f"{head} size={t.size} vlen={len(t.members)}"]
        for m in t.members:
            line = f"\t'{_n(m.name)}' type_id={m.type} bits_offset={m.offset}"
            if m.bitfield_size:
                line += f" bitfield_size={m.bitfield_size}"
            lines.append(line)
        return "\n".join(lines)
    if isinstance(t, Enum):
        lines = [f"{head} encoding={'SIGNED' if t.signed else 'UNSIGNED'} size={t.size} vlen={len(t.values)}"]
        lines += [f"\t'{_n(v.name)}' val={_raw_enum_val(t, v.value)[0]}" for v in t.values]
        return "\n".join(lines)
    if isinstance(t, Enum64):
        lines = [f"{head} encoding={'SIGNED' if t.signed else 'UNSIGNED'} size={t.size} vlen={len(t.values)}"]
        for v in t.values:
            u = v.value & _U64
            s = u - (1 << 64) if u >> 63 else u
            lines.append(f"\t'{_n(v.name)}' val={s}LL" if t.signed else f"\t'{_n(v.name)}' val={u}ULL")
        return "\n".join(lines)
    if isinstance(t, Fwd):
        return f"{head} fwd_kind={'union' if t.union else 'struct'}"
    if isinstance(t, Func):
        return f"{head} type_id={t.type} linkage={func_linkage_label(t.linkage)}"
    if isinstance(t, FuncProto):
        lines = [f"{head} ret_type_id={t.return_type} vlen={len(t.params)}"]
        lines += [f"\t'{_n(p.name)}' type_id={p.type}" for p in t.params]
        return "\n".join(lines)
    if isinstance(t, Var):
        return f"{head} type_id={t.type}, linkage={var_linkage_label(t.linkage)}"
    if isinstance(t, Datasec):
        lines = [f"{head} size={t.size} vlen={len(t.vars)}"]
        for sec in t.vars:
            line = f"\ttype_id={sec.type} offset={sec.offset} size={sec.size}"
            if sec.type < len(btf):
                vt = btf[sec.type]
                line += f" ({vt.kind.label} '{_n(vt.name)}')"
            lines.append(line)
        return "\n".join(lines)
    if isinstance(t, Float):
        return f"{head} size={t.size}"
    if isinstance(t, DeclTag):
        return f"{head} type_id={t.type} component_idx={t.component_idx}"
    return head


def type_json(btf: Btf, type_id: int, t: BtfType) -> dict[str, Any]:
    """One type as ``bpftool -j btf dump`` writes it."""
    out: dict[str, Any] = {"id": type_id, "kind": t.kind.label, "name": _n(t.name)}
    if isinstance(t, Int):
        out.update(size=t.size, bits_offset=t.offset, nr_bits=t.bits, encoding=int_encoding_label(t.encoding))
    elif isinstance(t, Ptr | Const | Volatile | Restrict | Typedef | TypeTag):
        out["type_id"] = t.type
    elif isinstance(t, Array):
        out.update(type_id=t.type, index_type_id=t.index_type, nr_elems=t.nelems)
    elif isinstance(t, Struct | Union):
        members = []
        for m in t.members:
            entry: dict[str, Any] = {"name": _n(m.name), "type_id": m.type, "bits_offset": m.offset}
            if m.bitfield_size:
                entry["bitfield_size"] = m.bitfield_size
            members.append(entry)
        out.update(size=t.size, vlen=len(t.members), members=members)
    elif isinstance(t, Enum):
        values = [{"name": _n(v.name), "val": _raw_enum_val(t, v.value)[1]} for v in t.values]
        out.update(encoding="SIGNED" if t.signed else "UNSIGNED", size=t.size, vlen=len(t.values), values=values)
    elif isinstance(t, Enum64):
        vals = []
        for v in t.values:
            u = v.value & _U64
            vals.append({"name": _n(v.name), "val": (u - (1 << 64) if u >> 63 else u) if t.signed else u})
        out.update(encoding="SIGNED" if t.signed else "UNSIGNED", size=t.size, vlen=len(t.values), values=vals)
    elif isinstance(t, Fwd):
        out["fwd_kind"] = "union" if t.union else "struct"
    elif isinstance(t, Func):
        out.update(type_id=t.type, linkage=func_linkage_label(t.linkage))
    elif isinstance(t, FuncProto):
        params = [{"name": _n(p.name), "type_id": p.type} for p in t.params]
        out.update(ret_type_id=t.return_type, vlen=len(t.params), params=params)
    elif isinstance(t, Var):
        out.update(type_id=t.type, linkage=var_linkage_label(t.linkage))
    elif isinstance(t, Datasec):
        secs = [{"type_id": v.type, "offset": v.offset, "size": v.size} for v in t.vars]
        out.update(size=t.size, vlen=len(t.vars), vars=secs)
    elif isinstance(t, Float):
        out["size"] = t.size
    elif isinstance(t, DeclTag):
        out.update(type_id=t.type, component_idx=t.component_idx)
    return out


def dump_raw(btf: Btf, ids: list[int] | None = None) -> str:
    """Every own type (or the ``ids`` given), as ``bpftool btf dump file X`` prints them."""
    chosen = ids if ids is not None else btf.own_ids()
    return "".join(type_line(btf, i, btf[i]) + "\n" for i in chosen)


def dump_json(btf: Btf, ids: list[int] | None = None) -> dict[str, Any]:
    """The object ``bpftool -j btf dump file X`` prints."""
    chosen = ids if ids is not None else btf.own_ids()
    return {"types": [type_json(btf, i, btf[i]) for i in chosen]}
