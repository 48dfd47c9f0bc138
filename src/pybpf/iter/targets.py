"""What each iterator target walks, and the context it hands the program for each object.

A target is a ``seq_operations``: ``start`` gives the object to show first (again the
one a previous read stopped at), ``next`` moves on, ``show`` runs the program on one
object, ``stop`` ends a read and, when the walk is over, runs the program once more
with no object (a NULL key, a NULL map) so that it can print a summary.

* ``bpf_map_elem`` walks one map: a hash map bucket by bucket (the kernel's order),
  an array index by index.  The key and, except for per-CPU maps, the value are the
  element's own memory: a store through the value changes the map.  A per-CPU map's
  value is a copy of every CPU's value, each rounded up to 8 bytes, in CPU order.
* ``bpf_map`` walks the kernel's maps in id order; ``bpf_prog`` and ``bpf_link`` its
  programs and links by id, ``task`` its tasks by pid (threads included), each as the
  kernel object a program reads through its BTF.
* ``sockmap`` walks a sockmap slot by slot, empty slots included (their socket is
  NULL), or a sockhash bucket by bucket; the key is the slot's index or the element's
  key, read-only.
* ``tcp``, ``udp`` and ``unix`` walk the kernel's sockets of that kind (:mod:`.socks`).

Every walk's :meth:`context` gives the context slots after ``meta``.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import BpfError
from ..maps.types import MapType, round_up
from ..memory import MEMORY, Region, RegionKind, allocate
from .mapobj import sync_map_object
from .objects import kernel_links, kernel_tasks, link_object, prog_object
from .socks import tcp_walk, udp_walk, unix_walk

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


class IdWalk:
    """Objects of a table by ascending id (``bpf_prog_get_curr_or_next``): an object
    removed between reads is skipped, one added after the current id is seen."""

    def __init__(self, table: Callable[[], dict[int, Any]], address: Callable[[Any], int]) -> None:
        self.table = table
        self.address = address
        self._next_id = 0
        self._current: Any = None
        self._started = False

    def close(self) -> None:
        pass

    def _find(self) -> Any:
        table = self.table()
        ids = sorted(i for i in table if i >= self._next_id)
        if not ids:
            return None
        self._next_id = ids[0]
        return table[ids[0]]

    def start(self) -> Any:
        if not self._started:
            self._started = True
            self._current = self._find()
        return self._current

    def next(self) -> Any:
        self._next_id += 1
        self._current = self._find()
        return self._current

    def context(self, obj: Any) -> tuple[int, ...]:
        return (0,) if obj is None else (self.address(obj),)


class MapListWalk(IdWalk):
    """The ``bpf_map`` target's seq operations: every map of the kernel by id."""

    def __init__(self, kernel: Any) -> None:
        super().__init__(lambda: kernel.maps, lambda m: int(m.address))
        self.kernel = kernel

    def context(self, obj: Any) -> tuple[int, ...]:
        if obj is None:
            return 0, 0, 0
        users = sum(1 for p in self.kernel.programs.values() if obj in getattr(p, "maps", ()))
        sync_map_object(obj, refcnt=1 + users, usercnt=1)
        return obj.address, 0, 0


def prog_walk(kernel: Any) -> IdWalk:
    return IdWalk(lambda: kernel.programs, lambda p: prog_object(p).address)


def link_walk(kernel: Any) -> IdWalk:
    return IdWalk(lambda: kernel_links(kernel), lambda link: link_object(link).address)


def task_walk(kernel: Any, tid: int = 0, pid: int = 0) -> IdWalk:
    """Every task by pid; with ``tid`` only that task; with ``pid`` the threads of that
    process, its leader first (nothing if ``pid`` is not a process)."""

    def table() -> dict[int, Any]:
        tasks = kernel_tasks(kernel).tasks
        if tid:
            return {tid: tasks[tid]} if tid in tasks else {}
        if pid:
            leader = tasks.get(pid)
            if leader is None or leader.get("tgid") != pid:
                return {}
            threads = {p: t for p, t in tasks.items() if p != pid and t.get("tgid") == pid}
            return {0: leader, **threads}  # key 0: the leader comes first
        return tasks

    return IdWalk(table, lambda t: int(t.address))


SOCK_FIELDS = ("__sk_common.skc_num", "__sk_common.skc_family", "__sk_common.skc_state",
               "sk_protocol", "sk_type")  # fmt: skip


def sync_sock_object(sk: Any) -> int:
    """The socket's address, with the ``struct sock`` members pybpf knows written in
    (as far as its object holds them)."""
    from ..kernel.vmlinux import field_info

    addr = int(sk.address)
    region = MEMORY.find(addr, 1)
    if region is None:
        return addr
    values = (0, sk.family, sk.state, sk.protocol, sk.type)
    for path, value in zip(SOCK_FIELDS, values, strict=True):
        info = field_info("sock", path)
        off, size = addr - region.base + info.byte_offset, info.byte_size
        if off + size <= region.size:
            region.buf[off : off + size] = int(value).to_bytes(size, "little")
    return addr


class SockMapWalk:
    """The ``sockmap`` target's seq operations for a sockmap or a sockhash."""

    def __init__(self, m: Any) -> None:
        self.map = m
        self._key = allocate(max(m.spec.key_size, 1), RegionKind.MAP_KEY, "sockmap_iter_key", False)
        self._elems: Iterator[tuple[bytes, Any]] = m.entries()
        self._current: tuple[bytes, Any] | None = None
        self._started = False

    def close(self) -> None:
        MEMORY.remove(self._key)

    def _advance(self) -> tuple[bytes, Any] | None:
        return next(self._elems, None)

    def start(self) -> tuple[bytes, Any] | None:
        if not self._started:
            self._started = True
            self._current = self._advance()
        return self._current

    def next(self) -> tuple[bytes, Any] | None:
        self._current = self._advance()
        return self._current

    def context(self, obj: tuple[bytes, Any] | None) -> tuple[int, ...]:
        """(map, key, sk): the key and socket NULL on the final call, the socket NULL
        for an empty sockmap slot."""
        sync_map_object(self.map)
        if obj is None:
            return self.map.address, 0, 0
        key, sk = obj
        self._key.buf[: len(key)] = key
        return self.map.address, self._key.base, 0 if sk is None else sync_sock_object(sk)


SOCK_MAP_TYPES = (MapType.SOCKMAP, MapType.SOCKHASH)
SOCK_WALKS: dict[str, Callable[[Any], Any]] = {"tcp": tcp_walk, "udp": udp_walk, "unix": unix_walk}
"""The socket targets' walks (:mod:`.socks`)."""


def check_sock_map(m: Any) -> None:
    if m.spec.type not in SOCK_MAP_TYPES:
        raise BpfError(errno.EINVAL, f"{m.spec.type.name.lower()} maps cannot be walked by a "
                       "sockmap iterator (sockmap and sockhash can)")  # fmt: skip


def make_walk(target: str, kernel: Any, m: Any, tid: int = 0, pid: int = 0) -> Any:
    """The seq operations of ``target`` (for ``m`` when it walks a map; ``tid``/``pid``
    restrict a task walk)."""
    if target == "bpf_map_elem":
        return MapElemWalk(m)
    if target == "sockmap":
        return SockMapWalk(m)
    if target == "bpf_prog":
        return prog_walk(kernel)
    if target == "bpf_link":
        return link_walk(kernel)
    if target == "task":
        return task_walk(kernel, tid, pid)
    if target in SOCK_WALKS:
        return SOCK_WALKS[target](kernel)
    return MapListWalk(kernel)


def check_elem_map(m: Any) -> None:
    """A map an element iterator can be attached to (EINVAL otherwise)."""
    if m.spec.type not in ELEM_MAP_TYPES:
        raise BpfError(errno.EINVAL, f"{m.spec.type.name.lower()} maps cannot be iterated "
                       "(hash, array, per-CPU and LRU hash maps can)")  # fmt: skip
