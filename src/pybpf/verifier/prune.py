"""State pruning: stop exploring a path when an explored, safe state covers it.

Checkpoints are kept at prune points (``is_state_visited``); the current state is safe
when an old state at the same instruction is at least as general (``states_equal``,
``regsafe``, ``stacksafe``, ``refsafe``), looking only at registers live at that point
and treating scalars the old state never needed precisely as equal to anything.
"""

from __future__ import annotations

import errno

from ..isa.opcodes import InsnClass, JmpOp, Source
from ..kernel.regtypes import BASE_TYPE_MASK, RegType
from . import tnum
from .env import BPF_COMPLEXITY_LIMIT_STATES, Env, StateListEntry, VerifierError
from .iters import active_depths_differ, is_iter_next_insn, iter_slots_safe, next_call_iter_active
from .log import verifier_state_str
from .pending import push_insn_history
from .precision import Backtrack, mark_all_scalars_imprecise, mark_chain_precision_batch
from .state import BPF_ADD_CONST, BPF_REG_SIZE, FuncState, RegState, Slot, VerifierState

NOT_EXACT, EXACT, RANGE_WITHIN = 0, 1, 2
SCALAR = RegType.SCALAR_VALUE
NOT_INIT = RegType.NOT_INIT


class IdMap:
    """Old-to-current id pairs seen while comparing two states."""

    __slots__ = ("map", "tmp_id_gen")

    def __init__(self, start: int) -> None:
        self.map: dict[int, int] = {}
        self.tmp_id_gen = start

    def check(self, old: int, cur: int) -> bool:
        if bool(old) != bool(cur):
            return False
        if old == 0:
            return True
        seen = self.map.get(old)
        if seen is None:
            self.map[old] = cur
            return True
        return seen == cur

    def check_scalar(self, old: int, cur: int) -> bool:
        if not old:
            return True
        if not cur:
            self.tmp_id_gen += 1
            cur = self.tmp_id_gen
        if not self.check(old, cur):
            return False
        if old & BPF_ADD_CONST:
            return self.check(old & ~BPF_ADD_CONST, cur & ~BPF_ADD_CONST)
        return True


def range_within(old: RegState, cur: RegState) -> bool:
    o, c = old.b, cur.b
    return (
        o.umin <= c.umin and o.umax >= c.umax and o.smin <= c.smin and o.smax >= c.smax
        and o.u32_min <= c.u32_min and o.u32_max >= c.u32_max
        and o.s32_min <= c.s32_min and o.s32_max >= c.s32_max
    )  # fmt: skip


def _same_fields(a: RegState, b: RegState) -> bool:
    """The fields the kernel compares byte-wise up to ``id``."""
    return (
        a.type == b.type and a.off == b.off and (a.b is b.b or a.b == b.b) and a.range == b.range
        and a.map is b.map and a.mem_size == b.mem_size and a.btf_id == b.btf_id
        and a.frameno == b.frameno and a.map_uid == b.map_uid
    )  # fmt: skip


def regs_exact(old: RegState, cur: RegState, idmap: IdMap) -> bool:
    return _same_fields(old, cur) and idmap.check(old.id, cur.id) and idmap.check(old.ref_obj_id, cur.ref_obj_id)


_MEM_LIKE = frozenset(int(t) for t in (
    RegType.PTR_TO_MAP_KEY, RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM, RegType.PTR_TO_BUF,
    RegType.PTR_TO_TP_BUFFER,
))  # fmt: skip
_PKT = frozenset((int(RegType.PTR_TO_PACKET_META), int(RegType.PTR_TO_PACKET)))
_PTR_TO_STACK, _PTR_TO_ARENA = int(RegType.PTR_TO_STACK), int(RegType.PTR_TO_ARENA)
_SCALAR, _NOT_INIT = int(SCALAR), int(NOT_INIT)
# may_goto's opcode: BPF_JMP | BPF_JCOND | BPF_K
_JCOND_K = int(InsnClass.JMP) | int(JmpOp.JCOND) | int(Source.K)


def regsafe(env: Env, old: RegState, cur: RegState, idmap: IdMap, exact: int) -> bool:
    if exact == EXACT:
        return regs_exact(old, cur, idmap)
    ot = old.type
    if ot == _NOT_INIT and (exact == NOT_EXACT or cur.type == _NOT_INIT):
        return True
    if ot != cur.type:
        return False
    bt = ot & BASE_TYPE_MASK
    if bt == _SCALAR:
        if not old.precise and exact == NOT_EXACT:
            return True
        if old.id & BPF_ADD_CONST and not cur.id & BPF_ADD_CONST:
            return False
        if old.id and not old.id & BPF_ADD_CONST and cur.id & BPF_ADD_CONST:
            return False
        if old.id & BPF_ADD_CONST and old.off != cur.off:
            return False
        if not idmap.check_scalar(old.id, cur.id):
            return False
        return range_within(old, cur) and tnum.in_(old.b.var_off, cur.b.var_off)
    if bt in _MEM_LIKE:
        return (
            old.type == cur.type and old.off == cur.off and old.map is cur.map
            and old.mem_size == cur.mem_size and old.map_uid == cur.map_uid
            and range_within(old, cur) and tnum.in_(old.b.var_off, cur.b.var_off)
            and idmap.check(old.id, cur.id) and idmap.check(old.ref_obj_id, cur.ref_obj_id)
        )  # fmt: skip
    if bt in _PKT:
        if old.range < 0 or cur.range < 0:
            if old.range != cur.range:
                return False
        elif old.range > cur.range:
            return False
        if old.off != cur.off:
            return False
        if not idmap.check(old.id, cur.id):
            return False
        return range_within(old, cur) and tnum.in_(old.b.var_off, cur.b.var_off)
    if bt == _PTR_TO_STACK:
        return regs_exact(old, cur, idmap) and old.frameno == cur.frameno
    if bt == _PTR_TO_ARENA:
        return True
    return regs_exact(old, cur, idmap)


_UNBOUND = RegState()
_UNBOUND.mark_unknown()


def _scalar_reg_for_stack(env: Env, slot: object) -> RegState | None:
    st = slot.slot_type  # type: ignore[attr-defined]
    if all(t == Slot.SPILL for t in st) and slot.spilled_ptr.type == SCALAR:  # type: ignore[attr-defined]
        return slot.spilled_ptr  # type: ignore[attr-defined,no-any-return]
    if all(t == Slot.MISC or (t == Slot.INVALID and env.options.allow_uninit_stack) for t in st):
        return _UNBOUND
    return None


_ALL_INVALID = [Slot.INVALID] * BPF_REG_SIZE


def stacksafe(env: Env, old: FuncState, cur: FuncState, idmap: IdMap, exact: int) -> bool:
    i = 0
    old_alloc = old.allocated_stack
    cur_alloc = cur.allocated_stack
    while i < old_alloc:
        spi = i // BPF_REG_SIZE
        j = i % BPF_REG_SIZE
        if not j and old.stack[spi].slot_type == _ALL_INVALID:
            # a whole unused slot (the common case once dead slots are cleaned): what the
            # byte-wise walk below finds for each of its eight bytes
            if exact != NOT_EXACT and (i >= cur_alloc or cur.stack[spi].slot_type != _ALL_INVALID):
                return False
            i += BPF_REG_SIZE
            continue
        ot = old.stack[spi].slot_type[j]
        if exact != NOT_EXACT and (i >= cur_alloc or ot != cur.stack[spi].slot_type[j]):
            return False
        if ot == Slot.INVALID:
            i += 1
            continue
        if env.options.allow_uninit_stack and ot == Slot.MISC:
            i += 1
            continue
        if i >= cur_alloc:
            return False
        old_reg = _scalar_reg_for_stack(env, old.stack[spi])
        cur_reg = _scalar_reg_for_stack(env, cur.stack[spi])
        if old_reg is not None and cur_reg is not None:
            if not regsafe(env, old_reg, cur_reg, idmap, exact):
                return False
            i += BPF_REG_SIZE - j
            continue
        ct = cur.stack[spi].slot_type[j]
        if ot == Slot.MISC and ct == Slot.ZERO:
            i += 1
            continue
        if ot != ct:
            return False
        if j != BPF_REG_SIZE - 1:
            i += 1
            continue
        last = old.stack[spi].slot_type[BPF_REG_SIZE - 1]
        if last == Slot.SPILL:
            if not regsafe(env, old.stack[spi].spilled_ptr, cur.stack[spi].spilled_ptr, idmap, exact):
                return False
        elif last == Slot.ITER:
            if not iter_slots_safe(old.stack[spi], cur.stack[spi], idmap.check):
                return False
        elif last not in (Slot.MISC, Slot.ZERO, Slot.INVALID):
            return False
        i += 1
    return True


def refsafe(old: VerifierState, cur: VerifierState, idmap: IdMap) -> bool:
    if len(old.refs) != len(cur.refs):
        return False
    return all(idmap.check(o.id, c.id) for o, c in zip(old.refs, cur.refs, strict=True))


def func_states_equal(env: Env, old: FuncState, cur: FuncState, idmap: IdMap, exact: int, live: int) -> bool:
    if old.callback_depth > cur.callback_depth:
        return False
    old_regs, cur_regs = old.regs, cur.regs
    live &= 0x7FF  # (r0-r10)
    not_exact = exact == NOT_EXACT
    while live:  # the live registers, lowest first
        low = live & -live
        live ^= low
        i = low.bit_length() - 1
        o = old_regs[i]
        if not_exact:
            # regsafe's first answers, inline: an old register never read, or an old
            # scalar nothing needed precisely, covers anything of its kind
            ot = o.type
            if ot == _NOT_INIT or (ot == _SCALAR and not o.precise and cur_regs[i].type == _SCALAR):
                continue
        if not regsafe(env, o, cur_regs[i], idmap, exact):
            return False
    if not old.stack:  # (stacksafe finds nothing to compare)
        return True
    return stacksafe(env, old, cur, idmap, exact)


def states_equal(env: Env, old: VerifierState, cur: VerifierState, exact: int) -> bool:
    if old.curframe != cur.curframe:
        return False
    idmap = IdMap(env.id_gen)
    if old.speculative and not cur.speculative:
        return False
    if (old.active_lock is None) != (cur.active_lock is None):
        return False
    if old.active_rcu_lock != cur.active_rcu_lock or old.active_preempt_lock != cur.active_preempt_lock:
        return False
    if old.in_sleepable != cur.in_sleepable:
        return False
    for i in range(old.curframe + 1):
        if old.frames[i].callsite != cur.frames[i].callsite:
            return False
        # registers of outer frames are live at the call site's return point
        live = (
            env.aux[old.insn_idx].live_regs_before
            if i == old.curframe
            else env.aux[min(old.frames[i + 1].callsite + 1, len(env.aux) - 1)].live_regs_before
        )
        if not func_states_equal(env, old.frames[i], cur.frames[i], idmap, exact, live):
            return False
    if not old.refs and not cur.refs:
        return True
    return refsafe(old, cur, idmap)


class LoopHint:
    """The register whose bounds told two states apart last time: in a loop it is the
    counter, and comparing it first rejects the next pair at once."""

    __slots__ = ("regno",)

    def __init__(self) -> None:
        self.regno = 10


def states_maybe_looping(old: VerifierState, cur: VerifierState, hint: LoopHint | None = None) -> bool:
    fr = cur.curframe
    if old.curframe != fr:
        return False
    olds, curs = old.frames[fr].regs, cur.frames[fr].regs
    if hint is not None:
        ob, cb = olds[hint.regno].b, curs[hint.regno].b
        if ob is not cb and (ob.smin != cb.smin or ob.umax != cb.umax or ob != cb):
            return False
    # the bounds first, from r10 down: in a loop the states differ most often in a
    # counter's value, which compilers keep in a callee-saved register
    for i in range(len(curs) - 1, -1, -1):
        ob, cb = olds[i].b, curs[i].b
        # (two constants differ in their ranges: no need for the dataclass's __eq__)
        if ob is not cb and (ob.smin != cb.smin or ob.umax != cb.umax or ob != cb):
            if hint is not None:
                hint.regno = i
            return False
    for a, b in zip(olds, curs, strict=True):
        # _same_fields and the id, inline (the bounds were compared above): this runs for
        # every register of every state still being explored at a prune point
        if (
            a.type != b.type or a.id != b.id or a.off != b.off
            or a.range != b.range or a.map is not b.map
            or a.mem_size != b.mem_size or a.btf_id != b.btf_id or a.frameno != b.frameno
            or a.map_uid != b.map_uid
        ):  # fmt: skip
            return False
    return True


def get_loop_entry(st: VerifierState) -> VerifierState | None:
    top = st.loop_entry
    while top is not None and top.loop_entry is not None and top is not top.loop_entry:
        top = top.loop_entry
    s: VerifierState | None = st
    while s is not None and s.loop_entry is not top:
        old = s.loop_entry
        s.loop_entry = top
        s = old
    return top


def update_loop_entry(cur: VerifierState, hdr: VerifierState) -> None:
    cur1 = get_loop_entry(cur) or cur
    hdr1 = get_loop_entry(hdr) or hdr
    if hdr1.branches and hdr1.dfs_depth <= cur1.dfs_depth:
        cur.loop_entry = hdr
        hdr.used_as_loop_entry = True


def update_peak_states(env: Env) -> None:
    env.peak_states = max(env.peak_states, env.explored_states_size + env.free_list_size)


def _incomplete_loop(st: VerifierState) -> bool:
    loop_entry = get_loop_entry(st)
    return loop_entry is not None and loop_entry.branches > 0


def update_branch_counts(env: Env, st: VerifierState | None) -> None:
    while st is not None:
        st.branches -= 1
        br = st.branches
        if br == 0 and st.parent is not None and st.loop_entry is not None:
            update_loop_entry(st.parent, st.loop_entry)
        if br:
            break
        if st.in_free_list:
            st.in_free_list = False
            env.free_list_size -= 1
        st = st.parent


def propagate_precision(env: Env, old: VerifierState) -> None:
    bt = Backtrack(old.curframe)
    for fr in range(old.curframe, -1, -1):
        f = old.frames[fr]
        for i in range(10):
            r = f.regs[i]
            if r.type == SCALAR and r.precise:
                bt.set_reg(i, fr)
        for spi, slot in enumerate(f.stack):
            if slot.slot_type[BPF_REG_SIZE - 1] == Slot.SPILL:
                r = slot.spilled_ptr
                if r.type == SCALAR and r.precise:
                    bt.set_slot(fr, spi)
    mark_chain_precision_batch(env, bt)


def clean_live_states(env: Env, insn_idx: int, cur: VerifierState) -> None:
    """Clean the finished states at this instruction once their loops are complete."""
    for sl in env.explored_states.get(insn_idx, ()):
        st = sl.state
        if st.branches or st.cleaned or st.insn_idx != insn_idx:
            continue
        if _incomplete_loop(st):
            continue
        if st.curframe != cur.curframe or any(
            st.frames[i].callsite != cur.frames[i].callsite for i in range(st.curframe + 1)
        ):
            continue
        clean_verifier_state(env, st)


def clean_verifier_state(env: Env, st: VerifierState) -> None:
    """Forget what an explored state holds in registers dead at its instruction."""
    live_stack = env.stack_live
    live_stack.query_init(st)
    st.cleaned = True
    for i, f in enumerate(st.frames):
        ip = st.insn_idx if i == st.curframe else f_return_point(st, i)
        live = env.aux[ip].live_regs_before if ip < len(env.aux) else 0
        for r in range(10):
            if not live >> r & 1:
                f.regs[r].mark_not_init()
        for spi, slot in enumerate(f.stack):
            if not live_stack.slot_alive(f.frameno, spi):
                slot.spilled_ptr.mark_not_init()
                slot.slot_type = [Slot.INVALID] * BPF_REG_SIZE


def f_return_point(st: VerifierState, frameno: int) -> int:
    return st.frames[frameno + 1].callsite + 1


def is_state_visited(env: Env, insn_idx: int) -> bool:
    """True when the current path is covered by an explored state and can stop here."""
    cur = env.cur_state
    assert cur is not None
    aux = env.aux[insn_idx]
    force_checkpoint = aux.force_checkpoint
    force_new = env.options.test_state_freq or force_checkpoint or len(cur.jmp_history) > 40
    jmps = env.jmps_processed - env.prev_jmps_processed
    insns = env.insn_processed - env.prev_insn_processed
    add_new = force_new or (jmps >= 2 and insns >= 8)
    entries = env.explored_states.get(insn_idx)
    hit: StateListEntry | None = None
    states_cnt = 0
    if entries:
        states_cnt = len(entries)
        # (clean_live_states's own first test, here: most visits find nothing to clean)
        for sl in entries:
            st = sl.state
            if not (st.branches or st.cleaned) and st.insn_idx == insn_idx:
                clean_live_states(env, insn_idx, cur)
                break
        iter_next = force_checkpoint and is_iter_next_insn(env, insn_idx)
        calls_callback = aux.calls_callback
        insn = env.insns[insn_idx]
        may_goto = insn.code == _JCOND_K and insn.src == 0
        special = iter_next or calls_callback or may_goto
        loop_check = not iter_next and not calls_callback
        loop_hint: LoopHint | None = env.loop_hint
        if loop_hint is None:
            loop_hint = env.loop_hint = LoopHint()
        # a checkpoint was added a short while ago: a state still being explored here does
        # not call for another one (the counters do not change while the entries are compared)
        recent = not force_new and jmps < 20 and insns < 100
        n_live = 64 if force_checkpoint else 3
        # states_maybe_looping's test of the hinted register, inline: in a loop it tells
        # nearly every live state apart from the current one
        cfr = cur.curframe
        cur_regs = cur.frames[cfr].regs
        hint_b = cur_regs[loop_hint.regno].b
        evicted: list[StateListEntry] | None = None
        for sl in entries:
            old = sl.state
            if old.branches:
                if not special:
                    pass
                elif iter_next:
                    # an active iterator back at its _next call in a state the checkpoint covers
                    if states_equal(env, old, cur, RANGE_WITHIN) and next_call_iter_active(cur):
                        update_loop_entry(cur, old)
                        hit = sl
                        break
                elif calls_callback:
                    if states_equal(env, old, cur, RANGE_WITHIN):
                        hit = sl
                        break
                elif old.may_goto_depth != cur.may_goto_depth and states_equal(env, old, cur, RANGE_WITHIN):
                    update_loop_entry(cur, old)  # (may_goto)
                    hit = sl
                    break
                # a may_goto that did not converge is still checked for an infinite loop
                if loop_check and old.curframe == cfr:
                    ob = old.frames[cfr].regs[loop_hint.regno].b
                    if ob is hint_b or (ob.smin == hint_b.smin and ob.umax == hint_b.umax and ob == hint_b):
                        looping = states_maybe_looping(old, cur, loop_hint)
                        hint_b = cur_regs[loop_hint.regno].b  # (the hint may have moved)
                        if (
                            looping
                            and states_equal(env, old, cur, EXACT)
                            and not active_depths_differ(old, cur)
                            and old.may_goto_depth == cur.may_goto_depth
                            and old.callback_unroll_depth == cur.callback_unroll_depth
                        ):
                            env.verbose(f"infinite loop detected at insn {insn_idx}\n")
                            env.verbose("cur state:")
                            env.verbose(verifier_state_str(cur.cur, True, 0, 0) + "\n")
                            env.verbose("old state:")
                            env.verbose(verifier_state_str(old.frames[cur.curframe], True, 0, 0) + "\n")
                            raise VerifierError(errno.EINVAL, f"infinite loop detected at insn {insn_idx}")
                if recent:
                    add_new = False
                n = n_live
            else:
                loop_entry = get_loop_entry(old)
                force_exact = loop_entry is not None and loop_entry.branches > 0
                if states_equal(env, old, cur, RANGE_WITHIN if force_exact else NOT_EXACT):
                    if force_exact and loop_entry is not None:
                        update_loop_entry(cur, loop_entry)
                    hit = sl
                    break
                n = 3
            # a miss
            if add_new:
                sl.miss_cnt += 1
            if sl.miss_cnt > sl.hit_cnt * n + n:
                # evicted; a state still being explored stays counted until its paths end
                env.explored_states_size -= 1
                if old.branches or _incomplete_loop(old):
                    old.in_free_list = True
                    env.free_list_size += 1
                if evicted is None:
                    evicted = [sl]
                else:
                    evicted.append(sl)
        if evicted is not None:  # (the others keep their order)
            entries[:] = [sl for sl in entries if not any(sl is e for e in evicted)]
    if hit is not None:
        hit.hit_cnt += 1
        if aux.jmp_point:
            push_insn_history(env, cur, 0, None)
        propagate_precision(env, hit.state)
        return True
    if states_cnt > env.max_states_per_insn:
        env.max_states_per_insn = states_cnt
    if not env.options.bpf_capable and states_cnt > BPF_COMPLEXITY_LIMIT_STATES:
        return False
    if not add_new:
        return False
    env.total_states += 1
    env.explored_states_size += 1
    update_peak_states(env)
    env.prev_jmps_processed = env.jmps_processed
    env.prev_insn_processed = env.insn_processed
    if env.options.bpf_capable:
        mark_all_scalars_imprecise(cur)
    # the checkpoint takes the path's history as it is, the path goes on with none
    hist = cur.jmp_history
    cur.jmp_history = []
    new = cur.copy()
    new.jmp_history = hist
    new.insn_idx = insn_idx
    new.branches = 1
    cur.parent = new
    cur.first_insn_idx = insn_idx
    cur.dfs_depth = new.dfs_depth + 1
    if entries is None:
        env.explored_states[insn_idx] = [StateListEntry(new)]
    else:
        entries.insert(0, StateListEntry(new))
    return False
