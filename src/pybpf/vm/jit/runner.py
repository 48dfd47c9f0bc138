"""The jit tier's runner: native code on the shared memory model.

It has the interpreter's run interface and run state (stack frames zeroed on first use,
the tail-call count, the ``may_goto`` allowance, the instruction budget), kept in a small
u64 block (:mod:`.layout`) that native code reads and writes.  Native code calls Python
through one C-ABI callback; an exception there is kept here, native code unwinds to the
run's entry, and the exception is raised from :meth:`JitRunner.run` -- so a fault is the
interpreter's own fault, and nothing else escapes: any other exception becomes a
:class:`RuntimeFault`.
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import time
import weakref
from typing import Any

from ...errors import BpfError, RuntimeFault
from ...isa.opcodes import MAX_CALL_FRAMES, STACK_SIZE
from ...kernel.env import RunEnv
from ...kernel.state import Kernel, default_kernel
from ...memory import MEMORY
from ..executable import Executable
from ..frames import StackFrames
from . import layout, ops
from .codegen import OP_BITS, PURE
from .engine import CODES, FULL, Compiled, compile_executable, level_for

M64 = (1 << 64) - 1
MAY_GOTO_BUDGET = 8 * 1024 * 1024
HOT_RUNS = 100
"""Runs of one executable after which its code is made again at the full level."""
OP_INDEX = PURE - 1
CALLBACK = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64, *[ctypes.c_uint64] * 6)

_generation = [-1]
_TOKENS = itertools.count(1)


def _reset_all_caches() -> None:
    """A region went away: forget every remembered region (native code must never touch
    a freed buffer)."""
    for compiled in list(CODES.values()):
        ops.reset_cache(compiled.cache)
    _generation[0] = MEMORY.generation


class JitRunner:
    """Runs executables as native code.  Not re-entrant across threads."""

    tier = "jit"

    def __init__(self, kernel: Kernel | None = None) -> None:
        self.kernel = kernel or default_kernel()
        self.stacks = StackFrames()
        self.env = RunEnv(self.kernel)
        self.state = (ctypes.c_uint64 * layout.SLOTS)()
        self.state[layout.EPOCH] = 1
        self.state[layout.TOKEN] = next(_TOKENS)
        self._state_addr = ctypes.addressof(self.state)
        for depth in range(MAX_CALL_FRAMES):
            self.state[layout.FRAMES + depth] = self.stacks.frame(depth).region.base
        self._callback = CALLBACK(self._call_python)
        self.state[layout.CALLBACK] = ctypes.cast(self._callback, ctypes.c_void_p).value or 0
        self.io = (ctypes.c_uint64 * layout.IO_SLOTS)()
        self._io_addr = ctypes.addressof(self.io)
        self._pending: BaseException | None = None
        self._prandom: Any = None
        self._compiled: weakref.WeakKeyDictionary[Executable, Compiled] = weakref.WeakKeyDictionary()
        self._runs: weakref.WeakKeyDictionary[Executable, int] = weakref.WeakKeyDictionary()
        self._retired: list[Compiled] = []

    # --- compiling ----------------------------------------------------------------------

    def code_for(self, exe: Executable, entry: int = 0, hot: bool = False) -> Compiled:
        """The native code of ``exe`` with a function at ``entry``.  Code starts at the
        fast level (cheap to make, for programs run a few times) and is made again at
        the full level once the program is hot (``HOT_RUNS`` runs)."""
        compiled = self._compiled.get(exe)
        level = level_for(len(exe.insns), hot)
        if compiled is None or entry not in compiled.functions or (level == FULL and compiled.level != FULL):
            extra = (entry,) if compiled is None else (*compiled.entries, entry)
            if compiled is not None:
                self._retired.append(compiled)  # its frames may still be on the native stack
                level = FULL if compiled.level == FULL else level
            compiled = compile_executable(exe, extra, level)
            self._compiled[exe] = compiled
        return compiled

    def entry_address(self, exe: Executable) -> int:
        return int(self.code_for(exe).addresses[0])

    def prepare(self, exe: Executable) -> None:
        """Compile ``exe`` and the programs its tail calls may reach, ahead of timed runs."""
        self.code_for(exe)
        for m in getattr(exe.owner, "maps", ()) or ():
            get = getattr(m, "get_program", None)
            if get is None:
                continue
            for i in range(m.spec.max_entries):
                target = get(i)
                if target is not None:
                    self.code_for(getattr(target, "executable", target))

    # --- running ------------------------------------------------------------------------

    def _start(self, exe: Executable, ctx: Any, cpu: int, budget: int) -> None:
        env = self.env
        env.ctx, env.cpu, env.program = ctx, cpu, exe.owner
        env.call_function = self.call_function
        state = self.state
        state[layout.STATUS] = 0
        state[layout.BUDGET] = state[layout.BUDGET_START] = min(budget, (1 << 63) - 1)
        state[layout.MAY_GOTO] = MAY_GOTO_BUDGET
        state[layout.TAIL_CALLS] = 0
        state[layout.DEPTH] = 0
        state[layout.USED] = 0
        state[layout.CPU] = cpu & M64
        state[layout.EPOCH] += 2  # Python ran since the last run: forget context fields
        fixed = self.kernel.fixed_time_ns
        state[layout.CLOCK], state[layout.CLOCK + 1] = (0, 0) if fixed is None else (1, fixed & M64)
        gens = self.kernel.prandom
        self._prandom = gens[cpu] if 0 <= cpu < len(gens) else None
        state[layout.PRANDOM] = self._prandom is not None
        self._prandom_in()
        self._pending = None
        if _generation[0] != MEMORY.generation:
            _reset_all_caches()

    def run(
        self,
        exe: Executable,
        r1: int = 0,
        r2: int = 0,
        *,
        ctx: Any = None,
        cpu: int = 0,
        budget: int = 1 << 40,
        trace: Any = None,
    ) -> int:
        """Run ``exe`` from its first instruction with r1 (and r2) set; returns r0."""
        if trace is not None:
            raise BpfError(errno.EINVAL, "tracing needs the interpreter tier (--tier interp)")
        runs = self._runs[exe] = self._runs.get(exe, 0) + 1
        compiled = self.code_for(exe, hot=runs >= HOT_RUNS)
        self._start(exe, ctx, cpu, budget)
        frame0 = self.stacks.frame(0)
        lo, hi = compiled.zero
        ctypes.memset(frame0.region.base + lo, 0, hi - lo)
        io = self.io
        ctypes.memset(self._io_addr, 0, 8 * layout.IO_SLOTS)
        io[1], io[2] = r1 & M64, r2 & M64
        compiled.functions[0](self._io_addr, 0, self._state_addr)
        return self._finish(io)

    def run_repeat(
        self, exe: Executable, r1: int, repeat: int, *, ctx: Any = None, cpu: int = 0
    ) -> tuple[int, int]:
        """``repeat`` runs in one native loop: r0 of the last and the mean ns per run.

        The time is the thread's CPU time: like the kernel's test-run timer, which stops
        while the task is rescheduled, it leaves out the time other work took the CPU."""
        runs = max(repeat, 1)
        total = self._runs[exe] = self._runs.get(exe, 0) + runs
        compiled = self.code_for(exe, hot=total >= HOT_RUNS)
        self._start(exe, ctx, cpu, 1 << 40)
        start = time.thread_time_ns()
        compiled.repeat(self._io_addr, self._state_addr, r1 & M64, 0, runs)
        elapsed = time.thread_time_ns() - start
        return self._finish(self.io), elapsed // runs

    def _prandom_in(self) -> None:
        """The run's CPU's generator words into the state block (native code steps them)."""
        gen, state = self._prandom, self.state
        if gen is not None:
            p = layout.PRANDOM
            state[p + 1], state[p + 2], state[p + 3], state[p + 4] = gen.s1, gen.s2, gen.s3, gen.s4

    def _prandom_out(self) -> None:
        gen, state = self._prandom, self.state
        if gen is not None:
            p = layout.PRANDOM
            gen.s1, gen.s2, gen.s3, gen.s4 = (int(state[p + i]) for i in range(1, 5))

    def _finish(self, io: Any) -> int:
        self._prandom_out()
        status = self.state[layout.STATUS]
        if status:
            self.state[layout.STATUS] = 0
            pending, self._pending = self._pending, None
            if status == layout.PACKET_EXIT or isinstance(pending, ops.PacketExit):
                return 0
            assert pending is not None
            raise pending
        return int(io[0])

    def call_function(self, address: int, args: tuple[int, ...]) -> int:
        """Call the BPF function at ``address`` (a code address) from a helper."""
        env, state = self.env, self.state
        region = MEMORY.region_at(address)
        if region is None or not isinstance(region.owner, Executable):
            raise RuntimeFault(env.pc, f"0x{address:x} is not a BPF function")
        exe = region.owner
        target = (address - region.base) // 8
        caller_depth = int(state[layout.DEPTH])
        depth = caller_depth + 1
        if depth >= MAX_CALL_FRAMES:
            raise RuntimeFault(env.pc, "callback nests too deep", errno.E2BIG)
        compiled = self.code_for(exe, target)
        for d in range(int(state[layout.USED]) + 1, depth + 1):
            ctypes.memset(int(state[layout.FRAMES + d]), 0, STACK_SIZE)
        state[layout.USED] = max(int(state[layout.USED]), depth)
        io = (ctypes.c_uint64 * layout.IO_SLOTS)()
        for i, value in enumerate(args[:5]):
            io[i + 1] = value & M64
        saved_pc = env.pc
        try:
            compiled.functions[target](ctypes.addressof(io), depth, self._state_addr)
            return self._finish(io)
        finally:
            env.pc = saved_pc
            state[layout.DEPTH] = caller_depth

    # --- the callback -------------------------------------------------------------------

    def _call_python(self, op: int, a: int, b: int, c: int, d: int, e: int, f: int) -> int:
        state = self.state
        pure = op & PURE
        if not pure:
            state[layout.EPOCH] += 1
            self._prandom_out()  # Python may draw from the generator too
        try:
            compiled = CODES[op >> OP_BITS]
            result = compiled.ops[op & OP_INDEX](self, a, b, c, d, e, f)
            return result & M64
        except ops.PacketExit:
            state[layout.STATUS] = layout.PACKET_EXIT
        except BpfError as exc:
            self._pending = exc
            state[layout.STATUS] = layout.FAULT
        except BaseException as exc:  # nothing may unwind through native frames
            self._pending = RuntimeFault(self.env.pc, f"internal error in the jit tier: {exc!r}")
            state[layout.STATUS] = layout.FAULT
        finally:
            if not pure:
                state[layout.EPOCH] += 1
                self._prandom_in()
            if _generation[0] != MEMORY.generation:
                _reset_all_caches()
        return 0
