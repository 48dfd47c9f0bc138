"""What the verifier knows at one point of one path: registers, stack, frames, references.

These mirror the kernel's ``bpf_reg_state``, ``bpf_stack_state``, ``bpf_func_state`` and
``bpf_verifier_state`` (include/linux/bpf_verifier.h): mutable, copied when a path forks,
kept as checkpoints for state pruning, and linked to their parents so that precision can
be propagated back along the path that produced them.
"""

from __future__ import annotations

from typing import Any, Final

from ..kernel.regtypes import RegType, base_type
from . import scalar as sc
from .scalar import Bounds

MAX_BPF_REG = 11  # (FuncState.__init__ writes out one RegState per register)
BPF_REG_SIZE = 8
MAX_BPF_STACK = 512
DEF_NOT_SUBREG = 0
BPF_ADD_CONST = 1 << 31

NOT_INIT = int(RegType.NOT_INIT)
SCALAR_VALUE = int(RegType.SCALAR_VALUE)


class Slot:
    """What one byte of a stack slot holds (``enum bpf_stack_slot_type``).

    Plain ints rather than an IntEnum: these are read in every stack access and every
    state comparison, and reading a member off an enum class costs several times more
    than off a plain class."""

    INVALID: Final = 0
    SPILL: Final = 1
    MISC: Final = 2
    ZERO: Final = 3
    DYNPTR: Final = 4
    ITER: Final = 5
    IRQ_FLAG: Final = 6


SLOT_CHARS = "?rm0dif"

_UNKNOWN = sc.unknown()


class RegState:
    """One register: its type (base type | flags) and what is known about its value."""

    __slots__ = (
        "b", "btf", "btf_id", "dynptr", "frameno", "id", "map", "map_uid", "mem_size",
        "off", "precise", "range", "ref_obj_id", "subreg_def", "type",
    )  # fmt: skip

    def __init__(self) -> None:
        # the fields inline rather than through _reset(): a fresh register is made for
        # every frame and every spill, where the extra call doubled the cost
        self.type: int = NOT_INIT
        self.off = 0
        self.b: Bounds = _UNKNOWN
        self.id = 0
        self.ref_obj_id = 0
        self.map: Any = None
        self.map_uid = 0
        self.range = 0
        self.mem_size = 0
        self.btf: Any = None
        self.btf_id = 0
        self.frameno = 0
        self.subreg_def = DEF_NOT_SUBREG
        self.precise = False
        self.dynptr: Any = None

    def copy(self) -> RegState:
        r = _new_reg(RegState)
        r.type = self.type
        r.off = self.off
        r.b = self.b
        r.id = self.id
        r.ref_obj_id = self.ref_obj_id
        r.map = self.map
        r.map_uid = self.map_uid
        r.range = self.range
        r.mem_size = self.mem_size
        r.btf = self.btf
        r.btf_id = self.btf_id
        r.frameno = self.frameno
        r.subreg_def = self.subreg_def
        r.precise = self.precise
        r.dynptr = self.dynptr
        return r

    def assign(self, other: RegState) -> None:
        """Become a copy of ``other`` (the kernel's struct assignment)."""
        self.type = other.type
        self.off = other.off
        self.b = other.b
        self.id = other.id
        self.ref_obj_id = other.ref_obj_id
        self.map = other.map
        self.map_uid = other.map_uid
        self.range = other.range
        self.mem_size = other.mem_size
        self.btf = other.btf
        self.btf_id = other.btf_id
        self.frameno = other.frameno
        self.subreg_def = other.subreg_def
        self.precise = other.precise
        self.dynptr = other.dynptr

    # --- the kernel's mark_* helpers ------------------------------------------------
    def _reset(self, type: int, b: Bounds, precise: bool) -> None:
        """Every field but ``subreg_def`` back to a fresh register's (__mark_reg_unknown's
        stores), with the given type, bounds and precision: the one place the mark_*
        helpers list the fields."""
        self.type = type
        self.off = 0
        self.b = b
        self.id = 0
        self.ref_obj_id = 0
        self.map = None
        self.map_uid = 0
        self.range = 0
        self.mem_size = 0
        self.btf = None
        self.btf_id = 0
        self.frameno = 0
        self.dynptr = None
        self.precise = precise

    def mark_unknown(self, precise: bool = False) -> None:
        """A scalar about which nothing is known (__mark_reg_unknown)."""
        self._reset(SCALAR_VALUE, _UNKNOWN, precise)

    def mark_known(self, value: int) -> None:
        """A scalar with a known 64-bit value (__mark_reg_known on a fresh scalar)."""
        self._reset(SCALAR_VALUE, sc.known(value), False)

    def mark_not_init(self) -> None:
        self._reset(NOT_INIT, _UNKNOWN, False)

    def mark_const_zero(self) -> None:
        self.mark_known(0)

    @property
    def is_scalar(self) -> bool:
        return self.type == SCALAR_VALUE

    @property
    def is_pointer(self) -> bool:
        return self.type not in (NOT_INIT, SCALAR_VALUE)

    @property
    def base(self) -> int:
        return base_type(self.type)

    @property
    def is_const(self) -> bool:
        return self.b.var_off.mask == 0

    @property
    def const(self) -> int:
        return self.b.var_off.value

    def __repr__(self) -> str:
        return f"<RegState type={self.type:#x} off={self.off} b={self.b} id={self.id}>"


_new_reg = RegState.__new__


class StackSlot:
    """Eight bytes of stack: the kind of each byte and, for spills, the register."""

    __slots__ = ("slot_type", "spilled_ptr")

    def __init__(self) -> None:
        self.spilled_ptr = RegState()
        self.slot_type: list[int] = [Slot.INVALID] * BPF_REG_SIZE

    def copy(self) -> StackSlot:
        s = StackSlot.__new__(StackSlot)
        s.spilled_ptr = self.spilled_ptr.copy()
        s.slot_type = self.slot_type[:]
        return s

    @property
    def is_spill(self) -> bool:
        return self.slot_type[BPF_REG_SIZE - 1] == Slot.SPILL


_new_slot = StackSlot.__new__


class FuncState:
    """One call frame: registers, stack slots, and why the frame exists."""

    __slots__ = (
        "async_entry_cnt", "callback_depth", "callback_ret_range", "callsite", "frameno",
        "in_async_callback_fn", "in_callback_fn", "in_exception_callback_fn", "regs", "stack",
        "subprogno",
    )  # fmt: skip

    def __init__(self, frameno: int = 0, callsite: int = -1, subprogno: int = 0) -> None:
        r = RegState  # (written out: one per register, without a comprehension's frame)
        self.regs: list[RegState] = [r(), r(), r(), r(), r(), r(), r(), r(), r(), r(), r()]
        self.stack: list[StackSlot] = []
        self.frameno = frameno
        self.callsite = callsite
        self.subprogno = subprogno
        self.in_callback_fn = False
        self.in_async_callback_fn = False
        self.in_exception_callback_fn = False
        self.callback_ret_range: tuple[int, int] = (0, 0)
        self.callback_depth = 0
        self.async_entry_cnt = 0

    def copy(self) -> FuncState:
        f = FuncState.__new__(FuncState)
        copy_reg = RegState.copy
        f.regs = list(map(copy_reg, self.regs))
        # StackSlot.copy inline (every branch copies every slot of every frame)
        new_slot = _new_slot
        stack = []
        for s in self.stack:
            n = new_slot(StackSlot)
            n.spilled_ptr = copy_reg(s.spilled_ptr)
            n.slot_type = s.slot_type[:]
            stack.append(n)
        f.stack = stack
        f.frameno = self.frameno
        f.callsite = self.callsite
        f.subprogno = self.subprogno
        f.in_callback_fn = self.in_callback_fn
        f.in_async_callback_fn = self.in_async_callback_fn
        f.in_exception_callback_fn = self.in_exception_callback_fn
        f.callback_ret_range = self.callback_ret_range
        f.callback_depth = self.callback_depth
        f.async_entry_cnt = self.async_entry_cnt
        return f

    @property
    def allocated_stack(self) -> int:
        return len(self.stack) * BPF_REG_SIZE

    def slot(self, off: int) -> StackSlot:
        """The slot holding stack byte ``off`` (negative, relative to the frame pointer)."""
        return self.stack[(-off - 1) // BPF_REG_SIZE]


class RefState:
    """An acquired reference the program must release (or a lock it holds)."""

    __slots__ = ("id", "insn_idx", "kind", "ptr")

    def __init__(self, id: int, insn_idx: int, kind: str = "ptr", ptr: Any = None) -> None:
        self.id = id
        self.insn_idx = insn_idx
        self.kind = kind
        self.ptr = ptr

    def copy(self) -> RefState:
        return RefState(self.id, self.insn_idx, self.kind, self.ptr)


class JmpHistoryEntry:
    """One non-sequential step of a path, for backtracking precision through it.

    ``below`` caches what precision.py's walk finds on the path before this entry
    (``below_first``: the path's first instruction it was found for, -1: not yet): an
    entry is only ever preceded by the same entries, and those no longer change once it
    exists, so the summary stays true for every copy of the history."""

    __slots__ = ("below", "below_first", "flags", "idx", "linked_regs", "prev_idx")

    def __init__(self, idx: int, prev_idx: int, flags: int = 0, linked_regs: Any = None) -> None:
        self.idx = idx
        self.prev_idx = prev_idx
        self.flags = flags
        self.linked_regs = linked_regs
        self.below = 0
        self.below_first = -1


class VerifierState:
    """A whole path's state: its frames, references, locks and history."""

    __slots__ = (
        "active_lock",
        "active_preempt_lock",
        "active_rcu_lock",
        "branches",
        "callback_unroll_depth",
        "cleaned",
        "curframe",
        "dfs_depth",
        "equal_state",
        "first_insn_idx",
        "frames",
        "in_free_list",
        "in_sleepable",
        "insn_idx",
        "jmp_history",
        "last_insn_idx",
        "loop_entry",
        "may_goto_depth",
        "parent",
        "refs",
        "speculative",
        "used_as_loop_entry",
    )  # fmt: skip

    def __init__(self) -> None:
        self.frames: list[FuncState] = [FuncState()]
        self.curframe = 0
        self.parent: VerifierState | None = None
        self.branches = 1
        self.insn_idx = 0
        self.first_insn_idx = 0
        self.last_insn_idx = 0
        self.jmp_history: list[JmpHistoryEntry] = []
        self.refs: list[RefState] = []
        self.active_lock: Any = None
        self.active_rcu_lock = False
        self.active_preempt_lock = 0
        self.speculative = False
        self.in_sleepable = False
        self.may_goto_depth = 0
        self.callback_unroll_depth = 0
        self.dfs_depth = 0
        self.loop_entry: VerifierState | None = None
        self.used_as_loop_entry = False
        self.equal_state: VerifierState | None = None
        self.cleaned = False
        self.in_free_list = False

    def copy(self) -> VerifierState:
        """A deep copy of frames and references; history starts empty (copy_verifier_state
        copies it, callers decide)."""
        v = _new_state(VerifierState)
        v.frames = list(map(_copy_frame, self.frames))
        v.curframe = self.curframe
        v.parent = self.parent
        v.branches = self.branches
        v.insn_idx = self.insn_idx
        v.first_insn_idx = self.first_insn_idx
        v.last_insn_idx = self.last_insn_idx
        v.jmp_history = self.jmp_history[:]
        v.refs = [r.copy() for r in self.refs] if self.refs else []
        v.active_lock = self.active_lock
        v.active_rcu_lock = self.active_rcu_lock
        v.active_preempt_lock = self.active_preempt_lock
        v.speculative = self.speculative
        v.in_sleepable = self.in_sleepable
        v.may_goto_depth = self.may_goto_depth
        v.callback_unroll_depth = self.callback_unroll_depth
        v.dfs_depth = self.dfs_depth
        v.loop_entry = self.loop_entry
        v.used_as_loop_entry = self.used_as_loop_entry
        v.equal_state = self.equal_state
        v.cleaned = False
        v.in_free_list = False
        return v

    @property
    def cur(self) -> FuncState:
        return self.frames[self.curframe]

    @property
    def regs(self) -> list[RegState]:
        return self.frames[self.curframe].regs


_new_state = VerifierState.__new__
_copy_frame = FuncState.copy
