"""Inserting and removing instructions in a verified program, keeping jumps right.

The kernel rewrites a program after verification by replacing one instruction with a
short sequence (``bpf_patch_insn_data``) or deleting a run (``verifier_remove_insns``),
re-aiming every jump, bpf-to-bpf call and ``BPF_PSEUDO_FUNC`` load that crosses the
edit.  Its rules, which this module keeps:

* a jump to the replaced instruction lands on the first instruction of its replacement;
* jumps written inside a replacement are relative to the replacement itself;
* a jump to a deleted instruction lands on the instruction that follows the deletion.

Re-aiming after every edit costs a pass over the program, which is quadratic for the
programs with thousands of edits the kernel accepts.  Here a pass queues its edits and
:meth:`Program.commit` applies them together in one pass over the program: the
instructions are plain lists, every control transfer holds the absolute slot it goes
to (a dictionary over the transfers only, the other slots cost nothing), and offsets are
computed once at the end.  A pass decides each edit from the program as it was when the
pass started; the passes below never decide one edit from another of the same pass, so
the result is the one edits applied one at a time would give.  Per-instruction notes
move with their instructions: after a patch the original note belongs to the last
instruction of the sequence and the new ones only inherit ``seen``, as in the kernel.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import replace

from ..isa.insn import Insn
from .env import InsnAux

S16_MIN, S16_MAX = -(1 << 15), (1 << 15) - 1
_LDDW, _JMP, _JMP32, _JA_OP = 0x18, 0x05, 0x06, 0x00
_GOTOL = _JMP32 | _JA_OP  # gotol: the JMP32 class's JA with a constant (imm) offset
_EXIT_OP, _CALL_OP = 0x90, 0x80
_PSEUDO_CALL, _PSEUDO_FUNC = 1, 4


class PatchRangeError(Exception):
    """A jump no longer fits its 16-bit offset; ``orig_idx`` names the instruction."""

    def __init__(self, orig_idx: int) -> None:
        super().__init__(orig_idx)
        self.orig_idx = orig_idx


def _relative(insn: Insn) -> int | None:
    """The relative target of a control transfer, None for other instructions."""
    code = insn.code
    if code == _LDDW:
        return insn.imm if insn.src == _PSEUDO_FUNC else None
    cls = code & 0x07
    if cls != _JMP and cls != _JMP32:
        return None
    op = code & 0xF0
    if op == _EXIT_OP:
        return None
    if op == _CALL_OP:
        return insn.imm if insn.src == _PSEUDO_CALL and not code & 0x08 else None
    if code == _GOTOL:
        return insn.imm
    return insn.off


def _imm_relative(insn: Insn) -> bool:
    """Whether the transfer's offset is in ``imm`` (calls, callback addresses, gotol)."""
    code = insn.code
    return code in (_LDDW, _GOTOL) or code & 0xF0 == _CALL_OP


def _with_relative(insn: Insn, rel: int) -> Insn:
    if _imm_relative(insn):
        return insn if insn.imm == rel else replace(insn, imm=rel)
    return insn if insn.off == rel else replace(insn, off=rel)


def _enters_at_first(insn: Insn) -> bool:
    """Calls and callback addresses enter a subprogram at its first instruction, whatever
    a patch adds there (jumps land on the patch's entry)."""
    return insn.code & 0xF0 == _CALL_OP or insn.code == _LDDW


#: In a patch sequence: the instruction being replaced, with its own target.
ORIGINAL = object()


class ToOriginalTarget:
    """In a patch sequence: a jump to where the replaced instruction jumped."""

    __slots__ = ("insn",)

    def __init__(self, insn: Insn) -> None:
        self.insn = insn


class _Edit:
    """One queued edit: ``count`` slots from ``slot`` go, ``seq`` (None: nothing) comes."""

    __slots__ = ("count", "entry", "new_len", "new_slot", "seq", "slot")

    def __init__(self, slot: int, count: int, seq: Sequence[Insn | object] | None, entry: int) -> None:
        self.slot = slot
        self.count = count
        self.seq = seq
        self.entry = entry
        self.new_slot = 0
        self.new_len = len(seq) if seq is not None else 0


def _shift(edits: list[_Edit], firsts: list[int], s: int) -> int:
    """How far a slot outside every edit moves: what the edits before it added or took."""
    k = bisect_right(firsts, s) - 1
    if k < 0:
        return 0
    e = edits[k]
    return e.new_slot + e.new_len - e.slot - e.count


class Program:
    """A program being rewritten: instructions, notes and the subprogram starts."""

    def __init__(
        self,
        insns: Sequence[Insn],
        aux: Sequence[InsnAux],
        starts: Sequence[int],
        transfers: Iterable[int] | None = None,
    ) -> None:
        """``transfers``, when given, holds every slot that may be a control transfer
        (``cfg.scan``'s list); otherwise every slot is looked at."""
        if len(insns) != len(aux):
            raise ValueError("one note per instruction")
        self.insns: list[Insn] = list(insns)
        self.auxs: list[InsnAux] = list(aux)  # the notes are moved, not copied
        self.orig: list[int] | None = None  # original index of each slot (None: the slot's own)
        n = len(self.insns)
        targets: dict[int, int] = {}
        for i in range(n) if transfers is None else transfers:
            rel = _relative(self.insns[i])
            if rel is not None and 0 <= i + rel + 1 < n:
                targets[i] = i + rel + 1
        self.targets = targets  # slot of a control transfer -> the slot it goes to
        self.start_slots: list[int] = list(starts)
        self.subprog_ids = list(range(len(starts)))  # the verifier's numbers of those left
        self._edits: list[_Edit] = []

    def __len__(self) -> int:
        return len(self.insns)

    def insn(self, i: int) -> Insn:
        return self.insns[i]

    def aux(self, i: int) -> InsnAux:
        return self.auxs[i]

    def orig_idx(self, i: int) -> int:
        return self.orig[i] if self.orig is not None else i

    def starts(self) -> list[int]:
        return list(self.start_slots)

    def set_insn(self, i: int, insn: Insn) -> None:
        """Overwrite an instruction in place; a control transfer is re-aimed by its offset."""
        self.insns[i] = insn
        rel = _relative(insn)
        if rel is not None and 0 <= i + rel + 1 < len(self.insns):
            self.targets[i] = i + rel + 1
        else:
            self.targets.pop(i, None)

    def is_nop(self, i: int) -> bool:
        """``goto +0``: a plain jump (or ``may_goto``) to the next instruction."""
        insn = self.insns[i]
        if insn.code not in (0x05, 0xE5):  # ja, may_goto
            return False
        if insn.dst or insn.src or insn.imm:
            return False
        target = self.targets.get(i)
        return target == i + 1 if i + 1 < len(self.insns) else target is None

    # --- edits ---------------------------------------------------------------------------
    def replace_at(self, i: int, seq: Sequence[Insn | object], entry: int = 0) -> None:
        """Queue: instruction ``i`` becomes ``seq``.

        Jumps inside ``seq`` are relative to it (one past its end is the instruction after
        ``i``); an item ``ORIGINAL`` is the replaced instruction, keeping its target.
        Jumps that went to ``i`` go to ``seq[entry]`` (calls to ``seq[0]``).
        """
        self._edits.append(_Edit(i, 1, seq, entry))

    def remove_at(self, i: int, cnt: int) -> None:
        """Queue: delete ``cnt`` instructions from ``i``; jumps to them go to what follows."""
        self._edits.append(_Edit(i, cnt, None, 0))

    def patch(self, i: int, seq: Sequence[Insn | object], entry: int = 0) -> None:
        """Replace instruction ``i`` by ``seq`` now (see :meth:`replace_at`)."""
        self.replace_at(i, seq, entry)
        self.commit()

    def remove(self, i: int, cnt: int) -> None:
        """Delete ``cnt`` instructions from ``i`` now (see :meth:`remove_at`)."""
        self.remove_at(i, cnt)
        self.commit()

    def commit(self) -> None:
        """Apply the queued edits (at distinct, non-overlapping slots) in one pass."""
        edits = sorted(self._edits, key=lambda e: e.slot)
        self._edits = []
        if not edits:
            return
        insns, auxs, orig = self.insns, self.auxs, self.orig
        n = len(insns)
        new_insns: list[Insn] = []
        new_auxs: list[InsnAux] = []
        new_orig: list[int] = []
        prev = 0
        for e in edits:
            a = e.slot
            if a < prev:
                raise ValueError(f"overlapping edits at {a}")
            new_insns += insns[prev:a]
            new_auxs += auxs[prev:a]
            new_orig += orig[prev:a] if orig is not None else range(prev, a)
            e.new_slot = len(new_insns)
            if e.seq is not None:
                old_insn, old_aux = insns[a], auxs[a]
                for item in e.seq:
                    if item is ORIGINAL:
                        new_insns.append(old_insn)
                    elif isinstance(item, ToOriginalTarget):
                        new_insns.append(item.insn)
                    else:
                        assert isinstance(item, Insn)
                        new_insns.append(item)
                for _ in range(e.new_len - 1):
                    note = InsnAux()
                    note.seen = old_aux.seen
                    new_auxs.append(note)
                new_auxs.append(old_aux)  # the original note goes to the last instruction
                new_orig += [orig[a] if orig is not None else a] * e.new_len
            prev = a + e.count
        new_insns += insns[prev:]
        new_auxs += auxs[prev:]
        new_orig += orig[prev:] if orig is not None else range(prev, n)

        firsts = [e.slot for e in edits]

        def land(t: int, call: bool) -> int | None:
            """Where a transfer to old slot ``t`` goes now (None: past the end)."""
            while True:
                k = bisect_right(firsts, t) - 1
                if k < 0:
                    return t
                e = edits[k]
                if t >= e.slot + e.count:  # after edit k: shifted by what came before
                    return t + e.new_slot + e.new_len - e.slot - e.count
                if e.seq is not None:
                    return e.new_slot + (0 if call else e.entry)
                t = e.slot + e.count  # deleted: what follows the deletion
                if t >= n:
                    return None

        new_targets: dict[int, int] = {}
        for s, t in self.targets.items():
            k = bisect_right(firsts, s) - 1
            if k >= 0 and s < edits[k].slot + edits[k].count:
                continue  # gone or replaced (a replacement's own transfers follow)
            landed = land(t, _enters_at_first(insns[s]))
            if landed is not None:
                new_targets[s + _shift(edits, firsts, s)] = landed
        for e in edits:
            if e.seq is None:
                continue
            old_target = self.targets.get(e.slot)
            length = e.new_len
            for k, item in enumerate(e.seq):
                slot = e.new_slot + k
                insn = new_insns[slot]
                nt: int | None
                if item is ORIGINAL or isinstance(item, ToOriginalTarget):
                    nt = None if old_target is None else land(old_target, _enters_at_first(insn))
                else:
                    rel = _relative(insn)
                    if rel is None:
                        continue
                    t = k + rel + 1
                    if 0 <= t < length:
                        nt = e.new_slot + t
                    elif t == length and e.slot + 1 < n:
                        nt = land(e.slot + 1, _enters_at_first(insn))
                    else:
                        nt = None
                if nt is not None:
                    new_targets[slot] = nt
        # subprogram starts: a replaced first instruction starts with its replacement; a
        # function whose first instructions went starts at what follows, and one that
        # went whole leaves the next function's start there, and disappears
        moved = [land(s, True) for s in self.start_slots]
        keep = [k for k in range(len(moved)) if k + 1 == len(moved) or moved[k] != moved[k + 1]]
        self.start_slots = [m for k in keep if (m := moved[k]) is not None]
        self.subprog_ids = [self.subprog_ids[k] for k in keep if moved[k] is not None]
        self.insns, self.auxs, self.orig, self.targets = new_insns, new_auxs, new_orig, new_targets

    def finish(self) -> list[Insn]:
        """The instructions with every relative target computed from the final layout."""
        if self._edits:
            self.commit()
        out = list(self.insns)
        targets = self.targets
        for s in sorted(targets):
            insn = out[s]
            rel = targets[s] - s - 1
            if not _imm_relative(insn) and not S16_MIN <= rel <= S16_MAX:
                raise PatchRangeError(self.orig_idx(s))
            out[s] = _with_relative(insn, rel)
        return out
