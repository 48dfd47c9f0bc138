"""BPF_BTF_LOAD: the kernel's BTF validator, asked with a raw BTF blob."""

from __future__ import annotations

from typing import NamedTuple

from . import buffers
from .abi import BtfLoadAttr
from .syscall import sys_bpf
from .uapi import Cmd

DEFAULT_BTF_LOG_SIZE = 16 << 20


class BtfLoadResult(NamedTuple):
    """The new BTF object's fd (None if refused), the errno and the validator's log."""

    fd: int | None
    errno: int
    log: str


def btf_load(
    raw_btf: bytes, log_level: int = 1, log_size: int = DEFAULT_BTF_LOG_SIZE, flags: int = 0
) -> BtfLoadResult:
    """Load a BTF blob (header, types, strings) as the kernel does for a loader.

    With ``log_level`` 0 no log buffer is passed; a log that does not fit makes the
    kernel answer ENOSPC, which is reported as such.
    """
    data, data_addr = buffers.in_buffer(raw_btf)
    size = log_size if log_level else 0
    log_buf, log_addr = buffers.log_buffer(size)
    attr = BtfLoadAttr(
        btf=data_addr,
        btf_log_buf=log_addr,
        btf_size=len(raw_btf),
        btf_log_size=size,
        btf_log_level=log_level,
        btf_flags=flags,
    )
    ret = sys_bpf(Cmd.BTF_LOAD, attr)
    del data
    log = buffers.read_text(log_buf)
    if ret < 0:
        return BtfLoadResult(None, -ret, log)
    return BtfLoadResult(ret, 0, log)


__all__ = ["DEFAULT_BTF_LOG_SIZE", "BtfLoadResult", "btf_load"]
