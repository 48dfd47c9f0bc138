"""Running bare instructions (no program type, no verifier) on any tier."""

from __future__ import annotations

from collections.abc import Sequence

from ..isa.insn import Insn
from ..kernel.state import Kernel
from ..memory import MEMORY, RegionKind, allocate
from .executable import Executable
from .tiers import Tier, runner_for


def run_raw(
    insns: Sequence[Insn],
    mem: bytes | bytearray = b"",
    kernel: Kernel | None = None,
    tier: Tier | str | None = None,
    *,
    out: bytearray | None = None,
    budget: int | None = None,
) -> int:
    """Run with r1 = a buffer holding ``mem`` (0 when empty) and r2 = its length; r0.

    ``out`` receives the buffer's bytes after the run (even when the run faults).
    """
    runner = runner_for(kernel or Kernel(seed=0), tier)
    exe = Executable(list(insns), "raw")
    buf = allocate(max(len(mem), 1), RegionKind.MEM, "input", True, bytes(mem))
    try:
        if budget is None:
            return runner.run(exe, buf.base if mem else 0, len(mem))
        return runner.run(exe, buf.base if mem else 0, len(mem), budget=budget)
    finally:
        if out is not None:
            out[:] = buf.buf[: len(mem)]
        MEMORY.remove(buf)
        MEMORY.remove(exe.code_region)
