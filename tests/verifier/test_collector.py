"""The verifier holds Python's cyclic garbage collector during its walk and gives the
switch back as it found it: on stays on, off (the application's choice) stays off, also
when the program is rejected."""

from __future__ import annotations

import gc

import pytest

from pybpf.isa import assemble
from pybpf.verifier import verify

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
