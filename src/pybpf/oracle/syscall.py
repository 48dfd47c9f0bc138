"""The bpf() system call itself, reached through libc's ``syscall()`` with ctypes.

Importing this never fails: where there is no Linux, no libc or no syscall number for the
machine, every call answers ENOSYS, and :mod:`pybpf.oracle.availability` says why.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import sys
from collections.abc import Callable

from ..errors import BpfError
from .uapi import Cmd

_BPF_SYSCALL_NR = {
    "x86_64": 321,
    "amd64": 321,
    "i386": 357,
    "i686": 357,
    "aarch64": 280,
    "arm64": 280,
    "riscv64": 280,
    "loongarch64": 280,
    "armv7l": 386,
    "armv6l": 386,
    "ppc64le": 361,
    "ppc64": 361,
    "s390x": 351,
}


class OracleError(BpfError):
    """A bpf() command the kernel refused, where the caller has no use for the errno."""

    def __init__(self, err: int, what: str) -> None:
        super().__init__(err, f"{what}: {errno_text(err)}")
        self.what = what


def errno_text(err: int) -> str:
    """``Permission denied (EACCES)``: the strerror text with the symbolic name."""
    name = errno.errorcode.get(err, str(err))
    return f"{os.strerror(err)} ({name})"


def _find_syscall() -> tuple[Callable[..., int] | None, int, str]:
    """The libc ``syscall`` function and bpf's number, or None and the reason why not."""
    if not sys.platform.startswith("linux"):
        return None, 0, f"bpf() exists only on Linux (this is {sys.platform})"
    machine = platform.machine().lower()
    nr = _BPF_SYSCALL_NR.get(machine)
    if nr is None:
        return None, 0, f"no known bpf() syscall number for machine {machine!r}"
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.syscall
    except (OSError, AttributeError) as exc:
        return None, 0, f"cannot reach libc's syscall(): {exc}"
    fn.restype = ctypes.c_long
    return fn, nr, ""


_SYSCALL, _NR, NO_SYSCALL_REASON = _find_syscall()


def sys_bpf(cmd: Cmd | int, attr: ctypes.Structure, size: int | None = None) -> int:
    """bpf(cmd, &attr, sizeof attr): the non-negative result, or minus the errno.

    ``attr`` is updated in place with whatever the kernel writes back.
    """
    if _SYSCALL is None:
        return -errno.ENOSYS
    if size is None:
        size = ctypes.sizeof(attr)
    ctypes.set_errno(0)
    ret = int(
        _SYSCALL(
            ctypes.c_long(_NR),
            ctypes.c_int(int(cmd)),
            ctypes.c_void_p(ctypes.addressof(attr)),
            ctypes.c_uint(size),
        )
    )
    if ret < 0:
        return -(ctypes.get_errno() or errno.EINVAL)
    return ret


def close(fd: int) -> None:
    """Close a descriptor the oracle returned; closing one twice is not an error."""
    if fd < 0:
        return
    with contextlib.suppress(OSError):
        os.close(fd)
