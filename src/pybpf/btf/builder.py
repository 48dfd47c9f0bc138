"""``BtfBuilder``: describe types in code and get ids back (for pybpf's own kernel types).

Structs are laid out as C lays them out unless offsets are given, so a subset of a
kernel struct can be declared with the kernel's real offsets and size, and a plain
struct with none.  Self-referencing types are declared first and defined later::

    b = BtfBuilder()
    u32 = b.int_type("unsigned int", 4)
    node = b.declare_struct("list_head")
    b.define_struct(node, [("next", b.ptr(node)), ("prev", b.ptr(node))])
    task = b.struct("task_struct", [("pid", b.int_type("int", 4, signed=True), 2416)], size=9792)
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import BpfError
from .btf import Btf
from .encode import encode
from .kinds import FuncLinkage, IntEncoding, VarLinkage
from .resolve import align_of, resolve_size
from .types import (
    Array,
    BtfType,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    EnumValue,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    Member,
    Param,
    Ptr,
    Restrict,
    Struct,
    Typedef,
    TypeTag,
    Union,
    Var,
    VarSecinfo,
    Volatile,
)


@dataclass(frozen=True, slots=True)
class Field:
    """A struct member for the builder: ``offset`` in bytes (None: C layout);
    ``bits`` makes it a bitfield, at ``bit_offset`` bits into the struct if given."""

    name: str
    type: int
    offset: int | None = None
    bits: int = 0
    bit_offset: int | None = None


FieldSpec = Field | Member | tuple[str, int] | tuple[str, int, int]


def _as_field(spec: FieldSpec) -> Field:
    if isinstance(spec, Field):
        return spec
    if isinstance(spec, Member):
        return Field(spec.name, spec.type, bits=spec.bitfield_size, bit_offset=spec.offset)
    if len(spec) == 2:
        return Field(spec[0], spec[1])
    return Field(spec[0], spec[1], spec[2])


class BtfBuilder:
    """Adds types to a :class:`Btf` (a new one, or split on ``base``) and returns ids."""

    def __init__(self, base: Btf | None = None, btf: Btf | None = None) -> None:
        self.btf = btf if btf is not None else Btf(base=base)
        self._ints: dict[tuple[str, int, int], int] = {}

    def add(self, t: BtfType) -> int:
        return self.btf.add(t)

    # -- base types ----------------------------------------------------------------------
    def int_type(self, name: str, size: int, *, signed: bool = False, char: bool = False, bool_: bool = False) -> int:
        """An INT (one per name, size and encoding: asking twice gives the same id)."""
        enc = IntEncoding.SIGNED if signed else IntEncoding.CHAR if char else IntEncoding.BOOL if bool_ else 0
        key = (name, size, int(enc))
        if key not in self._ints:
            self._ints[key] = self.add(Int(name=name, size=size, bits=size * 8, encoding=enc))
        return self._ints[key]

    def float_type(self, name: str, size: int) -> int:
        return self.add(Float(name=name, size=size))

    def ptr(self, type_id: int) -> int:
        return self.add(Ptr(type=type_id))

    def array(self, elem: int, nelems: int, index_type: int | None = None) -> int:
        index = index_type if index_type is not None else self.int_type("__ARRAY_SIZE_TYPE__", 4)
        return self.add(Array(type=elem, index_type=index, nelems=nelems))

    def typedef(self, name: str, type_id: int) -> int:
        return self.add(Typedef(name=name, type=type_id))

    def const(self, type_id: int) -> int:
        return self.add(Const(type=type_id))

    def volatile(self, type_id: int) -> int:
        return self.add(Volatile(type=type_id))

    def restrict(self, type_id: int) -> int:
        return self.add(Restrict(type=type_id))

    def type_tag(self, name: str, type_id: int) -> int:
        return self.add(TypeTag(name=name, type=type_id))

    def decl_tag(self, name: str, type_id: int, component_idx: int = -1) -> int:
        return self.add(DeclTag(name=name, type=type_id, component_idx=component_idx))

    def fwd(self, name: str, union: bool = False) -> int:
        return self.add(Fwd(name=name, union=union))

    def enum(self, name: str, values: dict[str, int] | Iterable[tuple[str, int]], size: int = 4) -> int:
        """ENUM (or ENUM64 when a value needs more than 32 bits); signed if any is negative."""
        pairs = list(values.items()) if isinstance(values, dict) else list(values)
        vals = tuple(EnumValue(name=n, value=v) for n, v in pairs)
        signed = any(v < 0 for _, v in pairs)
        wide = any(not -(2**31) <= v < 2**32 for _, v in pairs)
        if wide:
            return self.add(Enum64(name=name, size=max(size, 8), values=vals, signed=signed))
        return self.add(Enum(name=name, size=size, values=vals, signed=signed))

    # -- aggregates ----------------------------------------------------------------------
    def declare_struct(self, name: str, union: bool = False) -> int:
        """An id for a struct to be defined later (so it can refer to itself)."""
        return self.add(Union(name=name, size=0) if union else Struct(name=name, size=0))

    def define_struct(self, type_id: int, fields: Sequence[FieldSpec], size: int | None = None) -> int:
        """Give a declared struct (or union) its members; returns its id."""
        old = self.btf[type_id]
        if not isinstance(old, Struct | Union):
            raise BpfError(errno.EINVAL, f"type [{type_id}] is not a declared struct or union")
        self.btf.replace(type_id, self._layout(old.name, [_as_field(f) for f in fields], size,
                                               isinstance(old, Union)))  # fmt: skip
        return type_id

    def struct(self, name: str, fields: Sequence[FieldSpec], size: int | None = None) -> int:
        return self.define_struct(self.declare_struct(name), fields, size)

    def union(self, name: str, fields: Sequence[FieldSpec], size: int | None = None) -> int:
        return self.define_struct(self.declare_struct(name, union=True), fields, size)

    def _layout(self, name: str, fields: list[Field], size: int | None, union: bool) -> Struct | Union:
        members = []
        end_bits = 0
        max_align = 1
        kflag = any(f.bits for f in fields)
        for f in fields:
            fsize = resolve_size(self.btf, f.type)
            falign = align_of(self.btf, f.type)
            max_align = max(max_align, falign)
            if union:
                bit = 0
            elif f.bit_offset is not None:
                bit = f.bit_offset
            elif f.offset is not None:
                bit = f.offset * 8
            elif f.bits:
                unit = fsize * 8
                bit = end_bits
                if bit // unit != (bit + f.bits - 1) // unit:  # would straddle its storage unit
                    bit = -(-bit // unit) * unit
            else:
                bit = -(-end_bits // (falign * 8)) * falign * 8
            members.append(Member(name=f.name, type=f.type, offset=bit, bitfield_size=f.bits))
            end_bits = max(end_bits, bit + (f.bits or fsize * 8))
        natural = -(-(end_bits // 8 + (1 if end_bits % 8 else 0)) // max_align) * max_align
        total = natural if size is None else size
        if total * 8 < end_bits:
            raise BpfError(errno.EINVAL, f"struct {name}: members end at bit {end_bits}, past size {total}")
        cls = Union if union else Struct
        return cls(name=name, size=total, members=tuple(members), kflag=kflag)

    # -- functions and data ---------------------------------------------------------------
    def func_proto(self, ret: int, params: Sequence[tuple[str, int] | int] = (), variadic: bool = False) -> int:
        ps = [Param(name=p[0], type=p[1]) if isinstance(p, tuple) else Param(name="", type=p) for p in params]
        if variadic:
            ps.append(Param(name="", type=0))
        return self.add(FuncProto(return_type=ret, params=tuple(ps)))

    def func(self, name: str, proto: int, linkage: int = FuncLinkage.GLOBAL) -> int:
        return self.add(Func(name=name, type=proto, linkage=linkage))

    def var(self, name: str, type_id: int, linkage: int = VarLinkage.GLOBAL_ALLOCATED) -> int:
        return self.add(Var(name=name, type=type_id, linkage=linkage))

    def datasec(self, name: str, vars_: Sequence[tuple[int, int, int]], size: int | None = None) -> int:
        """A DATASEC of (var id, offset, size) entries."""
        secs = tuple(VarSecinfo(type=t, offset=o, size=s) for t, o, s in vars_)
        total = size if size is not None else max((o + s for _, o, s in vars_), default=0)
        return self.add(Datasec(name=name, size=total, vars=secs))

    # -- results -------------------------------------------------------------------------
    def encode(self) -> bytes:
        return encode(self.btf)

    def validate(self) -> None:
        """Check the types with the kernel's rules (base BTF only); BtfRejected if not."""
        from .validate import check

        if self.btf.base is not None:
            raise BpfError(errno.EOPNOTSUPP, "validating split BTF is not supported")
        check(self.encode(), log_level=1)
