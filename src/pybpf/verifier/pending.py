"""The paths still to walk and the current path's jump history.

A leaf of the verifier's modules (it imports only ``env`` and ``state``): the driver and
the steps that fork a path (conditional jumps, ``may_goto``, callbacks, iterators,
speculative ALU) all push onto the same stack, and none of them has to import the driver.
"""

from __future__ import annotations

import errno
from typing import Any

from .env import BPF_COMPLEXITY_LIMIT_JMP_SEQ, Env, StackElem
from .state import JmpHistoryEntry, VerifierState


def push_insn_history(env: Env, cur: VerifierState, flags: int, linked: Any) -> None:
    """Record the current instruction in the path's history, or add ``flags`` (and the
    linked registers) to its record when this instruction already made one."""
    hist = cur.jmp_history
    if hist and env.cur_hist is hist[-1] and hist[-1].idx == env.insn_idx:
        hist[-1].flags |= flags
        if linked:
            hist[-1].linked_regs = linked
        return
    entry = JmpHistoryEntry(env.insn_idx, env.prev_insn_idx, flags, linked)
    hist.append(entry)
    env.cur_hist = entry


def push_stack(env: Env, insn_idx: int, prev_insn_idx: int, speculative: bool) -> VerifierState:
    """Queue a copy of the current state to be walked from ``insn_idx`` later."""
    cur = env.cur_state
    assert cur is not None
    st = cur.copy()
    st.speculative |= speculative
    head = env.head
    head.append(StackElem(st, insn_idx, prev_insn_idx, env.log.end_pos))
    if len(head) > BPF_COMPLEXITY_LIMIT_JMP_SEQ:
        raise env.error(errno.E2BIG, f"The sequence of {len(head)} jumps is too complex.")
    if st.parent is not None:
        st.parent.branches += 1
    return st
