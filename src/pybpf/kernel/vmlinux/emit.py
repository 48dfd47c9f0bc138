"""Lay out parsed C declarations as C does on x86-64 and write them as BTF.

Layout is computed here (not left to :class:`~pybpf.btf.BtfBuilder`) so that
``__aligned(N)`` and padding bitfields work; every member is then handed to the
builder with its bit offset.  Identical derived types (``u32 *``, ``const struct sock
*``, a function prototype) are written once, as the kernel's deduplicated BTF has them.
Structs referred to but never defined end as forward declarations.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable

from ...btf import (
    Array,
    Btf,
    BtfBuilder,
    Const,
    Enum,
    Enum64,
    FuncLinkage,
    Fwd,
    Int,
    Member,
    Ptr,
    Restrict,
    Struct,
    Typedef,
    TypeTag,
    Union,
    Volatile,
)
from ...errors import BpfError
from .cdecl import (
    Aggregate,
    ArrayOf,
    BaseType,
    CType,
    Decl,
    EnumDef,
    ForwardDecl,
    FuncDecl,
    FuncOf,
    Pointer,
    Qualified,
    TagRef,
    TypeDecl,
    TypedefDecl,
    TypedefRef,
    VoidType,
)


def _round_up(n: int, a: int) -> int:
    return -(-n // a) * a


class Emitter:
    """Writes declarations into one BTF, remembering tags, typedefs and shared types."""

    def __init__(self) -> None:
        self.b = BtfBuilder()
        self.tags: dict[tuple[str, str], int] = {}
        self.typedefs: dict[str, int] = {}
        self.funcs: dict[str, int] = {}
        self._defined: set[int] = set()
        self._align: dict[int, int] = {}
        self._sizes: dict[int, tuple[int, int]] = {}
        self._shared: dict[tuple[object, ...], int] = {}

    @property
    def btf(self) -> Btf:
        return self.b.btf

    # -- declarations ------------------------------------------------------------------
    def emit(self, decls: Iterable[Decl]) -> None:
        for d in decls:
            if isinstance(d, TypedefDecl):
                if d.name in self.typedefs:
                    raise BpfError(errno.EEXIST, f"typedef {d.name} declared twice")
                self.typedefs[d.name] = self.b.typedef(d.name, self.type_id(d.type))
            elif isinstance(d, TypeDecl):
                self.type_id(d.type)
            elif isinstance(d, ForwardDecl):
                self._tag(d.kind, d.name)
            elif isinstance(d, FuncDecl):
                if d.name in self.funcs:
                    raise BpfError(errno.EEXIST, f"function {d.name} declared twice")
                self.funcs[d.name] = self.b.func(d.name, self.type_id(d.type), FuncLinkage.STATIC)

    def finish(self) -> Btf:
        """Turn structs that were only referred to into forward declarations."""
        for (kind, name), tid in self.tags.items():
            if kind != "enum" and tid not in self._defined:
                self.btf.replace(tid, Fwd(name=name, union=kind == "union"))
        return self.btf

    # -- types -------------------------------------------------------------------------
    def _tag(self, kind: str, name: str) -> int:
        key = (kind, name)
        if key not in self.tags:
            if kind == "enum":
                raise BpfError(errno.ENOENT, f"enum {name} is used before it is defined")
            self.tags[key] = self.b.declare_struct(name, union=kind == "union")
        return self.tags[key]

    def _shared_id(self, key: tuple[object, ...], make: object) -> int:
        got = self._shared.get(key)
        if got is None:
            assert callable(make)
            got = self._shared[key] = make()
        return got

    def type_id(self, t: CType) -> int:
        b = self.b
        if isinstance(t, VoidType):
            return 0
        if isinstance(t, BaseType):
            return b.int_type(t.name, t.size, signed=t.signed, char=False, bool_=t.bool_)
        if isinstance(t, TypedefRef):
            if t.name not in self.typedefs:
                raise BpfError(errno.ENOENT, f"typedef {t.name} is used before it is declared")
            return self.typedefs[t.name]
        if isinstance(t, TagRef):
            return self._tag(t.kind, t.name)
        if isinstance(t, Aggregate):
            return self._aggregate(t)
        if isinstance(t, EnumDef):
            return self._enum(t)
        if isinstance(t, Pointer):
            target = self.type_id(t.target)
            return self._shared_id(("ptr", target), lambda: b.ptr(target))
        if isinstance(t, Qualified):
            target = self.type_id(t.target)
            if t.tag:
                return self._shared_id(("tag", t.qual, target), lambda: b.type_tag(t.qual, target))
            make = {"const": b.const, "volatile": b.volatile, "restrict": b.restrict}[t.qual]
            return self._shared_id((t.qual, target), lambda: make(target))
        if isinstance(t, ArrayOf):
            elem = self.type_id(t.elem)
            return self._shared_id(("array", elem, t.nelems), lambda: b.array(elem, t.nelems))
        if isinstance(t, FuncOf):
            ret = self.type_id(t.ret)
            params = tuple((p.name, self.type_id(p.type)) for p in t.params)
            key = ("proto", ret, params, t.variadic)
            return self._shared_id(key, lambda: b.func_proto(ret, list(params), t.variadic))
        raise BpfError(errno.EINVAL, f"cannot write {t!r} as BTF")

    def _enum(self, t: EnumDef) -> int:
        if t.name is not None and ("enum", t.name) in self.tags:
            raise BpfError(errno.EEXIST, f"enum {t.name} defined twice")
        tid = self.b.enum(t.name or "", list(t.values))
        if t.name is not None:
            self.tags[("enum", t.name)] = tid
        return tid

    def _aggregate(self, t: Aggregate) -> int:
        kind = "union" if t.union else "struct"
        if t.name is None:
            tid = self.b.declare_struct("", union=t.union)
        else:
            tid = self._tag(kind, t.name)
            if tid in self._defined:
                raise BpfError(errno.EEXIST, f"{kind} {t.name} defined twice")
        members, size, align = self._layout(t)
        kflag = any(m.bitfield_size for m in members)
        cls = Union if t.union else Struct
        self.btf.replace(
            tid, cls(name=t.name or "", size=size, members=tuple(members), kflag=kflag)
        )
        self._defined.add(tid)
        self._align[tid] = align
        return tid

    # -- layout ------------------------------------------------------------------------
    def _size_align(self, tid: int) -> tuple[int, int]:
        """Size and alignment in bytes (kept per id: defined types never change)."""
        got = self._sizes.get(tid)
        if got is not None:
            return got
        t = self.btf[tid]
        if isinstance(t, Struct | Union):
            if tid not in self._defined:
                what = "union" if isinstance(t, Union) else "struct"
                raise BpfError(errno.EINVAL, f"{what} {t.name or '<anon>'} is used by value "
                               "before it is defined")  # fmt: skip
            got = (t.size, self._align[tid])
        elif isinstance(t, Array):
            size, align = self._size_align(t.type)
            got = (size * t.nelems, align)
        elif isinstance(t, Ptr):
            got = (8, 8)
        elif isinstance(t, Int | Enum | Enum64):
            got = (t.size, t.size)
        elif isinstance(t, Typedef | Const | Volatile | Restrict | TypeTag):
            got = self._size_align(t.type)
        else:
            raise BpfError(errno.EINVAL, f"type [{tid}] ({t.kind.label}) has no size")
        self._sizes[tid] = got
        return got

    def _layout(self, t: Aggregate) -> tuple[list[Member], int, int]:
        """Members with their bit offsets, the size and the alignment, as x86-64 C."""
        fields: list[Member] = []
        pos = 0  # bits
        end = 0
        max_align = 1
        name = t.name or "<anon>"
        for m in t.members:
            mid = self.type_id(m.type)
            msize, natural = self._size_align(mid)
            malign = max(natural, m.align or 1)
            if m.bits is not None:
                unit = msize * 8
                if not 0 <= m.bits <= unit:
                    raise BpfError(
                        errno.EINVAL, f"{name}.{m.name}: bitfield of {m.bits} bits in {msize} bytes"
                    )
                bit = 0 if t.union else pos
                if m.bits == 0:
                    bit = _round_up(bit, unit)
                elif bit // unit != (bit + m.bits - 1) // unit:
                    bit = _round_up(bit, malign * 8)
                if m.name:
                    fields.append(Member(name=m.name, type=mid, offset=bit, bitfield_size=m.bits))
                    max_align = max(max_align, malign)
                pos = bit + m.bits
            else:
                bit = 0 if t.union else _round_up(pos, malign * 8)
                fields.append(Member(name=m.name, type=mid, offset=bit))
                max_align = max(max_align, malign)
                pos = bit + msize * 8
            end = max(end, pos)
        max_align = max(max_align, t.align or 1)
        size = _round_up(_round_up(end, 8) // 8, max_align)
        return fields, size, max_align
