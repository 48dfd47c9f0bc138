"""load_case: a case file's maps, program and run in the running kernel."""

from __future__ import annotations

import errno
from typing import Any

import pytest

from pybpf.oracle import CaseStep, Session, load_case, map_lookup

from .conftest import needs_kernel

pytestmark = [pytest.mark.kernel, needs_kernel]

# r1 = 0; *(u32 *)(r10 - 4) = r1; r2 = r10; r2 += -4; r1 = map[0] (BPF_PSEUDO_MAP_IDX);
# call bpf_map_lookup_elem; if r0 == 0 goto +1; r0 = *(u32 *)(r0 + 0); exit
LOOKUP_KEY0 = (
    "b701000000000000 631afcff00000000 bfa2000000000000 07020000fcffffff "
    "1851000000000000 0000000000000000 8500000001000000 1500010000000000 "
    "6100000000000000 9500000000000000"
)

# The spec's own example: a hash value dereferenced without a NULL check.
UNCHECKED_HASH: dict[str, Any] = {
    "name": "map lookup without null check",
    "prog_type": "socket_filter",
    "expected_attach_type": None,
    "insns": "b701000000000000 7b1af8ff00000000 bfa2000000000000 07020000f8ffffff "
    "1851000000000000 0000000000000000 8500000001000000 7900000000000000 9500000000000000",
    "maps": [{"type": "hash", "key_size": 8, "value_size": 8, "max_entries": 16, "flags": 0}],
    "run": {"data": "00112233", "ctx": None, "repeat": 1},
}


def test_rejected_case() -> None:
    res = load_case(UNCHECKED_HASH)
    assert not res.accepted
    assert res.errno == errno.EACCES
    assert res.message == "R0 invalid mem access 'map_value_or_null'"
    assert res.insns_processed == 7
    assert res.run is None
    out = res.to_json()
    assert set(out) == {"accepted", "errno", "message", "log", "insns_processed", "run"}


def test_case_with_map_init_runs() -> None:
    case = {
        "prog_type": "xdp",
        "insns": LOOKUP_KEY0,
        "maps": [{"type": "array", "key_size": 4, "value_size": 4, "max_entries": 1,
                  "map_init": "2a000000"}],
        "run": {"data": "00" * 64, "ctx": None, "repeat": 1},
    }  # fmt: skip
    res = load_case(case, dump_maps=True)
    assert res.accepted, res.log
    assert res.errno == 0 and res.message == ""
    assert res.insns_processed is not None and res.insns_processed > 0
    assert res.run is not None
    assert (res.run.errno, res.run.retval, res.run.data) == (0, 42, "00" * 64)
    assert res.maps_after[0].items == (("00000000", "2a000000"),)


def test_frozen_rodata_is_read_through_a_direct_value_address() -> None:
    # r1 = &map[0].value + 4 (BPF_PSEUDO_MAP_IDX_VALUE); r0 = *(u32 *)(r1 + 0); exit
    case = {
        "prog_type": "socket_filter",
        "insns": "1861000000000000 0000000004000000 6110000000000000 9500000000000000",
        "maps": [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1,
                  "flags": 0x80, "map_init": "0100000007000000", "freeze": True}],
        "run": {"data": "00" * 64, "ctx": None, "repeat": 1},
    }  # fmt: skip
    res = load_case(case)
    assert res.accepted, res.log
    assert res.run is not None and res.run.retval == 7


def test_message_without_newline_is_split_from_the_statistics() -> None:
    # r2 = map[0]; r3 = 0; call bpf_tail_call; r0 = 0; exit -- with a hash map, not a prog array
    case = {
        "prog_type": "socket_filter",
        "insns": "1852000000000000 0000000000000000 b703000000000000 850000000c000000 "
        "b700000000000000 9500000000000000",
        "maps": [{"type": "hash", "key_size": 4, "value_size": 4, "max_entries": 1}],
    }
    res = load_case(case)
    assert (res.accepted, res.errno) == (False, errno.EINVAL)
    assert res.message == "expected prog array map for tail call"
    assert res.insns_processed == 3


def test_index_past_the_maps_reads_minus_one() -> None:
    case = {"prog_type": "socket_filter", "insns": LOOKUP_KEY0, "maps": []}
    res = load_case(case)
    assert res.errno == errno.EBADF
    assert res.message == "fd -1 is not pointing to valid bpf_map"


def test_map_in_map_case_gets_its_inner_template() -> None:
    case = {
        "prog_type": "socket_filter",
        "insns": "b700000000000000 9500000000000000",
        "maps": [{"type": "array_of_maps", "key_size": 4, "value_size": 4, "max_entries": 1,
                  "inner": {"type": "array", "key_size": 4, "value_size": 4, "max_entries": 1}}],
    }  # fmt: skip
    assert load_case(case).accepted


def test_map_create_failure_is_a_result() -> None:
    case = {
        "prog_type": "socket_filter",
        "insns": "b700000000000000 9500000000000000",
        "maps": [{"type": "hash", "key_size": 0, "value_size": 4, "max_entries": 1}],
    }
    res = load_case(case)
    assert (res.accepted, res.errno, res.failed_step) == (False, errno.EINVAL, CaseStep.MAP_CREATE)


def test_session_keeps_the_objects_for_inspection() -> None:
    case = {
        "prog_type": "xdp",
        "insns": LOOKUP_KEY0,
        "maps": [{"type": "array", "key_size": 4, "value_size": 4, "max_entries": 1,
                  "map_init": "05"}],
    }  # fmt: skip
    with Session() as s:
        res = load_case(case, session=s)
        assert res.accepted
        map_fd = s.fds[0]
        assert map_lookup(map_fd, bytes(4), 4) == (0, b"\x05\x00\x00\x00")
