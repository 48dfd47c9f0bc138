"""The BTF blob layout: the header, the type section as 32-bit words, one record per type.

Both byte orders are read (libbpf swaps a foreign-endian blob whose header is exactly
24 bytes); records are decoded into the dataclasses of :mod:`.types` and encoded back.
"""

from __future__ import annotations

import errno
import struct
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import BpfError
from .kinds import HEADER_SIZE, KIND_MAX, MAGIC, Kind, record_words
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
    Void,
    Volatile,
)

NATIVE = sys.byteorder
_Names = Callable[[int], str]


@dataclass(frozen=True, slots=True)
class Header:
    """The fixed part of a BTF blob (the section offsets count from the header's end)."""

    magic: int
    version: int
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int
    byte_order: str = "little"

    def pack(self) -> bytes:
        fmt = "<HBBIIIII" if self.byte_order == "little" else ">HBBIIIII"
        return struct.pack(
            fmt, self.magic, self.version, self.flags, HEADER_SIZE,
            self.type_off, self.type_len, self.str_off, self.str_len,
        )  # fmt: skip


def _bad(msg: str) -> BpfError:
    return BpfError(errno.EINVAL, msg)


def read_header(raw: bytes) -> Header:
    """The header, in the blob's own byte order, checked as libbpf checks it."""
    if len(raw) < HEADER_SIZE:
        raise _bad("BTF header not found")
    (magic,) = struct.unpack_from("<H", raw)
    if magic == MAGIC:
        order, fmt = "little", "<HBBIIIII"
    elif magic == 0x9FEB:
        order, fmt = "big", ">HBBIIIII"
    else:
        raise _bad(f"Invalid BTF magic: {magic:x}")
    m, ver, flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(fmt, raw)
    hdr = Header(m, ver, flags, hdr_len, type_off, type_len, str_off, str_len, order)
    if order != NATIVE and hdr.hdr_len != HEADER_SIZE:
        raise BpfError(
            errno.ENOTSUP,
            f"Can't load BTF with non-native endianness due to unsupported header length {hdr.hdr_len}",
        )
    if hdr.hdr_len < HEADER_SIZE or len(raw) < hdr.hdr_len:
        raise _bad(f"BTF header len {hdr.hdr_len} larger than data size {len(raw)}")
    if len(raw) - hdr.hdr_len < hdr.str_off + hdr.str_len:
        raise _bad(f"Invalid BTF total size: {len(raw)}")
    if hdr.type_off + hdr.type_len > hdr.str_off:
        raise _bad(
            f"Invalid BTF data sections layout: type data at {hdr.type_off} + {hdr.type_len}, "
            f"strings data at {hdr.str_off} + {hdr.str_len}"
        )
    if hdr.type_off % 4:
        raise _bad("BTF type section is not aligned to 4 bytes")
    return hdr


def words_of(data: bytes, byte_order: str) -> array[int]:
    """A type section as native 32-bit words."""
    if len(data) % 4:
        raise _bad("BTF type section length is not a multiple of 4 bytes")
    w = array("I")
    w.frombytes(data)
    if byte_order != NATIVE:
        w.byteswap()
    return w


def scan_records(w: array[int]) -> array[int]:
    """The word offset of every record; BpfError for an unknown kind or a cut record."""
    offs = array("I")
    append = offs.append
    i = 0
    end = len(w)
    fixed = (0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0)
    per = (0, 0, 0, 0, 3, 3, 2, 0, 0, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 3)
    while i < end:
        if end - i < 3:
            raise _bad(f"BTF type [{len(offs) + 1}] is truncated")
        info = w[i + 1]
        kind = (info >> 24) & 0x1F
        if kind == 0 or kind > KIND_MAX:
            raise _bad(f"BTF type [{len(offs) + 1}]: unknown kind {kind}")
        append(i)
        i += 3 + fixed[kind] + per[kind] * (info & 0xFFFF)
    if i != end:
        raise _bad(f"BTF type [{len(offs)}] is truncated")
    return offs


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _d_int(w: array[int], i: int, name: _Names) -> BtfType:
    data = w[i + 3]
    return Int(name=name(w[i]), size=w[i + 2], bits=data & 0xFF,
               offset=(data >> 16) & 0xFF, encoding=(data >> 24) & 0x0F)  # fmt: skip


def _d_ptr(w: array[int], i: int, name: _Names) -> BtfType:
    return Ptr(type=w[i + 2], name=name(w[i]))


def _d_array(w: array[int], i: int, name: _Names) -> BtfType:
    return Array(type=w[i + 3], index_type=w[i + 4], nelems=w[i + 5], name=name(w[i]))


def _members(w: array[int], i: int, name: _Names) -> tuple[tuple[Member, ...], bool]:
    info = w[i + 1]
    kflag = bool(info >> 31)
    out = []
    for m in range(i + 3, i + 3 + 3 * (info & 0xFFFF), 3):
        off = w[m + 2]
        if kflag:
            out.append(Member(name=name(w[m]), type=w[m + 1], offset=off & 0xFFFFFF,
                              bitfield_size=off >> 24))  # fmt: skip
        else:
            out.append(Member(name=name(w[m]), type=w[m + 1], offset=off))
    return tuple(out), kflag


def _d_struct(w: array[int], i: int, name: _Names) -> BtfType:
    members, kflag = _members(w, i, name)
    return Struct(name=name(w[i]), size=w[i + 2], members=members, kflag=kflag)


def _d_union(w: array[int], i: int, name: _Names) -> BtfType:
    members, kflag = _members(w, i, name)
    return Union(name=name(w[i]), size=w[i + 2], members=members, kflag=kflag)


def _d_enum(w: array[int], i: int, name: _Names) -> BtfType:
    info = w[i + 1]
    signed = bool(info >> 31)
    conv = _s32 if signed else int
    values = tuple(
        EnumValue(name=name(w[m]), value=conv(w[m + 1]))
        for m in range(i + 3, i + 3 + 2 * (info & 0xFFFF), 2)
    )
    return Enum(name=name(w[i]), size=w[i + 2], values=values, signed=signed)


def _d_enum64(w: array[int], i: int, name: _Names) -> BtfType:
    info = w[i + 1]
    signed = bool(info >> 31)
    vals = []
    for m in range(i + 3, i + 3 + 3 * (info & 0xFFFF), 3):
        v = w[m + 1] | (w[m + 2] << 32)
        if signed and v >> 63:
            v -= 1 << 64
        vals.append(EnumValue(name=name(w[m]), value=v))
    return Enum64(name=name(w[i]), size=w[i + 2], values=tuple(vals), signed=signed)


def _d_fwd(w: array[int], i: int, name: _Names) -> BtfType:
    return Fwd(name=name(w[i]), union=bool(w[i + 1] >> 31))


def _d_typedef(w: array[int], i: int, name: _Names) -> BtfType:
    return Typedef(name=name(w[i]), type=w[i + 2])


def _d_volatile(w: array[int], i: int, name: _Names) -> BtfType:
    return Volatile(type=w[i + 2], name=name(w[i]))


def _d_const(w: array[int], i: int, name: _Names) -> BtfType:
    return Const(type=w[i + 2], name=name(w[i]))


def _d_restrict(w: array[int], i: int, name: _Names) -> BtfType:
    return Restrict(type=w[i + 2], name=name(w[i]))


def _d_func(w: array[int], i: int, name: _Names) -> BtfType:
    return Func(name=name(w[i]), type=w[i + 2], linkage=w[i + 1] & 0xFFFF)


def _d_func_proto(w: array[int], i: int, name: _Names) -> BtfType:
    n = w[i + 1] & 0xFFFF
    params = tuple(Param(name=name(w[m]), type=w[m + 1]) for m in range(i + 3, i + 3 + 2 * n, 2))
    return FuncProto(return_type=w[i + 2], params=params, name=name(w[i]))


def _d_var(w: array[int], i: int, name: _Names) -> BtfType:
    return Var(name=name(w[i]), type=w[i + 2], linkage=w[i + 3])


def _d_datasec(w: array[int], i: int, name: _Names) -> BtfType:
    n = w[i + 1] & 0xFFFF
    secs = tuple(
        VarSecinfo(type=w[m], offset=w[m + 1], size=w[m + 2]) for m in range(i + 3, i + 3 + 3 * n, 3)
    )
    return Datasec(name=name(w[i]), size=w[i + 2], vars=secs)


def _d_float(w: array[int], i: int, name: _Names) -> BtfType:
    return Float(name=name(w[i]), size=w[i + 2])


def _d_decl_tag(w: array[int], i: int, name: _Names) -> BtfType:
    return DeclTag(name=name(w[i]), type=w[i + 2], component_idx=_s32(w[i + 3]),
                   attr=bool(w[i + 1] >> 31))  # fmt: skip


def _d_type_tag(w: array[int], i: int, name: _Names) -> BtfType:
    return TypeTag(name=name(w[i]), type=w[i + 2], attr=bool(w[i + 1] >> 31))


def _d_unknown(w: array[int], i: int, name: _Names) -> BtfType:
    raise _bad(f"unknown BTF kind {(w[i + 1] >> 24) & 0x1F}")


_DECODERS: tuple[Callable[[array[int], int, _Names], BtfType], ...] = (
    _d_unknown, _d_int, _d_ptr, _d_array, _d_struct, _d_union, _d_enum, _d_fwd, _d_typedef,
    _d_volatile, _d_const, _d_restrict, _d_func, _d_func_proto, _d_var, _d_datasec, _d_float,
    _d_decl_tag, _d_type_tag, _d_enum64, *([_d_unknown] * 12),
)  # fmt: skip


def decode_record(w: array[int], i: int, name: _Names) -> BtfType:
    """The type whose record starts at word ``i``; ``name`` maps string offsets to names."""
    return _DECODERS[(w[i + 1] >> 24) & 0x1F](w, i, name)


def _info(kind: int, vlen: int, kflag: bool) -> int:
    if not 0 <= vlen <= 0xFFFF:
        raise _bad(f"BTF {Kind(kind).name} has {vlen} entries; at most 65535 fit")
    return (kind << 24) | vlen | (0x80000000 if kflag else 0)


def encode_record(t: BtfType, stroff: Callable[[str], int]) -> list[int]:
    """The 32-bit words of ``t``'s record; ``stroff`` gives a name's string offset."""
    u32 = 0xFFFFFFFF
    if isinstance(t, Int):
        data = ((t.encoding & 0x0F) << 24) | ((t.offset & 0xFF) << 16) | (t.bits & 0xFF)
        return [stroff(t.name), _info(Kind.INT, 0, False), t.size, data]
    if isinstance(t, Ptr | Volatile | Const | Restrict):
        return [stroff(t.name), _info(t.kind, 0, False), t.type]
    if isinstance(t, Typedef):
        return [stroff(t.name), _info(t.kind, 0, False), t.type]
    if isinstance(t, TypeTag):
        return [stroff(t.name), _info(t.kind, 0, t.attr), t.type]
    if isinstance(t, Array):
        return [stroff(t.name), _info(Kind.ARRAY, 0, False), 0, t.type, t.index_type, t.nelems]
    if isinstance(t, Struct | Union):
        out = [stroff(t.name), _info(t.kind, len(t.members), t.kflag), t.size]
        for m in t.members:
            off = (m.bitfield_size << 24) | (m.offset & 0xFFFFFF) if t.kflag else m.offset
            out += [stroff(m.name), m.type, off & u32]
        return out
    if isinstance(t, Enum):
        out = [stroff(t.name), _info(Kind.ENUM, len(t.values), t.signed), t.size]
        for v in t.values:
            out += [stroff(v.name), v.value & u32]
        return out
    if isinstance(t, Enum64):
        out = [stroff(t.name), _info(Kind.ENUM64, len(t.values), t.signed), t.size]
        for v in t.values:
            val = v.value & 0xFFFFFFFFFFFFFFFF
            out += [stroff(v.name), val & u32, val >> 32]
        return out
    if isinstance(t, Fwd):
        return [stroff(t.name), _info(Kind.FWD, 0, t.union), 0]
    if isinstance(t, Func):
        return [stroff(t.name), _info(Kind.FUNC, t.linkage, False), t.type]
    if isinstance(t, FuncProto):
        out = [stroff(t.name), _info(Kind.FUNC_PROTO, len(t.params), False), t.return_type]
        for p in t.params:
            out += [stroff(p.name), p.type]
        return out
    if isinstance(t, Var):
        return [stroff(t.name), _info(Kind.VAR, 0, False), t.type, t.linkage]
    if isinstance(t, Datasec):
        out = [stroff(t.name), _info(Kind.DATASEC, len(t.vars), False), t.size]
        for sec in t.vars:
            out += [sec.type, sec.offset, sec.size]
        return out
    if isinstance(t, Float):
        return [stroff(t.name), _info(Kind.FLOAT, 0, False), t.size]
    if isinstance(t, DeclTag):
        return [stroff(t.name), _info(Kind.DECL_TAG, 0, t.attr), t.type, t.component_idx & u32]
    if isinstance(t, Void):
        raise _bad("void (type id 0) has no record")
    raise _bad(f"cannot encode {type(t).__name__}")


def pack_words(words: list[int] | array[int], byte_order: str) -> bytes:
    try:
        w = array("I", words)
    except OverflowError:
        raise _bad("a BTF field does not fit in 32 bits") from None
    if byte_order != NATIVE:
        w.byteswap()
    return w.tobytes()


__all__ = [
    "NATIVE",
    "Header",
    "decode_record",
    "encode_record",
    "pack_words",
    "read_header",
    "record_words",
    "scan_records",
    "words_of",
]
