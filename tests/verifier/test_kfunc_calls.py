"""kfunc calls: arguments from BTF prototypes, acquire/release and reference leaks,
KF_RET_NULL, trusted and RCU arguments, and which program types may call which set.

Compared with the running kernel (recorded in tests/data/verifier/kfunc_kernel.json;
regenerate with ``python -m tests.verifier.test_kfunc_calls`` where bpf() works).
"""

from __future__ import annotations

import pytest

from pybpf.isa.asm_c import assemble_c
from pybpf.kernel.vmlinux import kfunc, offsetof
from pybpf.verifier import verify

from .kptr_harness import (
    Case,
    live_mismatches,
    record,
    recorded_mismatches,
)

TP = "tracepoint"
CUR = "call bpf_get_current_task_btf\nr1 = r0\n"
ACQ = CUR + "call kernel-function#{kf:bpf_task_acquire}\n"
REL = "r1 = r0\ncall kernel-function#{kf:bpf_task_release}\n"
END = "r0 = 0\nexit\n"


def _c(name: str, text: str, prog_type: str = TP, **kw: object) -> Case:
    return Case(name, prog_type, text, **kw)  # type: ignore[arg-type]


CASES: tuple[Case, ...] = (
    _c("acquire_release", ACQ + "if r0 == 0 goto +2\n" + REL + END),
    _c("acquire_leak", ACQ + "if r0 == 0 goto +0\n" + END),
    _c(
        "acquire_leak_on_one_path",
        ACQ + "if r0 == 0 goto +3\nr6 = r0\nif r6 != 1 goto +1\n" + REL + END,
    ),
    _c("release_maybe_null", ACQ + REL + END),
    _c(
        "release_twice",
        ACQ
        + "if r0 == 0 goto +4\nr6 = r0\n"
        + REL
        + "r1 = r6\ncall kernel-function#{kf:bpf_task_release}\n"
        + END,
    ),
    _c("release_unreferenced", CUR + "call kernel-function#{kf:bpf_task_release}\n" + END),
    _c("release_scalar", "r1 = 0\ncall kernel-function#{kf:bpf_task_release}\n" + END),
    _c("release_stack", "r1 = r10\nr1 += -8\ncall kernel-function#{kf:bpf_task_release}\n" + END),
    _c(
        "acquire_from_stack",
        "r1 = r10\nr1 += -8\ncall kernel-function#{kf:bpf_task_acquire}\n" + END,
    ),
    _c("acquire_from_ctx", "call kernel-function#{kf:bpf_task_acquire}\n" + END),
    _c("acquire_null", "r1 = 0\ncall kernel-function#{kf:bpf_task_acquire}\n" + END),
    _c(
        "acquire_then_read",
        ACQ + "if r0 == 0 goto +4\nr6 = r0\nr2 = *(u32 *)(r0 + {off:task_struct.pid})\n"
        "r1 = r6\ncall kernel-function#{kf:bpf_task_release}\n" + END,
    ),
    _c(
        "read_after_release",
        ACQ
        + "if r0 == 0 goto +4\nr6 = r0\n"
        + REL
        + "r2 = *(u32 *)(r6 + {off:task_struct.pid})\n"
        + END,
    ),
    _c("release_with_offset", ACQ + "if r0 == 0 goto +3\nr0 += 8\n" + REL + END),
    _c(
        "acquire_from_walked_ptr",
        CUR + "r1 = *(u64 *)(r0 + {off:task_struct.parent})\n"
        "call kernel-function#{kf:bpf_task_acquire}\n" + END,
    ),
    _c(
        "acquire_from_rcu_ptr",
        CUR + "r1 = *(u64 *)(r0 + {off:task_struct.real_parent})\n"
        "call kernel-function#{kf:bpf_task_acquire}\nif r0 == 0 goto +2\n" + REL + END,
    ),
    _c(
        "from_pid_release",
        "r1 = 1\ncall kernel-function#{kf:bpf_task_from_pid}\nif r0 == 0 goto +2\n" + REL + END,
    ),
    _c("from_pid_ptr_arg", "r1 = r10\ncall kernel-function#{kf:bpf_task_from_pid}\n" + END),
    _c(
        "wrong_struct",
        "r1 = 1\ncall kernel-function#{kf:bpf_task_from_pid}\nif r0 == 0 goto +3\nr6 = r0\n"
        "r1 = r0\ncall kernel-function#{kf:bpf_cgroup_release}\n" + END,
    ),
    _c("not_allowed_in_socket_filter", ACQ + "if r0 == 0 goto +2\n" + REL + END, "socket_filter"),
    _c("not_allowed_in_kprobe", ACQ + "if r0 == 0 goto +2\n" + REL + END, "kprobe"),
    _c("sched_cls_acquire_release", ACQ + "if r0 == 0 goto +2\n" + REL + END, "sched_cls"),
    _c("not_a_function", "call kernel-function#1\n" + END),
    _c("nongpl", ACQ + "if r0 == 0 goto +2\n" + REL + END, gpl=False),
    _c(
        "rcu_lock_unlock",
        "call kernel-function#{kf:bpf_rcu_read_lock}\ncall kernel-function#{kf:bpf_rcu_read_unlock}\n"
        + END,
    ),
    _c("rcu_unlock_unmatched", "call kernel-function#{kf:bpf_rcu_read_unlock}\n" + END),
    _c(
        "rcu_nested",
        "call kernel-function#{kf:bpf_rcu_read_lock}\ncall kernel-function#{kf:bpf_rcu_read_lock}\n"
        + END,
    ),
    _c("rcu_lock_at_exit", "call kernel-function#{kf:bpf_rcu_read_lock}\n" + END),
    _c(
        "test_release_wrong",
        ACQ + "if r0 == 0 goto +3\nr6 = r0\nr1 = r0\n"
        "call kernel-function#{kf:bpf_kfunc_call_test_release}\n" + END,
        "sched_cls",
    ),
    _c(
        "kern_ctx_skb",
        "call kernel-function#{kf:bpf_cast_to_kern_ctx}\nr1 = *(u32 *)(r0 + {off:sk_buff.len})\n"
        + END,
        "sched_cls",
    ),
    _c(
        "kern_ctx_xdp",
        "call kernel-function#{kf:bpf_cast_to_kern_ctx}\nr1 = *(u64 *)(r0 + {off:xdp_buff.data})\n"
        + END,
        "xdp",
    ),
    _c(
        "kern_ctx_not_ctx",
        "r1 = r10\ncall kernel-function#{kf:bpf_cast_to_kern_ctx}\n" + END,
        "sched_cls",
    ),
    _c(
        "kern_ctx_write",
        "call kernel-function#{kf:bpf_cast_to_kern_ctx}\n*(u32 *)(r0 + {off:sk_buff.len}) = 1\n"
        + END,
        "sched_cls",
    ),
    _c("scalar_for_ptr_arg", "r1 = 5\ncall kernel-function#{kf:bpf_task_under_cgroup}\n" + END),
    _c("ptr_for_scalar_arg", "r1 = r10\ncall kernel-function#{kf:bpf_cgroup_from_id}\n" + END),
)


def test_pybpf_answers_are_the_kernels_recorded() -> None:
    bad = recorded_mismatches("kfunc_kernel", CASES)
    if bad is None:
        pytest.skip("no recorded kernel answers")
    assert not bad, bad


@pytest.mark.kernel
def test_pybpf_answers_are_the_live_kernels() -> None:
    from pybpf import oracle

    if not oracle.available():
        pytest.skip(oracle.unavailable_reason())
    bad = live_mismatches(CASES)
    assert not bad, bad


# --- pybpf's own test kfuncs (bpf_testmod's, absent from the running kernel) --------------


def _testmod(text: str, prog_type: str = "sched_cls", level: int = 1) -> tuple[bool, str, str]:
    ids = {k: kfunc(k).func_id for k in (  # type: ignore[union-attr]
        "bpf_kfunc_call_test_acquire", "bpf_kfunc_call_test_release", "bpf_kfunc_call_test_ref",
        "bpf_kfunc_call_test_get_rdonly_mem", "bpf_kfunc_call_test_pass1", "bpf_kfunc_call_memb_acquire",
        "bpf_kfunc_call_memb1_release", "bpf_kfunc_call_test_mem_len_pass1", "bpf_kfunc_call_test_sleepable",
    )}  # fmt: skip
    res = verify(assemble_c(text.format(**ids)), prog_type, log_level=level)
    return res.accepted, res.message, res.log


ACQ_T = "*(u64 *)(r10 - 8) = 0\nr1 = r10\nr1 += -8\ncall kernel-function#{bpf_kfunc_call_test_acquire}\n"


def test_testmod_acquire_release() -> None:
    ok, msg, _ = _testmod(
        ACQ_T
        + "if r0 == 0 goto +2\nr1 = r0\ncall kernel-function#{bpf_kfunc_call_test_release}\n"
        + END
    )
    assert ok, msg


def test_testmod_leak_names_the_reference() -> None:
    ok, msg, log = _testmod(ACQ_T + END)
    assert not ok
    assert "Unreleased reference id=" in log and "alloc_insn=3" in log
    assert msg == "BPF_EXIT instruction in main prog would lead to reference leak"


def test_testmod_ret_null_must_be_checked_before_use() -> None:
    ok, msg, _ = _testmod(ACQ_T + "r1 = *(u32 *)(r0 + 0)\n" + END)
    assert not ok and msg == "R0 invalid mem access 'ptr_or_null_'"


def test_testmod_trusted_arg_refuses_walked_pointer() -> None:
    nxt = offsetof("prog_test_ref_kfunc", "next")
    ok, msg, _ = _testmod(
        ACQ_T + f"if r0 == 0 goto +6\nr6 = r0\nr1 = *(u64 *)(r0 + {nxt})\n"
        "call kernel-function#{bpf_kfunc_call_test_ref}\nr1 = r6\n"
        "call kernel-function#{bpf_kfunc_call_test_release}\n" + END
    )
    assert not ok and msg == "R1 must be a rcu pointer"


def test_testmod_rdonly_mem_return() -> None:
    ok, msg, log = _testmod(
        ACQ_T + "if r0 == 0 goto +8\nr6 = r0\nr1 = r0\nr2 = 8\n"
        "call kernel-function#{bpf_kfunc_call_test_get_rdonly_mem}\nif r0 == 0 goto +1\n"
        "r2 = *(u64 *)(r0 + 0)\nr1 = r6\ncall kernel-function#{bpf_kfunc_call_test_release}\n"
        + END,
        level=2,
    )
    assert ok, msg
    assert "R0=rdonly_mem_or_null(id=" in log and "sz=8" in log


def test_testmod_member_release_needs_the_member_type() -> None:
    ok, msg, _ = _testmod(
        "call kernel-function#{bpf_kfunc_call_memb_acquire}\nif r0 == 0 goto +2\nr1 = r0\n"
        "call kernel-function#{bpf_kfunc_call_memb1_release}\n" + END
    )
    # the release wants exactly its own type for a referenced argument
    assert not ok
    assert (
        "expected pointer to STRUCT prog_test_member1 but R1 has a pointer to STRUCT prog_test_member"
        in msg
    )


def test_testmod_mem_and_size_pair() -> None:
    ok, msg, _ = _testmod(
        "*(u64 *)(r10 - 8) = 0\nr1 = r10\nr1 += -8\nr2 = 8\n"
        "call kernel-function#{bpf_kfunc_call_test_mem_len_pass1}\n" + END
    )
    assert ok, msg
    ok, msg, log = _testmod(
        "*(u64 *)(r10 - 8) = 0\nr1 = r10\nr1 += -8\nr2 = 16\n"
        "call kernel-function#{bpf_kfunc_call_test_mem_len_pass1}\n" + END
    )
    assert not ok and "arg#0 arg#1 memory, len pair leads to invalid memory access" in log


def test_testmod_sleepable_kfunc_needs_sleepable_program() -> None:
    ok, msg, _ = _testmod("call kernel-function#{bpf_kfunc_call_test_sleepable}\n" + END)
    assert (
        not ok
        and msg == "program must be sleepable to call sleepable kfunc bpf_kfunc_call_test_sleepable"
    )


if __name__ == "__main__":
    record("kfunc_kernel", CASES)
