"""BTF, the BPF Type Format: types, parse/encode, validation, dumps, .BTF.ext and CO-RE.

Imports nothing of pybpf but :mod:`pybpf.errors`.  The pieces:

* :mod:`.types` the model, :class:`Btf` the container, :func:`parse`/:func:`encode`;
* :mod:`.validate` the kernel's BPF_BTF_LOAD rules and log (:func:`check`);
* :mod:`.resolve` sizes, alignment, members; :mod:`.builder` types from code;
* :mod:`.dump_raw`, :mod:`.dump_c` bpftool's dumps; :mod:`.ext` ``.BTF.ext``;
* :mod:`.core` CO-RE relocations; :mod:`.fixup` libbpf's DATASEC fix-ups;
* :mod:`.files` BTF from ELF objects and /sys/kernel/btf.
"""

from __future__ import annotations

from .btf import Btf
from .builder import BtfBuilder, Field
from .dump_c import c_type_name, dump_c
from .dump_raw import dump_json, dump_raw
from .encode import encode
from .ext import BtfExt, CoreRelo, CoreReloKind, FuncInfo, LineInfo, find_line, parse_ext
from .files import load_file, load_vmlinux
from .fixup import VarSymbol, fixup_datasecs
from .kinds import FuncLinkage, IntEncoding, Kind, VarLinkage
from .parse import parse
from .resolve import align_of, find_member, member_location, resolve_size, skip_modifiers
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
    "BtfBuilder",
    "BtfExt",
    "BtfType",
    "Const",
    "CoreRelo",
    "CoreReloKind",
    "Datasec",
    "DeclTag",
    "Enum",
    "Enum64",
    "EnumValue",
    "Field",
    "Float",
    "Func",
    "FuncInfo",
    "FuncLinkage",
    "FuncProto",
    "Fwd",
    "Int",
    "IntEncoding",
    "Kind",
    "LineInfo",
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
    "VarSymbol",
    "Void",
    "Volatile",
    "align_of",
    "c_type_name",
    "dump_c",
    "dump_json",
    "dump_raw",
    "encode",
    "find_line",
    "find_member",
    "fixup_datasecs",
    "load_file",
    "load_vmlinux",
    "member_location",
    "parse",
    "parse_ext",
    "resolve_size",
    "skip_modifiers",
]
