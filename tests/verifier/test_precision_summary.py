"""The jump-history summaries of precision backtracking change nothing.

Without a level-2 log, ``precision._backtrack`` stops walking a path back as soon as the
summary cached on a history entry (``JmpHistoryEntry.below``) says no instruction before
it touches a traced register; with a level-2 log it walks every instruction, printing
each.  Both must end with the same precise marks, hence the same pruning: the verdict,
the processed count, the state counters and the precise flags of the kept checkpoints
are compared between log levels 0 and 2 on loops whose decided branches call for
precision through many history entries (a summary that always said "nothing" fails
three of them).
"""

from __future__ import annotations

import pytest

from pybpf.isa import assemble
from pybpf.verifier import Options, verify
from pybpf.verifier.env import Env

# a counter the loop decrements (imprecise) and a value a decided branch needs exactly
_LOOPS = {
    "decided-jset": """
        call 7
        r6 = r0
        r6 &= 0xff
        r7 = 0
    l1:
        r7 += 3
        if r7 & 0x10 goto +1
        r8 = r7
        r6 += -1
        if r6 s> 0 goto l1
        r0 = r7
        r0 &= 1
        exit
    """,
    # short_loop1's body, bounded by a counter
    "short-loop": """
        call 7
        r6 = r0
        r6 &= 0x3f
        r7 = r0
        r7 &= 0xffff
    l1:
        r7 += 0x1ab064b9
        r6 += -1
        if r6 s< 0 goto out
        if r7 & 0x702000 goto l1
    out:
        r0 = 0
        exit
    """,
    # the traced value goes through the stack: history entries with flags
    "spill-fill": """
        call 7
        r6 = r0
        r6 &= 0x7f
        r7 = 1
    l1:
        *(u64 *)(r10 - 8) = r7
        r7 = *(u64 *)(r10 - 8)
        r7 += 5
        if r7 & 0x8 goto +1
        r7 += 1
        r6 += -1
        if r6 s> 0 goto l1
        r0 = 0
        exit
    """,
    # a helper call inside the loop (a step only backtrack_insn handles)
    "call-in-loop": """
        r7 = 2
        r6 = 40
    l1:
        call 7
        r7 += 7
        if r7 & 0x4 goto +1
        r7 += 2
        r6 += -1
        if r6 != 0 goto l1
        r0 = r7
        r0 &= 3
        exit
    """,
    # the traced register is set from another inside the loop (the walk must go on)
    "copied-value": """
        call 7
        r6 = r0
        r6 &= 0x3f
        r8 = 3
    l1:
        r7 = r8
        r7 += 1
        r8 = r7
        if r8 & 0x20 goto +1
        r6 += -1
        if r6 s> 0 goto l1
        r0 = 0
        exit
    """,
}


def _marks(env: Env) -> list[tuple[int, int, tuple[bool, ...]]]:
    """The precise flags of every register and spilled register of the kept checkpoints."""
    out = []
    for insn_idx, entries in sorted(env.explored_states.items()):
        for n, sl in enumerate(entries):
            for f in sl.state.frames:
                regs = [r.precise for r in f.regs] + [s.spilled_ptr.precise for s in f.stack]
                out.append((insn_idx, n, tuple(regs)))
    return out


def _answer(text: str, level: int, freq: bool) -> tuple[object, ...]:
    res = verify(assemble(text), "socket_filter", options=Options(log_level=level, test_state_freq=freq))
    env = res.env
    assert env is not None
    return (res.accepted, res.errno, res.message, res.insns_processed,
            env.total_states, env.peak_states, env.max_states_per_insn, _marks(env))  # fmt: skip


def _summaries(text: str) -> int:
    """How many history entries of the kept checkpoints carry a summary."""
    res = verify(assemble(text), "socket_filter")
    assert res.env is not None
    return sum(
        1
        for entries in res.env.explored_states.values()
        for sl in entries
        for e in sl.state.jmp_history
        if e.below_first >= 0
    )


@pytest.mark.parametrize("freq", [False, True], ids=["default", "test_state_freq"])
@pytest.mark.parametrize("name", sorted(_LOOPS))
def test_same_answer_with_and_without_the_summaries(name: str, freq: bool) -> None:
    text = _LOOPS[name]
    fast = _answer(text, 0, freq)
    assert fast[0] is True
    assert isinstance(fast[3], int) and fast[3] > 100  # (the loop was walked many times)
    assert _answer(text, 2, freq) == fast


def test_the_summaries_are_used() -> None:
    assert _summaries(_LOOPS["decided-jset"]) > 0
