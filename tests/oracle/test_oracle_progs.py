"""Program loads and test runs against the running kernel."""

from __future__ import annotations

import errno

import pytest

from pybpf.isa import Insn
from pybpf.oracle import (
    LogLevel,
    ProgType,
    Session,
    prog_get_info,
    prog_load,
    prog_test_run,
    summarize_log,
)

from .conftest import needs_kernel

pytestmark = [pytest.mark.kernel, needs_kernel]

RETURN_0 = [Insn(0xB7, 0, 0, 0, 0), Insn(0x95)]  # r0 = 0; exit
EXIT_ONLY = [Insn(0x95)]  # exit with r0 never written
RETURN_2 = [Insn(0xB7, 0, 0, 0, 2), Insn(0x95)]  # r0 = XDP_PASS; exit


def test_accepted_load(session: Session) -> None:
    res = session.prog_load(ProgType.SOCKET_FILTER, RETURN_0)
    assert res.accepted and res.fd is not None
    assert res.errno == 0
    assert res.verified_insns == 2
    assert res.log.startswith("processed 2 insns (limit 1000000) ")
    assert summarize_log(res.log).message == ""
    assert prog_get_info(res.fd).type == ProgType.SOCKET_FILTER


def test_insns_as_bytes_load_the_same(session: Session) -> None:
    res = session.prog_load(
        ProgType.SOCKET_FILTER, bytes.fromhex("b700000000000000 9500000000000000")
    )
    assert res.accepted


def test_rejected_load_reports_errno_and_message() -> None:
    res = prog_load(ProgType.SOCKET_FILTER, EXIT_ONLY)
    assert res.fd is None
    assert res.errno == errno.EACCES
    summary = summarize_log(res.log)
    assert summary.message == "R0 !read_ok"
    assert summary.insns_processed == 1
    assert res.verified_insns == 1


def test_log_level_0_passes_no_log() -> None:
    res = prog_load(ProgType.SOCKET_FILTER, EXIT_ONLY, log_level=0)
    assert (res.fd, res.errno, res.log) == (None, errno.EACCES, "")


def test_log_level_2_and_stats() -> None:
    res = prog_load(ProgType.SOCKET_FILTER, EXIT_ONLY, log_level=LogLevel.LEVEL2 | LogLevel.STATS)
    summary = summarize_log(res.log)
    assert summary.message == "R0 !read_ok"
    assert [s.split(" ")[0] for s in summary.stats] == ["verification", "stack", "processed"]


def test_log_too_small_is_reported() -> None:
    res = prog_load(ProgType.SOCKET_FILTER, RETURN_0, log_size=32)
    assert res.fd is None and res.errno == errno.ENOSPC
    assert res.log_truncated
    assert res.log_true_size > 32


def test_xdp_run_returns_2(session: Session) -> None:
    res = session.prog_load(ProgType.XDP, RETURN_2)
    assert res.fd is not None, res.log
    packet = bytes(range(64))
    run = prog_test_run(res.fd, packet, repeat=3)
    assert run.errno == 0
    assert run.retval == 2
    assert run.data_out == packet
    assert run.duration_ns >= 0


def test_socket_filter_sees_l3_and_zeroes_the_mac_header(session: Session) -> None:
    res = session.prog_load(ProgType.SOCKET_FILTER, RETURN_2)
    assert res.fd is not None
    packet = bytes(range(64))
    run = prog_test_run(res.fd, packet)
    assert (run.errno, run.retval) == (0, 2)
    assert run.data_out == bytes(14) + packet[14:]


def test_short_skb_run_is_einval(session: Session) -> None:
    res = session.prog_load(ProgType.SOCKET_FILTER, RETURN_0)
    assert res.fd is not None
    assert prog_test_run(res.fd, b"\x00\x11\x22\x33").errno == errno.EINVAL


def test_unaligned_program_is_a_bpf_error() -> None:
    from pybpf.errors import BpfError

    with pytest.raises(BpfError) as exc:
        prog_load(ProgType.SOCKET_FILTER, b"\x95\x00\x00")
    assert exc.value.errno == errno.EINVAL
