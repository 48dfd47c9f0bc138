"""Register checks and markings shared by every instruction class.

``check_reg_arg`` is the kernel's: a source must have been written, R10 cannot be
written, a destination becomes unknown.  The ``mark_*`` helpers name the kernel's
``mark_reg_*`` functions.
"""

from __future__ import annotations

import errno
from enum import Enum

from ..isa.insn import Insn
from ..isa.opcodes import AluOp, InsnClass, JmpOp, Mode, PseudoCall, Size
from ..kernel.regtypes import RegType, TypeFlag, base_type
from . import scalar as sc
from .env import Env
from .state import DEF_NOT_SUBREG, RegState

SCALAR = RegType.SCALAR_VALUE
NOT_INIT = RegType.NOT_INIT
BPF_REG_FP = 10


class Op(Enum):
    SRC = 0
    DST = 1
    DST_NO_MARK = 2


def is_reg64(insn: Insn, regno: int, reg: RegState | None, t: Op) -> bool:
    """Whether the instruction reads or writes all 64 bits of ``regno`` (a 32-bit write
    leaves a sub-register the JIT may have to zero-extend if it is read whole later)."""
    code = insn.code
    cls = code & 0x07
    if cls == _ALU64:
        return not (code & 0xF0 == _END and insn.imm in (16, 32))
    if cls == _ALU:
        return code & 0xF0 == _END and insn.imm == 64
    if cls == _JMP:
        op = code & 0xF0
        if op == _CALL:
            return False if insn.src == PseudoCall.CALL else t is Op.SRC
        return True
    if cls == _JMP32:
        return False
    if cls == _LDX:
        if t is not Op.SRC:
            return code & 0x18 == _DW or code & 0xE0 == _MEMSX
        return True
    if cls == _STX:
        if t is Op.SRC and reg is not None and reg.type != SCALAR:
            return True
        return code & 0x18 == _DW
    if cls == _LD:
        if code & 0xE0 == _IMM:
            return True
        return t is Op.SRC
    return True


_ALU64, _ALU, _JMP, _JMP32 = int(InsnClass.ALU64), int(InsnClass.ALU), int(InsnClass.JMP), int(InsnClass.JMP32)
_LDX, _STX, _LD = int(InsnClass.LDX), int(InsnClass.STX), int(InsnClass.LD)
_END, _CALL = int(AluOp.END), int(JmpOp.CALL)
_DW, _MEMSX, _IMM = int(Size.DW), int(Mode.MEMSX), int(Mode.IMM)
_NOT_INIT = int(NOT_INIT)


def mark_insn_zext(env: Env, reg: RegState) -> None:
    """``reg`` is read whole: the instruction that wrote its low half must zero-extend."""
    if reg.subreg_def == DEF_NOT_SUBREG:
        return
    env.aux[reg.subreg_def - 1].zext_dst = True
    reg.subreg_def = DEF_NOT_SUBREG


def check_reg_arg(env: Env, regno: int, t: Op) -> None:
    if regno >= 11:
        raise env.einval(f"R{regno} is invalid")
    env.scratched_regs |= 1 << regno
    st = env.cur_state
    assert st is not None
    regs = st.frames[st.curframe].regs
    reg = regs[regno]
    if t is Op.SRC:
        if reg.type == _NOT_INIT:
            raise env.eacces(f"R{regno} !read_ok")
        # only a sub-register write leaves something to zero-extend
        if (
            reg.subreg_def != DEF_NOT_SUBREG
            and regno != BPF_REG_FP
            and is_reg64(env.insns[env.insn_idx], regno, reg, t)
        ):
            mark_insn_zext(env, reg)
        return
    if regno == BPF_REG_FP:
        raise env.eacces("frame pointer is read only")
    insn = env.insns[env.insn_idx]
    reg.subreg_def = DEF_NOT_SUBREG if is_reg64(insn, regno, reg, t) else env.insn_idx + 1
    if t is Op.DST:
        mark_reg_unknown(env, regs, regno)


def mark_reg_unknown(env: Env, regs: list[RegState], regno: int) -> None:
    reg = regs[regno]
    subreg_def = reg.subreg_def
    reg.mark_unknown(precise=not env.options.bpf_capable)
    reg.subreg_def = subreg_def


def mark_reg_known_zero(regs: list[RegState], regno: int) -> None:
    """A pointer with no offset: the bounds of a known 0, the type kept by the caller."""
    reg = regs[regno]
    t = reg.type
    reg.mark_known(0)
    reg.type = t


def mark_reg_not_init(regs: list[RegState], regno: int) -> None:
    regs[regno].mark_not_init()


def mark_reg_const_zero(env: Env, reg: RegState) -> None:
    reg.mark_known(0)
    reg.precise = not env.options.bpf_capable


def is_pointer_value(env: Env, regno: int) -> bool:
    return not env.options.allow_ptr_leaks and env.regs[regno].type != SCALAR


def is_pointer(reg: RegState) -> bool:
    return reg.type != SCALAR


def register_is_null(reg: RegState) -> bool:
    return reg.type == SCALAR and reg.b.var_off.mask == 0 and reg.b.var_off.value == 0


def is_reg_const(reg: RegState, subreg32: bool) -> bool:
    if reg.type != SCALAR:
        return False
    vo = reg.b.var_off
    return (vo.mask & 0xFFFFFFFF) == 0 if subreg32 else vo.mask == 0


def reg_const_value(reg: RegState, subreg32: bool) -> int:
    v = reg.b.var_off.value
    return v & 0xFFFFFFFF if subreg32 else v


def type_is_pkt_pointer(t: int) -> bool:
    return base_type(t) in (RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META)


def reg_is_pkt_pointer_any(reg: RegState) -> bool:
    return type_is_pkt_pointer(reg.type) or reg.type == RegType.PTR_TO_PACKET_END


def type_may_be_null(t: int) -> bool:
    return bool(t & TypeFlag.PTR_MAYBE_NULL)


def type_is_sk_pointer(t: int) -> bool:
    return t in (RegType.PTR_TO_SOCKET, RegType.PTR_TO_SOCK_COMMON, RegType.PTR_TO_TCP_SOCK,
                 RegType.PTR_TO_XDP_SOCK)  # fmt: skip


def is_spillable_regtype(t: int) -> bool:
    return base_type(t) in (
        RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_STACK, RegType.PTR_TO_CTX,
        RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META, RegType.PTR_TO_PACKET_END,
        RegType.PTR_TO_FLOW_KEYS, RegType.CONST_PTR_TO_MAP, RegType.PTR_TO_SOCKET,
        RegType.PTR_TO_SOCK_COMMON, RegType.PTR_TO_TCP_SOCK, RegType.PTR_TO_XDP_SOCK,
        RegType.PTR_TO_BTF_ID, RegType.PTR_TO_BUF, RegType.PTR_TO_MEM, RegType.PTR_TO_FUNC,
        RegType.PTR_TO_MAP_KEY, RegType.PTR_TO_ARENA,
    )  # fmt: skip


def reg_not_null(reg: RegState) -> bool:
    """Pointer types whose base is never NULL (an unbounded offset could still wrap)."""
    from .env import BPF_MAX_VAR_OFF

    t = reg.type
    if type_may_be_null(t):
        return False
    if reg.b.smin <= -BPF_MAX_VAR_OFF or reg.b.smax >= BPF_MAX_VAR_OFF:
        return False
    bt = base_type(t)
    if bt == RegType.PTR_TO_BTF_ID:
        return bool(reg.ref_obj_id) or (
            bool(t & (TypeFlag.PTR_TRUSTED | TypeFlag.MEM_ALLOC)) and not t & TypeFlag.PTR_UNTRUSTED
        )
    return bt in (
        RegType.PTR_TO_SOCKET, RegType.PTR_TO_TCP_SOCK, RegType.PTR_TO_XDP_SOCK,
        RegType.PTR_TO_BUF, RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MAP_KEY,
        RegType.PTR_TO_SOCK_COMMON, RegType.PTR_TO_MEM, RegType.CONST_PTR_TO_MAP,
    )  # fmt: skip


def get_reg_width(reg: RegState) -> int:
    return reg.b.umax.bit_length()


def clear_scalar_id(reg: RegState) -> None:
    reg.id = 0
    reg.off = 0


def assign_scalar_id_before_mov(env: Env, src: RegState) -> None:
    from .state import BPF_ADD_CONST

    if src.type != SCALAR:
        return
    if src.id & BPF_ADD_CONST:
        clear_scalar_id(src)
    if not src.id and src.b.var_off.mask != 0:
        src.id = env.new_id()


def copy_register_state(dst: RegState, src: RegState) -> None:
    dst.assign(src)


def known_reg(value: int) -> RegState:
    r = RegState()
    r.mark_known(value)
    return r


def unknown_scalar() -> RegState:
    r = RegState()
    r.mark_unknown()
    return r


__all__ = ["errno", "sc"]
