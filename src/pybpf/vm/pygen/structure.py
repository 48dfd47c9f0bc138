"""From a reducible control-flow graph to Python's ``while`` and ``if``.

The shape follows Ramsey's "Beyond Relooper" (ICFP 2022): walk the dominator tree; a loop
header becomes a loop around its subtree; a node's children that are *merge nodes* (two
or more forward in-edges) become blocks wrapped around the rest of the node's code and
followed by the merge node's own code; every other edge either jumps (``Br``) to an
enclosing loop's head or block's end, or inlines the target's subtree.  Every path through
the result ends in a ``Br``, a return or a fault, so nothing ever falls out of an arm.

Python has ``while``, ``continue`` and one level of ``break``, no labels, so the jumps are
lowered here (:func:`plan`) and drawn in :mod:`.render`:

- to the innermost loop's head: ``continue``;
- to the end of the innermost block: nothing, control falls to the merge node's code,
  which follows the block; a jump that must fall *past* an inner block's code to an outer
  one sets ``L`` and that inner block's code is guarded by ``if L == ...``;
- out of a loop: ``L = target; break``, and the code right after the ``while`` routes
  ``L`` on (to a fall, a ``continue`` or the next ``break`` outwards).

Small nodes that end in ``exit`` are copied into each predecessor instead of being merged:
the common "goto out" of packet parsers then returns in place and the ``else`` arms do not
nest ever deeper.  Where a merge node is still the target of long chains of checks, its
block can be drawn *breakable*: as ``while True:`` around the body, so that a jump to it
is a ``break`` that leaves at once instead of an ``else`` arm around the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .cfg import Graph, Term

DUPLICATE_EXIT_NODES = 8
"""Exit nodes of at most this many instructions are copied into each predecessor."""


@dataclass(eq=False)
class Code:
    """The straight-line instructions of a node (its terminating jump excluded)."""

    node: int


@dataclass(eq=False)
class If:
    node: int
    then: list[Stmt]
    orelse: list[Stmt]


@dataclass(eq=False)
class Loop:
    header: int
    body: list[Stmt]
    escapes: dict[int, None] = field(default_factory=dict)
    """Targets left by ``break`` (ordered): the code after the ``while`` routes them."""
    after: list[tuple[int, Plan]] = field(default_factory=list)


@dataclass(eq=False)
class Block:
    """``body`` is followed by the code of merge node ``label``.

    A *breakable* block is drawn as a ``while True`` around ``body``: jumps to ``label``
    break out of it, and jumps past it leave by ``break`` too, routed by ``after``.
    """

    label: int
    body: list[Stmt]
    follow: list[Stmt]
    guarded: bool = False
    breakable: bool = False
    escapes: dict[int, None] = field(default_factory=dict)
    after: list[tuple[int, Plan]] = field(default_factory=list)


@dataclass(eq=False)
class Br:
    target: int
    plan: Plan | None = None


@dataclass(eq=False)
class Exit:
    node: int


@dataclass(eq=False)
class Fault:
    node: int


Stmt = Code | If | Loop | Block | Br | Exit | Fault


@dataclass(frozen=True)
class Plan:
    """How one jump is drawn: ``continue``, ``fall`` or ``break``.  The target goes into
    ``L`` first when ``set_label`` is set, or when the jump falls to a ``block`` whose code
    turned out to be guarded."""

    kind: str
    set_label: bool = False
    block: Block | None = None
    """For ``fall``, and ``break`` to a breakable block: the block whose code is reached."""
    loop: Loop | Block | None = None
    """For ``break`` past its target: the loop (or breakable block) left."""

    def sets_label(self) -> bool:
        """Whether the jump must put its target in ``L``: a guard or a route tests it."""
        if self.kind == "fall":
            return self.set_label or (self.block is not None and self.block.guarded)
        if self.kind == "break" and self.block is not None:
            return bool(self.block.after)
        if self.kind == "break" and self.loop is not None:
            after = self.loop.after
            if isinstance(self.loop, Block):
                return True
            return len(after) != 1 or after[0][1].sets_label()
        return False


class Irreducible(Exception):
    """The graph has a loop with two entries: the generator falls back to dispatch."""


def structure(graph: Graph, breakable_from: int | None = None) -> list[Stmt]:
    """The function's statements, every jump planned.  Blocks of merge nodes with at
    least ``breakable_from`` forward in-edges are breakable."""
    if not graph.reducible:
        raise Irreducible
    builder = _Builder(graph, breakable_from)
    tree = builder.do_tree(graph.rpo[0])
    _Planner().visit(tree, [])
    return tree


class _Builder:
    def __init__(self, graph: Graph, breakable_from: int | None) -> None:
        self.g = graph
        self.breakable_from = breakable_from
        self.copied = [
            n.term in (Term.EXIT, Term.FAULT) and len(n.pcs) <= DUPLICATE_EXIT_NODES
            and not graph.loop_header[n.id]
            for n in graph.nodes
        ]  # fmt: skip
        self.merge = [graph.forward_in[n.id] >= 2 and not self.copied[n.id] for n in graph.nodes]

    def do_tree(self, x: int) -> list[Stmt]:
        g = self.g
        merges = sorted(
            (c for c in g.children[x] if self.merge[c]), key=g.order.__getitem__, reverse=True
        )
        body = self.node_within(x, merges)
        if g.loop_header[x]:
            return [Loop(x, body)]
        return body

    def node_within(self, x: int, merges: list[int]) -> list[Stmt]:
        if merges:
            y = merges[0]
            block = Block(y, self.node_within(x, merges[1:]), self.do_tree(y))
            limit = self.breakable_from
            block.breakable = limit is not None and self.g.forward_in[y] >= limit
            return [block]
        node = self.g.nodes[x]
        if node.term == Term.FAULT:
            return [Fault(x)]
        out: list[Stmt] = [Code(x)]
        if node.term == Term.EXIT:
            out.append(Exit(x))
        elif node.term == Term.COND and len(node.succs) == 2:
            out.append(If(x, self.do_branch(x, node.succs[0]), self.do_branch(x, node.succs[1])))
        else:
            out.extend(self.do_branch(x, node.succs[0]))
        return out

    def do_branch(self, x: int, y: int) -> list[Stmt]:
        g = self.g
        if g.order[y] <= g.order[x] or self.merge[y]:
            return [Br(y)]
        return self.do_tree(y)


Frame = Loop | Block


def plan(target: int, frames: list[Frame]) -> Plan:
    """How to jump to ``target`` from inside ``frames`` (innermost last); marks the blocks
    the jump falls past as guarded and the loop it breaks out of."""
    loops = [f for f in frames if isinstance(f, Loop) or f.breakable]
    if loops and isinstance(loops[-1], Loop) and loops[-1].header == target:
        return Plan("continue")
    crossed: list[Block] = []
    for f in reversed(frames):
        if isinstance(f, Block):
            if f.label == target:
                if f.breakable:  # break skips whatever it crosses inside
                    return Plan("break", block=f)
                for b in crossed:
                    b.guarded = True
                return Plan("fall", set_label=bool(crossed), block=f)
            if not f.breakable:
                crossed.append(f)
                continue
        f.escapes[target] = None
        return Plan("break", loop=f)
    raise AssertionError(f"jump to node {target} leaves the function")


class _Planner:
    """Plans every jump; a loop's escapes are routed once its body (and so every inner
    loop) is planned, which may in turn mark constructs further out."""

    def visit(self, stmts: list[Stmt], frames: list[Frame]) -> None:
        for st in stmts:
            if isinstance(st, Br):
                st.plan = plan(st.target, frames)
            elif isinstance(st, If):
                self.visit(st.then, frames)
                self.visit(st.orelse, frames)
            elif isinstance(st, Block):
                self.visit(st.body, [*frames, st])
                if st.breakable:
                    st.after = [(t, plan(t, frames)) for t in st.escapes]
                self.visit(st.follow, frames)
            elif isinstance(st, Loop):
                self.visit(st.body, [*frames, st])
                st.after = [(t, plan(t, frames)) for t in st.escapes]
