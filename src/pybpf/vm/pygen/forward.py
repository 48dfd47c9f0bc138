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
from .emit import Emitter, stack_states

MAX_DEPTH = 12
"""Expressions nest at most this deep (Python's parser has limits, readers too)."""

Pending = tuple[str, frozenset[int], int]
"""(expression, locals it reads, nesting depth)."""


def _bits(mask: int) -> list[int]:
    return [r for r in range(11) if mask >> r & 1]


class StraightLine:
    """Lines (text, pc) for the non-jump instructions of a node, and its condition."""

    def __init__(self, graph: Graph, em: Emitter, live: Liveness, stack: StackState, nid: int) -> None:
        self.em = em
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
        for i, pc in enumerate(body):
            self.pc = pc
            insn = self.insns[pc]
            if (insn.cls in (InsnClass.ALU, InsnClass.ALU64) or insn.is_lddw) and self._alu(pc):
                continue
            self.flush()
            self.lines.extend((text, pc) for text in em.insn(pc, states[i], after[pc]))
        self.pc = node.pcs[-1]

    # --- values ------------------------------------------------------------------------

    def value(self, reg: int) -> str:
        """The register's value for one read: its pending expression (consumed) or name."""
        got = self.pending.pop(reg, None)
        if got is None:
            return self.em.reg(reg)
        expr = got[0]
        return expr if expr.isidentifier() or (expr.startswith("0x") and expr.isalnum()) else f"({expr})"

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

    def _alu(self, pc: int) -> bool:
        """Handle an ALU instruction or lddw; False if it must be emitted as is."""
        insn = self.insns[pc]
        d = insn.dst
        if d == 10:
            return False
        if insn.is_lddw:
            if insn.src == 4:  # a function's address: the emitter knows it
                return False
            template, multi = f"{lddw_value(insn, self.insns[pc + 1]):#x}", frozenset[str]()
        else:
            found = self.em.alu_template(insn)
            if found is None:
                return False
            template, multi = found
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
        b = (a if s == d and uses_a else operand(s)) if uses_b else ""
        expr = template.format(a=a, b=b)
        # an operation that ignores the old value (x /= 0 is 0) leaves it unread: it is dead
        self.pending.pop(d, None)
        n = self.uses.get(pc, 0)
        live = pc in self.live_at_end
        if n == 0 and not live:
            return True  # nobody reads it
        if n == 1 and not live and depth < MAX_DEPTH:
            self.pending[d] = (expr, frozenset(refs), depth + 1)
            return True
        if any(d in r for _, r, _ in self.pending.values()):
            self.flush((d, expr))
        else:
            self.lines.append((f"r{d} = {expr}", pc))
        return True

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
        cond = self.em.condition(pc, self.value)
        if self.pending:  # a jump that reads less than it seems to: store, then test
            self.flush()
        return cond

    def finish(self) -> None:
        """Store what is still pending (the node ends without a condition)."""
        self.flush()

