"""Whether this process can ask the running kernel through bpf(), and if not, why.

The answer is found once, by creating a one-element array map and loading the smallest
program (``r0 = 0; exit`` as a socket filter), and then cached: tests skip on it, and
benchmarks and the CLI explain it to the user.
"""

from __future__ import annotations

import functools

from ..isa import Insn
from .maps import map_create
from .progs import prog_load
from .syscall import NO_SYSCALL_REASON, OracleError, close, errno_text
from .uapi import MapType, ProgType

_TRIVIAL_PROGRAM = (Insn(0xB7, 0, 0, 0, 0), Insn(0x95))  # r0 = 0; exit


@functools.cache
def _probe() -> str:
    if NO_SYSCALL_REASON:
        return NO_SYSCALL_REASON
    try:
        fd = map_create(MapType.ARRAY, 4, 4, 1)
    except OracleError as exc:
        return f"bpf() refused a map: {exc}"
    close(fd)
    res = prog_load(ProgType.SOCKET_FILTER, _TRIVIAL_PROGRAM, log_level=0)
    if res.fd is None:
        return f"bpf() refused a program: BPF_PROG_LOAD: {errno_text(res.errno)}"
    close(res.fd)
    return ""


def available() -> bool:
    """True when bpf() creates maps and loads programs here (checked once)."""
    return _probe() == ""


def unavailable_reason() -> str:
    """Why :func:`available` is False ("" when it is True)."""
    return _probe()
