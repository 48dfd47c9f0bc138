"""Queue (FIFO) and stack (LIFO) maps: keyless containers of fixed-size values.

Push fails with E2BIG when full unless ``BPF_EXIST`` asks to drop the oldest value;
pop and peek fail with ENOENT when empty.  The syscall side maps update to push, lookup
to peek and lookup-and-delete to pop; keys must be NULL (None).  Values are copied out,
never pointed to, so they need no region.
"""

from __future__ import annotations

import errno
from collections import deque
from typing import Any

from ..errors import BpfError
from .base import Map, ValueLike, to_bytes
from .types import (
    ACCESS_MASK,
    BPF_EXIST,
    BPF_NOEXIST,
    KMALLOC_MAX_SIZE,
    MapFlag,
    MapSpec,
)

QUEUE_STACK_CREATE_FLAG_MASK = int(MapFlag.NUMA_NODE) | ACCESS_MASK


class QueueMap(Map):
    """``BPF_MAP_TYPE_QUEUE``: pop returns the oldest value."""

    LIFO = False

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        flags = spec.flags
        if (
            spec.max_entries == 0
            or spec.key_size != 0
            or spec.value_size == 0
            or flags & ~QUEUE_STACK_CREATE_FLAG_MASK
            or (flags & MapFlag.RDONLY_PROG and flags & MapFlag.WRONLY_PROG)
        ):
            raise BpfError(errno.EINVAL, "invalid queue/stack attributes")
        if spec.value_size > KMALLOC_MAX_SIZE:
            raise BpfError(errno.E2BIG, "value_size too large")

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self._items: deque[bytes] = deque()

    # ------------------------------------------------------------------- core ---

    def _push(self, value: bytes, flags: int) -> int:
        if flags & BPF_NOEXIST or flags > BPF_EXIST:
            return errno.EINVAL
        if len(self._items) >= self.max_entries:
            if not flags & BPF_EXIST:
                return errno.E2BIG
            self._items.popleft()  # make room by dropping the oldest value
        self._items.append(value)
        return 0

    def _get(self, delete: bool) -> bytes | None:
        if not self._items:
            return None
        if self.LIFO:
            return self._items.pop() if delete else self._items[-1]
        return self._items.popleft() if delete else self._items[0]

    # ----------------------------------------------------------- syscall side ---

    def _sys_lookup(self, key: bytes) -> bytes:
        v = self._get(delete=False)
        if v is None:
            raise BpfError(errno.ENOENT, "empty")
        return v

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        err = self._push(value, flags)
        if err:
            raise BpfError(err, "full" if err == errno.E2BIG else "invalid push flags")

    def _sys_delete(self, key: bytes) -> None:
        raise BpfError(errno.EINVAL, "queue/stack elements cannot be deleted by key")

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        raise BpfError(errno.EINVAL, "queue/stack maps have no keys")

    def _sys_lookup_and_delete(self, key: bytes) -> bytes:
        v = self._get(delete=True)
        if v is None:
            raise BpfError(errno.ENOENT, "empty")
        return v

    # ----------------------------------------------------------- program side ---

    def bpf_push(self, value: bytes, flags: int, cpu: int) -> int:
        self._cpu_ok(cpu)
        return -self._push(bytes(value[: self.value_size]).ljust(self.value_size, b"\0"), flags)

    def bpf_pop(self, cpu: int) -> bytes | int:
        self._cpu_ok(cpu)
        v = self._get(delete=True)
        return -errno.ENOENT if v is None else v

    def bpf_peek(self, cpu: int) -> bytes | int:
        self._cpu_ok(cpu)
        v = self._get(delete=False)
        return -errno.ENOENT if v is None else v

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        return -errno.EINVAL

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        return -errno.EINVAL

    # --------------------------------------------------------------- Pythonic ---

    def push(self, value: ValueLike, flags: int = 0) -> None:
        """Push through the syscall (an update with a NULL key)."""
        self.update(None, to_bytes(value, self.value_size, "value"), flags)

    def pop(self) -> bytes:
        """Pop through the syscall (lookup-and-delete with a NULL key)."""
        return self.lookup_and_delete(None)

    def peek(self) -> bytes:
        return self.lookup(None)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Any:
        raise BpfError(errno.EINVAL, "queue/stack maps have no keys; use pop()/peek()")

    def values(self) -> list[bytes]:
        """The stored values in the order pop would return them (no side effects)."""
        return list(reversed(self._items)) if self.LIFO else list(self._items)

    def items(self) -> list[tuple[bytes, Any]]:
        return [(b"", v) for v in self.values()]


class StackMap(QueueMap):
    """``BPF_MAP_TYPE_STACK``: pop returns the newest value."""

    LIFO = True
