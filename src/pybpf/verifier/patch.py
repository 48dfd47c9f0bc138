"""Inserting and removing instructions in a verified program, keeping jumps right.

The kernel rewrites a program after verification by replacing one instruction with a
short sequence (``bpf_patch_insn_data``) or deleting a run (``verifier_remove_insns``),
re-aiming every jump, bpf-to-bpf call and ``BPF_PSEUDO_FUNC`` load that crosses the
edit.  Its rules, which this module keeps:

* a jump to the replaced instruction lands on the first instruction of its replacement;
* jumps written inside a replacement are relative to the replacement itself;
* a jump to a deleted instruction lands on the instruction that follows the deletion.

Re-aiming after every edit costs a pass over the program, which is quadratic for the
programs with thousands of edits the kernel accepts; so here every control transfer
holds the *instruction* it goes to, and offsets are computed once at the end.  Per-
instruction notes move with their instructions: after a patch the original note belongs
to the last instruction of the sequence and the new ones only inherit ``seen``, as in
the kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..isa.insn import Insn
from ..isa.opcodes import InsnClass, JmpOp, PseudoCall, PseudoLdImm64
from .env import InsnAux

S16_MIN, S16_MAX = -(1 << 15), (1 << 15) - 1


class PatchRangeError(Exception):
    """A jump no longer fits its 16-bit offset; ``orig_idx`` names the instruction."""

    def __init__(self, orig_idx: int) -> None:
        super().__init__(orig_idx)
        self.orig_idx = orig_idx


def _relative(insn: Insn) -> int | None:
    """The relative target of a control transfer, None for other instructions."""
    if insn.is_lddw:
        return insn.imm if insn.src == PseudoLdImm64.FUNC else None
    cls, op = insn.cls, insn.op
    if cls not in (InsnClass.JMP, InsnClass.JMP32) or op == JmpOp.EXIT:
        return None
    if op == JmpOp.CALL:
        return insn.imm if insn.src == PseudoCall.CALL and insn.source == 0 else None
    if insn.code == (InsnClass.JMP32 | JmpOp.JA):
        return insn.imm
    return insn.off


def _with_relative(insn: Insn, rel: int) -> Insn:
    if insn.is_lddw or insn.op == JmpOp.CALL or insn.code == (InsnClass.JMP32 | JmpOp.JA):
        return insn if insn.imm == rel else replace(insn, imm=rel)
    return insn if insn.off == rel else replace(insn, off=rel)


class Node:
    """One instruction slot of the program being rewritten."""

    __slots__ = ("aux", "incoming", "insn", "orig_idx", "target")

    def __init__(self, insn: Insn, aux: InsnAux, orig_idx: int) -> None:
        self.insn = insn
        self.aux = aux
        self.orig_idx = orig_idx
        self.target: Node | None = None
        self.incoming: set[Node] = set()

    def aim(self, target: Node | None) -> None:
        if self.target is not None:
            self.target.incoming.discard(self)
        self.target = target
        if target is not None:
            target.incoming.add(self)


#: In a patch sequence: the instruction being replaced, with its own target.
ORIGINAL = object()


class ToOriginalTarget:
    """In a patch sequence: a jump to where the replaced instruction jumped."""

    __slots__ = ("insn",)

    def __init__(self, insn: Insn) -> None:
        self.insn = insn


class Program:
    """A program being rewritten: instruction nodes and subprogram start nodes."""

    def __init__(self, insns: Sequence[Insn], aux: Sequence[InsnAux], starts: Sequence[int]) -> None:
        self.nodes = [Node(insn, a, i) for i, (insn, a) in enumerate(zip(insns, aux, strict=True))]
        nodes = self.nodes
        for i, node in enumerate(nodes):
            rel = _relative(node.insn)
            if rel is not None and 0 <= i + rel + 1 < len(nodes):
                node.aim(nodes[i + rel + 1])
        self.start_nodes: list[Node | None] = [nodes[s] for s in starts]
        self.subprog_ids = list(range(len(starts)))  # the verifier's numbers of those left

    def __len__(self) -> int:
        return len(self.nodes)

    def insn(self, i: int) -> Insn:
        return self.nodes[i].insn

    def aux(self, i: int) -> InsnAux:
        return self.nodes[i].aux

    def set_insn(self, i: int, insn: Insn) -> None:
        """Overwrite an instruction in place; a control transfer is re-aimed by its offset."""
        node = self.nodes[i]
        node.insn = insn
        rel = _relative(insn)
        node.aim(self.nodes[i + rel + 1] if rel is not None and 0 <= i + rel + 1 < len(self.nodes) else None)

    def is_nop(self, i: int) -> bool:
        """``goto +0``: a plain jump (or ``may_goto``) to the next instruction."""
        node = self.nodes[i]
        insn = node.insn
        if insn.code not in (InsnClass.JMP | JmpOp.JA, InsnClass.JMP | JmpOp.JCOND):
            return False
        if insn.dst or insn.src or insn.imm:
            return False
        nxt = self.nodes[i + 1] if i + 1 < len(self.nodes) else None
        return node.target is nxt

    def patch(self, i: int, seq: Sequence[Insn | object], entry: int = 0) -> None:
        """Replace instruction ``i`` by ``seq``.

        Jumps inside ``seq`` are relative to it (one past its end is the instruction after
        ``i``); an item ``ORIGINAL`` is the replaced instruction, keeping its target.
        Jumps that went to ``i`` go to ``seq[entry]``.
        """
        old = self.nodes[i]
        after = self.nodes[i + 1] if i + 1 < len(self.nodes) else None
        new: list[Node] = []
        for item in seq:
            insn = old.insn if item is ORIGINAL else item.insn if isinstance(item, ToOriginalTarget) else item
            assert isinstance(insn, Insn)
            note = InsnAux()
            note.seen = old.aux.seen
            new.append(Node(insn, note, old.orig_idx))
        # the original note goes to the last instruction of the replacement
        new[-1].aux = old.aux
        for k, (node, item) in enumerate(zip(new, seq, strict=True)):
            if item is ORIGINAL or isinstance(item, ToOriginalTarget):
                node.aim(old.target)
                continue
            rel = _relative(node.insn)
            if rel is None:
                continue
            t = k + rel + 1
            node.aim(new[t] if 0 <= t < len(new) else after if t == len(new) else None)
        for src in list(old.incoming):
            # calls enter a subprogram at its first instruction, whatever was added there
            is_call = src.insn.op == JmpOp.CALL or src.insn.is_lddw
            src.aim(new[0] if is_call else new[entry])
        old.aim(None)
        self.start_nodes = [new[0] if s is old else s for s in self.start_nodes]
        self.nodes[i : i + 1] = new

    def remove(self, i: int, cnt: int) -> None:
        """Delete ``cnt`` instructions from ``i``; jumps to them go to what follows."""
        gone = self.nodes[i : i + cnt]
        after = self.nodes[i + cnt] if i + cnt < len(self.nodes) else None
        gone_set = set(gone)
        for node in gone:
            for src in list(node.incoming):
                if src not in gone_set:
                    src.aim(after)
            node.aim(None)
        # a subprogram whose first instructions went starts at what follows; one that went
        # whole leaves the next subprogram's start there, and disappears
        moved = [after if s in gone_set else s for s in self.start_nodes]
        keep = [k for k in range(len(moved)) if k + 1 == len(moved) or moved[k] is not moved[k + 1]]
        self.start_nodes = [moved[k] for k in keep if moved[k] is not None]
        self.subprog_ids = [self.subprog_ids[k] for k in keep if moved[k] is not None]
        del self.nodes[i : i + cnt]

    def starts(self) -> list[int]:
        pos = {id(n): k for k, n in enumerate(self.nodes)}
        return [pos[id(s)] for s in self.start_nodes if s is not None]

    def finish(self) -> list[Insn]:
        """The instructions with every relative target computed from the final layout."""
        pos = {id(n): k for k, n in enumerate(self.nodes)}
        out = []
        for k, node in enumerate(self.nodes):
            insn = node.insn
            if node.target is not None:
                rel = pos[id(node.target)] - k - 1
                if _uses_off(insn) and not S16_MIN <= rel <= S16_MAX:
                    raise PatchRangeError(node.orig_idx)
                insn = _with_relative(insn, rel)
            out.append(insn)
        return out


def _uses_off(insn: Insn) -> bool:
    return not (insn.is_lddw or insn.op == JmpOp.CALL or insn.code == (InsnClass.JMP32 | JmpOp.JA))
