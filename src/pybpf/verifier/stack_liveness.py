"""Which stack slots may still be read, per call chain and instruction (Linux 6.18).

Register liveness is a static pass (``liveness.py``); stack liveness cannot be, because a
pointer into the stack may be passed anywhere.  So, as 6.18 does, it is learned while
verifying: every stack read and every full 8-byte stack write of the path being explored
is recorded against the *function instance* it happened in -- the call chain (the call
instruction of every outer frame plus the start of the current function) -- and the
frame whose stack was touched.  For one instance and one instruction:

* ``may_read`` is the union of the slots any visit read,
* ``must_write`` is the intersection of the slots every visit wrote in full.

Once a path ends, a backward dataflow over the function's control flow turns these into
``live_before`` (may be read by the instruction or after it, before being overwritten)
and ``must_write_acc`` (written on every way out of the function from here).  A callee's
entry facts are then handed to its call site in the caller's instance, so that a call
which always overwrites a caller slot kills it.

Pruning asks :meth:`StackLiveness.slot_alive` before it compares two states: slots no
path can read again are forgotten in explored states (``clean_func_state``), which lets
more paths meet.  At log level 2 every change of the sets is logged as the kernel logs
it, e.g. ``(0) frame 0 insn 5 +live -8``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .env import Env
    from .state import VerifierState

U64 = (1 << 64) - 1
MAX_CALL_FRAMES = 8


def compute_postorder(env: Env) -> None:
    """Each subprogram's reachable instructions in the kernel's post-order.

    The walk pushes every undiscovered successor of the top instruction at once and emits
    an instruction when it is met again after that, which is the order the kernel's
    fixed-point loop visits instructions (and so the order of its log lines).
    """
    n = len(env.insns)
    succs = env.insn_succ
    if len(succs) != n:  # (check_cfg makes it: only a pass run on its own lacks it)
        from .cfg import scan

        scan(env)
        succs = env.insn_succ
    seen = bytearray(n)  # pushed on the walk's stack
    expanded = bytearray(n)  # its successors pushed
    order: list[int] = []
    emit = order.append
    starts: list[int] = []
    for sp in env.subprogs:
        starts.append(len(order))
        stack = [sp.start]
        seen[sp.start] = 1
        push, pop = stack.append, stack.pop
        while stack:
            top = stack[-1]
            if expanded[top]:
                emit(top)
                pop()
                continue
            expanded[top] = 1
            for s in succs[top]:
                if 0 <= s < n and not seen[s]:
                    push(s)
                    seen[s] = 1
    starts.append(len(order))
    env.insn_postorder = order
    env.postorder_starts = starts


def fmt_stack_mask(mask: int) -> str:
    """``-8,-24`` for slots 0 and 2."""
    out = []
    i = 0
    while mask:
        if mask & 1:
            out.append(str(-(i + 1) * 8))
        mask >>= 1
        i += 1
    return ",".join(out)


class FrameMasks:
    """The four sets of one frame's stack slots, for every instruction of a function."""

    __slots__ = ("live_before", "may_read", "must_write", "must_write_acc")

    def __init__(self, n: int) -> None:
        self.may_read = [0] * n
        self.must_write = [0] * n
        self.must_write_acc = [0] * n
        self.live_before = [0] * n


class FuncInstance:
    """One function as reached through one call chain."""

    __slots__ = (
        "callsites", "curframe", "frames", "insn_cnt", "must_write_dropped", "must_write_set",
        "sp_start", "sp_starts", "subprog", "updated",
    )  # fmt: skip

    def __init__(self, callsites: tuple[int, ...], sp_starts: tuple[int, ...], subprog: int, insn_cnt: int) -> None:
        self.callsites = callsites
        self.sp_starts = sp_starts
        self.curframe = len(callsites) - 1
        self.sp_start = sp_starts[-1]
        self.subprog = subprog
        self.insn_cnt = insn_cnt
        self.updated = False
        self.must_write_dropped = False
        self.frames: list[FrameMasks | None] = [None] * len(callsites)
        self.must_write_set = [False] * insn_cnt

    def masks(self, frame: int) -> FrameMasks:
        fm = self.frames[frame]
        if fm is None:
            fm = self.frames[frame] = FrameMasks(self.insn_cnt)
        return fm

    def chain_text(self) -> str:
        return "(" + ",".join(str(c) for c in self.callsites) + ")"


class StackLiveness:
    """The analysis for one verification (``env->liveness``)."""

    __slots__ = (
        "cur", "env", "instances", "query", "query_callsites", "query_insn", "sp_ends", "write_acc",
        "write_any", "write_insn_idx",
    )  # fmt: skip

    def __init__(self, env: Env) -> None:
        self.env = env
        self.instances: dict[tuple[int, ...], FuncInstance] = {}
        self.cur: FuncInstance | None = None
        self.write_acc = [0] * MAX_CALL_FRAMES
        self.write_insn_idx = 0
        self.write_any = False
        n = len(env.insns)
        subprogs = env.subprogs
        if len(subprogs) == 1:
            self.sp_ends = [n]
        else:
            self.sp_ends = [*(sp.start for sp in subprogs[1:]), n]
        self.query: Sequence[FuncInstance] = ()
        self.query_insn = 0
        self.query_callsites: tuple[int, ...] = ()

    # --- instances ---------------------------------------------------------------------
    def _lookup(self, callsites: tuple[int, ...], sp_starts: tuple[int, ...], sub: int) -> FuncInstance:
        inst = self.instances.get(callsites)
        if inst is None:
            inst = FuncInstance(callsites, sp_starts, sub, self.sp_ends[sub] - sp_starts[-1])
            self.instances[callsites] = inst
        return inst

    def instance_of(self, st: VerifierState, frameno: int) -> FuncInstance:
        """The instance frame ``frameno`` of ``st`` runs in (``lookup_instance``)."""
        subprogs = self.env.subprogs
        frames = st.frames
        sub = frames[frameno].subprogno
        if frameno == 0:  # the main function: one instance, found without building a chain
            start = subprogs[sub].start
            inst = self.instances.get((start,))
            if inst is not None:
                return inst
            return self._lookup((start,), (start,), sub)
        sp_starts = tuple(subprogs[frames[i].subprogno].start for i in range(frameno + 1))
        callsites = (*tuple(frames[i + 1].callsite for i in range(frameno)), sp_starts[-1])
        return self._lookup(callsites, sp_starts, sub)

    def reset_callchain(self) -> None:
        """The current path changed function: find its instance again when needed."""
        self.cur = None

    def _ensure_cur(self) -> FuncInstance:
        cur = self.cur
        if cur is None:
            cur = self.ensure_cur()
        return cur

    def ensure_cur(self) -> FuncInstance:
        """Find the current path's instance again (after :meth:`reset_callchain`)."""
        st = self.env.cur_state
        assert st is not None
        cur = self.cur = self.instance_of(st, st.curframe)
        return cur

    # --- recording reads and writes ----------------------------------------------------
    def mark_read(self, frame: int, insn_idx: int, mask: int) -> None:
        """Stack slots ``mask`` of ``frame`` were read at ``insn_idx`` on this path."""
        self._mark_read(self._ensure_cur(), frame, insn_idx, mask)

    @staticmethod
    def _mark_read(inst: FuncInstance, frame: int, insn_idx: int, mask: int) -> None:
        fm = inst.masks(frame)
        rel = insn_idx - inst.sp_start
        old = fm.may_read[rel]
        new = old | mask
        if new != old and (new | fm.live_before[rel]) != fm.live_before[rel]:
            inst.updated = True
        fm.may_read[rel] = new

    def clear_write_marks(self) -> None:
        self.write_acc = [0] * MAX_CALL_FRAMES
        self.write_any = False

    def _reset_write_marks_for(self, insn_idx: int) -> None:
        self.write_insn_idx = insn_idx
        if self.write_any:
            self.write_acc = [0] * MAX_CALL_FRAMES
            self.write_any = False

    def mark_write(self, frame: int, mask: int) -> None:
        self.write_acc[frame] |= mask
        self.write_any = True

    def commit_write_marks(self) -> None:
        """The instruction is done: intersect what it wrote with earlier visits (the
        driver does this inline)."""
        inst = self.cur
        if inst is None:
            return
        if not self.write_any:
            idx = self.write_insn_idx - inst.sp_start
            if not inst.must_write_set[idx]:  # a first visit that wrote nothing: no set changes
                inst.must_write_set[idx] = True
                self.write_insn_idx = 0
                return
        self.commit(inst)

    def commit(self, inst: FuncInstance | None) -> None:
        """Commit the write marks of the instruction being checked to ``inst``."""
        if inst is None:
            return
        idx = self.write_insn_idx - inst.sp_start
        was_set = inst.must_write_set[idx]
        if not was_set and not self.write_any:
            # a first visit that wrote nothing (most instructions): no frame's set changes
            inst.must_write_set[idx] = True
            self.write_insn_idx = 0
            return
        if was_set and not self.write_any:
            # a later visit that wrote nothing: every frame's must-write set becomes empty
            for frame in range(inst.curframe + 1):
                fm = inst.frames[frame] or inst.masks(frame)
                if fm.must_write[idx]:
                    fm.must_write[idx] = 0
                    inst.updated = True
                    inst.must_write_dropped = True
            self.write_insn_idx = 0
            return
        acc = self.write_acc
        for frame in range(inst.curframe + 1):
            mask = acc[frame]
            if mask == 0 and not was_set:
                continue
            fm = inst.masks(frame)
            old = fm.must_write[idx]
            if was_set:
                mask &= old
            if old != mask:
                fm.must_write[idx] = mask
                inst.updated = True
            if old & ~mask:
                inst.must_write_dropped = True
        inst.must_write_set[idx] = True
        self.write_insn_idx = 0

    # --- propagation -------------------------------------------------------------------
    def update(self) -> None:
        """Bring every instance of the current path's call chain up to date
        (``bpf_update_live_stack``): callees first, so their facts reach the callers."""
        cur = self.cur
        self.cur = None
        st = self.env.cur_state
        assert st is not None
        top = st.curframe
        if top == 0:  # (the usual exit: one frame, most often its instance at hand)
            inst = cur if cur is not None else self.instance_of(st, 0)
            if inst.updated:
                self._update_instance(inst)
                inst.updated = False
                inst.must_write_dropped = False
            return
        for frame in range(top, -1, -1):
            # (cur, when known, is the instance of the top frame)
            inst = cur if frame == top and cur is not None else self.instance_of(st, frame)
            if inst.updated:
                self._update_instance(inst)
                inst.updated = False
                inst.must_write_dropped = False

    def _update_instance(self, inst: FuncInstance) -> None:
        env = self.env
        if not env.postorder_starts:  # the first update: the walk order, made once
            compute_postorder(env)
        if inst.must_write_dropped:
            for fm in inst.frames:
                if fm is not None:
                    fm.must_write_acc = [0] * inst.insn_cnt
        order = env.insn_postorder[env.postorder_starts[inst.subprog] : env.postorder_starts[inst.subprog + 1]]
        succs = env.insn_succ
        log2 = bool(env.level & 2)
        aux = env.aux
        base = inst.sp_start
        cnt = 0
        changed = True
        while changed:
            cnt += 1
            changed = False
            for frame, fm in enumerate(inst.frames):
                if fm is None:
                    continue
                may_read, must_write = fm.may_read, fm.must_write
                mwa, live = fm.must_write_acc, fm.live_before
                for idx in order:
                    succ = succs[idx]
                    if not succ:
                        continue
                    rel = idx - base
                    after = 0
                    acc = U64
                    for s in succ:
                        after |= live[s - base]
                        acc &= mwa[s - base]
                    acc |= must_write[rel]
                    before = (after & ~must_write[rel]) | may_read[rel]
                    if before != live[rel] or acc != mwa[rel]:
                        changed = True
                    if log2 and (may_read[rel] or must_write[rel] or idx == base or aux[idx].prune_point):
                        self._log_change(inst, "live", frame, idx, live[rel], before)
                        self._log_change(inst, "written", frame, idx, mwa[rel], acc)
                    live[rel] = before
                    mwa[rel] = acc
        if log2:
            env.verbose(f"{inst.chain_text()} live stack update done in {cnt} iterations\n")
        if inst.curframe > 0:
            self._propagate_to_outer(inst)

    def _log_change(self, inst: FuncInstance, what: str, frame: int, idx: int, old: int, new: int) -> None:
        changed = old ^ new
        if not changed:
            return
        ones, zeros = new & changed, ~new & changed
        text = f"{inst.chain_text()} frame {frame} insn {idx} "
        if ones:
            text += f"+{what} {fmt_stack_mask(ones)} "
        if zeros:
            text += f"-{what} {fmt_stack_mask(zeros)}"
        self.env.verbose(text + "\n")

    def _propagate_to_outer(self, inst: FuncInstance) -> None:
        """The callee's entry facts become facts of its call instruction in the caller."""
        cf = inst.curframe
        outer_sites = (*inst.callsites[:cf - 1], inst.sp_starts[cf - 1])
        outer = self._lookup(outer_sites, inst.sp_starts[:cf], self.env.subprog_of(inst.sp_starts[cf - 1]))
        callsite = inst.callsites[cf - 1]
        self._reset_write_marks_for(callsite)
        rel = 0
        for frame in range(cf):
            fm = inst.frames[frame]
            if fm is None:
                continue
            self.mark_write(frame, fm.must_write_acc[rel])
            self._mark_read(outer, frame, callsite, fm.live_before[rel])
        self.commit(outer)

    # --- queries -----------------------------------------------------------------------
    def query_init(self, st: VerifierState) -> None:
        """Prepare :meth:`slot_alive` questions about the explored state ``st``."""
        self.query = [self.instance_of(st, f) for f in range(st.curframe + 1)]
        self.query_insn = st.insn_idx

    def slot_alive(self, frameno: int, spi: int) -> bool:
        """May slot ``spi`` of frame ``frameno`` still be read from the queried point on?"""
        q = self.query
        curframe = len(q) - 1
        top = q[curframe]
        bit = 1 << spi
        if _live_before(top, self.query_insn, frameno, bit):
            return True
        aux = self.env.aux
        for i in range(frameno, curframe):
            callsite = top.callsites[i]
            at = callsite if aux[callsite].calls_callback else callsite + 1
            if _live_before(q[i], at, frameno, bit):
                return True
        return False


def _live_before(inst: FuncInstance, insn_idx: int, frame: int, bit: int) -> bool:
    fm = inst.frames[frame] if frame < len(inst.frames) else None
    if fm is None:
        return False
    return bool(fm.live_before[insn_idx - inst.sp_start] & bit)
