"""Straight-line code of one node, with single-use values folded into their use.

``r3 = r0; r3 <<= 13; r0 ^= r3`` (r3 dead afterwards) becomes ``r0 = r0 ^ ((r0 << 13) &
M)``: a register written by an ALU instruction and read exactly once before it is written
again or the node ends (and not live after the node) is kept as an expression and written
into its one use instead of being stored in a local; a result nobody reads is not computed
(ALU operations have no side effects).  CPython then runs fewer loads and stores.

The invariant: every pending expression is written in terms of the locals as they are
now.  Whenever locals are assigned while expressions are pending, everything is assigned
in one tuple assignment, whose right-hand sides are all evaluated before any name
changes.  Anything that is not an ALU instruction (memory, calls, exits) sees only stored
locals: pending values are stored before it.
"""

from __future__ import annotations

from ...isa.insn import lddw_value
from ...isa.opcodes import InsnClass, JmpOp, Source
from .cfg import Graph, Term
from .dataflow import Liveness, StackState
from .emit import H64, M64, Emitter, stack_states
from .ranges import ORDER, Tracker, cond_needs, handled_as_alu

MAX_DEPTH = 12
"""Expressions nest at most this deep (Python's parser has limits, readers too)."""

Pending = tuple[str, frozenset[int], int]
"""(expression, locals it reads, nesting depth)."""


def _bits(mask: int) -> list[int]:
    return [r for r in range(11) if mask >> r & 1]


class StraightLine:
    """Lines (text, pc) for the non-jump instructions of a node, and its condition."""

    def __init__(
        self,
        graph: Graph,
        em: Emitter,
        live: Liveness,
        stack: StackState,
        nid: int,
        tracker: Tracker,
    ) -> None:
        self.em = em
        self.tracker = tracker
        self.node = graph.nodes[nid]
        self.insns = graph.insns
        self.pending: dict[int, Pending] = {}
        self.lines: list[tuple[str, int]] = []
        self.pc = self.node.start
        # uses of each definition before the register is written again, and which
        # definitions reach the end of the node while live
        self.uses: dict[int, int] = {}
        last: dict[int, int] = {}
        for pc in self.node.pcs:
            u, d = live.effects(pc)
            for r in _bits(u):
                if r in last:
                    self.uses[last[r]] = self.uses.get(last[r], 0) + 1
            for r in _bits(d):
                last[r] = pc
        out = live.live_out[nid]
        self.live_at_end = {pc for r, pc in last.items() if out >> r & 1}
        node = self.node
        body = node.pcs if node.term == Term.FALL else node.pcs[:-1]
        states = stack_states(list(graph.insns), node.pcs, stack)
        after = live.after(nid)
        fused = -1
        for i, pc in enumerate(body):
            self.pc = pc
            insn = self.insns[pc]
            if pc == fused:  # the swap of a big-endian load, drawn with it
                self.pending.pop(insn.dst, None)
                tracker.alu(pc)
                continue
            if handled_as_alu(insn):
                self._alu(pc, states[i], after[pc])
                continue
            self._clean(tracker.before(pc, i))
            next_is_own = i + 1 < len(body) and body[i + 1] == pc + 1
            swapped = em.swapped_load(pc, states[i]) if next_is_own else None
            if swapped is not None:
                fused = pc + 1
            self.lines.extend(
                (text, pc)
                for text in (swapped if swapped is not None else em.insn(pc, states[i], after[pc]))
            )
            tracker.after(pc)
        self.pc = node.pcs[-1]
        if node.term == Term.EXIT:
            self._clean(tracker.before(self.pc, len(node.pcs) - 1))

    # --- values ------------------------------------------------------------------------

    def value(self, reg: int) -> str:
        """The register's value for one read: its pending expression (consumed) or name."""
        got = self.pending.pop(reg, None)
        if got is None:
            return self.em.reg(reg)
        expr = got[0]
        return (
            expr
            if expr.isidentifier() or (expr.startswith("0x") and expr.isalnum())
            else f"({expr})"
        )

    def clean_value(self, reg: int, need: bool) -> str:
        """The register's value for one read by a condition, masked if it may be dirty
        and the test looks above the low bits."""
        expr = self.value(reg)
        return expr if not need or self.tracker.clean(reg) else f"({expr} & {H64})"

    def _clean(self, regs: list[int]) -> None:
        """Store everything pending, the registers ``regs`` masked (an instruction that
        is not an expression is about to read them)."""
        stored = []
        for r in regs:
            got = self.pending.get(r)
            if got is None:
                stored.append(r)
            else:
                self.pending[r] = (f"({got[0]}) & {H64}", got[1], got[2] + 1)
        self.flush()
        self.lines.extend((f"r{r} &= {H64}", self.pc) for r in stored)

    def flush(self, extra: tuple[int, str] | None = None) -> None:
        """Store every pending value (and ``extra``) in one assignment."""
        items = [(r, e) for r, (e, _, _) in sorted(self.pending.items())]
        self.pending.clear()
        if extra is not None:
            items.append(extra)
        if not items:
            return
        lhs = ", ".join(f"r{r}" for r, _ in items)
        rhs = ", ".join(e for _, e in items)
        self.lines.append((f"{lhs} = {rhs}", self.pc))

    def _alu(self, pc: int, stack: StackState, live_after: int) -> None:
        """An ALU instruction or lddw, as a pending expression or an assignment, masked
        where :class:`Tracker` says."""
        insn = self.insns[pc]
        d = insn.dst
        mask, clean_a, clean_b = self.tracker.alu(pc)
        if insn.is_lddw:
            template, multi = f"{lddw_value(insn, self.insns[pc + 1]):#x}", frozenset[str]()
        else:
            found = self.em.alu_raw(insn)
            if found is None:  # an unknown operation: the emitter's fault
                self.flush()
                self.lines.extend((text, pc) for text in self.em.insn(pc, stack, live_after))
                return
            template, multi = found
        if mask:
            template = f"({template}) & {H64}"
        s = insn.src
        uses_a, uses_b = "{a}" in template, "{b}" in template
        plain = set()
        if "a" in multi:
            plain.add(d)
        if "b" in multi:
            plain.add(s)
        if uses_a and uses_b and d == s:
            plain.add(d)
        if plain & self.pending.keys():
            self.flush()
        refs: set[int] = set()
        depth = 0

        def operand(r: int) -> str:
            nonlocal depth
            got = self.pending.get(r)
            if got is not None:
                refs.update(got[1])
                depth = max(depth, got[2])
            else:
                refs.add(r)
            return self.value(r)

        a = operand(d) if uses_a else ""
        if clean_a:
            a = f"({a} & {H64})"
        b = (a if s == d and uses_a else operand(s)) if uses_b else ""
        if clean_b and not (s == d and uses_a):
            b = f"({b} & {H64})"
        expr = template.format(a=a, b=b)
        # an operation that ignores the old value (x /= 0 is 0) leaves it unread: it is dead
        self.pending.pop(d, None)
        n = self.uses.get(pc, 0)
        live = pc in self.live_at_end
        if n == 0 and not live:
            return  # nobody reads it
        if n == 1 and not live and depth < MAX_DEPTH:
            self.pending[d] = (expr, frozenset(refs), depth + 1)
            return
        if any(d in r for _, r, _ in self.pending.values()):
            self.flush((d, expr))
        else:
            self.lines.append((f"r{d} = {expr}", pc))

    # --- the end of the node -----------------------------------------------------------

    def condition(self, pc: int) -> str | None:
        """The jump's condition, reading pending values the jump uses; everything else
        pending is stored first."""
        insn = self.insns[pc]
        wanted = set() if insn.op == JmpOp.JCOND else {insn.dst}
        if insn.source == Source.X:
            wanted.add(insn.src)
        if self.pending.keys() - wanted:
            self.flush()
        need_d, need_s = cond_needs(insn)
        wrapped = self._wraps_once(pc)

        def value(r: int) -> str:
            if wrapped and r == insn.dst:
                return self.value(r)
            return self.clean_value(r, need_d if r == insn.dst else need_s)

        cond = self.em.condition(pc, value, wrapped)
        if self.pending:  # a jump that reads less than it seems to: store, then test
            self.flush()
        return cond

    def _wraps_once(self, pc: int) -> bool:
        """Whether the jump is an unsigned order test of a destination that is dirty but
        within ``[0, 2**65)`` against a clean source (see :meth:`Emitter.condition`), as
        in ``if r5 + 2 > r3`` after ``r5 = r2 + r4``."""
        insn = self.insns[pc]
        if insn.cls != InsnClass.JMP or insn.op not in ORDER:
            return False
        d, s = insn.dst, insn.src
        if d > 10 or self.tracker.clean(d):
            return False
        lo, hi = self.tracker.regs[d]
        if lo < 0 or hi > 2 * M64 + 1:
            return False
        if insn.source == Source.K:
            return True
        return s != d and s <= 10 and self.tracker.clean(s) and s not in self.pending

    def finish(self) -> None:
        """Store what is still pending (the node ends without a condition)."""
        self.flush()
