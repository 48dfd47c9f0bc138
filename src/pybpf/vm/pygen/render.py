"""Drawing one function as Python source: structured, or as a dispatch loop.

The structured form draws the statements of :mod:`.structure`.  An ``if`` whose one arm
always leaves (``return``, ``raise``, ``continue``, ``break``) keeps the other arm at its
own level, so chains of checks stay flat.  When a function cannot be structured (a loop
with two entries) or the result would nest deeper than Python's parser allows, it is drawn
as a dispatch loop instead: ``while True`` around a binary tree of ``if L < k`` tests, one
leaf per node, so reaching a node costs a logarithmic number of tests, never a linear
chain.
"""

from __future__ import annotations

from .cfg import Graph, Term
from .dataflow import Liveness, StackState
from .emit import Emitter
from .forward import StraightLine
from .ranges import FunctionRanges, Tracker
from .structure import Block, Br, Code, Exit, Fault, If, Loop, Stmt

Line = tuple[int, str, int]
"""(indent level, text, pc or -1)."""

MAX_NESTING = 90
"""Python's tokenizer refuses more than 100 levels of indentation."""
MAX_LOOPS = 18
"""CPython refuses more than 20 statically nested loops."""


class TooDeep(Exception):
    """The structured form nests too deep for Python."""


class FunctionRenderer:
    """Lines of one function's body; the caller adds the header and prologue."""

    def __init__(
        self,
        graph: Graph,
        emitter: Emitter,
        live: Liveness,
        stack: list[StackState],
        ranges: FunctionRanges,
    ) -> None:
        self.g = graph
        self.ranges = ranges
        self.em = emitter
        self.live = live
        self.stack = stack
        self.uses_label = False
        self.loop_depth = 0
        self._cond: dict[int, str | None] = {}

    # --- node code ---------------------------------------------------------------------

    def code(self, nid: int, level: int) -> list[Line]:
        """The node's instructions, up to and including the budget check of its jump.
        The node's condition, if it has one, is then :meth:`condition`."""
        node = self.g.nodes[nid]
        tracker = Tracker(self.ranges, nid, self.ranges.at_entry(nid))
        line = StraightLine(self.g, self.em, self.live, self.stack[nid], nid, tracker)
        if node.term == Term.COND:
            self._cond[nid] = line.condition(node.term_pc)
        else:
            line.finish()
        out: list[Line] = [(level, text, pc) for text, pc in line.lines]
        if node.term in (Term.GOTO, Term.COND):
            pc = node.term_pc
            insn = self.g.insns[pc]
            target = self.g.nodes[node.succs[0]].start
            if node.term == Term.COND and self._cond[nid] is None:
                out.append(
                    (level, self.em.fault(pc, f"unknown jump operation {insn.op:#x}", 22), pc)
                )
            out.extend((level, text, pc) for text in self.em.budget_check(pc, target))
        return out

    def condition(self, nid: int) -> str:
        """The condition of the node whose :meth:`code` was drawn last."""
        cond = self._cond.get(nid)
        return cond if cond is not None else "False"

    def exit_line(self, nid: int, level: int) -> Line:
        return (level, self.em.returns(), self.g.nodes[nid].term_pc)

    def fault_line(self, nid: int, level: int) -> Line:
        fault = self.g.nodes[nid].fault
        assert fault is not None
        pc, reason, err = fault
        return (level, self.em.fault(pc, reason, err), pc)

    # --- structured --------------------------------------------------------------------

    def structured(self, stmts: list[Stmt], level: int) -> list[Line]:
        if level > MAX_NESTING:
            raise TooDeep
        out: list[Line] = []
        for st in stmts:
            out.extend(self._stmt(st, level))
        return out

    def _stmt(self, st: Stmt, level: int) -> list[Line]:
        if isinstance(st, Code):
            return self.code(st.node, level)
        if isinstance(st, Exit):
            return [self.exit_line(st.node, level)]
        if isinstance(st, Fault):
            return [self.fault_line(st.node, level)]
        if isinstance(st, Br):
            return self._br(st, level)
        if isinstance(st, If):
            return self._if(st, level)
        if isinstance(st, Loop):
            outer, self.em.in_loop = self.em.in_loop, True
            try:
                body = self._loop_body(st.body, level + 1)
            finally:
                self.em.in_loop = outer
            return [(level, "while True:", -1), *body, *self._after_loop(st, level)]
        assert isinstance(st, Block)
        if st.breakable:
            return self._breakable(st, level)
        out = self.structured(st.body, level)
        if st.guarded:
            self.uses_label = True
            follow = self.structured(st.follow, level + 1) or [(level + 1, "pass", -1)]
            return [*out, (level, f"if L == {st.label}:", -1), *follow]
        return [*out, *self.structured(st.follow, level)]

    def _br(self, st: Br, level: int) -> list[Line]:
        plan = st.plan
        assert plan is not None
        out: list[Line] = []
        if plan.sets_label():
            self.uses_label = True
            out.append((level, f"L = {st.target}", -1))
        if plan.kind in ("break", "continue"):
            out.append((level, plan.kind, -1))
        return out

    def _loop_body(self, stmts: list[Stmt], level: int) -> list[Line]:
        self.loop_depth += 1
        if self.loop_depth > MAX_LOOPS:
            raise TooDeep
        try:
            return self.structured(stmts, level) or [(level, "pass", -1)]
        finally:
            self.loop_depth -= 1

    def _breakable(self, block: Block, level: int) -> list[Line]:
        """``while True`` around the body; the code after it routes the jumps that left
        past the block, and otherwise runs the merge node's code."""
        out = [(level, "while True:", -1), *self._loop_body(block.body, level + 1)]
        routes = [(t, p.kind) for t, p in block.after]
        if routes:
            self.uses_label = True
        for i, (t, kind) in enumerate(routes):
            out.append((level, f"{'if' if i == 0 else 'elif'} L == {t}:", -1))
            out.append((level + 1, "pass" if kind == "fall" else kind, -1))
        if any(kind == "fall" for _, kind in routes):
            follow = self.structured(block.follow, level + 1) or [(level + 1, "pass", -1)]
            return [*out, (level, "else:", -1), *follow]
        return [*out, *self.structured(block.follow, level)]

    def _after_loop(self, loop: Loop, level: int) -> list[Line]:
        """Route the targets that left the loop by ``break``."""
        routes = [(t, p.kind) for t, p in loop.after]
        falls = [t for t, kind in routes if kind == "fall"]
        default = falls[0] if falls else (routes[-1][0] if routes else None)
        tests = [(t, kind) for t, kind in routes if t != default]
        out: list[Line] = []
        for i, (t, kind) in enumerate(tests):
            out.append((level, f"{'if' if i == 0 else 'elif'} L == {t}:", -1))
            out.append((level + 1, "pass" if kind == "fall" else kind, -1))
        if default is not None:
            kind = dict(routes)[default]
            if kind != "fall":
                if tests:
                    out.append((level, "else:", -1))
                    out.append((level + 1, kind, -1))
                else:
                    out.append((level, kind, -1))
        return out

    def _if(self, st: If, level: int) -> list[Line]:
        cond = self.condition(st.node)
        then_leaves, else_leaves = leaves(st.then), leaves(st.orelse)
        if then_leaves and (not else_leaves or _size(st.then) <= _size(st.orelse)):
            return [(level, f"if {cond}:", -1), *self._arm(st.then, level + 1),
                    *self.structured(st.orelse, level)]  # fmt: skip
        if else_leaves:
            return [(level, f"if not ({cond}):", -1), *self._arm(st.orelse, level + 1),
                    *self.structured(st.then, level)]  # fmt: skip
        then = self.structured(st.then, level + 1)
        orelse = self.structured(st.orelse, level + 1)
        if not then and not orelse:
            return []
        if not orelse:
            return [(level, f"if {cond}:", -1), *then]
        if not then:
            return [(level, f"if not ({cond}):", -1), *orelse]
        return [(level, f"if {cond}:", -1), *then, (level, "else:", -1), *orelse]

    def _arm(self, stmts: list[Stmt], level: int) -> list[Line]:
        return self.structured(stmts, level) or [(level, "pass", -1)]

    # --- dispatch ----------------------------------------------------------------------

    def dispatch(self, level: int) -> list[Line]:
        """``while True`` over a binary tree of the nodes."""
        self.uses_label = True
        self.em.in_loop = True
        nodes = list(self.g.rpo)
        entry = nodes[0]
        return [(level, f"L = {entry}", -1), (level, "while True:", -1),
                *self._tree(sorted(nodes), level + 1)]  # fmt: skip

    def _tree(self, ids: list[int], level: int) -> list[Line]:
        if len(ids) == 1:
            return self._leaf(ids[0], level) or [(level, "pass", -1)]
        mid = len(ids) // 2
        return [(level, f"if L < {ids[mid]}:", -1), *self._tree(ids[:mid], level + 1),
                (level, "else:", -1), *self._tree(ids[mid:], level + 1)]  # fmt: skip

    def _leaf(self, nid: int, level: int) -> list[Line]:
        node = self.g.nodes[nid]
        if node.term == Term.FAULT:
            return [self.fault_line(nid, level)]
        out = self.code(nid, level)
        if node.term == Term.EXIT:
            out.append(self.exit_line(nid, level))
        elif node.term == Term.COND and len(node.succs) == 2:
            t, f = node.succs
            out.append((level, f"L = {t} if {self.condition(nid)} else {f}", node.term_pc))
        else:
            out.append((level, f"L = {node.succs[0]}", -1))
        return out


def leaves(stmts: list[Stmt]) -> bool:
    """Whether control never falls off the end of ``stmts``."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, Exit | Fault):
        return True
    if isinstance(last, Br):
        return last.plan is not None and last.plan.kind in ("continue", "break")
    if isinstance(last, If):
        return leaves(last.then) and leaves(last.orelse)
    if isinstance(last, Loop):
        return all(p.kind != "fall" for _, p in last.after)
    if isinstance(last, Block):
        if last.breakable:
            return leaves(last.follow) and all(p.kind != "fall" for _, p in last.after)
        return not last.guarded and leaves(last.follow)
    return False


def _size(stmts: list[Stmt]) -> int:
    """A rough measure of how much code ``stmts`` draw (to keep the bigger arm flat)."""
    total = 0
    for st in stmts:
        total += 1
        if isinstance(st, If):
            total += _size(st.then) + _size(st.orelse)
        elif isinstance(st, Loop):
            total += _size(st.body)
        elif isinstance(st, Block):
            total += _size(st.body) + _size(st.follow)
    return total


def lines_to_source(lines: list[Line], pc_of_line: list[int]) -> str:
    """Join ``lines``, appending the pc of each to ``pc_of_line`` (for errors raised inside)."""
    text = []
    for level, body, pc in lines:
        text.append("    " * level + body)
        pc_of_line.append(pc)
    return "\n".join(text)
