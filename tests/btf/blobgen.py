"""Deterministic generator of near-valid BTF blobs for differential tests of validation.

Each blob starts as a plausible set of types (mostly what clang emits) and then gets
zero to three targeted corruptions: a field set to an edge value, a reference bent to
another type, a header field changed, bytes cut off.  The kernel's verdict on each is
recorded once (``record_kernel_verdicts``) and pybpf must agree with it.
"""

from __future__ import annotations

import random
import struct

from pybpf.btf import (
    Array,
    Btf,
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
    encode,
)

NAMES = ["a", "b", "x", "foo", "bar_1", "_t", ".sec", "int", "s", "u", "9bad", "b-d", "é", "tag"]


def _name(r: random.Random, valid: float = 0.95) -> str:
    if r.random() < valid:
        return r.choice(NAMES[:8])
    return r.choice(NAMES[8:])


def _ref(r: random.Random, n: int) -> int:
    return r.randrange(0, n + 2) if r.random() < 0.1 else r.randrange(1, max(2, n + 1))


def random_type(r: random.Random, n: int) -> BtfType:
    """One type for a BTF of about ``n`` types (references mostly in range)."""
    k = r.randrange(19)
    if k == 0:
        size = r.choice([1, 2, 4, 8, 16])
        return Int(name=r.choice(["int", "char", "u", "long"]), size=size,
                   bits=r.choice([size * 8, size * 8, 3, 0]), encoding=r.choice([0, 1, 2, 4]))  # fmt: skip
    if k == 1:
        return Ptr(type=_ref(r, n) if r.random() < 0.8 else 0)
    if k == 2:
        return Array(type=_ref(r, n), index_type=_ref(r, n), nelems=r.choice([0, 1, 4, 100]))
    if k in (3, 4):
        cls = Struct if k == 3 else Union
        kflag = r.random() < 0.3
        members = []
        off = 0
        for _ in range(r.randrange(0, 4)):
            bits = r.choice([0, 0, 3, 8]) if kflag else 0
            members.append(Member(name=_name(r), type=_ref(r, n), offset=off if k == 3 else 0,
                                  bitfield_size=bits))  # fmt: skip
            off += bits if bits else r.choice([8, 32, 64])
        return cls(name=_name(r) if r.random() < 0.7 else "", size=r.choice([4, 8, 16, 32, 64]),
                   members=tuple(members), kflag=kflag)  # fmt: skip
    if k == 5:
        vals = tuple(EnumValue(name=_name(r), value=r.choice([0, 1, -1, 7])) for _ in range(r.randrange(3)))
        signed = r.random() < 0.5
        vals = tuple(EnumValue(name=v.name, value=v.value & 0xFFFFFFFF if not signed else v.value) for v in vals)
        return Enum(name=_name(r), size=r.choice([4, 4, 1, 8, 3]), values=vals, signed=signed)
    if k == 6:
        signed = r.random() < 0.5
        vals = tuple(EnumValue(name=_name(r), value=r.choice([0, 1 << 40, -5 if signed else 5]))
                     for _ in range(r.randrange(3)))  # fmt: skip
        return Enum64(name=_name(r), size=r.choice([8, 8, 4]), values=vals, signed=signed)
    if k == 7:
        return Fwd(name=_name(r), union=r.random() < 0.5)
    if k == 8:
        return Typedef(name=_name(r), type=_ref(r, n))
    if k == 9:
        return Volatile(type=_ref(r, n))
    if k == 10:
        return Const(type=_ref(r, n))
    if k == 11:
        return Restrict(type=_ref(r, n))
    if k == 12:
        return Func(name=_name(r), type=_ref(r, n), linkage=r.choice([0, 1, 1, 2]))
    if k == 13:
        params = [Param(name=_name(r) if r.random() < 0.8 else "", type=_ref(r, n)) for _ in range(r.randrange(3))]
        if r.random() < 0.2:
            params.append(Param(name="", type=0))
        return FuncProto(return_type=_ref(r, n) if r.random() < 0.7 else 0, params=tuple(params))
    if k == 14:
        return Var(name=_name(r), type=_ref(r, n), linkage=r.choice([0, 1, 1, 2]))
    if k == 15:
        secs = []
        off = 0
        for _ in range(r.randrange(1, 3)):
            size = r.choice([4, 8])
            secs.append(VarSecinfo(type=_ref(r, n), offset=off, size=size))
            off += size
        return Datasec(name=r.choice([".data", ".bss", "license", ".maps"]), size=max(off, 4) + r.choice([0, 0, 4]),
                       vars=tuple(secs))  # fmt: skip
    if k == 16:
        return Float(name="float", size=r.choice([4, 8, 16, 3]))
    if k == 17:
        return DeclTag(name=r.choice(["tag", "kptr", ""]), type=_ref(r, n),
                       component_idx=r.choice([-1, -1, 0, 1, 5, -2]), attr=r.random() < 0.1)  # fmt: skip
    return TypeTag(name=r.choice(["user", "rcu", "percpu"]), type=_ref(r, n), attr=r.random() < 0.1)


def _corrupt(r: random.Random, raw: bytearray) -> bytearray:
    """One change in the encoded blob: a header field, a word of the type section, a cut."""
    choice = r.randrange(24)
    if choice == 0 and len(raw) > 24:
        field_at = r.choice([0, 2, 3, 4, 8, 12, 16, 20])
        if field_at in (2, 3):
            raw[field_at] = r.choice([0, 1, 2, 0xFF])
        elif field_at == 0:
            raw[0:2] = r.choice([b"\x9f\xeb", b"\xeb\x9f", b"\0\0"])
        else:
            old = struct.unpack_from("<I", raw, field_at)[0]
            struct.pack_into("<I", raw, field_at, max(0, old + r.choice([-8, -4, -1, 1, 4, 8, 28])) & 0xFFFFFFFF)
        return raw
    if choice == 1:
        return raw[: r.randrange(0, len(raw) + 1)]
    if choice == 2:
        return raw + bytes(r.choice([1, 4, 8]))
    if len(raw) < 28:
        return raw
    (type_len,) = struct.unpack_from("<I", raw, 12)
    type_len = min(type_len, len(raw) - 24)
    if type_len < 4:
        return raw
    pos = 24 + 4 * r.randrange(type_len // 4)
    old = struct.unpack_from("<I", raw, pos)[0]
    new = r.choice([0, 1, 2, old + 1, old - 1, old ^ 0x80000000, old ^ (1 << 24), old | 0xFFFF,
                    0xFFFFFFFF, old ^ 0x1000000, 0x100000])  # fmt: skip
    struct.pack_into("<I", raw, pos, new & 0xFFFFFFFF)
    return raw


def blob(seed: int) -> bytes:
    """The blob of a given seed (stable across runs and Python versions)."""
    r = random.Random(seed)
    n = r.randrange(1, 9)
    btf = Btf()
    if r.random() < 0.7:
        btf.add(Int(name="int", size=4, bits=32, encoding=1))
    while btf.own_count < n:
        btf.add(random_type(r, n))
    raw = bytearray(encode(btf, byte_order="little"))
    for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
        raw = _corrupt(r, raw)
    return bytes(raw)
