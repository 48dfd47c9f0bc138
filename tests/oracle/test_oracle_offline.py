"""Oracle parts that need no kernel: ABI layouts, enums, log parsing, case parsing."""

from __future__ import annotations

import ctypes
import errno

import pytest

from pybpf.errors import BpfError
from pybpf.oracle import (
    AttachType,
    MapType,
    ProgType,
    abi,
    available,
    fd_array_for,
    parse_case,
    prog_type_by_name,
    summarize_log,
    syscall,
    unavailable_reason,
)
from pybpf.oracle.maps import parse_cpu_list

STATS = (
    "processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 "
    "peak_states 0 mark_read 0"
)


@pytest.mark.parametrize(
    ("struct", "field", "offset"),
    [
        (abi.MapCreateAttr, "map_name", 28),
        (abi.MapCreateAttr, "map_extra", 64),
        (abi.MapCreateAttr, "map_token_fd", 76),
        (abi.MapElemAttr, "key", 8),
        (abi.MapElemAttr, "flags", 24),
        (abi.MapBatchAttr, "count", 32),
        (abi.MapBatchAttr, "flags", 48),
        (abi.ProgLoadAttr, "prog_name", 48),
        (abi.ProgLoadAttr, "expected_attach_type", 68),
        (abi.ProgLoadAttr, "func_info", 80),
        (abi.ProgLoadAttr, "fd_array", 120),
        (abi.ProgLoadAttr, "log_true_size", 140),
        (abi.ProgLoadAttr, "prog_token_fd", 144),
        (abi.TestRunAttr, "ctx_out", 56),
        (abi.TestRunAttr, "batch_size", 72),
        (abi.BtfLoadAttr, "btf_token_fd", 36),
        (abi.MapInfoStruct, "map_extra", 80),
        (abi.ProgInfoStruct, "verified_insns", 216),
    ],
)
def test_abi_offsets(struct: type[ctypes.Structure], field: str, offset: int) -> None:
    assert getattr(struct, field).offset == offset


def test_enum_numbers() -> None:
    assert (int(ProgType.SOCKET_FILTER), int(ProgType.NETFILTER)) == (1, 32)
    assert (int(AttachType.TRACE_ITER), int(AttachType.TRACE_UPROBE_SESSION)) == (28, 57)
    assert MapType["CGROUP_STORAGE"] is MapType["CGROUP_STORAGE_DEPRECATED"]
    assert (int(MapType.CGROUP_STORAGE), int(MapType.ARENA)) == (19, 33)
    assert prog_type_by_name("sched_cls") is ProgType.SCHED_CLS


def test_availability_is_a_bool_with_a_reason() -> None:
    assert isinstance(available(), bool)
    assert (unavailable_reason() == "") == available()


def test_no_syscall_answers_enosys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syscall, "_SYSCALL", None)
    assert syscall.sys_bpf(0, abi.MapCreateAttr()) == -errno.ENOSYS


def test_cpu_list() -> None:
    assert parse_cpu_list("0-1\n") == 2
    assert parse_cpu_list("0,2-3,8") == 4


def test_summary_of_a_rejection() -> None:
    log = f"0: R1=ctx() R10=fp0\n0: (95) exit\nR0 !read_ok\n{STATS}\n"
    s = summarize_log(log)
    assert (s.message, s.insns_processed, s.stats) == ("R0 !read_ok", 1, (STATS,))


def test_summary_of_an_acceptance_with_stats() -> None:
    log = f"verification time 37 usec\nstack depth 0+16\n{STATS}\n"
    s = summarize_log(log)
    assert s.message == ""
    assert s.stats == ("verification time 37 usec", "stack depth 0+16", STATS)


def test_message_glued_to_the_statistics() -> None:
    log = f"3: (85) call bpf_tail_call#12\nexpected prog array map for tail call{STATS}\n"
    s = summarize_log(log)
    assert s.message == "expected prog array map for tail call"
    assert s.insns_processed == 1


def test_parse_case_rejects_malformed_input() -> None:
    for bad in (
        {},
        {"prog_type": "socket_filter", "insns": "zz"},
        {"prog_type": "socket_filter", "insns": "95000000"},
        {"prog_type": "no_such_type", "insns": "9500000000000000"},
        {"prog_type": "xdp", "insns": "9500000000000000", "maps": [{"key_size": 4}]},
        {
            "prog_type": "xdp",
            "insns": "9500000000000000",
            "maps": [{"type": "hash", "key_size": "4"}],
        },
    ):
        with pytest.raises(BpfError) as exc:
            parse_case(bad)
        assert exc.value.errno == errno.EINVAL


def test_parse_case_names() -> None:
    case = parse_case(
        {"prog_type": "tracing", "expected_attach_type": "trace_iter", "insns": "95000000 00000000",
         "maps": [{"type": "array_of_maps", "inner": {"type": "array"}}]}
    )  # fmt: skip
    assert case.prog_type is ProgType.TRACING
    assert case.expected_attach_type is AttachType.TRACE_ITER
    assert case.maps[0].inner is not None and case.maps[0].inner.type is MapType.ARRAY


def test_fd_array_is_padded_to_the_highest_index() -> None:
    lddw_idx3 = bytes.fromhex("1851000003000000 0000000000000000")
    assert fd_array_for(lddw_idx3, [10]) == [10, -1, -1, -1]
    assert fd_array_for(bytes.fromhex("9500000000000000"), [10, 11]) == [10, 11]
