"""The stack of the deepest call chain must fit in 512 bytes (``check_max_stack_depth``).

Runs after the paths are explored, when every function's stack depth is known; walks the
static call graph from the entry (callbacks included), adding each function's depth
rounded up to 16 bytes as the JIT allocates it.
"""

from __future__ import annotations

import errno

from .cfg import scanned
from .env import MAX_CALL_FRAMES, Env

MAX_BPF_STACK = 512
_CALL, _LDDW = 0x85, 0x18  # call, the first slot of lddw
_PSEUDO_CALL, _PSEUDO_FUNC = 1, 4  # their src for a bpf-to-bpf call, a callback's address


def _round_depth(depth: int) -> int:
    return (depth + 15) // 16 * 16


def _find(env: Env, start: int) -> int:
    for i, sp in enumerate(env.subprogs):
        if sp.start == start:
            return i
    return -1


def _check_from(env: Env, root: int) -> None:
    """Depth-first over calls from ``root``, exactly as the kernel's iterative walk."""
    subs = env.subprogs
    insns = env.insns
    starts = [sp.start for sp in subs] + [len(insns)]
    ret_insn = [0] * MAX_CALL_FRAMES
    ret_prog = [0] * MAX_CALL_FRAMES
    depth = frame = 0
    idx = root
    i = subs[idx].start
    tail_call_reachable = False
    while True:
        # entering function idx
        if idx and subs[idx].has_tail_call and depth >= 256:
            raise env.eacces(
                f"tail_calls are not allowed when call stack of previous frames is {depth} bytes. Too large"
            )
        depth += _round_depth(subs[idx].stack_depth)
        if depth > MAX_BPF_STACK:
            raise env.eacces(f"combined stack size of {frame + 1} calls is {depth}. Too large")
        while True:
            end = starts[idx + 1]
            called = False
            while i < end:
                insn = insns[i]
                code = insn.code
                if (code == _CALL and insn.src == _PSEUDO_CALL) or (code == _LDDW and insn.src == _PSEUDO_FUNC):
                    ret_insn[frame] = i + 1
                    ret_prog[frame] = idx
                    nxt = i + insn.imm + 1
                    sidx = _find(env, nxt)
                    if sidx < 0:
                        raise env.error(errno.EFAULT, f"verifier bug. No program starts at insn {nxt}")
                    if subs[sidx].is_async_cb and code != _CALL:
                        i += 1
                        continue
                    i = nxt
                    idx = sidx
                    if subs[idx].has_tail_call:
                        tail_call_reachable = True
                    frame += 1
                    if frame >= MAX_CALL_FRAMES:
                        raise env.error(errno.E2BIG, f"the call stack of {frame} frames is too deep !")
                    called = True
                    break
                i += 1
            if called:
                break
            if tail_call_reachable:
                for j in range(frame):
                    subs[ret_prog[j]].tail_call_reachable = True
            if frame == 0:
                return
            depth -= _round_depth(subs[idx].stack_depth)
            frame -= 1
            i = ret_insn[frame]
            idx = ret_prog[frame]


def check_max_stack_depth(env: Env) -> None:
    subs = env.subprogs
    if len(subs) == 1:
        # one function and (as is usual then) no call to another: its own depth is all
        depth = _round_depth(subs[0].stack_depth)
        scanned(env)
        # (cfg_calls holds exactly the bpf-to-bpf calls and callback addresses)
        if depth <= MAX_BPF_STACK and not env.cfg_calls:  # (the usual program)
            return
    for i, sp in enumerate(subs):
        if i == 0 or sp.is_async_cb:
            _check_from(env, i)
