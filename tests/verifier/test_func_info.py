"""func_info, global functions and callbacks: pybpf's verifier against the kernel.

Each case is a small program (kernel-log assembly) with BTF built here; the kernel's
verdicts are recorded in tests/data/verifier/func_info_kernel.json
(``python tests/verifier/test_func_info.py --record`` rewrites it from the running kernel).
"""

from __future__ import annotations

import errno
import json
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pybpf.btf import FuncInfo
from pybpf.btf.builder import BtfBuilder
from pybpf.btf.kinds import FuncLinkage
from pybpf.isa.asm_c import assemble_c
from pybpf.kernel.progtypes import ProgType
from pybpf.verifier import Options, verify

DATA = Path(__file__).parent.parent / "data" / "verifier" / "func_info_kernel.json"
G, S = FuncLinkage.GLOBAL, FuncLinkage.STATIC


@dataclass(frozen=True)
class Case:
    name: str
    asm: str
    funcs: tuple[tuple[int, str, int, str], ...]  # (insn, name, linkage, proto: "ctx"|"int"|"ptr"|"void"|"cb")
    prog_type: ProgType = ProgType.SCHED_CLS


def build(case: Case) -> tuple[bytes, list[FuncInfo], object]:
    b = BtfBuilder()
    i32 = b.int_type("int", 4, signed=True)
    u32 = b.int_type("unsigned int", 4)
    skb = b.struct("__sk_buff", [("len", u32)])
    protos = {
        "ctx": b.func_proto(i32, [("skb", b.ptr(skb))]),
        "int": b.func_proto(i32, [("x", i32)]),
        "ptr": b.func_proto(i32, [("p", b.ptr(i32))]),
        "void": b.func_proto(0, [("x", i32)]),
        "cb": b.func_proto(i32, [("i", u32), ("ctx", b.ptr(0))]),
    }
    infos = [FuncInfo(insn, b.func(name, protos[proto], linkage)) for insn, name, linkage, proto in case.funcs]
    return b.encode(), infos, b.btf


CASES = [
    Case("global_ctx_ok", """
        r1 = r1; call pc+2; r0 = 0; exit;
        r0 = *(u32 *)(r1 +0); r0 = 0; exit""",
         ((0, "main", G, "ctx"), (4, "sub", G, "ctx"))),
    Case("global_ctx_clobbered", """
        call 7; call pc+2; r0 = 0; exit;
        r0 = 0; exit""",
         ((0, "main", G, "ctx"), (4, "sub", G, "ctx"))),
    Case("global_scalar_arg_ptr", """
        r1 = r10; call pc+2; r0 = 0; exit;
        r0 = 0; exit""",
         ((0, "main", G, "ctx"), (4, "sub", G, "int"))),
    Case("global_mem_arg_stack", """
        r1 = 0; *(u32 *)(r10 -4) = r1; r1 = r10; r1 += -4; call pc+1; exit;
        r0 = 0; exit""",
         ((0, "main", G, "ctx"), (6, "sub", G, "ptr"))),
    Case("global_mem_arg_deref_null", """
        r1 = 0; call pc+2; r0 = 0; exit;
        r0 = *(u32 *)(r1 +0); exit""",
         ((0, "main", G, "ctx"), (4, "sub", G, "ptr"))),
    Case("global_mem_arg_checked", """
        r1 = 0; call pc+2; r0 = 0; exit;
        r0 = 0; if r1 == 0 goto pc+1; r0 = *(u32 *)(r1 +0); exit""",
         ((0, "main", G, "ctx"), (4, "sub", G, "ptr"))),
    Case("global_returns_void", """
        r1 = 0; call pc+2; r0 = 0; exit;
        exit""",
         ((0, "main", G, "ctx"), (4, "sub", G, "void"))),
    Case("global_result_unknown", """
        r1 = 1; call pc+2; if r0 == 7 goto pc+0; exit;
        r0 = 7; exit""",
         ((0, "main", G, "ctx"), (4, "sub", G, "int"))),
    Case("func_info_bad_count", """
        r1 = 1; call pc+2; r0 = 0; exit;
        r0 = 0; exit""",
         ((0, "main", G, "ctx"),)),
    Case("func_info_wrong_start", """
        r1 = 1; call pc+2; r0 = 0; exit;
        r0 = 0; exit""",
         ((0, "main", G, "ctx"), (5, "sub", S, "int"))),
    Case("func_info_first_nonzero", """
        r0 = 0; exit""",
         ((1, "main", G, "ctx"),)),
    Case("static_ld_abs_void", """
        r6 = r1; call pc+2; r0 = 0; exit;
        r0 = *(u8 *)skb[0]; exit""",
         ((0, "main", G, "ctx"), (4, "sub", S, "void"))),
    Case("static_ld_abs_int", """
        r6 = r1; call pc+2; r0 = 0; exit;
        r0 = *(u8 *)skb[0]; exit""",
         ((0, "main", G, "ctx"), (4, "sub", S, "int"))),
    Case("bpf_loop_callback", """
        r1 = 4; r2 = 0 ll; r3 = 0; r4 = 0; call 181; r0 = 0; exit;
        r0 = 0; exit""",
         ((0, "main", G, "ctx"), (8, "cb", S, "cb"))),
    Case("bpf_loop_callback_bad_ret", """
        r1 = 4; r2 = 0 ll; r3 = 0; r4 = 0; call 181; r0 = 0; exit;
        r0 = 2; exit""",
         ((0, "main", G, "ctx"), (8, "cb", S, "cb"))),
    Case("bpf_loop_global_callback", """
        r1 = 4; r2 = 0 ll; r3 = 0; r4 = 0; call 181; r0 = 0; exit;
        r0 = 0; exit""",
         ((0, "main", G, "ctx"), (8, "cb", G, "int"))),
    Case("bpf_loop_ctx_on_stack", """
        r1 = 0; *(u64 *)(r10 -8) = r1; r1 = 4; r2 = 0 ll; r3 = r10; r3 += -8; r4 = 0; call 181;
        r0 = *(u64 *)(r10 -8); exit;
        r1 = *(u64 *)(r2 +0); r1 += 1; *(u64 *)(r2 +0) = r1; r0 = 0; exit""",
         ((0, "main", G, "ctx"), (12, "cb", S, "cb"))),
]


def _asm(text: str) -> list:  # type: ignore[type-arg]
    return list(assemble_c("\n".join(p.strip() for p in text.split(";") if p.strip())))


def _pybpf(case: Case) -> dict[str, object]:
    _raw, infos, btf = build(case)
    insns = _asm(case.asm)
    res = verify(insns, case.prog_type, options=Options(log_level=1), btf=btf, func_info=infos)
    return {"accepted": res.accepted, "errno": res.errno, "message": res.message}


def _kernel(case: Case) -> dict[str, object] | None:
    from pybpf.oracle.btf import btf_load
    from pybpf.oracle.log import summarize_log
    from pybpf.oracle.progs import prog_load

    raw, infos, _btf = build(case)
    try:
        loaded = btf_load(raw)
    except OSError:
        return None
    if loaded.fd is None:
        return None
    try:
        fi = b"".join(struct.pack("<II", f.insn_off, f.type_id) for f in infos)
        k = prog_load(int(case.prog_type), _asm(case.asm), log_level=1, prog_btf_fd=loaded.fd, func_info=fi)
    finally:
        os.close(loaded.fd)
    if k.errno in (errno.EPERM, errno.ENOSYS):
        return None
    if k.fd is not None:
        os.close(k.fd)
    return {"accepted": k.errno == 0, "errno": k.errno,
            "message": summarize_log(k.log).message if k.errno else ""}  # fmt: skip


def _recorded() -> dict[str, dict[str, object]]:
    return dict(json.loads(DATA.read_text())) if DATA.exists() else {}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_pybpf_matches_recorded_kernel(case: Case) -> None:
    want = _recorded().get(case.name)
    if want is None:
        pytest.skip("no recorded kernel answer")
    got = _pybpf(case)
    assert (got["accepted"], got["errno"]) == (want["accepted"], want["errno"]), got
    if not want["accepted"]:
        assert got["message"] == want["message"]


@pytest.mark.kernel
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_kernel_still_answers_as_recorded(case: Case) -> None:
    got = _kernel(case)
    if got is None:
        pytest.skip("bpf() refused")
    want = _recorded().get(case.name)
    if want is None:
        pytest.skip("no recorded kernel answer")
    assert (got["accepted"], got["errno"]) == (want["accepted"], want["errno"])


def test_global_call_logs_assumed_valid() -> None:
    res = verify(_asm(CASES[0].asm), ProgType.SCHED_CLS, options=Options(log_level=2),
                 btf=build(CASES[0])[2], func_info=build(CASES[0])[1])  # fmt: skip
    assert res.accepted
    assert "Func#1 ('sub') is global and assumed valid." in res.log
    assert "Validating sub() func#1..." in res.log


def test_sleepable_option_allows_might_sleep_helpers() -> None:
    # bpf_copy_from_user (148) in a kprobe (uprobe.s)
    asm = "r1 = r10; r1 += -8; r2 = 8; r3 = 0; call 148; r0 = 0; exit"
    plain = verify(_asm(asm), ProgType.KPROBE)
    assert plain.message == "helper call might sleep in a non-sleepable prog"
    assert verify(_asm(asm), ProgType.KPROBE, options=Options().with_prog_flags(16)).accepted


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    out = {}
    for c in CASES:
        k = _kernel(c)
        if k is not None:
            out[c.name] = k
        print(c.name, k, _pybpf(c))
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
