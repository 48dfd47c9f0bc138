"""Acquired references (sockets, ring buffer records, kptrs) that a program must release."""

from __future__ import annotations

from .env import Env
from .state import RefState, VerifierState


def acquire_reference_state(env: Env, insn_idx: int) -> int:
    ident = env.new_id()
    env.state.refs.append(RefState(ident, insn_idx))
    return ident


def release_reference_state(vstate: VerifierState, ident: int) -> bool:
    for i, ref in enumerate(vstate.refs):
        if ref.id == ident:
            last = len(vstate.refs) - 1
            if i != last:
                vstate.refs[i] = vstate.refs[last]
            vstate.refs.pop()
            return True
    return False


def release_reference(env: Env, ref_obj_id: int) -> bool:
    from .jmp import all_regs

    if not release_reference_state(env.state, ref_obj_id):
        return False
    for reg in all_regs(env.state):
        if reg.ref_obj_id == ref_obj_id:
            mark_reg_invalid(env, reg)
    return True


def mark_reg_invalid(env: Env, reg: object) -> None:
    """A register whose object went away: unknown to privileged programs, unreadable
    otherwise (``mark_reg_invalid``)."""
    if not env.options.allow_ptr_leaks:
        reg.mark_not_init()  # type: ignore[attr-defined]
    else:
        reg.mark_unknown()  # type: ignore[attr-defined]


def check_reference_leak(env: Env, exception_exit: bool = False) -> bool:
    """Print every reference still held; True when there are some."""
    state = env.state
    if not exception_exit and state.curframe and not state.cur.in_callback_fn:
        return False
    lingering = False
    for ref in state.refs:
        if ref.kind != "ptr":
            continue
        env.verbose(f"Unreleased reference id={ref.id} alloc_insn={ref.insn_idx}\n")
        lingering = True
    return lingering


def check_resource_leak(env: Env, exception_exit: bool, check_lock: bool, prefix: str) -> None:
    """Locks and references a path may not carry past ``prefix`` (an exit, a tail call)."""
    state = env.state
    if check_lock and state.active_lock is not None:
        raise env.einval(f"{prefix} cannot be used inside bpf_spin_lock-ed region")
    if check_reference_leak(env, exception_exit):
        raise env.einval(f"{prefix} would lead to reference leak")
    if check_lock and state.active_rcu_lock:
        raise env.einval(f"{prefix} cannot be used inside bpf_rcu_read_lock-ed region")
    if check_lock and state.active_preempt_lock:
        raise env.einval(f"{prefix} cannot be used inside bpf_preempt_disable-ed region")
