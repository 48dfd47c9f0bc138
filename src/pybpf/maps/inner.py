"""Map-in-map: what an outer map accepts as an inner map.

The kernel records a template of the inner map at creation (type, key and value size,
flags, and for arrays the size) and later accepts only maps that match it.  Here the
template is the ``inner`` :class:`MapSpec`; an update resolves the value (a map object,
or an fd through the outer map's ``resolve_fd``) and checks it against the template.
"""

from __future__ import annotations

import errno
from typing import Any

from ..errors import BpfError
from .base import Map, to_bytes
from .types import ENOTSUPP, MapFlag, MapSpec, MapType


def effective_max_entries(spec: MapSpec, num_cpus: int) -> int:
    """max_entries as the kernel stores it (per-CPU LRU maps round it to the CPU count)."""
    if spec.type in (MapType.LRU_HASH, MapType.LRU_PERCPU_HASH) and spec.flags & MapFlag.NO_COMMON_LRU:
        up = -(-spec.max_entries // num_cpus) * num_cpus
        if up > 0xFFFFFFFF:
            return spec.max_entries // num_cpus * num_cpus
        return up
    return spec.max_entries


# Types whose ops have no map_meta_equal: they can never be inner maps.
_NO_META_EQUAL = frozenset({
    MapType.PROG_ARRAY, MapType.STRUCT_OPS, MapType.CGROUP_STORAGE,
    MapType.PERCPU_CGROUP_STORAGE,
})
_FD_ONLY_FLAGS = int(MapFlag.RDONLY | MapFlag.WRONLY)


def check_template(inner: MapSpec | None) -> None:
    """The kernel's checks on the inner map given at outer-map creation."""
    if inner is None:
        raise BpfError(errno.EBADF, "a map-in-map needs an inner map template")
    if inner.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        raise BpfError(errno.EINVAL, "maps of maps cannot be nested more than one level")
    if inner.type in _NO_META_EQUAL:
        raise BpfError(ENOTSUPP, f"{inner.type.case_name} maps cannot be inner maps")


def matches_template(template: MapSpec, num_cpus: int, candidate: Map) -> bool:
    """Whether ``candidate`` may be stored in an outer map made with ``template``."""
    if (
        candidate.spec.type != template.type
        or candidate.key_size != template.key_size
        or candidate.value_size != template.value_size
        or candidate.flags & ~_FD_ONLY_FLAGS
        != type(candidate).effective_flags(template) & ~_FD_ONLY_FLAGS
    ):
        return False
    if template.type == MapType.ARRAY and not template.flags & MapFlag.INNER_MAP:
        return candidate.max_entries == effective_max_entries(template, num_cpus)
    if template.type == MapType.XSKMAP:
        return candidate.max_entries == template.max_entries
    # the special fields (the kernel's btf_record) must agree
    return (candidate.btf.value.fields if candidate.btf else ()) == (
        template.btf.value.fields if template.btf else ())


class InnerMapSlot:
    """Shared behaviour of array_of_maps and hash_of_maps values."""

    spec: MapSpec
    num_cpus: int

    def _resolve_inner(self, raw: Any) -> Map:
        """The inner map an update names: a Map, or an fd through ``resolve_fd``."""
        target: object
        if isinstance(raw, Map):
            target = raw
        else:
            fd = int.from_bytes(to_bytes(raw, 4, "map fd"), "little", signed=True)
            resolver = getattr(self, "resolve_fd", None)
            if resolver is None:
                raise BpfError(errno.EBADF, f"fd {fd}: no resolver to turn fds into maps")
            target = resolver(fd)
        if not isinstance(target, Map):
            raise BpfError(errno.EINVAL, "the fd does not refer to a map")
        if target.closed:
            raise BpfError(errno.EBADF, "the inner map is closed")
        assert self.spec.inner is not None
        if not matches_template(self.spec.inner, self.num_cpus, target):
            raise BpfError(errno.EINVAL, "inner map does not match the outer map's template")
        return target
