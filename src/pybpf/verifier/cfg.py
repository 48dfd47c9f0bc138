"""Program structure before any state is tracked: subprograms, jumps, the control-flow graph.

``add_subprogs`` finds every function start (the entry, bpf-to-bpf call targets,
callbacks), ``check_subprogs`` keeps jumps inside their function and functions from
falling into each other, ``check_cfg`` walks the graph depth-first to find unreachable
instructions and jumps into the middle of an ``lddw``, and marks the prune points.
"""

from __future__ import annotations

import errno

from ..isa import Insn
from ..isa.opcodes import InsnClass, JmpOp, PseudoCall, PseudoLdImm64
from .env import BPF_MAX_SUBPROGS, Env, SubprogInfo
from .iters import is_iter_next_call

TAIL_CALL = 12
DISCOVERED = 0x10
EXPLORED = 0x20
FALLTHROUGH = 1
BRANCH = 2
# helpers that call back into BPF code synchronously
CALLBACK_HELPERS = {164: "for_each_map_elem", 181: "loop", 180: "find_vma", 209: "user_ringbuf_drain"}
ASYNC_CALLBACK_HELPERS = {170: "timer_set_callback"}


def is_pseudo_call(insn: Insn) -> bool:
    return insn.code == (InsnClass.JMP | JmpOp.CALL) and insn.src == PseudoCall.CALL


def is_pseudo_func(insn: Insn) -> bool:
    return insn.is_lddw and insn.src == PseudoLdImm64.FUNC


def is_kfunc_call(insn: Insn) -> bool:
    return insn.code == (InsnClass.JMP | JmpOp.CALL) and insn.src == PseudoCall.KFUNC_CALL


def is_helper_call(insn: object, helper_id: int | None = None) -> bool:
    return (
        insn.code == (InsnClass.JMP | JmpOp.CALL)  # type: ignore[attr-defined]
        and insn.src == 0  # type: ignore[attr-defined]
        and (helper_id is None or insn.imm == helper_id)  # type: ignore[attr-defined]
    )


def add_subprog(env: Env, off: int) -> int:
    if off >= len(env.insns) or off < 0:
        raise env.einval("call to invalid destination")
    for i, sp in enumerate(env.subprogs):
        if sp.start == off:
            return i
    if len(env.subprogs) >= BPF_MAX_SUBPROGS:
        raise env.error(errno.E2BIG, "too many subprograms")
    env.subprogs.append(SubprogInfo(off))
    env.subprogs.sort(key=lambda s: s.start)
    return len(env.subprogs) - 1


def add_subprogs(env: Env) -> None:
    add_subprog(env, 0)
    for i, insn in enumerate(env.insns):
        if not (is_pseudo_func(insn) or is_pseudo_call(insn) or is_kfunc_call(insn)):
            continue
        if not env.options.bpf_capable:
            raise env.error(
                errno.EPERM,
                "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN",
            )
        if is_kfunc_call(insn):
            from .kfunc import add_kfunc_call

            add_kfunc_call(env, insn)
            continue
        add_subprog(env, i + insn.imm + 1)
    if env.level & 2:
        for i, sp in enumerate(env.subprogs):
            env.verbose(f"func#{i} @{sp.start}\n")


def check_subprogs(env: Env) -> None:
    insns = env.insns
    n = len(insns)
    starts = [sp.start for sp in env.subprogs] + [n]
    cur = 0
    start, end = starts[0], starts[1]
    for i, insn in enumerate(insns):
        code = insn.code
        cls = code & 0x07
        if is_helper_call(insn, TAIL_CALL):
            env.subprogs[cur].has_tail_call = True
            env.subprogs[cur].tail_call_reachable = True
        if cls == InsnClass.LD and insn.mode in (0x20, 0x40):
            env.subprogs[cur].has_ld_abs = True
        if cls in (InsnClass.JMP, InsnClass.JMP32) and insn.op not in (JmpOp.EXIT, JmpOp.CALL):
            off = i + (insn.imm if code == (InsnClass.JMP32 | JmpOp.JA) else insn.off) + 1
            if off < start or off >= end:
                raise env.einval(f"jump out of range from insn {i} to {off}")
        if i == end - 1:
            if code not in (InsnClass.JMP | JmpOp.EXIT, InsnClass.JMP32 | JmpOp.JA, InsnClass.JMP | JmpOp.JA):
                raise env.einval("last insn is not an exit or jmp")
            start = end
            cur += 1
            if cur < len(env.subprogs):
                end = starts[cur + 1]


def _mark_prune(env: Env, i: int) -> None:
    env.aux[i].prune_point = True


def _mark_jmp(env: Env, i: int) -> None:
    env.aux[i].jmp_point = True


def check_cfg(env: Env) -> None:
    insns = env.insns
    n = len(insns)
    state = [0] * n
    stack = [0]
    state[0] = DISCOVERED

    def push(t: int, w: int, e: int) -> int:
        """1: keep exploring (w pushed), 0: done with this edge."""
        if e == FALLTHROUGH and state[t] >= (DISCOVERED | FALLTHROUGH):
            return 0
        if e == BRANCH and state[t] >= (DISCOVERED | BRANCH):
            return 0
        if w < 0 or w >= n:
            raise env.einval(f"jump out of range from insn {t} to {w}")
        if e == BRANCH:
            _mark_prune(env, w)
            _mark_jmp(env, w)
            env.aux[w].jmp_target = True
        if state[w] == 0:
            state[t] = DISCOVERED | e
            state[w] = DISCOVERED
            stack.append(w)
            return 1
        if (state[w] & 0xF0) == DISCOVERED:
            if env.options.bpf_capable:
                return 0
            raise env.einval(f"back-edge from insn {t} to {w}")
        if state[w] == EXPLORED:
            state[t] = DISCOVERED | e
            return 0
        raise env.error(errno.EFAULT, "insn state internal bug")

    def visit_call(t: int, visit_callee: bool) -> int:
        size = 2 if insns[t].is_lddw else 1
        r = push(t, t + size, FALLTHROUGH)
        if r:
            return r
        _mark_prune(env, t + size)
        _mark_jmp(env, t + size)
        if visit_callee:
            w = t + insns[t].imm + 1
            _mark_prune(env, t)
            return push(t, w, BRANCH)
        return 0

    def visit(t: int) -> int:
        insn = insns[t]
        if is_pseudo_func(insn):
            return visit_call(t, True)
        cls = insn.cls
        if cls not in (InsnClass.JMP, InsnClass.JMP32):
            return push(t, t + (2 if insn.is_lddw else 1), FALLTHROUGH)
        op = insn.op
        if op == JmpOp.EXIT:
            return 0
        if op == JmpOp.CALL:
            if insn.src == 0 and insn.imm in ASYNC_CALLBACK_HELPERS:
                _mark_prune(env, t)
            if insn.src == 0 and insn.imm in CALLBACK_HELPERS:
                env.aux[t].calls_callback = True
                env.aux[t].force_checkpoint = True
                _mark_prune(env, t)
                _mark_jmp(env, t)
            if insn.src == PseudoCall.KFUNC_CALL and is_iter_next_call(insn):
                # open-coded iterator loops converge at their _next call: always a checkpoint
                env.aux[t].force_checkpoint = True
                _mark_prune(env, t)
            return visit_call(t, insn.src == PseudoCall.CALL)
        if op == JmpOp.JA:
            if insn.source != 0:
                raise env.einval("")
            off = insn.off if cls == InsnClass.JMP else insn.imm
            r = push(t, t + off + 1, FALLTHROUGH)
            if r:
                return r
            _mark_prune(env, t + off + 1)
            _mark_jmp(env, t + off + 1)
            env.aux[t + off + 1].jmp_target = True
            return 0
        _mark_prune(env, t)
        if op == JmpOp.JCOND:
            env.aux[t].force_checkpoint = True
        r = push(t, t + 1, FALLTHROUGH)
        if r:
            return r
        return push(t, t + insn.off + 1, BRANCH)

    while stack:
        t = stack[-1]
        if visit(t) == 0:
            state[t] = EXPLORED
            stack.pop()
    i = 0
    while i < n:
        if state[i] != EXPLORED:
            raise env.einval(f"unreachable insn {i}")
        if insns[i].is_lddw:
            if i + 1 < n and state[i + 1] != 0:
                raise env.einval(f"jump into the middle of ldimm64 insn {i}")
            i += 2
            continue
        i += 1


def check_abnormal_return(env: Env) -> None:
    for sp in env.subprogs[1:]:
        if sp.has_ld_abs:
            raise env.einval("LD_ABS is not allowed in subprogs without BTF")
        if sp.has_tail_call:
            raise env.einval("tail_call is not allowed in subprogs without BTF")
