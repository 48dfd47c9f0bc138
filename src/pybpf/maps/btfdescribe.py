"""Turn real BTF (a :class:`pybpf.btf.Btf`) and a map's two type ids into the
:class:`~pybpf.maps.btfinfo.MapBtf` that map creation judges.

Resolution follows the kernel's ``btf_type_id_size``: modifiers, typedefs and variables
are looked through; void, forward declarations, functions and declaration tags have no
size.  Special fields are found as ``btf_parse_fields`` finds them for a map value:
members (also inside nested structs and arrays) whose type is one of the kernel's marker
structs (``struct bpf_spin_lock``, ``struct bpf_timer``, ...) and pointers tagged as
kptrs; a DATASEC value is searched through its variables.
"""

from __future__ import annotations

from ..btf import Btf
from ..btf import types as bt
from ..btf.resolve import resolve_size
from ..errors import BpfError
from .btfinfo import BtfKind, BtfMember, BtfType, MapBtf, SpecialField

_MARKERS = {
    "bpf_spin_lock": SpecialField.SPIN_LOCK,
    "bpf_timer": SpecialField.TIMER,
    "bpf_wq": SpecialField.WORKQUEUE,
    "bpf_list_head": SpecialField.LIST_HEAD,
    "bpf_rb_root": SpecialField.RB_ROOT,
    "bpf_refcount": SpecialField.REFCOUNT,
}
_KPTR_TAGS = {
    "kptr_untrusted": SpecialField.KPTR_UNREF,
    "kptr": SpecialField.KPTR_REF,
    "percpu_kptr": SpecialField.KPTR_PERCPU,
}
_MODIFIERS = (bt.Typedef, bt.Volatile, bt.Const, bt.Restrict, bt.TypeTag)
_NOSIZE = (bt.Void, bt.Fwd, bt.Func, bt.FuncProto, bt.DeclTag)
_MAX_DEPTH = 32


def _resolve(btf: Btf, type_id: int) -> tuple[int, bt.BtfType | None]:
    """(id, type) under modifiers and vars, or (id, None) for a sizeless type."""
    for _ in range(_MAX_DEPTH):
        t = btf.get(type_id)
        if t is None or isinstance(t, _NOSIZE):
            return type_id, None
        if isinstance(t, (*_MODIFIERS, bt.Var)):
            type_id = t.type
            continue
        return type_id, t
    return type_id, None


def _kind(t: bt.BtfType) -> BtfKind:
    for cls, kind in ((bt.Int, BtfKind.INT), (bt.Ptr, BtfKind.PTR), (bt.Array, BtfKind.ARRAY),
                      (bt.Struct, BtfKind.STRUCT), (bt.Union, BtfKind.UNION),
                      (bt.Enum, BtfKind.ENUM), (bt.Enum64, BtfKind.ENUM64),
                      (bt.Float, BtfKind.FLOAT), (bt.Datasec, BtfKind.DATASEC)):
        if isinstance(t, cls):
            return kind
    return BtfKind.FUNC


def _size(btf: Btf, type_id: int, t: bt.BtfType) -> int:
    if isinstance(t, bt.Ptr):
        return 8
    try:
        return resolve_size(btf, type_id)
    except BpfError:
        return 0


def _kptr_tag(btf: Btf, type_id: int) -> SpecialField | None:
    """The kptr kind of a pointer member (a PTR whose target is tagged), or None."""
    t = btf.get(type_id)
    while isinstance(t, bt.Typedef | bt.Volatile | bt.Const | bt.Restrict):
        t = btf.get(t.type)
    if not isinstance(t, bt.Ptr):
        return None
    target = btf.get(t.type)
    if isinstance(target, bt.TypeTag) and not target.attr:
        return _KPTR_TAGS.get(target.name)
    return None


def _fields(btf: Btf, type_id: int, base: int, depth: int = 0) -> list[tuple[SpecialField, int]]:
    """Special fields inside the type ``type_id`` placed at byte ``base``."""
    if depth > _MAX_DEPTH:
        return []
    tag = _kptr_tag(btf, type_id)
    if tag is not None:
        return [(tag, base)]
    rid, t = _resolve(btf, type_id)
    if isinstance(t, bt.Struct):
        marker = _MARKERS.get(t.name)
        if marker is not None:
            return [(marker, base)]
        out: list[tuple[SpecialField, int]] = []
        for m in t.members:
            if m.bitfield_size:
                continue
            out += _fields(btf, m.type, base + m.offset // 8, depth + 1)
        return out
    if isinstance(t, bt.Array):
        elem_id = t.type
        inner = _fields(btf, elem_id, 0, depth + 1)
        if not inner:
            return []
        _, et = _resolve(btf, elem_id)
        step = _size(btf, elem_id, et) if et is not None else 0
        return [(f, base + i * step + off) for i in range(t.nelems) for f, off in inner]
    if isinstance(t, bt.Datasec):
        out = []
        for v in t.vars:
            out += _fields(btf, v.type, base + v.offset, depth + 1)
        return out
    del rid
    return []


def describe_type(btf: Btf, type_id: int, with_fields: bool = False,
                  depth: int = 0) -> BtfType:
    """The resolved description of ``type_id`` (void for id 0)."""
    if type_id == 0:
        return BtfType.void()
    rid, t = _resolve(btf, type_id)
    if t is None:
        return BtfType(BtfKind.FWD, 0, btf.name_of(rid) if rid in btf else "")
    kind = _kind(t)
    name = getattr(t, "name", "") or ""
    size = _size(btf, rid, t)
    if isinstance(t, bt.Int):
        return BtfType(kind, size, name, t.bits, t.offset)
    members: tuple[BtfMember, ...] = ()
    kflag = False
    if isinstance(t, bt.Struct | bt.Union) and depth < 2:
        kflag = t.kflag
        members = tuple(BtfMember(m.name, m.offset, describe_type(btf, m.type, False, depth + 1),
                                  m.bitfield_size) for m in t.members)
    fields = tuple(_fields(btf, type_id, 0)) if with_fields else ()
    return BtfType(kind, size, name, members=members, fields=fields, kflag=kflag)


def describe_map_btf(btf: Btf, key_type_id: int, value_type_id: int) -> MapBtf:
    """The :class:`MapBtf` a loader passes with ``btf_fd``, ``btf_key_type_id`` and
    ``btf_value_type_id``; the ``Btf`` rides along for the verifier."""
    return MapBtf(
        key_type_id,
        value_type_id,
        describe_type(btf, key_type_id),
        describe_type(btf, value_type_id, with_fields=True),
        btf,
    )
