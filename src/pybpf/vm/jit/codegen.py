"""eBPF to LLVM IR (text): one LLVM function per BPF function.

Every BPF function becomes ``void f<pc>(ptr io, i64 depth, ptr state)``: it reads r0..r9
from ``io`` and leaves r0..r5 there when it exits, so a caller sees exactly the registers
the interpreter's shared register file would hold; r6..r9 are the caller's own locals and
come back unchanged.  Registers are allocas (LLVM's mem2reg turns them into SSA values),
r10 is the end of the frame of ``depth`` (frames are regions of the shared memory model).

Memory accesses keep the interpreter's one-region cache per instruction (base, last valid
address) in a ctypes array: a hit is two compares and a native access, a miss calls into
Python (:mod:`.ops`), which applies the memory model's rules, fills the cache and raises
the interpreter's fault.  Accesses through r10 at a constant offset inside the frame need
no check at all.  Helper calls, tail calls and faults go through Python too, except the
helpers written here in IR (:mod:`.inline`).
"""

from __future__ import annotations

import bisect
import ctypes
import errno
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from ...isa.insn import Insn, lddw_value
from ...isa.opcodes import (
    MAX_CALL_FRAMES,
    OPCODE_LDDW,
    STACK_SIZE,
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
from ...isa.semantics import s32, s64  # IR constants: the signed reading of a bit pattern
from ..executable import Executable
from . import layout, ops
from .ops import CacheArray, Op

# Plain ints for the opcode fields tested on every instruction: looking an IntEnum member
# up costs about half a microsecond in CPython 3.11, a module global a tenth of that.
CLS_LD, CLS_LDX, CLS_ST, CLS_STX = int(InsnClass.LD), int(InsnClass.LDX), int(InsnClass.ST), int(InsnClass.STX)
CLS_ALU, CLS_ALU64 = int(InsnClass.ALU), int(InsnClass.ALU64)
CLS_JMP, CLS_JMP32 = int(InsnClass.JMP), int(InsnClass.JMP32)
J_JA, J_CALL, J_EXIT, J_JCOND = int(JmpOp.JA), int(JmpOp.CALL), int(JmpOp.EXIT), int(JmpOp.JCOND)
MODE_ABS, MODE_IND, MODE_MEM, MODE_MEMSX = int(Mode.ABS), int(Mode.IND), int(Mode.MEM), int(Mode.MEMSX)
MODE_ATOMIC = int(Mode.ATOMIC)
SRC_K, SRC_X = int(Source.K), int(Source.X)
ALU_MOV, ALU_END, ALU_NEG = int(AluOp.MOV), int(AluOp.END), int(AluOp.NEG)
ALU_DIV, ALU_MOD = int(AluOp.DIV), int(AluOp.MOD)
PSEUDO_CALL, PSEUDO_HELPER = int(PseudoCall.CALL), int(PseudoCall.HELPER)
CALLS = frozenset({CLS_JMP | J_CALL | SRC_K, CLS_JMP32 | J_CALL | SRC_K})

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
TAIL_CALL_HELPER = 12
OP_BITS = 20
PURE = 1 << (OP_BITS - 1)
NREGS = 16
BYTES: dict[int, int] = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}


def _plain(code: int) -> bool:
    """Whether an instruction with opcode ``code`` only ever continues at the next one."""
    cls, mode = code & 0x07, code & 0xE0
    if cls in (CLS_ALU, CLS_ALU64, CLS_LDX, CLS_ST):
        return True
    if cls == CLS_STX:
        return mode in (MODE_MEM, MODE_ATOMIC)
    if cls == CLS_LD:
        return code != OPCODE_LDDW and mode in (MODE_ABS, MODE_IND)
    return code & 0xF0 == J_CALL  # JMP, JMP32


PLAIN = bytes(_plain(code) for code in range(256))
"""By opcode: 1 where ``Generator.successors`` is always just the next instruction."""

_UIDS = itertools.count(1)

SIMPLE_ALU: dict[int, str] = {AluOp.ADD: "add", AluOp.SUB: "sub", AluOp.MUL: "mul", AluOp.OR: "or",
                              AluOp.AND: "and", AluOp.XOR: "xor"}  # fmt: skip
SHIFTS: dict[int, str] = {AluOp.LSH: "shl", AluOp.RSH: "lshr", AluOp.ARSH: "ashr"}
PREDICATES: dict[int, str] = {JmpOp.JEQ: "eq", JmpOp.JNE: "ne", JmpOp.JGT: "ugt", JmpOp.JGE: "uge",
                              JmpOp.JLT: "ult", JmpOp.JLE: "ule", JmpOp.JSGT: "sgt", JmpOp.JSGE: "sge",
                              JmpOp.JSLT: "slt", JmpOp.JSLE: "sle", JmpOp.JSET: "set"}  # fmt: skip


@dataclass
class Generated:
    """A program's IR with the Python operations its native code calls."""

    uid: int
    ir: str
    ops: list[Op]
    cache: CacheArray
    fields: CacheArray
    tails: CacheArray
    entries: tuple[int, ...]
    zero: tuple[int, int] = (0, STACK_SIZE)
    """The span of a frame a run zeroes (see ``Generator.stack_extent``)."""

    @staticmethod
    def function_name(entry: int) -> str:
        return f"f{entry}"


def entries_of(exe: Executable, extra: Sequence[int] = ()) -> tuple[int, ...]:
    """Where BPF functions start: pc 0, the targets of local calls and of function
    pointers (``lddw`` of a BPF_PSEUDO_FUNC), and any ``extra`` ones asked for."""
    insns = exe.insns
    n = len(insns)
    out = {0, *extra}
    half = False
    for pc, insn in enumerate(insns):
        if half:
            half = False
            continue
        code = insn.code
        if code in CALLS and insn.src == PSEUDO_CALL and 0 <= pc + 1 + insn.imm < n:
            out.add(pc + 1 + insn.imm)
        elif code == OPCODE_LDDW:
            half = True
            if insn.src == 4 and 0 <= pc + 1 + insn.imm < n:
                out.add(pc + 1 + insn.imm)
    return tuple(sorted(out))


class Generator:
    """Generates the module of one executable."""

    def __init__(self, exe: Executable, entries: tuple[int, ...]) -> None:
        from .inline import InlineHelpers

        self.exe = exe
        self.insns = list(exe.insns)
        self.n = len(self.insns)
        self.halves = frozenset(pc + 1 for pc, insn in enumerate(self.insns) if insn.code == OPCODE_LDDW)
        """The second halves of ``lddw`` pairs (never instructions of their own)."""
        self.controls = sorted({*(pc for pc, insn in enumerate(self.insns) if not PLAIN[insn.code]), *self.halves})
        """Where a straight run of instructions ends: jumps, exits, ``lddw``, its second
        halves, the opcodes that stop a run."""
        self.entries = entries
        self.uid = next(_UIDS)
        self.ops: list[Op] = []
        self.inline = InlineHelpers(self)
        # what only generating needs is made by ``prepare`` (the code cache is looked up
        # with this generator's map facts first)
        self.zero_lo, self.zero_hi = 0, STACK_SIZE
        self.ctx_regs: frozenset[int] = frozenset()
        self.slots = self.n
        self.cache: CacheArray = None
        self.cache_base = 0
        self.fields: CacheArray = None
        self.tails: CacheArray = None
        self.regs: list[int] = []
        """The register allocas a function needs (r11..r15 only when a field names them)."""
        self.lines: list[str] = []
        self._tmp = itertools.count()
        self.entry = 0
        self.pc = 0
        self.fault_blocks: dict[int, str] = {}
        self.writes_r10 = False
        self.values: dict[int, str] = {}
        """What each register holds in the current block, as far as it is known here."""
        self.dirty: dict[int, str] = {}
        """Registers set in the current block and not yet written to their allocas."""
        self.labelled: set[int] = set()
        self.sole_from: dict[int, int] = {}
        """Branch targets by the one branch leading there (-1: several do)."""
        self.kept: tuple[int, dict[int, str]] | None = None
        """(pc, register values) for a block that only the branch just emitted reaches."""
        self.lows: dict[str, str] = {}
        self.frame_at = 0
        """Where in ``lines`` the entry block's frame addresses go."""
        self.frame_slots: dict[int, str] = {}
        """The frame addresses a function uses, by offset (see ``frame_slot``)."""
        """The i32 names of values' low halves (see ``low32``)."""
        self.block_lows: list[str] = []
        """The entries of ``lows`` made in the current block (valid only there)."""
        self.current = "entry"
        """The block being emitted."""
        self.pending: int | None = None
        """Where the code emitted last continues (a fall-through not yet branched)."""

    def stack_extent(self) -> tuple[int, int]:
        """The bytes of a frame a run must zero (from, to), relative to the frame's base.

        Frames must read as zeros at the start of a run.  When r10 is only ever the base
        of memory accesses at constant offsets inside the frame (never copied, stored,
        written, passed on), and no tail call can bring another program into the frame,
        nothing can read a byte outside those accesses: only their span is zeroed."""
        lo, hi = STACK_SIZE, 0
        halves = self.halves
        for pc, insn in enumerate(self.insns):
            if pc in halves:
                continue
            code, dst, src = insn.code, insn.dst, insn.src
            cls = code & 0x07
            if code == OPCODE_LDDW:
                if dst == 10:
                    return 0, STACK_SIZE
                continue
            if cls in (CLS_ALU, CLS_ALU64):
                if dst == 10 or (code & 0x08 == SRC_X and src == 10):
                    return 0, STACK_SIZE
                continue
            if cls in (CLS_JMP, CLS_JMP32):
                if code & 0xF0 == J_CALL and (
                    (src == PSEUDO_HELPER and insn.imm == TAIL_CALL_HELPER) or code & 0x08 == SRC_X
                ):
                    return 0, STACK_SIZE
                continue
            if cls == CLS_LDX:
                if dst == 10:
                    return 0, STACK_SIZE
                base = src
            else:
                if cls == CLS_STX and src == 10:
                    return 0, STACK_SIZE
                base = dst
            if base != 10 or cls == CLS_LD:
                continue
            size, off = BYTES[code & 0x18], insn.off
            if not -STACK_SIZE <= off <= -size:
                return 0, STACK_SIZE
            if STACK_SIZE + off < lo:
                lo = STACK_SIZE + off
            if STACK_SIZE + off + size > hi:
                hi = STACK_SIZE + off + size
        return (lo, hi) if lo < hi else (0, 0)

    def context_registers(self) -> frozenset[int]:
        """Registers that may hold a context pointer somewhere: r1, and whatever is
        computed from it by register ALU operations (a load's result never is).  Only
        loads through these remember context fields natively; any other load from a
        context region still works, through Python every time."""
        flows: dict[int, set[int]] = {}
        halves = self.halves
        for pc, insn in enumerate(self.insns):
            code = insn.code
            if code & 0x08 == SRC_X and code & 0x07 in (CLS_ALU, CLS_ALU64) and pc not in halves:
                flows.setdefault(insn.src, set()).add(insn.dst)
        regs, todo = {1}, [1]
        while todo:
            for dst in flows.get(todo.pop(), ()):
                if dst not in regs:
                    regs.add(dst)
                    todo.append(dst)
        return frozenset(regs)

    def zero_frame(self, base: str) -> None:
        """Zero what a run may read of the frame at ``base`` (a ptr)."""
        if self.zero_hi > self.zero_lo:
            p = self.t()
            self.emit(f"{p} = getelementptr i8, ptr {base}, i64 {self.zero_lo}")
            self.emit(f"call void @llvm.memset.p0.i64(ptr {p}, i8 0, i64 {self.zero_hi - self.zero_lo}, i1 false)")

    # --- small pieces -------------------------------------------------------------------

    def op(self, fn: Op, pure: bool = False) -> int:
        """The number native code calls ``fn`` by; ``pure`` operations change nothing a
        context field's getter reads (loads), so they keep remembered fields valid."""
        self.ops.append(fn)
        return (self.uid << OP_BITS) | (PURE if pure else 0) | (len(self.ops) - 1)

    def new_slot(self) -> int:
        """A cache pair of its own (inline helpers' key and value reads)."""
        assert self.slots < len(self.cache) // 2, "cache slots are counted before generation"
        self.slots += 1
        return self.slots - 1

    def t(self) -> str:
        return f"%t{next(self._tmp)}"

    def label(self) -> str:
        return f"X{next(self._tmp)}"

    def emit(self, line: str) -> None:
        """One instruction; before a terminator (``br``, ``ret``), the registers set in
        this block are written to their allocas, where the next block reads them."""
        if self.dirty and line[:3] in ("br ", "ret"):
            if line[:3] == "ret" or line == "br label %bail":
                self.dirty = {}  # leaving the function: the allocas are dead
            else:
                self.flush()
        self.lines.append("  " + line)

    def flush(self) -> None:
        lines = self.lines
        for reg, value in self.dirty.items():
            lines.append(f"  store i64 {value}, ptr %r{reg}")
        self.dirty = {}

    def block(self, name: str, keep: dict[int, str] | None = None) -> None:
        """Start a block: what registers hold is read from the allocas again (a block
        may be entered from anywhere), except the values in ``keep``, which the caller
        knows dominate the block and are still what those registers hold."""
        self.lines.append(f"{name}:")
        self.values = {} if keep is None else dict(keep)
        if self.block_lows:  # truncations made in the block that ended
            lows = self.lows
            for v in self.block_lows:
                del lows[v]
            self.block_lows = []
        self.current = name

    def get(self, reg: int) -> str:
        """The register's value: the one set or read earlier in this block, else a load
        (registers live in allocas across blocks; SROA makes them SSA values)."""
        v = self.values.get(reg)
        if v is None:
            v = self.t()
            self.lines.append(f"  {v} = load i64, ptr %r{reg}")
            self.values[reg] = v
        return v

    def put(self, reg: int, value: str) -> None:
        self.values[reg] = self.dirty[reg] = value

    def slot_ptr(self, slot: int) -> str:
        p = self.t()
        self.emit(f"{p} = getelementptr i64, ptr %st, i64 {slot}")
        return p

    def call_py(self, op: int, *args: str, then: str | None = None) -> str:
        """Call Python; on a fault or a packet exit, leave this function at once.  With
        ``then``, the block ends here and continues at ``then`` (no block of its own just
        to branch there: every block costs LLVM's code generator time)."""
        n = next(self._tmp)
        operands = "".join(f", i64 {a}" for a in args) + ", i64 0" * (6 - len(args))
        self.lines.append(f"  %p{n} = call i64 %cb(i64 {op}{operands})")
        self.status_check(n, then)
        return f"%p{n}"

    def check_status(self) -> None:
        self.status_check(next(self._tmp))

    def status_check(self, n: int, then: str | None = None) -> None:
        """Leave at once when Python set the status; registers keep their values."""
        self.lines.append(f"  %s{n} = load i64, ptr %st\n  %s{n}.bad = icmp ne i64 %s{n}, 0")
        if then is not None:
            self.emit(f"br i1 %s{n}.bad, label %bail, label %{then}")
            return
        keep = self.values
        self.emit(f"br i1 %s{n}.bad, label %bail, label %X{n}s")
        self.block(f"X{n}s", keep)

    def fault_now(self, op_fn: Op, *args: str) -> None:
        """Raise in Python and leave (ends the current block)."""
        op = self.op(op_fn)
        full = [*args, *["0"] * (6 - len(args))]
        self.emit(f"call i64 %cb(i64 {op}, " + ", ".join(f"i64 {a}" for a in full) + ")")
        self.emit("br label %bail")

    def goto(self, target: int) -> str:
        """The label of ``target``, or of a block that faults as jumping there does."""
        if 0 <= target < self.n:
            self.labelled.add(target)
            return f"L{target}"
        if target not in self.fault_blocks:
            self.fault_blocks[target] = f"J{target - (1 << 40) if target < 0 else target}".replace("-", "m")
        return self.fault_blocks[target]

    # --- the module ---------------------------------------------------------------------

    def prepare(self) -> None:
        """The program's facts and the arrays its native code uses."""
        self.zero_lo, self.zero_hi = self.stack_extent()
        self.ctx_regs = self.context_registers()
        self.cache = ops.new_cache(self.n + self.inline.slots_needed())
        self.cache_base = ctypes.addressof(self.cache)
        self.fields = (ctypes.c_uint64 * max(3 * self.n, 3))()
        self.tails = (ctypes.c_uint64 * max(5 * self.n, 5))()
        self.regs = sorted({*range(11), *(i.dst for i in self.insns), *(i.src for i in self.insns)})

    def generate(self) -> Generated:
        self.prepare()
        out = [
            "declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)",
            "declare void @llvm.memmove.p0.p0.i64(ptr, ptr, i64, i1)",
            "declare i16 @llvm.bswap.i16(i16)",
            "declare i32 @llvm.bswap.i32(i32)",
            "declare i64 @llvm.bswap.i64(i64)",
            "declare i32 @clock_gettime(i32, ptr)",
        ]
        for entry in self.entries:
            self.lines = []
            self.function(entry)
            out.extend(self.lines)
        out.append(self.repeat_wrapper())
        return Generated(self.uid, "\n".join(out) + "\n", self.ops, self.cache, self.fields, self.tails, self.entries,
                         (self.zero_lo, self.zero_hi))  # fmt: skip

    def reachable(self, entry: int) -> list[int]:
        """The instructions reachable from ``entry``, in order.  Straight runs are
        marked whole, up to the next of ``controls`` (``successors`` per instruction was
        a tenth of generating a 1,000-instruction program)."""
        n, controls = self.n, self.controls
        if not 0 <= entry < n:
            return [entry]
        seen = bytearray(n)
        todo = [entry]
        ends = len(controls)
        while todo:
            pc = todo.pop()
            if not 0 <= pc < n or seen[pc]:
                continue
            i = bisect.bisect_left(controls, pc)
            end = controls[i] if i < ends else n - 1
            known = seen[end]  # then its successors were taken already
            seen[pc : end + 1] = b"\x01" * (end + 1 - pc)
            if not known and i < ends:
                todo.extend(self.successors(end))
        return list(itertools.compress(range(n), seen))

    def successors(self, pc: int) -> list[int]:
        if pc in self.halves:
            return []
        insn = self.insns[pc]
        code = insn.code
        cls = code & 0x07
        if code == OPCODE_LDDW:
            return [pc + 2] if pc + 1 < self.n else []
        if cls in (CLS_JMP, CLS_JMP32):
            op = code & 0xF0
            if op == J_EXIT:
                return []
            if op == J_CALL:
                return [pc + 1]
            if op == J_JA:
                return [pc + 1 + (insn.imm if cls == CLS_JMP32 else insn.off)]
            return [pc + 1 + insn.off, pc + 1]
        if cls == CLS_LD and code & 0xE0 not in (MODE_ABS, MODE_IND):
            return []
        if cls == CLS_STX and code & 0xE0 not in (MODE_MEM, MODE_ATOMIC):
            return []
        return [pc + 1]

    def jump_targets(self, pcs: list[int]) -> set[int]:
        """The instructions a branch names (they start blocks); code that only falls
        through into the next instruction stays in one block, so a straight run of
        instructions keeps its registers in SSA values without loads and stores."""
        return set(self.branch_sources(pcs))

    def branch_sources(self, pcs: list[int]) -> dict[int, int]:
        """The instructions branches among ``pcs`` lead to, each with the one branch
        that does (-1 when several do)."""
        insns, halves = self.insns, self.halves
        sole: dict[int, int] = {}
        if len(pcs) > len(self.controls):  # only ``controls`` can branch
            wanted = set(pcs)
            pcs = [pc for pc in self.controls if pc in wanted]
        for pc in pcs:
            code = insns[pc].code
            if code & 0x07 in (CLS_JMP, CLS_JMP32) and code & 0xF0 not in (J_CALL, J_EXIT) and pc not in halves:
                for nxt in self.successors(pc):
                    sole[nxt] = pc if sole.get(nxt, pc) == pc else -1
        return sole

    def fall(self, target: int) -> None:
        """Continue at ``target``: in the same block when it is emitted next and no
        branch names it, else through a branch."""
        self.pending = target

    def r10_written(self, pcs: list[int]) -> bool:
        """Whether an instruction among ``pcs`` may change r10 (then no frame access is
        known to be in bounds)."""
        insns, halves = self.insns, self.halves
        for pc in pcs:
            insn = insns[pc]
            code = insn.code
            cls = code & 0x07
            if pc in halves:
                continue
            if insn.dst == 10 and (cls in (CLS_ALU, CLS_ALU64, CLS_LDX) or code == OPCODE_LDDW):
                return True
            if cls == CLS_STX and code & 0xE0 == MODE_ATOMIC and insn.src == 10:
                return True
        return False

    def function(self, entry: int) -> None:
        self.entry = entry
        self.fault_blocks = {}
        self.lows, self.block_lows = {}, []
        pcs = self.reachable(entry)
        self.writes_r10 = self.r10_written(pcs)
        self.lines.append(f"define void @f{entry}(ptr %io, i64 %depth, ptr %st) nounwind {{")
        self.block("entry")
        for r in self.regs:
            self.emit(f"%r{r} = alloca i64")
        self.emit("%cio = alloca [16 x i64]")
        for r in range(10):
            p, v = self.t(), self.t()
            self.emit(f"{p} = getelementptr i64, ptr %io, i64 {r}")
            self.emit(f"{v} = load i64, ptr {p}")
            self.put(r, v)
        for r in self.regs[11:]:
            self.put(r, "0")
        fp = self.t()
        self.emit(f"{fp} = getelementptr i64, ptr %st, i64 {layout.FRAMES}")
        fslot, fbase, fend = self.t(), self.t(), self.t()
        self.emit(f"{fslot} = getelementptr i64, ptr {fp}, i64 %depth")
        self.emit(f"{fbase} = load i64, ptr {fslot}")
        self.emit(f"%fend = add i64 {fbase}, {STACK_SIZE}")
        self.emit(f"{fend} = inttoptr i64 %fend to ptr")
        self.emit(f"%fendp = getelementptr i8, ptr {fend}, i64 0")
        self.frame_at, self.frame_slots = len(self.lines), {}
        self.put(10, "%fend")
        cbp = self.slot_ptr(layout.CALLBACK)
        self.emit(f"%cb = load ptr, ptr {cbp}")
        self.sole_from = self.branch_sources(pcs)
        self.labelled = set(self.sole_from)
        self.pending = entry
        self.kept = None
        for pc in pcs:
            if self.pending != pc or pc in self.labelled:
                if self.pending is not None:
                    self.emit(f"br label %{self.goto(self.pending)}")
                kept = self.kept
                self.block(f"L{pc}", kept[1] if kept is not None and kept[0] == pc and pc != entry else None)
            self.pending = self.kept = None
            self.insn(pc)
        if self.pending is not None:
            self.emit(f"br label %{self.goto(self.pending)}")
            self.pending = None
        for target, name in list(self.fault_blocks.items()):
            self.block(name)
            self.fault_now(ops.fault(target, "jumped out of the program", errno.EINVAL))
        self.lines[self.frame_at : self.frame_at] = [
            f"  {name} = getelementptr i8, ptr %fendp, i64 {off}" for off, name in self.frame_slots.items()
        ]
        self.block("bail")
        self.emit("ret void")
        self.lines.append("}")

    def repeat_wrapper(self) -> str:
        """``i64 repeat(ptr io, ptr state, i64 r1, i64 r2, i64 n)``: ``n`` runs from pc 0,
        each with the state a fresh run has; stops at a fault (a packet exit only ends its
        own run, with r0 = 0).  Returns the runs made."""
        s = layout
        return f"""
define i64 @repeat(ptr %io, ptr %st, i64 %a1, i64 %a2, i64 %n) nounwind {{
entry:
  %fb = getelementptr i64, ptr %st, i64 {s.FRAMES}
  %budget0p = getelementptr i64, ptr %st, i64 {s.BUDGET_START}
  br label %loop
loop:
  %i = phi i64 [0, %entry], [%i1, %next], [%i1, %packet_exit]
  %more = icmp ult i64 %i, %n
  br i1 %more, label %body, label %done
body:
  call void @llvm.memset.p0.i64(ptr %io, i8 0, i64 {8 * s.IO_SLOTS}, i1 false)
  %p1 = getelementptr i64, ptr %io, i64 1
  store i64 %a1, ptr %p1
  %p2 = getelementptr i64, ptr %io, i64 2
  store i64 %a2, ptr %p2
  %budget0 = load i64, ptr %budget0p
  %bp = getelementptr i64, ptr %st, i64 {s.BUDGET}
  store i64 %budget0, ptr %bp
  %mg = getelementptr i64, ptr %st, i64 {s.MAY_GOTO}
  store i64 {8 * 1024 * 1024}, ptr %mg
  %tc = getelementptr i64, ptr %st, i64 {s.TAIL_CALLS}
  store i64 0, ptr %tc
  %dp = getelementptr i64, ptr %st, i64 {s.DEPTH}
  store i64 0, ptr %dp
  %up = getelementptr i64, ptr %st, i64 {s.USED}
  store i64 0, ptr %up
  %f0 = load i64, ptr %fb
  %f0p = inttoptr i64 %f0 to ptr
  %zp = getelementptr i8, ptr %f0p, i64 {self.zero_lo}
  call void @llvm.memset.p0.i64(ptr %zp, i8 0, i64 {self.zero_hi - self.zero_lo}, i1 false)
  call void @f0(ptr %io, i64 0, ptr %st)
  %i1 = add i64 %i, 1
  %status = load i64, ptr %st
  %exit0 = icmp eq i64 %status, {s.PACKET_EXIT}
  br i1 %exit0, label %packet_exit, label %check
packet_exit:
  store i64 0, ptr %st
  store i64 0, ptr %io
  br label %loop
check:
  %bad = icmp ne i64 %status, 0
  br i1 %bad, label %done2, label %next
next:
  br label %loop
done2:
  ret i64 %i1
done:
  ret i64 %i
}}
"""

    # --- instructions -------------------------------------------------------------------

    def insn(self, pc: int) -> None:
        insns = self.insns
        if pc in self.halves:
            self.fault_now(ops.fault(pc, "jumped into the middle of an lddw", errno.EINVAL))
            return
        insn = insns[pc]
        code = insn.code
        cls = code & 0x07
        nxt = pc + 1
        self.pc = pc
        if cls in (CLS_ALU64, CLS_ALU):
            self.alu(insn)
        elif cls == CLS_LDX:
            self.load(pc, insn)
        elif cls == CLS_STX and code & 0xE0 == MODE_MEM:
            self.store(pc, insn, None)
        elif cls == CLS_ST:
            self.store(pc, insn, insn.imm)
        elif cls == CLS_STX and code & 0xE0 == MODE_ATOMIC:
            self.atomic(pc, insn)
        elif code == OPCODE_LDDW:
            if pc + 1 >= self.n:
                self.fault_now(ops.fault(pc, "jumped into the middle of an lddw", errno.EINVAL))
                return
            value = lddw_value(insn, insns[pc + 1])
            if insn.src == 4:
                value = self.exe.function_address(pc + 1 + insn.imm)
            self.put(insn.dst, str(s64(value)))
            nxt = pc + 2
        elif cls == CLS_LD and insn.mode in (MODE_ABS, MODE_IND):
            self.ld_pkt(pc, insn)
        elif cls in (CLS_JMP, CLS_JMP32):
            self.jmp(pc, insn)
            return
        else:
            self.fault_now(ops.fault(pc, "jumped into the middle of an lddw", errno.EINVAL))
            return
        self.fall(nxt)

    def alu(self, insn: Insn) -> None:
        code, d, s, off = insn.code, insn.dst, insn.src, insn.off
        op, is64, source = code & 0xF0, code & 0x07 == CLS_ALU64, code & 0x08
        mov = op == ALU_MOV
        if mov and source == SRC_K and off not in (8, 16, 32):
            self.put(d, str(s64(insn.imm) if is64 else insn.imm & M32))  # a constant
            return
        name = SIMPLE_ALU.get(op)
        if name is not None:  # the common case, in one go
            a = self.get(d)
            b = self.get(s) if source == SRC_X else str(s64(insn.imm) if is64 else s32(insn.imm))
            n = next(self._tmp)
            if is64:
                self.lines.append(f"  %a{n} = {name} i64 {a}, {b}")
            else:
                lows = self.lows
                if source == SRC_X:
                    b = lows.get(b) or self.low32(b)
                a = lows.get(a) or self.low32(a)
                self.lines.append(f"  %a{n}.r = {name} i32 {a}, {b}\n  %a{n} = zext i32 %a{n}.r to i64")
                lows[f"%a{n}"] = f"%a{n}.r"
            self.values[d] = self.dirty[d] = f"%a{n}"
            return
        a64 = "0" if mov else self.get(d)  # a move does not read its destination
        if op == ALU_END:
            self.put(d, self.endian(a64, insn.imm, source == TO_BE, is64))
            return
        ty = "i64" if is64 else "i32"
        if op == ALU_NEG:
            b = "0"
        elif source == SRC_X:
            b = self.get(s) if is64 else self.narrow(self.get(s), 32)
        else:
            b = str(s64(insn.imm) if is64 else s32(insn.imm))
        a = a64 if is64 or mov else self.narrow(a64, 32)
        r = self.alu_op(op, off, ty, a, b, is64)
        if not is64:
            z = self.t()
            self.emit(f"{z} = zext i32 {r} to i64")
            r = z
        self.put(d, r)

    def alu_op(self, op: int, off: int, ty: str, a: str, b: str, is64: bool) -> str:
        r = self.t()
        name = SIMPLE_ALU.get(op)
        if name is not None:
            self.emit(f"{r} = {name} {ty} {a}, {b}")
            return r
        name = SHIFTS.get(op)
        if name is not None:
            width = 63 if is64 else 31
            if b[0] == "%":
                m = self.t()
                self.emit(f"{m} = and {ty} {b}, {width}")
            else:  # an immediate: masked here
                m = str(int(b) & width)
            self.emit(f"{r} = {name} {ty} {a}, {m}")
            return r
        if op == ALU_NEG:
            self.emit(f"{r} = sub {ty} 0, {a}")
            return r
        if op == ALU_MOV:
            bits = (8, 16, 32) if is64 else (8, 16)
            if off in bits:
                n = self.t()
                self.emit(f"{n} = trunc {ty} {b} to i{off}")
                self.emit(f"{r} = sext i{off} {n} to {ty}")
                return r
            return b
        if op in (ALU_DIV, ALU_MOD):
            zero, safe, q = self.t(), self.t(), self.t()
            self.emit(f"{zero} = icmp eq {ty} {b}, 0")
            if off == 1:
                m1, bad = self.t(), self.t()
                self.emit(f"{m1} = icmp eq {ty} {b}, -1")
                self.emit(f"{bad} = or i1 {zero}, {m1}")
                self.emit(f"{safe} = select i1 {bad}, {ty} 1, {ty} {b}")
                if op == ALU_DIV:
                    neg, q2 = self.t(), self.t()
                    self.emit(f"{q} = sdiv {ty} {a}, {safe}")
                    self.emit(f"{neg} = sub {ty} 0, {a}")
                    self.emit(f"{q2} = select i1 {m1}, {ty} {neg}, {ty} {q}")
                    self.emit(f"{r} = select i1 {zero}, {ty} 0, {ty} {q2}")
                else:
                    q2 = self.t()
                    self.emit(f"{q} = srem {ty} {a}, {safe}")
                    self.emit(f"{q2} = select i1 {m1}, {ty} 0, {ty} {q}")
                    self.emit(f"{r} = select i1 {zero}, {ty} {a}, {ty} {q2}")
                return r
            self.emit(f"{safe} = select i1 {zero}, {ty} 1, {ty} {b}")
            if op == ALU_DIV:
                self.emit(f"{q} = udiv {ty} {a}, {safe}")
                self.emit(f"{r} = select i1 {zero}, {ty} 0, {ty} {q}")
            else:
                self.emit(f"{q} = urem {ty} {a}, {safe}")
                self.emit(f"{r} = select i1 {zero}, {ty} {a}, {ty} {q}")
            return r
        # an operation the interpreter has no closure for: its table lookup fails
        self.fault_now(ops.fault(self.pc, f"unknown ALU operation {op:#x}", errno.EINVAL))
        self.block(self.label())
        return "0"

    def endian(self, v: str, bits: int, to_big: bool, uncond: bool) -> str:
        if bits not in (16, 32, 64):
            return self.call_py(self.op(ops.endian_op(bits, to_big, uncond)), v)
        if bits == 64 and not (to_big or uncond):
            return v
        n = self.narrow(v, bits)
        if to_big or uncond:
            sw = self.t()
            self.emit(f"{sw} = call i{bits} @llvm.bswap.i{bits}(i{bits} {n})")
            n = sw
        return self.widen(n, bits)

    # --- memory -------------------------------------------------------------------------

    def frame_slot(self, off: int) -> str:
        """The address ``off`` bytes from the frame's end, computed once in the entry
        block (which dominates every use) rather than at every access."""
        name = self.frame_slots.get(off)
        if name is None:
            name = self.frame_slots[off] = f"%fo{off}".replace("-", "m")
        return name

    def frame_offset(self, base: int, off: int, size: int) -> bool:
        """A frame access the compiler can prove in bounds: through r10, never written."""
        return base == 10 and not self.writes_r10 and -STACK_SIZE <= off <= -size

    def checked(self, slot: int, addr: str, size: int, align: bool = False) -> tuple[str, str]:
        """Branch on the cache of ``slot``: returns (hit label, miss label)."""
        n = next(self._tmp)  # one number names the lot (%c<n>.*, X<n>h, X<n>m)
        cache = self.cache_base + 16 * slot
        self.lines.append(
            f"  %c{n}.b = load i64, ptr inttoptr (i64 {cache} to ptr)\n"
            f"  %c{n}.l = load i64, ptr inttoptr (i64 {cache + 8} to ptr)\n"
            f"  %c{n}.lo = icmp uge i64 {addr}, %c{n}.b\n"
            f"  %c{n}.hi = icmp ule i64 {addr}, %c{n}.l\n"
            f"  %c{n}.ok = and i1 %c{n}.lo, %c{n}.hi"
        )
        ok = f"%c{n}.ok"
        if align and size > 1:
            self.lines.append(
                f"  %c{n}.m = and i64 {addr}, {size - 1}\n"
                f"  %c{n}.z = icmp eq i64 %c{n}.m, 0\n"
                f"  %c{n}.ok2 = and i1 %c{n}.ok, %c{n}.z"
            )
            ok = f"%c{n}.ok2"
        hit, miss = f"X{n}h", f"X{n}m"
        self.emit(f"br i1 {ok}, label %{hit}, label %{miss}")
        return hit, miss

    def low32(self, value: str) -> str:
        """The low 32 bits of a 64-bit value: a constant folded, the i32 result of a
        32-bit operation reused (it is defined where its 64-bit value is), a value
        truncated in this block reused; else a new ``trunc``."""
        if value[0] != "%":
            return str(s32(int(value)))
        v = self.lows.get(value)
        if v is None:
            v = self.t()
            self.lines.append(f"  {v} = trunc i64 {value} to i32")
            self.lows[value] = v
            self.block_lows.append(value)
        return v

    def narrow(self, value: str, bits: int) -> str:
        """The low ``bits`` of a 64-bit value."""
        if bits == 32:
            return self.low32(value)
        if bits == 64:
            return value
        v = self.t()
        self.emit(f"{v} = trunc i64 {value} to i{bits}")
        return v

    def widen(self, value: str, bits: int, ext: str = "zext") -> str:
        """A ``bits``-wide value extended to 64 bits."""
        if bits == 64:
            return value
        v = self.t()
        self.emit(f"{v} = {ext} i{bits} {value} to i64")
        return v

    def address(self, base: int, off: int) -> str:
        a = self.t()
        self.emit(f"{a} = add i64 {self.get(base)}, {off}")
        return a

    def load(self, pc: int, insn: Insn) -> None:
        size = BYTES[insn.size]
        signed = insn.mode == MODE_MEMSX
        bits = size * 8
        ext = "sext" if signed else "zext"
        if self.frame_offset(insn.src, insn.off, size):
            v = self.t()
            self.emit(f"{v} = load i{bits}, ptr {self.frame_slot(insn.off)}, align 1")
            self.put(insn.dst, self.widen(v, bits, ext))
            return
        addr = self.address(insn.src, insn.off)
        before = {r: v for r, v in self.values.items() if r != insn.dst}
        dirty, self.dirty = self.dirty, {}  # written after the diamond (see ``join``)
        hit, miss = self.checked(pc, addr, size)
        done = self.label()
        self.block(hit, before)
        p, v = self.t(), self.t()
        self.emit(f"{p} = inttoptr i64 {addr} to ptr")
        self.emit(f"{v} = load i{bits}, ptr {p}, align 1")
        incoming = [(self.widen(v, bits, ext), self.current)]
        self.emit(f"br label %{done}")
        self.block(miss, before)
        if insn.src not in self.ctx_regs:
            got = self.call_py(self.op(ops.load(self.cache, self.fields, pc, size, signed, pc, pc in self.exe.probe_loads), pure=True), addr, then=done)
            incoming.append((got, self.current))
            self.join(done, before, insn.dst, incoming, dirty)
            return
        # a context field read earlier, with nothing run in Python since
        fa, fe, ep, same, now, both, fv = (self.t() for _ in range(7))
        fhit, slow = self.label(), self.label()
        base = ctypes.addressof(self.fields) + 24 * pc
        self.emit(f"{fa} = load i64, ptr inttoptr (i64 {base} to ptr)")
        self.emit(f"{fe} = load i64, ptr inttoptr (i64 {base + 16} to ptr)")
        self.emit(f"{ep} = load i64, ptr {self.slot_ptr(layout.EPOCH)}")
        self.emit(f"{same} = icmp eq i64 {fa}, {addr}")
        self.emit(f"{now} = icmp eq i64 {fe}, {ep}")
        self.emit(f"{both} = and i1 {same}, {now}")
        self.emit(f"br i1 {both}, label %{fhit}, label %{slow}")
        self.block(fhit, before)
        self.emit(f"{fv} = load i64, ptr inttoptr (i64 {base + 8} to ptr)")
        incoming.append((fv, fhit))
        self.emit(f"br label %{done}")
        self.block(slow, before)
        got = self.call_py(self.op(ops.load(self.cache, self.fields, pc, size, signed, pc, pc in self.exe.probe_loads), pure=True), addr, then=done)
        incoming.append((got, self.current))
        self.join(done, before, insn.dst, incoming, dirty)

    def join(self, name: str, keep: dict[int, str], reg: int, incoming: list[tuple[str, str]],
             dirty: dict[int, str] | None = None) -> None:  # fmt: skip
        """Start block ``name``, where the paths in ``incoming`` (value, block) meet and
        ``reg`` holds the value of the path taken.

        ``dirty``: the registers set before the branch that led here and not yet
        written to their allocas.  A memory access's hit and miss paths both come back
        here or leave the function (where the allocas are dead), so the writes wait for
        the end of this block instead of being made before the branch."""
        self.block(name, keep)
        if dirty is not None:
            self.dirty = dirty
        r = self.t()
        self.emit(f"{r} = phi i64 " + ", ".join(f"[ {v}, %{b} ]" for v, b in incoming))
        self.put(reg, r)

    def store(self, pc: int, insn: Insn, imm: int | None) -> None:
        size = BYTES[insn.size]
        bits = size * 8
        value = str(s64(imm)) if imm is not None else self.get(insn.src)
        if self.frame_offset(insn.dst, insn.off, size):
            v = self.narrow(value, bits)
            self.emit(f"store i{bits} {v}, ptr {self.frame_slot(insn.off)}, align 1")
            return
        addr = self.address(insn.dst, insn.off)
        before = dict(self.values)
        dirty, self.dirty = self.dirty, {}  # written after the diamond (see ``join``)
        hit, miss = self.checked(pc, addr, size)
        done = self.label()
        self.block(hit, before)
        p = self.t()
        self.emit(f"{p} = inttoptr i64 {addr} to ptr")
        v = self.narrow(value, bits)
        self.emit(f"store i{bits} {v}, ptr {p}, align 1")
        self.emit(f"br label %{done}")
        self.block(miss, before)
        if imm is None:
            self.call_py(self.op(ops.store(self.cache, pc, size, pc)), addr, value, then=done)
        else:
            self.call_py(self.op(ops.store_imm(self.cache, pc, size, imm, pc)), addr, then=done)
        self.block(done, before)
        self.dirty = dirty

    def atomic(self, pc: int, insn: Insn) -> None:
        size = BYTES[insn.size]
        bits = size * 8
        code = insn.imm
        known = code in (AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL, AtomicOp.XCHG, AtomicOp.CMPXCHG) or (
            code & ~1 in (AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR)
        )
        if not known:
            self.fault_now(ops.fault(pc, f"unknown atomic operation {code:#x}", errno.EINVAL))
            self.block(self.label())
            return
        addr = self.address(insn.dst, insn.off)
        src = self.get(insn.src)
        before = {r: v for r, v in self.values.items() if r not in (0, insn.src, insn.dst)}
        hit, miss = self.checked(pc, addr, size, align=True)
        done = self.label()
        self.block(hit, before)
        p = self.t()
        self.emit(f"{p} = inttoptr i64 {addr} to ptr")
        v = self.narrow(src, bits)
        old = self.t()
        if code == AtomicOp.LOAD_ACQ:
            self.emit(f"{old} = load atomic i{bits}, ptr {p} acquire, align {size}")
        elif code == AtomicOp.STORE_REL:
            self.emit(f"store atomic i{bits} {v}, ptr {p} release, align {size}")
        elif code == AtomicOp.CMPXCHG:
            e, pair = self.narrow(self.get(0), bits), self.t()
            self.emit(f"{pair} = cmpxchg ptr {p}, i{bits} {e}, i{bits} {v} seq_cst seq_cst, align {size}")
            self.emit(f"{old} = extractvalue {{ i{bits}, i1 }} {pair}, 0")
        else:
            name = {AtomicOp.XCHG: "xchg", AtomicOp.ADD: "add", AtomicOp.OR: "or", AtomicOp.AND: "and",
                    AtomicOp.XOR: "xor"}[AtomicOp(code if code == AtomicOp.XCHG else code & ~1)]  # fmt: skip
            self.emit(f"{old} = atomicrmw {name} ptr {p}, i{bits} {v} seq_cst, align {size}")
        if code != AtomicOp.STORE_REL:
            self.atomic_result(insn, code, self.widen(old, bits))
        self.emit(f"br label %{done}")
        self.block(miss, before)
        r0 = self.get(0)
        got = self.call_py(self.op(ops.atomic(self.cache, pc, size, code, pc)), addr, src, r0)
        if code != AtomicOp.STORE_REL:
            self.atomic_result(insn, code, got)
        self.emit(f"br label %{done}")
        self.block(done, before)

    def atomic_result(self, insn: Insn, code: int, old: str) -> None:
        if code == AtomicOp.LOAD_ACQ:
            self.put(insn.dst, old)
        elif code == AtomicOp.CMPXCHG:
            self.put(0, old)
        elif code & 1:
            self.put(insn.src, old)

    def ld_pkt(self, pc: int, insn: Insn) -> None:
        size = {Size.B: 1, Size.H: 2, Size.W: 4}.get(Size(insn.size))
        if size is None:  # the interpreter's table has no 8-byte packet load
            self.fault_now(ops.fault(pc, "LD_ABS/LD_IND of 8 bytes", errno.EINVAL))
            self.block(self.label())
            return
        indirect = insn.mode == MODE_IND
        base = self.get(insn.src) if indirect else "0"
        got = self.call_py(self.op(ops.ld_pkt(size, insn.imm, indirect, pc)), base)
        self.put(0, got)

    # --- control ------------------------------------------------------------------------

    def backward_budget(self, pc: int) -> None:
        p, b, b1, neg = self.slot_ptr(layout.BUDGET), self.t(), self.t(), self.t()
        ok, out = self.label(), self.label()
        self.emit(f"{b} = load i64, ptr {p}")
        self.emit(f"{b1} = sub i64 {b}, 1")
        self.emit(f"store i64 {b1}, ptr {p}")
        self.emit(f"{neg} = icmp slt i64 {b1}, 0")
        keep = self.values
        self.emit(f"br i1 {neg}, label %{out}, label %{ok}")
        self.block(out)
        self.fault_now(ops.budget(pc))
        self.block(ok, keep)

    def jmp(self, pc: int, insn: Insn) -> None:
        cls, op, nxt = insn.cls, insn.op, pc + 1
        if op == J_JA:
            target = nxt + (insn.imm if cls == CLS_JMP32 else insn.off)
            if target < 0:
                self.fault_now(ops.fault(target, "jumped out of the program", errno.EINVAL))
                return
            if target <= pc:
                self.backward_budget(pc)
            self.emit(f"br label %{self.goto(target)}")
            return
        if op == J_EXIT:
            self.exit()
            return
        if op == J_CALL:
            self.call(pc, insn)
            self.fall(nxt)
            return
        if op == J_JCOND:
            p, c, z, c1 = self.slot_ptr(layout.MAY_GOTO), self.t(), self.t(), self.t()
            go, dec = self.label(), self.label()
            self.emit(f"{c} = load i64, ptr {p}")
            self.emit(f"{z} = icmp eq i64 {c}, 0")
            self.emit(f"br i1 {z}, label %{go}, label %{dec}")
            self.block(go)
            target = nxt + insn.off
            if target < 0:
                self.fault_now(ops.fault(target, "jumped out of the program", errno.EINVAL))
            else:
                self.emit(f"br label %{self.goto(target)}")
            self.block(dec)
            self.emit(f"{c1} = sub i64 {c}, 1")
            self.emit(f"store i64 {c1}, ptr {p}")
            self.emit(f"br label %{self.goto(nxt)}")
            return
        target = nxt + insn.off
        if target < 0:
            self.fault_now(ops.fault(target, "jumped out of the program", errno.EINVAL))
            return
        pred = PREDICATES.get(op)
        if pred is None:
            self.fault_now(ops.fault(pc, f"unknown jump operation {op:#x}", errno.EINVAL))
            return
        if insn.off == 0:  # both ways lead to the next instruction
            self.emit(f"br label %{self.goto(nxt)}")
            if self.sole_from.get(nxt) == pc:
                self.kept = (nxt, self.values)
            return
        is32 = cls == CLS_JMP32
        if insn.off < 0:
            self.backward_budget(pc)
        a = self.get(insn.dst)
        b = self.get(insn.src) if insn.source == SRC_X else str(s64(insn.imm & (M32 if is32 else M64)))
        ty = "i32" if is32 else "i64"
        if is32:
            a, b = self.low32(a), self.low32(b)
        c = self.t()
        if pred == "set":
            m = self.t()
            self.emit(f"{m} = and {ty} {a}, {b}")
            self.emit(f"{c} = icmp ne {ty} {m}, 0")
        else:
            self.emit(f"{c} = icmp {pred} {ty} {a}, {b}")
        self.emit(f"br i1 {c}, label %{self.goto(target)}, label %{self.goto(nxt)}")
        if self.sole_from.get(nxt) == pc:
            # only this branch leads to the next instruction: it starts with the
            # registers' values as they are here (no loads from the allocas)
            self.kept = (nxt, self.values)

    def exit(self) -> None:
        for r in range(6):
            p = self.t()
            self.emit(f"{p} = getelementptr i64, ptr %io, i64 {r}")
            self.emit(f"store i64 {self.get(r)}, ptr {p}")
        self.emit("ret void")

    def regs_to(self, io: str) -> None:
        for r in range(10):
            p = self.t()
            self.emit(f"{p} = getelementptr i64, ptr {io}, i64 {r}")
            self.emit(f"store i64 {self.get(r)}, ptr {p}")

    def regs_from(self, io: str) -> None:
        for r in range(6):
            p, v = self.t(), self.t()
            self.emit(f"{p} = getelementptr i64, ptr {io}, i64 {r}")
            self.emit(f"{v} = load i64, ptr {p}")
            self.put(r, v)

    def set_depth(self) -> None:
        self.emit(f"store i64 %depth, ptr {self.slot_ptr(layout.DEPTH)}")

    def call(self, pc: int, insn: Insn) -> None:
        nxt, imm = pc + 1, insn.imm
        if insn.source == SRC_X:
            self.set_depth()
            regs = [self.get(r) for r in (insn.dst, 1, 2, 3, 4, 5)]
            self.put(0, self.call_py(self.op(ops.callx(self.exe.helpers, pc)), *regs))
            return
        if insn.src == PSEUDO_CALL:
            self.local_call(pc, nxt + imm)
            return
        if insn.src == PSEUDO_HELPER and imm == TAIL_CALL_HELPER:
            self.tail_call(pc)
            return
        if insn.src == PSEUDO_HELPER:
            helper = self.exe.helpers.get(imm)
            if helper is None:
                self.fault_now(ops.fault(pc, f"helper #{imm} is not implemented by pybpf", errno.ENOTSUP))
                self.block(self.label())
                return
            if self.inline.emit(pc, imm, helper):
                return
            self.set_depth()
            args = [self.get(r) for r in range(1, 6)]
            pure = helper.name.removeprefix("bpf_") in ops.CTX_SAFE_HELPERS
            self.put(0, self.call_py(self.op(ops.helper(helper.fn, pc), pure=pure), *args))
            return
        self.fault_now(ops.fault(pc, f"call to kernel function #{imm}: kfuncs are not available here"))
        self.block(self.label())

    def local_call(self, pc: int, target: int) -> None:
        if target < 0:
            self.fault_now(ops.fault(target, "jumped out of the program", errno.EINVAL))
            self.block(self.label())
            return
        nd, deep, ok = self.t(), self.t(), self.label()
        bad = self.label()
        self.emit(f"{nd} = add i64 %depth, 1")
        self.emit(f"{deep} = icmp uge i64 {nd}, {MAX_CALL_FRAMES}")
        self.emit(f"br i1 {deep}, label %{bad}, label %{ok}")
        self.block(bad)
        self.fault_now(ops.too_deep(pc), nd)
        self.block(ok)
        if target >= self.n:
            self.fault_now(ops.fault(target, "jumped out of the program", errno.EINVAL))
            self.block(self.label())
            return
        up, used, fresh = self.slot_ptr(layout.USED), self.t(), self.t()
        zero, go = self.label(), self.label()
        self.emit(f"{used} = load i64, ptr {up}")
        self.emit(f"{fresh} = icmp ugt i64 {nd}, {used}")
        self.emit(f"br i1 {fresh}, label %{zero}, label %{go}")
        self.block(zero)
        fp, fs, fb, fptr = self.t(), self.t(), self.t(), self.t()
        self.emit(f"{fp} = getelementptr i64, ptr %st, i64 {layout.FRAMES}")
        self.emit(f"{fs} = getelementptr i64, ptr {fp}, i64 {nd}")
        self.emit(f"{fb} = load i64, ptr {fs}")
        self.emit(f"{fptr} = inttoptr i64 {fb} to ptr")
        self.zero_frame(fptr)
        self.emit(f"store i64 {nd}, ptr {up}")
        self.emit(f"br label %{go}")
        self.block(go)
        self.regs_to("%cio")
        self.emit(f"call void @f{target}(ptr %cio, i64 {nd}, ptr %st)")
        self.check_status()
        self.regs_from("%cio")

    def tail_call(self, pc: int) -> None:
        """A target remembered at this site (same map and index, nothing run in Python
        since, same runner) is called natively; anything else asks Python."""
        self.set_depth()
        r2, r3 = self.get(2), self.get(3)
        idx = self.t()
        self.emit(f"{idx} = and i64 {r3}, {M32}")
        base = ctypes.addressof(self.tails) + 40 * pc
        vals = []
        for i in range(4):
            v = self.t()
            self.emit(f"{v} = load i64, ptr inttoptr (i64 {base + 8 * i} to ptr)")
            vals.append(v)
        ep, tk = self.t(), self.t()
        self.emit(f"{ep} = load i64, ptr {self.slot_ptr(layout.EPOCH)}")
        self.emit(f"{tk} = load i64, ptr {self.slot_ptr(layout.TOKEN)}")
        conds = []
        for have, want in zip(vals, (r2, idx, ep, tk), strict=True):
            c = self.t()
            self.emit(f"{c} = icmp eq i64 {have}, {want}")
            conds.append(c)
        a1, a2, a3 = self.t(), self.t(), self.t()
        self.emit(f"{a1} = and i1 {conds[0]}, {conds[1]}")
        self.emit(f"{a2} = and i1 {conds[2]}, {conds[3]}")
        self.emit(f"{a3} = and i1 {a1}, {a2}")
        known, ask, count, go, stay = (self.label() for _ in range(5))
        self.emit(f"br i1 {a3}, label %{known}, label %{ask}")
        self.block(known)
        cp, cnt, over, cnt1, fast_fn = self.slot_ptr(layout.TAIL_CALLS), self.t(), self.t(), self.t(), self.t()
        self.emit(f"{cnt} = load i64, ptr {cp}")
        self.emit(f"{over} = icmp uge i64 {cnt}, 33")
        self.emit(f"br i1 {over}, label %{stay}, label %{count}")
        self.block(count)
        self.emit(f"{cnt1} = add i64 {cnt}, 1")
        self.emit(f"store i64 {cnt1}, ptr {cp}")
        self.emit(f"{fast_fn} = load i64, ptr inttoptr (i64 {base + 32} to ptr)")
        self.emit(f"br label %{go}")
        self.block(ask)
        asked = self.label()
        fn = self.call_py(self.op(ops.tail_call(pc, self.tails, pc), pure=True), r2, r3, then=asked)
        self.block(asked)
        z, call = self.t(), self.label()
        self.emit(f"{z} = icmp eq i64 {fn}, 0")
        self.emit(f"br i1 {z}, label %{stay}, label %{go}")
        self.block(go)
        target = self.t()
        self.emit(f"{target} = phi i64 [ {fast_fn}, %{count} ], [ {fn}, %{asked} ]")
        self.emit(f"br label %{call}")
        self.block(call)
        self.regs_to("%io")
        fp = self.t()
        self.emit(f"{fp} = inttoptr i64 {target} to ptr")
        self.emit(f"call void {fp}(ptr %io, i64 %depth, ptr %st)")
        self.emit("ret void")
        self.block(stay)
