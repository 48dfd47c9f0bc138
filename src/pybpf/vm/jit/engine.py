"""IR to native code with llvmlite's MCJIT, cached by the program's hash.

The cache key is what the native code depends on: the instruction bytes (which hold map
addresses), the function entries, the map facts compiled into inline helpers, the
helpers the calls reach, and the code address where function pointers are loaded.  Two
loads of one program share one compiled module.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import llvmlite.binding as llvm

from ...isa.insn import encode
from ...isa.opcodes import OPCODE_LDDW, InsnClass, JmpOp, Source
from ..executable import Executable
from .codegen import Generated, Generator, entries_of
from .ops import Op

FUNCTION = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p)
REPEAT = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64,
                          ctypes.c_uint64, ctypes.c_uint64)  # fmt: skip
KEEP = 256
"""Compiled programs kept by hash beyond those an executable still holds."""

_lock = threading.Lock()
_target: Any = None
_by_key: OrderedDict[Hashable, Compiled] = OrderedDict()
CODES: weakref.WeakValueDictionary[int, Compiled] = weakref.WeakValueDictionary()
"""Live compiled programs by uid (the high bits of an operation number)."""


FULL, FAST = "full", "fast"
FULL_UP_TO = 400
"""Programs up to this many instructions get the full pipeline; larger ones the fast one
(the machine code generator's optimising mode costs about ten times its fast mode)."""


def level_for(n_insns: int, hot: bool = True) -> str:
    """``PYBPF_JIT_OPT`` (full or fast) when set; else full for a hot program (one run
    many times) of at most ``FULL_UP_TO`` instructions, fast for the rest."""
    forced = os.environ.get("PYBPF_JIT_OPT", "")
    if forced in (FULL, FAST):
        return forced
    return FULL if hot and n_insns <= FULL_UP_TO else FAST


def verifying() -> bool:
    """``PYBPF_JIT_VERIFY=1``: check every module with LLVM's verifier before it is
    compiled (the tests do; a generated module is otherwise trusted: the check measured
    3-5 % of a fast compile, 3.4 ms of a 1,000-instruction program's)."""
    return os.environ.get("PYBPF_JIT_VERIFY", "") == "1"


def _target_machine(level: str = FULL, codemodel: str = "jitdefault") -> Any:
    """A new target machine: an MCJIT engine owns (and disposes of) the one it is given,
    so every engine needs its own (0.13-0.3 ms measured)."""
    global _target
    if _target is None:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _target = llvm.Target.from_default_triple()
    return _target.create_target_machine(opt=2 if level == FULL else 0, jit=True, codemodel=codemodel)


_emitters = threading.local()


def _emitter(level: str) -> Any:
    """This thread's target machine for making object code at ``level`` (kept: only an
    engine's own machine must be new).

    It uses the small code model: the JIT's default (large) makes LLVM's fast
    instruction selector give up on every direct call (``repeat`` calling ``f0``, a
    BPF-to-BPF call), and the whole function then goes through the slow selector
    (``repeat`` alone: 2.3 -> 1.2 ms).  The object's calls to functions outside it
    (``memset``, ``clock_gettime``) are PLT relocations, which MCJIT's loader points at
    stubs of its own, so the code may be loaded anywhere."""
    machine = getattr(_emitters, level, None)
    if machine is None:
        machine = _target_machine(level, "small")
        setattr(_emitters, level, machine)
    return machine


def _optimize(module: Any, machine: Any, level: str = FULL) -> None:
    """``full``: a short pipeline -- registers to SSA, combine, simplify the CFG (the
    standard -O2 pipeline costs five times as much and gains little on code this
    low-level); the optimising code generator does the rest.

    ``fast``: no IR passes at all.  The generator already keeps a block's registers in
    SSA values, and LLVM's fast register allocator spills every value that lives across
    blocks to the stack anyway, so promoting the register allocas (SROA, a fifth of a
    fast compile) or merging blocks gains the fast code nothing measurable."""
    if level != FULL:
        return
    builder = llvm.create_pass_builder(machine, llvm.create_pipeline_tuning_options(speed_level=0))
    manager = llvm.create_new_module_pass_manager()
    manager.add_sroa_pass()
    manager.add_instruction_combine_pass()
    manager.add_simplify_cfg_pass()
    manager.run(module, builder)


def _empty_module() -> Any:
    """The module an engine is made with (its code comes as an object file)."""
    return llvm.parse_assembly("")


class Compiled:
    """One executable's native functions and the Python operations they call."""

    def __init__(self, gen: Generated, level: str = FULL) -> None:
        start = time.perf_counter()
        machine = _emitter(level)
        module = llvm.parse_assembly(gen.ir)
        if verifying():
            module.verify()
        _optimize(module, machine, level)
        # Object code made by the target machine directly: MCJIT's own code generation
        # runs LLVM's verifier twice more on every module.
        obj = llvm.ObjectFileRef.from_data(machine.emit_object(module))
        self.engine = llvm.create_mcjit_compiler(_empty_module(), _target_machine(level))
        self.engine.add_object_file(obj)
        self.engine.finalize_object()
        self.uid = gen.uid
        self.ops: list[Op] = gen.ops
        self.cache = gen.cache
        self.fields = gen.fields
        self.tails = gen.tails
        self.entries = gen.entries
        self.addresses = {e: self.engine.get_function_address(f"f{e}") for e in gen.entries}
        self.functions = {e: FUNCTION(a) for e, a in self.addresses.items()}
        self.repeat = REPEAT(self.engine.get_function_address("repeat"))
        self.compile_seconds = time.perf_counter() - start
        self.ir = gen.ir
        self.level = level
        self.zero = gen.zero
        CODES[self.uid] = self


_CALLS = frozenset(cls | JmpOp.CALL | src for cls in (InsnClass.JMP, InsnClass.JMP32) for src in Source)


def _key(exe: Executable, gen_entries: tuple[int, ...], maps_key: Hashable) -> Hashable:
    insns = exe.insns
    raw = encode(insns)
    helpers: list[tuple[int, int]] = []
    extra: list[int] = []
    for pc, insn in enumerate(insns):
        code = insn.code
        if code in _CALLS:
            if code & Source.X:
                extra.append(id(exe))  # callx reaches any helper of this executable
            elif insn.src == 0:
                found = exe.helpers.get(insn.imm)
                helpers.append((insn.imm, id(found.fn) if found is not None else 0))
        elif code == OPCODE_LDDW and insn.src == 4 and not (pc > 0 and insns[pc - 1].is_lddw):
            extra.append(exe.code_region.base)
    probes = tuple(sorted(exe.probe_loads))  # their misses read 0 at a bad address
    return (hashlib.sha256(raw).digest(), gen_entries, maps_key, tuple(sorted(set(helpers))), tuple(extra), probes)


def compile_executable(exe: Executable, extra_entries: tuple[int, ...] = (), level: str | None = None) -> Compiled:
    """The native code of ``exe`` at ``level`` (default: as for a hot program), from the
    cache when the same program was compiled."""
    entries = entries_of(exe, extra_entries)
    gen = Generator(exe, entries)
    level = level or level_for(len(exe.insns))
    key = (_key(exe, entries, gen.inline.maps_key()), level)
    with _lock:
        found = _by_key.get(key)
        if found is not None:
            _by_key.move_to_end(key)
            return found
    compiled = Compiled(gen.generate(), level)
    with _lock:
        _by_key[key] = compiled
        while len(_by_key) > KEEP:
            _by_key.popitem(last=False)
    return compiled
