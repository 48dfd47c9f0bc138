"""``bpf_perf_event_output`` against a perf_event_array, in the kernel and in pybpf.

A socket filter writes 8 bytes to the array with a given index in ``flags``; slots hold
a BPF-output event on CPU 0 (mapped, so it has a ring), one on CPU 1, a CPU-clock event
on CPU 0, and nothing.  ``BPF_PROG_TEST_RUN`` on CPU 0 gives the helper's return value,
which pybpf's :meth:`PerfEventArrayMap.output` must match.
"""

from __future__ import annotations

import mmap
import os
import struct
from typing import Any

from kobjects import PERF_COUNT_SW_BPF_OUTPUT, PERF_COUNT_SW_CPU_CLOCK, _perf_open

from pybpf.maps import MapSpec, MapType, PerfEvent, PerfEventArrayMap, create_map

FLAGS = [0, 1, 2, 3, 4, 0xFFFFFFFF, 0x7FFFFFFF]
SLOTS = 4


def _insn(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhI", op, (src << 4) | dst, off, imm & 0xFFFFFFFF)


def _program(map_fd: int, flags: int) -> bytes:
    return b"".join([
        _insn(0xBF, 6, 1),                      # r6 = r1
        _insn(0x7A, 10, 0, -8, 0x11223344),     # *(u64 *)(r10 - 8) = data
        _insn(0xBF, 1, 6),                      # r1 = ctx
        _insn(0x18, 2, 1, 0, map_fd), _insn(0),  # r2 = map
        _insn(0x18, 3, 0, 0, flags & 0xFFFFFFFF), _insn(0, imm=flags >> 32),
        _insn(0xBF, 4, 10), _insn(0x07, 4, 0, 0, -8),  # r4 = r10 - 8
        _insn(0xB7, 5, 0, 0, 8),                # r5 = 8
        _insn(0x85, 0, 0, 0, 25),               # call bpf_perf_event_output
        _insn(0x95),
    ])


def run_kernel() -> list[int]:
    """Return codes of the helper for each of FLAGS (as signed ints)."""
    import kbpf

    from pybpf.oracle import prog_load, prog_test_run

    err, mfd = kbpf.create_map(int(MapType.PERF_EVENT_ARRAY), 4, 4, SLOTS)
    assert not err
    events = [_perf_open(PERF_COUNT_SW_BPF_OUTPUT, 0), _perf_open(PERF_COUNT_SW_BPF_OUTPUT, 1),
              _perf_open(PERF_COUNT_SW_CPU_CLOCK, 0)]
    rings = [mmap.mmap(events[0], 3 * mmap.PAGESIZE)]
    old = os.sched_getaffinity(0)
    out: list[int] = []
    try:
        for i, fd in enumerate(events):
            assert kbpf.update(mfd, i.to_bytes(4, "little"), fd.to_bytes(4, "little")) == 0
        os.sched_setaffinity(0, {0})
        for flags in FLAGS:
            got = prog_load(1, _program(mfd, flags), log_level=0)
            assert got.fd is not None, got.errno
            res = prog_test_run(got.fd, b"\0" * 64)
            os.close(got.fd)
            out.append(struct.unpack("<i", struct.pack("<I", res.retval & 0xFFFFFFFF))[0])
    finally:
        os.sched_setaffinity(0, old)
        for r in rings:
            r.close()
        for fd in events:
            os.close(fd)
        os.close(mfd)
    return out


def run_pybpf() -> list[int]:
    m = create_map(MapSpec(MapType.PERF_EVENT_ARRAY, 4, 4, SLOTS), 2)
    assert isinstance(m, PerfEventArrayMap)
    m[0] = PerfEvent(cpu=0)
    m[1] = PerfEvent(cpu=1)
    m[2] = PerfEvent(cpu=0, bpf_output=False)
    out = [m.output(flags, 0, struct.pack("<Q", 0x11223344)) for flags in FLAGS]
    m.close()
    return out


def case() -> dict[str, Any]:
    return {"name": "perf_event_output", "flags": FLAGS}
