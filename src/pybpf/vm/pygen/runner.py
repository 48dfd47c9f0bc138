"""Running generated code: the python tier's runner.

It has the interpreter's run interface (``run(exe, r1, r2, ctx=, cpu=, budget=)``, and
``call_function`` for callbacks) and the same run state: stack frames zeroed on first use,
the tail-call count (at most 33 a run), the ``may_goto`` allowance, the memory caches
emptied whenever a region has gone away since the last run.  No Python exception escapes
a run: faults are :class:`BpfError`, and anything else generated code might raise becomes a
:class:`RuntimeFault` naming the instruction whose line raised it.
"""

from __future__ import annotations

import errno
import struct
import time
import traceback
import weakref
from typing import Any

from ...errors import BpfError, MemoryFault, RuntimeFault
from ...isa.opcodes import MAX_CALL_FRAMES, MAX_TAIL_CALL_CNT
from ...isa.semantics import alu32, alu64, endian, sign_extend
from ...kernel.env import RunEnv
from ...kernel.state import Kernel, default_kernel
from ...memory import MEMORY
from ..executable import Executable
from ..frames import StackFrames
from ..slowpath import load_resolve, load_resolve_signed, probe_load_resolve_signed, store_resolve
from .module import ProgramCode, generate

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
MAY_GOTO_BUDGET = 8 * 1024 * 1024
UNLIMITED = 1 << 40
"""Budgets this large (the default) are not counted: 2**40 backward jumps take days."""

_STRUCTS: dict[str, Any] = {}
for _size, _fmt in ((1, "B"), (2, "H"), (4, "I"), (8, "Q")):
    _STRUCTS[f"U{_size}"] = struct.Struct("<" + _fmt).unpack_from
    _STRUCTS[f"S{_size}"] = struct.Struct("<" + _fmt.lower()).unpack_from
    _STRUCTS[f"P{_size}"] = struct.Struct("<" + _fmt).pack_into
    _STRUCTS[f"B{_size}"] = struct.Struct(">" + _fmt).unpack_from  # a load and its be swap


def _load_resolve_field(
    addr: int, size: int, pc: int
) -> tuple[int, int, int, Any, int | None, Any]:
    """A load's miss that also remembers a context field's getter: the value, the region
    cache (base, span, buf) and the field cache (address, getter), either one empty."""
    addr &= M64
    region = MEMORY.find(addr, size)
    if region is not None and region.fields is not None:
        field = region.fields.get((addr - region.base, size))
        if field is not None and field[0] is not None:
            getter = field[0]
            return getter() & M64, 0, -1, None, addr, getter
    value, base, span, buf = load_resolve(addr, size, pc)
    return value, base, span, buf, None, None


def _probe_load_resolve_field(
    addr: int, size: int, pc: int
) -> tuple[int, int, int, Any, int | None, Any]:
    """:func:`_load_resolve_field` for a probe load: a bad address reads 0, no cache."""
    try:
        return _load_resolve_field(addr, size, pc)
    except MemoryFault:
        return 0, 0, -1, None, None, None


def _atomic_region(addr: int, size: int) -> tuple[int, int, Any]:
    """The cache (base, span, buf) an atomic read-modify-write at ``addr`` may keep: its
    region when plain and writable (the memory model's load and store are then exactly a
    ``struct`` read and write of the buffer), else one no address hits."""
    region = MEMORY.find(addr, size)
    if region is not None and region.fields is None and region.writable:
        return region.base, region.end - size - region.base, region.buf
    return 0, -1, None


def entry_of(entries: tuple[int, ...]) -> int:
    return entries[0] if entries else 0


class _PacketExit(Exception):
    """A legacy packet load (LD_ABS/LD_IND) out of range: the program returns 0."""


def _fault(pc: int, reason: str, err: int = errno.EFAULT) -> RuntimeFault:
    return RuntimeFault(pc, reason, err)


def _budget(pc: int) -> None:
    raise RuntimeFault(pc, "instruction budget exhausted (a loop that does not end?)", errno.ELOOP)


class _Loaded:
    """A program's code executed in this runner's namespace."""

    __slots__ = ("code", "entry", "namespace", "reset")

    def __init__(self, code: ProgramCode, namespace: dict[str, Any]) -> None:
        self.code = code
        self.namespace = namespace
        self.reset = code.reset_values()
        self.entry: Any = None
        """The function of the program's first instruction (once the module is executed)."""

    def function(self, entry: int) -> Any:
        name = self.code.functions.get((entry, False))
        return None if name is None else self.namespace[name]


class PythonRunner:
    """Runs executables as generated Python.  Not re-entrant across threads."""

    tier = "python"

    def __init__(self, kernel: Kernel | None = None) -> None:
        self.kernel = kernel or default_kernel()
        self.stacks = StackFrames()
        self.env = RunEnv(self.kernel)
        self.depth = 0
        self.tail_calls = 0
        self.may_goto = MAY_GOTO_BUDGET
        self.budget = [UNLIMITED]
        self._loaded: weakref.WeakKeyDictionary[
            Executable, dict[tuple[tuple[int, ...], bool], _Loaded]
        ] = weakref.WeakKeyDictionary()
        self._generation = -1
        self._common = self._common_names()
        self._run_env: tuple[Any, int, Any] = (None, 0, None)
        """The context, CPU and program of the runs under way (see :meth:`_begin_run`)."""
        self._last: tuple[weakref.ref[Executable], bool, _Loaded] | None = None
        """The last run's executable (weakly) and code: repeated runs skip the lookups."""

    # --- loading -----------------------------------------------------------------------

    def _common_names(self) -> dict[str, Any]:
        ns: dict[str, Any] = dict(_STRUCTS)
        ns.update(
            env=self.env, R=self, FR=self.stacks.enter,
            LDRS=load_resolve_signed, STR=store_resolve, LDRF=_load_resolve_field,
            LDRPS=probe_load_resolve_signed, LDRFP=_probe_load_resolve_field,
            MLOAD=MEMORY.load, MSTORE=MEMORY.store, ATR=_atomic_region, FAULT=_fault, BUDGET=_budget, BG=self.budget,
            TAIL=self._tail_target, MAYGOTO=self._may_goto, LDPKT=self._ld_pkt,
            ENDIAN=endian, ALU64=alu64, ALU32=alu32, __builtins__=__builtins__,
            BEGIN=self._begin_run, START=self.stacks.start_run, PEXIT=_PacketExit,
        )  # fmt: skip
        return ns

    def _load(
        self, exe: Executable, entries: tuple[int, ...] = (0,), budget: bool = False
    ) -> _Loaded:
        per_exe = self._loaded.get(exe)
        if per_exe is None:
            per_exe = self._loaded[exe] = {}
        key = (entries, budget)
        loaded = per_exe.get(key)
        if loaded is None:
            code = generate(exe, entries, budget)
            ns = dict(self._common)
            ns["CALLX"] = _callx(exe)
            for hid, fn in code.helpers.items():
                ns[f"h{hid}"] = fn
            loaded = _Loaded(code, ns)
            ns.update(loaded.reset)
            exec(code.code, ns)
            loaded.entry = loaded.function(entry_of(entries))
            per_exe[key] = loaded
        return loaded

    def prepare(self, exe: Executable) -> None:
        """Generate and compile ``exe`` (and the programs its tail calls may reach) now, so
        that timed runs do not include it."""
        self._load(exe)
        owner = exe.owner
        for m in getattr(owner, "maps", ()) or ():
            get = getattr(m, "get_program", None)
            if get is None:
                continue
            for i in range(m.spec.max_entries):
                target = get(i)
                if target is not None:
                    self._load(getattr(target, "executable", target))

    def source(self, exe: Executable) -> str:
        """The generated source of ``exe`` (for reading and debugging)."""
        return self._load(exe).code.source

    # --- running -----------------------------------------------------------------------

    def run(
        self,
        exe: Executable,
        r1: int = 0,
        r2: int = 0,
        *,
        ctx: Any = None,
        cpu: int = 0,
        budget: int = UNLIMITED,
        trace: Any = None,
    ) -> int:
        """Run ``exe`` from its first instruction with r1 (and r2) set; returns r0."""
        if trace is not None:
            raise BpfError(errno.EINVAL, "tracing needs the interpreter tier (--tier interp)")
        counted = budget < UNLIMITED
        loaded = self._loaded_for(exe, counted)
        self._start(exe, ctx, cpu, budget)
        fn = loaded.entry
        try:
            return fn(0, r1 & M64, r2 & M64)  # type: ignore[no-any-return]
        except Exception as exc:
            return self._failed(exc)

    def run_repeat(
        self, exe: Executable, r1: int, repeat: int, *, ctx: Any = None, cpu: int = 0
    ) -> tuple[int, int]:
        """``repeat`` runs of ``exe`` in the generated ``REPEAT`` loop (nothing per run
        in Python besides the call and what the code can have changed): r0 of the last
        run and the mean ns per run.

        The time is the thread's CPU time, as the jit tier's: like the kernel's test-run
        timer, which stops while the task is rescheduled, it leaves out the time other
        work took the CPU."""
        runs = max(repeat, 1)
        loaded = self._loaded_for(exe, False)
        self._start(exe, ctx, cpu, UNLIMITED)
        loop = loaded.namespace["REPEAT"]
        start = time.thread_time_ns()
        try:
            r0 = loop(runs, r1 & M64)
        except Exception as exc:
            r0 = self._failed(exc)
        elapsed = time.thread_time_ns() - start
        return r0, elapsed // runs

    def _loaded_for(self, exe: Executable, counted: bool) -> _Loaded:
        last = self._last
        if last is not None and last[0]() is exe and last[1] == counted:
            return last[2]
        loaded = self._load(exe, budget=counted)
        self._last = (weakref.ref(exe), counted, loaded)
        return loaded

    def _start(self, exe: Executable, ctx: Any, cpu: int, budget: int) -> None:
        """The state every run starts from."""
        self._run_env = (ctx, cpu, exe.owner)
        self.budget[0] = budget
        self._begin_run()

    def _begin_run(self) -> None:
        """What each run resets (called by ``REPEAT`` before each run of code that calls
        helpers): the helpers' environment, counters, frame 0 zeroed, memory caches
        emptied if a region has gone."""
        env = self.env
        env.ctx, env.cpu, env.program = self._run_env
        env.call_function = self.call_function
        self.tail_calls = 0
        self.depth = 0
        self.may_goto = MAY_GOTO_BUDGET
        self.stacks.start_run()
        if self._generation != MEMORY.generation:
            self._reset_caches()

    def _reset_caches(self) -> None:
        for per_exe in list(self._loaded.values()):
            for loaded in per_exe.values():
                loaded.namespace.update(loaded.reset)
        self._generation = MEMORY.generation

    def _enter(self, loaded: _Loaded, entry: int, depth: int, args: tuple[int, ...]) -> int:
        fn = loaded.function(entry)
        try:
            return fn(depth, *args)  # type: ignore[no-any-return]
        except Exception as exc:
            return self._failed(exc)

    def _failed(self, exc: Exception) -> int:
        """What a run that raised ``exc`` returns (a packet load out of range: 0) or
        raises (a fault; a bug in generated code must still be a clean fault)."""
        if isinstance(exc, _PacketExit):
            return 0
        if isinstance(exc, BpfError):
            raise exc
        if isinstance(exc, RecursionError):
            raise RuntimeFault(-1, "calls nest too deep for the python tier", errno.E2BIG) from None
        raise RuntimeFault(
            self._pc_of(exc), f"internal error in the python tier: {exc!r}"
        ) from None

    def _pc_of(self, exc: BaseException) -> int:
        pc = -1
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            if frame.f_code.co_filename.startswith("<pybpf python tier"):
                for per_exe in list(self._loaded.values()):
                    for loaded in per_exe.values():
                        if loaded.namespace is frame.f_globals:
                            pc = loaded.code.pc_at(lineno)
        return pc

    def call_function(self, address: int, args: tuple[int, ...]) -> int:
        """Call the BPF function at ``address`` (a code address) from a helper."""
        region = MEMORY.region_at(address)
        env = self.env
        if region is None or not isinstance(region.owner, Executable):
            raise RuntimeFault(env.pc, f"0x{address:x} is not a BPF function")
        exe = region.owner
        target = (address - region.base) // 8
        depth = self.depth + 1
        if depth >= MAX_CALL_FRAMES:
            raise RuntimeFault(env.pc, "callback nests too deep", errno.E2BIG)
        loaded = self._load(exe)
        if loaded.function(target) is None:
            loaded = self._load(exe, (target,))
        saved_pc, saved_depth = env.pc, self.depth
        try:
            return self._enter(loaded, target, depth, tuple(a & M64 for a in args[:5]))
        finally:
            env.pc, self.depth = saved_pc, saved_depth

    # --- run-time services of generated code --------------------------------------------

    def _tail_target(self, r2: int, r3: int, pc: int) -> Any:
        """The entry function of the program a tail call reaches, or None (fall through)."""
        from ...maps.base import map_at

        prog_array = map_at(r2)
        if prog_array is None:
            raise RuntimeFault(pc, "bpf_tail_call: r2 is not a map")
        index = r3 & M32
        if index >= prog_array.spec.max_entries or self.tail_calls >= MAX_TAIL_CALL_CNT:
            return None
        target = prog_array.get_program(index)  # type: ignore[attr-defined]
        if target is None:
            return None
        self.tail_calls += 1
        return self._load(getattr(target, "executable", target)).function(0)

    def _may_goto(self) -> bool:
        if self.may_goto == 0:
            return True
        self.may_goto -= 1
        return False

    def _ld_pkt(self, base: int | None, imm: int, size: int, pc: int) -> int:
        skb = self.env.ctx
        if skb is None or not hasattr(skb, "load_bytes_relative"):
            raise RuntimeFault(pc, "LD_ABS/LD_IND needs an skb context")
        offset = ((base & M32) + imm) if base is not None else imm
        data = skb.load_bytes_relative(sign_extend(offset & M32, 32), size)
        if data is None:
            raise _PacketExit
        return int.from_bytes(data, "big")


def _callx(exe: Executable) -> Any:
    helpers = exe.helpers

    def callx(reg: int, pc: int, env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        helper = helpers.get(reg)
        if helper is None:
            raise RuntimeFault(pc, f"callx to unknown helper #{reg}", errno.ENOTSUP)
        return helper.fn(env, r1, r2, r3, r4, r5) & M64

    return callx
