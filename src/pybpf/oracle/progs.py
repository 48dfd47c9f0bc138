"""Program commands of bpf(): BPF_PROG_LOAD and BPF_PROG_TEST_RUN, errors as results.

A load the verifier refuses is an answer, not a failure: :func:`prog_load` returns the
errno and the log either way, so a comparison can hold pybpf's verdict against it.
"""

from __future__ import annotations

import ctypes
import errno as _errno
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import BpfError
from ..isa import Insn
from ..isa import encode as encode_insns
from . import buffers
from .abi import ProgLoadAttr, TestRunAttr
from .info import prog_get_info
from .log import insns_processed
from .syscall import OracleError, sys_bpf
from .uapi import Cmd, ProgType

DEFAULT_LOG_SIZE = 16 << 20
MAX_LOG_SIZE = 0xFFFFFFFF >> 2  # the kernel refuses larger log buffers


@dataclass(frozen=True, slots=True)
class LoadResult:
    """The kernel's verdict on a program: an fd when accepted, the errno otherwise."""

    fd: int | None
    errno: int
    log: str
    verified_insns: int
    """``verified_insns`` of the program's info when accepted, else the log's count."""
    log_true_size: int = 0
    """Bytes the whole log needs, NUL included (larger than the buffer when truncated)."""
    log_truncated: bool = False
    """The log did not fit: the kernel answers ENOSPC whatever the verdict was."""

    @property
    def accepted(self) -> bool:
        return self.fd is not None


@dataclass(frozen=True, slots=True)
class TestRunResult:
    """What BPF_PROG_TEST_RUN reported (all zero/empty when ``errno`` is set)."""

    __test__ = False  # not a pytest class, despite the name

    errno: int
    retval: int
    data_out: bytes
    ctx_out: bytes | None
    duration_ns: int
    data_size_out: int = 0
    """The size the kernel reported for the output packet (may exceed ``data_out``)."""
    ctx_size_out: int = 0
    ctx_in_after: bytes | None = None
    """The ctx_in buffer after the run: ``syscall`` programs write their context back."""


def _insn_bytes(insns: bytes | bytearray | memoryview | Sequence[Insn]) -> bytes:
    if isinstance(insns, bytes | bytearray | memoryview):
        raw = bytes(insns)
    else:
        raw = encode_insns(insns)
    if len(raw) % 8:
        raise BpfError(_errno.EINVAL, f"program length {len(raw)} is not a multiple of 8 bytes")
    return raw


def prog_load(
    prog_type: ProgType | int,
    insns: bytes | bytearray | memoryview | Sequence[Insn],
    license: str = "GPL",
    expected_attach_type: int = 0,
    fd_array: Sequence[int] | None = None,
    log_level: int = 1,
    log_size: int = DEFAULT_LOG_SIZE,
    prog_flags: int = 0,
    kern_version: int = 0,
    prog_name: str | bytes = "",
    attach_btf_id: int = 0,
    prog_btf_fd: int = 0,
    func_info: bytes | None = None,
    func_info_rec_size: int = 8,
    line_info: bytes | None = None,
    line_info_rec_size: int = 16,
    attach_prog_fd: int = 0,
    prog_ifindex: int = 0,
) -> LoadResult:
    """BPF_PROG_LOAD.  ``log_level`` 0 passes no log buffer (the kernel insists on that).

    ``fd_array`` resolves ``BPF_PSEUDO_MAP_IDX``/``_IDX_VALUE`` and kfunc BTF indexes;
    ``attach_prog_fd`` doubles as ``attach_btf_obj_fd``.  Instructions that are not a
    whole number of slots raise BpfError(EINVAL): they cannot be expressed to the kernel.
    """
    raw = _insn_bytes(insns)
    insn_buf, insn_addr = buffers.in_buffer(raw)
    lic = ctypes.create_string_buffer(license.encode("utf-8", errors="replace"))
    log_buf, log_addr = buffers.log_buffer(log_size if log_level else 0)
    fds = (ctypes.c_int * len(fd_array))(*fd_array) if fd_array else None
    fi_buf, fi_addr = buffers.in_buffer(func_info)
    li_buf, li_addr = buffers.in_buffer(line_info)

    attr = ProgLoadAttr()
    attr.prog_type = int(prog_type) & 0xFFFFFFFF
    attr.insn_cnt = len(raw) // 8
    attr.insns = insn_addr
    attr.license = ctypes.addressof(lic)
    attr.log_level = log_level & 0xFFFFFFFF
    attr.log_size = (log_size if log_level else 0) & 0xFFFFFFFF
    attr.log_buf = log_addr
    attr.kern_version = kern_version & 0xFFFFFFFF
    attr.prog_flags = prog_flags & 0xFFFFFFFF
    attr.prog_name = buffers.name_bytes(prog_name)
    attr.prog_ifindex = prog_ifindex
    attr.expected_attach_type = int(expected_attach_type) & 0xFFFFFFFF
    attr.prog_btf_fd = prog_btf_fd
    if func_info:
        attr.func_info_rec_size = func_info_rec_size
        attr.func_info = fi_addr
        attr.func_info_cnt = len(func_info) // max(func_info_rec_size, 1)
    if line_info:
        attr.line_info_rec_size = line_info_rec_size
        attr.line_info = li_addr
        attr.line_info_cnt = len(line_info) // max(line_info_rec_size, 1)
    attr.attach_btf_id = attach_btf_id
    attr.attach_prog_fd = attach_prog_fd
    attr.fd_array = ctypes.addressof(fds) if fds is not None else 0

    ret = sys_bpf(Cmd.PROG_LOAD, attr)
    del insn_buf, fi_buf, li_buf, fds
    log = buffers.read_text(log_buf)
    true_size = int(attr.log_true_size)
    err = -ret if ret < 0 else 0
    truncated = bool(log_level) and (err == _errno.ENOSPC or true_size > log_size)
    if ret < 0:
        return LoadResult(None, err, log, insns_processed(log) or 0, true_size, truncated)
    try:
        verified = prog_get_info(ret).verified_insns
    except OracleError:
        verified = insns_processed(log) or 0
    return LoadResult(ret, 0, log, verified, true_size, truncated)


def default_data_size_out(data_len: int) -> int:
    """Room for the packet a run returns: programs may grow it (xdp_adjust_head/tail)."""
    return 256 + 2 * data_len + 4096


def prog_test_run(
    fd: int,
    data_in: bytes = b"",
    ctx_in: bytes | None = None,
    repeat: int = 1,
    data_size_out: int | None = None,
    ctx_size_out: int | None = None,
    flags: int = 0,
    cpu: int = 0,
    batch_size: int = 0,
) -> TestRunResult:
    """BPF_PROG_TEST_RUN.

    Without ``data_in`` no output packet buffer is passed (``raw_tracepoint`` and
    ``syscall`` runs refuse one); those two types also refuse a non-zero ``repeat``, so
    pass ``repeat=0`` for them.  ``ctx_size_out`` defaults to no context out.
    """
    out_size = default_data_size_out(len(data_in)) if data_size_out is None else data_size_out
    if not data_in and data_size_out is None:
        out_size = 0
    cout_size = 0 if ctx_size_out is None else ctx_size_out
    din, din_addr = buffers.in_buffer(data_in)
    cin, cin_addr = buffers.in_buffer(ctx_in)
    dout, dout_addr = buffers.out_buffer(out_size)
    cout, cout_addr = buffers.out_buffer(cout_size)
    attr = TestRunAttr(
        prog_fd=fd & 0xFFFFFFFF,
        data_size_in=len(data_in),
        data_size_out=out_size,
        data_in=din_addr,
        data_out=dout_addr,
        repeat=repeat & 0xFFFFFFFF,
        ctx_size_in=len(ctx_in) if ctx_in else 0,
        ctx_size_out=cout_size,
        ctx_in=cin_addr,
        ctx_out=cout_addr,
        flags=flags,
        cpu=cpu,
        batch_size=batch_size,
    )
    ret = sys_bpf(Cmd.PROG_TEST_RUN, attr)
    del din
    err = -ret if ret < 0 else 0
    got_data = int(attr.data_size_out)
    got_ctx = int(attr.ctx_size_out)
    if err and err != _errno.ENOSPC:
        return TestRunResult(err, 0, b"", None, 0, got_data, got_ctx, None)
    return TestRunResult(
        errno=err,
        retval=int(attr.retval),
        data_out=buffers.read(dout, min(got_data, out_size)),
        ctx_out=buffers.read(cout, min(got_ctx, cout_size)) if cout is not None else None,
        duration_ns=int(attr.duration),
        data_size_out=got_data,
        ctx_size_out=got_ctx,
        ctx_in_after=buffers.read(cin) if cin is not None else None,
    )
