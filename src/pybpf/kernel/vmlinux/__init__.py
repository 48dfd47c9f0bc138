"""pybpf's vmlinux: the BTF of the simulated kernel's types, and objects laid out by it.

* :func:`kernel_btf` / :func:`kernel_btf_bytes`: the BTF (built on first use, cached),
  parsed or raw; :func:`type_id`, :func:`struct_id`, :func:`func_id`: ids by name;
* :func:`kfuncs` / :func:`kfunc`: declared kfuncs with their ids and :class:`KfuncFlag`
  flags; :func:`struct_ops_stub`: an ops member's prototype with parameter names;
* :func:`alloc_object`, :class:`KObject`, :class:`KStruct`, :func:`object_at`: kernel
  objects in :mod:`pybpf.memory` whose bytes follow the BTF layout, with typed field
  access by name; :func:`offsetof`, :func:`sizeof`, :func:`field_info`: the layout;
* :func:`map_struct` (in :mod:`.mapstructs`): the struct a map of a type is.

Names follow the Linux kernel so that CO-RE relocations from programs compiled against
a real ``vmlinux.h`` resolve; member offsets are pybpf's own (only the UAPI structures
keep the ABI's).  ``python -m pybpf.kernel.vmlinux FILE`` writes the raw BTF.
"""

from __future__ import annotations

from .build import (
    func_id,
    kernel_btf,
    kernel_btf_bytes,
    kfunc,
    kfunc_by_id,
    kfuncs,
    struct_id,
    struct_ops_stub,
    type_id,
)
from .kfuncs import KfuncDesc, KfuncFlag
from .objects import (
    FieldInfo,
    KObject,
    KStruct,
    alloc_object,
    field_info,
    object_at,
    offsetof,
    sizeof,
    view,
)


def map_struct(map_type: int) -> str:
    """The struct a map of ``map_type`` is (``bpf_array``, ``bpf_htab``, ...)."""
    from .mapstructs import map_struct as _map_struct

    return _map_struct(map_type)


__all__ = [
    "FieldInfo",
    "KObject",
    "KStruct",
    "KfuncDesc",
    "KfuncFlag",
    "alloc_object",
    "field_info",
    "func_id",
    "kernel_btf",
    "kernel_btf_bytes",
    "kfunc",
    "kfunc_by_id",
    "kfuncs",
    "map_struct",
    "object_at",
    "offsetof",
    "sizeof",
    "struct_id",
    "struct_ops_stub",
    "type_id",
    "view",
]
