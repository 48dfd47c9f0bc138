"""The CPU map: ``bpf_redirect_map`` targets that hand XDP frames to another CPU.

The key is a CPU number; the value is ``struct bpf_cpumap_val``: the queue size of the
CPU's frame queue and, optionally, the fd of an XDP program (attach type
``BPF_XDP_CPUMAP``) to run there; a lookup gives back the queue size and the program's
id.  A queue size of 0 empties the slot.  The kernel's limits hold: max_entries at most
``NR_CPUS`` (E2BIG), queue sizes at most 16384 (EOVERFLOW), a key that is not a possible
CPU (ENODEV), and a program that does not fit is reported as ENOMEM (the kernel loses the
reason on the way out).  Programs cannot look entries up; they only redirect.
"""

from __future__ import annotations

import errno
import struct
from typing import Any

from ..errors import BpfError
from .base import Map, index_next_key, to_bytes, u32_of
from .devmap import check_redirect_prog
from .standins import BPF_XDP_CPUMAP
from .types import BPF_EXIST, BPF_NOEXIST, MapFlag, MapSpec

CPUMAP_MAX_QSIZE = 16384


def _nr_cpus() -> int:
    """NR_CPUS of the kernel (``kernel_max`` + 1), which bounds max_entries."""
    try:
        with open("/sys/devices/system/cpu/kernel_max") as f:
            return int(f.read()) + 1
    except (OSError, ValueError):
        return 8192


NR_CPUS = _nr_cpus()

_VAL = struct.Struct("<Ii")


class CpuEntry:
    """One target CPU: its queue size and optional program, and the frames queued."""

    __slots__ = ("cpu", "frames", "prog", "qsize")

    def __init__(self, cpu: int, qsize: int, prog: Any) -> None:
        self.cpu = cpu
        self.qsize = qsize
        self.prog = prog
        self.frames: list[bytes] = []


class CpuMap(Map):
    """``BPF_MAP_TYPE_CPUMAP``."""

    BTF_CHECK = True  # map_check_no_btf

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        if (spec.max_entries == 0 or spec.key_size != 4 or spec.value_size not in (4, 8)
                or spec.flags & ~int(MapFlag.NUMA_NODE)):
            raise BpfError(errno.EINVAL, "invalid cpumap attributes (4-byte keys; values are "
                           "a queue size and optionally a program fd)")
        if spec.max_entries > NR_CPUS:
            raise BpfError(errno.E2BIG, f"a cpumap has at most NR_CPUS ({NR_CPUS}) entries")

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self._cpus: dict[int, CpuEntry] = {}

    def _sys_lookup(self, key: bytes) -> bytes:
        e = self._cpus.get(u32_of(key))
        if e is None:
            raise BpfError(errno.ENOENT, "no queue for this CPU")
        prog_id = int(getattr(e.prog, "id", 0)) & 0xFFFFFFFF if e.prog is not None else 0
        return struct.pack("<II", e.qsize, prog_id)[: self.value_size]

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        raw = to_bytes(value, self.value_size, "value").ljust(8, b"\0")
        qsize, fd = _VAL.unpack(raw)
        cpu = u32_of(key)
        if flags > BPF_EXIST:
            raise BpfError(errno.EINVAL, "invalid update flags")
        if cpu >= self.max_entries:
            raise BpfError(errno.E2BIG, f"cpu {cpu} is out of range")
        if flags == BPF_NOEXIST:
            raise BpfError(errno.EEXIST, "cpumap slots always exist (BPF_NOEXIST)")
        if qsize > CPUMAP_MAX_QSIZE:
            raise BpfError(errno.EOVERFLOW, f"queue size {qsize} is above {CPUMAP_MAX_QSIZE}")
        if cpu >= self.num_cpus:
            raise BpfError(errno.ENODEV, f"cpu {cpu} is not a possible CPU")
        if qsize == 0:
            self._cpus.pop(cpu, None)
            return
        prog = None
        if fd > 0:
            try:
                prog = check_redirect_prog(self, fd, BPF_XDP_CPUMAP)
            except BpfError:
                raise BpfError(errno.ENOMEM, f"fd {fd} is not an XDP program for a cpumap "
                               "(the kernel reports this as ENOMEM)") from None
        self._cpus[cpu] = CpuEntry(cpu, qsize, prog)

    def _sys_delete(self, key: bytes) -> None:
        err = -self.bpf_delete(key, self.cpu)
        if err:
            raise BpfError(err, "cpu out of range")

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        k = u32_of(bytes(key))
        if k >= self.max_entries:
            return -errno.EINVAL
        self._cpus.pop(k, None)
        return 0

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        return index_next_key(key, self.max_entries)

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        return 0  # programs only redirect to cpumap entries

    def redirect_target(self, key: bytes) -> CpuEntry | None:
        """The CPU ``bpf_redirect_map`` hands a frame to (None: the fallback)."""
        return self._cpus.get(u32_of(bytes(key)))

    def __len__(self) -> int:
        return len(self._cpus)
