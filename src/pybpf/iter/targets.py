"""What each iterator target walks, and the context it hands the program for each object.

A target is a ``seq_operations``: ``start`` gives the object to show first (again the
one a previous read stopped at), ``next`` moves on, ``show`` runs the program on one
object, ``stop`` ends a read and, when the walk is over, runs the program once more
with no object (a NULL key, a NULL map) so that it can print a summary.

* ``bpf_map_elem`` walks one map: a hash map bucket by bucket (the kernel's order),
  an array index by index.  The key and, except for per-CPU maps, the value are the
  element's own memory: a store through the value changes the map.  A per-CPU map's
  value is a copy of every CPU's value, each rounded up to 8 bytes, in CPU order.
* ``bpf_map`` walks the kernel's maps in id order.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import BpfError
from ..maps.types import MapType, round_up
from ..memory import MEMORY, Region, RegionKind, allocate
from .mapobj import sync_map_object

ShowFn = Callable[[int, int, int], int]
"""Runs the program on (map, key, value) addresses (0 for none); its return value."""

HASH_TYPES = (MapType.HASH, MapType.LRU_HASH, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH)
ARRAY_TYPES = (MapType.ARRAY, MapType.PERCPU_ARRAY)
PERCPU_TYPES = (MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH, MapType.PERCPU_ARRAY)
ELEM_MAP_TYPES = HASH_TYPES + ARRAY_TYPES
"""The map types whose elements an iterator can walk (``map->ops->iter_seq_info``)."""


def percpu_value_size(m: Any) -> int:
    """The value a per-CPU element shows: every possible CPU's, 8-byte aligned each."""
    return int(round_up(m.spec.value_size, 8) * m.num_cpus)


class MapElemWalk:
    """The ``bpf_map_elem`` target's seq operations for one map."""

    def __init__(self, m: Any) -> None:
        self.map = m
        self.percpu = m.spec.type in PERCPU_TYPES
        self.is_array = m.spec.type in ARRAY_TYPES
        self._regions: list[Region] = []
        self._index_key = self._region(4, RegionKind.MAP_KEY, "iter_index")
        self._value_copy = (
            self._region(percpu_value_size(m), RegionKind.MEM, "percpu_value_buf")
            if self.percpu else None
        )  # fmt: skip
        self._index = 0
        self._elems: Iterator[tuple[int, int]] | None = None
        self._current: tuple[int, int] | None = None
        self._started = False

    def _region(self, size: int, kind: RegionKind, name: str) -> Region:
        r = allocate(size, kind, name, True)
        self._regions.append(r)
        return r

    def close(self) -> None:
        for r in self._regions:
            MEMORY.remove(r)
        self._regions.clear()

    # -- walking -------------------------------------------------------------------------
    def _array_elem(self) -> tuple[int, int] | None:
        if self._index >= self.map.spec.max_entries:
            return None
        self._index_key.buf[0:4] = self._index.to_bytes(4, "little")
        value = 0 if self.percpu else int(self.map.value_addr(self._index))
        return self._index_key.base, value

    def _hash_elem(self) -> tuple[int, int] | None:
        if self._elems is None:
            self._elems = iter(self.map.for_each_elem(0))
        return next(self._elems, None)

    def start(self) -> tuple[int, int] | None:
        if not self._started:
            self._started = True
            self._current = self._array_elem() if self.is_array else self._hash_elem()
        return self._current

    def next(self) -> tuple[int, int] | None:
        if self.is_array:
            self._index += 1
            self._current = self._array_elem()
        else:
            self._current = self._hash_elem()
        return self._current

    def context(self, obj: tuple[int, int] | None) -> tuple[int, int, int]:
        """The (map, key, value) the program gets for ``obj`` (None: the final call)."""
        sync_map_object(self.map)
        if obj is None:
            return self.map.address, 0, 0
        key, value = obj
        if self._value_copy is not None:
            keybytes = MEMORY.read(key, self.map.spec.key_size)
            raw = self.map.lookup(keybytes)
            self._value_copy.buf[: len(raw)] = raw
            value = self._value_copy.base
        return self.map.address, key, value


class MapListWalk:
    """The ``bpf_map`` target's seq operations: every map of the kernel by id."""

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel
        self._next_id = 0
        self._current: Any = None
        self._started = False

    def close(self) -> None:
        pass

    def _find(self) -> Any:
        ids = sorted(i for i in self.kernel.maps if i >= self._next_id)
        if not ids:
            return None
        self._next_id = ids[0]
        return self.kernel.maps[ids[0]]

    def start(self) -> Any:
        if not self._started:
            self._started = True
            self._current = self._find()
        return self._current

    def next(self) -> Any:
        self._next_id += 1
        self._current = self._find()
        return self._current

    def context(self, obj: Any) -> tuple[int, int, int]:
        if obj is None:
            return 0, 0, 0
        users = sum(1 for p in self.kernel.programs.values() if obj in getattr(p, "maps", ()))
        sync_map_object(obj, refcnt=1 + users, usercnt=1)
        return obj.address, 0, 0


def check_elem_map(m: Any) -> None:
    """A map an element iterator can be attached to (EINVAL otherwise)."""
    if m.spec.type not in ELEM_MAP_TYPES:
        raise BpfError(errno.EINVAL, f"{m.spec.type.name.lower()} maps cannot be iterated "
                       "(hash, array, per-CPU and LRU hash maps can)")  # fmt: skip
