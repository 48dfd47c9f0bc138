"""Two facts the generator needs about registers: which are live, and which point into
the current stack frame at an offset known at compile time.

*Liveness* (registers r0..r9 as bit masks) decides what a function takes as parameters
(its live-in registers: for a program the verifier accepted that is r1..r5 at most, but an
unchecked program may read r0 or r6..r9 as the caller left them, as the interpreter's one
register file allows) and whether a call site needs the callee's final r1..r5 back.

*Stack offsets* follow r10 and the registers copied from it through constant adds, so
that ``*(u64 *)(r2 + 8)`` after ``r2 = r10; r2 += -16`` becomes an access of the frame's
buffer at a fixed index, with no address check at run time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from ...isa.insn import Insn
from ...isa.opcodes import AluOp, AtomicOp, InsnClass, JmpOp, Mode, PseudoCall, Source
from .cfg import Graph

ALL = 0x3FF  # r0..r9
ARGS = 0b111110  # r1..r5
TAIL_CALL_HELPER = 12


def bit(reg: int) -> int:
    return 1 << reg if reg < 10 else 0


@functools.lru_cache(maxsize=1 << 16)
def uses_defs(insn: Insn, callee_live_in: int = ARGS) -> tuple[int, int]:
    """Registers (r0..r9) an instruction reads and writes.  ``callee_live_in`` is, for a
    local call, what the function it enters reads before writing.  A local call may hand
    back the callee's r1..r5 (see :class:`Liveness`), so it writes them."""
    cls, d, s = insn.cls, insn.dst, insn.src
    if insn.is_lddw:
        return 0, bit(d)
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        if insn.op == AluOp.MOV:
            return (bit(s) if insn.source == Source.X else 0), bit(d)
        if insn.op in (AluOp.NEG, AluOp.END):
            return bit(d), bit(d)
        return bit(d) | (bit(s) if insn.source == Source.X else 0), bit(d)
    if cls == InsnClass.LDX:
        return bit(s), bit(d)
    if cls == InsnClass.ST:
        return bit(d), 0
    if cls == InsnClass.STX:
        if insn.mode != Mode.ATOMIC:
            return bit(d) | bit(s), 0
        op = insn.imm
        if op == AtomicOp.LOAD_ACQ:
            return bit(s), bit(d)
        if op == AtomicOp.STORE_REL:
            return bit(d) | bit(s), 0
        if op == AtomicOp.CMPXCHG:
            return bit(d) | bit(s) | 1, 1
        if op == AtomicOp.XCHG or op & 1:
            return bit(d) | bit(s), bit(s)
        return bit(d) | bit(s), 0
    if cls == InsnClass.LD:  # LD_ABS / LD_IND: the skb comes from the run, not from r6
        return (bit(s) if insn.mode == Mode.IND else 0), 1
    if cls in (InsnClass.JMP, InsnClass.JMP32):
        op = insn.op
        if op == JmpOp.EXIT:
            return 1, 0  # the return protocol adds r1..r5 where callers need them
        if op == JmpOp.CALL:
            if insn.source == Source.X:
                return ARGS | bit(d), 1
            if s == PseudoCall.CALL:
                return ARGS | callee_live_in, 1 | ARGS
            if s == PseudoCall.HELPER and insn.imm == TAIL_CALL_HELPER:
                return ALL, 0  # the target starts with every register as it is
            return ARGS, 1
        if op in (JmpOp.JA, JmpOp.JCOND):
            return 0, 0
        return bit(d) | (bit(s) if insn.source == Source.X else 0), 0
    return 0, 0


class Liveness:
    """Live registers at the start of every node and after every instruction."""

    def __init__(
        self, graph: Graph, callee_live_in: Callable[[int], int], exit_uses: int = 1
    ) -> None:
        self.graph = graph
        insns = graph.insns
        self._effects: dict[int, tuple[int, int]] = {}
        for node in graph.nodes:
            for pc in node.pcs:
                u, d = uses_defs(insns[pc], callee_live_in(pc))
                if insns[pc].code == 0x95:
                    u |= exit_uses
                self._effects[pc] = (u, d)
        n = len(graph.nodes)
        self.live_in = [0] * n
        self.live_out = [0] * n
        changed = True
        while changed:
            changed = False
            for nid in reversed(graph.rpo):
                node = graph.nodes[nid]
                out = 0
                for s in node.succs:
                    out |= self.live_in[s]
                live = out
                for pc in reversed(node.pcs):
                    u, d = self._effects[pc]
                    live = (live & ~d) | u
                if out != self.live_out[nid] or live != self.live_in[nid]:
                    self.live_out[nid], self.live_in[nid] = out, live
                    changed = True

    def effects(self, pc: int) -> tuple[int, int]:
        """(uses, defs) of the instruction at ``pc``."""
        return self._effects[pc]

    @property
    def entry(self) -> int:
        return self.live_in[self.graph.rpo[0]]

    def after(self, nid: int) -> dict[int, int]:
        """Live registers after each instruction of node ``nid``."""
        node = self.graph.nodes[nid]
        live = self.live_out[nid]
        out: dict[int, int] = {}
        for pc in reversed(node.pcs):
            out[pc] = live
            u, d = self._effects[pc]
            live = (live & ~d) | u
        return out


# --- stack offsets ------------------------------------------------------------------------

StackState = tuple[int | None, ...]
"""Per register r0..r10: the offset from the frame's end it holds, or None."""

UNSEEN: StackState = ()


@functools.lru_cache(maxsize=1 << 16)
def stack_step(insn: Insn, state: StackState) -> StackState:
    """The offsets after ``insn``: only 64-bit moves and constant adds keep them."""
    cls, d = insn.cls, insn.dst
    regs = list(state)

    def clobber(*rs: int) -> None:
        for r in rs:
            regs[r] = None

    if insn.is_lddw:
        clobber(d)
    elif (
        cls == InsnClass.ALU64
        and insn.op == AluOp.MOV
        and insn.off == 0
        and insn.source == Source.X
    ):
        regs[d] = regs[insn.src]
    elif cls == InsnClass.ALU64 and insn.op in (AluOp.ADD, AluOp.SUB) and insn.source == Source.K:
        k = regs[d]
        regs[d] = None if k is None else k + (insn.imm if insn.op == AluOp.ADD else -insn.imm)
    elif cls in (InsnClass.ALU, InsnClass.ALU64, InsnClass.LDX):
        clobber(d)
    elif cls == InsnClass.LD:
        clobber(0)
    elif cls == InsnClass.STX and insn.mode == Mode.ATOMIC:
        op = insn.imm
        if op == AtomicOp.LOAD_ACQ:
            clobber(d)
        elif op == AtomicOp.CMPXCHG:
            clobber(0)
        elif op == AtomicOp.XCHG or op & 1:
            clobber(insn.src)
    elif cls in (InsnClass.JMP, InsnClass.JMP32) and insn.op == JmpOp.CALL:
        clobber(0, 1, 2, 3, 4, 5)
    return tuple(regs)


def _meet(a: StackState, b: StackState) -> StackState:
    if a is UNSEEN:
        return b
    return tuple(x if x == y else None for x, y in zip(a, b))


def stack_offsets(graph: Graph) -> list[StackState]:
    """The offsets at the start of every node (r10 = 0 at the entry)."""
    insns: Sequence[Insn] = graph.insns
    state: list[StackState] = [UNSEEN] * len(graph.nodes)
    entry = graph.rpo[0]
    state[entry] = (None,) * 10 + (0,)
    changed = True
    while changed:
        changed = False
        for nid in graph.rpo:
            cur = state[nid]
            if cur is UNSEEN:
                continue
            for pc in graph.nodes[nid].pcs:
                cur = stack_step(insns[pc], cur)
            for s in graph.nodes[nid].succs:
                new = _meet(state[s], cur)
                if s == entry:
                    new = _meet(new, (None,) * 10 + (0,))
                if new != state[s]:
                    state[s] = new
                    changed = True
    return state
