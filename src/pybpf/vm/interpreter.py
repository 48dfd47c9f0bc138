"""The reference interpreter: exact 64-bit semantics, one instruction at a time.

Each instruction is turned once into a small Python closure that does its work on the
register list and returns the next program counter, so running is a tight loop of calls.
Memory goes through the one memory model (:mod:`pybpf.memory`): every load and store is
checked against the live regions and an access outside them is a :class:`MemoryFault`
naming the instruction.  bpf-to-bpf calls get a fresh 512-byte stack per frame (at most
eight frames, zeroed on first use in a run); tail calls switch program in the current
frame, at most 33 times a run.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from ..errors import BpfError, MemoryFault, RuntimeFault
from ..isa.insn import Insn, lddw_value
from ..isa.opcodes import (
    MAX_CALL_FRAMES,
    MAX_TAIL_CALL_CNT,
    TO_BE,
    AluOp,
    AtomicOp,
    InsnClass,
    JmpOp,
    Mode,
    PseudoCall,
    Size,
    Source,
)
from ..isa.semantics import alu32, alu64, endian, sign_extend
from ..kernel.env import RunEnv
from ..kernel.helpers import neg
from ..kernel.state import Kernel, default_kernel
from ..memory import MEMORY, RegionKind, allocate
from .executable import Executable
from .frames import StackFrames
from .handlers import ALU, COND, BudgetExceeded, load_factory, store_factory
from .slowpath import load_miss, probe_load_miss, store_miss

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
TAIL_CALL_HELPER = 12
MAY_GOTO_BUDGET = 8 * 1024 * 1024

Handler = Callable[[list[int]], int]
TraceHook = Callable[[int, list[int]], None]


class _Exit(Exception):
    """The outermost frame executed ``exit``."""


class _Switch(Exception):
    """Control moves to another program's code (tail call, or a return across one)."""

    def __init__(self, code: _Code | None, pc: int) -> None:
        self.code = code
        self.pc = pc


class _Code:
    """The compiled closures of one executable, for one interpreter."""

    __slots__ = ("exe", "handlers")

    def __init__(self, exe: Executable, handlers: list[Handler]) -> None:
        self.exe = exe
        self.handlers = handlers


class Interpreter:
    """Runs executables on the shared memory model.  Not re-entrant across threads."""

    def __init__(self, kernel: Kernel | None = None) -> None:
        self.kernel = kernel or default_kernel()
        self.stacks = StackFrames()
        self._compiled: dict[int, _Code] = {}
        # per-run state, reset by run()
        self.frames: list[tuple[_Code | None, int, int, int, int, int, int]] = []
        self.tail_calls = 0
        self.budget = [0]
        self.may_goto = [0]
        self.env = RunEnv(self.kernel)
        self._caches: list[list[Any]] = []
        self._generation = -1

    # --- compilation -----------------------------------------------------------------

    def prepare(self, exe: Executable) -> None:
        """Build the closures of ``exe`` ahead of its runs."""
        self.code_for(exe)

    def code_for(self, exe: Executable) -> _Code:
        code = self._compiled.get(id(exe))
        if code is None or code.exe is not exe:
            code = _Code(exe, [])
            code.handlers.extend(self._compile(exe, code))
            self._compiled[id(exe)] = code
        return code

    def _compile(self, exe: Executable, code: _Code) -> list[Handler]:
        insns = exe.insns
        out: list[Handler] = []
        for pc, insn in enumerate(insns):
            if pc > 0 and insns[pc - 1].is_lddw:
                out.append(_never(pc))
                continue
            out.append(self._handler(exe, code, insns, pc, insn))
        return out

    def _handler(
        self, exe: Executable, code: _Code, insns: Any, pc: int, insn: Insn
    ) -> Handler:
        cls, nxt = insn.cls, pc + 1
        d, s, off, imm = insn.dst, insn.src, insn.off, insn.imm
        if cls in (InsnClass.ALU, InsnClass.ALU64):
            return _alu(insn, nxt)
        if cls == InsnClass.LDX:
            size = _BYTES[insn.size]
            miss = probe_load_miss if pc in exe.probe_loads else load_miss
            return load_factory(d, s, off, size, insn.mode == Mode.MEMSX, nxt, pc, self._cache(), miss)
        if cls == InsnClass.STX and insn.mode == Mode.MEM:
            size = _BYTES[insn.size]
            return store_factory(d, s, 0, off, size, nxt, pc, self._cache(), store_miss)
        if cls == InsnClass.ST:
            size = _BYTES[insn.size]
            return store_factory(d, None, imm, off, size, nxt, pc, self._cache(), store_miss)
        if cls == InsnClass.STX and insn.mode == Mode.ATOMIC:
            return _atomic(insn, nxt, pc)
        if insn.is_lddw:
            if pc + 1 >= len(insns):
                return _never(pc)
            value = lddw_value(insn, insns[pc + 1])
            if insn.src == 4:  # BPF_PSEUDO_FUNC: the address of instruction pc+1+imm
                value = exe.function_address(pc + 1 + insn.imm)

            def lddw_h(r: list[int], d: int = d, value: int = value, nxt: int = pc + 2) -> int:
                r[d] = value
                return nxt

            return lddw_h
        if cls == InsnClass.LD and insn.mode in (Mode.ABS, Mode.IND):
            return self._ld_pkt(insn, nxt, pc)
        if cls in (InsnClass.JMP, InsnClass.JMP32):
            return self._jmp(exe, code, insn, pc)
        return _never(pc)

    def _jmp(self, exe: Executable, code: _Code, insn: Insn, pc: int) -> Handler:
        cls, op, nxt = insn.cls, insn.op, pc + 1
        d, s, off, imm = insn.dst, insn.src, insn.off, insn.imm
        if op == JmpOp.JA:
            target = nxt + (imm if cls == InsnClass.JMP32 else off)
            return self._goto(target, pc)
        if op == JmpOp.EXIT:
            return self._exit(code)
        if op == JmpOp.CALL:
            if insn.source == Source.X:
                return self._callx(exe, d, nxt, pc)
            if s == PseudoCall.CALL:
                return self._call_local(code, nxt + imm, nxt, pc)
            if s == PseudoCall.HELPER and imm == TAIL_CALL_HELPER:
                return self._tail_call(nxt, pc)
            if s == PseudoCall.HELPER:
                return self._call_helper(exe, imm, nxt, pc)
            return _fault(pc, f"call to kernel function #{imm}: kfuncs are not available here")
        if op == JmpOp.JCOND:
            return self._may_goto(nxt + off, nxt)
        target = nxt + off
        if target < 0:  # a list index would wrap around: fault as past-the-end targets do
            return _fault(target, "jumped out of the program", errno.EINVAL)
        is32 = cls == InsnClass.JMP32
        factory = COND.get((is32, op, insn.source == Source.X, off < 0))
        if factory is None:
            return _fault(pc, f"unknown jump operation {op:#x}", errno.EINVAL)
        if insn.source == Source.K:
            const = imm & M32 if is32 else imm & M64
            return factory(d, const, target, nxt, self.budget)
        return factory(d, s, target, nxt, self.budget)

    def _goto(self, target: int, pc: int) -> Handler:
        budget = self.budget
        if target < 0:
            return _fault(target, "jumped out of the program", errno.EINVAL)
        if target > pc:
            def goto(r: list[int]) -> int:
                return target

            return goto

        def goto_back(r: list[int]) -> int:
            budget[0] -= 1
            if budget[0] < 0:
                raise BudgetExceeded
            return target

        return goto_back

    def _cache(self) -> list[Any]:
        cache: list[Any] = [1, 0, None]
        self._caches.append(cache)
        return cache

    def _may_goto(self, target: int, nxt: int) -> Handler:
        counter = self.may_goto

        def may_goto(r: list[int]) -> int:
            if counter[0] == 0:
                return target
            counter[0] -= 1
            return nxt

        return may_goto

    def _exit(self, code: _Code) -> Handler:
        frames = self.frames

        def exit_h(r: list[int]) -> int:
            if not frames:
                raise _Exit
            back, ret, r[6], r[7], r[8], r[9], r[10] = frames.pop()
            if back is not code:
                raise _Switch(back, ret)
            return ret

        return exit_h

    def _call_local(self, code: _Code, target: int, nxt: int, pc: int) -> Handler:
        frames, stacks = self.frames, self.stacks

        if target < 0:
            return _fault(target, "jumped out of the program", errno.EINVAL)

        def call_local(r: list[int]) -> int:
            depth = len(frames) + 1
            if depth >= MAX_CALL_FRAMES:
                raise RuntimeFault(pc, f"the call stack of {depth + 1} frames is too deep", errno.E2BIG)
            frames.append((code, nxt, r[6], r[7], r[8], r[9], r[10]))
            r[10] = stacks.enter(depth).end
            return target

        return call_local

    def _call_helper(self, exe: Executable, helper_id: int, nxt: int, pc: int) -> Handler:
        helper = exe.helpers.get(helper_id)
        if helper is None:
            return _fault(pc, f"helper #{helper_id} is not implemented by pybpf", errno.ENOTSUP)
        fn = helper.fn
        env = self.env

        def call_helper(r: list[int]) -> int:
            env.pc = pc
            r[0] = fn(env, r[1], r[2], r[3], r[4], r[5]) & M64
            return nxt

        return call_helper

    def _callx(self, exe: Executable, reg: int, nxt: int, pc: int) -> Handler:
        """``call rN``: the helper whose id the register holds (as uBPF numbers it)."""
        env, helpers = self.env, exe.helpers

        def callx(r: list[int]) -> int:
            helper = helpers.get(r[reg])
            if helper is None:
                raise RuntimeFault(pc, f"callx to unknown helper #{r[reg]}", errno.ENOTSUP)
            env.pc = pc
            r[0] = helper.fn(env, r[1], r[2], r[3], r[4], r[5]) & M64
            return nxt

        return callx

    def _tail_call(self, nxt: int, pc: int) -> Handler:
        from ..maps.base import map_at

        def tail_call(r: list[int]) -> int:
            prog_array = map_at(r[2])
            if prog_array is None:
                raise RuntimeFault(pc, "bpf_tail_call: r2 is not a map")
            index = r[3] & M32
            if index >= prog_array.spec.max_entries or self.tail_calls >= MAX_TAIL_CALL_CNT:
                return nxt
            target = prog_array.get_program(index)  # type: ignore[attr-defined]
            if target is None:
                return nxt
            self.tail_calls += 1
            exe = getattr(target, "executable", target)
            raise _Switch(self.code_for(exe), 0)

        return tail_call

    def _ld_pkt(self, insn: Insn, nxt: int, pc: int) -> Handler:
        """LD_ABS/LD_IND: big-endian packet loads through the skb in r6; out of range ends
        the program with r0 = 0, as the kernel's legacy loads do."""
        size = {Size.B: 1, Size.H: 2, Size.W: 4}[Size(insn.size)]
        indirect = insn.mode == Mode.IND
        s, imm, env = insn.src, insn.imm, self.env

        def ld_pkt(r: list[int]) -> int:
            skb = env.ctx
            if skb is None or not hasattr(skb, "load_bytes_relative"):
                raise RuntimeFault(pc, "LD_ABS/LD_IND needs an skb context")
            offset = ((r[s] & M32) + imm) if indirect else imm
            offset = sign_extend(offset & M32, 32)
            data = skb.load_bytes_relative(offset, size)
            if data is None:
                r[0] = 0
                raise _Exit
            r[0] = int.from_bytes(data, "big")
            return nxt

        return ld_pkt

    # --- running ---------------------------------------------------------------------

    def run(
        self,
        exe: Executable,
        r1: int = 0,
        r2: int = 0,
        *,
        ctx: Any = None,
        cpu: int = 0,
        budget: int = 1 << 40,
        trace: TraceHook | None = None,
    ) -> int:
        """Run ``exe`` from its first instruction with r1 (and r2) set; returns r0.

        ``budget`` bounds the number of backward jumps taken (a guard against programs
        that were not verified); ``trace`` is called before every instruction.
        """
        env = self.env
        env.ctx, env.cpu, env.program = ctx, cpu, exe.owner
        env.call_function = self.call_function
        self.frames.clear()
        self.tail_calls = 0
        self.budget[0] = budget
        self.may_goto[0] = MAY_GOTO_BUDGET
        frame0 = self.stacks.start_run()
        if self._generation != MEMORY.generation:
            for cache in self._caches:
                cache[0], cache[1], cache[2] = 1, 0, None
            self._generation = MEMORY.generation
        regs = [0] * 11
        regs[1], regs[2] = r1 & M64, r2 & M64
        regs[10] = frame0.end
        return self._loop(self.code_for(exe), 0, regs, trace)

    def _loop(self, code: _Code | None, pc: int, r: list[int], trace: TraceHook | None) -> int:
        try:
            while True:
                assert code is not None
                handlers = code.handlers
                try:
                    if trace is None:
                        while True:
                            pc = handlers[pc](r)
                    else:
                        while True:
                            trace(pc, r)
                            pc = handlers[pc](r)
                except _Switch as sw:
                    if sw.code is None:  # a callback returned to its host caller
                        return r[0]
                    code, pc = sw.code, sw.pc
                except IndexError:
                    if 0 <= pc < len(handlers):
                        raise
                    raise RuntimeFault(pc, "jumped out of the program", errno.EINVAL) from None
        except _Exit:
            return r[0]
        except BudgetExceeded:
            raise RuntimeFault(pc, "instruction budget exhausted (a loop that does not end?)", errno.ELOOP) from None
        except MemoryFault as fault:
            if fault.pc < 0:
                raise MemoryFault(pc, fault.addr, fault.size, fault.write) from None
            raise
        except (BpfError, RecursionError):
            raise

    def call_function(self, address: int, args: tuple[int, ...]) -> int:
        """Call the BPF subprogram at ``address`` (a code address) from a helper."""
        region = MEMORY.region_at(address)
        if region is None or not isinstance(region.owner, Executable):
            raise RuntimeFault(self.env.pc, f"0x{address:x} is not a BPF function")
        exe = region.owner
        target = (address - region.base) // 8
        depth = len(self.frames) + 1
        if depth >= MAX_CALL_FRAMES:
            raise RuntimeFault(self.env.pc, "callback nests too deep", errno.E2BIG)
        regs = [0] * 11
        for i, value in enumerate(args[:5]):
            regs[i + 1] = value & M64
        self.frames.append((None, 0, 0, 0, 0, 0, 0))
        regs[10] = self.stacks.enter(depth).end
        saved_pc = self.env.pc
        try:
            return self._loop(self.code_for(exe), target, regs, None)
        finally:
            self.env.pc = saved_pc


# --- handler factories (module level: they capture only plain values) -----------------


def _never(pc: int) -> Handler:
    def never(r: list[int]) -> int:
        raise RuntimeFault(pc, "jumped into the middle of an lddw", errno.EINVAL)

    return never


def _fault(pc: int, reason: str, err: int = errno.EFAULT) -> Handler:
    def fault(r: list[int]) -> int:
        raise RuntimeFault(pc, reason, err)

    return fault


_BYTES: dict[int, int] = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}


def _alu(insn: Insn, nxt: int) -> Handler:
    d, s, off, op = insn.dst, insn.src, insn.off, insn.op
    is64 = insn.cls == InsnClass.ALU64
    if op == AluOp.END:
        bits, to_big, uncond = insn.imm, insn.source == TO_BE, is64

        def end(r: list[int]) -> int:
            r[d] = endian(r[d], bits, to_big, uncond)
            return nxt

        return end
    special = (op in (AluOp.DIV, AluOp.MOD) and off == 1) or (op == AluOp.MOV and off != 0)
    reg = insn.source == Source.X and op != AluOp.NEG
    if not special:
        factory = ALU[(is64, op, reg)]
        if reg:
            return factory(d, s, nxt)
        return factory(d, insn.imm & (M64 if is64 else M32), nxt)
    # signed division and modulo, sign-extending moves: the general semantics
    fn = alu64 if is64 else alu32
    if reg:
        def alu_x(r: list[int]) -> int:
            r[d] = fn(op, r[d], r[s], off)
            return nxt

        return alu_x
    imm = insn.imm & M64

    def alu_k(r: list[int]) -> int:
        r[d] = fn(op, r[d], imm, off)
        return nxt

    return alu_k


def _atomic(insn: Insn, nxt: int, pc: int) -> Handler:
    d, s, off, op = insn.dst, insn.src, insn.off, insn.imm
    size = _BYTES[insn.size]
    mask = (1 << (size * 8)) - 1
    load, store = MEMORY.load, MEMORY.store
    if op == AtomicOp.LOAD_ACQ:
        def load_acquire(r: list[int]) -> int:
            r[d] = load((r[s] + off) & M64, size, pc)
            return nxt
        return load_acquire
    if op == AtomicOp.STORE_REL:
        def store_release(r: list[int]) -> int:
            store((r[d] + off) & M64, size, r[s], pc)
            return nxt
        return store_release
    base_op = op & ~1
    fetch = bool(op & 1)
    atomic_alu: dict[int, int] = {AtomicOp.ADD: AluOp.ADD, AtomicOp.AND: AluOp.AND,
                                  AtomicOp.OR: AluOp.OR, AtomicOp.XOR: AluOp.XOR}  # fmt: skip
    alu_op = atomic_alu.get(base_op)
    if op == AtomicOp.XCHG:
        def xchg(r: list[int]) -> int:
            addr = (r[d] + off) & M64
            old = load(addr, size, pc)
            store(addr, size, r[s], pc)
            r[s] = old
            return nxt
        return xchg
    if op == AtomicOp.CMPXCHG:
        def cmpxchg(r: list[int]) -> int:
            addr = (r[d] + off) & M64
            old = load(addr, size, pc)
            if old == r[0] & mask:
                store(addr, size, r[s], pc)
            r[0] = old
            return nxt
        return cmpxchg
    if alu_op is None:
        return _fault(pc, f"unknown atomic operation {op:#x}", errno.EINVAL)

    def atomic_rmw(r: list[int]) -> int:
        addr = (r[d] + off) & M64
        old = load(addr, size, pc)
        store(addr, size, alu64(alu_op, old, r[s]) & mask, pc)
        if fetch:
            r[s] = old
        return nxt

    return atomic_rmw


def run_raw(insns: list[Insn], mem: bytes = b"", kernel: Kernel | None = None) -> int:
    """Run bare instructions with r1 = a buffer holding ``mem`` and r2 = its length."""
    interp = Interpreter(kernel)
    exe = Executable(insns, "raw")
    buf = allocate(max(len(mem), 1), RegionKind.MEM, "input", True, mem)
    try:
        return interp.run(exe, buf.base if mem else 0, len(mem))
    finally:
        MEMORY.remove(buf)


__all__ = ["Interpreter", "neg", "run_raw"]
