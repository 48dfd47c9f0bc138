"""Loading runs the verifier: rejected programs never reach the runtime unless asked."""

from __future__ import annotations

import errno

import pytest

import pybpf
from pybpf.case import Case, run_case
from pybpf.isa import assemble, encode_hex
from pybpf.kernel.state import Kernel

OUT_OF_CTX = "r0 = *(u32 *)(r1 + 1000)\nexit"


def test_load_rejects_with_kernel_errno_message_and_log() -> None:
    with pytest.raises(pybpf.ProgramRejected) as info:
        pybpf.load_program(assemble(OUT_OF_CTX), "socket_filter", kernel=Kernel(seed=0), log_level=1)
    exc = info.value
    assert exc.errno == errno.EACCES
    assert exc.message == "invalid bpf_context access off=1000 size=4"
    assert exc.log.splitlines()[-2] == exc.message
    assert exc.log.startswith("0: R1=ctx() R10=fp0")


def test_accepted_program_keeps_the_verifier_answer() -> None:
    prog = pybpf.load_program(assemble("r0 = 7\nexit"), "socket_filter", kernel=Kernel(seed=0), log_level=1)
    assert prog.verified is not None and prog.verified.insns_processed == 2
    assert prog.run(b"\0" * 14).retval == 7


def test_unchecked_load_runs_and_faults_cleanly() -> None:
    prog = pybpf.load_program(assemble(OUT_OF_CTX), "socket_filter", kernel=Kernel(seed=0), verify=False)
    assert prog.verified is None
    with pytest.raises(pybpf.BpfError) as info:
        prog.run(b"\0" * 14)
    assert info.value.message.startswith("insn 0: invalid read of 4 bytes")
    assert "past the end of ctx '__sk_buff'" in info.value.message


def _case(text: str) -> Case:
    return Case.from_json({"prog_type": "socket_filter", "insns": encode_hex(assemble(text)),
                           "run": {"data": "00" * 14}})  # fmt: skip


def test_run_case_refuses_rejected_programs() -> None:
    out = run_case(_case(OUT_OF_CTX), Kernel(seed=0), log_level=1)
    assert not out.accepted and out.errno == errno.EACCES
    assert out.run is None and out.insns_processed == 1
    assert "invalid bpf_context access" in out.log


def test_run_case_reports_log_and_count_for_accepted_programs() -> None:
    out = run_case(_case("r0 = 1\nexit"), Kernel(seed=0), log_level=1)
    assert out.accepted and out.run is not None and out.run["retval"] == 1
    assert out.insns_processed == 2 and "processed 2 insns" in out.log
