"""Calling a registered ops member: the subsystem's side of the trampoline.  The
arguments become the u64 array the program's context is, the program runs, and r0 is
the member's return value."""

from __future__ import annotations

import struct
from typing import Any

from ..memory import RegionKind, allocate
from ..vm.tiers import runner_for as shared_runner

MAX_ARGS = 12


class OpsCaller:
    """Runs member programs of one registered ops with a reusable argument array."""

    def __init__(self, programs: dict[str, Any], kernel: Any, tier: Any = None) -> None:
        self.programs = programs
        self.kernel = kernel
        self.ctx = allocate(8 * MAX_ARGS, RegionKind.CTX, "struct_ops args", True)
        self.runner = shared_runner(kernel, tier)
        self.calls: dict[str, int] = {}
        for p in programs.values():
            self.runner.prepare(p.executable)

    def has(self, member: str) -> bool:
        return member in self.programs

    def __call__(self, member: str, *args: int) -> int:
        prog = self.programs[member]
        struct.pack_into(f"<{len(args)}Q", self.ctx.buf, 0, *(a & 0xFFFFFFFFFFFFFFFF for a in args))
        self.calls[member] = self.calls.get(member, 0) + 1
        return int(self.runner.run(prog.executable, self.ctx.base))
