"""Precision tracking: which scalars' exact values a verdict depended on.

State pruning may treat two scalars as equal when the old one was never needed
precisely.  When a check does depend on a scalar (a pointer offset, a helper size, a
decided branch), the kernel walks the path backwards (``__mark_chain_precision``) and
marks, in every checkpoint on the way, the registers and stack slots the value came from.
This is that walk, instruction by instruction as ``backtrack_insn`` does it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..isa.insn import Insn
from ..isa.opcodes import AluOp, AtomicOp, InsnClass, JmpOp, Mode, PseudoCall, Source
from .insn_log import insn_text
from .state import BPF_REG_SIZE, JmpHistoryEntry, VerifierState

if TYPE_CHECKING:
    from .env import Env

ARGS_MASK = 0b111110  # r1..r5
INSN_F_FRAMENO_MASK = 0x7
INSN_F_SPI_MASK = 0x3F
INSN_F_SPI_SHIFT = 4
INSN_F_STACK_ACCESS = 1 << 3
INSN_F_DST_REG_STACK = 1 << 10
INSN_F_SRC_REG_STACK = 1 << 11
MAX_FRAMES = 8


class NotSupported(Exception):
    """Backtracking cannot follow this instruction: fall back to everything precise."""


class Backtrack:
    """Registers and stack slots, per frame, whose values are still being traced back."""

    __slots__ = ("frame", "reg_masks", "stack_masks")

    def __init__(self, frame: int) -> None:
        self.frame = frame
        self.reg_masks = [0] * MAX_FRAMES
        self.stack_masks = [0] * MAX_FRAMES

    def empty(self) -> bool:
        return not any(self.reg_masks) and not any(self.stack_masks)

    def is_reg(self, r: int) -> bool:
        return bool(self.reg_masks[self.frame] >> r & 1)

    def set_reg(self, r: int, frame: int | None = None) -> None:
        self.reg_masks[self.frame if frame is None else frame] |= 1 << r

    def clear_reg(self, r: int, frame: int | None = None) -> None:
        self.reg_masks[self.frame if frame is None else frame] &= ~(1 << r)

    def set_slot(self, frame: int, spi: int) -> None:
        self.stack_masks[frame] |= 1 << spi

    def is_slot(self, frame: int, spi: int) -> bool:
        return bool(self.stack_masks[frame] >> spi & 1)

    def clear_slot(self, frame: int, spi: int) -> None:
        self.stack_masks[frame] &= ~(1 << spi)

    def subprog_enter(self) -> None:
        self.frame += 1

    def subprog_exit(self) -> None:
        self.frame -= 1


def _is_atomic_fetch(insn: object) -> bool:
    return (
        insn.cls == InsnClass.STX  # type: ignore[attr-defined]
        and insn.mode == Mode.ATOMIC  # type: ignore[attr-defined]
        and bool(insn.imm & 1)  # type: ignore[attr-defined]
        and insn.imm not in (AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL)  # type: ignore[attr-defined]
    )


def _sync_linked(bt: Backtrack, hist: JmpHistoryEntry | None) -> None:
    if hist is None or not hist.linked_regs:
        return
    linked = hist.linked_regs
    some = any(
        (bt.reg_masks[f] >> i & 1) if is_reg else (bt.stack_masks[f] >> i & 1)
        for f, is_reg, i in linked
    )
    if not some:
        return
    for f, is_reg, i in linked:
        if is_reg:
            bt.reg_masks[f] |= 1 << i
        else:
            bt.stack_masks[f] |= 1 << i


def fmt_reg_mask(mask: int) -> str:
    """``r1,r4`` for registers 1 and 4."""
    return ",".join(f"r{i}" for i in range(32) if mask >> i & 1)


def fmt_stack_mask(mask: int) -> str:
    """``-8,-24`` for stack slots 0 and 2."""
    return ",".join(str(-(i + 1) * 8) for i in range(64) if mask >> i & 1)


def backtrack_insn(env: Env, idx: int, subseq_idx: int, hist: JmpHistoryEntry | None, bt: Backtrack) -> None:
    insn = env.insns[idx]
    if insn.code == 0:
        return
    if env.level & 2:
        env.verbose(
            f"mark_precise: frame{bt.frame}: regs={fmt_reg_mask(bt.reg_masks[bt.frame])} "
            f"stack={fmt_stack_mask(bt.stack_masks[bt.frame])} before {idx}: {insn_text(env, idx)}\n"
        )
    _sync_linked(bt, hist)
    cls, op = insn.cls, insn.op
    d, s = insn.dst, insn.src
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        if not bt.is_reg(d):
            return
        if op in (AluOp.END, AluOp.NEG):
            return
        if op == AluOp.MOV:
            bt.clear_reg(d)
            if insn.source == Source.X and s != 10:
                bt.set_reg(s)
        elif insn.source == Source.X and s != 10:
            bt.set_reg(s)
    elif cls == InsnClass.LDX or _is_atomic_fetch(insn):
        load_reg = d
        if _is_atomic_fetch(insn):
            load_reg = 0 if insn.imm == AtomicOp.CMPXCHG else s
        if not bt.is_reg(load_reg):
            return
        bt.clear_reg(load_reg)
        if hist is None or not hist.flags & INSN_F_STACK_ACCESS:
            return
        spi = (hist.flags >> INSN_F_SPI_SHIFT) & INSN_F_SPI_MASK
        fr = hist.flags & INSN_F_FRAMENO_MASK
        bt.set_slot(fr, spi)
    elif cls in (InsnClass.STX, InsnClass.ST):
        if bt.is_reg(d):
            raise NotSupported
        if hist is None or not hist.flags & INSN_F_STACK_ACCESS:
            return
        spi = (hist.flags >> INSN_F_SPI_SHIFT) & INSN_F_SPI_MASK
        fr = hist.flags & INSN_F_FRAMENO_MASK
        if not bt.is_slot(fr, spi):
            return
        bt.clear_slot(fr, spi)
        if cls == InsnClass.STX:
            bt.set_reg(s)
    elif cls in (InsnClass.JMP, InsnClass.JMP32):
        if op == JmpOp.CALL and s == PseudoCall.CALL:
            target = idx + insn.imm + 1
            sub = _find_subprog(env, target)
            if sub >= 0 and env.subprogs[sub].is_global:
                bt.clear_reg(0)
                return
            for r in range(1, 6):
                if bt.is_reg(r):
                    bt.clear_reg(r)
                    bt.set_reg(r, bt.frame - 1)
            bt.subprog_exit()
            return
        if op == JmpOp.CALL and env.aux[idx].calls_callback and idx != subseq_idx - 1:
            for r in range(1, 6):
                bt.clear_reg(r)
            bt.subprog_exit()
            return
        if op == JmpOp.CALL:
            if s == PseudoCall.KFUNC_CALL and insn.imm == 0:
                raise NotSupported
            bt.clear_reg(0)
            return
        if op == JmpOp.EXIT:
            from_subprog = subseq_idx - 1 >= 0 and _is_pseudo_call(env, subseq_idx - 1)
            r0_precise = from_subprog and bt.is_reg(0)
            bt.clear_reg(0)
            bt.subprog_enter()
            if r0_precise:
                bt.set_reg(0)
            return
        if insn.source == Source.X and op not in (JmpOp.JA, JmpOp.JCOND):
            if not bt.is_reg(d) and not bt.is_reg(s):
                return
            if hist is None or not hist.flags & INSN_F_SRC_REG_STACK:
                bt.set_reg(s)
            if hist is None or not hist.flags & INSN_F_DST_REG_STACK:
                bt.set_reg(d)
    elif cls == InsnClass.LD:
        if insn.mode == Mode.IMM:
            bt.clear_reg(d)
            return
        if insn.mode in (Mode.IND, Mode.ABS):
            if bt.is_reg(d):
                raise NotSupported
            if subseq_idx != idx + 1:
                bt.subprog_enter()
            return
    _sync_linked(bt, hist)


def _is_pseudo_call(env: Env, idx: int) -> bool:
    insn = env.insns[idx]
    return insn.code == (InsnClass.JMP | JmpOp.CALL) and insn.src == PseudoCall.CALL


def _find_subprog(env: Env, start: int) -> int:
    for i, sp in enumerate(env.subprogs):
        if sp.start == start:
            return i
    return -1


def mark_all_scalars_precise(env: Env, st: VerifierState) -> None:
    """Give up on fine-grained precision: every scalar in the checkpoints along the path
    becomes precise (the path's own state needs no marks)."""
    log2 = bool(env.level & 2)
    if log2:
        env.verbose(f"mark_precise: frame{st.curframe}: falling back to forcing all scalars precise\n")
    s = st.parent
    while s is not None:
        for i, f in enumerate(s.frames):
            for j, r in enumerate(f.regs[:10]):
                if r.type != 1 or r.precise:
                    continue
                r.precise = True
                if log2:
                    env.verbose(f"force_precise: frame{i}: forcing r{j} to be precise\n")
            for j, slot in enumerate(f.stack):
                if slot.slot_type[BPF_REG_SIZE - 1] != 1:
                    continue
                r = slot.spilled_ptr
                if r.type != 1 or r.precise:
                    continue
                r.precise = True
                if log2:
                    env.verbose(f"force_precise: frame{i}: forcing fp{-(j + 1) * 8} to be precise\n")
        s = s.parent


def mark_all_scalars_imprecise(st: VerifierState) -> None:
    for f in st.frames:
        for r in f.regs[:10]:
            if r.type == 1:
                r.precise = False
        for slot in f.stack:
            if slot.slot_type[BPF_REG_SIZE - 1] == 1 and slot.spilled_ptr.type == 1:
                slot.spilled_ptr.precise = False


def mark_chain_precision(env: Env, regno: int) -> None:
    """Make ``regno``'s value precise in every checkpoint it depends on."""
    if regno < 0 or not env.options.bpf_capable:
        return
    st = env.cur_state
    assert st is not None
    f = st.curframe
    if st.frames[f].regs[regno].type != 1:
        return
    bt = Backtrack(f)
    bt.reg_masks[f] = 1 << regno
    _backtrack(env, st, bt)


def mark_chain_precision_batch(env: Env, bt: Backtrack) -> None:
    if not env.options.bpf_capable or bt.empty():
        return
    _backtrack(env, env.state, bt)


# Per-instruction backtracking steps that need neither the jump history nor the log:
# decoded once per program, so the walk back over straight-line code is a table look-up.
_NOP = 0  # nothing to do (conditional jump on a constant, goto, END/NEG, ALU with an immediate)
_ALU = 1  # d precise -> s precise too
_MOV = 2  # d precise -> d no longer, s instead (s < 0: none)
_CLR = 3  # d precise -> no longer (lddw, a load that is not from the stack)
_STORE = 4  # d precise -> give up (a store through a precise register)
_JX = 5  # d or s precise -> both
_SLOW = 6  # everything else: backtrack_insn


_ALU_CLS, _ALU64_CLS, _LDX_CLS = int(InsnClass.ALU), int(InsnClass.ALU64), int(InsnClass.LDX)
_ST_CLS, _STX_CLS, _LD_CLS = int(InsnClass.ST), int(InsnClass.STX), int(InsnClass.LD)
_JMP_CLS, _JMP32_CLS = int(InsnClass.JMP), int(InsnClass.JMP32)
_END, _NEG, _MOV_OP = int(AluOp.END), int(AluOp.NEG), int(AluOp.MOV)
_CALL_OP, _EXIT_OP, _JA_OP, _JCOND_OP = int(JmpOp.CALL), int(JmpOp.EXIT), int(JmpOp.JA), int(JmpOp.JCOND)
_ATOMIC_MODE, _IMM_MODE = int(Mode.ATOMIC), int(Mode.IMM)
_CALL_CODE = _JMP_CLS | _CALL_OP


Step = tuple[int, int, int, int]
"""(kind, d, s, touch): ``touch`` has the bits of the registers whose being traced makes
the step do something, so that a walk skips the others at once; _SLOW's is _ALWAYS, a bit
no register has and every walk adds to its mask (those steps are never skipped)."""
_ALWAYS = 1 << 62
_NOP_STEP: Step = (_NOP, 0, 0, 0)
_SLOW_STEP: Step = (_SLOW, 0, 0, _ALWAYS)


def _decode(insn: Insn, calls_callback: bool) -> Step:
    code, d, s = insn.code, insn.dst, insn.src
    if code == 0:
        return _NOP_STEP
    if code == _CALL_CODE and s == 0 and not calls_callback:
        # a helper without a callback: its result is new, its arguments are not traced
        return (_CLR, 0, 0, 1)
    cls, op = code & 0x07, code & 0xF0
    x = code & 0x08
    if cls in (_ALU_CLS, _ALU64_CLS):
        if op in (_END, _NEG):
            return _NOP_STEP
        src = s if x and s != 10 else -1
        if op == _MOV_OP:
            return (_MOV, d, src, 1 << d)
        return (_ALU, d, src, 1 << d) if src >= 0 else _NOP_STEP
    if cls == _LDX_CLS:
        return (_CLR, d, 0, 1 << d)
    if cls == _ST_CLS or (cls == _STX_CLS and code & 0xE0 != _ATOMIC_MODE):
        return (_STORE, d, 0, 1 << d)
    if cls in (_JMP_CLS, _JMP32_CLS):
        if op in (_CALL_OP, _EXIT_OP):
            return _SLOW_STEP
        if x and op != _JA_OP and op != _JCOND_OP:
            return (_JX, d, s, 1 << d | 1 << s)
        return _NOP_STEP
    if cls == _LD_CLS and code & 0xE0 == _IMM_MODE:
        return (_CLR, d, 0, 1 << d)
    return _SLOW_STEP


def _decoded(env: Env) -> list[Step | None]:
    """The program's table of steps, filled in as the walks reach instructions: a short
    program's walk back touches a few of them, and decoding all would cost more."""
    table: list[Step | None] | None = env.bt_steps
    if table is None or len(table) != len(env.insns):
        table = env.bt_steps = [None] * len(env.insns)
    return table


def _step(env: Env, i: int, table: list[Step | None]) -> Step:
    step = table[i] = _decode(env.insns[i], env.aux[i].calls_callback)
    return step


def _touch(env: Env, steps: list[Step | None], hi: int, lo: int) -> int:
    """The union of the touch masks of instructions ``lo..hi``."""
    m = 0
    for j in range(hi, lo - 1, -1):
        m |= (steps[j] or _step(env, j, steps))[3]
    return m


def _below(env: Env, hist: list[JmpHistoryEntry], k: int, first: int, steps: list[Step | None]) -> int:
    """The union of the touch masks of every instruction the walk back passes after
    history entry ``k`` on a path starting at ``first`` (_ALWAYS if it passes a step that
    needs backtrack_insn or an entry with flags or linked registers): when none of its
    bits is traced, the rest of the path changes nothing.  Worked out from the lowest
    entry not yet summarised upwards, as _backtrack's loop walks (one segment each)."""
    lo = k
    while lo >= 0 and hist[lo].below_first != first:
        lo -= 1
    for j in range(lo + 1, k + 1):
        e = hist[j]
        if j == 0:
            if e.idx == first:
                m = 0  # the walk stops at this entry
            elif e.prev_idx >= first:
                m = _touch(env, steps, e.prev_idx, first)
            else:
                m = _touch(env, steps, e.prev_idx, 0)
        else:
            p = hist[j - 1]
            if p.idx <= e.prev_idx:
                m = _touch(env, steps, e.prev_idx, p.idx) | p.below
                if p.flags or p.linked_regs:
                    m |= _ALWAYS
            else:  # (the straight line back never meets the entry: to the start)
                m = _touch(env, steps, e.prev_idx, 0)
        e.below = m
        e.below_first = first
    return hist[k].below


def _backtrack(env: Env, st: VerifierState, bt: Backtrack) -> None:
    first_idx = st.first_insn_idx
    last_idx = env.insn_idx
    subseq_idx = -1
    skip_first = True
    cur_state: VerifierState | None = st
    log2 = bool(env.log.level & 2)
    fast = not log2  # (the table's steps print nothing)
    steps = _decoded(env)
    reg_masks = bt.reg_masks
    stack_masks = bt.stack_masks
    while True:
        assert cur_state is not None
        hist = cur_state.jmp_history
        hp = len(hist) - 1  # the last entry not yet walked back over
        if log2:
            env.verbose(
                f"mark_precise: frame{bt.frame}: last_idx {last_idx} first_idx {first_idx} subseq_idx {subseq_idx} \n"
            )
        if last_idx < 0:
            if (
                cur_state.curframe == 0
                and cur_state.frames[0].subprogno > 0
                and cur_state.frames[0].callsite == -1
                and not any(bt.stack_masks)
                and (bt.reg_masks[bt.frame] & ~ARGS_MASK) == 0
            ):
                for i in range(11):
                    if bt.reg_masks[bt.frame] >> i & 1:
                        r = cur_state.frames[0].regs[i]
                        if r.type == 1:
                            r.precise = True
                return
            mark_all_scalars_precise(env, env.state)
            return
        state_first = cur_state.first_insn_idx
        i = last_idx
        hidx = hist[hp].idx if hp >= 0 else -2  # where the next history entry back is
        while True:
            if fast and hidx != i and not skip_first:
                # steps that leave the traced registers as they are, passed over at once
                m = reg_masks[bt.frame] | _ALWAYS
                done = False
                while not (steps[i] or _step(env, i, steps))[3] & m:
                    subseq_idx = i
                    if i == state_first and hp < 0:
                        done = True
                        break
                    i -= 1
                    if i < 0:
                        done = True
                        break
                    if hidx == i:
                        break
                if done:
                    break
            entry = hist[hp] if hidx == i else None
            if skip_first:
                skip_first = False
                if not any(reg_masks) and not any(stack_masks):  # (bt.empty())
                    return
            elif (
                fast
                and entry is not None
                and not (entry.flags or entry.linked_regs)
                and not (
                    (steps[i] or _step(env, i, steps))[3]
                    | (entry.below if entry.below_first == state_first else _below(env, hist, hp, state_first, steps))
                ) & (reg_masks[bt.frame] | _ALWAYS)
            ):
                # nothing from here back to the path's start touches a traced register
                break
            elif (
                fast
                and (entry is None or not (entry.flags or entry.linked_regs))
                and (kind := (step := steps[i] or _step(env, i, steps))[0]) != _SLOW
            ):
                # (an entry without flags or linked registers changes nothing here)
                if kind:  # (not _NOP)
                    f = bt.frame
                    m = reg_masks[f]
                    d = step[1]
                    if m >> d & 1:
                        if kind == _ALU:
                            reg_masks[f] = m | 1 << step[2]
                        elif kind == _MOV:
                            m &= ~(1 << d)
                            if step[2] >= 0:
                                m |= 1 << step[2]
                            reg_masks[f] = m
                            if not m and bt.empty():
                                return
                        elif kind == _CLR:
                            m &= ~(1 << d)
                            reg_masks[f] = m
                            if not m and bt.empty():
                                return
                        elif kind == _STORE:
                            mark_all_scalars_precise(env, env.state)
                            return
                        else:  # _JX
                            reg_masks[f] = m | 1 << step[2]
                    elif kind == _JX and m >> step[2] & 1:
                        reg_masks[f] = m | 1 << d
            else:
                try:
                    backtrack_insn(env, i, subseq_idx, entry, bt)
                except NotSupported:
                    mark_all_scalars_precise(env, env.state)
                    return
                if bt.empty():
                    return
            subseq_idx = i
            # previous instruction on this path
            if i == state_first and (hp < 0 or (hp == 0 and hidx == i)):
                break
            if entry is not None:
                i = entry.prev_idx
                hp -= 1
                hidx = hist[hp].idx if hp >= 0 else -2
            else:
                i -= 1
            if i < 0:
                break
        parent = cur_state.parent
        if parent is None:
            break
        cur_state = parent
        for fr in range(bt.frame, -1, -1):
            if fr >= len(cur_state.frames):
                continue
            func = cur_state.frames[fr]
            rm = reg_masks[fr]
            while rm:
                low = rm & -rm
                rm ^= low
                i = low.bit_length() - 1
                if i > 10:
                    continue
                r = func.regs[i]
                if r.type != 1 or r.precise:
                    reg_masks[fr] &= ~low  # (bt.clear_reg(i, fr))
                else:
                    r.precise = True
            sm = stack_masks[fr]
            while sm:
                low = sm & -sm
                sm ^= low
                spi = low.bit_length() - 1
                if spi >= len(func.stack):
                    bt.clear_slot(fr, spi)
                    continue
                slot = func.stack[spi]
                if not (slot.slot_type[BPF_REG_SIZE - 1] == 1 and slot.spilled_ptr.type == 1):
                    bt.clear_slot(fr, spi)
                    continue
                if slot.spilled_ptr.precise:
                    bt.clear_slot(fr, spi)
                else:
                    slot.spilled_ptr.precise = True
            if log2:
                from .log import verifier_state_str

                env.verbose(
                    f"mark_precise: frame{fr}: parent state regs={fmt_reg_mask(bt.reg_masks[fr])} "
                    f"stack={fmt_stack_mask(bt.stack_masks[fr])}: "
                    + verifier_state_str(func, True, 0, 0) + "\n"
                )
        if not any(reg_masks) and not any(stack_masks):  # (bt.empty())
            return
        subseq_idx = first_idx
        last_idx = cur_state.last_insn_idx
        first_idx = cur_state.first_insn_idx
    if not bt.empty():
        mark_all_scalars_precise(env, env.state)
