"""The arena map: a sparse memory area shared by programs and user space.

pybpf implements its creation rules and the refusals of the element commands; it does not
model the memory (pages allocated with ``bpf_arena_alloc_pages``, the user mapping).
An arena has no key or value, must be ``BPF_F_MMAPABLE``, covers ``max_entries`` pages
(at most 4 GiB: E2BIG), and ``map_extra`` is the page-aligned user address it will be
mapped at, which must not make the area cross a 4 GiB boundary (ERANGE).
"""

from __future__ import annotations

import errno
from typing import Any

from ..errors import BpfError
from .base import Map
from .btfinfo import BtfType
from .types import PAGE_SIZE, MapFlag, MapSpec

ARENA_CREATE_FLAG_MASK = int(MapFlag.SEGV_ON_FAULT | MapFlag.MMAPABLE | MapFlag.NO_USER_CONV)
ARENA_MAX_SIZE = 1 << 32


class ArenaMap(Map):
    """``BPF_MAP_TYPE_ARENA`` (creation rules only)."""

    BTF_CHECK = True

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        flags = spec.flags
        if (spec.key_size or spec.value_size or spec.max_entries == 0
                or not flags & MapFlag.MMAPABLE or flags & ~ARENA_CREATE_FLAG_MASK):
            raise BpfError(errno.EINVAL, "an arena has no key or value, a page count, and "
                           "needs BPF_F_MMAPABLE")
        if spec.map_extra % PAGE_SIZE:
            raise BpfError(errno.EINVAL, "an arena's user address (map_extra) must be "
                           "page aligned")
        size = spec.max_entries * PAGE_SIZE
        if size > ARENA_MAX_SIZE:
            raise BpfError(errno.E2BIG, "an arena covers at most 4 GiB")
        start = spec.map_extra
        if start >> 32 != (start + size - 1) >> 32:
            raise BpfError(errno.ERANGE, "an arena must not cross a 4 GiB boundary")

    @classmethod
    def check_btf(cls, spec: MapSpec, key: BtfType, value: BtfType) -> None:
        return None

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self.user_vm_start = spec.map_extra
        self.pages = spec.max_entries

    def _sys_lookup(self, key: bytes) -> bytes:
        raise BpfError(errno.EINVAL, "arenas have no elements")

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        raise BpfError(errno.EOPNOTSUPP, "arenas have no elements")

    def _sys_delete(self, key: bytes) -> None:
        raise BpfError(errno.EOPNOTSUPP, "arenas have no elements")

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        raise BpfError(errno.EOPNOTSUPP, "arenas have no keys")

    def __iter__(self) -> Any:
        raise BpfError(errno.EOPNOTSUPP, "arenas have no keys")

    def __len__(self) -> int:
        return 0
