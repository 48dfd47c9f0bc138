"""The simulated kernel: object ids and fds, clocks, the random generator, the trace buffer.

One ``Kernel`` is one machine's worth of BPF state.  Maps and programs are created in it
and get ids and fds as they would from ``bpf()``; helpers reach it through the run
environment.  A process-wide default instance serves callers that never make their own.
"""

from __future__ import annotations

import errno
import os
import time
from typing import TYPE_CHECKING, Any

from ..errors import BpfError
from .prandom import Taus113
from .trace import TracePipe

if TYPE_CHECKING:
    from ..maps.base import Map
    from ..maps.types import MapSpec


def possible_cpus() -> int:
    """How many CPUs the host could have (``/sys/devices/system/cpu/possible``)."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            text = f.read().strip()
        last = 0
        for part in text.split(","):
            last = max(last, int(part.split("-")[-1]))
        return last + 1
    except (OSError, ValueError):
        return os.cpu_count() or 1


class Kernel:
    """Ids, fds, clocks and per-CPU state shared by every map and program created in it."""

    def __init__(self, num_cpus: int | None = None, seed: int | None = None) -> None:
        self.num_cpus = num_cpus or possible_cpus()
        base_seed = seed if seed is not None else int.from_bytes(os.urandom(8), "little")
        self.prandom = [Taus113(base_seed + cpu) for cpu in range(self.num_cpus)]
        self.trace = TracePipe()
        self._next_id = {"map": 1, "prog": 1, "link": 1, "btf": 1}
        self._fds: dict[int, Any] = {}
        self._next_fd = 3
        self.maps: dict[int, Map] = {}
        self.programs: dict[int, Any] = {}
        self.fixed_time_ns: int | None = None

    # --- clocks --------------------------------------------------------------------
    def ktime_ns(self) -> int:
        if self.fixed_time_ns is not None:
            return self.fixed_time_ns
        return time.monotonic_ns()

    def boot_ns(self) -> int:
        if self.fixed_time_ns is not None:
            return self.fixed_time_ns
        return time.clock_gettime_ns(time.CLOCK_BOOTTIME)

    def seed(self, seed: int) -> None:
        """Make ``bpf_get_prandom_u32`` repeatable from here on."""
        for cpu, gen in enumerate(self.prandom):
            gen.seed(seed + cpu)

    # --- ids and fds ---------------------------------------------------------------
    def new_id(self, kind: str) -> int:
        value = self._next_id[kind]
        self._next_id[kind] = value + 1
        return value

    def install_fd(self, obj: Any) -> int:
        fd = self._next_fd
        self._next_fd += 1
        self._fds[fd] = obj
        return fd

    def fd_object(self, fd: int) -> Any:
        obj = self._fds.get(fd)
        if obj is None:
            raise BpfError(errno.EBADF, f"fd {fd} is not open")
        return obj

    def close_fd(self, fd: int) -> None:
        if self._fds.pop(fd, None) is None:
            raise BpfError(errno.EBADF, f"fd {fd} is not open")

    # --- maps ----------------------------------------------------------------------
    def create_map(self, spec: MapSpec) -> Map:
        from ..maps import create_map

        m = create_map(spec, num_cpus=self.num_cpus)
        m.resolve_fd = self.fd_object  # fd-holding maps (prog arrays, map-in-map, ...) look fds up here
        m.id = self.new_id("map")
        self.maps[m.id] = m
        return m

    def map_by_id(self, map_id: int) -> Map:
        m = self.maps.get(map_id)
        if m is None:
            raise BpfError(errno.ENOENT, f"no map with id {map_id}")
        return m


_default: Kernel | None = None


def default_kernel() -> Kernel:
    global _default
    if _default is None:
        _default = Kernel()
    return _default
