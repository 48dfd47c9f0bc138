"""A small library of BTF types that map-creation tests describe keys and values with.

:func:`library` builds one :class:`pybpf.btf.Btf` holding every named type; the kernel
gets it encoded (``BPF_BTF_LOAD``), pybpf gets :func:`pybpf.maps.describe_map_btf` of
the same ids, so both judge the same types.
"""

from __future__ import annotations

from functools import cache

from pybpf.btf import (
    Array,
    Btf,
    Datasec,
    Fwd,
    Int,
    IntEncoding,
    Member,
    Ptr,
    Struct,
    Typedef,
    TypeTag,
    Var,
    VarLinkage,
    VarSecinfo,
    encode,
)
from pybpf.maps import MapBtf, describe_map_btf


@cache
def library() -> tuple[Btf, dict[str, int]]:
    """The shared BTF and the ids of its named types."""
    b = Btf()
    ids: dict[str, int] = {}

    def add(name: str, t: object) -> int:
        ids[name] = b.add(t)  # type: ignore[arg-type]
        return ids[name]

    u8 = add("u8", Int(name="unsigned char", size=1, bits=8))
    u16 = add("u16", Int(name="unsigned short", size=2, bits=16))
    u32 = add("u32", Int(name="unsigned int", size=4, bits=32))
    u64 = add("u64", Int(name="unsigned long long", size=8, bits=64))
    add("s32", Int(name="int", size=4, bits=32, encoding=IntEncoding.SIGNED))
    add("int24", Int(name="int24", size=4, bits=24))
    add("int_off", Int(name="int_off", size=4, bits=16, offset=8))
    add("typedef_u32", Typedef(name="__u32", type=u32))
    idx = u32
    add("u8x4", Array(type=u8, index_type=idx, nelems=4))
    add("u8x8", Array(type=u8, index_type=idx, nelems=8))
    add("u16x2", Array(type=u16, index_type=idx, nelems=2))
    add("u64x8", Array(type=u64, index_type=idx, nelems=8))
    add("lpm_key", Struct(name="lpm_key", size=8, members=(
        Member(name="prefixlen", type=u32, offset=0),
        Member(name="data", type=ids["u8x4"], offset=32))))
    add("cg_key", Struct(name="bpf_cgroup_storage_key", size=16, members=(
        Member(name="cgroup_inode_id", type=u64, offset=0),
        Member(name="attach_type", type=u32, offset=64))))
    add("cg_key_swapped", Struct(name="cg_key_swapped", size=16, members=(
        Member(name="attach_type", type=u32, offset=0),
        Member(name="cgroup_inode_id", type=u64, offset=64))))
    add("cg_key_three", Struct(name="cg_key_three", size=16, members=(
        Member(name="cgroup_inode_id", type=u64, offset=0),
        Member(name="attach_type", type=u32, offset=64),
        Member(name="pad", type=u32, offset=96))))
    add("val8", Struct(name="val8", size=8, members=(Member(name="x", type=u64, offset=0),)))
    add("val4", Struct(name="val4", size=4, members=(Member(name="x", type=u32, offset=0),)))
    lock = add("spin_lock", Struct(name="bpf_spin_lock", size=4, members=(
        Member(name="val", type=u32, offset=0),)))
    timer = add("timer", Struct(name="bpf_timer", size=16, members=(
        Member(name="a", type=u64, offset=0), Member(name="b", type=u64, offset=64))))
    add("val_lock", Struct(name="val_lock", size=8, members=(
        Member(name="lock", type=lock, offset=0), Member(name="x", type=u32, offset=32))))
    add("val_timer", Struct(name="val_timer", size=16, members=(
        Member(name="t", type=timer, offset=0),)))
    add("val_nested_lock", Struct(name="val_nested_lock", size=16, members=(
        Member(name="x", type=u64, offset=0), Member(name="in", type=ids["val_lock"],
                                                     offset=64))))
    tag = add("kptr_tag", TypeTag(name="kptr_untrusted", type=ids["val8"]))
    kp = add("kptr_ptr", Ptr(type=tag))
    add("val_kptr", Struct(name="val_kptr", size=8, members=(
        Member(name="p", type=kp, offset=0),)))
    add("fwd", Fwd(name="opaque"))
    add("ptr_u32", Ptr(type=u32))
    var = add("bss_var", Var(name="counter", type=u32, linkage=VarLinkage.GLOBAL_ALLOCATED))
    add("datasec", Datasec(name=".bss", size=4, vars=(VarSecinfo(type=var, offset=0, size=4),)))
    return b, ids


def blob() -> bytes:
    return encode(library()[0])


def type_id(name: str | None) -> int:
    return 0 if name is None else library()[1][name]


def map_btf(key: str | None, value: str | None) -> MapBtf:
    """pybpf's description of the library types ``key`` and ``value`` (None: id 0)."""
    b, _ = library()
    return describe_map_btf(b, type_id(key), type_id(value))
