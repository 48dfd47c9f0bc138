"""Conditional jumps: which way a branch can go and what each way teaches about registers.

``check_cond_jmp_op`` decides a branch when the registers' ranges allow it, otherwise
forks the path, refining scalar bounds on each side, proving packet ranges from
comparisons with ``data_end`` and turning maybe-NULL pointers into pointers or NULL.
"""

from __future__ import annotations

from ..isa.insn import Insn
from ..isa.opcodes import InsnClass, JmpOp, Source
from ..isa.semantics import s32 as _s32
from ..kernel.regtypes import BASE_TYPE_MASK, RegType, TypeFlag, base_type
from ..maps.types import MapType
from . import bounds as bx
from . import scalar as sc
from .env import Env
from .insn_log import print_insn_state
from .loops import check_may_goto
from .pending import push_insn_history, push_stack
from .precision import mark_chain_precision
from .regs import (
    SCALAR,
    Op,
    check_reg_arg,
    clear_scalar_id,
    is_pointer_value,
    is_reg_const,
    reg_const_value,
    reg_is_pkt_pointer_any,
    reg_not_null,
    type_is_pkt_pointer,
    type_may_be_null,
)
from .state import BPF_ADD_CONST, BPF_REG_SIZE, DEF_NOT_SUBREG, RegState, Slot, VerifierState

MAX_PACKET_OFF = 0xFFFF
BEYOND_PKT_END = -2
AT_PKT_END = -1


def all_regs(vstate: VerifierState):  # type: ignore[no-untyped-def]
    """Every register and spilled register of every frame (bpf_for_each_reg_in_vstate)."""
    for f in vstate.frames:
        yield from f.regs
        for slot in f.stack:
            if slot.slot_type[BPF_REG_SIZE - 1] == _SPILL:
                yield slot.spilled_ptr


def is_pkt_ptr_branch_taken(dst: RegState, src: RegState, op: int) -> int:
    if src.type == RegType.PTR_TO_PACKET_END:
        pkt = dst
    elif dst.type == RegType.PTR_TO_PACKET_END:
        pkt = src
        op = sc.flip(op)
    else:
        return -1
    if pkt.range >= 0:
        return -1
    if op in (JmpOp.JLE, JmpOp.JGT):
        if pkt.range == BEYOND_PKT_END:
            return int(op == JmpOp.JGT)
    elif op in (JmpOp.JLT, JmpOp.JGE) and pkt.range in (BEYOND_PKT_END, AT_PKT_END):
        return int(op == JmpOp.JGE)
    return -1


def is_branch_taken(r1: RegState, r2: RegState, op: int, is32: bool) -> int:
    if r1.type == SCALAR and r2.type == SCALAR:  # (the common case: no pointer is a scalar)
        return sc.is_branch_taken(op, r1.b, r2.b, is32)
    if reg_is_pkt_pointer_any(r1) and reg_is_pkt_pointer_any(r2) and not is32:
        return is_pkt_ptr_branch_taken(r1, r2, op)
    if r1.type != SCALAR or r2.type != SCALAR:
        if is32:
            return -1
        if not is_reg_const(r2, is32):
            op = sc.flip(op)
            r1, r2 = r2, r1
        if not is_reg_const(r2, is32):
            return -1
        if not reg_not_null(r1):
            return -1
        if reg_const_value(r2, is32) != 0:
            return -1
        if op == JmpOp.JEQ:
            return 0
        if op == JmpOp.JNE:
            return 1
        return -1
    return sc.is_branch_taken(op, r1.b, r2.b, is32)


def find_good_pkt_pointers(vstate: VerifierState, dst: RegState, t: int, range_right_open: bool) -> None:
    if dst.off < 0 or (dst.off == 0 and range_right_open):
        return
    if dst.b.umax > MAX_PACKET_OFF or dst.b.umax + dst.off > MAX_PACKET_OFF:
        return
    new_range = dst.off + (1 if range_right_open else 0)
    for reg in all_regs(vstate):
        if reg.type == t and reg.id == dst.id:
            reg.range = max(reg.range, new_range)


def mark_pkt_end(vstate: VerifierState, regno: int, range_open: bool) -> None:
    reg = vstate.regs[regno]
    if reg.type != RegType.PTR_TO_PACKET:
        return
    reg.range = BEYOND_PKT_END if range_open else AT_PKT_END


def reg_is_init_pkt_pointer(reg: RegState, which: int) -> bool:
    vo = reg.b.var_off
    return reg.type == which and reg.id == 0 and reg.off == 0 and vo.mask == 0 and vo.value == 0


def try_match_pkt_pointers(
    insn: Insn, dst: RegState, src: RegState, this: VerifierState, other: VerifierState
) -> bool:
    if insn.source != Source.X or insn.cls == InsnClass.JMP32:
        return False
    op = insn.op
    if op not in (JmpOp.JGT, JmpOp.JLT, JmpOp.JGE, JmpOp.JLE):
        return False
    dst_is_pkt = (dst.type == RegType.PTR_TO_PACKET and src.type == RegType.PTR_TO_PACKET_END) or (
        dst.type == RegType.PTR_TO_PACKET_META and reg_is_init_pkt_pointer(src, RegType.PTR_TO_PACKET)
    )
    src_is_pkt = (dst.type == RegType.PTR_TO_PACKET_END and src.type == RegType.PTR_TO_PACKET) or (
        reg_is_init_pkt_pointer(dst, RegType.PTR_TO_PACKET) and src.type == RegType.PTR_TO_PACKET_META
    )
    if not (dst_is_pkt or src_is_pkt):
        return False
    # (branch holding the proof, open range?, branch marked at/beyond end, open?)
    if op == JmpOp.JGT:
        if dst_is_pkt:
            find_good_pkt_pointers(this, dst, dst.type, False)
            mark_pkt_end(other, insn.dst, True)
        else:
            find_good_pkt_pointers(other, src, src.type, True)
            mark_pkt_end(this, insn.src, False)
    elif op == JmpOp.JLT:
        if dst_is_pkt:
            find_good_pkt_pointers(other, dst, dst.type, True)
            mark_pkt_end(this, insn.dst, False)
        else:
            find_good_pkt_pointers(this, src, src.type, False)
            mark_pkt_end(other, insn.src, True)
    elif op == JmpOp.JGE:
        if dst_is_pkt:
            find_good_pkt_pointers(this, dst, dst.type, True)
            mark_pkt_end(other, insn.dst, False)
        else:
            find_good_pkt_pointers(other, src, src.type, False)
            mark_pkt_end(this, insn.src, True)
    else:  # JLE
        if dst_is_pkt:
            find_good_pkt_pointers(other, dst, dst.type, False)
            mark_pkt_end(this, insn.dst, True)
        else:
            find_good_pkt_pointers(this, src, src.type, True)
            mark_pkt_end(other, insn.src, False)
    return True


def mark_ptr_not_null_reg(reg: RegState) -> None:
    if reg.type & BASE_TYPE_MASK == _MAP_VALUE:
        m = reg.map
        inner = getattr(getattr(m, "spec", None), "inner", None)
        if inner is not None:
            reg.type = RegType.CONST_PTR_TO_MAP
            reg.map = _InnerMapMeta(inner)
        elif m is not None and m.spec.type == _XSKMAP:
            reg.type = RegType.PTR_TO_XDP_SOCK
        elif m is not None and m.spec.type in _SOCK_MAPS:
            reg.type = RegType.PTR_TO_SOCKET
        else:
            reg.type = RegType.PTR_TO_MAP_VALUE
        return
    reg.type &= ~TypeFlag.PTR_MAYBE_NULL


_MAP_VALUE = int(RegType.PTR_TO_MAP_VALUE)
_XSKMAP = MapType.XSKMAP
_SOCK_MAPS = (MapType.SOCKMAP, MapType.SOCKHASH)


class _InnerMapMeta:
    """The inner map's template standing in for the map an outer lookup returns."""

    def __init__(self, spec: object) -> None:
        self.spec = spec
        self.frozen = False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _InnerMapMeta) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)


def mark_ptr_or_null_regs(env: Env, vstate: VerifierState, regno: int, is_null: bool) -> None:
    regs = vstate.regs
    ref_obj_id = regs[regno].ref_obj_id
    ident = regs[regno].id
    if ref_obj_id and ref_obj_id == ident and is_null:
        from .refs import release_reference_state

        release_reference_state(vstate, ident)
    # all_regs(vstate) inlined: this runs at every null check of a pointer, where the
    # generator's per-item resume was measurable (83d3943); same order as all_regs
    for f in vstate.frames:
        for reg in f.regs:
            if reg.type & _MAYBE_NULL and reg.id == ident:
                _null_or_not(reg, is_null)
        for slot in f.stack:
            if slot.slot_type[BPF_REG_SIZE - 1] == _SPILL:
                reg = slot.spilled_ptr
                if reg.type & _MAYBE_NULL and reg.id == ident:
                    _null_or_not(reg, is_null)


_MAYBE_NULL = int(TypeFlag.PTR_MAYBE_NULL)
_SPILL = Slot.SPILL


def _null_or_not(reg: RegState, is_null: bool) -> None:
    if is_null:
        reg.type = SCALAR
        reg.id = 0
        reg.ref_obj_id = 0
        return
    mark_ptr_not_null_reg(reg)
    reg.id = 0


LINKED_REGS_MAX = 6  # entries one jump-history record holds (the kernel packs them in a u64)


def collect_linked_regs(env: Env, vstate: VerifierState, ident: int, out: list[tuple[int, bool, int]]) -> None:
    """Appends (frameno, is_reg, regno-or-spi) of every scalar sharing ``ident`` to ``out``.

    Registers dead where their frame stands (this jump, or the call site of a caller's
    frame) are left out. As in the kernel, a register already listed (the jump's two
    operands share an id) is listed again, and once ``out`` is full the remaining scalars
    lose their id, so that no later refinement reaches a scalar the history does not know
    is linked."""
    ident &= ~BPF_ADD_CONST
    aux = env.aux
    for fno in range(vstate.curframe, -1, -1):
        f = vstate.frames[fno]
        at = env.insn_idx if fno == vstate.curframe else vstate.frames[fno + 1].callsite
        live = aux[at].live_regs_before
        for j in range(10):
            if not live >> j & 1:
                continue
            r = f.regs[j]
            if r.type == SCALAR and (r.id & ~BPF_ADD_CONST) == ident:
                _add_linked(out, r, (fno, True, j))
        for j, slot in enumerate(f.stack):
            if slot.slot_type[BPF_REG_SIZE - 1] != 1:
                continue
            r = slot.spilled_ptr
            if r.type == SCALAR and (r.id & ~BPF_ADD_CONST) == ident:
                _add_linked(out, r, (fno, False, j))


def _add_linked(out: list[tuple[int, bool, int]], reg: RegState, entry: tuple[int, bool, int]) -> None:
    if len(out) < LINKED_REGS_MAX:
        out.append(entry)
    else:
        clear_scalar_id(reg)


def sync_linked_regs(vstate: VerifierState, known: RegState, linked: list[tuple[int, bool, int]]) -> None:
    for fno, is_reg, idx in linked:
        f = vstate.frames[fno]
        reg = f.regs[idx] if is_reg else f.stack[idx].spilled_ptr
        if reg.type != SCALAR or reg is known:
            continue
        if (reg.id & ~BPF_ADD_CONST) != (known.id & ~BPF_ADD_CONST):
            continue
        subreg_def = reg.subreg_def
        if (not reg.id & BPF_ADD_CONST and not known.id & BPF_ADD_CONST) or reg.off == known.off:
            reg.assign(known)
            reg.subreg_def = subreg_def
        else:
            saved_off, saved_id = reg.off, reg.id
            delta = _s32(reg.off) - _s32(known.off)
            reg.assign(known)
            reg.off, reg.id, reg.subreg_def = saved_off, saved_id, subreg_def
            reg.b = bx.add_const(reg.b, delta)


# Plain ints for the per-jump checks: comparing with an IntEnum member costs a global
# and an attribute look-up each time.
_JA, _JEQ, _JNE, _JCOND = int(JmpOp.JA), int(JmpOp.JEQ), int(JmpOp.JNE), int(JmpOp.JCOND)
_X = int(Source.X)
_SCALAR = int(SCALAR)
_NOT_INIT = int(RegType.NOT_INIT)
_PKT_CMP = frozenset(int(o) for o in (JmpOp.JGT, JmpOp.JLT, JmpOp.JGE, JmpOp.JLE))
"""The comparisons that can prove a packet range (try_match_pkt_pointers)."""
_JMP32 = int(InsnClass.JMP32)
_BTF_ID = int(RegType.PTR_TO_BTF_ID)
_U64 = (1 << 64) - 1


def check_cond_jmp_op(env: Env, insn: Insn) -> int:
    """Returns the index of the next instruction on the current path."""

    this = env.cur_state
    assert this is not None
    regs = this.frames[this.curframe].regs
    code = insn.code
    op = code & 0xF0
    idx = env.insn_idx
    if op == _JA or op > _JCOND:
        raise env.einval(f"invalid BPF_JMP/JMP32 opcode {op:x}")
    if op == _JCOND:
        return check_may_goto(env, insn)
    d = insn.dst
    # check_reg_arg(SRC) inline where it finds nothing wrong and nothing to zero-extend
    dst_or_none = regs[d] if d < 11 else None
    if (
        dst_or_none is not None
        and dst_or_none.type != _NOT_INIT
        and (d == 10 or dst_or_none.subreg_def == DEF_NOT_SUBREG)
    ):
        env.scratched_regs |= 1 << d
        dst = dst_or_none
    else:
        check_reg_arg(env, d, Op.SRC)
        dst = regs[d]
    by_reg = code & 0x08 == _X
    if by_reg:
        if insn.imm != 0:
            raise env.einval("BPF_JMP/JMP32 uses reserved fields")
        s = insn.src
        src_or_none = regs[s] if s < 11 else None
        if (
            src_or_none is not None
            and src_or_none.type != _NOT_INIT
            and (s == 10 or src_or_none.subreg_def == DEF_NOT_SUBREG)
        ):
            env.scratched_regs |= 1 << s
            src = src_or_none
        else:
            check_reg_arg(env, s, Op.SRC)
            src = regs[s]
        if (
            src.type != _SCALAR
            and not (type_is_pkt_pointer(dst.type) and type_is_pkt_pointer(src.type))
            and is_pointer_value(env, s)
        ):
            raise env.eacces(f"R{s} pointer comparison prohibited")
    else:
        if insn.src != 0:
            raise env.einval("BPF_JMP/JMP32 uses reserved fields")
        src = env.fake_reg[0]
        src.mark_known(insn.imm & _U64)
    is32 = code & 0x07 == _JMP32
    if dst.type == _SCALAR and src.type == _SCALAR:
        pred = sc.is_branch_taken(op, dst.b, src.b, is32)
    else:
        pred = is_branch_taken(dst, src, op, is32)
    if pred >= 0:
        if dst.type == _SCALAR:
            mark_chain_precision(env, d)
        if by_reg and src.type == _SCALAR:
            mark_chain_precision(env, insn.src)
        if env.log.level & 3:
            print_insn_state(env, this.frames[this.curframe])
        return idx + insn.off + 1 if pred == 1 else idx + 1
    # The scalars refined together with the operands go into the jump history before the
    # fork (both paths share it): backtracking over this jump makes them all precise if one is.
    # (each test is made where the kernel makes it: collecting can clear an operand's id)
    linked: list[tuple[int, bool, int]] = []
    if by_reg and src.type == SCALAR and src.id:
        collect_linked_regs(env, this, src.id, linked)
    if dst.type == SCALAR and dst.id:
        collect_linked_regs(env, this, dst.id, linked)
    if len(linked) > 1:
        push_insn_history(env, this, 0, tuple(linked))
    other = push_stack(env, idx + insn.off + 1, idx, False)
    other_regs = other.frames[other.curframe].regs
    if by_reg:
        _reg_set_min_max(other_regs[d], other_regs[insn.src], dst, src, op, is32)
    elif dst.type == _SCALAR:
        # against the immediate: _reg_set_min_max with a copy of the scratch register for
        # the jump's side, less the refinement of the immediate, which nothing reads
        sb = src.b
        dst.b = sc.refine(sc.negate(op), dst.b, sb, is32)[0]
        od = other_regs[d]
        od.b = sc.refine(op, od.b, sb, is32)[0]
    if by_reg and src.type == SCALAR and src.id:
        sync_linked_regs(this, src, linked)
        sync_linked_regs(other, other_regs[insn.src], linked)
    if dst.type == SCALAR and dst.id:
        sync_linked_regs(this, dst, linked)
        sync_linked_regs(other, other_regs[d], linked)
    if (
        by_reg
        and not is32
        and src.type != SCALAR
        and dst.type != SCALAR
        and base_type(src.type) != _BTF_ID
        and base_type(dst.type) != _BTF_ID
    ):
        eq_regs = other_regs if op == _JEQ else regs if op == _JNE else None
        if eq_regs is not None:
            if reg_not_null(dst) and type_may_be_null(src.type):
                mark_ptr_not_null_reg(eq_regs[insn.src])
            if reg_not_null(src) and type_may_be_null(dst.type):
                mark_ptr_not_null_reg(eq_regs[d])
    if (
        not is32
        and not by_reg
        and insn.imm == 0
        and op in (_JEQ, _JNE)
        and dst.type & _MAYBE_NULL
    ):
        mark_ptr_or_null_regs(env, this, d, op == _JNE)
        mark_ptr_or_null_regs(env, other, d, op == _JEQ)
    elif (
        not (
            by_reg
            and not is32
            and op in _PKT_CMP
            and try_match_pkt_pointers(insn, dst, regs[insn.src], this, other)
        )
        and dst.type != _SCALAR
        and is_pointer_value(env, d)
    ):
        raise env.eacces(f"R{d} pointer comparison prohibited")
    if env.log.level & 3:
        print_insn_state(env, this.frames[this.curframe])
    return idx + 1


def _reg_set_min_max(
    true1: RegState, true2: RegState, false1: RegState, false2: RegState, op: int, is32: bool
) -> None:
    if false1.type != SCALAR or false2.type != SCALAR:
        return
    if false1 is false2:
        # ``if rX op rX``: the kernel refines one register through two pointers to it
        false1.b = sc.refine_same(sc.negate(op), false1.b, is32)
        true1.b = sc.refine_same(op, true1.b, is32)
        return
    false1.b, false2.b = sc.refine(sc.negate(op), false1.b, false2.b, is32)
    true1.b, true2.b = sc.refine(op, true1.b, true2.b, is32)
