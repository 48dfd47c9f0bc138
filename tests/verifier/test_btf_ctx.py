"""BTF-typed tracing contexts (``tp_btf``, ``fentry``/``fexit``/``fmod_ret``, LSM): what a
load from each context slot gives, by the attach target's prototype in the kernel BTF.

``tp_btf`` programs load on this machine's kernel, so their cases are compared with the
kernel's answers (recorded in ``tests/data/verifier/btf_ctx_kernel.json`` by running this
module as a script; live where bpf() works).  The kernel here refuses every
fentry/fexit/fmod_ret/LSM load with EPERM before verifying, so those cases hold the
answers ``btf_ctx_access`` gives by its rules (trampoline arguments are not trusted, an
LSM hook's are unless the hook builds or frees its object, ``fexit`` reads the return
value after the arguments, ``fmod_ret`` only an integer one).

Templates use the symbols of :mod:`tests.verifier.kptr_harness` (``{off:cgroup.level}``,
``{kf:bpf_task_acquire}``), resolved against each side's own kernel BTF.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pybpf.kernel.ctx_access import BtfArgKind
from pybpf.kernel.progtypes import AttachType, ProgType
from tests.verifier.kptr_harness import DATA, Answer, _resolve, agree, host_btf

RECORD = DATA / "btf_ctx_kernel.json"

EXIT = "r0 = 0\nexit"


@dataclass(frozen=True)
class Case:
    name: str
    section: str
    """``tp_btf/<event>``, ``fentry/<func>``, ``lsm/<hook>``... as a program's section."""
    text: str
    accepted: bool = True
    message: str = ""
    """For the cases the kernel here cannot judge: text the refusal's log must hold."""

    @property
    def kind(self) -> str:
        return self.section.split("/")[0]

    @property
    def target(self) -> str:
        return self.section.split("/", 1)[1]


TP_CASES = [
    Case("tp_arg0_struct", "tp_btf/cgroup_mkdir",
         "r2 = *(u64 *)(r1 + 0)\nr0 = *(u32 *)(r2 + {off:cgroup.level})\n" + EXIT),
    Case("tp_arg1_char_ptr_scalar", "tp_btf/cgroup_mkdir",
         "r2 = *(u64 *)(r1 + 8)\nr0 = *(u8 *)(r2 + 0)\n" + EXIT),
    Case("tp_ptr_size4", "tp_btf/cgroup_mkdir", "r2 = *(u32 *)(r1 + 0)\n" + EXIT),
    Case("tp_char_ptr_size4", "tp_btf/cgroup_mkdir", "r2 = *(u32 *)(r1 + 8)\n" + EXIT),
    Case("tp_no_third_arg", "tp_btf/cgroup_mkdir", "r2 = *(u64 *)(r1 + 16)\n" + EXIT),
    Case("tp_unaligned8", "tp_btf/cgroup_mkdir", "r2 = *(u64 *)(r1 + 4)\n" + EXIT),
    Case("tp_unaligned4", "tp_btf/cgroup_mkdir", "r2 = *(u32 *)(r1 + 4)\n" + EXIT),
    Case("tp_write", "tp_btf/cgroup_mkdir", "r2 = 0\n*(u64 *)(r1 + 0) = r2\n" + EXIT),
    Case("tp_beyond_struct", "tp_btf/cgroup_mkdir", "r2 = *(u64 *)(r1 + 0)\nr0 = *(u32 *)(r2 + 30000)\n" + EXIT),
    Case("tp_nullable_deref", "tp_btf/kfree_skb", "r2 = *(u64 *)(r1 + 24)\nr0 = *(u32 *)(r2 + 0)\n" + EXIT),
    Case("tp_nullable_checked", "tp_btf/kfree_skb",
         "r2 = *(u64 *)(r1 + 24)\nif r2 == 0 goto +1\nr0 = *(u32 *)(r2 + 0)\n" + EXIT),
    Case("tp_enum_arg_scalar", "tp_btf/kfree_skb", "r2 = *(u32 *)(r1 + 16)\n" + EXIT),
    Case("tp_void_ptr_arg", "tp_btf/kfree_skb", "r2 = *(u64 *)(r1 + 8)\nr0 = *(u8 *)(r2 + 0)\n" + EXIT),
    Case("tp_trusted_kfunc_arg", "tp_btf/task_newtask",
         "r1 = *(u64 *)(r1 + 0)\ncall kernel-function#{kf:bpf_task_acquire}\nif r0 == 0 goto +2\nr1 = r0\n"
         "call kernel-function#{kf:bpf_task_release}\n" + EXIT),
    Case("tp_scalar_arg_u64", "tp_btf/task_newtask", "r2 = *(u64 *)(r1 + 8)\nr0 = r2\nr0 &= 1\nexit"),
    Case("tp_int_args", "tp_btf/inet_sock_set_state", "r2 = *(u32 *)(r1 + 8)\nr3 = *(u32 *)(r1 + 16)\n" + EXIT),
    Case("tp_sys_enter_regs", "tp_btf/sys_enter",
         "r2 = *(u64 *)(r1 + 0)\nr0 = *(u64 *)(r2 + {off:pt_regs.di})\nr3 = *(u64 *)(r1 + 8)\n" + EXIT),
]  # fmt: skip

OTHER_CASES = [
    Case("fentry_untrusted_arg", "fentry/exit_creds",
         "r1 = *(u64 *)(r1 + 0)\ncall kernel-function#{kf:bpf_task_acquire}\n" + EXIT, False,
         "R1 must be a rcu pointer"),
    Case("fentry_int_args", "fentry/bpf_fentry_test3",
         "r2 = *(u8 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 8)\nr4 = *(u64 *)(r1 + 16)\n" + EXIT),
    Case("fentry_no_ret_slot", "fentry/bpf_fentry_test1", "r2 = *(u64 *)(r1 + 8)\n" + EXIT, False,
         "func 'bpf_fentry_test1' doesn't have 2-th argument"),
    Case("fexit_ret_slot", "fexit/bpf_fentry_test1", "r0 = *(u64 *)(r1 + 8)\nr0 &= 0\nexit"),
    Case("fexit_beyond_ret", "fexit/bpf_fentry_test1", "r2 = *(u64 *)(r1 + 16)\n" + EXIT, False,
         "func 'bpf_fentry_test1' doesn't have 3-th argument"),
    Case("fexit_void_no_ret_slot", "fexit/exit_creds", "r2 = *(u64 *)(r1 + 8)\n" + EXIT, False,
         "func 'exit_creds' doesn't have 3-th argument"),
    Case("fexit_ptr_ret", "fexit/inet_csk_accept",
         "r2 = *(u64 *)(r1 + 16)\nr0 = *(u32 *)(r2 + 0)\n" + EXIT),
    Case("fmod_ret_int", "fmod_ret/bpf_modify_return_test", "r0 = *(u64 *)(r1 + 16)\nr0 = 0\nexit"),
    Case("fmod_ret_void", "fmod_ret/exit_creds", "r2 = *(u64 *)(r1 + 8)\n" + EXIT, False,
         "func 'exit_creds' doesn't have 3-th argument"),  # a void return takes no slot
    Case("fmod_ret_ptr", "fmod_ret/inet_csk_accept", "r2 = *(u64 *)(r1 + 16)\n" + EXIT, False,
         "ret type PTR not allowed for fmod_ret"),
    Case("fentry_struct_by_value", "fentry/bpf_check",
         "r2 = *(u64 *)(r1 + 16)\nr3 = *(u64 *)(r1 + 24)\nr4 = *(u32 *)(r1 + 32)\n" + EXIT),
    Case("fentry_after_struct_by_value", "fentry/bpf_check", "r2 = *(u64 *)(r1 + 40)\n" + EXIT, False,
         "func 'bpf_check' doesn't have 5-th argument"),
    Case("fentry_ptr_to_ptr", "fentry/bpf_check", "r2 = *(u64 *)(r1 + 0)\n" + EXIT, False,
         "func 'bpf_check' arg0 type PTR is not a struct"),
    Case("fentry_union_ptr", "fentry/bpf_check", "r2 = *(u64 *)(r1 + 8)\nr0 = *(u32 *)(r2 + 0)\n" + EXIT),
    Case("fentry_user_ptr", "fentry/__sys_getsockname",
         "r2 = *(u64 *)(r1 + 8)\nr0 = *(u16 *)(r2 + 0)\n" + EXIT, False,
         "R2 is ptr_sockaddr access user memory: off=0"),
    Case("lsm_trusted_arg", "lsm/inode_unlink",
         "r2 = *(u64 *)(r1 + 8)\nr0 = *(u64 *)(r2 + {off:dentry.d_inode})\n" + EXIT),
    Case("lsm_retval", "lsm/file_open", "r0 = *(u64 *)(r1 + 8)\nr0 = 0\nexit"),
    Case("lsm_trusted_kfunc_arg", "lsm/task_alloc",
         "r1 = *(u64 *)(r1 + 0)\ncall kernel-function#{kf:bpf_task_acquire}\nif r0 == 0 goto +2\nr1 = r0\n"
         "call kernel-function#{kf:bpf_task_release}\n" + EXIT),
    Case("lsm_untrusted_hook", "lsm/task_free",
         "r1 = *(u64 *)(r1 + 0)\ncall kernel-function#{kf:bpf_task_acquire}\n" + EXIT, False,
         "R1 must be a rcu pointer"),
    Case("lsm_errno_retval", "lsm/file_mprotect", "r0 = -4095\nexit"),
    Case("lsm_errno_retval_32bit", "lsm/file_mprotect", "w0 = -1\nexit"),  # an int: 32 bits count
    Case("lsm_retval_below_errno", "lsm/file_mprotect", "r0 = -4096\nexit", False,
         "R0 has smin=-4096 smax=-4096 should have been in [-4095, 0]"),
    Case("lsm_positive_retval", "lsm/file_mprotect", "r0 = 1\nexit", False,
         "R0 has smin=1 smax=1 should have been in [-4095, 0]"),
    Case("lsm_returns_the_previous_retval", "lsm/file_mprotect", "r0 = *(u64 *)(r1 + 24)\nexit"),
    Case("lsm_bool_hook", "lsm/audit_rule_known", "r0 = 1\nexit"),
    Case("lsm_bool_hook_errno", "lsm/audit_rule_known", "r0 = -1\nexit", False,
         "R0 has smin=-1 smax=-1 should have been in [0, 1]"),
    Case("lsm_void_hook_any_retval", "lsm/file_free_security", "r0 = 5\nexit"),
    Case("lsm_disabled_hook", "lsm/getprocattr", EXIT, False,
         "points to disabled hook bpf_lsm_getprocattr"),
    Case("lsm_cgroup_void_hook", "lsm_cgroup/inet_csk_clone", EXIT, False,
         "R0 has smin=0 smax=0 should have been in [1, 1]"),
    Case("lsm_cgroup_int_hook", "lsm_cgroup/socket_bind", "r0 = 1\nexit"),
]  # fmt: skip

_ATTACH = {
    "tp_btf": (ProgType.TRACING, AttachType.TRACE_RAW_TP),
    "fentry": (ProgType.TRACING, AttachType.TRACE_FENTRY),
    "fexit": (ProgType.TRACING, AttachType.TRACE_FEXIT),
    "fmod_ret": (ProgType.TRACING, AttachType.MODIFY_RETURN),
    "lsm": (ProgType.LSM, AttachType.LSM_MAC),
    "lsm_cgroup": (ProgType.LSM, AttachType.LSM_CGROUP),
}


def pybpf_answer(case: Case) -> tuple[Answer, str]:
    from pybpf.isa.asm_c import assemble_c
    from pybpf.kernel.vmlinux import kernel_btf
    from pybpf.verifier import Options, verify

    pt, at = _ATTACH[case.kind]
    res = verify(assemble_c(_resolve(case.text, kernel_btf())), pt, expected_attach_type=at,
                 options=Options(log_level=1, attach_btf_name=case.target))  # fmt: skip
    return Answer(res.accepted, res.errno, res.message), res.log


def kernel_answer(case: Case) -> Answer:
    from pybpf import oracle
    from pybpf.btf import Kind
    from pybpf.isa.asm_c import assemble_c

    btf = host_btf()
    tid = btf.find_by_name_kind("btf_trace_" + case.target, Kind.TYPEDEF)
    assert tid is not None, case.target
    insns = assemble_c(_resolve(case.text, btf))
    r = oracle.prog_load(
        ProgType.TRACING, insns, expected_attach_type=AttachType.TRACE_RAW_TP, attach_btf_id=tid
    )
    if r.fd is not None:
        oracle.close(r.fd)
    return Answer(r.errno == 0, r.errno, "" if r.errno == 0 else oracle.log_message(r.log))


def test_tp_btf_cases_agree_with_the_recorded_kernel() -> None:
    rec = json.loads(RECORD.read_text())
    assert set(rec) == {c.name for c in TP_CASES}, (
        "re-record: python -m tests.verifier.test_btf_ctx"
    )
    bad = []
    for c in TP_CASES:
        mine, _ = pybpf_answer(c)
        if not agree(mine, Answer(**rec[c.name])):
            bad.append((c.name, mine, rec[c.name]))
    assert not bad, bad
    assert sum(not Answer(**a).accepted for a in rec.values()) >= 8  # the refusals are compared too


@pytest.mark.kernel
def test_tp_btf_cases_agree_with_the_running_kernel() -> None:
    from pybpf.btf import Kind
    from pybpf.oracle import available, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    try:
        btf = host_btf()
    except Exception as exc:  # no /sys/kernel/btf/vmlinux
        pytest.skip(f"no kernel BTF: {exc}")
    bad = []
    for c in TP_CASES:
        if btf.find_by_name_kind("btf_trace_" + c.target, Kind.TYPEDEF) is None:
            continue
        k, (mine, _) = kernel_answer(c), pybpf_answer(c)
        if not agree(mine, k):
            bad.append((c.name, mine, k))
    assert not bad, bad


@pytest.mark.parametrize("case", OTHER_CASES, ids=lambda c: c.name)
def test_trampoline_and_lsm_contexts(case: Case) -> None:
    mine, log = pybpf_answer(case)
    assert mine.accepted == case.accepted, (mine, log[-600:])
    if not case.accepted:
        assert case.message in log, log[-600:]


def test_accepted_pointer_loads_log_their_btf_type() -> None:
    """``btf_ctx_access`` says which type a pointer argument loads as."""
    _, log = pybpf_answer(
        Case("x", "tp_btf/cgroup_mkdir", "r2 = *(u64 *)(r1 + 0)\nr2 = *(u32 *)(r1 + 8)\n" + EXIT)
    )
    assert "func 'cgroup_mkdir' arg0 has btf_id " in log and " type STRUCT 'cgroup'" in log
    assert "func 'cgroup_mkdir' size 4 must be 8" in log


def test_signatures_from_the_kernel_btf() -> None:
    from pybpf.verifier.btf_ctx import target_func_sig

    tp = target_func_sig(ProgType.TRACING, AttachType.TRACE_RAW_TP, "cgroup_mkdir")
    assert tp is not None and tp.name == "cgroup_mkdir" and tp.proto_slots == (1, 1, 1)
    assert [a.kind for a in tp.args] == [
        BtfArgKind.STRUCT_PTR,
        BtfArgKind.INT_PTR,
    ] and tp.ret is None
    lsm = target_func_sig(ProgType.LSM, AttachType.LSM_MAC, "inode_unlink")
    assert lsm is not None and lsm.name == "bpf_lsm_inode_unlink" and lsm.args_trusted
    free = target_func_sig(ProgType.LSM, AttachType.LSM_MAC, "task_free")
    assert free is not None and not free.args_trusted
    check = target_func_sig(ProgType.TRACING, AttachType.TRACE_FENTRY, "bpf_check")
    assert check is not None and check.proto_slots == (1, 1, 2, 1)
    assert [check.arg_index(o) for o in (0, 8, 16, 24, 32, 40, 48)] == [0, 1, 2, 2, 3, 4, 5]
    assert target_func_sig(ProgType.TRACING, AttachType.TRACE_RAW_TP, "no_such_event") is None


def _host_proto(btf: object, name: str, kind: str) -> object | None:
    from pybpf.btf import Func, FuncProto, Kind, Ptr, Typedef

    tid = btf.find_by_name_kind(name, Kind.TYPEDEF if kind == "typedef" else Kind.FUNC)  # type: ignore[attr-defined]
    if tid is None:
        return None
    t = btf[tid]  # type: ignore[index]
    if isinstance(t, Typedef):
        p = btf[t.type]  # type: ignore[index]
        t = btf[p.type] if isinstance(p, Ptr) else p  # type: ignore[index]
    elif isinstance(t, Func):
        t = btf[t.type]  # type: ignore[index]
    return t if isinstance(t, FuncProto) else None


def test_declared_targets_match_the_running_kernel() -> None:
    """The prototypes written in ``vmlinux/decls/trace.py`` read as the running kernel's do
    (argument count, and how ``btf_ctx_access`` sees each one)."""
    from pybpf.btf import FuncProto
    from pybpf.kernel.vmlinux import kernel_btf
    from pybpf.kernel.vmlinux.decls.trace import DECLS
    from pybpf.verifier.btf_ctx import btf_arg

    try:
        host = host_btf()
    except Exception as exc:
        pytest.skip(f"no kernel BTF: {exc}")
    import re

    names = re.findall(r"\(\*(btf_trace_\w+)\)", DECLS) + re.findall(
        r"^[\w ]+?\**(\w+)\(", DECLS, re.M
    )
    assert len(names) > 60
    mine_btf, compared, bad = kernel_btf(), 0, []
    for name in names:
        kind = "typedef" if name.startswith("btf_trace_") else "func"
        mine, theirs = _host_proto(mine_btf, name, kind), _host_proto(host, name, kind)
        if theirs is None:  # not in this kernel (config, module)
            continue
        assert isinstance(mine, FuncProto) and isinstance(theirs, FuncProto), name
        compared += 1
        a = [(x.kind, x.struct, x.slots) for x in (btf_arg(mine_btf, p.type) for p in mine.params)]
        b = [(x.kind, x.struct, x.slots) for x in (btf_arg(host, p.type) for p in theirs.params)]
        ra = btf_arg(mine_btf, mine.return_type).kind if mine.return_type else None
        rb = btf_arg(host, theirs.return_type).kind if theirs.return_type else None
        if a != b or ra != rb:
            bad.append((name, a, b, ra, rb))
    assert compared > 50
    assert not bad, bad


if __name__ == "__main__":  # record the running kernel's answers
    out = {c.name: kernel_answer(c).to_json() for c in TP_CASES}
    RECORD.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(out)} answers in {Path(RECORD).relative_to(Path.cwd())}", file=sys.stderr)
