"""Python statements for single instructions, with the interpreter's exact semantics.

Registers are locals ``r0``..``r10`` holding unsigned 64-bit values.  Expressions mask
only where a result can leave ``[0, 2**64)`` (or ``[0, 2**32)`` for 32-bit operations).
Memory goes three ways:

- an access through a register known to point into the current frame at a fixed offset
  (see :mod:`.dataflow`) indexes a typed view of the frame's buffer (``Fq[i]`` for an
  aligned u64), no address check needed;
- any other access checks its own one-region cache (globals ``c<pc>b``, ``c<pc>e``,
  ``c<pc>v``: base, last valid offset, buffer) and on a miss calls the shared slow path
  (:mod:`pybpf.vm.slowpath`), which resolves the region, applies context-field hooks and
  raises the :class:`MemoryFault` naming the instruction;
- atomics go through the memory model every time, as in the interpreter.

Rare operations (signed division, sign-extending moves, byte swaps) call the one
definition in :mod:`pybpf.isa.semantics`.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field

from ...isa.insn import Insn, lddw_value
from ...isa.opcodes import (
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
from ..executable import Executable
from .dataflow import ARGS, TAIL_CALL_HELPER, StackState, stack_step
from .ranges import special

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
SIGN64 = 1 << 63
SIGN32 = 1 << 31
MAX_DEPTH = 7  # a call from depth 7 would make the ninth frame
BYTES = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}
VIEW = {1: "b", 2: "h", 4: "w", 8: "q"}
FRAME_SIZE = 512

H64, H32, HS64, HS32 = hex(M64), hex(M32), hex(SIGN64), hex(SIGN32)
BITWISE: dict[int, str] = {AluOp.OR: "|", AluOp.AND: "&", AluOp.XOR: "^"}


@dataclass
class Callee:
    """What a call site needs to know about the function it enters."""

    name: str
    extra: tuple[int, ...]
    """Registers besides r1..r5 the callee reads before writing (r0, r6..r9)."""


@dataclass
class ModuleNames:
    """Globals the generated module uses, shared by all its functions."""

    caches: list[int] = field(default_factory=list)
    helpers: dict[int, object] = field(default_factory=dict)
    consts: dict[str, object] = field(default_factory=dict)
    calls_out: bool = False
    """Whether any function reaches run state beyond its frames (helpers, tail calls,
    ``may_goto``): a repeat loop then starts every run as :meth:`PythonRunner.run` does."""
    uses_frames: bool = False
    """Whether any function uses a stack frame (each run must start with it zeroed)."""


class Emitter:
    """Statements for the instructions of one function."""

    def __init__(
        self,
        exe: Executable,
        names: ModuleNames,
        callee: Callable[[int, bool], Callee],
        tuple_return: bool,
        budget: bool,
    ) -> None:
        self.exe = exe
        self.insns = exe.insns
        self.names = names
        self.callee = callee
        self.tuple_return = tuple_return
        self.budget = budget
        self.views: set[str] = set()
        self.uses_r10 = False
        self.uses_frame = False
        self.in_loop = False
        """Whether the instructions being drawn run inside a loop (set by the renderer):
        their memory caches and struct functions are then read from locals."""
        self.local_caches: dict[int, None] = {}
        """pcs whose cache (base, last, buffer) the function copies into locals."""
        self.local_structs: set[str] = set()
        """Struct functions (``U2`` ...) the function copies into locals (``lU2``)."""

    def reset(self) -> None:
        """Forget what the function's prologue must set up (a fresh drawing follows)."""
        self.views.clear()
        self.uses_frame = self.uses_r10 = self.in_loop = False
        self.local_caches.clear()
        self.local_structs.clear()

    def prologue(self) -> list[str]:
        """Copies of the globals the loops of the function read (locals are faster)."""
        out = [f"{fn} = {fn[1:]}" for fn in sorted(self.local_structs)]
        for pc in self.local_caches:
            out.append(f"b{pc}, e{pc}, v{pc} = c{pc}b, c{pc}e, c{pc}v")
        return out

    # --- helpers ---------------------------------------------------------------------

    def reg(self, r: int) -> str:
        if r == 10:
            self.uses_r10 = True
        return f"r{r}"

    def fault(self, pc: int, reason: str, err: int = errno.EFAULT) -> str:
        return f"raise FAULT({pc}, {reason!r}, {err})"

    def returns(self) -> str:
        if self.tuple_return:
            return "return r0, r1, r2, r3, r4, r5"
        return "return r0"

    # --- one instruction ---------------------------------------------------------------

    def insn(self, pc: int, stack: StackState, live_after: int) -> list[str]:
        """Statements for the instruction at ``pc`` (not a jump, exit or condition)."""
        insn = self.insns[pc]
        cls = insn.cls
        if insn.is_lddw:
            value = lddw_value(insn, self.insns[pc + 1])
            if insn.src == 4:  # BPF_PSEUDO_FUNC: the address of instruction pc+1+imm
                value = self.exe.function_address(pc + 1 + insn.imm)
            return [f"{self.reg(insn.dst)} = {value:#x}"]
        if cls in (InsnClass.ALU64, InsnClass.ALU):
            tmpl = self.alu_template(insn)
            if tmpl is None:
                return [self.fault(pc, f"unknown opcode {insn.code:02x}", errno.EINVAL)]
            return [f"r{insn.dst} = " + tmpl[0].format(a=self.reg(insn.dst), b=self.reg(insn.src))]
        if cls == InsnClass.LDX:
            return self.load(pc, insn, stack)
        if cls == InsnClass.ST or (cls == InsnClass.STX and insn.mode == Mode.MEM):
            return self.store(pc, insn, stack)
        if cls == InsnClass.STX and insn.mode == Mode.ATOMIC:
            return self.atomic(pc, insn)
        if cls == InsnClass.LD and insn.mode in (Mode.ABS, Mode.IND):
            size = {Size.B: 1, Size.H: 2, Size.W: 4}.get(Size(insn.size))
            if size is None:
                return [self.fault(pc, f"unknown opcode {insn.code:02x}", errno.EINVAL)]
            base = self.reg(insn.src) if insn.mode == Mode.IND else "None"
            return [f"r0 = LDPKT({base}, {insn.imm}, {size}, {pc})"]
        if cls in (InsnClass.JMP, InsnClass.JMP32) and insn.op == JmpOp.CALL:
            return self.call(pc, insn, live_after)
        return [self.fault(pc, f"unknown opcode {insn.code:02x}", errno.EINVAL)]

    # --- ALU ---------------------------------------------------------------------------

    def alu_template(self, insn: Insn) -> tuple[str, frozenset[str]] | None:
        """The value an ALU instruction gives its destination, as a template over ``{a}``
        (the destination's old value) and ``{b}`` (the source register), and the
        placeholders the template uses more than once.  None: not an ALU operation."""
        is64 = insn.cls == InsnClass.ALU64
        op, off = insn.op, insn.off
        m = H64 if is64 else H32
        width = 64 if is64 else 32
        x = insn.source == Source.X
        k = insn.imm & (M64 if is64 else M32)
        once: frozenset[str] = frozenset()
        if op == AluOp.END:
            return _endian(insn)
        if op == AluOp.NEG:
            return f"-{{a}} & {m}", once
        b = "{b}" if x else f"{k:#x}"
        if (op in (AluOp.DIV, AluOp.MOD) and off == 1) or (op == AluOp.MOV and off != 0):
            return f"{'ALU64' if is64 else 'ALU32'}({op}, {{a}}, {b}, {off})", once
        a = "{a}" if is64 else f"({{a}} & {H32})"
        b32 = f"({b} & {H32})" if x and not is64 else b
        sh = f"({b} & {width - 1})" if x else str(k & (width - 1))
        if op == AluOp.ADD:
            return (f"({{a}} + {b}) & {m}" if x or k else "{a}" if is64 else f"{{a}} & {m}"), once
        if op == AluOp.SUB:
            return f"({{a}} - {b}) & {m}", once
        if op == AluOp.MUL:
            return f"({{a}} * {b}) & {m}", once
        if op == AluOp.DIV:
            if x:
                return f"({a} // {b32} if {b32} else 0)", frozenset("b")
            return (f"{a} // {b}" if k else "0"), once
        if op == AluOp.MOD:
            if x:
                return f"({a} % {b32} if {b32} else {a})", frozenset("ab")
            return (f"{a} % {b}" if k else a), once
        if op == AluOp.OR:
            return (f"{{a}} | {b}" if is64 else f"({{a}} | {b}) & {m}"), once
        if op == AluOp.AND:
            return f"{{a}} & {b32}", once
        if op == AluOp.XOR:
            return (f"{{a}} ^ {b}" if is64 else f"({{a}} ^ {b}) & {m}"), once
        if op == AluOp.LSH:
            return f"({{a}} << {sh}) & {m}", once
        if op == AluOp.RSH:
            return f"{a} >> {sh}", once
        if op == AluOp.ARSH:
            sign = HS64 if is64 else HS32
            return f"(({a} ^ {sign}) - {sign}) >> {sh} & {m}", once
        if op == AluOp.MOV:
            return b32, once
        return None

    def alu_raw(self, insn: Insn) -> tuple[str, frozenset[str]] | None:
        """As :meth:`alu_template` for a 64-bit operation, but unmasked: the value's low
        64 bits are right, the bits above may not be (see :mod:`.ranges`, which decides
        where masks go).  Operands that must be clean are masked by the caller."""
        if insn.cls != InsnClass.ALU64:
            return self.alu_template(insn)
        op, x, imm = insn.op, insn.source == Source.X, insn.imm
        once: frozenset[str] = frozenset()
        if op == AluOp.END or op == AluOp.ARSH or special(insn):
            return self.alu_template(insn)
        k = imm & M64
        if op == AluOp.NEG:
            return "-{a}", once
        if op in (AluOp.ADD, AluOp.SUB):
            if x:
                return ("{a} + {b}" if op == AluOp.ADD else "{a} - {b}"), once
            if imm == 0:
                return "{a}", once
            plus = (imm > 0) == (op == AluOp.ADD)
            return f"{{a}} {'+' if plus else '-'} {abs(imm):#x}", once
        if op == AluOp.MUL:
            if x:
                return "{a} * {b}", once
            return ("0" if imm == 0 else "{a}" if imm == 1 else f"{{a}} * {imm:#x}" if imm > 0
                    else f"{{a}} * -{-imm:#x}"), once  # fmt: skip
        if op == AluOp.DIV:
            if x:
                return "({a} // {b} if {b} else 0)", frozenset("b")
            return (f"{{a}} // {k:#x}" if k else "0"), once
        if op == AluOp.MOD:
            if x:
                return "({a} % {b} if {b} else {a})", frozenset("ab")
            return (f"{{a}} % {k:#x}" if k else "{a}"), once
        sym = BITWISE.get(op)
        if sym is not None:
            return f"{{a}} {sym} " + ("{b}" if x else f"{k:#x}"), once
        if op in (AluOp.LSH, AluOp.RSH):
            sh = "({b} & 63)" if x else str(k & 63)
            if sh == "0":
                return "{a}", once
            return f"{{a}} {'<<' if op == AluOp.LSH else '>>'} {sh}", once
        if op == AluOp.MOV:
            return ("{b}" if x else f"{k:#x}"), once
        return None

    # --- conditions --------------------------------------------------------------------

    def condition(
        self, pc: int, value: Callable[[int], str] | None = None, wrapped: bool = False
    ) -> str | None:
        """The expression that is true when the jump at ``pc`` is taken (None: the
        instruction is a jump whose operation is unknown).  ``value`` gives a register's
        current value (a name, or an expression not yet stored).  ``wrapped``: the
        destination is dirty in ``[0, 2**65)`` (its value or its value less ``2**64``)
        and the source clean, so an order test compares it without masking it."""
        insn = self.insns[pc]
        op = insn.op
        if op == JmpOp.JCOND:
            self.names.calls_out = True
            return "MAYGOTO()"
        value = value or self.reg
        is32 = insn.cls == InsnClass.JMP32
        mask = M32 if is32 else M64
        sign = SIGN32 if is32 else SIGN64
        d = value(insn.dst)
        a = f"({d} & {H32})" if is32 else d
        x = insn.source == Source.X
        k = insn.imm & mask
        if x:
            s = value(insn.src) if insn.src != insn.dst else d
            b = f"({s} & {H32})" if is32 else s
        else:
            b = f"{k:#x}"
        simple = {JmpOp.JEQ: "==", JmpOp.JNE: "!=", JmpOp.JGT: ">", JmpOp.JGE: ">=",
                  JmpOp.JLT: "<", JmpOp.JLE: "<="}  # fmt: skip
        signed = {JmpOp.JSGT: ">", JmpOp.JSGE: ">=", JmpOp.JSLT: "<", JmpOp.JSLE: "<="}
        if wrapped and not is32 and op in (JmpOp.JGT, JmpOp.JGE, JmpOp.JLT, JmpOp.JLE):
            return _wrapped_order(simple[JmpOp(op)], d, b)
        if op in simple:
            return f"{a} {simple[JmpOp(op)]} {b}"
        if op == JmpOp.JSET:
            return f"{d} & {b}"
        if op in signed:
            bs = f"({b} ^ {sign:#x})" if x else f"{k ^ sign:#x}"
            return f"({a} ^ {sign:#x}) {signed[JmpOp(op)]} {bs}"
        return None

    def budget_check(self, pc: int, target: int) -> list[str]:
        """A backward jump spends one unit of the run's budget (budgeted runs only)."""
        if not self.budget or target > pc:
            return []
        return ["BG[0] -= 1", f"if BG[0] < 0: BUDGET({pc})"]

    # --- memory ------------------------------------------------------------------------

    def _frame_offset(self, stack: StackState, reg: int, off: int, size: int) -> int | None:
        """The byte offset into the frame buffer, when the address is a known in-frame one."""
        k = stack[reg] if reg < len(stack) else None
        if k is None:
            return None
        o = FRAME_SIZE + k + off
        if o >= 0 and o + size <= FRAME_SIZE:
            return o
        return None

    def frame_address(self, pc: int, stack: StackState) -> int | None:
        """The register a load or store at ``pc`` goes through when the access is resolved
        into the frame at compile time (the register's value is then never read)."""
        insn = self.insns[pc]
        cls = insn.cls
        if cls == InsnClass.LDX:
            reg = insn.src
        elif cls == InsnClass.ST or (cls == InsnClass.STX and insn.mode == Mode.MEM):
            reg = insn.dst
        else:
            return None
        size = BYTES.get(Size(insn.size), 0)
        return reg if size and self._frame_offset(stack, reg, insn.off, size) is not None else None

    def _view(self, o: int, size: int, signed: bool = False) -> str:
        """``view[index]`` for an aligned frame access, else a struct call on the buffer."""
        self.uses_frame = True
        if o % size == 0:
            name = ("Fs" if signed else "F") + VIEW[size]
            self.views.add(name)
            return f"{name}[{o // size}]"
        self.views.add("Fb")
        return f"{self._struct('S' if signed else 'U', size)}(Fb, {o})[0]"

    def _cache(self, pc: int) -> tuple[str, str, str, str]:
        """The names of the cache of the access at ``pc`` (base, span, buffer), and what
        its miss path adds: inside a loop they are locals, and a miss also stores the new
        cache in the globals, so that the next run starts with it."""
        self.names.caches.append(pc)
        if not self.in_loop:
            return f"c{pc}b", f"c{pc}e", f"c{pc}v", ""
        self.local_caches[pc] = None
        return f"b{pc}", f"e{pc}", f"v{pc}", f"; c{pc}b, c{pc}e, c{pc}v = b{pc}, e{pc}, v{pc}"

    def _struct(self, kind: str, size: int) -> str:
        """``U2``, ``S4``, ``P8`` ... (a local copy inside loops)."""
        name = f"{kind}{size}"
        if self.in_loop:
            self.local_structs.add("l" + name)
            return "l" + name
        return name

    @staticmethod
    def _address(reg: str, off: int) -> tuple[list[str], str]:
        """Statements that compute the address ``reg + off`` and the name holding it.
        The register may be dirty (any integer congruent to the address): a cache only
        hits addresses in ``[0, 2**64)``, where the congruent value is the address itself,
        and the miss paths mask."""
        if off == 0:
            return [], reg
        return [f"a = {reg} + {off}" if off > 0 else f"a = {reg} - {-off}"], "a"

    def load(self, pc: int, insn: Insn, stack: StackState) -> list[str]:
        size = BYTES[Size(insn.size)]
        signed = insn.mode == Mode.MEMSX
        d, s = self.reg(insn.dst), insn.src
        o = self._frame_offset(stack, s, insn.off, size)
        if o is not None:
            expr = self._view(o, size, signed)
            return [f"{d} = {expr} & {H64}" if signed else f"{d} = {expr}"]
        cb, ce, cv, back = self._cache(pc)
        pre, a = self._address(self.reg(s), insn.off)
        if signed:
            hit = f"{d} = {self._struct('S', size)}({cv}, o)[0] & {H64}"
            miss = f"{d}, {cb}, {ce}, {cv} = LDRS({a}, {size}, {pc}){back}"
            if pc in self.exe.probe_loads:  # a bad address reads 0
                miss = f"{d}, {cb}, {ce}, {cv} = LDRPS({a}, {size}, {pc}){back}"
            return [*pre, f"if {_hit(a, cb, ce)}: {hit}", f"else: {miss}"]
        # a context field computed on access: its getter is remembered (c<pc>a, c<pc>g)
        if size == 1:  # the buffer is a bytearray: indexing it is a byte
            hit = f"{d} = {cv}[o]"
        else:
            hit = f"{d} = {self._struct('U', size)}({cv}, o)[0]"
        field = f"elif {a} == c{pc}a: {d} = c{pc}g() & {H64}"
        miss = f"{d}, {cb}, {ce}, {cv}, c{pc}a, c{pc}g = {self._ldrf(pc)}({a}, {size}, {pc}){back}"
        return [*pre, f"if {_hit(a, cb, ce)}: {hit}", field, f"else: {miss}"]

    def _ldrf(self, pc: int) -> str:
        """The miss path of an unsigned load: a probe load's reads 0 at a bad address."""
        return "LDRFP" if pc in self.exe.probe_loads else "LDRF"

    def swapped_load(self, pc: int, stack: StackState) -> list[str] | None:
        """A load and the byte swap right after it (``r = *(u16 *)(p + k); r = be16 r``,
        the usual way of reading a network-order field) as one big-endian read, when the
        instruction at ``pc + 1`` is such a swap of the loaded register.  None: it is not."""
        insn = self.insns[pc]
        if insn.cls != InsnClass.LDX or insn.mode != Mode.MEM or pc + 1 >= len(self.insns):
            return None
        size = BYTES[Size(insn.size)]
        nxt = self.insns[pc + 1]
        swap = nxt.cls == InsnClass.ALU64 or nxt.source == TO_BE
        if size == 1 or nxt.cls not in (InsnClass.ALU, InsnClass.ALU64) or nxt.op != AluOp.END \
                or not swap or nxt.imm != 8 * size or nxt.dst != insn.dst or insn.dst >= 10:  # fmt: skip
            return None
        if self._frame_offset(stack, insn.src, insn.off, size) is not None:
            return None
        d = self.reg(insn.dst)
        cb, ce, cv, back = self._cache(pc)
        pre, a = self._address(self.reg(insn.src), insn.off)
        fix = f"ENDIAN({d}, {8 * size}, True)"
        hit = f"{d} = {self._struct('B', size)}({cv}, o)[0]"
        field = f"elif {a} == c{pc}a: {d} = ENDIAN(c{pc}g() & {H64}, {8 * size}, True)"
        miss = f"{d}, {cb}, {ce}, {cv}, c{pc}a, c{pc}g = {self._ldrf(pc)}({a}, {size}, {pc}){back}; {d} = {fix}"
        return [*pre, f"if {_hit(a, cb, ce)}: {hit}", field, f"else: {miss}"]

    def store(self, pc: int, insn: Insn, stack: StackState) -> list[str]:
        size = BYTES[Size(insn.size)]
        mask = (1 << (size * 8)) - 1
        if insn.cls == InsnClass.ST:
            value, whole = f"{insn.imm & mask:#x}", str(insn.imm)
        else:
            src = self.reg(insn.src)
            value, whole = (src if size == 8 else f"{src} & {mask:#x}"), src
        o = self._frame_offset(stack, insn.dst, insn.off, size)
        if o is not None:
            self.uses_frame = True
            if o % size == 0:
                name = "F" + VIEW[size]
                self.views.add(name)
                return [f"{name}[{o // size}] = {value}"]
            self.views.add("Fb")
            return [f"{self._struct('P', size)}(Fb, {o}, {value})"]
        cb, ce, cv, back = self._cache(pc)
        pre, a = self._address(self.reg(insn.dst), insn.off)
        if size == 1:
            hit = f"{cv}[o] = {value}"
        else:
            hit = f"{self._struct('P', size)}({cv}, o, {value})"
        return [
            *pre,
            f"if {_hit(a, cb, ce)}: {hit}",
            f"else: {cb}, {ce}, {cv} = STR({a}, {size}, {whole}, {pc}){back}",
        ]

    def atomic(self, pc: int, insn: Insn) -> list[str]:
        size = BYTES[Size(insn.size)]
        mask = f"{(1 << (size * 8)) - 1:#x}"
        op, off = insn.imm, insn.off
        d, s = self.reg(insn.dst), self.reg(insn.src)
        offs = f" + {off}" if off > 0 else f" - {-off}" if off else ""
        if op == AtomicOp.LOAD_ACQ:
            return [f"{d} = MLOAD(({s}{offs}) & {H64}, {size}, {pc})"]
        if op == AtomicOp.STORE_REL:
            return [f"MSTORE(({d}{offs}) & {H64}, {size}, {s}, {pc})"]
        addr = f"a = ({d}{offs}) & {H64}"
        load = f"old = MLOAD(a, {size}, {pc})"
        if op == AtomicOp.XCHG:
            return [addr, load, f"MSTORE(a, {size}, {s}, {pc})", f"{s} = old"]
        if op == AtomicOp.CMPXCHG:
            return [addr, load, f"if old == r0 & {mask}: MSTORE(a, {size}, {s}, {pc})", "r0 = old"]
        exprs: dict[int, str] = {
            AtomicOp.ADD: f"(old + {s}) & {mask}", AtomicOp.AND: f"old & {s} & {mask}",
            AtomicOp.OR: f"(old | {s}) & {mask}", AtomicOp.XOR: f"(old ^ {s}) & {mask}",
        }  # fmt: skip
        expr = exprs.get(op & ~1)
        if expr is None:
            return [self.fault(pc, f"unknown atomic operation {op:#x}", errno.EINVAL)]
        # a read-modify-write on a plain writable region (a map value) goes through its
        # cache as a load and a store do; anything else through the memory model
        cb, ce, cv, back = self._cache(pc)
        at = f"{cv}, o"
        hit = f"old = {self._struct('U', size)}({at})[0]; {self._struct('P', size)}({at}, {expr})"
        miss = f"{load}; MSTORE(a, {size}, {expr}, {pc}); {cb}, {ce}, {cv} = ATR(a, {size}){back}"
        out = [addr, f"if {_hit('a', cb, ce)}: {hit}", f"else: {miss}"]
        if op & 1:
            out.append(f"{s} = old")
        return out

    # --- calls -------------------------------------------------------------------------

    def call(self, pc: int, insn: Insn, live_after: int) -> list[str]:
        s, imm = insn.src, insn.imm
        args = "r1, r2, r3, r4, r5"
        if insn.source == Source.X:
            self.names.calls_out = True
            return ["env.pc = " + str(pc), "R.depth = D",
                    f"r0 = CALLX({self.reg(insn.dst)}, {pc}, env, {args})"]  # fmt: skip
        if s == PseudoCall.CALL:
            target = pc + 1 + imm
            wants_regs = bool(live_after & ARGS)
            callee = self.callee(target, wants_regs)
            extra = "".join(f", r{r}=r{r}" for r in callee.extra)
            lhs = "r0, r1, r2, r3, r4, r5" if wants_regs else "r0"
            return [
                f"if D >= {MAX_DEPTH}: raise FAULT({pc}, 'the call stack of 9 frames is too deep', {errno.E2BIG})",
                f"{lhs} = {callee.name}(D + 1, {args}{extra})",
            ]
        if s == PseudoCall.HELPER and imm == TAIL_CALL_HELPER:
            self.names.calls_out = True
            call = "T(D, r1, r2, r3, r4, r5, r0, r6, r7, r8, r9)"
            ret = f"return {call}, r1, r2, r3, r4, r5" if self.tuple_return else f"return {call}"
            return [f"T = TAIL(r2, r3, {pc})", f"if T is not None: {ret}"]
        if s == PseudoCall.HELPER:
            helper = self.exe.helpers.get(imm)
            if helper is None:
                return [self.fault(pc, f"helper #{imm} is not implemented by pybpf", errno.ENOTSUP)]
            self.names.helpers[imm] = helper.fn
            self.names.calls_out = True
            return [f"env.pc = {pc}", "R.depth = D", f"r0 = h{imm}(env, {args}) & {H64}"]
        return [self.fault(pc, f"call to kernel function #{imm}: kfuncs are not available here")]


def _hit(a: str, base: str, span: str) -> str:
    """Whether address ``a`` hits a cache (base, span, buffer): its offset ``o`` from the
    base is in ``[0, span]``, the span being the last valid offset for the access's size
    (-1: an empty cache).  Offsets are small integers, which CPython compares faster
    than 64-bit addresses; a dirty address gives an offset far out of range."""
    return f"0 <= (o := {a} - {base}) <= {span}"


def _wrapped_order(sym: str, d: str, b: str) -> str:
    """``(d & M) sym b`` for ``d`` in ``[0, 2**65)`` and ``b`` clean, without the mask (a
    big-integer operation): the common side is one comparison.  Above ``2**64 - 1``,
    ``d`` is greater than any clean ``b``, so ``>``/``>=`` then look at ``d - 2**64``
    and ``<``/``<=`` are false unless ``d - 2**64`` passes."""
    wrap = f"t - {1 << 64:#x} {sym} {b}"
    if sym in (">", ">="):
        return f"((t := {d}) {sym} {b} and (t <= {H64} or {wrap}))"
    return f"((t := {d}) {sym} {b} or (t > {H64} and {wrap}))"


def _endian(insn: Insn) -> tuple[str, frozenset[str]]:
    """Byte order conversions (on a little-endian machine): ``le`` truncates, ``be`` and
    ``bswap`` swap; 16 and 32-bit swaps are written out, any value (dirty too) in."""
    once: frozenset[str] = frozenset()
    bits = insn.imm
    swap = insn.cls == InsnClass.ALU64 or insn.source == TO_BE
    if not swap and bits in (16, 32, 64):
        return ("{a}" if bits == 64 else f"{{a}} & {(1 << bits) - 1:#x}"), once
    if swap and bits == 16:
        return "(({a} & 0xff) << 8 | {a} >> 8 & 0xff)", frozenset("a")
    if swap and bits == 32:
        return ("(({a} & 0xff) << 24 | ({a} & 0xff00) << 8 | {a} >> 8 & 0xff00 | {a} >> 24 & 0xff)",
                frozenset("a"))  # fmt: skip
    return f"ENDIAN({{a}}, {bits}, {swap}, {insn.cls == InsnClass.ALU64})", once


def stack_states(insns: list[Insn], pcs: list[int], start: StackState) -> list[StackState]:
    """The stack offsets before each of ``pcs``."""
    out = []
    cur = start
    for pc in pcs:
        out.append(cur)
        cur = stack_step(insns[pc], cur)
    return out
