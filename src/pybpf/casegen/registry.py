"""The catalogue of fragments: what each one exercises and where it may be used.

A case has one *primary* category, whose fragments are picked far more often than the
others, so that a corpus covers every category in depth while each program still mixes
features.  The fragments a generator draws from are ``GenConfig.fragments`` (by default
:data:`FRAGMENTS`): fragments that make deliberate mistakes plug in there, with their own
category.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from . import frag_arith, frag_call, frag_mem, frag_net
from .gen import Gen


class Category(enum.StrEnum):
    ALU = "alu"
    LDDW = "lddw"
    JMP = "jmp"
    LOOP = "loop"
    STACK = "stack"
    ATOMIC = "atomic"
    MAP = "map"
    CALL = "call"
    HELPER = "helper"
    CTX = "ctx"
    PACKET = "packet"
    LDABS = "ldabs"


SKB = frozenset({"socket_filter", "sched_cls", "sched_act"})
TC = frozenset({"sched_cls", "sched_act"})
XDP = frozenset({"xdp"})
PACKET = TC | XDP
ALL = SKB | XDP
# cgroup_skb (whose verifier checks the return value) takes the fragments that need no
# packet access; the default configuration does not generate it
CG = frozenset({"cgroup_skb"})
GENERIC = ALL | CG


@dataclass(frozen=True)
class Fragment:
    """A piece of program: ``fn`` emits it into the generator's current function."""

    name: str
    categories: tuple[str, ...]
    fn: Callable[[Gen], None]
    types: frozenset[str] = GENERIC
    branch: bool = True  # may sit inside an if/else arm
    loop: bool = True  # may sit inside a loop body (must not clobber r0-r5 wholesale)
    sub: bool = True  # may sit in a subprogram
    main: bool = True  # may sit in the main program
    needs_ctx: bool = False
    ok: Callable[[Gen], bool] | None = None

    def allowed(self, g: Gen, where: str) -> bool:
        if g.prog_type not in self.types:
            return False
        if (where == "loop" or g.loop_depth) and not self.loop:
            return False
        if (where == "branch" or g.branch_depth) and not self.branch:
            return False
        if not (self.sub if g.frame.depth else self.main):
            return False
        if self.needs_ctx and not g.frame.has_ctx:
            return False
        return self.ok is None or self.ok(g)


C = Category
FRAGMENTS: tuple[Fragment, ...] = (
    Fragment("alu", (C.ALU,), frag_arith.frag_alu),
    Fragment("alu32", (C.ALU,), frag_arith.frag_alu32),
    Fragment("lddw", (C.LDDW, C.ALU), frag_arith.frag_lddw),
    Fragment("if", (C.JMP,), frag_arith.frag_if, ok=lambda g: g.branch_depth < 2),
    Fragment("flag", (C.JMP,), frag_arith.frag_flag),
    Fragment("loop", (C.LOOP,), frag_arith.frag_loop, loop=False, ok=lambda g: g.loop_depth == 0),
    Fragment("stack", (C.STACK,), frag_mem.frag_stack),
    Fragment("stack_var", (C.STACK,), frag_mem.frag_stack_var),
    Fragment("atomic_stack", (C.ATOMIC, C.STACK), frag_mem.frag_atomic_stack),
    Fragment("map_lookup", (C.MAP, C.ATOMIC), frag_mem.frag_map_lookup, loop=False),
    Fragment("map_update", (C.MAP,), frag_mem.frag_map_update, loop=False),
    Fragment("map_delete", (C.MAP,), frag_mem.frag_map_delete, loop=False),
    Fragment("map_burst", (C.MAP,), frag_mem.frag_map_burst, loop=False),
    Fragment("map_direct", (C.MAP, C.ATOMIC), frag_mem.frag_map_direct),
    Fragment("rodata_branch", (C.MAP, C.JMP), frag_mem.frag_rodata_branch),
    Fragment("ctx_read", (C.CTX,), frag_net.frag_ctx_read, needs_ctx=True),
    Fragment("ctx_write", (C.CTX,), frag_net.frag_ctx_write, needs_ctx=True),
    Fragment("sk", (C.CTX,), frag_net.frag_sk, types=SKB | CG, needs_ctx=True),
    Fragment("packet", (C.PACKET,), frag_net.frag_packet, types=PACKET, loop=False,
             needs_ctx=True),
    Fragment("xdp_meta", (C.PACKET,), frag_net.frag_xdp_meta, types=XDP, loop=False,
             needs_ctx=True),
    Fragment("ldabs", (C.LDABS, C.PACKET), frag_net.frag_ldabs, types=SKB, loop=False,
             sub=False, needs_ctx=True),
    Fragment("skb_load_bytes", (C.HELPER, C.PACKET), frag_net.frag_skb_load_bytes, types=SKB | CG,
             loop=False, needs_ctx=True),
    Fragment("skb_store_bytes", (C.HELPER, C.PACKET), frag_net.frag_skb_store_bytes, types=TC,
             loop=False, needs_ctx=True),
    Fragment("xdp_adjust", (C.HELPER, C.PACKET), frag_net.frag_xdp_adjust, types=XDP,
             loop=False, needs_ctx=True),
    Fragment("redirect", (C.HELPER,), frag_net.frag_redirect, types=PACKET, loop=False),
    Fragment("hash", (C.HELPER, C.CTX), frag_net.frag_hash, types=TC, loop=False, needs_ctx=True),
    Fragment("helpers", (C.HELPER,), frag_call.frag_helpers, loop=False),
    Fragment("call", (C.CALL,), frag_call.frag_call, loop=False),
    Fragment("ptrarg", (C.CALL, C.STACK), frag_call.frag_ptrarg, main=False,
             ok=lambda g: bool(g.frame.ptr_args)),
)  # fmt: skip


def categories_for(prog_type: str, fragments: tuple[Fragment, ...] = FRAGMENTS) -> list[str]:
    """The categories with at least one fragment for ``prog_type`` in the main program."""
    out: list[str] = []
    for f in fragments:
        if prog_type in f.types and f.main:
            out.extend(c for c in f.categories if c not in out)
    return out


def pick(g: Gen, where: str) -> Fragment:
    allowed: list[Fragment] = [f for f in g.config.fragments if f.allowed(g, where)]
    primary = g.primary
    weights = [g.config.primary_weight if primary in f.categories else 1.0 for f in allowed]
    return g.rng.choices(allowed, weights)[0]


def body(g: Gen, where: str, count: int) -> None:
    """Emit ``count`` fragments chosen for ``where`` ("main", "sub", "branch", "loop")."""
    for _ in range(count):
        frag = pick(g, where)
        g.fragments.append(frag.name)
        frag.fn(g)


def fallback(g: Gen) -> None:
    """What a fragment emits when it cannot do its job here (too deep, too many)."""
    frag_arith.frag_alu(g)
