"""The verifier holds Python's cyclic garbage collector during its walk, except where
states can form cycles (open-coded iterators, may_goto, callbacks: a state's loop_entry
may point down its own parent chain), and gives the switch back as it found it: on stays
on, off (the application's choice) stays off, also when the program is rejected."""

from __future__ import annotations

import gc

import pytest

from pybpf.isa import assemble
from pybpf.isa.asm_c import assemble_c
from pybpf.isa.insn import Insn
from pybpf.kernel.vmlinux import kernel_btf
from pybpf.verifier import verify

from .kptr_harness import _resolve
from .test_iters import DESTROY, END, NEW, NEXT

ACCEPTED = "r0 = 0\nexit"
REJECTED = "r0 = r2\nexit"  # R2 !read_ok


@pytest.mark.parametrize("text", [ACCEPTED, REJECTED])
@pytest.mark.parametrize("enabled", [True, False])
def test_collector_switch_is_restored(text: str, enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        result = verify(assemble(text), "socket_filter")
        assert result.accepted == (text == ACCEPTED)
        assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_walk_leaves_no_cycles() -> None:
    """What the walk drops is freed by reference counting (the reason holding the
    collector costs no memory): a loop with branches and pruning leaves nothing for a
    collection to find."""
    prog = assemble(
        "r1 = 0\nr2 = 0\nif r1 > 7 goto +1\nr2 = 1\nr1 += 1\nif r1 < 50 goto -4\nr0 = r2\nexit"
    )
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        result = verify(prog, "socket_filter")
        assert result.accepted and result.insns_processed > 50
        assert gc.collect() == 0
    finally:
        if was:
            gc.enable()


def _collections_during(prog: list[Insn], prog_type: str) -> tuple[int, int]:
    """(collections while verifying, instructions processed), the collector on."""
    count = [0]

    def seen(phase: str, info: dict[str, int]) -> None:
        count[0] += phase == "start"

    was = gc.isenabled()
    gc.enable()
    gc.callbacks.append(seen)
    try:
        result = verify(prog, prog_type)
    finally:
        gc.callbacks.remove(seen)
        if not was:
            gc.disable()
    assert result.accepted
    return count[0], result.insns_processed


def test_held_for_plain_loops_not_for_iterators() -> None:
    """A plain bounded loop runs with the collector held (at most the one collection the
    passes around the walk may trigger, whatever the length); an open-coded iterator's
    loop with it on, so the cycles its loop_entry links make are freed during the walk."""
    plain = assemble("r1 = 0\nr1 += 1\nif r1 < 20000 goto -2\nr0 = 0\nexit")
    collections, processed = _collections_during(plain, "socket_filter")
    assert processed > 40000 and collections <= 1
    inner = "if r0 == 0 goto +4\nr2 = 0\nr2 += 1\nif r2 < 3000 goto -2\ngoto -8\n"
    iterating = assemble_c(_resolve(NEW + NEXT + inner + DESTROY + END, kernel_btf()))
    collections, processed = _collections_during(iterating, "raw_tracepoint")
    assert processed > 6000 and collections >= 3
