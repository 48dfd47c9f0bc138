"""Hypothesis strategies for BTF types and whole Btf objects (well-formed layouts)."""

from __future__ import annotations

import functools

from hypothesis import strategies as st

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
)

names = st.one_of(
    st.sampled_from(["", "", "int", "x", "foo", "_t", ".data", "bar_1"]),
    st.text(alphabet="abcXYZ_.09", min_size=1, max_size=8),
)
u32 = st.integers(0, 0xFFFFFFFF)
small = st.integers(0, 64)


@functools.cache
def type_strategy(max_id: int) -> st.SearchStrategy[BtfType]:
    ref = st.integers(0, max_id)
    members = st.lists(
        st.builds(Member, name=names, type=ref, offset=st.integers(0, 0xFFFFFF),
                  bitfield_size=st.integers(0, 255)),
        max_size=4,
    )  # fmt: skip

    def composite(cls: type, kflag: bool) -> st.SearchStrategy[BtfType]:
        ms = members if kflag else st.lists(
            st.builds(Member, name=names, type=ref, offset=u32), max_size=4
        )
        return st.builds(lambda n, s, m: cls(name=n, size=s, members=tuple(m), kflag=kflag), names, u32, ms)

    enum32 = st.one_of(
        st.builds(lambda n, s, v: Enum(name=n, size=s, values=tuple(EnumValue(name=a, value=b) for a, b in v), signed=True),
                  names, small, st.lists(st.tuples(names, st.integers(-(2**31), 2**31 - 1)), max_size=3)),
        st.builds(lambda n, s, v: Enum(name=n, size=s, values=tuple(EnumValue(name=a, value=b) for a, b in v), signed=False),
                  names, small, st.lists(st.tuples(names, u32), max_size=3)),
    )  # fmt: skip
    enum64 = st.one_of(
        st.builds(lambda n, s, v: Enum64(name=n, size=s, values=tuple(EnumValue(name=a, value=b) for a, b in v), signed=True),
                  names, small, st.lists(st.tuples(names, st.integers(-(2**63), 2**63 - 1)), max_size=3)),
        st.builds(lambda n, s, v: Enum64(name=n, size=s, values=tuple(EnumValue(name=a, value=b) for a, b in v), signed=False),
                  names, small, st.lists(st.tuples(names, st.integers(0, 2**64 - 1)), max_size=3)),
    )  # fmt: skip
    return st.one_of(
        st.builds(Int, name=names, size=small, bits=st.integers(0, 255), encoding=st.integers(0, 15),
                  offset=st.integers(0, 255)),
        st.builds(Ptr, type=ref, name=names),
        st.builds(Array, type=ref, index_type=ref, nelems=u32, name=names),
        composite(Struct, False), composite(Struct, True), composite(Union, False), composite(Union, True),
        enum32, enum64,
        st.builds(Fwd, name=names, union=st.booleans()),
        st.builds(Typedef, name=names, type=ref),
        st.builds(Volatile, type=ref, name=names),
        st.builds(Const, type=ref, name=names),
        st.builds(Restrict, type=ref, name=names),
        st.builds(TypeTag, name=names, type=ref, attr=st.booleans()),
        st.builds(Func, name=names, type=ref, linkage=st.integers(0, 0xFFFF)),
        st.builds(lambda r, p, n: FuncProto(return_type=r, params=tuple(Param(name=a, type=b) for a, b in p), name=n),
                  ref, st.lists(st.tuples(names, ref), max_size=4), names),
        st.builds(Var, name=names, type=ref, linkage=u32),
        st.builds(lambda n, s, v: Datasec(name=n, size=s, vars=tuple(VarSecinfo(type=a, offset=b, size=c) for a, b, c in v)),
                  names, u32, st.lists(st.tuples(ref, u32, u32), max_size=3)),
        st.builds(Float, name=names, size=small),
        st.builds(DeclTag, name=names, type=ref, component_idx=st.integers(-(2**31), 2**31 - 1), attr=st.booleans()),
    )  # fmt: skip


@st.composite
def btfs(draw: st.DrawFn, max_types: int = 12, base: Btf | None = None) -> Btf:
    n = draw(st.integers(0 if base else 1, max_types))
    btf = Btf(base=base)
    total = len(btf) + n - 1
    for _ in range(n):
        btf.add(draw(type_strategy(total)))
    return btf
