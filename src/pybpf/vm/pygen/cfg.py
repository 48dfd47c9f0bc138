"""The control-flow graph of one function: basic blocks, their order, dominators, loops.

A *function* is everything reachable from an entry instruction (the program's first, a
bpf-to-bpf call target, a callback) without following calls: calls return to the next
instruction, so they are not edges.  Jumps out of the program, into the second half of an
``lddw`` or off its end lead to *fault* nodes, which raise the interpreter's fault there.

The structurer needs what Ramsey's "Beyond Relooper" needs: reverse postorder,
immediate dominators (Cooper, Harvey and Kennedy's iteration), which nodes are loop
headers (targets of a retreating edge) and which are merge nodes (two or more forward
in-edges), and whether the graph is reducible (every retreating edge goes to a node that
dominates its source).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from ...isa.insn import Insn
from ...isa.opcodes import InsnClass, JmpOp


class Term(Enum):
    """How a node ends."""

    FALL = "fall"  # runs into the next node (a leader follows)
    GOTO = "goto"  # unconditional jump
    COND = "cond"  # conditional jump: succs = [taken, not taken]
    EXIT = "exit"
    FAULT = "fault"


@dataclass(eq=False)
class Node:
    """A basic block: ``pcs`` are its instruction slots in order (an ``lddw`` counts once)."""

    id: int
    start: int
    pcs: list[int] = field(default_factory=list)
    term: Term = Term.FALL
    succs: list[int] = field(default_factory=list)
    fault: tuple[int, str, int] | None = None
    """For FAULT nodes: (pc, reason, errno) as the interpreter reports them."""

    @property
    def term_pc(self) -> int:
        """The jump or exit that ends the node (GOTO, COND, EXIT)."""
        return self.pcs[-1]


def _is_jump(insn: Insn) -> bool:
    return insn.cls in (InsnClass.JMP, InsnClass.JMP32)


def _flow_of(insns: Sequence[Insn], pc: int) -> tuple[Term, list[int]]:
    """What follows the instruction at ``pc``: FALL (next slot), GOTO, COND or EXIT."""
    insn = insns[pc]
    if insn.is_lddw:
        return Term.FALL, [pc + 2]
    if not _is_jump(insn):
        return Term.FALL, [pc + 1]
    op = insn.op
    if op == JmpOp.EXIT:
        return Term.EXIT, []
    if op == JmpOp.CALL:
        return Term.FALL, [pc + 1]
    if op == JmpOp.JA:
        return Term.GOTO, [pc + 1 + (insn.imm if insn.cls == InsnClass.JMP32 else insn.off)]
    return Term.COND, [pc + 1 + insn.off, pc + 1]


class Graph:
    """The function starting at ``entry``."""

    def __init__(self, insns: Sequence[Insn], entry: int) -> None:
        self.insns = insns
        self.entry = entry
        self.nodes: list[Node] = []
        self._by_pc: dict[int, int] = {}
        self._build()
        self.preds: list[list[int]] = [[] for _ in self.nodes]
        for node in self.nodes:
            for s in node.succs:
                self.preds[s].append(node.id)
        self.rpo = self._reverse_postorder()
        self.order = {n: i for i, n in enumerate(self.rpo)}
        self.idom = self._dominators()
        self.children: list[list[int]] = [[] for _ in self.nodes]
        for n in self.rpo[1:]:
            self.children[self.idom[n]].append(n)
        self.loop_header = [False] * len(self.nodes)
        self.forward_in = [0] * len(self.nodes)
        self.reducible = True
        for n in self.rpo:
            for s in self.nodes[n].succs:
                if self.order[s] <= self.order[n]:
                    self.loop_header[s] = True
                    if not self.dominates(s, n):
                        self.reducible = False
                else:
                    self.forward_in[s] += 1

    # --- building -----------------------------------------------------------------------

    def _bad_target(self, pc: int) -> tuple[str, int] | None:
        n = len(self.insns)
        if pc < 0 or pc >= n:
            return "jumped out of the program", errno.EINVAL
        if pc > 0 and self.insns[pc - 1].is_lddw:
            return "jumped into the middle of an lddw", errno.EINVAL
        if self.insns[pc].is_lddw and pc + 1 >= n:
            return "jumped into the middle of an lddw", errno.EINVAL
        return None

    def _build(self) -> None:
        insns = self.insns
        flows: dict[int, tuple[Term, list[int]]] = {}

        def _flow(insns: Sequence[Insn], pc: int) -> tuple[Term, list[int]]:
            got = flows.get(pc)
            if got is None:
                got = flows[pc] = _flow_of(insns, pc)
            return got

        # instructions reachable from the entry, and the leaders among them
        reach: set[int] = set()
        leaders = {self.entry}
        work = [self.entry]
        while work:
            pc = work.pop()
            if pc in reach:
                continue
            reach.add(pc)
            if self._bad_target(pc) is not None:
                continue
            term, nxt = _flow(insns, pc)
            if term in (Term.GOTO, Term.COND):
                leaders.update(nxt)
            elif term == Term.EXIT:
                pass
            work.extend(nxt)
        for pc in sorted(reach):
            if self._bad_target(pc) is not None:
                leaders.add(pc)
                continue
            term, nxt = _flow(insns, pc)
            if term != Term.FALL:
                leaders.update(t for t in nxt if t in reach)
        for pc in sorted(leaders):
            self._by_pc[pc] = len(self.nodes)
            self.nodes.append(Node(len(self.nodes), pc))
        for node in self.nodes:
            pc = node.start
            bad = self._bad_target(pc)
            if bad is not None:
                node.term, node.fault = Term.FAULT, (pc, bad[0], bad[1])
                continue
            while True:
                node.pcs.append(pc)
                term, nxt = _flow(insns, pc)
                if term != Term.FALL:
                    node.term = term
                    node.succs = [self._by_pc[t] for t in nxt]
                    break
                pc = nxt[0]
                if pc in leaders:
                    node.succs = [self._by_pc[pc]]
                    break
        for node in self.nodes:  # a condition whose two targets agree is a plain jump
            if node.term == Term.COND and node.succs[0] == node.succs[1]:
                node.succs = [node.succs[0]]

    def node_at(self, pc: int) -> Node:
        return self.nodes[self._by_pc[pc]]

    # --- order and dominators --------------------------------------------------------------

    def _reverse_postorder(self) -> list[int]:
        seen = [False] * len(self.nodes)
        post: list[int] = []
        start = self._by_pc[self.entry]
        seen[start] = True
        stack: list[tuple[int, int]] = [(start, 0)]
        while stack:
            n, i = stack[-1]
            succs = self.nodes[n].succs
            if i < len(succs):
                stack[-1] = (n, i + 1)
                s = succs[i]
                if not seen[s]:
                    seen[s] = True
                    stack.append((s, 0))
            else:
                stack.pop()
                post.append(n)
        post.reverse()
        return post

    def _dominators(self) -> list[int]:
        order = self.order
        idom = [-1] * len(self.nodes)
        start = self.rpo[0]
        idom[start] = start
        changed = True
        while changed:
            changed = False
            for n in self.rpo[1:]:
                new = -1
                for p in self.preds[n]:
                    if idom[p] == -1:
                        continue
                    if new == -1:
                        new = p
                        continue
                    a, b = p, new
                    while a != b:
                        while order[a] > order[b]:
                            a = idom[a]
                        while order[b] > order[a]:
                            b = idom[b]
                    new = a
                if new != idom[n]:
                    idom[n] = new
                    changed = True
        return idom

    def dominates(self, a: int, b: int) -> bool:
        """Whether every path from the entry to ``b`` passes ``a``."""
        start = self.rpo[0]
        while b != a:
            if b == start:
                return False
            b = self.idom[b]
        return True
