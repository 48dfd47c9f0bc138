"""Open-coded iterators: ``struct bpf_iter_<type>`` objects that live on the stack.

A program declares ``struct bpf_iter_num it;`` on its stack and drives it with three
kfuncs the kernel flags ``KF_ITER_NEW``, ``KF_ITER_NEXT`` and ``KF_ITER_DESTROY``.  The
verifier turns the stack slots the struct covers into iterator slots (``Slot.ITER``,
``i`` in the state log) the program cannot read or overwrite without losing the
iterator, and ties them to a reference that only ``_destroy`` gives back, so a leaked
iterator is an ``Unreleased reference``.

The loop is verified without knowing how many times it runs: every ``_next`` call
forks.  The current path sees NULL and the iterator *drained*; a queued path sees a
pointer and the iterator *active* one level deeper.  The ``_next`` call is a forced
checkpoint, and a path coming back to it with an active iterator in a state the
checkpoint covers (ranges within, ``RANGE_WITHIN``) is safe: every further round would
only repeat what was proven.  The depth, never compared, keeps the infinite-loop check
from firing on two rounds that look alike.

The facts of one iterator slot are kept in the ``dynptr`` field of the slot's
register state: the kernel keeps dynptr and iterator facts in one union, and so does
pybpf (the field is ``Any``).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import TYPE_CHECKING

from ..btf import Btf, FuncProto, Ptr, Struct
from ..btf.resolve import skip_modifiers
from ..isa.insn import Insn
from ..isa.opcodes import PseudoCall
from ..isa.semantics import s64 as _s64
from ..kernel.regtypes import RegType, TypeFlag
from ..kernel.vmlinux import KfuncFlag, kfunc_by_id
from .pending import push_stack
from .state import BPF_REG_SIZE, FuncState, RegState, Slot, StackSlot, VerifierState

if TYPE_CHECKING:
    from .env import Env
    from .kfunc import KfuncMeta

ITER_PREFIX = "bpf_iter_"
_CALL = 0x85
_ITER_FLAGS = KfuncFlag.ITER_NEW | KfuncFlag.ITER_NEXT | KfuncFlag.ITER_DESTROY


class IterState(IntEnum):
    """Where an iterator is in its life (``enum bpf_iter_state``)."""

    INVALID = 0
    ACTIVE = 1
    DRAINED = 2


_STATE_NAMES = {IterState.INVALID: "<invalid>", IterState.ACTIVE: "active",
                IterState.DRAINED: "drained"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class IterSlot:
    """What one stack slot of an iterator records: its struct, state and loop depth."""

    btf_id: int
    kind: str  # the struct's name without ``bpf_iter_``: "num", "bits", "task"...
    state: IterState
    depth: int

    def describe(self, ref_obj_id: int) -> str:
        """The state log's text for the iterator's first slot."""
        return (
            f"iter_{self.kind}(ref_id={ref_obj_id},state={_STATE_NAMES[self.state]},"
            f"depth={self.depth})"
        )


def iter_of(reg: RegState) -> IterSlot | None:
    it = reg.dynptr
    return it if isinstance(it, IterSlot) else None


# --- which kfuncs and arguments are about iterators ------------------------------------------


def is_iter_kfunc(meta: KfuncMeta) -> bool:
    return bool(meta.desc.flags & _ITER_FLAGS)


def is_iter_next_call(insn: Insn) -> bool:
    """A call of a ``KF_ITER_NEXT`` kfunc (the CFG pass makes it a forced checkpoint)."""
    if insn.code != _CALL or insn.src != PseudoCall.KFUNC_CALL:
        return False
    desc = kfunc_by_id().get(insn.imm & 0xFFFFFFFF)
    return desc is not None and bool(desc.flags & KfuncFlag.ITER_NEXT)


def is_iter_next_insn(env: Env, insn_idx: int) -> bool:
    return is_iter_next_call(env.insns[insn_idx])


def is_iter_arg(meta: KfuncMeta, i: int, name: str) -> bool:
    """The first argument of an iterator kfunc, or an ``__iter`` argument of another."""
    if is_iter_kfunc(meta):
        return i == 0
    return name.endswith("__iter") and len(name) > len("__iter")


def iter_arg_type(btf: Btf, proto: FuncProto, i: int) -> tuple[int, Struct] | None:
    """The ``struct bpf_iter_<type>`` argument ``i`` points to (``btf_check_iter_arg``)."""
    if i >= len(proto.params):
        return None
    t = btf[skip_modifiers(btf, proto.params[i].type)]
    if not isinstance(t, Ptr):
        return None
    sid = skip_modifiers(btf, t.type)
    st = btf[sid]
    if not isinstance(st, Struct) or not st.name.startswith(ITER_PREFIX):
        return None
    return sid, st


# --- the stack slots -------------------------------------------------------------------------


def _frame(env: Env, reg: RegState) -> FuncState:
    return env.state.frames[reg.frameno]


def _get_spi(env: Env, reg: RegState, nr_slots: int) -> int:
    """The first (highest) slot of the iterator ``reg`` points to (``stack_slot_obj_get_spi``):
    -EINVAL (logged) for a variable or misaligned offset, -ERANGE when the stack does not
    reach that far yet."""
    if reg.b.var_off.mask:
        env.verbose("iter has to be at a constant offset\n")
        return -errno.EINVAL
    off = reg.off + _s64(reg.b.var_off.value)
    spi = (-off - 1) // BPF_REG_SIZE
    if off % BPF_REG_SIZE or spi + 1 < nr_slots:
        env.verbose(f"cannot pass in iter at an offset={off}\n")
        return -errno.EINVAL
    if spi - nr_slots + 1 < 0 or spi >= len(_frame(env, reg).stack):
        return -errno.ERANGE
    return spi


def _valid_uninit(env: Env, reg: RegState, nr_slots: int) -> bool:
    spi = _get_spi(env, reg, nr_slots)
    if spi < 0:
        return spi == -errno.ERANGE  # checked and grown by the writes that follow
    stack = _frame(env, reg).stack
    return not any(Slot.ITER in stack[spi - i].slot_type for i in range(nr_slots))


def _valid_init(env: Env, reg: RegState, btf_id: int, nr_slots: int) -> int:
    """0, or the kernel's reason: -EINVAL (not this iterator), -EPROTO (needs RCU)."""
    spi = _get_spi(env, reg, nr_slots)
    if spi < 0:
        return -errno.EINVAL
    stack = _frame(env, reg).stack
    for i in range(nr_slots):
        slot = stack[spi - i]
        st = slot.spilled_ptr
        if st.type & TypeFlag.PTR_UNTRUSTED:
            return -errno.EPROTO
        if (i == 0) != bool(st.ref_obj_id):
            return -errno.EINVAL
        it = iter_of(st)
        if it is None or it.btf_id != btf_id:
            return -errno.EINVAL
        if any(t != Slot.ITER for t in slot.slot_type):
            return -errno.EINVAL
    return 0


def _mark_slots(env: Env, meta: KfuncMeta, reg: RegState, btf_id: int, kind: str,
                nr_slots: int, insn_idx: int) -> None:  # fmt: skip
    from .refs import acquire_reference_state

    spi = _get_spi(env, reg, nr_slots)
    frame = _frame(env, reg)
    ident = acquire_reference_state(env, insn_idx)
    slot_type = int(RegType.PTR_TO_STACK)
    if meta.has(KfuncFlag.RCU_PROTECTED):
        slot_type |= TypeFlag.MEM_RCU if env.state.active_rcu_lock else TypeFlag.PTR_UNTRUSTED
    info = IterSlot(btf_id, kind, IterState.ACTIVE, 0)
    for i in range(nr_slots):
        slot = frame.stack[spi - i]
        st = slot.spilled_ptr
        st.mark_known(0)
        st.type = slot_type
        st.ref_obj_id = ident if i == 0 else 0
        st.btf_id = btf_id
        st.dynptr = info
        slot.slot_type = [Slot.ITER] * BPF_REG_SIZE
        env.stack_live.mark_write(frame.frameno, 1 << (spi - i))
        env.mark_stack_slot_scratched(spi - i)


def _unmark_slots(env: Env, reg: RegState, nr_slots: int) -> None:
    from .refs import release_reference

    spi = _get_spi(env, reg, nr_slots)
    frame = _frame(env, reg)
    for i in range(nr_slots):
        slot = frame.stack[spi - i]
        if i == 0:
            release_reference(env, slot.spilled_ptr.ref_obj_id)
        slot.spilled_ptr.mark_not_init()
        slot.slot_type = [Slot.INVALID] * BPF_REG_SIZE
        env.stack_live.mark_write(frame.frameno, 1 << (spi - i))
        env.mark_stack_slot_scratched(spi - i)


def process_iter_arg(env: Env, meta: KfuncMeta, btf: Btf, regno: int, insn_idx: int) -> None:
    """Check (and for ``_new``/``_destroy`` change) the iterator argument ``regno``."""
    from ..isa.opcodes import Size
    from .mem import check_mem_access

    reg = env.regs[regno]
    arg = regno - 1
    if reg.type != RegType.PTR_TO_STACK:
        raise env.einval(f"arg#{arg} expected pointer to an iterator on stack")
    found = iter_arg_type(btf, meta.proto, arg)
    if found is None:
        raise env.einval(f"expected valid iter pointer as arg #{arg}")
    btf_id, st = found
    kind = st.name.removeprefix(ITER_PREFIX)
    nr_slots = st.size // BPF_REG_SIZE
    if meta.has(KfuncFlag.ITER_NEW):
        if not _valid_uninit(env, reg, nr_slots):
            raise env.einval(f"expected uninitialized iter_{kind} as arg #{arg}")
        for off in range(0, nr_slots * BPF_REG_SIZE, BPF_REG_SIZE):
            check_mem_access(env, insn_idx, regno, off, Size.DW, True, -1)
        _mark_slots(env, meta, reg, btf_id, kind, nr_slots, insn_idx)
        return
    err = _valid_init(env, reg, btf_id, nr_slots)
    if err == -errno.EINVAL:
        raise env.einval(f"expected an initialized iter_{kind} as arg #{arg}")
    if err == -errno.EPROTO:
        raise env.error(errno.EPROTO, f"expected an RCU CS when using {meta.name}")
    spi = _get_spi(env, reg, nr_slots)
    for i in range(nr_slots):
        env.stack_live.mark_read(reg.frameno, env.insn_idx, 1 << (spi - i))
        env.mark_stack_slot_scratched(spi - i)
    meta.iter_spi = spi
    meta.iter_frameno = reg.frameno
    meta.ref_obj_id = _frame(env, reg).stack[spi].spilled_ptr.ref_obj_id
    if meta.has(KfuncFlag.ITER_DESTROY):
        _unmark_slots(env, reg, nr_slots)


def iter_reg(st: VerifierState, meta: KfuncMeta) -> RegState:
    """The first slot's register of the iterator the call was given."""
    return st.frames[meta.iter_frameno].stack[meta.iter_spi].spilled_ptr


def next_ret_flag(env: Env, meta: KfuncMeta) -> int:
    """What a ``_next`` returning a kernel object pointer adds to it: RCU-protected
    iterators give RCU pointers, the others trusted ones."""
    if iter_reg(env.state, meta).type & TypeFlag.MEM_RCU:
        return int(TypeFlag.MEM_RCU)
    return int(TypeFlag.PTR_TRUSTED)


def process_iter_next_call(env: Env, insn_idx: int, meta: KfuncMeta) -> None:
    """Fork at ``_next``: queue the active path (one round deeper, non-NULL result),
    continue with the drained one (NULL result)."""
    from .jmp import mark_ptr_not_null_reg
    from .loops import find_prev_entry, widen_imprecise_scalars

    cur = env.state
    cur_reg = iter_reg(cur, meta)
    it = iter_of(cur_reg)
    if it is None or it.state not in (IterState.ACTIVE, IterState.DRAINED):
        state = it.state if it is not None else IterState.INVALID
        raise env.error(
            errno.EFAULT,
            f"verifier internal error: unexpected iterator state {int(state)} "
            f"({_STATE_NAMES[state]})",
        )
    if it.state == IterState.ACTIVE:
        parent = cur.parent
        if parent is None or parent.insn_idx != insn_idx:
            raise env.error(errno.EFAULT, "bug: bad parent state for iter next call")
        prev = find_prev_entry(env, parent, insn_idx)
        queued = push_stack(env, insn_idx + 1, insn_idx, False)
        _set_slots(queued, meta, replace(it, state=IterState.ACTIVE, depth=it.depth + 1))
        if prev is not None:
            widen_imprecise_scalars(env, prev, queued)
        mark_ptr_not_null_reg(queued.frames[queued.curframe].regs[0])
    _set_slots(cur, meta, replace(it, state=IterState.DRAINED))
    cur.regs[0].mark_const_zero()


def _set_slots(st: VerifierState, meta: KfuncMeta, info: IterSlot) -> None:
    """The kernel changes the state and depth in the first slot only."""
    iter_reg(st, meta).dynptr = info


# --- pruning -----------------------------------------------------------------------------


def iter_slots_safe(old: StackSlot, cur: StackSlot, check_id: object) -> bool:
    """Two iterator slots are equivalent when they hold the same iterator in the same
    state; the depth is left out, or loops would never converge."""
    o, c = old.spilled_ptr, cur.spilled_ptr
    oi, ci = iter_of(o), iter_of(c)
    if o.type != c.type or oi is None or ci is None:
        return False
    if oi.btf_id != ci.btf_id or oi.state != ci.state:
        return False
    return bool(check_id(o.ref_obj_id, c.ref_obj_id))  # type: ignore[operator]


def active_depths_differ(old: VerifierState, cur: VerifierState) -> bool:
    """An active iterator of ``old`` is at another loop depth in ``cur``: not the same
    round, so not an infinite loop."""
    for fr in range(old.curframe, -1, -1):
        ostack = old.frames[fr].stack
        cstack = cur.frames[fr].stack
        for i, slot in enumerate(ostack):
            if slot.slot_type[0] != Slot.ITER:
                continue
            oi = iter_of(slot.spilled_ptr)
            if oi is None or oi.state != IterState.ACTIVE:
                continue
            ci = iter_of(cstack[i].spilled_ptr) if i < len(cstack) else None
            if ci is None or ci.depth != oi.depth:
                return True
    return False


def next_call_iter_active(cur: VerifierState) -> bool:
    """At a ``_next`` call: is the iterator in R1 (always its first argument) active?"""
    reg = cur.regs[1]
    off = reg.off + _s64(reg.b.var_off.value)
    spi = (-off - 1) // BPF_REG_SIZE
    stack = cur.frames[reg.frameno].stack
    if not 0 <= spi < len(stack):
        return False
    it = iter_of(stack[spi].spilled_ptr)
    return it is not None and it.state == IterState.ACTIVE
