"""Kernel pointers stored in map values (kptrs): what map creation records about them, and
what happens to the objects they hold when an element goes away.

A map value's BTF marks a pointer member as a kptr with a type tag on the pointee:
``kptr_untrusted`` (a plain pointer a program may store and load), ``kptr`` (a
referenced pointer that moves in and out only through ``bpf_kptr_xchg``) or
``percpu_kptr``.  Map creation parses them (``btf_parse_fields``/``btf_parse_kptr``):
one tag only, directly on the pointee, which must be a struct; the struct is looked up
by name in the kernel BTF (else it is the program's own type, as ``bpf_obj_new`` makes);
a referenced kptr to a kernel type needs the kernel to know how to release it (a
destructor kfunc).  The verifier types loads and stores with the :class:`KptrField`, and
the map releases a referenced object when the element holding it is overwritten,
deleted or freed with the map (:func:`free_kptr_fields`).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..btf import Array, Btf, Ptr, Struct, TypeTag, Volatile
from ..btf.types import is_modifier
from ..errors import BpfError
from .btfinfo import SpecialField

_TAGS = {
    "kptr_untrusted": SpecialField.KPTR_UNREF,
    "kptr": SpecialField.KPTR_REF,
    "percpu_kptr": SpecialField.KPTR_PERCPU,
}
_MAX_DEPTH = 32

FIELD_SIZES = {
    SpecialField.SPIN_LOCK: 4, SpecialField.TIMER: 16, SpecialField.WORKQUEUE: 16,
    SpecialField.KPTR_UNREF: 8, SpecialField.KPTR_REF: 8, SpecialField.KPTR_PERCPU: 8,
    SpecialField.REFCOUNT: 4, SpecialField.LIST_HEAD: 16, SpecialField.RB_ROOT: 16,
}  # fmt: skip
"""Bytes each special field covers in a value."""

FIELD_NAMES = {
    SpecialField.SPIN_LOCK: "bpf_spin_lock", SpecialField.TIMER: "bpf_timer",
    SpecialField.WORKQUEUE: "bpf_wq", SpecialField.KPTR_UNREF: "kptr",
    SpecialField.KPTR_REF: "kptr", SpecialField.KPTR_PERCPU: "kptr",
    SpecialField.REFCOUNT: "bpf_refcount", SpecialField.LIST_HEAD: "bpf_list_head",
    SpecialField.RB_ROOT: "bpf_rb_root",
}  # fmt: skip
"""The names the verifier's messages give the fields (``btf_field_type_name``)."""


@dataclass(frozen=True, slots=True)
class KptrField:
    """One kptr of a map value: where it is, its kind, and what it points to.

    ``btf``/``btf_id`` name the pointee in the kernel BTF when ``kernel`` (else in the
    program's BTF); ``dtor`` is the kfunc that releases a referenced kernel object.
    """

    offset: int
    kind: SpecialField
    type_name: str
    btf: Any
    btf_id: int
    kernel: bool
    dtor: str | None = None

    @property
    def referenced(self) -> bool:
        return self.kind is not SpecialField.KPTR_UNREF


def _skip(btf: Btf, tid: int) -> int:
    for _ in range(_MAX_DEPTH):
        t = btf[tid]
        if not is_modifier(t):
            return tid
        tid = t.type  # type: ignore[union-attr]
    raise BpfError(errno.ELOOP, "BTF modifier chain too long")


class Malformed(Exception):
    """A pointer member tagged in a way the kernel cannot use as a kptr: the whole record
    of special fields fails to parse (and the kernel then ignores it at map creation)."""


def _kptr_at(btf: Btf, tid: int, off: int) -> KptrField | None:
    """The kptr a member of type ``tid`` at ``off`` is, None if it is no kptr; raises
    :class:`Malformed` for a malformed one."""
    t = btf[tid]
    if isinstance(t, Volatile):
        t = btf[t.type]
    if not isinstance(t, Ptr):
        return None
    tag = btf[t.type]
    if not isinstance(tag, TypeTag):
        return None
    if isinstance(btf[tag.type], TypeTag):
        raise Malformed(f"kptr at offset {off}: more than one type tag")
    kind = _TAGS.get(tag.name)
    if kind is None or tag.attr:
        raise Malformed(f"kptr at offset {off}: unknown tag {tag.name!r}")
    sid = _skip(btf, tag.type)
    st = btf[sid]
    if not isinstance(st, Struct):
        raise Malformed(f"kptr at offset {off}: only pointers to structs can be kptrs")
    return _resolve_kptr(btf, sid, st.name, kind, off)


def _resolve_kptr(btf: Btf, sid: int, name: str, kind: SpecialField, off: int) -> KptrField:
    from ..btf import Kind
    from ..kernel.vmlinux import kernel_btf
    from ..kernel.vmlinux.kfuncs import KPTR_DTORS

    kbtf = kernel_btf()
    kid = kbtf.find_by_name_kind(name, Kind.STRUCT) if name else None
    if kid is None:
        return KptrField(off, kind, name, btf, sid, False)
    dtor = None
    if kind is SpecialField.KPTR_REF:
        dtor = KPTR_DTORS.get(name)
        if dtor is None:
            raise BpfError(
                errno.ENOENT,
                f"kptr at offset {off}: kernel has no release function for struct {name}",
            )
    return KptrField(off, kind, name, kbtf, kid, True, dtor)


def _walk(btf: Btf, tid: int, base: int, out: list[KptrField], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    found = _kptr_at(btf, tid, base)
    if found is not None:
        out.append(found)
        return
    rid = _skip(btf, tid)
    t = btf[rid]
    if isinstance(t, Struct):
        for m in t.members:
            if not m.bitfield_size:
                _walk(btf, m.type, base + m.offset // 8, out, depth + 1)
    elif isinstance(t, Array) and t.nelems:
        inner: list[KptrField] = []
        _walk(btf, t.type, 0, inner, depth + 1)
        if inner:
            from ..btf import resolve_size

            step = resolve_size(btf, t.type)
            for i in range(t.nelems):
                out += [KptrField(f.offset + base + i * step, f.kind, f.type_name, f.btf, f.btf_id, f.kernel, f.dtor)
                        for f in inner]  # fmt: skip


def parse_kptrs(btf: Btf, value_type_id: int) -> tuple[KptrField, ...] | None:
    """The kptrs of a map value type, as map creation records them; None when a tag is
    malformed (the record fails to parse and the kernel keeps none).  BpfError(ENOENT)
    for a referenced kptr to a kernel struct the kernel cannot release."""
    out: list[KptrField] = []
    try:
        _walk(btf, value_type_id, 0, out, 0)
    except Malformed:
        return None
    return tuple(sorted(out, key=lambda f: f.offset))


_CACHE: dict[tuple[int, int], tuple[Any, tuple[KptrField, ...] | None]] = {}


def _parsed(spec: Any) -> tuple[KptrField, ...] | None:
    mb = getattr(spec, "btf", None)
    if mb is None or mb.btf is None or not mb.value_type_id:
        return ()
    key = (id(mb.btf), mb.value_type_id)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is mb.btf:
        return hit[1]
    fields = parse_kptrs(mb.btf, mb.value_type_id)
    _CACHE[key] = (mb.btf, fields)
    return fields


def map_kptrs(spec: Any) -> tuple[KptrField, ...]:
    """The kptrs of a map created from ``spec`` (none without BTF, none if malformed)."""
    return _parsed(spec) or ()


def record_fields(spec: Any) -> tuple[tuple[SpecialField, int], ...]:
    """The special fields the map records: those of its value type, or none when the
    value's kptr tags are malformed (the kernel then ignores every special field)."""
    mb = getattr(spec, "btf", None)
    if mb is None or _parsed(spec) is None:
        return ()
    return tuple(mb.value_fields)


# --- objects held by a value ---------------------------------------------------------------

Releaser = Callable[[str, int], None]
"""Releases a referenced kernel object: (destructor kfunc name, object address)."""

_RELEASER: list[Releaser] = []


def set_releaser(fn: Releaser) -> None:
    """The simulated kernel's way to drop a reference (registered by the kfunc runtime)."""
    _RELEASER[:] = [fn]


def free_kptr_fields(fields: tuple[KptrField, ...], buf: Any, base: int) -> None:
    """An element's value goes away or is overwritten: zero every kptr of the value at
    ``buf[base:]`` and release the referenced kernel objects it held
    (``bpf_obj_free_fields``)."""
    for f in fields:
        at = base + f.offset
        addr = int.from_bytes(bytes(buf[at : at + 8]), "little")
        buf[at : at + 8] = bytes(8)
        if addr and f.referenced and f.dtor is not None and _RELEASER:
            _RELEASER[0](f.dtor, addr)


def clear_kptr_fields(fields: tuple[KptrField, ...], value: bytes) -> bytes:
    """A value as user space sees or gives it: kptr fields read as zero and are never
    taken from user space (``copy_map_value`` skips them)."""
    if not fields:
        return value
    out = bytearray(value)
    for f in fields:
        if f.offset + 8 <= len(out):
            out[f.offset : f.offset + 8] = bytes(8)
    return bytes(out)
