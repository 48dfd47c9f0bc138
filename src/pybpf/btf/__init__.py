"""BTF, the BPF Type Format: types, parse/encode, validation, dumps, .BTF.ext and CO-RE.

Imports nothing of pybpf but :mod:`pybpf.errors`.
"""

from __future__ import annotations

from .btf import Btf
from .encode import encode
from .kinds import FuncLinkage, IntEncoding, Kind, VarLinkage
from .parse import parse
from .types import (
    VOID,
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
    Void,
    Volatile,
)

__all__ = [
    "VOID",
    "Array",
    "Btf",
    "BtfType",
    "Const",
    "Datasec",
    "DeclTag",
    "Enum",
    "Enum64",
    "EnumValue",
    "Float",
    "Func",
    "FuncLinkage",
    "FuncProto",
    "Fwd",
    "Int",
    "IntEncoding",
    "Kind",
    "Member",
    "Param",
    "Ptr",
    "Restrict",
    "Struct",
    "TypeTag",
    "Typedef",
    "Union",
    "Var",
    "VarLinkage",
    "VarSecinfo",
    "Void",
    "Volatile",
    "encode",
    "parse",
]
