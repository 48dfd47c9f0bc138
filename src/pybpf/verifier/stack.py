"""Stack accesses: spills and fills of registers, misc and zero bytes, variable offsets.

Each 8-byte slot records what each of its bytes holds (``Slot``) and, for a spill, the
register that was stored, so that a later load of the same slot gives the register back
(``check_stack_write_fixed_off`` / ``check_stack_read_fixed_off`` and their variable-
offset siblings in the kernel).
"""

from __future__ import annotations

import errno

from ..isa.opcodes import InsnClass, Mode
from ..kernel.regtypes import RegType
from . import tnum
from .env import BPF_MAX_VAR_OFF, Env
from .precision import mark_chain_precision
from .regs import (
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


def stack_access_flags(frameno: int, spi: int) -> int:
    return INSN_F_STACK_ACCESS | (spi << INSN_F_SPI_SHIFT) | frameno


def is_spilled_reg(slot: StackSlot) -> bool:
    return slot.slot_type[BPF_REG_SIZE - 1] == Slot.SPILL


def is_spilled_scalar_reg(slot: StackSlot) -> bool:
    return is_spilled_reg(slot) and slot.spilled_ptr.type == SCALAR


def is_stack_slot_special(slot: StackSlot) -> bool:
    return slot.slot_type[BPF_REG_SIZE - 1] in (Slot.SPILL, Slot.DYNPTR, Slot.ITER, Slot.IRQ_FLAG)


def _is_st_mem(env: Env) -> bool:
    insn = env.insns[env.insn_idx]
    return insn.cls == InsnClass.ST and insn.mode == Mode.MEM


def mark_stack_slot_misc(env: Env, stype: list[int], i: int) -> None:
    """Bytes beside a narrow spill: zero and uninitialised bytes stay what they are."""
    if stype[i] in (Slot.ZERO, Slot.INVALID):
        return
    stype[i] = Slot.MISC


def save_register_state(env: Env, state: FuncState, spi: int, reg: RegState, size: int) -> None:
    slot = state.stack[spi]
    slot.spilled_ptr.assign(reg)
    i = BPF_REG_SIZE
    while i > BPF_REG_SIZE - size:
        slot.slot_type[i - 1] = Slot.SPILL
        i -= 1
    while i:
        mark_stack_slot_misc(env, slot.slot_type, i - 1)
        i -= 1


def scrub_special_slot(state: FuncState, spi: int) -> None:
    slot = state.stack[spi]
    slot.spilled_ptr.type = RegType.NOT_INIT
    if is_stack_slot_special(slot):
        for i in range(BPF_REG_SIZE):
            if slot.slot_type[i] != Slot.INVALID:
                slot.slot_type[i] = Slot.MISC


def check_stack_write_fixed_off(
    env: Env, state: FuncState, off: int, size: int, value_regno: int, insn_idx: int
) -> int:
    """Returns the history flags of a register spill (0 when not a spill)."""
    slot_idx = -off - 1
    spi = slot_idx // BPF_REG_SIZE
    slot = state.stack[spi]
    insn = env.insns[insn_idx]
    flags = stack_access_flags(state.frameno, spi)
    if (
        not env.options.allow_ptr_leaks
        and is_spilled_reg(slot)
        and not is_spilled_scalar_reg(slot)
        and size != BPF_REG_SIZE
    ):
        raise env.eacces("attempt to corrupt spilled pointer on stack")
    cur = env.frame
    reg = cur.regs[value_regno] if value_regno >= 0 else None
    if off % BPF_REG_SIZE == 0 and size == BPF_REG_SIZE:
        # only a write of all eight bytes kills what the slot held before
        env.stack_live.mark_write(state.frameno, 1 << spi)
    env.mark_stack_slot_scratched(spi)
    if reg is not None and off % BPF_REG_SIZE == 0 and reg.type == SCALAR and env.options.bpf_capable:
        fits = get_reg_width(reg) <= 8 * size
        if fits:
            assign_scalar_id_before_mov(env, reg)
        save_register_state(env, state, spi, reg, size)
        if not fits:
            slot.spilled_ptr.id = 0
    elif (
        reg is None
        and off % BPF_REG_SIZE == 0
        and insn.cls == InsnClass.ST
        and insn.mode == Mode.MEM
        and env.options.bpf_capable
    ):
        tmp = RegState()
        tmp.mark_known(insn.imm & ((1 << 64) - 1))
        save_register_state(env, state, spi, tmp, size)
    elif reg is not None and is_spillable_regtype(reg.type):
        if size != BPF_REG_SIZE:
            raise env.eacces("invalid size of register spill")
        if state is not cur and reg.type == RegType.PTR_TO_STACK:
            raise env.einval("cannot spill pointers to stack into stack frame of the caller")
        save_register_state(env, state, spi, reg, size)
    else:
        kind = Slot.MISC
        scrub_special_slot(state, spi)
        if (reg is not None and register_is_null(reg)) or (
            reg is None and _is_st_mem(env) and insn.imm == 0
        ):
            mark_chain_precision(env, value_regno)
            kind = Slot.ZERO
        for i in range(size):
            slot.slot_type[(slot_idx - i) % BPF_REG_SIZE] = kind
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
        if not env.options.allow_ptr_leaks and stype[j] not in (Slot.MISC, Slot.ZERO):
            raise env.error(
                errno.EINVAL,
                f"spilled ptr in range of var-offset stack write; insn {insn_idx}, ptr off: {i}",
                newline=False,
            )
        if writing_zero and stype[j] == Slot.SPILL and is_spilled_scalar_reg(slot):
            sp = slot.spilled_ptr.b.var_off
            if sp.mask == 0 and sp.value == 0:
                zero_used = True
                continue
        scrub_special_slot(state, spi)
        new = Slot.MISC
        if writing_zero and stype[j] == Slot.ZERO:
            new = Slot.ZERO
            zero_used = True
        if stype[j] == Slot.INVALID and not env.options.allow_uninit_stack:
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
        if ptr_state.stack[spi].slot_type[slot_idx % BPF_REG_SIZE] != Slot.ZERO:
            break
        zeros += 1
    if zeros == max_off - min_off:
        mark_reg_const_zero(env, regs[dst_regno])
    else:
        mark_reg_unknown(env, regs, dst_regno)


def check_stack_read_fixed_off(env: Env, reg_state: FuncState, off: int, size: int, dst_regno: int) -> int:
    state = env.frame
    slot_idx = -off - 1
    spi = slot_idx // BPF_REG_SIZE
    slot = reg_state.stack[spi]
    stype = slot.slot_type
    reg = slot.spilled_ptr
    flags = stack_access_flags(reg_state.frameno, spi)
    env.mark_stack_slot_scratched(spi)
    env.stack_live.mark_read(reg_state.frameno, env.insn_idx, 1 << spi)
    if is_spilled_reg(slot):
        spill_size = 1
        i = BPF_REG_SIZE - 1
        while i > 0 and stype[i - 1] == Slot.SPILL:
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
                    if t == Slot.SPILL:
                        spill_cnt += 1
                        continue
                    if t == Slot.MISC:
                        continue
                    if t == Slot.ZERO:
                        zero_cnt += 1
                        continue
                    if t == Slot.INVALID and env.options.allow_uninit_stack:
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
            if t in (Slot.MISC, Slot.ZERO):
                continue
            if t == Slot.INVALID and env.options.allow_uninit_stack:
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
    reg = env.regs[ptr_regno]
    state = env.func(reg)
    var_off = reg.b.var_off.mask != 0
    if dst_regno < 0 and var_off:
        raise env.eacces(
            "variable offset stack pointer cannot be passed into helper function; "
            f"var_off={tnum.format(reg.b.var_off)} off={off} size={size}"
        )
    if not var_off:
        return check_stack_read_fixed_off(env, state, off + _s64(reg.b.var_off.value), size, dst_regno)
    check_stack_read_var_off(env, ptr_regno, off, size, dst_regno)
    return 0


def check_stack_write(env: Env, ptr_regno: int, off: int, size: int, value_regno: int, insn_idx: int) -> int:
    reg = env.regs[ptr_regno]
    state = env.func(reg)
    if reg.b.var_off.mask == 0:
        return check_stack_write_fixed_off(
            env, state, off + _s64(reg.b.var_off.value), size, value_regno, insn_idx
        )
    check_stack_write_var_off(env, state, ptr_regno, off, size, value_regno, insn_idx)
    return 0


def check_stack_slot_within_bounds(env: Env, off: int, state: FuncState, write: bool) -> bool:
    if write or env.options.allow_uninit_stack:
        min_valid = -MAX_BPF_STACK
    else:
        min_valid = -state.allocated_stack
    return min_valid <= off <= -1


def grow_stack_state(env: Env, state: FuncState, size: int) -> None:
    size = (size + BPF_REG_SIZE - 1) // BPF_REG_SIZE * BPF_REG_SIZE
    if state.allocated_stack >= size:
        return
    state.grow_stack(size)
    sp = env.subprogs[state.subprogno]
    if sp.stack_depth < size:
        sp.stack_depth = size


def check_stack_access_within_bounds(env: Env, regno: int, off: int, access_size: int, write: bool) -> None:
    reg = env.regs[regno]
    state = env.func(reg)
    extra = " write to" if write else " read from"
    vo = reg.b.var_off
    if vo.mask == 0:
        min_off = _s64(vo.value) + off
        max_off = min_off + access_size
    else:
        if reg.b.smax >= BPF_MAX_VAR_OFF or reg.b.smin <= -BPF_MAX_VAR_OFF:
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
        if vo.mask == 0:
            raise env.error(err, f"invalid{extra} stack R{regno} off={off} size={access_size}")
        raise env.error(
            err,
            f"invalid variable-offset{extra} stack R{regno} var_off={tnum.format(vo)} "
            f"off={off} size={access_size}",
        )
    grow_stack_state(env, state, -min_off)


def _s64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v
