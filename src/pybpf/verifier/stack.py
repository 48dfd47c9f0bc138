"""Stack accesses: spills and fills of registers, misc and zero bytes, variable offsets.

Each 8-byte slot records what each of its bytes holds (``Slot``) and, for a spill, the
register that was stored, so that a later load of the same slot gives the register back
(``check_stack_write_fixed_off`` / ``check_stack_read_fixed_off`` and their variable-
offset siblings in the kernel).
"""

from __future__ import annotations

import errno

from ..isa.opcodes import InsnClass, Mode
from ..isa.semantics import s64
from . import tnum
from .env import BPF_MAX_VAR_OFF, Env
from .precision import mark_chain_precision
from .regs import (
    NOT_INIT,
    PTR_TO_STACK,
    SCALAR,
    assign_scalar_id_before_mov,
    clear_scalar_id,
    get_reg_width,
    is_spillable_regtype,
    mark_reg_const_zero,
    mark_reg_unknown,
    register_is_null,
)
from .state import BPF_REG_SIZE, MAX_BPF_STACK, FuncState, RegState, Slot, StackSlot

INSN_F_STACK_ACCESS = 1 << 3
INSN_F_SPI_SHIFT = 4

_INVALID, _SPILL, _MISC, _ZERO = Slot.INVALID, Slot.SPILL, Slot.MISC, Slot.ZERO
_MISC_OR_ZERO = frozenset((Slot.MISC, Slot.ZERO))
_SPECIAL = frozenset((Slot.SPILL, Slot.DYNPTR, Slot.ITER, Slot.IRQ_FLAG))
_ST_MEM = int(InsnClass.ST) | int(Mode.MEM)  # class and mode bits of a store of an immediate
_U64 = (1 << 64) - 1


def is_spilled_scalar_reg(slot: StackSlot) -> bool:
    return slot.slot_type[BPF_REG_SIZE - 1] == _SPILL and slot.spilled_ptr.type == SCALAR


def is_stack_slot_special(slot: StackSlot) -> bool:
    return slot.slot_type[BPF_REG_SIZE - 1] in _SPECIAL


def _is_st_mem(env: Env) -> bool:
    return env.insns[env.insn_idx].code & 0xE7 == _ST_MEM


def mark_stack_slot_misc(env: Env, stype: list[int], i: int) -> None:
    """Bytes beside a narrow spill: zero and uninitialised bytes stay what they are."""
    if stype[i] == _ZERO or stype[i] == _INVALID:
        return
    stype[i] = _MISC


def save_register_state(env: Env, state: FuncState, spi: int, reg: RegState, size: int) -> None:
    slot = state.stack[spi]
    slot.spilled_ptr.assign(reg)
    stype = slot.slot_type
    i = BPF_REG_SIZE
    while i > BPF_REG_SIZE - size:
        stype[i - 1] = _SPILL
        i -= 1
    while i:
        # mark_stack_slot_misc: bytes beside a narrow spill keep zero and uninitialised
        t = stype[i - 1]
        if t != _ZERO and t != _INVALID:
            stype[i - 1] = _MISC
        i -= 1


def scrub_special_slot(state: FuncState, spi: int) -> None:
    slot = state.stack[spi]
    slot.spilled_ptr.type = NOT_INIT
    stype = slot.slot_type
    if stype[BPF_REG_SIZE - 1] in _SPECIAL:
        for i in range(BPF_REG_SIZE):
            if stype[i] != _INVALID:
                stype[i] = _MISC


def check_stack_write_fixed_off(
    env: Env, state: FuncState, off: int, size: int, value_regno: int, insn_idx: int
) -> int:
    """Returns the history flags of a register spill (0 when not a spill)."""
    slot_idx = -off - 1
    spi = slot_idx // BPF_REG_SIZE
    slot = state.stack[spi]
    insn = env.insns[insn_idx]
    frameno = state.frameno
    flags = INSN_F_STACK_ACCESS | (spi << INSN_F_SPI_SHIFT) | frameno
    options = env.options
    if (
        size != BPF_REG_SIZE
        and slot.slot_type[BPF_REG_SIZE - 1] == _SPILL
        and slot.spilled_ptr.type != SCALAR
        and not options.allow_ptr_leaks
    ):
        raise env.eacces("attempt to corrupt spilled pointer on stack")
    st = env.cur_state
    assert st is not None
    cur = st.frames[st.curframe]
    reg = cur.regs[value_regno] if value_regno >= 0 else None
    aligned = off % BPF_REG_SIZE == 0
    if aligned and size == BPF_REG_SIZE:
        # only a write of all eight bytes kills what the slot held before
        env.stack_live.mark_write(frameno, 1 << spi)
    env.scratched_stack |= 1 << spi
    if reg is not None and aligned and reg.type == SCALAR and options.bpf_capable:
        fits = reg.b.umax.bit_length() <= 8 * size
        if fits:
            assign_scalar_id_before_mov(env, reg)
        save_register_state(env, state, spi, reg, size)
        if not fits:
            slot.spilled_ptr.id = 0
    elif reg is None and aligned and insn.code & 0xE7 == _ST_MEM and options.bpf_capable:
        tmp = RegState()
        tmp.mark_known(insn.imm & _U64)
        save_register_state(env, state, spi, tmp, size)
    elif reg is not None and is_spillable_regtype(reg.type):
        if size != BPF_REG_SIZE:
            raise env.eacces("invalid size of register spill")
        if state is not cur and reg.type == PTR_TO_STACK:
            raise env.einval("cannot spill pointers to stack into stack frame of the caller")
        save_register_state(env, state, spi, reg, size)
    else:
        kind = _MISC
        scrub_special_slot(state, spi)
        if (reg is not None and register_is_null(reg)) or (
            reg is None and insn.code & 0xE7 == _ST_MEM and insn.imm == 0
        ):
            mark_chain_precision(env, value_regno)
            kind = _ZERO
        stype = slot.slot_type
        for i in range(size):
            stype[(slot_idx - i) % BPF_REG_SIZE] = kind
        flags = 0
    return flags


def check_stack_write_var_off(
    env: Env, state: FuncState, ptr_regno: int, off: int, size: int, value_regno: int, insn_idx: int
) -> None:
    cur = env.frame
    ptr = cur.regs[ptr_regno]
    min_off = ptr.b.smin + off
    max_off = ptr.b.smax + off + size
    value = cur.regs[value_regno] if value_regno >= 0 else None
    insn = env.insns[insn_idx]
    writing_zero = (value is not None and register_is_null(value)) or (
        value is None and _is_st_mem(env) and insn.imm == 0
    )
    zero_used = False
    for i in range(min_off, max_off):
        slot_idx = -i - 1
        spi = slot_idx // BPF_REG_SIZE
        slot = state.stack[spi]
        stype = slot.slot_type
        j = slot_idx % BPF_REG_SIZE
        env.mark_stack_slot_scratched(spi)
        if not env.options.allow_ptr_leaks and stype[j] not in _MISC_OR_ZERO:
            raise env.error(
                errno.EINVAL,
                f"spilled ptr in range of var-offset stack write; insn {insn_idx}, ptr off: {i}",
                newline=False,
            )
        if writing_zero and stype[j] == _SPILL and is_spilled_scalar_reg(slot):
            sp = slot.spilled_ptr.b.var_off
            if sp.mask == 0 and sp.value == 0:
                zero_used = True
                continue
        scrub_special_slot(state, spi)
        new = _MISC
        if writing_zero and stype[j] == _ZERO:
            new = _ZERO
            zero_used = True
        if stype[j] == _INVALID and not env.options.allow_uninit_stack:
            raise env.error(
                errno.EINVAL,
                f"uninit stack in range of var-offset write prohibited for !root; insn {insn_idx}, off: {i}",
                newline=False,
            )
        stype[j] = new
    if zero_used:
        mark_chain_precision(env, value_regno)


def mark_reg_stack_read(env: Env, ptr_state: FuncState, min_off: int, max_off: int, dst_regno: int) -> None:
    regs = env.regs
    zeros = 0
    for i in range(min_off, max_off):
        slot_idx = -i - 1
        spi = slot_idx // BPF_REG_SIZE
        env.mark_stack_slot_scratched(spi)
        if ptr_state.stack[spi].slot_type[slot_idx % BPF_REG_SIZE] != _ZERO:
            break
        zeros += 1
    if zeros == max_off - min_off:
        mark_reg_const_zero(env, regs[dst_regno])
    else:
        mark_reg_unknown(env, regs, dst_regno)


def check_stack_read_fixed_off(env: Env, reg_state: FuncState, off: int, size: int, dst_regno: int) -> int:
    st = env.cur_state
    assert st is not None
    state = st.frames[st.curframe]
    slot_idx = -off - 1
    spi = slot_idx // BPF_REG_SIZE
    slot = reg_state.stack[spi]
    stype = slot.slot_type
    reg = slot.spilled_ptr
    frameno = reg_state.frameno
    flags = INSN_F_STACK_ACCESS | (spi << INSN_F_SPI_SHIFT) | frameno
    env.scratched_stack |= 1 << spi
    env.stack_live.mark_read(frameno, env.insn_idx, 1 << spi)
    if stype[BPF_REG_SIZE - 1] == _SPILL:
        spill_size = 1
        i = BPF_REG_SIZE - 1
        while i > 0 and stype[i - 1] == _SPILL:
            spill_size += 1
            i -= 1
        if size != BPF_REG_SIZE or spill_size != BPF_REG_SIZE:
            if reg.type != SCALAR:
                raise env.eacces("invalid size of register fill")
            if dst_regno < 0:
                return 0
            if size <= spill_size and off % BPF_REG_SIZE == 0:
                subreg_def = state.regs[dst_regno].subreg_def
                state.regs[dst_regno].assign(reg)
                state.regs[dst_regno].subreg_def = subreg_def
                if get_reg_width(reg) > size * 8:
                    clear_scalar_id(state.regs[dst_regno])
            else:
                spill_cnt = zero_cnt = 0
                for i in range(size):
                    t = stype[(slot_idx - i) % BPF_REG_SIZE]
                    if t == _SPILL:
                        spill_cnt += 1
                        continue
                    if t == _MISC:
                        continue
                    if t == _ZERO:
                        zero_cnt += 1
                        continue
                    if t == _INVALID and env.options.allow_uninit_stack:
                        continue
                    raise env.eacces(f"invalid read from stack off {off}+{i} size {size}")
                vo = reg.b.var_off
                if spill_cnt == size and vo.mask == 0 and vo.value == 0:
                    mark_reg_const_zero(env, state.regs[dst_regno])
                elif zero_cnt == size:
                    mark_reg_const_zero(env, state.regs[dst_regno])
                    flags = 0
                else:
                    mark_reg_unknown(env, state.regs, dst_regno)
                    flags = 0
        elif dst_regno >= 0:
            state.regs[dst_regno].assign(reg)
        elif not env.options.allow_ptr_leaks and reg.type != SCALAR:
            raise env.eacces(f"leaking pointer from stack off {off}")
    else:
        for i in range(size):
            t = stype[(slot_idx - i) % BPF_REG_SIZE]
            if t in _MISC_OR_ZERO:
                continue
            if t == _INVALID and env.options.allow_uninit_stack:
                continue
            raise env.eacces(f"invalid read from stack off {off}+{i} size {size}")
        if dst_regno >= 0:
            mark_reg_stack_read(env, reg_state, off, off + size, dst_regno)
        flags = 0
    return flags


def check_stack_read_var_off(env: Env, ptr_regno: int, off: int, size: int, dst_regno: int) -> None:
    from .helper_mem import check_stack_range_initialized

    reg = env.regs[ptr_regno]
    ptr_state = env.func(reg)
    check_stack_range_initialized(env, ptr_regno, off, size, False, direct=True, meta=None)
    min_off = reg.b.smin + off
    max_off = reg.b.smax + off
    mark_reg_stack_read(env, ptr_state, min_off, max_off + size, dst_regno)


def check_stack_read(env: Env, ptr_regno: int, off: int, size: int, dst_regno: int) -> int:
    st = env.cur_state
    assert st is not None
    reg = st.frames[st.curframe].regs[ptr_regno]
    vo = reg.b.var_off
    if vo.mask == 0:
        v = vo.value
        return check_stack_read_fixed_off(
            env, st.frames[reg.frameno], off + s64(v), size, dst_regno
        )
    if dst_regno < 0:
        raise env.eacces(
            "variable offset stack pointer cannot be passed into helper function; "
            f"var_off={tnum.format(vo)} off={off} size={size}"
        )
    check_stack_read_var_off(env, ptr_regno, off, size, dst_regno)
    return 0


def check_stack_write(env: Env, ptr_regno: int, off: int, size: int, value_regno: int, insn_idx: int) -> int:
    st = env.cur_state
    assert st is not None
    reg = st.frames[st.curframe].regs[ptr_regno]
    state = st.frames[reg.frameno]
    vo = reg.b.var_off
    if vo.mask == 0:
        v = vo.value
        return check_stack_write_fixed_off(
            env, state, off + s64(v), size, value_regno, insn_idx
        )
    check_stack_write_var_off(env, state, ptr_regno, off, size, value_regno, insn_idx)
    return 0


def check_stack_slot_within_bounds(env: Env, off: int, state: FuncState, write: bool) -> bool:
    if write or env.options.allow_uninit_stack:
        min_valid = -MAX_BPF_STACK
    else:
        min_valid = -len(state.stack) * BPF_REG_SIZE
    return min_valid <= off <= -1


def grow_stack_state(env: Env, state: FuncState, size: int) -> None:
    slots = (size + BPF_REG_SIZE - 1) // BPF_REG_SIZE
    stack = state.stack
    if len(stack) >= slots:
        return
    while len(stack) < slots:
        stack.append(StackSlot())
    size = slots * BPF_REG_SIZE
    sp = env.subprogs[state.subprogno]
    if sp.stack_depth < size:
        sp.stack_depth = size


def check_stack_access_within_bounds(env: Env, regno: int, off: int, access_size: int, write: bool) -> None:
    st = env.cur_state
    assert st is not None
    reg = st.frames[st.curframe].regs[regno]
    state = st.frames[reg.frameno]
    vo = reg.b.var_off
    if vo.mask == 0:
        v = vo.value
        min_off = s64(v) + off
        max_off = min_off + access_size
        # the common case, a constant offset inside the frame (check_stack_slot_within_bounds)
        if (
            -MAX_BPF_STACK <= min_off <= -1
            and max_off <= 0
            and access_size >= 0
            and (write or min_off >= -len(state.stack) * BPF_REG_SIZE or env.options.allow_uninit_stack)
        ):
            grow_stack_state(env, state, -min_off)
            return
    else:
        if reg.b.smax >= BPF_MAX_VAR_OFF or reg.b.smin <= -BPF_MAX_VAR_OFF:
            extra = " write to" if write else " read from"
            raise env.eacces(f"invalid unbounded variable-offset{extra} stack R{regno}")
        min_off = reg.b.smin + off
        max_off = reg.b.smax + off + access_size
    bad = not check_stack_slot_within_bounds(env, min_off, state, write)
    err = errno.EACCES if bad else 0
    if not err and max_off > 0:
        err = errno.EINVAL
    if not err and access_size < 0:
        err = errno.EFAULT
    if err:
        extra = " write to" if write else " read from"
        if vo.mask == 0:
            raise env.error(err, f"invalid{extra} stack R{regno} off={off} size={access_size}")
        raise env.error(
            err,
            f"invalid variable-offset{extra} stack R{regno} var_off={tnum.format(vo)} "
            f"off={off} size={access_size}",
        )
    grow_stack_state(env, state, -min_off)
