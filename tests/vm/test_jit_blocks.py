"""The jit's block-level shortcuts against the interpreter: registers carried unwritten
across a memory access's hit/miss diamond, a branch's only successor starting with the
branch's register values, ``goto +0``, reused 32-bit halves and folded constants, and
frame addresses computed once per function -- at both optimisation levels, on a first
run (every access misses its cache) and on repeated runs (hits)."""

from __future__ import annotations

from typing import Any

import pytest

from pybpf.errors import BpfError
from pybpf.isa import assemble
from pybpf.kernel.state import Kernel
from pybpf.program import load_program
from pybpf.vm.tiers import Tier, available, using

pytestmark = pytest.mark.skipif(Tier.JIT not in available(), reason="llvmlite is not installed")

PACKET = bytes(range(64))

BLOCKS = """
    r6 = *(u32 *)(r1 + 0)
    r7 = *(u32 *)(r1 + 4)
    r2 = r6
    r2 += 16
    if r2 > r7 goto out
    r3 = 7
    w4 = 5
    w4 += w3
    *(u64 *)(r10 - 8) = r3
    r5 = *(u8 *)(r6 + 3)
    w3 += w5
    *(u32 *)(r6 + 8) = r4
    w4 += 1
    r8 = *(u32 *)(r6 + 8)
    if r3 > 1 goto +0
    if r5 == 3 goto +1
    r3 += 100
    r0 = *(u64 *)(r10 - 8)
    r0 += r3
    r0 += r8
    r0 += r4
    w9 = w0
    w9 *= w9
    w9 += w9
    if w9 > -1 goto +1
    r9 += 1000
    if w9 s> -2 goto +1
    r9 += 2000
    r0 ^= r9
    *(u64 *)(r10 - 16) = r0
    r0 = *(u32 *)(r10 - 16)
    exit
out:
    r0 = 1
    exit
"""

FAULT = """
    r3 = 7
    w4 = 5
    w4 += w3
    *(u64 *)(r10 - 8) = r3
    r1 = 0
    r0 = *(u8 *)(r1 + 0)
    r0 += r4
    exit
"""


def _run(tier: str, src: str, verify: bool) -> Any:
    kernel = Kernel(seed=0)
    program = load_program(assemble(src), "xdp", kernel=kernel, verify=verify)
    with using(tier):
        try:
            return [program.run(data=PACKET, repeat=r).retval for r in (1, 3)]
        except BpfError as exc:
            return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("level", ["fast", "full"])
@pytest.mark.parametrize(("src", "verify"), [(BLOCKS, True), (FAULT, False)], ids=["blocks", "fault"])
def test_block_shortcuts_agree_with_the_interpreter(monkeypatch: pytest.MonkeyPatch, level: str, src: str,
                                                    verify: bool) -> None:  # fmt: skip
    monkeypatch.setenv("PYBPF_JIT_OPT", level)
    monkeypatch.setenv("PYBPF_JIT_VERIFY", "1")
    expected = _run(Tier.INTERP.value, src, verify)
    assert _run(Tier.JIT.value, src, verify) == expected
    if src is BLOCKS:
        assert expected[0] not in (0, 1)  # the program ran past its bounds check
    else:
        assert expected[0] in ("MemoryFault", "RuntimeFault")
