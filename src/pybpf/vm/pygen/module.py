"""One executable as one generated Python module: a function per BPF function.

Every function has the same signature, ``f(D, r1=0, ..., r5=0, r0=0, r6=0, ..., r9=0)``:
``D`` is its call depth (which frame it runs in), the registers are what it starts with.
A call passes r1..r5, and r0 or r6..r9 only where the callee reads them before writing
(never in a verified program).  A function returns r0, or, in its ``_t`` variant, r0..r5
for a call site that reads the callee's r1..r5 afterwards (again only unchecked code).

The module ends with ``REPEAT(n, r1)``: ``n`` runs of the first entry in one Python
loop, for timed test runs (see :meth:`PythonRunner.run_repeat`).

The code object is made once per executable and shared; each runner executes it in a
namespace of its own (its frames, environment and tail-call counter), which also holds the
memory instructions' caches as globals.
"""

from __future__ import annotations

import errno
import sys
import weakref
from dataclasses import dataclass, field
from types import CodeType

from ...errors import BpfError
from ...isa.opcodes import InsnClass, JmpOp, PseudoCall
from ..executable import Executable
from .cfg import Graph
from .dataflow import ARGS, Liveness, stack_offsets
from .emit import Callee, Emitter, ModuleNames
from .ranges import FunctionRanges
from .render import FunctionRenderer, Line, TooDeep, lines_to_source
from .structure import Irreducible, structure

EXTRA = 1 | (0xF << 6)  # r0, r6..r9
BREAKABLE_ATTEMPTS: tuple[int | None, ...] = (None, 3, 2)
"""Structuring tries plain blocks first, then breakable blocks for merge nodes of many
and then of two in-edges, before falling back to a dispatch loop."""
SIGNATURE = "D, r1=0, r2=0, r3=0, r4=0, r5=0, r0=0, r6=0, r7=0, r8=0, r9=0"


@dataclass
class ProgramCode:
    """The generated module of one executable."""

    name: str
    source: str
    code: CodeType
    functions: dict[tuple[int, bool], str]
    caches: list[int]
    helpers: dict[int, object]
    pc_of_line: list[int] = field(repr=False)
    dispatch: list[str] = field(default_factory=list)
    """Functions drawn as a dispatch loop (irreducible, or too deep to structure)."""

    def reset_values(self) -> dict[str, object]:
        """Globals that empty every memory instruction's cache."""
        out: dict[str, object] = {}
        for pc in self.caches:
            out[f"c{pc}b"], out[f"c{pc}e"], out[f"c{pc}v"] = 0, -1, None  # no offset hits
            out[f"c{pc}a"], out[f"c{pc}g"] = None, None
        return out

    def pc_at(self, lineno: int) -> int:
        """The instruction a line of the source belongs to (-1: none)."""
        i = lineno - 1
        return self.pc_of_line[i] if 0 <= i < len(self.pc_of_line) else -1


def _local_calls(graph: Graph) -> dict[int, int]:
    """pc of each bpf-to-bpf call in the function -> its target."""
    out = {}
    for node in graph.nodes:
        for pc in node.pcs:
            insn = graph.insns[pc]
            if insn.cls == InsnClass.JMP and insn.op == JmpOp.CALL and insn.src == PseudoCall.CALL \
                    and insn.source == 0:  # fmt: skip
                out[pc] = pc + 1 + insn.imm
    return out


class _Generator:
    def __init__(
        self, exe: Executable, entries: tuple[int, ...], budget: bool, force_dispatch: bool
    ) -> None:
        self.exe = exe
        self.entries = entries
        self.budget = budget
        self.force_dispatch = force_dispatch
        self.graphs: dict[int, Graph] = {}
        self.calls: dict[int, dict[int, int]] = {}
        work = list(entries)
        while work:
            e = work.pop()
            if e in self.graphs:
                continue
            g = Graph(exe.insns, e)
            self.graphs[e] = g
            self.calls[e] = _local_calls(g)
            work.extend(self.calls[e].values())
        self.live_in = self._live_ins()
        self.names = ModuleNames()
        self.requested: dict[tuple[int, bool], str] = {}
        self.queue: list[tuple[int, bool]] = []
        for e in entries:
            self.function_name(e, False)
        self.dispatch: list[str] = []

    def _live_ins(self) -> dict[int, int]:
        live = {e: 0 for e in self.graphs}
        changed = True
        while changed:
            changed = False
            for e, g in self.graphs.items():
                calls = self.calls[e]

                def callee_live_in(pc: int, calls: dict[int, int] = calls) -> int:
                    return live.get(calls.get(pc, -1), 0) & EXTRA

                lv = Liveness(g, callee_live_in)
                if lv.entry != live[e]:
                    live[e] = lv.entry
                    changed = True
        return live

    def function_name(self, entry: int, wants_regs: bool) -> str:
        key = (entry, wants_regs)
        name = self.requested.get(key)
        if name is None:
            name = f"f{entry}" + ("_t" if wants_regs else "") if entry >= 0 else f"fm{-entry}"
            self.requested[key] = name
            self.queue.append(key)
        return name

    def callee(self, target: int, wants_regs: bool) -> Callee:
        name = self.function_name(target, wants_regs)
        extra = self.live_in.get(target, 0) & EXTRA
        return Callee(name, tuple(r for r in range(10) if extra >> r & 1))

    def function(self, entry: int, tuple_return: bool) -> tuple[list[Line], list[int]]:
        g = self.graphs[entry]
        calls = self.calls[entry]
        exit_uses = 1 | (ARGS if tuple_return else 0)
        live = Liveness(g, lambda pc: self.live_in.get(calls.get(pc, -1), 0) & EXTRA, exit_uses)
        stack = stack_offsets(g)
        first_cache = len(self.names.caches)
        em = Emitter(self.exe, self.names, self.callee, tuple_return, self.budget)
        ranges = FunctionRanges(g, lambda pc: live.effects(pc)[0], em.frame_address, stack)
        r = FunctionRenderer(g, em, live, stack, ranges)
        name = self.requested[(entry, tuple_return)]
        body: list[Line] | None = None
        attempts = () if self.force_dispatch else BREAKABLE_ATTEMPTS
        for breakable_from in attempts:
            try:
                body = r.structured(structure(g, breakable_from), 1)
                break
            except Irreducible:
                break
            except (TooDeep, RecursionError):
                em.reset()
                del self.names.caches[first_cache:]
                r = FunctionRenderer(g, em, live, stack, ranges)
        if body is None:
            self.dispatch.append(name)
            em.reset()
            del self.names.caches[first_cache:]
            r = FunctionRenderer(g, em, live, stack, ranges)
            body = r.dispatch(1)
        caches = self.names.caches[first_cache:]
        head: list[Line] = [(0, f"def {name}({SIGNATURE}):", -1)]
        if caches:
            names = ", ".join(f"c{pc}{k}" for pc in caches for k in "bevag")
            head.append((1, f"global {names}", -1))
        if em.uses_frame or em.uses_r10:
            self.names.uses_frames = True
            head.append((1, "F = FR(D)", -1))
            for view in sorted(em.views):
                attr = "buf" if view == "Fb" else view[1:]
                head.append((1, f"{view} = F.{attr}", -1))
            if em.uses_r10:
                head.append((1, "r10 = F.end", -1))
        head.extend((1, text, -1) for text in em.prologue())
        if r.uses_label:
            head.append((1, "L = -1", -1))
        return head + body, caches

    def generate(self) -> tuple[str, list[int]]:
        lines: list[Line] = [(0, f"# pybpf python tier: {self.exe.name or 'program'}", -1)]
        while self.queue:
            entry, tuple_return = self.queue.pop(0)
            fn_lines, _ = self.function(entry, tuple_return)
            lines.extend(fn_lines)
        lines.extend(self.repeat_loop())
        pc_of_line: list[int] = []
        return lines_to_source(lines, pc_of_line) + "\n", pc_of_line

    def repeat_loop(self) -> list[Line]:
        """``REPEAT(n, r1)``: ``n`` runs of the first entry, each started as
        :meth:`PythonRunner.run` starts one (only what the code can have changed is
        reset), a packet load out of range returning 0; r0 of the last run."""
        if not self.entries:
            return []
        first = self.requested[(self.entries[0], False)]
        if self.names.calls_out:
            start = ["BEGIN()"]
        elif self.names.uses_frames:
            start = ["START()"]
        else:
            start = []
        return [(0, "def REPEAT(n, r1):", -1), (1, "r0 = 0", -1), (1, "for _ in range(n):", -1),
                *((2, text, -1) for text in start), (2, "try:", -1),
                (3, f"r0 = {first}(0, r1)", -1), (2, "except PEXIT:", -1), (3, "r0 = 0", -1),
                (1, "return r0", -1)]  # fmt: skip


_CODE: weakref.WeakKeyDictionary[Executable, dict[tuple[tuple[int, ...], bool], ProgramCode]] = (
    weakref.WeakKeyDictionary()
)


def generate(exe: Executable, entries: tuple[int, ...] = (0,), budget: bool = False) -> ProgramCode:
    """The module for ``exe`` with functions for ``entries`` (and everything they call),
    made once and cached with the executable.  ``budget`` adds the budget checks of
    backward jumps (for runs given an instruction budget)."""
    per_exe = _CODE.setdefault(exe, {})
    key = (entries, budget)
    found = per_exe.get(key)
    if found is not None:
        return found
    made = _make(exe, entries, budget, force_dispatch=False)
    per_exe[key] = made
    return made


def _make(
    exe: Executable, entries: tuple[int, ...], budget: bool, force_dispatch: bool
) -> ProgramCode:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        gen = _Generator(exe, entries, budget, force_dispatch)
        source, pc_of_line = gen.generate()
        filename = f"<pybpf python tier {exe.name or 'program'}>"
        try:
            code = compile(source, filename, "exec")
        except (SyntaxError, RecursionError, MemoryError) as exc:
            if not force_dispatch:
                return _make(exe, entries, budget, force_dispatch=True)
            raise BpfError(
                errno.E2BIG, f"the python tier cannot compile this program: {exc}"
            ) from None
    finally:
        sys.setrecursionlimit(limit)
    functions = dict(gen.requested)
    return ProgramCode(exe.name, source, code, functions, list(dict.fromkeys(gen.names.caches)),
                       dict(gen.names.helpers), pc_of_line, gen.dispatch)  # fmt: skip
