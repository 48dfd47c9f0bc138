"""The verifier's driver: ``bpf_check`` and its main loop ``do_check``.

The phases run in the kernel's order (subprograms, map references, the control-flow
graph, register liveness, then symbolic execution of every path from the entry, with
state pruning), and every rejection stops at the first error with the kernel's message,
errno and log.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..isa.insn import Insn, lddw_value
from ..isa.opcodes import InsnClass, JmpOp, Mode, PseudoCall
from ..kernel.progtypes import AttachType, ProgType, prog_type_from_name
from ..kernel.regtypes import RegType
from . import scalar as sc
from .alu import check_alu_op
from .btf_ctx import check_lsm_attach
from .calls import (
    check_func_call,
    check_helper_call,
    check_kfunc_call,
    check_return_code,
    prepare_func_exit,
)
from .cfg import add_subprogs, check_cfg, check_subprogs
from .env import BPF_COMPLEXITY_LIMIT_INSNS, Env, Options, VerifierError
from .fixups import fixup_program, fixups_matter, xlated_text
from .func_info import check_btf_func, check_btf_func_early
from .global_funcs import do_check_subprogs, init_global_args
from .insn_log import insn_text, print_insn_state, print_verifier_state_line
from .jmp import check_cond_jmp_op
from .ldimm import check_ld_abs, check_ld_imm, resolve_pseudo_ldimm64
from .liveness import compute_live_registers
from .mem import check_atomic, check_load_mem, check_mem_access, check_store_reg, save_aux_ptr_type
from .pending import push_insn_history
from .prune import is_state_visited, update_branch_counts
from .refs import check_resource_leak
from .regs import Op, check_reg_arg
from .stack_depth import check_max_stack_depth
from .stack_liveness import StackLiveness
from .state import VerifierState


@dataclass
class VerifyResult:
    """The kernel's answer to BPF_PROG_LOAD, as pybpf computes it."""

    accepted: bool
    errno: int
    message: str
    log: str
    insns_processed: int
    env: Env | None = field(default=None, repr=False)
    verification_time_us: int = 0
    xlated_insns: list[Insn] | None = field(default=None, repr=False)  # None: not made yet

    @property
    def xlated(self) -> list[Insn]:
        """The program after the fix-ups (empty when rejected), made on first use: when
        they cannot change the verdict, ``verify`` leaves them to whoever asks."""
        if self.xlated_insns is None:
            self.xlated_insns = fixup_program(self.env) if self.accepted and self.env else []
        return self.xlated_insns

    def xlated_text(self) -> str:
        """The rewritten program, one instruction a line (``bpftool prog dump xlated``)."""
        return xlated_text(self.xlated)

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "errno": self.errno,
            "message": self.message,
            "log": self.log,
            "insns_processed": self.insns_processed,
        }


# --- the main loop -------------------------------------------------------------------------

# Plain ints for the per-instruction dispatch: comparing with an IntEnum member costs
# a global and an attribute look-up each time.
_LD, _LDX, _ST, _STX = int(InsnClass.LD), int(InsnClass.LDX), int(InsnClass.ST), int(InsnClass.STX)
_ALU, _ALU64 = int(InsnClass.ALU), int(InsnClass.ALU64)
_JMP, _JMP32 = int(InsnClass.JMP), int(InsnClass.JMP32)
_IMM, _ABS, _IND = int(Mode.IMM), int(Mode.ABS), int(Mode.IND)
_MEM, _MEMSX, _ATOMIC = int(Mode.MEM), int(Mode.MEMSX), int(Mode.ATOMIC)
_JA, _CALL, _EXIT = int(JmpOp.JA), int(JmpOp.CALL), int(JmpOp.EXIT)


def do_check(env: Env) -> None:
    level = env.log.level  # (fixed for the whole verification)
    pop_log = not level & 2
    live_stack: StackLiveness = env.stack_live
    commit_write_marks = live_stack.commit_write_marks
    commit = live_stack.commit
    insns = env.insns
    all_aux = env.aux
    n = len(insns)
    do_print_state = False
    prev = -1  # the instruction before this one on this path (pop_stack may reset it)
    while True:
        env.cur_hist = None
        state = env.cur_state  # (env.state, without the property call)
        assert state is not None
        env.prev_insn_idx = prev
        idx = env.insn_idx
        if idx >= n:
            raise env.error(errno.EFAULT, f"invalid insn idx {idx} insn_cnt {n}")
        insn = insns[idx]
        cls = insn.code & 0x07
        processed = env.insn_processed = env.insn_processed + 1
        if processed > BPF_COMPLEXITY_LIMIT_INSNS:
            raise env.error(errno.E2BIG, f"BPF program is too large. Processed {processed} insn")
        state.last_insn_idx = prev
        aux = all_aux[idx]
        if aux.prune_point and is_state_visited(env, idx):
            if level & 3:
                if do_print_state:
                    spec = " (speculative execution)" if state.speculative else ""
                    env.verbose(f"\nfrom {env.prev_insn_idx} to {idx}{spec}: safe\n")
                else:
                    env.verbose(f"{idx}: safe\n")
            if not _process_exit(env, pop_log):
                return
            prev = env.prev_insn_idx
            do_print_state = True
            continue
        if aux.jmp_point:
            push_insn_history(env, state, 0, None)
        if level:
            if level & 2 and do_print_state:
                spec = " (speculative execution)" if state.speculative else ""
                env.verbose(f"\nfrom {env.prev_insn_idx} to {idx}{spec}:")
                print_verifier_state_line(env, state.cur, True)
                do_print_state = False
            if level & 3:
                if env.state_scratched():
                    print_insn_state(env, state.cur)
                env.prev_log_pos = env.log.end_pos
                env.verbose(f"{idx}: {insn_text(env, idx)}\n")
                env.prev_insn_print_pos = env.log.end_pos - env.prev_log_pos
                env.prev_log_pos = env.log.end_pos
        aux.seen = True
        prev = idx
        next_idx = idx + 1
        # a new instruction: its stack write marks start empty (the kernel's
        # bpf_reset_stack_write_marks; once per instruction, so inline)
        if live_stack.cur is None:
            live_stack.ensure_cur()
        live_stack.write_insn_idx = idx
        if live_stack.write_any:
            live_stack.clear_write_marks()
        if cls in (_ALU64, _ALU):
            check_alu_op(env, insn)
        elif cls == _LDX:
            flags = check_load_mem(env, insn, False, insn.code & 0xE0 == _MEMSX)
            if flags:
                push_insn_history(env, state, flags, None)
        elif cls == _STX:
            mode = insn.code & 0xE0
            if mode == _ATOMIC:
                check_atomic(env, insn)
            else:
                if mode != _MEM or insn.imm != 0:
                    raise env.einval("BPF_STX uses reserved fields")
                flags = check_store_reg(env, insn, False)
                if flags:
                    push_insn_history(env, state, flags, None)
        elif cls == _ST:
            if insn.code & 0xE0 != _MEM or insn.src != 0:
                raise env.einval("BPF_ST uses reserved fields")
            check_reg_arg(env, insn.dst, Op.SRC)
            dst_type = env.regs[insn.dst].type
            flags = check_mem_access(env, idx, insn.dst, insn.off, insn.size, True, -1)
            if flags:
                push_insn_history(env, state, flags, None)
            save_aux_ptr_type(env, dst_type)
        elif cls in (_JMP, _JMP32):
            op = insn.code & 0xF0
            env.jmps_processed += 1
            if op == _CALL:
                if (
                    insn.code & 0x08
                    or (insn.src != PseudoCall.KFUNC_CALL and insn.off != 0)
                    or insn.src not in (0, PseudoCall.CALL, PseudoCall.KFUNC_CALL)
                    or insn.dst != 0
                    or cls == _JMP32
                ):
                    raise env.einval("BPF_CALL uses reserved fields")
                if state.active_lock is not None and insn.src != 0:
                    raise env.einval("function calls are not allowed while holding a lock")
                if insn.src == PseudoCall.CALL:
                    next_idx = check_func_call(env, insn)
                elif insn.src == PseudoCall.KFUNC_CALL:
                    next_idx = check_kfunc_call(env, insn)
                else:
                    next_idx = check_helper_call(env, insn)
                env.mark_reg_scratched(0)
            elif op == _JA:
                if (
                    insn.code & 0x08
                    or insn.src
                    or insn.dst
                    or (cls == _JMP and insn.imm)
                    or (cls == _JMP32 and insn.off)
                ):
                    raise env.einval("BPF_JA uses reserved fields")
                next_idx = idx + (insn.off if cls == _JMP else insn.imm) + 1
            elif op == _EXIT:
                if insn.code & 0x08 or insn.imm or insn.src or insn.dst or cls == _JMP32:
                    raise env.einval("BPF_EXIT uses reserved fields")
                check_resource_leak(env, False, not state.curframe, "BPF_EXIT instruction in main prog")
                if state.curframe:
                    live_stack.update()
                    next_idx = prepare_func_exit(env)
                    do_print_state = True
                    env.insn_idx = next_idx
                    continue
                check_return_code(env, 0, "R0")
                commit_write_marks()
                if not _process_exit(env, pop_log):
                    return
                prev = env.prev_insn_idx
                do_print_state = True
                continue
            else:
                next_idx = check_cond_jmp_op(env, insn)
        elif cls == _LD:
            mode = insn.code & 0xE0
            if mode in (_ABS, _IND):
                check_ld_abs(env, insn)
            elif mode == _IMM:
                check_ld_imm(env, insn)
                next_idx = idx + 2
                env.aux[idx + 1].seen = True
            else:
                raise env.einval("invalid BPF_LD mode")
        else:
            raise env.einval(f"unknown insn class {cls}")
        # live_stack.commit_write_marks(), inline: usually the first visit of an instruction
        # that wrote no stack slot in full, which only notes the visit
        inst = live_stack.cur
        if inst is not None:
            at = live_stack.write_insn_idx - inst.sp_start
            if live_stack.write_any or inst.must_write_set[at]:
                commit(inst)
            else:
                inst.must_write_set[at] = True
                live_stack.write_insn_idx = 0
        env.insn_idx = next_idx if env.insn_idx == idx else env.insn_idx + 1


def _process_exit(env: Env, pop_log: bool) -> bool:
    """A path ended: account for it and continue with the next pending one, if any."""
    env.mark_all_scratched()
    update_branch_counts(env, env.cur_state)
    env.stack_live.update()
    # the kernel's pop_stack, inline
    head = env.head
    if not head:
        return False
    elem = head.pop()
    env.cur_state = elem.state
    if pop_log:
        env.log.reset(elem.log_pos)
    env.insn_idx = elem.insn_idx
    env.prev_insn_idx = elem.prev_insn_idx
    return True


_PTR_TO_CTX = RegType.PTR_TO_CTX
_PTR_TO_STACK = RegType.PTR_TO_STACK


def do_check_common(env: Env, subprog: int) -> None:
    env.pass_cnt += 1
    state = VerifierState()
    env.cur_state = state
    frame = state.frames[0]
    frame.subprogno = subprog
    # init_frame_pointer and mark_reg_known_zero, written out for a fresh frame (every
    # field of its registers already a NOT_INIT register's): R10 a stack pointer and R1
    # the context, both with the bounds of a known zero
    zero = sc.known(0)
    regs = frame.regs
    fp = regs[10]
    fp.b = zero
    fp.type = _PTR_TO_STACK
    start = env.subprogs[subprog].start
    state.first_insn_idx = start
    state.last_insn_idx = -1
    env.insn_idx = start
    if subprog:
        init_global_args(env, subprog, regs)
    else:
        ctx = regs[1]
        ctx.b = zero
        ctx.type = _PTR_TO_CTX
    env.mark_all_scratched()
    # The cyclic collector is held for the walk: states point at their parents, never
    # back, so reference counting frees what the walk drops (a collection after the 1M
    # instructions of loop_after_a_conditional_jump finds nothing), yet the collector
    # would run every few hundred allocations over every state kept for pruning (~28% of
    # that program's time).  Not where a checkpoint is forced (open-coded iterators,
    # may_goto, callbacks): a state's loop_entry may point down its own parent chain, a
    # cycle only the collector frees.  Process-wide: turned on again only if this
    # turned it off.
    collecting = gc.isenabled() and not any(a.force_checkpoint for a in env.aux)
    if collecting:
        gc.disable()
    try:
        do_check(env)
    finally:
        if collecting:
            gc.enable()
        env.head.clear()
    log = env.log
    if not log.level & 2:
        log.reset(0)


def fixup_attach_type(prog_type: ProgType, attach: AttachType | None) -> AttachType | None:
    """BPF_PROG_LOAD's default for program types whose zero attach type means another
    (``bpf_prog_load_fixup_attach_type``)."""
    if not attach:
        if prog_type == ProgType.CGROUP_SOCK:
            return AttachType.CGROUP_INET_SOCK_CREATE
        if prog_type == ProgType.SK_REUSEPORT:
            return AttachType.SK_REUSEPORT_SELECT
    return attach


_LSM = ProgType.LSM


@functools.cache
def _default_options(log_level: int) -> Options:
    """A privileged load's options (frozen, so one per log level serves every call)."""
    return Options(log_level=log_level)


def verify(
    insns: Sequence[Insn],
    prog_type: ProgType | str,
    *,
    maps: Sequence[Any] = (),
    kernel: Any = None,
    expected_attach_type: AttachType | None = None,
    log_level: int = 0,
    options: Options | None = None,
    btf: Any = None,
    func_info: Sequence[Any] | None = None,
    line_info: Sequence[Any] | None = None,
) -> VerifyResult:
    """Verify a program as ``BPF_PROG_LOAD`` would and return the verdict and the log.

    ``btf``, ``func_info`` and ``line_info`` are what the load passes as ``prog_btf_fd``
    and its records (instruction indexes); ``options.sleepable`` is BPF_F_SLEEPABLE."""
    if isinstance(prog_type, str):
        prog_type = prog_type_from_name(prog_type)
    if not expected_attach_type:
        expected_attach_type = fixup_attach_type(prog_type, expected_attach_type)
    if options is None:
        options = _default_options(log_level)
    elif log_level and not options.log_level:
        options = dataclasses.replace(options, log_level=log_level)
    start = time.perf_counter_ns()
    n = len(insns)
    limit = BPF_COMPLEXITY_LIMIT_INSNS if options.bpf_capable else 4096
    if n == 0 or n > limit:
        return VerifyResult(False, errno.E2BIG if n else errno.EINVAL, "", "", 0)
    env = Env(insns, prog_type, expected_attach_type, maps, kernel, options)
    if btf is not None:
        env.prog_btf, env.func_info, env.line_info = btf, tuple(func_info or ()), tuple(line_info or ())
    err = 0
    message = ""
    xlated: list[Insn] | None = None
    try:
        if env.func_info:  # (each pass on func_info does nothing without records)
            check_btf_func_early(env)
        add_subprogs(env)
        check_subprogs(env)
        if env.func_info or len(env.subprogs) > 1:  # (one function and no records: nothing)
            check_btf_func(env)
        if prog_type == _LSM:
            check_lsm_attach(env)  # check_attach_btf_id's LSM rules
        resolve_pseudo_ldimm64(env)
        check_cfg(env)
        env.stack_live = StackLiveness(env)
        compute_live_registers(env)
        do_check_common(env, 0)
        if env.func_info:
            do_check_subprogs(env)
        check_max_stack_depth(env)
        if fixups_matter(env):
            xlated = fixup_program(env)
    except VerifierError as exc:
        err = exc.errno
        message = exc.message
    elapsed_us = (time.perf_counter_ns() - start) // 1000
    if err:  # the line that says why, before any statistics follow it
        message = env.log.message()
    log = ""
    level = options.log_level
    if level:  # (at level 0 the log keeps nothing but the line that says why, read above)
        if level & 4:
            env.verbose(f"verification time {elapsed_us} usec\n")
            env.verbose("stack depth " + "+".join(str(sp.stack_depth) for sp in env.subprogs) + "\n")
        env.verbose(
            f"processed {env.insn_processed} insns (limit {BPF_COMPLEXITY_LIMIT_INSNS}) "
            f"max_states_per_insn {env.max_states_per_insn} total_states {env.total_states} "
            f"peak_states {env.peak_states} mark_read 0\n"
        )
        log = env.log.text()
    # the stack liveness points back at env: nothing reads it once the walk is done, and
    # without the loop each verification's objects go by reference counts rather than
    # waiting for the cyclic collector (which walks everything alive when it runs)
    env.stack_live = None
    return VerifyResult(err == 0, err, message, log, env.insn_processed, env, elapsed_us, xlated)


__all__ = ["VerifyResult", "lddw_value", "verify"]
