"""perf_event_array and cgroup_array: arrays of perf events and of cgroups.

Both follow the fd-array rules of prog_array (4-byte fd values, ``BPF_ANY`` only, E2BIG
past the end, ENOENT deleting an empty slot) but the syscall side cannot read a slot back
(the kernel has no way to turn the object into a number: ENOTSUPP).  Programs use them
through helpers: ``bpf_perf_event_output``/``bpf_perf_event_read_value`` write to and
read the :class:`~pybpf.maps.standins.PerfEvent` in a slot (see :meth:`output`,
:meth:`read_value`); ``bpf_skb_under_cgroup`` and ``bpf_current_task_under_cgroup`` ask
:meth:`CgroupArrayMap.under_cgroup`.
"""

from __future__ import annotations

import errno
from typing import Any

from ..errors import BpfError
from .array import _FdArray
from .base import to_bytes
from .standins import Cgroup, PerfEvent
from .types import ENOTSUPP

BPF_F_INDEX_MASK = 0xFFFFFFFF
BPF_F_CURRENT_CPU = BPF_F_INDEX_MASK
BPF_F_CTXLEN_MASK = 0xFFFFF << 32


def _fd_target(m: _FdArray, raw: Any, kind: type, wrong: int, what: str) -> Any:
    """The object a syscall value names: the object itself or an fd through
    ``resolve_fd``; ``wrong`` is the errno for an fd of another kind."""
    if isinstance(raw, kind):
        return raw
    fd = int.from_bytes(to_bytes(raw, 4, f"{what} fd"), "little", signed=True)
    if m.resolve_fd is None:
        raise BpfError(errno.EBADF, f"fd {fd}: no resolver to turn fds into {what}s")
    target = m.resolve_fd(fd)
    if not isinstance(target, kind):
        raise BpfError(wrong, f"fd {fd} is not a {what}")
    return target


class PerfEventArrayMap(_FdArray):
    """``BPF_MAP_TYPE_PERF_EVENT_ARRAY``: one perf event per slot, usually one per CPU."""

    BATCH_OPS = frozenset()

    def _resolve(self, raw: Any) -> Any:
        event = _fd_target(self, raw, PerfEvent, errno.EBADF, "perf event")
        if not event.readable:
            raise BpfError(errno.EOPNOTSUPP, "the perf event cannot be read locally")
        return event

    def _sys_lookup(self, key: bytes) -> bytes:
        raise BpfError(ENOTSUPP, "perf_event_array slots cannot be read through bpf()")

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        return 0

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        return -errno.EINVAL

    def _slot(self, flags: int, cpu: int) -> PerfEvent | int:
        index = flags & BPF_F_INDEX_MASK
        if index == BPF_F_CURRENT_CPU:
            index = cpu
        if index >= self.max_entries:
            return -errno.E2BIG
        event = self._get(index)
        if event is None:
            return -errno.ENOENT
        assert isinstance(event, PerfEvent)
        return event

    def output(self, flags: int, cpu: int, data: bytes) -> int:
        """The map part of ``bpf_perf_event_output``: 0 or a negative errno.

        ``flags`` carries the slot index (or ``BPF_F_CURRENT_CPU``) in its low 32 bits;
        the helper has already checked the bits it allows above them.  The event must be
        a BPF-output event on this CPU.
        """
        self._cpu_ok(cpu)
        event = self._slot(flags, cpu)
        if isinstance(event, int):
            return event
        if not event.bpf_output:
            return -errno.EINVAL
        if not event.on_cpu(cpu):
            return -errno.EOPNOTSUPP
        return event.write(data, cpu)

    def read_value(self, flags: int, cpu: int) -> tuple[int, int, int] | int:
        """``bpf_perf_event_read_value``'s lookup: (counter, enabled, running), or a
        negative errno."""
        self._cpu_ok(cpu)
        if flags & ~BPF_F_INDEX_MASK:
            return -errno.EINVAL
        event = self._slot(flags, cpu)
        if isinstance(event, int):
            return event
        if not event.on_cpu(cpu):
            return -errno.EINVAL
        return event.counter, event.enabled, event.running

    def event(self, index: int) -> PerfEvent | None:
        """The event in slot ``index`` (None if empty)."""
        if not 0 <= index < self.max_entries:
            return None
        got = self._get(index)
        return got if isinstance(got, PerfEvent) else None


class CgroupArrayMap(_FdArray):
    """``BPF_MAP_TYPE_CGROUP_ARRAY``: cgroups that programs test membership against."""

    BATCH_OPS = frozenset()

    def _resolve(self, raw: Any) -> Any:
        return _fd_target(self, raw, Cgroup, errno.EBADF, "cgroup")

    def _sys_lookup(self, key: bytes) -> bytes:
        raise BpfError(ENOTSUPP, "cgroup_array slots cannot be read through bpf()")

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        return 0

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        return -errno.EINVAL

    def under_cgroup(self, index: int, cgroup: Cgroup | None) -> int:
        """1 if ``cgroup`` is the slot's cgroup or below it, else 0; -E2BIG past the end,
        -EAGAIN for an empty slot (the helpers' answers)."""
        if not 0 <= index < self.max_entries:
            return -errno.E2BIG
        target = self._get(index)
        if target is None:
            return -errno.EAGAIN
        return int(cgroup is not None and cgroup.is_descendant_of(target))
