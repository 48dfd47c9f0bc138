"""An ops struct's layout from pybpf's kernel BTF: the members struct_ops checks, and
the wrapper value struct ``bpf_struct_ops_<name>`` the map holds."""

from __future__ import annotations

from ..btf import Array, Ptr, Struct, resolve_size
from ..btf.resolve import skip_modifiers
from ..btf.types import FuncProto
from ..kernel.vmlinux import kernel_btf, struct_id
from ..maps.struct_ops import OpsMember, ValueLayout


def is_func_ptr(type_id: int) -> bool:
    btf = kernel_btf()
    t = btf[skip_modifiers(btf, type_id)]
    if not isinstance(t, Ptr):
        return False
    return isinstance(btf[skip_modifiers(btf, t.type)], FuncProto)


def _is_module_ptr(type_id: int) -> bool:
    btf = kernel_btf()
    t = btf[skip_modifiers(btf, type_id)]
    if not isinstance(t, Ptr):
        return False
    return btf.name_of(skip_modifiers(btf, t.type)) == "module"


def ops_members(ops: str) -> tuple[OpsMember, ...]:
    btf = kernel_btf()
    t = btf[struct_id(ops)]
    assert isinstance(t, Struct)
    out = []
    for i, m in enumerate(t.members):
        size = resolve_size(btf, m.type)
        out.append(OpsMember(m.name, i, m.offset // 8, size, is_func_ptr(m.type), _is_module_ptr(m.type)))
    return tuple(out)


def value_layout(ops: str) -> ValueLayout:
    """The wrapper struct's size, where the ops struct sits in it, and its members."""
    btf = kernel_btf()
    v = btf[struct_id(f"bpf_struct_ops_{ops}")]
    t = btf[struct_id(ops)]
    assert isinstance(v, Struct) and isinstance(t, Struct)
    data = next(m for m in v.members if m.name == "data")
    return ValueLayout(v.size, data.offset // 8, t.size, ops_members(ops))


def member_named(ops: str, name: str) -> OpsMember | None:
    return next((m for m in ops_members(ops) if m.name == name), None)


def char_array_len(ops: str, member: str) -> int:
    btf = kernel_btf()
    t = btf[struct_id(ops)]
    assert isinstance(t, Struct)
    m = next(m for m in t.members if m.name == member)
    a = btf[skip_modifiers(btf, m.type)]
    return a.nelems if isinstance(a, Array) else 0
