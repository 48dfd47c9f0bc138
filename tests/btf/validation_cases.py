"""Hand-made BTF blobs, one per kernel rule that random blobs rarely reach."""

from __future__ import annotations

import struct
from collections.abc import Callable

from pybpf.btf import (
    Array,
    Btf,
    BtfType,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Float,
    Func,
    FuncProto,
    Int,
    Member,
    Param,
    Ptr,
    Struct,
    Typedef,
    TypeTag,
    Union,
    Var,
    VarSecinfo,
    Volatile,
    encode,
)

INT = Int(name="int", size=4, bits=32, encoding=1)


def blob(*types: BtfType) -> bytes:
    btf = Btf()
    for t in types:
        btf.add(t)
    return encode(btf, byte_order="little")


def _patch(raw: bytes, offset: int, value: int) -> bytes:
    out = bytearray(raw)
    struct.pack_into("<I", out, offset, value)
    return bytes(out)


def header(type_off: int, type_len: int, str_off: int, str_len: int) -> bytes:
    return struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, type_off, type_len, str_off, str_len)


def _chain(n: int) -> list[BtfType]:
    """int, then n typedefs each naming the previous one."""
    types: list[BtfType] = [INT]
    types += [Typedef(name=f"t{i}", type=i + 1) for i in range(n)]
    return types


CASES: dict[str, Callable[[], bytes]] = {
    # type tags come first in a modifier chain
    "tag_then_const_ok": lambda: blob(INT, Ptr(type=3), TypeTag(name="user", type=4), Const(type=1)),
    "const_then_tag_bad": lambda: blob(INT, Ptr(type=3), Const(type=4), TypeTag(name="user", type=1)),
    "typedef_then_tag_bad": lambda: blob(INT, Typedef(name="t", type=3), TypeTag(name="rcu", type=1)),
    "two_tags_then_volatile_ok": lambda: blob(
        INT, TypeTag(name="a", type=3), TypeTag(name="b", type=4), Volatile(type=1)
    ),
    "tag_const_tag_bad": lambda: blob(
        INT, TypeTag(name="a", type=3), Const(type=4), TypeTag(name="b", type=1)
    ),
    "tag_attr_ok": lambda: blob(INT, Ptr(type=3), TypeTag(name="address_space(1)", type=1, attr=True)),
    "decl_tag_attr_ok": lambda: blob(INT, Var(name="v", type=1, linkage=0),
                                     DeclTag(name="aligned(8)", type=2, attr=True)),
    "modifier_cycle": lambda: blob(INT, Const(type=3), Volatile(type=2)),
    "typedef_depth_33": lambda: blob(*_chain(33)),
    "typedef_depth_31": lambda: blob(*_chain(31)),
    "reverse_typedef_depth_33": lambda: blob(*[Typedef(name=f"t{i}", type=i + 2) for i in range(33)], INT),
    "reverse_typedef_depth_31": lambda: blob(*[Typedef(name=f"t{i}", type=i + 2) for i in range(31)], INT),
    "ptr_loop_ok": lambda: blob(Struct(name="s", size=8, members=(Member(name="n", type=2, offset=0),)), Ptr(type=1)),
    "struct_embeds_itself": lambda: blob(Struct(name="s", size=8, members=(Member(name="n", type=1, offset=0),))),
    # members
    "member_exceeds": lambda: blob(INT, Struct(name="s", size=2, members=(Member(name="a", type=1, offset=0),))),
    "member_ptr_exceeds": lambda: blob(INT, Ptr(type=1), Struct(name="s", size=4, members=(Member(name="p", type=2, offset=0),))),
    "member_ptr_unaligned": lambda: blob(INT, Ptr(type=1), Struct(name="s", size=16, members=(Member(name="p", type=2, offset=4),))),
    "kflag_bitfield_ok": lambda: blob(INT, Struct(name="s", size=4, kflag=True, members=(
        Member(name="a", type=1, offset=0, bitfield_size=3), Member(name="b", type=1, offset=3, bitfield_size=29)))),
    "kflag_bitfield_too_wide": lambda: blob(INT, Struct(name="s", size=8, kflag=True, members=(
        Member(name="a", type=1, offset=0, bitfield_size=33),))),
    "kflag_bitfield_exceeds": lambda: blob(INT, Struct(name="s", size=4, kflag=True, members=(
        Member(name="a", type=1, offset=30, bitfield_size=3),))),
    "kflag_ptr_bitfield": lambda: blob(INT, Ptr(type=1), Struct(name="s", size=8, kflag=True, members=(
        Member(name="p", type=2, offset=0, bitfield_size=3),))),
    "kflag_enum_bitfield_ok": lambda: blob(Enum(name="e", size=4), Struct(name="s", size=4, kflag=True, members=(
        Member(name="e", type=1, offset=2, bitfield_size=5),))),
    "kflag_enum_bitfield_too_wide": lambda: blob(Enum(name="e", size=4), Struct(name="s", size=8, kflag=True, members=(
        Member(name="e", type=1, offset=0, bitfield_size=40),))),
    "kflag_typedef_of_int": lambda: blob(INT, Typedef(name="t", type=1), Struct(name="s", size=4, kflag=True, members=(
        Member(name="a", type=2, offset=1, bitfield_size=4),))),
    "legacy_int_bitfield_ok": lambda: blob(Int(name="bf", size=4, bits=3, offset=2), Struct(name="s", size=4, members=(
        Member(name="a", type=1, offset=5),))),
    "legacy_int_copy_bits": lambda: blob(Int(name="w", size=16, bits=128), Struct(name="s", size=32, members=(
        Member(name="a", type=1, offset=3),))),
    "kflag_int_not_regular": lambda: blob(Int(name="bf", size=4, bits=3), Struct(name="s", size=4, kflag=True, members=(
        Member(name="a", type=1, offset=0, bitfield_size=2),))),
    "union_member_offset": lambda: blob(INT, Union(name="u", size=4, members=(Member(name="a", type=1, offset=8),))),
    "member_of_func_proto": lambda: blob(INT, FuncProto(return_type=1), Struct(name="s", size=8, members=(
        Member(name="f", type=2, offset=0),))),
    "member_typedef_of_void": lambda: blob(Typedef(name="v", type=0), Struct(name="s", size=8, members=(
        Member(name="f", type=1, offset=0),))),
    "member_float_unaligned": lambda: blob(
        Float(name="double", size=8), Struct(name="s", size=16, members=(Member(name="f", type=1, offset=32),))
    ),
    "member_float_ok": lambda: blob(
        Float(name="double", size=8), Struct(name="s", size=16, members=(Member(name="f", type=1, offset=64),))
    ),
    # arrays
    "array_of_bitfield_int": lambda: blob(INT, Int(name="bf", size=4, bits=3), Array(type=2, index_type=1, nelems=4)),
    "array_index_not_int": lambda: blob(INT, Ptr(type=1), Array(type=1, index_type=2, nelems=4)),
    "array_overflow": lambda: blob(INT, Array(type=1, index_type=1, nelems=0x40000000), Array(type=2, index_type=1, nelems=2)),
    "array_of_void_typedef": lambda: blob(INT, Typedef(name="v", type=0), Array(type=2, index_type=1, nelems=1)),
    # functions
    "func_ok": lambda: blob(INT, FuncProto(return_type=1, params=(Param(name="a", type=1),)), Func(name="f", type=2, linkage=1)),
    "func_unnamed_arg": lambda: blob(INT, FuncProto(return_type=1, params=(Param(name="", type=1),)), Func(name="f", type=2)),
    "func_not_proto": lambda: blob(INT, Func(name="f", type=1)),
    "func_extern_linkage": lambda: blob(INT, FuncProto(return_type=1), Func(name="f", type=2, linkage=2)),
    "proto_vararg_named": lambda: blob(INT, FuncProto(return_type=1, params=(Param(name="a", type=1), Param(name="b", type=0)))),
    "proto_void_middle": lambda: blob(INT, FuncProto(return_type=1, params=(Param(name="", type=0), Param(name="b", type=1)))),
    "proto_returns_func": lambda: blob(INT, FuncProto(return_type=1), Func(name="f", type=2), FuncProto(return_type=3)),
    "proto_arg_var": lambda: blob(INT, Var(name="v", type=1), FuncProto(return_type=1, params=(Param(name="a", type=2),))),
    # vars and sections
    "datasec_ok": lambda: blob(INT, Var(name="v", type=1, linkage=1), Datasec(name=".data", size=4, vars=(VarSecinfo(type=2, offset=0, size=4),))),
    "datasec_var_too_big": lambda: blob(INT, Var(name="v", type=1, linkage=1), Datasec(name=".data", size=4, vars=(VarSecinfo(type=2, offset=0, size=2),))),
    "datasec_sum_too_big": lambda: blob(INT, Var(name="v", type=1), Var(name="w", type=1), Datasec(name=".bss", size=4, vars=(
        VarSecinfo(type=2, offset=0, size=4), VarSecinfo(type=3, offset=0, size=4)))),
    "datasec_not_var": lambda: blob(INT, Datasec(name=".data", size=4, vars=(VarSecinfo(type=1, offset=0, size=4),))),
    "datasec_var_of_func": lambda: blob(INT, FuncProto(return_type=1), Var(name="v", type=2), Datasec(name=".data", size=4, vars=(
        VarSecinfo(type=3, offset=0, size=4),))),
    "datasec_var_later": lambda: blob(INT, Datasec(name=".data", size=8, vars=(VarSecinfo(type=3, offset=0, size=4),
                                                                          VarSecinfo(type=4, offset=4, size=4))),
                                      Var(name="v", type=1), Var(name="w", type=5), Ptr(type=1)),
    "datasec_space_name": lambda: blob(INT, Var(name="v", type=1), Datasec(name="a section", size=4, vars=(VarSecinfo(type=2, offset=0, size=4),))),
    "var_of_fwd": lambda: blob(INT, Var(name="v", type=3), Typedef(name="t", type=0)),
    "var_extern": lambda: blob(INT, Var(name="v", type=1, linkage=2)),
    # decl tags
    "decl_tag_member_ok": lambda: blob(INT, Struct(name="s", size=4, members=(Member(name="a", type=1, offset=0),)), DeclTag(name="t", type=2, component_idx=0)),
    "decl_tag_member_out_of_range": lambda: blob(INT, Struct(name="s", size=4, members=(Member(name="a", type=1, offset=0),)), DeclTag(name="t", type=2, component_idx=1)),
    "decl_tag_param_ok": lambda: blob(INT, FuncProto(return_type=1, params=(Param(name="a", type=1),)), Func(name="f", type=2), DeclTag(name="t", type=3, component_idx=0)),
    "decl_tag_on_int": lambda: blob(INT, DeclTag(name="t", type=1)),
    "decl_tag_var_component": lambda: blob(INT, Var(name="v", type=1), DeclTag(name="t", type=2, component_idx=0)),
    # names
    "latin1_identifier": lambda: blob(Int(name="\udce9t\udce9", size=4, bits=32)),
    "long_identifier_512": lambda: blob(Typedef(name="a" * 512, type=0)),
    "long_identifier_513": lambda: blob(Typedef(name="a" * 513, type=0)),
    # header and sections
    "hdr_len_32_zero_tail": lambda: (lambda r: r[:4] + struct.pack("<I", 32) + r[8:24] + bytes(8) + r[24:])(blob(INT)),
    "hdr_len_32_nonzero_tail": lambda: (lambda r: r[:4] + struct.pack("<I", 32) + r[8:24] + b"\1" + bytes(7) + r[24:])(blob(INT)),
    "hdr_len_4": lambda: _patch(blob(INT), 4, 4),
    "strings_not_at_end": lambda: blob(INT) + b"\0",
    "strings_no_leading_nul": lambda: (lambda r: r[:-5] + b"int\0\0")(blob(INT)),
    "strings_no_trailing_nul": lambda: (lambda r: r[:-1] + b"x")(blob(INT)),
    "unaligned_type_off": lambda: header(5, 0, 0, 5) + b"\0int\0",
    "no_types": lambda: header(4, 0, 0, 4) + b"\0ab\0",
    "big_endian_blob": lambda: encode((lambda b: (b.add(INT), b)[1])(Btf()), byte_order="big"),
    "empty": lambda: b"",
}
