"""The BTF type model: one frozen dataclass per kind.

Types refer to each other by type id (an ``int``), as BTF does, so a type can be held,
compared and hashed on its own and a :class:`~pybpf.btf.Btf` can decode them lazily.
Names are Python strings; the string table is rebuilt by the encoder.  Every class
takes keyword arguments only and carries its :class:`Kind` as the class attribute
``kind``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from .kinds import FuncLinkage, IntEncoding, Kind, VarLinkage

_DC = {"frozen": True, "slots": True, "kw_only": True}


@dataclass(**_DC)
class Void:
    """Type id 0: no type (``void``)."""

    kind: ClassVar[Kind] = Kind.UNKN
    name: str = ""


VOID = Void()


@dataclass(**_DC)
class Int:
    """An integer of ``size`` bytes whose value is ``bits`` bits starting at bit ``offset``."""

    kind: ClassVar[Kind] = Kind.INT
    name: str
    size: int
    bits: int
    encoding: int = IntEncoding.NONE
    offset: int = 0

    @property
    def signed(self) -> bool:
        return bool(self.encoding & IntEncoding.SIGNED)


@dataclass(**_DC)
class Float:
    kind: ClassVar[Kind] = Kind.FLOAT
    name: str
    size: int


@dataclass(**_DC)
class Ptr:
    kind: ClassVar[Kind] = Kind.PTR
    type: int
    name: str = ""


@dataclass(**_DC)
class Array:
    """``nelems`` elements of ``type``; ``index_type`` is the (int) type of the index."""

    kind: ClassVar[Kind] = Kind.ARRAY
    type: int
    index_type: int
    nelems: int
    name: str = ""


@dataclass(**_DC)
class Member:
    """A struct/union member: ``offset`` in bits from the start of the aggregate."""

    name: str
    type: int
    offset: int
    bitfield_size: int = 0


@dataclass(**_DC)
class Struct:
    """A struct.  ``kflag`` set means members carry their own bitfield sizes."""

    kind: ClassVar[Kind] = Kind.STRUCT
    name: str
    size: int
    members: tuple[Member, ...] = ()
    kflag: bool = False


@dataclass(**_DC)
class Union:
    kind: ClassVar[Kind] = Kind.UNION
    name: str
    size: int
    members: tuple[Member, ...] = ()
    kflag: bool = False


@dataclass(**_DC)
class EnumValue:
    name: str
    value: int


@dataclass(**_DC)
class Enum:
    """An enum of 1, 2, 4 or 8 bytes with 32-bit values (signed when ``signed``)."""

    kind: ClassVar[Kind] = Kind.ENUM
    name: str
    size: int = 4
    values: tuple[EnumValue, ...] = ()
    signed: bool = False


@dataclass(**_DC)
class Enum64:
    """An enum whose values take 64 bits."""

    kind: ClassVar[Kind] = Kind.ENUM64
    name: str
    size: int = 8
    values: tuple[EnumValue, ...] = ()
    signed: bool = False


@dataclass(**_DC)
class Fwd:
    """A forward declaration of a struct (or a union, when ``union``)."""

    kind: ClassVar[Kind] = Kind.FWD
    name: str
    union: bool = False


@dataclass(**_DC)
class Typedef:
    kind: ClassVar[Kind] = Kind.TYPEDEF
    name: str
    type: int


@dataclass(**_DC)
class Volatile:
    kind: ClassVar[Kind] = Kind.VOLATILE
    type: int
    name: str = ""


@dataclass(**_DC)
class Const:
    kind: ClassVar[Kind] = Kind.CONST
    type: int
    name: str = ""


@dataclass(**_DC)
class Restrict:
    kind: ClassVar[Kind] = Kind.RESTRICT
    type: int
    name: str = ""


@dataclass(**_DC)
class TypeTag:
    """``__attribute__((btf_type_tag(name)))`` on the type it refers to; with ``attr``
    (kflag) the text is a whole attribute, ``__attribute__((name))``."""

    kind: ClassVar[Kind] = Kind.TYPE_TAG
    name: str
    type: int
    attr: bool = False


@dataclass(**_DC)
class Param:
    """A function parameter; the last one of type 0 (void) and no name means ``...``."""

    name: str
    type: int


@dataclass(**_DC)
class FuncProto:
    kind: ClassVar[Kind] = Kind.FUNC_PROTO
    return_type: int
    params: tuple[Param, ...] = ()
    name: str = ""

    @property
    def variadic(self) -> bool:
        return bool(self.params) and self.params[-1].type == 0


@dataclass(**_DC)
class Func:
    """A function: its name, its FUNC_PROTO and its linkage."""

    kind: ClassVar[Kind] = Kind.FUNC
    name: str
    type: int
    linkage: int = FuncLinkage.STATIC


@dataclass(**_DC)
class Var:
    kind: ClassVar[Kind] = Kind.VAR
    name: str
    type: int
    linkage: int = VarLinkage.STATIC


@dataclass(**_DC)
class VarSecinfo:
    """Where a VAR (``type``) sits in a DATASEC: byte ``offset`` and ``size``."""

    type: int
    offset: int
    size: int


@dataclass(**_DC)
class Datasec:
    kind: ClassVar[Kind] = Kind.DATASEC
    name: str
    size: int
    vars: tuple[VarSecinfo, ...] = field(default=())


@dataclass(**_DC)
class DeclTag:
    """``btf_decl_tag(name)`` on ``type`` itself (``component_idx`` -1) or on one of its
    members or parameters; ``attr`` (kflag) as for :class:`TypeTag`."""

    kind: ClassVar[Kind] = Kind.DECL_TAG
    name: str
    type: int
    component_idx: int = -1
    attr: bool = False


BtfType = (
    Void
    | Int
    | Float
    | Ptr
    | Array
    | Struct
    | Union
    | Enum
    | Enum64
    | Fwd
    | Typedef
    | Volatile
    | Const
    | Restrict
    | TypeTag
    | FuncProto
    | Func
    | Var
    | Datasec
    | DeclTag
)
"""Any BTF type."""

Composite = Struct | Union
AnyEnum = Enum | Enum64
Modifier = Typedef | Volatile | Const | Restrict | TypeTag
Qualifier = Volatile | Const | Restrict | TypeTag

CLASS_OF_KIND: dict[Kind, type] = {
    Kind.INT: Int,
    Kind.PTR: Ptr,
    Kind.ARRAY: Array,
    Kind.STRUCT: Struct,
    Kind.UNION: Union,
    Kind.ENUM: Enum,
    Kind.FWD: Fwd,
    Kind.TYPEDEF: Typedef,
    Kind.VOLATILE: Volatile,
    Kind.CONST: Const,
    Kind.RESTRICT: Restrict,
    Kind.FUNC: Func,
    Kind.FUNC_PROTO: FuncProto,
    Kind.VAR: Var,
    Kind.DATASEC: Datasec,
    Kind.FLOAT: Float,
    Kind.DECL_TAG: DeclTag,
    Kind.TYPE_TAG: TypeTag,
    Kind.ENUM64: Enum64,
}


def referenced_ids(t: BtfType) -> tuple[int, ...]:
    """Every type id ``t`` refers to, in record order (what id remapping must rewrite)."""
    if isinstance(t, Ptr | Typedef | Volatile | Const | Restrict | TypeTag | Func | Var | DeclTag):
        return (t.type,)
    if isinstance(t, Array):
        return (t.type, t.index_type)
    if isinstance(t, Struct | Union):
        return tuple(m.type for m in t.members)
    if isinstance(t, FuncProto):
        return (t.return_type, *(p.type for p in t.params))
    if isinstance(t, Datasec):
        return tuple(v.type for v in t.vars)
    return ()


def is_modifier(t: BtfType) -> bool:
    return t.kind in (Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG)


def is_composite(t: BtfType) -> bool:
    return t.kind in (Kind.STRUCT, Kind.UNION)


def is_enum(t: BtfType) -> bool:
    return t.kind in (Kind.ENUM, Kind.ENUM64)
