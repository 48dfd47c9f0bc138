"""Register checks and markings shared by every instruction class.

``check_reg_arg`` is the kernel's: a source must have been written, R10 cannot be
written, a destination becomes unknown.  The ``mark_*`` helpers name the kernel's
``mark_reg_*`` functions.
"""

from __future__ import annotations

import errno
from typing import Final

from ..isa.insn import Insn
from ..isa.opcodes import AluOp, InsnClass, JmpOp, Mode, PseudoCall, Size
from ..kernel.regtypes import BASE_TYPE_MASK, RegType, TypeFlag
from . import scalar as sc
from .env import BPF_MAX_VAR_OFF, Env
from .state import BPF_ADD_CONST, DEF_NOT_SUBREG, RegState

# Register types and flags as plain ints for the checks every instruction makes: reading
# an enum member off its class costs several times a module global, and an ``&`` with an
# IntFlag operand goes through the enum machinery (microseconds each).
NOT_INIT = int(RegType.NOT_INIT)
SCALAR = int(RegType.SCALAR_VALUE)
PTR_TO_CTX = int(RegType.PTR_TO_CTX)
CONST_PTR_TO_MAP = int(RegType.CONST_PTR_TO_MAP)
PTR_TO_MAP_VALUE = int(RegType.PTR_TO_MAP_VALUE)
PTR_TO_MAP_KEY = int(RegType.PTR_TO_MAP_KEY)
PTR_TO_STACK = int(RegType.PTR_TO_STACK)
PTR_TO_PACKET_META = int(RegType.PTR_TO_PACKET_META)
PTR_TO_PACKET = int(RegType.PTR_TO_PACKET)
PTR_TO_PACKET_END = int(RegType.PTR_TO_PACKET_END)
PTR_TO_FLOW_KEYS = int(RegType.PTR_TO_FLOW_KEYS)
PTR_TO_SOCKET = int(RegType.PTR_TO_SOCKET)
PTR_TO_SOCK_COMMON = int(RegType.PTR_TO_SOCK_COMMON)
PTR_TO_TCP_SOCK = int(RegType.PTR_TO_TCP_SOCK)
PTR_TO_TP_BUFFER = int(RegType.PTR_TO_TP_BUFFER)
PTR_TO_XDP_SOCK = int(RegType.PTR_TO_XDP_SOCK)
PTR_TO_BTF_ID = int(RegType.PTR_TO_BTF_ID)
PTR_TO_MEM = int(RegType.PTR_TO_MEM)
PTR_TO_ARENA = int(RegType.PTR_TO_ARENA)
PTR_TO_BUF = int(RegType.PTR_TO_BUF)
PTR_TO_FUNC = int(RegType.PTR_TO_FUNC)
PTR_MAYBE_NULL = int(TypeFlag.PTR_MAYBE_NULL)
MEM_RDONLY = int(TypeFlag.MEM_RDONLY)
MEM_RINGBUF = int(TypeFlag.MEM_RINGBUF)
MEM_PERCPU = int(TypeFlag.MEM_PERCPU)
MEM_ALLOC = int(TypeFlag.MEM_ALLOC)
PTR_TRUSTED = int(TypeFlag.PTR_TRUSTED)
PTR_UNTRUSTED = int(TypeFlag.PTR_UNTRUSTED)
BPF_REG_FP = 10

_PKT_TYPES = frozenset((PTR_TO_PACKET, PTR_TO_PACKET_META))
_PKT_TYPES_ANY = frozenset((PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_PACKET_END))
_SK_TYPES = frozenset((PTR_TO_SOCKET, PTR_TO_SOCK_COMMON, PTR_TO_TCP_SOCK, PTR_TO_XDP_SOCK))
_SPILLABLE = frozenset((
    PTR_TO_MAP_VALUE, PTR_TO_STACK, PTR_TO_CTX, PTR_TO_PACKET, PTR_TO_PACKET_META,
    PTR_TO_PACKET_END, PTR_TO_FLOW_KEYS, CONST_PTR_TO_MAP, PTR_TO_SOCKET, PTR_TO_SOCK_COMMON,
    PTR_TO_TCP_SOCK, PTR_TO_XDP_SOCK, PTR_TO_BTF_ID, PTR_TO_BUF, PTR_TO_MEM, PTR_TO_FUNC,
    PTR_TO_MAP_KEY, PTR_TO_ARENA,
))  # fmt: skip
_NOT_NULL = frozenset((
    PTR_TO_SOCKET, PTR_TO_TCP_SOCK, PTR_TO_XDP_SOCK, PTR_TO_BUF, PTR_TO_MAP_VALUE,
    PTR_TO_MAP_KEY, PTR_TO_SOCK_COMMON, PTR_TO_MEM, CONST_PTR_TO_MAP,
))  # fmt: skip


class Op:
    """How an instruction uses a register operand (plain ints, compared on every access)."""

    SRC: Final = 0
    DST: Final = 1
    DST_NO_MARK: Final = 2


_SRC, _DST = Op.SRC, Op.DST


def is_reg64(insn: Insn, regno: int, reg: RegState | None, t: int) -> bool:
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
            return False if insn.src == _PSEUDO_CALL else t == _SRC
        return True
    if cls == _JMP32:
        return False
    if cls == _LDX:
        if t != _SRC:
            return code & 0x18 == _DW or code & 0xE0 == _MEMSX
        return True
    if cls == _STX:
        if t == _SRC and reg is not None and reg.type != SCALAR:
            return True
        return code & 0x18 == _DW
    if cls == _LD:
        if code & 0xE0 == _IMM:
            return True
        return t == _SRC
    return True


_ALU64, _ALU, _JMP, _JMP32 = int(InsnClass.ALU64), int(InsnClass.ALU), int(InsnClass.JMP), int(InsnClass.JMP32)
_LDX, _STX, _LD = int(InsnClass.LDX), int(InsnClass.STX), int(InsnClass.LD)
_END, _CALL = int(AluOp.END), int(JmpOp.CALL)
_DW, _MEMSX, _IMM = int(Size.DW), int(Mode.MEMSX), int(Mode.IMM)
_PSEUDO_CALL = int(PseudoCall.CALL)


def mark_insn_zext(env: Env, reg: RegState) -> None:
    """``reg`` is read whole: the instruction that wrote its low half must zero-extend."""
    if reg.subreg_def == DEF_NOT_SUBREG:
        return
    env.aux[reg.subreg_def - 1].zext_dst = True
    reg.subreg_def = DEF_NOT_SUBREG


def check_reg_arg(env: Env, regno: int, t: int) -> None:
    if regno >= 11:
        raise env.einval(f"R{regno} is invalid")
    env.scratched_regs |= 1 << regno
    st = env.cur_state
    assert st is not None
    regs = st.frames[st.curframe].regs
    reg = regs[regno]
    if t == _SRC:
        if reg.type == NOT_INIT:
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
    if t == _DST:
        # mark_reg_unknown: mark_unknown leaves subreg_def as just set
        reg.mark_unknown(not env.options.bpf_capable)


def mark_reg_unknown(env: Env, regs: list[RegState], regno: int) -> None:
    """(``mark_unknown`` keeps the sub-register definition, as the kernel's does.)"""
    regs[regno].mark_unknown(not env.options.bpf_capable)


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
    if env.options.allow_ptr_leaks:
        return False
    st = env.cur_state
    assert st is not None
    return st.frames[st.curframe].regs[regno].type != SCALAR


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
    return (t & BASE_TYPE_MASK) in _PKT_TYPES


def reg_is_pkt_pointer_any(reg: RegState) -> bool:
    t = reg.type
    return (t & BASE_TYPE_MASK) in _PKT_TYPES or t == PTR_TO_PACKET_END


def type_may_be_null(t: int) -> bool:
    return bool(t & PTR_MAYBE_NULL)


def type_is_sk_pointer(t: int) -> bool:
    return t in _SK_TYPES


def is_spillable_regtype(t: int) -> bool:
    return (t & BASE_TYPE_MASK) in _SPILLABLE


def reg_not_null(reg: RegState) -> bool:
    """Pointer types whose base is never NULL (an unbounded offset could still wrap)."""
    t = reg.type
    if t & PTR_MAYBE_NULL:
        return False
    b = reg.b
    if b.smin <= -BPF_MAX_VAR_OFF or b.smax >= BPF_MAX_VAR_OFF:
        return False
    bt = t & BASE_TYPE_MASK
    if bt == PTR_TO_BTF_ID:
        return bool(reg.ref_obj_id) or (bool(t & (PTR_TRUSTED | MEM_ALLOC)) and not t & PTR_UNTRUSTED)
    return bt in _NOT_NULL


def get_reg_width(reg: RegState) -> int:
    return reg.b.umax.bit_length()


def clear_scalar_id(reg: RegState) -> None:
    reg.id = 0
    reg.off = 0


def assign_scalar_id_before_mov(env: Env, src: RegState) -> None:
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
