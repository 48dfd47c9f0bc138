"""ALU instructions: ``check_alu_op`` and the arithmetic on pointers and scalars.

Scalars go through the abstract domain (:mod:`pybpf.verifier.scalar`); pointers may only
move by addition and subtraction, within the limits the kernel sets per pointer type.
"""

from __future__ import annotations

import errno

from ..isa.disasm import ALU_OPS
from ..isa.insn import Insn, reserved_fields_error
from ..isa.opcodes import ADDR_SPACE_CAST, TO_LE, AluOp, InsnClass, Source
from ..isa.semantics import s32 as _s32
from ..kernel.regtypes import BASE_TYPE_MASK, RegType, TypeFlag, base_type
from . import bounds as bx
from . import scalar as sc
from . import tnum
from .env import BPF_MAX_VAR_OFF, Env
from .log import reg_type_str
from .pending import push_stack
from .precision import mark_chain_precision
from .regs import (
    SCALAR,
    Op,
    assign_scalar_id_before_mov,
    check_reg_arg,
    clear_scalar_id,
    is_pointer_value,
    mark_reg_unknown,
    type_is_pkt_pointer,
)
from .state import BPF_ADD_CONST, DEF_NOT_SUBREG, RegState

S64_MIN = -(1 << 63)
S64_MAX = (1 << 63) - 1
U64_MAX = (1 << 64) - 1
S32_MAX = (1 << 31) - 1


def _reserved(env: Env, insn: Insn) -> None:
    """The kernel's reserved-field checks: a function of the instruction alone, so an
    instruction found fine once (in any program) is not looked at again."""
    if _SEEN_OK.get(id(insn)) is insn:
        return
    problem = reserved_fields_error(insn)
    if problem is not None:
        raise env.einval(problem)
    if len(_SEEN_OK) >= _SEEN_OK_MAX:
        _SEEN_OK.clear()
    _SEEN_OK[id(insn)] = insn


_SEEN_OK: dict[int, Insn] = {}
"""Instruction objects already found fine, by identity, in front of isa.insn's FIELDS_OK
(which is by value, across programs): a program's instructions are checked on every
visit, and an identity look-up costs a fraction of hashing the fields.  The entry holds
the object, so its id cannot be reused while it is there."""
_SEEN_OK_MAX = 1 << 14


_SCALAR = int(SCALAR)
_NOT_INIT = int(RegType.NOT_INIT)
_ARENA = int(RegType.PTR_TO_ARENA)
_ALU64 = int(InsnClass.ALU64)
_X = int(Source.X)
_K = int(Source.K)
_ADD, _SUB, _MOV, _NEG, _END = int(AluOp.ADD), int(AluOp.SUB), int(AluOp.MOV), int(AluOp.NEG), int(AluOp.END)
_AND, _OR, _DIV, _MOD = int(AluOp.AND), int(AluOp.OR), int(AluOp.DIV), int(AluOp.MOD)
_XOR = int(AluOp.XOR)
_SHIFTS = (int(AluOp.LSH), int(AluOp.RSH), int(AluOp.ARSH))
_IMM_CHECKED = frozenset((_DIV, _MOD, *_SHIFTS))
"""Operations whose immediate is checked (no division by zero, no shift by the width)."""
_KNOWN = sc._KNOWN
_CONCRETE = sc._CONCRETE
_AND_OR = (_AND, _OR)

FAST_PATHS = True
"""Take the inlined paths for scalar arithmetic and the commonest moves; tests turn them
off to check that they agree with the general path, instruction for instruction."""


def check_alu_op(env: Env, insn: Insn) -> None:
    st = env.cur_state
    assert st is not None
    regs = st.frames[st.curframe].regs
    code = insn.code
    op = code & 0xF0
    alu64 = code & 0x07 == _ALU64
    if op < _MOV and op != _NEG:
        # the arithmetic: the commonest case first
        if _SEEN_OK.get(id(insn)) is not insn:
            _reserved(env, insn)
        d, s = insn.dst, insn.src
        x = code & 0x08 == _X
        dreg = regs[d] if d < 10 else None
        sreg = regs[s] if x and s < 11 else None
        if (
            dreg is not None
            and dreg.type != _NOT_INIT
            and (not alu64 or dreg.subreg_def == DEF_NOT_SUBREG)
            and (
                not x
                or (
                    sreg is not None
                    and sreg.type != _NOT_INIT
                    and (not alu64 or s == 10 or sreg.subreg_def == DEF_NOT_SUBREG)
                )
            )
        ):
            # check_reg_arg's reads, where they find nothing wrong and nothing to zero-extend
            env.scratched_regs |= 1 << d | 1 << s if x else 1 << d
        else:
            if x:
                check_reg_arg(env, s, Op.SRC)
            check_reg_arg(env, d, Op.SRC)
        if not x and op in _IMM_CHECKED:
            if op in _SHIFTS:
                size = 64 if alu64 else 32
                if insn.imm < 0 or insn.imm >= size:
                    raise env.einval(f"invalid shift {insn.imm}")
            elif insn.imm == 0:
                raise env.einval("div by zero")
        if dreg is None:
            check_reg_arg(env, d, Op.DST_NO_MARK)
            adjust_reg_min_max_vals(env, insn)
            return
        # check_reg_arg(DST_NO_MARK): an arithmetic write is whole only in ALU64
        dreg.subreg_def = DEF_NOT_SUBREG if alu64 else env.insn_idx + 1
        if dreg.type == _SCALAR and FAST_PATHS:
            # adjust_reg_min_max_vals for a scalar and an immediate or another scalar
            b = dreg.b
            vo = b.var_off
            if not x:
                imm = insn.imm & U64_MAX
                if not vo.mask and _KNOWN.get(vo.value) is b and op in _CONCRETE:
                    # a known constant op= immediate (alu_imm's shortcut: no fork of a
                    # constant, the shift amount checked above)
                    if op == _ADD:
                        r = vo.value + imm
                    else:
                        r = _CONCRETE[op](vo.value, imm, not alu64)
                    r &= U64_MAX if alu64 else 0xFFFFFFFF
                    nb = _KNOWN.get(r)
                    dreg.b = nb if nb is not None else sc.known(r)
                    if dreg.id:
                        _track_add_const(dreg, imm, op == _ADD and alu64 and env.options.bpf_capable)
                    else:
                        dreg.off = 0
                    return
                _scalar_op_imm(env, insn, op, not alu64, dreg)
                return
            if sreg is not None and sreg.type == _SCALAR:
                sb = sreg.b
                svo = sb.var_off
                if (
                    not vo.mask
                    and not svo.mask
                    and op in _CONCRETE
                    and _KNOWN.get(vo.value) is b
                    and _KNOWN.get(svo.value) is sb
                    and (op not in _SHIFTS or svo.value < (64 if alu64 else 32))
                ):
                    # two known constants (alu's shortcut: no fork of a constant)
                    if dreg.precise:
                        mark_chain_precision(env, s)
                    r = _CONCRETE[op](vo.value, svo.value, not alu64)
                    r &= U64_MAX if alu64 else 0xFFFFFFFF
                    nb = _KNOWN.get(r)
                    dreg.b = nb if nb is not None else sc.known(r)
                    if dreg.id:
                        _track_add_const(
                            dreg, svo.value,
                            op == _ADD and alu64 and env.options.bpf_capable and s != d,
                        )  # fmt: skip
                    else:
                        dreg.off = 0
                    return
                _scalar_op_scalar(env, insn, op, not alu64, dreg, sreg)
                return
        elif op == _ADD and alu64 and not x and FAST_PATHS:
            # a pointer with no variable part plus a small constant (``r2 = r10; r2 += -8``):
            # adjust_ptr_min_max_vals moves the fixed offset only, its 32-bit forgetting
            # and reg_bounds_sync giving the constant back (anything else: the general path)
            ptype = dreg.type
            b = dreg.b
            imm = insn.imm
            off = dreg.off + imm
            if (
                (ptype & BASE_TYPE_MASK) in _ARITH_OK
                and not ptype & _PTR_MAYBE_NULL
                and not b.var_off.mask
                and b.var_off.value == 0
                and _KNOWN.get(0) is b
                and -BPF_MAX_VAR_OFF < imm < BPF_MAX_VAR_OFF
                and -BPF_MAX_VAR_OFF < dreg.off < BPF_MAX_VAR_OFF
                and -BPF_MAX_VAR_OFF < off < BPF_MAX_VAR_OFF
            ):
                dreg.off = off
                if not env.options.bypass_spec_v1:
                    _sanitize_check_bounds(env, insn, dreg)
                return
        adjust_reg_min_max_vals(env, insn)
        return
    if op == _MOV and FAST_PATHS:
        # the commonest moves, with the general path's reads and writes in its order
        if _SEEN_OK.get(id(insn)) is not insn:
            _reserved(env, insn)
        d = insn.dst
        if not code & 0x08:
            if d < 10:  # dst = imm
                env.scratched_regs |= 1 << d
                dreg = regs[d]
                dreg.subreg_def = DEF_NOT_SUBREG if alu64 else env.insn_idx + 1
                # mark_unknown, then the known value (the precision mark_unknown set stays)
                r = insn.imm & (U64_MAX if alu64 else 0xFFFFFFFF)
                nb = _KNOWN.get(r)
                dreg._reset(_SCALAR, nb if nb is not None else sc.known(r), not env.options.bpf_capable)
                return
        elif alu64 and insn.off == 0 and d < 10:  # dst = src, 64-bit
            s = insn.src
            sreg = regs[s] if s < 11 else None
            if (
                sreg is not None
                and sreg.type != _NOT_INIT
                and (s == 10 or sreg.subreg_def == DEF_NOT_SUBREG)
            ):
                env.scratched_regs |= 1 << s | 1 << d
                dreg = regs[d]
                assign_scalar_id_before_mov(env, sreg)
                dreg.assign(sreg)
                dreg.subreg_def = DEF_NOT_SUBREG
                return
        elif not alu64 and insn.off == 0 and d < 10:  # dst = src, 32-bit, of a number
            s = insn.src
            sreg = regs[s] if s < 10 else None
            if sreg is not None and sreg.type == _SCALAR:
                env.scratched_regs |= 1 << s | 1 << d
                dreg = regs[d]
                is_u32 = sreg.b.umax.bit_length() <= 32
                if is_u32:
                    assign_scalar_id_before_mov(env, sreg)
                dreg.assign(sreg)
                if not is_u32:
                    dreg.id = 0
                    dreg.off = 0
                dreg.subreg_def = env.insn_idx + 1
                dreg.b = sc.zext_32_to_64(dreg.b, sync_after=True)
                return
    if op in (_END, _NEG):
        _reserved(env, insn)
        check_reg_arg(env, insn.dst, Op.SRC)
        if is_pointer_value(env, insn.dst):
            raise env.eacces(f"R{insn.dst} pointer arithmetic prohibited")
        check_reg_arg(env, insn.dst, Op.DST_NO_MARK)
        dst = regs[insn.dst]
        if dst.type != SCALAR:
            mark_reg_unknown(env, regs, insn.dst)
            return
        if op == _NEG:
            dst.b = sc.alu(_NEG, dst.b, sc.known(0), not alu64)
        else:
            dst.b = sc.end(dst.b, insn.imm, insn.source != TO_LE, alu64)
        dst.id = 0
        dst.off = 0
        return
    if op == _MOV:
        _reserved(env, insn)
        if code & 0x08 == _X and alu64 and insn.off == ADDR_SPACE_CAST:
            raise env.einval(
                "addr_space_cast insn can only be used in a program that has an associated arena"
            )
        if code & 0x08 == _X:
            check_reg_arg(env, insn.src, Op.SRC)
        check_reg_arg(env, insn.dst, Op.DST_NO_MARK)
        dst = regs[insn.dst]
        if code & 0x08 == _X:
            src = regs[insn.src]
            if alu64:
                if insn.off == 0:
                    assign_scalar_id_before_mov(env, src)
                    subreg_def = dst.subreg_def
                    dst.assign(src)
                    dst.subreg_def = DEF_NOT_SUBREG
                    del subreg_def
                else:
                    if is_pointer_value(env, insn.src):
                        raise env.eacces(f"R{insn.src} sign-extension part of pointer")
                    if src.type == SCALAR:
                        no_sext = src.b.umax < (1 << (insn.off - 1))
                        if no_sext:
                            assign_scalar_id_before_mov(env, src)
                        dst.assign(src)
                        if not no_sext:
                            clear_scalar_id(dst)
                        dst.b = sc.coerce_to_size_sx(dst.b, insn.off >> 3)
                        dst.subreg_def = DEF_NOT_SUBREG
                    else:
                        mark_reg_unknown(env, regs, insn.dst)
            else:
                if is_pointer_value(env, insn.src):
                    raise env.eacces(f"R{insn.src} partial copy of pointer")
                if src.type == SCALAR:
                    if insn.off == 0:
                        is_u32 = src.b.umax.bit_length() <= 32
                        if is_u32:
                            assign_scalar_id_before_mov(env, src)
                        dst.assign(src)
                        if not is_u32:
                            clear_scalar_id(dst)
                        dst.subreg_def = env.insn_idx + 1
                    else:
                        no_sext = src.b.umax < (1 << (insn.off - 1))
                        if no_sext:
                            assign_scalar_id_before_mov(env, src)
                        dst.assign(src)
                        if not no_sext:
                            clear_scalar_id(dst)
                        dst.subreg_def = env.insn_idx + 1
                        dst.b = sc.coerce_subreg_to_size_sx(dst.b, insn.off >> 3)
                else:
                    mark_reg_unknown(env, regs, insn.dst)
                dst.b = sc.zext_32_to_64(dst.b)
                dst.b = sc.sync(dst.b)
        else:
            mark_reg_unknown(env, regs, insn.dst)
            dst.type = SCALAR
            dst.b = sc.known(insn.imm & U64_MAX) if alu64 else sc.known(insn.imm & 0xFFFFFFFF)
        return
    if op > _END:
        raise env.einval(f"invalid BPF_ALU opcode {op:x}")
    _reserved(env, insn)
    if code & 0x08 == _X:
        check_reg_arg(env, insn.src, Op.SRC)
    check_reg_arg(env, insn.dst, Op.SRC)
    if op in (_MOD, _DIV) and code & 0x08 == _K and insn.imm == 0:
        raise env.einval("div by zero")
    if op in _SHIFTS and code & 0x08 == _K:
        size = 64 if alu64 else 32
        if insn.imm < 0 or insn.imm >= size:
            raise env.einval(f"invalid shift {insn.imm}")
    check_reg_arg(env, insn.dst, Op.DST_NO_MARK)
    adjust_reg_min_max_vals(env, insn)


def adjust_reg_min_max_vals(env: Env, insn: Insn) -> None:
    st = env.cur_state
    assert st is not None
    regs = st.frames[st.curframe].regs
    code = insn.code
    alu32 = code & 0x07 != _ALU64
    op = code & 0xF0
    dst = regs[insn.dst]
    if code & 0x08 == _K and dst.type == _SCALAR:
        _scalar_op_imm(env, insn, op, alu32, dst)
        return
    src: RegState | None = regs[insn.src] if code & 0x08 == _X else None
    if dst.type == _ARENA or (src is not None and src.type == _ARENA):
        if dst.type != _ARENA:
            dst.type = SCALAR
        dst.subreg_def = env.insn_idx + 1
        return
    ptr = dst if dst.type != SCALAR else None
    if src is not None:
        if src.type != SCALAR:
            if dst.type != SCALAR:
                if op == _SUB and env.options.allow_ptr_leaks:
                    mark_reg_unknown(env, regs, insn.dst)
                    return
                raise env.eacces(f"R{insn.dst} pointer {ALU_OPS[AluOp(op)]} pointer prohibited")
            mark_chain_precision(env, insn.dst)
            adjust_ptr_min_max_vals(env, insn, src, dst.b, dst.off)
            return
        if ptr is not None:
            mark_chain_precision(env, insn.src)
            adjust_ptr_min_max_vals(env, insn, dst, src.b, src.off)
            return
        _scalar_op_scalar(env, insn, op, alu32, dst, src)
        return
    # a pointer op= immediate (a scalar op= immediate was taken above)
    assert ptr is not None
    adjust_ptr_min_max_vals(env, insn, ptr, sc.known(insn.imm & U64_MAX), 0)


def _scalar_op_imm(env: Env, insn: Insn, op: int, alu32: bool, dst: RegState) -> None:
    """adjust_reg_min_max_vals for a scalar op= immediate: no pointer, no arena, the
    immediate a known constant (the general path and check_alu_op's inlined one)."""
    imm = insn.imm & U64_MAX
    if op in _AND_OR:
        _maybe_fork_scalars(env, insn, dst)
    dst.b = sc.alu_imm(op, dst.b, imm, alu32)
    _track_add_const(dst, imm, op == _ADD and not alu32 and bool(dst.id) and env.options.bpf_capable)


def _track_add_const(dst: RegState, val: int, linked: bool) -> None:
    """A 64-bit add of a known ``val`` to a scalar with an id keeps the id, marked
    BPF_ADD_CONST with the offset, so that a later branch refines its linked copies
    (once only, and for offsets that fit in s32); any other result loses its id."""
    if linked and not dst.id & BPF_ADD_CONST and val <= S32_MAX:
        dst.id |= BPF_ADD_CONST
        dst.off = val
    else:
        dst.id = 0
        dst.off = 0


def _scalar_op_scalar(
    env: Env, insn: Insn, op: int, alu32: bool, dst: RegState, src: RegState
) -> None:
    """adjust_reg_min_max_vals for two scalar registers (the general path and
    check_alu_op's inlined one)."""
    if dst.precise:
        mark_chain_precision(env, insn.src)
    src_b = src.b
    if op in _AND_OR and not src_b.var_off.mask:
        _maybe_fork_scalars(env, insn, dst)
    dst.b = sc.alu(op, dst.b, src_b, alu32)
    vo = src.b.var_off
    linked = (op == _ADD and not alu32 and bool(dst.id) and env.options.bpf_capable
              and not vo.mask and insn.src != insn.dst)  # fmt: skip
    _track_add_const(dst, vo.value, linked)


def _maybe_fork_scalars(env: Env, insn: Insn, dst: RegState) -> None:
    """A register that is -1 or 0 is explored as two paths before AND/OR with a constant."""
    split = sc.fork(dst.b)
    if split is None:
        return
    current, pushed = split
    branch = push_stack(env, env.insn_idx, env.insn_idx, False)
    branch.regs[insn.dst].b = pushed
    dst.b = current


def _check_sane_offset(env: Env, b: sc.Bounds, off: int, ptr_type: int) -> None:
    """check_reg_sane_offset on a register's bounds ``b`` and fixed offset ``off``."""
    vo = b.var_off
    if vo.mask == 0:
        val = vo.value - (1 << 64) if vo.value >> 63 else vo.value
        if val >= BPF_MAX_VAR_OFF or val <= -BPF_MAX_VAR_OFF:
            raise env.einval(
                f"math between {reg_type_str(ptr_type)} pointer and {val} is not allowed"
            )
    if off >= BPF_MAX_VAR_OFF or off <= -BPF_MAX_VAR_OFF:
        raise env.einval(f"{reg_type_str(ptr_type)} pointer offset {off} is not allowed")
    smin = b.smin
    if smin == S64_MIN:
        raise env.einval(
            f"math between {reg_type_str(ptr_type)} pointer and register with unbounded min value is not allowed"
        )
    if smin >= BPF_MAX_VAR_OFF or smin <= -BPF_MAX_VAR_OFF:
        raise env.einval(f"value {smin} makes {reg_type_str(ptr_type)} pointer be out of bounds")


_PTR_MAYBE_NULL = int(TypeFlag.PTR_MAYBE_NULL)
_PTR_TO_FLOW_KEYS = int(RegType.PTR_TO_FLOW_KEYS)
_CONST_PTR_TO_MAP = int(RegType.CONST_PTR_TO_MAP)
_PTR_TO_STACK = int(RegType.PTR_TO_STACK)
_PTR_TO_MAP_VALUE = int(RegType.PTR_TO_MAP_VALUE)
_ARITH_OK = frozenset(int(t) for t in (
    RegType.PTR_TO_CTX, RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MAP_KEY, RegType.PTR_TO_STACK,
    RegType.PTR_TO_PACKET_META, RegType.PTR_TO_PACKET, RegType.PTR_TO_TP_BUFFER,
    RegType.PTR_TO_BTF_ID, RegType.PTR_TO_MEM, RegType.PTR_TO_BUF, RegType.PTR_TO_FUNC,
    RegType.CONST_PTR_TO_DYNPTR,
))  # fmt: skip
"""Base types that may move by a variable amount (adjust_ptr_min_max_vals)."""


def adjust_ptr_min_max_vals(
    env: Env, insn: Insn, ptr: RegState, ob: sc.Bounds, ob_off: int
) -> None:
    """``ptr`` moved by a scalar with bounds ``ob`` (and fixed offset ``ob_off``, a linked
    scalar's delta); the result goes to the destination register."""
    st = env.cur_state
    assert st is not None
    dst = st.frames[st.curframe].regs[insn.dst]
    pb = ptr.b
    known = ob.var_off.mask == 0
    code = insn.code
    op = code & 0xF0
    if (known and (ob.smin != ob.smax or ob.umin != ob.umax)) or ob.smin > ob.smax or ob.umin > ob.umax:
        dst.mark_unknown(precise=not env.options.bpf_capable)
        return
    if code & 0x07 != _ALU64:
        if op == _SUB and env.options.allow_ptr_leaks:
            dst.mark_unknown(precise=not env.options.bpf_capable)
            return
        raise env.eacces(f"R{insn.dst} 32-bit pointer arithmetic prohibited")
    ptype = ptr.type
    if ptype & _PTR_MAYBE_NULL:
        raise env.eacces(
            f"R{insn.dst} pointer arithmetic on {reg_type_str(ptype)} prohibited, null-check it first"
        )
    bt = base_type(ptype)
    if not (
        bt in _ARITH_OK
        or (bt == _PTR_TO_FLOW_KEYS and known)
        or (ptype == _CONST_PTR_TO_MAP and known and ob.smin == 0 and op == _ADD)
    ):
        raise env.eacces(f"R{insn.dst} pointer arithmetic on {reg_type_str(ptype)} prohibited")
    if dst is not ptr:
        dst.assign(ptr)
    _check_sane_offset(env, ob, ob_off, ptype)
    _check_sane_offset(env, pb, ptr.off, ptype)
    if op == _ADD:
        if known and ptr.off + ob.smin == _s32(ptr.off + ob.smin):
            dst.b = bx.unbound32(pb)
            dst.off = ptr.off + ob.smin
        else:
            smin, smax = pb.smin + ob.smin, pb.smax + ob.smax
            if not (S64_MIN <= smin <= S64_MAX and S64_MIN <= smax <= S64_MAX):
                smin, smax = S64_MIN, S64_MAX
            umin, umax = pb.umin + ob.umin, pb.umax + ob.umax
            if umin > U64_MAX or umax > U64_MAX:
                umin, umax = 0, U64_MAX
            dst.b = bx.with_bounds64(tnum.add(pb.var_off, ob.var_off), smin, smax, umin, umax)
            dst.off = ptr.off
            if type_is_pkt_pointer(ptype):
                dst.id = env.new_id()
                dst.range = 0
    elif op == _SUB:
        if dst is not ptr:
            raise env.eacces(f"R{insn.dst} tried to subtract pointer from scalar")
        if ptype == _PTR_TO_STACK:
            raise env.eacces(f"R{insn.dst} subtraction from stack pointer prohibited")
        if known and ptr.off - ob.smin == _s32(ptr.off - ob.smin):
            dst.b = bx.unbound32(pb)
            dst.off = ptr.off - ob.smin
        else:
            smin, smax = pb.smin - ob.smax, pb.smax - ob.smin
            if not (S64_MIN <= smin <= S64_MAX and S64_MIN <= smax <= S64_MAX):
                smin, smax = S64_MIN, S64_MAX
            if pb.umin < ob.umax:
                umin, umax = 0, U64_MAX
            else:
                umin, umax = pb.umin - ob.umax, pb.umax - ob.umin
            dst.b = bx.with_bounds64(tnum.sub(pb.var_off, ob.var_off), smin, smax, umin, umax)
            dst.off = ptr.off
            if type_is_pkt_pointer(ptype):
                dst.id = env.new_id()
                if ob.smin < 0:
                    dst.range = 0
    elif op in (_AND, _OR, _XOR):
        raise env.eacces(f"R{insn.dst} bitwise operator {ALU_OPS[AluOp(op)]} on pointer prohibited")
    else:
        raise env.eacces(f"R{insn.dst} pointer arithmetic with {ALU_OPS[AluOp(op)]} operator prohibited")
    _check_sane_offset(env, dst.b, dst.off, ptype)
    dst.b = sc.sync(dst.b)
    if not env.options.bypass_spec_v1:
        _sanitize_check_bounds(env, insn, dst)


def _sanitize_check_bounds(env: Env, insn: Insn, dst: RegState) -> None:
    from .mem import check_map_access

    if dst.type == _PTR_TO_STACK:
        vo = dst.b.var_off
        off = dst.off + (vo.value - (1 << 64) if vo.value >> 63 else vo.value)
        if vo.mask != 0:
            raise env.eacces(
                f"R{insn.dst} variable stack access prohibited for !root, var_off={tnum.format(vo)} off={off}"
            )
        if off >= 0 or off < -512:
            raise env.eacces(
                f"R{insn.dst} stack pointer arithmetic goes out of range, prohibited for !root; off={off}"
            )
    elif dst.type == _PTR_TO_MAP_VALUE:
        try:
            check_map_access(env, insn.dst, dst.off, 1, False, True)
        except Exception:
            raise env.eacces(
                f"R{insn.dst} pointer arithmetic of map value goes out of range, prohibited for !root"
            ) from None


__all__ = ["errno"]
