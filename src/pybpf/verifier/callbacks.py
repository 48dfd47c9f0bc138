"""Helpers that call back into the program (``bpf_loop``, ``bpf_for_each_map_elem``,
``bpf_find_vma``).

A callback is named by a ``BPF_PSEUDO_FUNC`` load, which needs BTF function information
(``calls.check_pseudo_func``). At the helper call the callback's first instruction is
queued as a new path, in a new frame whose registers are what the helper passes; the
current path goes on after the call. When the callback returns, its path goes back to the
call instruction, which queues the next iteration until pruning finds the state seen
before (bpf_loop stops after as many iterations as R1 may ask for).
"""

from __future__ import annotations

import errno
from typing import Any

from ..isa.insn import Insn
from ..kernel.regtypes import RegType
from ..maps.types import MapType
from .env import MAX_CALL_FRAMES, Env
from .frames import init_func_state
from .pending import push_stack
from .state import FuncState

ENOTSUPP = 524  # the kernel-internal errno BPF_PROG_LOAD returns for it

# maps whose elements bpf_for_each_map_elem can visit
_FOR_EACH_MAPS = frozenset({
    MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH,
    MapType.ARRAY, MapType.PERCPU_ARRAY,
})  # fmt: skip


def _set_loop_args(env: Env, caller: FuncState, callee: FuncState) -> None:
    """callback(u32 index, void *ctx): the index is any scalar, ctx is bpf_loop's R3."""
    from .regs import mark_reg_unknown

    mark_reg_unknown(env, callee.regs, 1)
    callee.regs[2].assign(caller.regs[3])


def _set_map_elem_args(env: Env, caller: FuncState, callee: FuncState, meta: Any) -> None:
    """callback(map, key, value, ctx): key and value point into the map's element."""
    from .regs import mark_reg_known_zero

    m = meta.map
    if m is None or m.spec.type not in _FOR_EACH_MAPS:
        raise env.error(ENOTSUPP, "callback function not allowed for map")
    regs = callee.regs
    regs[1].assign(caller.regs[1])
    for regno, rtype in ((2, RegType.PTR_TO_MAP_KEY), (3, RegType.PTR_TO_MAP_VALUE)):
        mark_reg_known_zero(regs, regno)
        regs[regno].type = rtype
        regs[regno].map = caller.regs[1].map
    regs[4].assign(caller.regs[3])


def _set_find_vma_args(env: Env, caller: FuncState, callee: FuncState) -> None:
    """callback(task, vma, ctx): the task bpf_find_vma got, its vm_area_struct, ctx."""
    from ..btf import Kind
    from ..kernel.vmlinux import kernel_btf
    from .regs import mark_reg_known_zero

    regs = callee.regs
    regs[1].assign(caller.regs[1])
    mark_reg_known_zero(regs, 2)
    regs[2].type = RegType.PTR_TO_BTF_ID
    btf = kernel_btf()
    regs[2].btf, regs[2].btf_id = btf, btf.find_by_name_kind("vm_area_struct", Kind.STRUCT) or 0
    regs[3].assign(caller.regs[4])


def _set_user_ringbuf_args(env: Env, caller: FuncState, callee: FuncState) -> None:
    """callback(const struct bpf_dynptr *sample, void *ctx)."""
    from .regs import mark_reg_known_zero

    mark_reg_known_zero(callee.regs, 1)
    callee.regs[1].type = RegType.CONST_PTR_TO_DYNPTR
    callee.regs[1].id = env.new_id()
    callee.regs[2].assign(caller.regs[3])


def push_callback_call(env: Env, insn: Insn, meta: Any) -> int | None:
    """Queue the callback's first iteration (or, for bpf_loop past the number of
    iterations R1 allows, nothing); the helper call itself goes on (None)."""
    from ..isa.helper_ids import HELPER_IDS
    from .calls import FIND_VMA, FOR_EACH, LOOP

    state = env.state
    caller = state.cur
    func_id = insn.imm
    if func_id == LOOP and caller.callback_depth >= caller.regs[1].b.umax:
        caller.callback_depth = 0
        if env.level & 2:
            env.verbose(f"frame{state.curframe} bpf_loop iteration limit reached\n")
        return None
    if func_id == HELPER_IDS["timer_set_callback"]:
        # asynchronous callbacks run on their own, from a fresh stack: not modelled yet,
        # and never passed unchecked
        raise env.error(errno.EOPNOTSUPP, "pybpf does not verify bpf_timer_set_callback callbacks yet")
    sub = meta.subprogno
    env.subprogs[sub].is_cb = True
    branch = push_stack(env, env.subprogs[sub].start, env.insn_idx, False)
    if branch.curframe + 1 >= MAX_CALL_FRAMES:
        raise env.error(errno.E2BIG, f"the call stack of {branch.curframe + 2} frames is too deep")
    callee = FuncState()
    init_func_state(callee, env.insn_idx, branch.curframe + 1, sub)
    b_caller = branch.frames[branch.curframe]
    if func_id == FOR_EACH:
        _set_map_elem_args(env, b_caller, callee, meta)
    elif func_id == FIND_VMA:
        _set_find_vma_args(env, b_caller, callee)
    elif func_id == HELPER_IDS["user_ringbuf_drain"]:
        _set_user_ringbuf_args(env, b_caller, callee)
    else:
        _set_loop_args(env, b_caller, callee)
    callee.in_callback_fn = True
    callee.callback_ret_range = (0, 1)
    branch.frames.append(callee)
    branch.curframe += 1
    branch.callback_unroll_depth += 1
    b_caller.callback_depth += 1
    caller.callback_depth = 0
    return None
