"""Which register values are already in ``[0, 2**64)``, so that masks can be left out.

Python integers do not wrap, so generated code masks results with ``& 0xffff...``.  A
mask costs a big-integer operation, and most are not needed: a loop counter that stays
under its bound never overflows, and the low 64 bits of a sum, product, left shift or
bitwise operation do not depend on the bits above them.  So a register may hold a
*dirty* value -- any Python integer whose low 64 bits are the BPF value -- as long as
everything that looks at more than the low bits sees it masked: right shifts, division,
comparisons, memory, calls and ``exit``.

This module tracks, for every register, an interval of the Python integer it holds
(through the function's control flow, with the conditions of jumps narrowing it on each
edge and a widening to a few thresholds at loop heads), and decides where masks go:

- a result known to lie in ``[0, 2**64)`` is never masked;
- a result that is read in its own node by something that needs a clean value (directly
  or through copies) is masked where it is made, once;
- any other result stays dirty, unless it could grow past :data:`CAP` bits (then it is
  masked, and stays masked for the rest of the analysis, so that loops cannot grow
  values without bound); a later use that needs it clean masks it in place, before a
  memory access, call or exit, or inside the expression of a shift, division or
  condition.

:class:`Tracker` is the one transfer function: the fixpoint here and the code emitter in
:mod:`.forward` both step it, so the emitted masks are exactly the analysed ones.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable

from ...isa.insn import Insn, lddw_value
from ...isa.opcodes import (
    ATOMIC_FETCH,
    TO_BE,
    AluOp,
    AtomicOp,
    InsnClass,
    JmpOp,
    Mode,
    Size,
    Source,
)
from .cfg import Graph, Term
from .dataflow import StackState

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
CAP = 1 << 128
"""Dirty values stay within ``(-CAP, CAP)``: five 30-bit digits at most."""
WIDEN_AFTER = 3
"""A node's entry intervals may change this often before they are widened."""

WIDTHS = (8, 16, 32, *range(64, 129, 4))
"""Bit widths a growing bound is widened to (besides the constants of comparisons)."""

Iv = tuple[int, int]
CLEAN: Iv = (0, M64)
TOP: Iv = (-CAP, CAP)
FRAME_END: Iv = (512, M64)
"""r10: the end of a 512-byte frame somewhere in the 64-bit address space."""
Regs = tuple[Iv, ...]
ENTRY: Regs = (CLEAN,) * 10 + (FRAME_END,)
UNKNOWN: Regs = (TOP,) * 10 + (FRAME_END,)
BYTES = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}


def is_clean(iv: Iv) -> bool:
    return iv[0] >= 0 and iv[1] <= M64


def _bits(iv: Iv) -> int:
    return max(abs(iv[0]), abs(iv[1])).bit_length()


def _signed_span(bits: int) -> Iv:
    return -(1 << bits), (1 << bits) - 1


def _join(a: Iv, b: Iv) -> Iv:
    return min(a[0], b[0]), max(a[1], b[1])


def handled_as_alu(insn: Insn) -> bool:
    """Whether :mod:`.forward` computes this instruction as an expression (the rest go
    through the emitter's statements and see only clean registers)."""
    if insn.dst >= 10:
        return False
    if insn.is_lddw:
        return insn.src != 4
    if insn.cls not in (InsnClass.ALU, InsnClass.ALU64):
        return False
    return insn.source != Source.X or insn.src <= 10


def special(insn: Insn) -> bool:
    """Signed division and modulo, sign-extending moves: one call into the semantics."""
    return (insn.op in (AluOp.DIV, AluOp.MOD) and insn.off == 1) or (
        insn.op == AluOp.MOV and insn.off != 0
    )


def needs_clean(insn: Insn) -> tuple[bool, bool]:
    """Whether an ALU instruction's expression needs its destination's old value and its
    source register clean (everything else only looks at low bits, or masks itself)."""
    if insn.cls != InsnClass.ALU64 or special(insn):
        return False, False
    op, x = insn.op, insn.source == Source.X
    if op in (AluOp.RSH, AluOp.ARSH):
        return True, False
    if op in (AluOp.DIV, AluOp.MOD):
        k = insn.imm & M64
        return (x or bool(k)), x
    return False, False


ORDER = (JmpOp.JGT, JmpOp.JGE, JmpOp.JLT, JmpOp.JLE)
"""Unsigned order tests: a destination dirty by at most one wrap needs no mask."""


def cond_needs(insn: Insn) -> tuple[bool, bool]:
    """Whether a conditional jump needs its destination and source registers clean
    (32-bit tests mask, and testing bits against a constant looks at the low bits)."""
    if insn.op == JmpOp.JCOND or insn.cls == InsnClass.JMP32:
        return False, False
    x = insn.source == Source.X
    if insn.op == JmpOp.JSET and not x:
        return False, False
    return True, x


def _alu64(insn: Insn, a: Iv, b: Iv) -> Iv:
    op, x = insn.op, insn.source == Source.X
    if special(insn):
        return CLEAN
    if not x:
        k = insn.imm  # sign-extended: the ring operations use it as is
        b = (k, k) if op in (AluOp.ADD, AluOp.SUB, AluOp.MUL) else (k & M64, k & M64)
    if op == AluOp.END:
        return (0, (1 << insn.imm) - 1) if insn.imm in (16, 32, 64) else CLEAN
    if op == AluOp.NEG:
        return -a[1], -a[0]
    if op == AluOp.MOV:
        return b
    if op == AluOp.ADD:
        return a[0] + b[0], a[1] + b[1]
    if op == AluOp.SUB:
        return a[0] - b[1], a[1] - b[0]
    if op == AluOp.MUL:
        corners = (a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1])
        return min(corners), max(corners)
    if op == AluOp.DIV:
        if x:
            return 0, a[1]
        return (a[0] // b[0], a[1] // b[0]) if b[0] else (0, 0)
    if op == AluOp.MOD:
        if x:
            return 0, a[1]
        return (0, min(a[1], b[0] - 1)) if b[0] else a
    if op in (AluOp.OR, AluOp.XOR):
        if a[0] >= 0 and b[0] >= 0:
            return 0, (1 << max(a[1], b[1]).bit_length()) - 1
        return _signed_span(max(_bits(a), _bits(b)))
    if op == AluOp.AND:
        if a[0] >= 0 and b[0] >= 0:
            return 0, min(a[1], b[1])
        if a[0] >= 0 or b[0] >= 0:
            return 0, a[1] if a[0] >= 0 else b[1]
        return _signed_span(max(_bits(a), _bits(b)))
    if op == AluOp.LSH:
        if x:
            return min(a[0], a[0] << 63), max(a[1], a[1] << 63)
        s = insn.imm & 63
        return a[0] << s, a[1] << s
    if op == AluOp.RSH:
        if x:
            return 0, a[1]
        s = insn.imm & 63
        return a[0] >> s, a[1] >> s
    return CLEAN  # ARSH masks itself; anything unknown faults


def _linear(insn: Insn, a: Iv, b: Iv) -> bool:
    """Whether a result may stay dirty past :data:`CAP` (kept at ``TOP``, not masked):
    a 64-bit add or subtract of one value within ``TOP`` and one clean value (or an
    immediate) moves it by less than ``2**64``, so a register grown only this way holds
    under ``2**64`` times the instructions the run has executed, far below ``CAP``
    (2**63 of them would take longer than any run).  A loop's running sum then costs no
    mask per round.  Masks decide only how large a dirty value gets, never what its low
    bits are, so this bound is about speed, not results."""
    if insn.cls != InsnClass.ALU64 or insn.op not in (AluOp.ADD, AluOp.SUB):
        return False
    if insn.source == Source.X and not is_clean(b) and not is_clean(a):
        return False
    return a[0] >= -CAP and a[1] <= CAP and b[0] >= -CAP and b[1] <= CAP


def _alu32(insn: Insn, a: Iv, b: Iv) -> Iv:
    op, x = insn.op, insn.source == Source.X
    k = insn.imm & M32
    if op == AluOp.END:
        bits = insn.imm
        if insn.source != TO_BE and bits == 64:
            return a  # le64 is no operation
        return (0, (1 << bits) - 1) if bits in (16, 32, 64) else CLEAN
    if special(insn):
        return 0, M32
    if op == AluOp.MOV:
        if x:
            return b if b[0] >= 0 and b[1] <= M32 else (0, M32)
        return k, k
    if op == AluOp.AND and not x:
        return 0, k
    if op == AluOp.RSH and not x:
        return 0, M32 >> (k & 31)
    return 0, M32


def alu_result(insn: Insn, a: Iv, b: Iv) -> Iv:
    """The interval of the unmasked expression of an ALU instruction or lddw."""
    if insn.is_lddw:
        raise ValueError("lddw has no operands")
    if insn.cls == InsnClass.ALU64:
        return _alu64(insn, a, b)
    return _alu32(insn, a, b)


def _defs_after(insn: Insn, regs: list[Iv]) -> None:
    """What an instruction drawn by the emitter (not an expression) leaves in registers."""
    cls = insn.cls
    if insn.is_lddw or cls in (InsnClass.ALU, InsnClass.ALU64):
        if insn.dst <= 10:
            regs[insn.dst] = FRAME_END if insn.dst == 10 else CLEAN
        return
    if cls == InsnClass.LDX and insn.dst <= 10:
        # a context field computed on access may give 64 bits whatever the load's size
        regs[insn.dst] = CLEAN
    elif cls == InsnClass.LD:
        regs[0] = CLEAN
    elif cls == InsnClass.STX and insn.mode == Mode.ATOMIC:
        # only what the operation writes, loaded from memory (so clean): r0 for a
        # compare-and-exchange, the source for a fetch, the destination for a
        # load-acquire; anything else keeps its interval (a dirty r0 stays dirty)
        imm = insn.imm
        written = (0,) if imm == AtomicOp.CMPXCHG else (insn.dst,) if imm == AtomicOp.LOAD_ACQ else (
            (insn.src,) if imm & ATOMIC_FETCH else ())
        for r in written:
            if r < 10:
                regs[r] = CLEAN
    elif cls in (InsnClass.JMP, InsnClass.JMP32) and insn.op == JmpOp.CALL:
        for r in range(6):
            regs[r] = CLEAN


class FunctionRanges:
    """Entry intervals of every node of one function, and the results masked because
    they could grow too far (the rest follows from the nodes' own code)."""

    def __init__(
        self,
        graph: Graph,
        uses: Callable[[int], int],
        frame_address: Callable[[int, StackState], int | None],
        stack: list[StackState],
    ) -> None:
        self.g = graph
        self.uses = uses
        """Registers (bit mask) an instruction reads, as liveness counts them."""
        self.frame_address = frame_address
        """The register a memory access at ``pc`` addresses through, when that access is
        resolved into the frame at compile time (the register is then not read)."""
        self.stack = stack
        self.capped: set[int] = set()
        self.states = [_stack_states(graph, n.id, stack[n.id]) for n in graph.nodes]
        self.demanded = {n.id: _demanded(graph, n.id, self) for n in graph.nodes}
        self.thresholds = self._thresholds()
        self.entry: list[Regs | None] = [None] * len(graph.nodes)
        self._solve()

    def _thresholds(self) -> list[int]:
        ts = {-CAP, -1, 0, M32, M64, CAP}
        for n in WIDTHS:
            ts.update(((1 << n) - 1, -(1 << n)))
        for node in self.g.nodes:
            if node.term == Term.COND:
                insn = self.g.insns[node.term_pc]
                if insn.source == Source.K:
                    k = insn.imm & (M32 if insn.cls == InsnClass.JMP32 else M64)
                    ts.update((k - 1, k, k + 1))
        return sorted(ts)

    def _widen(self, old: Regs, new: Regs) -> Regs:
        out = []
        ts = self.thresholds
        for (olo, ohi), (nlo, nhi) in zip(old, new):
            lo = olo if nlo >= olo else ts[max(bisect_right(ts, nlo) - 1, 0)]
            hi = ohi if nhi <= ohi else ts[min(bisect_left(ts, nhi), len(ts) - 1)]
            out.append((min(lo, nlo), max(hi, nhi)))
        return tuple(out)

    def _solve(self) -> None:
        g = self.g
        start = g.rpo[0]
        self.entry[start] = ENTRY
        changes = [0] * len(g.nodes)
        changed = True
        while changed:
            changed = False
            for nid in g.rpo:
                regs = self.entry[nid]
                if regs is None:
                    continue
                for succ, out in Tracker(self, nid, regs).run_node():
                    old = self.entry[succ]
                    new = out if old is None else tuple(_join(a, b) for a, b in zip(old, out))
                    if new != old:
                        changes[succ] += 1
                        if old is not None and changes[succ] > WIDEN_AFTER:
                            new = self._widen(old, new)
                        self.entry[succ] = new
                        changed = True

    def at_entry(self, nid: int) -> Regs:
        """Entry intervals of a node (a node the analysis never reaches gets the worst)."""
        regs = self.entry[nid]
        return UNKNOWN if regs is None else regs


def _demanded(graph: Graph, nid: int, fr: FunctionRanges) -> set[int]:
    """The ALU results of a node that something in the node needs clean (through
    copies): they are masked where they are made rather than at each use."""
    out: set[int] = set()
    made: dict[int, int] = {}  # register -> pc of the ALU result it holds
    node = graph.nodes[nid]
    insns = graph.insns
    states = fr.states[nid]
    for i, pc in enumerate(node.pcs):
        insn = insns[pc]
        if handled_as_alu(insn):
            need_a, need_b = (False, False) if insn.is_lddw else needs_clean(insn)
            for need, r in ((need_a, insn.dst), (need_b, insn.src)):
                if need and r in made:
                    out.add(made[r])
            if insn.cls == InsnClass.ALU64 and insn.op == AluOp.MOV and insn.source == Source.X \
                    and insn.off == 0:  # fmt: skip
                if insn.src in made:
                    made[insn.dst] = made[insn.src]
                else:
                    made.pop(insn.dst, None)
            else:
                made[insn.dst] = pc
            continue
        for r in _bit_list(
            _reads(fr, pc, states[i], insn, node.term == Term.COND and pc == node.term_pc)
        ):
            if r in made:
                out.add(made[r])
        for r in range(11):
            if r in made and _writes(insn, r):
                del made[r]
    return out


def _bit_list(mask: int) -> list[int]:
    return [r for r in range(11) if mask >> r & 1]


def _writes(insn: Insn, r: int) -> bool:
    """Whether an emitter-drawn instruction may write ``r``."""
    marker: Iv = (-1, -1)
    regs = [marker] * 11
    _defs_after(insn, regs)
    return regs[r] != marker


def _reads(fr: FunctionRanges, pc: int, stack: StackState, insn: Insn, is_cond: bool) -> int:
    """Registers an emitter-drawn instruction (or a condition) needs clean."""
    if is_cond:
        need_d, need_s = cond_needs(insn)
        if insn.cls == InsnClass.JMP and insn.op in ORDER:
            need_d = False  # tested unmasked when it is within one wrap (see .forward)
        return ((1 << insn.dst) if need_d else 0) | ((1 << insn.src) if need_s else 0)
    mask = fr.uses(pc)
    via = fr.frame_address(pc, stack)
    if via is None:
        # any other access checks its cache, which only an address in [0, 2**64) hits
        # (the one congruent to a dirty register), and whose miss path masks
        via = _cached_address(insn)
    if via is not None and not (insn.cls == InsnClass.STX and insn.src == via):
        mask &= ~(1 << via)  # the address is resolved: only a stored value is read
    return mask & 0x3FF


def _cached_address(insn: Insn) -> int | None:
    """The address register of a load or store (not an atomic), which may be dirty."""
    cls = insn.cls
    if cls == InsnClass.LDX:
        return insn.src
    if cls == InsnClass.ST or (cls == InsnClass.STX and insn.mode == Mode.MEM):
        return insn.dst
    return None


def _stack_states(graph: Graph, nid: int, start: StackState) -> list[StackState]:
    from .emit import stack_states

    return stack_states(list(graph.insns), graph.nodes[nid].pcs, start)


class Tracker:
    """The intervals of r0..r10 through one node, and the masks its code needs."""

    def __init__(self, fr: FunctionRanges, nid: int, regs: Regs) -> None:
        self.fr = fr
        self.nid = nid
        self.node = fr.g.nodes[nid]
        self.regs = list(regs)
        self.demanded = fr.demanded[nid]
        self.states = fr.states[nid]

    def clean(self, r: int) -> bool:
        return is_clean(self.regs[r])

    def alu(self, pc: int) -> tuple[bool, bool, bool]:
        """Step an ALU instruction (or lddw): (mask the result, mask the destination's
        old value inside the expression, mask the source register inside it)."""
        insn = self.fr.g.insns[pc]
        if insn.is_lddw:
            v = lddw_value(insn, self.fr.g.insns[pc + 1])
            self.regs[insn.dst] = (v, v)
            return False, False, False
        need_a, need_b = needs_clean(insn)
        d, s = insn.dst, insn.src
        a = self.regs[d]
        b = self.regs[s] if insn.source == Source.X and s <= 10 else CLEAN
        clean_a = need_a and not is_clean(a)
        clean_b = need_b and not is_clean(b)
        if clean_a:
            a = CLEAN
        if clean_b:
            b = CLEAN
        if need_a and d == s and insn.source == Source.X:
            b = a
        result = alu_result(insn, a, b)
        mask = False
        if not is_clean(result):
            if result[0] < -CAP or result[1] > CAP:
                if _linear(insn, a, b):
                    result = TOP
                else:
                    self.fr.capped.add(pc)
            if pc in self.demanded or pc in self.fr.capped:
                mask, result = True, CLEAN
        self.regs[d] = result
        return mask, clean_a, clean_b

    def before(self, pc: int, index: int) -> list[int]:
        """Registers to mask in place before an emitter-drawn instruction (the exit
        included); they are clean afterwards."""
        insn = self.fr.g.insns[pc]
        out = [
            r
            for r in _bit_list(_reads(self.fr, pc, self.states[index], insn, False))
            if not self.clean(r)
        ]
        for r in out:
            self.regs[r] = CLEAN
        return out

    def after(self, pc: int) -> None:
        _defs_after(self.fr.g.insns[pc], self.regs)

    def run_node(self) -> list[tuple[int, Regs]]:
        """Step the whole node; the intervals on each of its out-edges."""
        node = self.node
        insns = self.fr.g.insns
        if node.term == Term.FAULT:
            return []
        body = node.pcs if node.term == Term.FALL else node.pcs[:-1]
        for i, pc in enumerate(body):
            if handled_as_alu(insns[pc]):
                self.alu(pc)
            else:
                self.before(pc, i)
                self.after(pc)
        if node.term == Term.EXIT:
            return []
        regs = tuple(self.regs)
        if node.term == Term.COND and len(node.succs) == 2:
            taken, fall = node.succs
            out = []
            for succ, branch in ((taken, True), (fall, False)):
                refined = refine(insns[node.term_pc], regs, branch)
                if refined is not None:
                    out.append((succ, refined))
            return out
        if node.term == Term.GOTO or node.term == Term.COND:
            return [(node.succs[0], regs)]
        return [(node.succs[0], regs)] if node.succs else []


_SWAP = {JmpOp.JGT: JmpOp.JLT, JmpOp.JGE: JmpOp.JLE, JmpOp.JLT: JmpOp.JGT, JmpOp.JLE: JmpOp.JGE,
         JmpOp.JEQ: JmpOp.JEQ, JmpOp.JNE: JmpOp.JNE}  # fmt: skip
_NEGATE = {JmpOp.JGT: JmpOp.JLE, JmpOp.JGE: JmpOp.JLT, JmpOp.JLT: JmpOp.JGE, JmpOp.JLE: JmpOp.JGT,
           JmpOp.JEQ: JmpOp.JNE, JmpOp.JNE: JmpOp.JEQ}  # fmt: skip


def _narrow(op: int, iv: Iv, k: int) -> Iv | None:
    """``iv`` where ``value op k`` holds (unsigned); None: never."""
    lo, hi = iv
    if op == JmpOp.JEQ:
        lo, hi = max(lo, k), min(hi, k)
    elif op == JmpOp.JNE:
        if lo == k:
            lo += 1
        if hi == k:
            hi -= 1
    elif op == JmpOp.JGT:
        lo = max(lo, k + 1)
    elif op == JmpOp.JGE:
        lo = max(lo, k)
    elif op == JmpOp.JLT:
        hi = min(hi, k - 1)
    elif op == JmpOp.JLE:
        hi = min(hi, k)
    return (lo, hi) if lo <= hi else None


def refine(insn: Insn, regs: Regs, taken: bool) -> Regs | None:
    """The intervals on one edge of a conditional jump (None: the edge is never taken).
    Only unsigned comparisons of a clean register with a constant narrow anything."""
    op = insn.op
    if op not in _SWAP or insn.cls not in (InsnClass.JMP, InsnClass.JMP32):
        return regs
    if not taken:
        op = _NEGATE[JmpOp(op)]
    width = M32 if insn.cls == InsnClass.JMP32 else M64
    d = insn.dst
    if d > 10:
        return regs
    out = list(regs)
    if insn.source == Source.K:
        pairs = [(d, op, insn.imm & width)]
    else:
        s = insn.src
        if s > 10:
            return regs
        pairs = []
        sv, dv = regs[s], regs[d]
        if sv[0] == sv[1]:
            pairs.append((d, op, sv[0]))
        if dv[0] == dv[1]:
            pairs.append((s, _SWAP[JmpOp(op)], dv[0]))
    for r, o, k in pairs:
        iv = out[r]
        if iv[0] < 0 or iv[1] > width or k > width or k < 0:
            continue  # dirty or wider than the comparison: the test sees other bits
        got = _narrow(o, iv, k)
        if got is None:
            return None
        out[r] = got
    return tuple(out)
