"""The BTF part of ``BPF_MAP_CREATE`` (the kernel's ``map_check_btf``), run after the
map type has accepted the plain attributes and the name.

Sizes first: the resolved key type (when a key id is given) and value type must have the
map's key and value sizes.  A map without a key type needs a type that judges BTF itself.
Special fields in the value are allowed only in some map types and never with the
program-access flags.  Last, the type's own ``check_btf`` looks at the key and value.
"""

from __future__ import annotations

import errno

from ..errors import BpfError
from .base import Map
from .btfinfo import BtfType, SpecialField
from .types import MapFlag, MapSpec, MapType

_SPIN_LOCK_TYPES = frozenset({
    MapType.HASH, MapType.ARRAY, MapType.CGROUP_STORAGE, MapType.SK_STORAGE,
    MapType.INODE_STORAGE, MapType.TASK_STORAGE, MapType.CGRP_STORAGE,
})
_TIMER_TYPES = frozenset({MapType.HASH, MapType.LRU_HASH, MapType.ARRAY})
_KPTR_TYPES = frozenset({
    MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH,
    MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.SK_STORAGE, MapType.INODE_STORAGE,
    MapType.TASK_STORAGE, MapType.CGRP_STORAGE,
})
_GRAPH_TYPES = frozenset({MapType.HASH, MapType.LRU_HASH, MapType.ARRAY})

FIELD_MAP_TYPES: dict[SpecialField, frozenset[MapType]] = {
    SpecialField.SPIN_LOCK: _SPIN_LOCK_TYPES,
    SpecialField.TIMER: _TIMER_TYPES,
    SpecialField.WORKQUEUE: _TIMER_TYPES,
    SpecialField.KPTR_UNREF: _KPTR_TYPES,
    SpecialField.KPTR_REF: _KPTR_TYPES,
    SpecialField.KPTR_PERCPU: _KPTR_TYPES,
    SpecialField.REFCOUNT: _KPTR_TYPES,
    SpecialField.LIST_HEAD: _GRAPH_TYPES,
    SpecialField.RB_ROOT: _GRAPH_TYPES,
}
"""Which map types may hold each special field in their values."""


def check_map_btf(cls: type[Map], spec: MapSpec) -> None:
    """Raise what ``BPF_MAP_CREATE`` raises for ``spec.btf`` (nothing without BTF)."""
    btf = spec.btf
    if btf is None or not btf.value_type_id:
        return
    key: BtfType
    if btf.key_type_id:
        key = btf.key
        if not key.resolves or key.size != spec.key_size:
            raise BpfError(errno.EINVAL, f"BTF key type {btf.key_type_id} is not "
                           f"{spec.key_size} bytes")
    else:
        key = BtfType.void()
        if not cls.BTF_CHECK:
            raise BpfError(errno.EINVAL, f"{spec.type.case_name} maps need a BTF key type")
    value = btf.value
    if not value.resolves or value.size != spec.value_size:
        raise BpfError(errno.EINVAL, f"BTF value type {btf.value_type_id} is not "
                       f"{spec.value_size} bytes")
    from .kptr import record_fields

    fields = record_fields(spec)  # none if malformed; ENOENT for an unreleasable kernel type
    if fields:
        if cls.effective_flags(spec) & (MapFlag.RDONLY_PROG | MapFlag.WRONLY_PROG):
            raise BpfError(errno.EACCES, "values with special fields cannot be read-only or "
                           "write-only for programs")
        for kind, _ in fields:
            if spec.type not in FIELD_MAP_TYPES[kind]:
                raise BpfError(errno.EOPNOTSUPP, f"{spec.type.case_name} maps cannot hold "
                               f"{kind.value} fields")
    if cls.BTF_CHECK:
        cls.check_btf(spec, key, value)
