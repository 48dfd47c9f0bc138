"""``may_goto``: a loop guard the kernel bounds at run time, explored twice here.

The fall-through path is queued with a deeper ``may_goto`` count, the jump is taken on
the current path; imprecise scalars that differ from the previous visit are widened so
that the loop's states converge (``check_cond_jmp_op`` for ``BPF_JCOND``).
"""

from __future__ import annotations

from ..isa.insn import Insn
from .env import Env
from .pending import push_stack
from .prune import IdMap, regs_exact
from .state import SCALAR_VALUE, RegState, Slot, VerifierState


def find_prev_entry(env: Env, cur: VerifierState | None, insn_idx: int) -> VerifierState | None:
    if cur is None:
        return None
    # the newest checkpoint first; one still being explored, shallower on this path, is
    # where the loop came round from
    for sl in env.explored_states.get(insn_idx, []):
        st = sl.state
        if (
            st.insn_idx == insn_idx
            and st.branches
            and st.curframe == cur.curframe
            and all(a.callsite == b.callsite for a, b in zip(st.frames, cur.frames, strict=False))
            and st.dfs_depth < cur.dfs_depth
        ):
            return st
    return None


def _maybe_widen(env: Env, old: RegState, cur: RegState, idmap: object) -> None:
    if old.type != SCALAR_VALUE or cur.type != old.type:
        return
    if old.precise or cur.precise or regs_exact(old, cur, idmap):  # type: ignore[arg-type]
        return
    cur.mark_unknown(precise=not env.options.bpf_capable)


def widen_imprecise_scalars(env: Env, old: VerifierState, cur: VerifierState) -> None:
    """Scalars the loop changed and nothing needed exactly become unknown in ``cur``."""
    idmap = IdMap(env.id_gen)
    for fr in range(old.curframe, -1, -1):
        fo, fc = old.frames[fr], cur.frames[fr]
        for i in range(11):
            _maybe_widen(env, fo.regs[i], fc.regs[i], idmap)
        for spi in range(min(len(fo.stack), len(fc.stack))):
            if fc.stack[spi].slot_type[7] != Slot.SPILL or fo.stack[spi].slot_type[7] != Slot.SPILL:
                continue
            _maybe_widen(env, fo.stack[spi].spilled_ptr, fc.stack[spi].spilled_ptr, idmap)


def check_may_goto(env: Env, insn: Insn) -> int:
    if insn.code != 0xE5 or insn.src != 0 or insn.dst or insn.imm or insn.off == 0:
        raise env.einval(f"invalid may_goto off {insn.off} imm {insn.imm}")
    idx = env.insn_idx
    cur = env.state
    prev = find_prev_entry(env, cur.parent, idx)
    queued = push_stack(env, idx + 1, idx, False)
    queued.may_goto_depth += 1
    if prev is not None:
        widen_imprecise_scalars(env, prev, queued)
    return idx + insn.off + 1
