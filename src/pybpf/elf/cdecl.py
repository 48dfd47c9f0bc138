"""C spellings of BTF types and function signatures, for dumps of loaded programs.

``bpftool prog dump xlated`` heads each function with its prototype from BTF
(``int xdp_count(struct xdp_md * ctx):``); this is the small part of a C printer that
needs, written for the loader until the btf package's C dump can be used.
"""

from __future__ import annotations

from ..btf import (
    Array,
    Btf,
    Const,
    Enum,
    Enum64,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    Ptr,
    Restrict,
    Struct,
    Typedef,
    TypeTag,
    Union,
    Volatile,
)

_MAX_DEPTH = 16


def type_name(btf: Btf, type_id: int, depth: int = 0) -> str:
    """``struct xdp_md *``, ``const char *``, ``__u32``, ``void``."""
    if type_id == 0:
        return "void"
    if depth > _MAX_DEPTH:
        return "..."
    t = btf.get(type_id)
    if t is None:
        return f"<bad type {type_id}>"
    if isinstance(t, Int | Float | Typedef):
        return t.name
    if isinstance(t, Struct):
        return f"struct {t.name}" if t.name else "struct {...}"
    if isinstance(t, Union):
        return f"union {t.name}" if t.name else "union {...}"
    if isinstance(t, Enum | Enum64):
        return f"enum {t.name}" if t.name else "enum {...}"
    if isinstance(t, Fwd):
        return f"{'union' if t.union else 'struct'} {t.name}"
    if isinstance(t, Ptr):
        target = btf.get(t.type)
        if isinstance(target, FuncProto):
            return f"{type_name(btf, target.return_type, depth + 1)} (*)({_params(btf, target, depth)})"
        return f"{type_name(btf, t.type, depth + 1)} *"
    if isinstance(t, Const):
        return f"const {type_name(btf, t.type, depth + 1)}"
    if isinstance(t, Volatile):
        return f"volatile {type_name(btf, t.type, depth + 1)}"
    if isinstance(t, Restrict):
        return f"{type_name(btf, t.type, depth + 1)} restrict"
    if isinstance(t, TypeTag):
        return type_name(btf, t.type, depth + 1)
    if isinstance(t, Array):
        return f"{type_name(btf, t.type, depth + 1)}[{t.nelems}]"
    if isinstance(t, FuncProto):
        return f"{type_name(btf, t.return_type, depth + 1)} ({_params(btf, t, depth)})"
    return t.name or t.kind.label.lower()


def _params(btf: Btf, proto: FuncProto, depth: int) -> str:
    parts = []
    for p in proto.params:
        if p.type == 0 and not p.name:
            parts.append("...")
            continue
        ty = type_name(btf, p.type, depth + 1)
        parts.append(f"{ty} {p.name}" if p.name else ty)
    return ", ".join(parts) if parts else "void"


def func_signature(btf: Btf, func_id: int) -> str:
    """``int xdp_count(struct xdp_md * ctx)`` for a FUNC type id."""
    f = btf.get(func_id)
    if not isinstance(f, Func):
        return f"<func {func_id}>"
    proto = btf.get(f.type)
    if not isinstance(proto, FuncProto):
        return f"{f.name}()"
    return f"{type_name(btf, proto.return_type)} {f.name}({_params(btf, proto, 0)})"
