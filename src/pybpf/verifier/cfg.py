"""Program structure before any state is tracked: subprograms, jumps, the control-flow graph.

``add_subprogs`` finds every function start (the entry, bpf-to-bpf call targets,
callbacks), ``check_subprogs`` keeps jumps inside their function and functions from
falling into each other, ``check_cfg`` walks the graph depth-first to find unreachable
instructions and jumps into the middle of an ``lddw``, and marks the prune points.
"""

from __future__ import annotations

import errno
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..isa import Insn
from ..isa.insn import KNOWN_OPCODES
from .env import BPF_MAX_SUBPROGS, Env, SubprogInfo, collector_paused
from .iters import is_iter_next_call

TAIL_CALL = 12
DISCOVERED = 0x10
EXPLORED = 0x20
FALLTHROUGH = 1
BRANCH = 2
# helpers that call back into BPF code synchronously
CALLBACK_HELPERS = {164: "for_each_map_elem", 181: "loop", 180: "find_vma", 209: "user_ringbuf_drain"}
ASYNC_CALLBACK_HELPERS = {170: "timer_set_callback"}
# opcodes and classes as plain ints (the passes below compare them once per instruction)
_LD, _JMP, _JMP32 = 0x00, 0x05, 0x06
_LDDW = 0x18
_CALL = 0x85
_EXIT = 0x95
_JA, _JA32 = 0x05, 0x06
_FUNC_ENDS = frozenset((_EXIT, _JA32, _JA))  # what may end a function
_NO_CALLS: Mapping[int, int] = MappingProxyType({})
_PSEUDO_CALL, _KFUNC_CALL, _PSEUDO_FUNC = 1, 2, 4
# opcodes resolve_pseudo_ldimm64 has nothing to check in: known, neither lddw nor a load
# from memory (whose reserved fields it checks); scan lists the slots of every other one
_PLAIN = frozenset(c for c in KNOWN_OPCODES if c != _LDDW and c & 0x07 != 0x01)


def add_subprog(env: Env, off: int) -> int:
    if off >= len(env.insns) or off < 0:
        raise env.einval("call to invalid destination")
    if not env.subprogs:  # the entry, first (nothing to search or sort)
        env.subprogs.append(SubprogInfo(off))
        return 0
    for i, sp in enumerate(env.subprogs):
        if sp.start == off:
            return i
    if len(env.subprogs) >= BPF_MAX_SUBPROGS:
        raise env.error(errno.E2BIG, "too many subprograms")
    env.subprogs.append(SubprogInfo(off))
    env.subprogs.sort(key=lambda s: s.start)
    return len(env.subprogs) - 1


def add_subprogs(env: Env) -> None:
    env.subprogs.append(SubprogInfo(0))  # add_subprog(env, 0): the entry, first
    scanned(env)
    capable = env.options.bpf_capable
    insns = env.insns
    for i in env.cfg_subprog_refs:  # (scan lists the calls and lddw that matter here)
        insn = insns[i]
        code = insn.code
        if not capable:
            raise env.error(
                errno.EPERM,
                "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN",
            )
        if code == _CALL and insn.src == _KFUNC_CALL:
            from .kfunc import add_kfunc_call

            if insn.imm == 0:  # fails the fix-ups if it survives verification
                env.eager_fixups = True
            add_kfunc_call(env, insn)
            continue
        add_subprog(env, i + insn.imm + 1)
    if env.level & 2:
        for i, sp in enumerate(env.subprogs):
            env.verbose(f"func#{i} @{sp.start}\n")


def check_subprogs(env: Env) -> None:
    """Jumps stay inside their function and every function ends with an exit or a jump;
    notes which functions use LD_ABS and tail calls.  Only the slots ``scan`` listed can
    do any of that, besides the last one of each function."""
    insns = env.insns
    scanned(env)
    n = len(insns)
    subprogs = env.subprogs
    last = len(subprogs) - 1
    cur = 0
    sp = subprogs[0]
    start = sp.start
    end = subprogs[1].start if last else n
    for i in env.cfg_special:
        while i >= end:  # function cur ends before this slot: its last instruction
            if insns[end - 1].code not in _FUNC_ENDS:
                raise env.einval("last insn is not an exit or jmp")
            cur += 1
            sp = subprogs[cur]
            start = end
            end = subprogs[cur + 1].start if cur < last else n
        insn = insns[i]
        code = insn.code
        if code & 0x07 == _LD:
            if (code & 0xE0) in (0x20, 0x40):  # LD_ABS, LD_IND
                sp.has_ld_abs = True
            continue
        op = code & 0xF0
        if op == 0x80:
            if code == _CALL and insn.src == 0 and insn.imm == TAIL_CALL:
                sp.has_tail_call = True
                sp.tail_call_reachable = True
        elif op != 0x90:
            off = i + (insn.imm if code == _JA32 else insn.off) + 1
            if off < start or off >= end:
                raise env.einval(f"jump out of range from insn {i} to {off}")
    while True:  # the last instruction of this function and of those after it
        if insns[end - 1].code not in _FUNC_ENDS:
            raise env.einval("last insn is not an exit or jmp")
        if cur == last:
            return
        cur += 1
        end = subprogs[cur + 1].start if cur < last else n


def scan(env: Env) -> None:
    """One pass over the program for the passes that follow: ``env.insn_succ``, where
    control may go after each slot inside its function, fall-through first, duplicates
    kept (``bpf_insn_successors``); ``env.cfg_special``, the slots that need more than
    their successors (jumps, calls, exits, ``lddw``, LD_ABS/LD_IND); ``env.cfg_calls``,
    the calls into other functions (bpf-to-bpf calls and callback addresses: slot to
    callee); ``env.cfg_backwards``, whether a jump goes back (to itself or before).

    A call falls through to the next instruction (the callee is another function), an
    exit has no successor.
    """
    if len(env.insns) < 4096:  # (the common case, without the context manager's own cost)
        _scan(env)
        return
    with collector_paused(len(env.insns)):
        _scan(env)


def _scan(env: Env) -> None:
    out: list[tuple[int, ...]] = []
    special: list[int] = []
    calls: dict[int, int] = {}  # (made into env's own only when the program has calls)
    refs: list[int] = []
    unplain: list[int] = []
    plain = _PLAIN
    backwards = False
    append = out.append
    for idx, insn in enumerate(env.insns):
        code = insn.code
        if code not in plain:
            unplain.append(idx)
        cls = code & 0x07
        if cls != _JMP and cls != _JMP32:
            if code == _LDDW:
                append((idx + 2,))
                special.append(idx)
                if insn.src == _PSEUDO_FUNC:
                    calls[idx] = idx + insn.imm + 1
                    refs.append(idx)
            else:
                append((idx + 1,))
                if cls == _LD and code & 0xE0 in (0x20, 0x40):  # LD_ABS, LD_IND
                    special.append(idx)
            continue
        special.append(idx)
        op = code & 0xF0
        if op == 0x90:  # exit
            append(())
        elif op == 0x80:  # call
            append((idx + 1,))
            src = insn.src
            if src == _PSEUDO_CALL:
                calls[idx] = idx + insn.imm + 1
                if code == _CALL:
                    refs.append(idx)
            elif src == _KFUNC_CALL and code == _CALL:
                refs.append(idx)
        elif op == 0x00:  # ja (gotol: the offset is in imm)
            rel = insn.imm if cls == _JMP32 else insn.off
            append((idx + rel + 1,))
            if rel < 0:
                backwards = True
        else:
            append((idx + 1, idx + insn.off + 1))
            if insn.off < 0:
                backwards = True
    env.insn_succ = out
    env.cfg_special = special
    env.cfg_calls = calls if calls else _NO_CALLS
    env.cfg_backwards = backwards
    env.cfg_subprog_refs = refs if refs else ()
    env.cfg_unplain = unplain
    env.cfg_insns = env.insns


def scanned(env: Env) -> Sequence[int]:
    """``env.cfg_special``, scanning the program first if no pass has yet."""
    if env.cfg_insns is not env.insns:
        scan(env)
    return env.cfg_special


def check_cfg(env: Env) -> None:
    """Every instruction must be reachable, no jump may land inside an ``lddw``, and the
    prune points are marked (the kernel's ``check_cfg``/``visit_insn``).

    For a privileged load the walk is a plain reachability search over the successor
    table followed by the marks, which depend on each instruction alone; anything the
    search does not expect (an unprivileged load, whose back-edges are errors, a target
    out of range, an unreachable instruction) goes to the kernel's depth-first walk,
    which finds the error the kernel reports first."""
    special = scanned(env)
    if env.options.bpf_capable and _reachable_all(env, env.insn_succ, special, env.cfg_calls):
        _mark_prune_points(env, special)
        return
    _check_cfg_walk(env)


def _reachable_all(
    env: Env, succ: Sequence[tuple[int, ...]], special: Sequence[int], calls: Mapping[int, int]
) -> bool:
    """Whether every instruction is reachable from the entry, no jump lands inside an
    ``lddw`` and nothing the walk would reject is met.

    Only the slots ``scan`` listed as special go anywhere but to the next slot, so the
    search is over runs: the slots up to and including a special one, each reached from
    its lowest entry on (by a jump, a call or the previous run's fall-through) to its
    end.  The program must end with a special slot: a last ordinary one would fall out of
    it (or be unreachable)."""
    insns = env.insns
    n = len(insns)
    m = len(special)
    if not m or special[-1] != n - 1:
        return False
    entry = [n] * m  # the lowest slot reached of the run that ends at special[k]; n: none
    entry[0] = 0
    todo = [0]
    pop, push = todo.pop, todo.append
    while todo:
        k = pop()
        t = special[k]
        for w in succ[t]:
            if not 0 <= w < n:
                return False
            j = k + 1 if w == t + 1 else bisect_left(special, w)
            e = entry[j]
            if w < e:
                entry[j] = w
                if e == n:
                    push(j)
        if calls and t in calls:
            w = calls[t]
            if not 0 <= w < n:
                return False
            j = bisect_left(special, w)
            e = entry[j]
            if w < e:
                entry[j] = w
                if e == n:
                    push(j)
    starts = n
    for t in special:
        insn = insns[t]
        code = insn.code
        if code == _LDDW:
            if t + 1 < n and entry[bisect_left(special, t + 1)] <= t + 1:
                return False
            starts -= 1
        elif code & 0x07 == _LD:
            continue  # LD_ABS/LD_IND
        elif code & 0xF8 == 0x08:
            return False  # a ja with a register source: the walk rejects it
        elif code & 0xF0 == 0x80 and code != _CALL and insn.src == _PSEUDO_CALL:
            return False  # a malformed call the walk would follow into another function
    reached = 0
    for k in range(m):
        e = entry[k]
        if e != n:
            reached += special[k] - e + 1
    return reached == starts


def _mark_prune_points(env: Env, special: Sequence[int]) -> None:
    """The marks the walk leaves on a program whose every instruction it reached: each
    follows from one instruction (a jump, a call, a callback address) alone."""
    insns = env.insns
    aux = env.aux
    for t in special:
        insn = insns[t]
        code = insn.code
        if code & 0x07 == _LD:
            if code == _LDDW and insn.src == _PSEUDO_FUNC:
                a = aux[t + 2]
                a.prune_point = a.jmp_point = True
                aux[t].prune_point = True
                a = aux[t + insn.imm + 1]
                a.prune_point = a.jmp_point = a.jmp_target = True
            continue
        op = code & 0xF0
        if op == 0x90:
            continue
        if op == 0x80:
            mark_call_site(aux, t, insn)
            src, imm = insn.src, insn.imm
            a = aux[t + 1]
            a.prune_point = a.jmp_point = True
            if src == _PSEUDO_CALL:
                aux[t].prune_point = True
                a = aux[t + imm + 1]
                a.prune_point = a.jmp_point = a.jmp_target = True
        elif op == 0x00:
            a = aux[t + (insn.off if code & 0x07 == _JMP else insn.imm) + 1]
            a.prune_point = a.jmp_point = a.jmp_target = True
        else:
            mark_cond_jump(env, t, op)
            a = aux[t + insn.off + 1]
            a.prune_point = a.jmp_point = a.jmp_target = True


def _check_cfg_walk(env: Env) -> None:
    """The kernel's depth-first walk (``check_cfg``/``visit_insn``), one loop with the
    instruction fields read once per visit."""
    insns = env.insns
    aux = env.aux
    capable = env.options.bpf_capable
    n = len(insns)
    state = [0] * n
    stack = [0]
    state[0] = DISCOVERED

    def push(t: int, w: int, e: int) -> int:
        """1: keep exploring (w pushed), 0: done with this edge."""
        if state[t] >= (DISCOVERED | e):  # this edge was taken already
            return 0
        if w < 0 or w >= n:
            raise env.einval(f"jump out of range from insn {t} to {w}")
        if e == BRANCH:
            a = aux[w]
            a.prune_point = a.jmp_point = a.jmp_target = True
        sw = state[w]
        if sw == 0:
            state[t] = DISCOVERED | e
            state[w] = DISCOVERED
            stack.append(w)
            return 1
        if (sw & 0xF0) == DISCOVERED:
            if capable:
                return 0
            raise env.einval(f"back-edge from insn {t} to {w}")
        if sw == EXPLORED:
            state[t] = DISCOVERED | e
            return 0
        raise env.error(errno.EFAULT, "insn state internal bug")

    while stack:
        t = stack[-1]
        insn = insns[t]
        code = insn.code
        cls = code & 0x07
        if cls not in (_JMP, _JMP32) and (code != _LDDW or insn.src != _PSEUDO_FUNC):
            w = t + (2 if code == _LDDW else 1)
            if state[t] < DISCOVERED | FALLTHROUGH and w < n and state[w] == 0:
                # the usual step: on to the next instruction, not seen yet
                state[t] = DISCOVERED | FALLTHROUGH
                state[w] = DISCOVERED
                stack.append(w)
                continue
            r = push(t, w, FALLTHROUGH)
        elif code == _LDDW:
            r = _visit_call(env, push, t, 2, True)
        else:
            op = code & 0xF0
            if op == 0x90:
                r = 0
            elif op == 0x80:
                mark_call_site(aux, t, insn)
                r = _visit_call(env, push, t, 1, insn.src == _PSEUDO_CALL)
            elif op == 0x00:
                if code & 0x08:
                    raise env.einval("")
                w = t + (insn.off if cls == _JMP else insn.imm) + 1
                r = push(t, w, FALLTHROUGH)
                if not r:
                    a = aux[w]
                    a.prune_point = a.jmp_point = a.jmp_target = True
            else:
                mark_cond_jump(env, t, op)
                r = push(t, t + 1, FALLTHROUGH) or push(t, t + insn.off + 1, BRANCH)
        if not r:
            state[t] = EXPLORED
            stack.pop()
    i = 0
    while i < n:
        if state[i] != EXPLORED:
            raise env.einval(f"unreachable insn {i}")
        if insns[i].code == _LDDW:
            if i + 1 < n and state[i + 1] != 0:
                raise env.einval(f"jump into the middle of ldimm64 insn {i}")
            i += 2
            continue
        i += 1


def mark_call_site(aux: Sequence[Any], t: int, insn: Insn) -> None:
    """The per-call prune marks both CFG walks give: a helper that runs a callback is a
    checkpoint (its callback may loop), an async callback's call site a prune point, and an
    open-coded iterator's _next call always a checkpoint (its loops converge there)."""
    src, imm = insn.src, insn.imm
    if src == 0 and imm in ASYNC_CALLBACK_HELPERS:
        aux[t].prune_point = True
    if src == 0 and imm in CALLBACK_HELPERS:
        a = aux[t]
        a.calls_callback = a.force_checkpoint = a.prune_point = a.jmp_point = True
    if src == _KFUNC_CALL and is_iter_next_call(insn):
        a = aux[t]
        a.force_checkpoint = a.prune_point = True


def mark_cond_jump(env: Env, t: int, op: int) -> None:
    """A conditional jump is a prune point; may_goto also a checkpoint, and it makes the
    fix-ups run whatever the verdict (they give it stack)."""
    a = env.aux[t]
    a.prune_point = True
    if op == 0xE0:
        a.force_checkpoint = True
        env.eager_fixups = True


def _visit_call(env: Env, push: Callable[[int, int, int], int], t: int, size: int, visit_callee: bool) -> int:
    r = push(t, t + size, FALLTHROUGH)
    if r:
        return r
    a = env.aux[t + size]
    a.prune_point = a.jmp_point = True
    if visit_callee:
        env.aux[t].prune_point = True
        return push(t, t + env.insns[t].imm + 1, BRANCH)
    return 0


def check_abnormal_return(env: Env) -> None:
    for sp in env.subprogs[1:]:
        if sp.has_ld_abs:
            raise env.einval("LD_ABS is not allowed in subprogs without BTF")
        if sp.has_tail_call:
            raise env.einval("tail_call is not allowed in subprogs without BTF")
