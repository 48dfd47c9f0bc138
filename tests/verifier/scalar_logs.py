"""Random straight-line programs, the kernel's verifier log of them, and a replay.

The exactness tests of :mod:`pybpf.verifier.scalar` compare the register states the
kernel prints at log level 2 with :func:`scalar.format_scalar` of the states computed by
replaying the same program with pybpf's transfer functions.

The programs are built so that only the scalar domain decides what the log shows: four
unknown 64-bit numbers (``bpf_ktime_get_ns()`` into r6..r9) and constants in r1..r5, then
random ALU instructions and conditional jumps whose targets are all the final ``r0 = 0;
exit``.  Registers are never left sharing an id with a live partner at a jump (every
register-to-register move is followed by an operation that clears the destination's id),
so the kernel's linked-register propagation never applies.

The replay follows the log: the kernel explores the fall-through side first and keeps
the other side on a stack (``from X to Y:`` later resumes it, or reports it ``safe``); the
replay keeps the same stack, so it can check every state the kernel prints, including the
jump side of each branch and the two paths of a forked AND/OR.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from pybpf.isa import Insn, lddw
from pybpf.verifier import scalar as sc

ALU = 0x04
JMP = 0x05
JMP32 = 0x06
ALU64 = 0x07
K = 0x00
X = 0x08
CALL = 0x85
EXIT = 0x95
KTIME_GET_NS = 5

ALU_OPS = (sc.ADD, sc.SUB, sc.MUL, sc.DIV, sc.OR, sc.AND, sc.LSH, sc.RSH, sc.MOD,
           sc.XOR, sc.ARSH)  # fmt: skip
JMP_OPS = (sc.JEQ, sc.JGT, sc.JGE, sc.JSET, sc.JNE, sc.JSGT, sc.JSGE, sc.JLT, sc.JLE,
           sc.JSLT, sc.JSLE)  # fmt: skip
ID_CLEARING_OPS = (sc.MUL, sc.DIV, sc.OR, sc.AND, sc.LSH, sc.RSH, sc.MOD, sc.XOR, sc.ARSH)

STYLES = ("alu", "jmp", "mixed")


# ---------------------------------------------------------------------------------------
# Program generation


@dataclass
class _Gen:
    rng: random.Random
    insns: list[Insn] = field(default_factory=list)
    regs: list[sc.Bounds | None] = field(default_factory=lambda: [None] * 11)
    jumps: list[int] = field(default_factory=list)  # indexes of jumps to patch

    def emit(self, insn: Insn) -> None:
        self.insns.append(insn)

    def imm(self, dst: int | None = None) -> int:
        """An interesting 32-bit immediate, often one near a bound of ``dst``."""
        return _norm_imm(self._imm(dst))

    def _imm(self, dst: int | None) -> int:
        r = self.rng
        if dst is not None and r.random() < 0.5:
            b = self.regs[dst]
            if b is not None:
                v = r.choice((b.umin, b.umax, b.smin, b.smax, b.s32_min, b.s32_max,
                              b.u32_min, b.u32_max))  # fmt: skip
                return v + r.choice((-2, -1, 0, 0, 1, 2))
        choice = r.random()
        if choice < 0.35:
            return r.randint(-4, 20)
        if choice < 0.6:
            p = r.randint(0, 31)
            return ((1 << p) + r.choice((-1, 0, 0, 1))) * r.choice((1, 1, -1))
        if choice < 0.75:
            return r.choice((0x7FFFFFFF, -0x80000000, 0xFFFF, 0xFF, 0xFF00, 0x7FFF, -0x8000,
                             0x0F0F0F0F, -256, -65536))  # fmt: skip
        return r.randint(-(1 << 31), (1 << 31) - 1)

    def reg(self) -> int:
        return self.rng.randint(1, 9)


def _norm_imm(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def generate(seed: int, style: str = "mixed", length: int = 28) -> list[Insn]:
    """A random program (see the module docstring) with ``length`` body instructions.

    ``style`` weights the body: ``alu`` mostly arithmetic, ``jmp`` mostly conditional
    jumps that narrow ranges, ``mixed`` both.  The generator simulates the program with
    the module under test only to pick relevant constants and to keep most jumps
    undecided; the kernel decides what is checked.
    """
    r = random.Random(seed)
    g = _Gen(r)
    for reg in (6, 7, 8, 9):
        g.emit(Insn(CALL, 0, 0, 0, KTIME_GET_NS))
        g.emit(Insn(ALU64 | X | sc.MOV, reg, 0))
        g.regs[reg] = sc.UNKNOWN
    for reg in (1, 2, 3, 4, 5):
        if r.random() < 0.3:
            v = r.choice((r.getrandbits(64), 1 << r.randint(31, 63), -(1 << r.randint(31, 63)),
                          0xFFFFFFFF, 0x100000000, 0x80000000))  # fmt: skip
            g.emit(lddw(reg, v)[0])
            g.emit(lddw(reg, v)[1])
            g.regs[reg] = sc.known(v)
        else:
            v = g.imm()
            g.emit(Insn(ALU64 | K | sc.MOV, reg, 0, 0, v))
            g.regs[reg] = sc.known(v)
    g.emit(Insn(ALU64 | K | sc.MOV, 0, 0, 0, 0))
    p_jump = {"alu": 0.12, "jmp": 0.55, "mixed": 0.3}[style]
    n = 0
    while n < length:
        if r.random() < p_jump:
            if _gen_jump(g):
                n += 1
        else:
            n += _gen_alu(g)
    g.emit(Insn(ALU64 | K | sc.MOV, 0, 0, 0, 0))
    g.emit(Insn(EXIT))
    exit_at = len(g.insns) - 2
    out = list(g.insns)
    for at in g.jumps:
        j = out[at]
        out[at] = Insn(j.code, j.dst, j.src, exit_at - at - 1, j.imm)
    return out


def _gen_jump(g: _Gen) -> bool:
    r = g.rng
    op = r.choice(JMP_OPS)
    is32 = r.random() < 0.35
    dst = r.choice((6, 7, 8, 9)) if r.random() < 0.7 else g.reg()
    d = g.regs[dst]
    assert d is not None
    if r.random() < 0.3:
        src = dst if r.random() < 0.1 else g.reg()
        s = g.regs[src]
        assert s is not None
        insn = Insn((JMP32 if is32 else JMP) | X | op, dst, src)
    else:
        imm = g.imm(dst)
        src = None
        s = sc.known(imm)
        insn = Insn((JMP32 if is32 else JMP) | K | op, dst, 0, 0, imm)
    pred = sc.is_branch_taken(op, d, s, is32)
    if pred == 1 and r.random() < 0.8:
        return False  # would end the path here; keep most programs long
    if pred == -1:
        if src == dst:
            g.regs[dst] = sc.refine_same(sc.negate(op), d, is32)
        else:
            nd, ns = sc.refine(sc.negate(op), d, s, is32)
            g.regs[dst] = nd
            if src is not None:
                g.regs[src] = ns
    g.jumps.append(len(g.insns))
    g.emit(insn)
    return True


def _gen_alu(g: _Gen) -> int:
    """Emit one ALU instruction (or a move and the op that unlinks it); returns the count."""
    r = g.rng
    alu32 = r.random() < 0.35
    cls = ALU if alu32 else ALU64
    dst = g.reg()
    d = g.regs[dst]
    assert d is not None
    kind = r.random()
    if kind < 0.06:
        g.emit(Insn(cls | sc.NEG, dst))
        g.regs[dst] = sc.alu(sc.NEG, d, d, alu32)
        return 1
    if kind < 0.13:
        imm = r.choice((16, 32, 64))
        if r.random() < 0.35:
            insn = Insn(ALU64 | sc.END, dst, 0, 0, imm)  # bswap
            g.regs[dst] = sc.byte_swap(d, imm, True, False)
        else:
            be = r.random() < 0.5
            insn = Insn(ALU | (X if be else K) | sc.END, dst, 0, 0, imm)
            g.regs[dst] = sc.byte_swap(d, imm, False, be)
        g.emit(insn)
        return 1
    if kind < 0.25:
        # register moves: zero extension and sign extension, then unlink the copy
        src = g.reg()
        s = g.regs[src]
        assert s is not None
        if alu32:
            off = r.choice((0, 0, 8, 16))
        else:
            off = r.choice((8, 16, 32))
        g.emit(Insn(cls | X | sc.MOV, dst, src, off))
        g.regs[dst] = sc.alu(sc.MOV, d, s, alu32, off)
        op = r.choice(ID_CLEARING_OPS)
        _emit_binop(g, op, ALU64 if r.random() < 0.7 else ALU, dst)
        return 2
    op = r.choice(ALU_OPS)
    if dst < 6 and r.random() < 0.6:
        # make the constants r1..r5 into ranges sometimes: combine with an unknown
        op = r.choice((sc.ADD, sc.SUB, sc.AND, sc.OR, sc.XOR, sc.MUL))
        _emit_binop(g, op, cls, dst, src=r.choice((6, 7, 8, 9)))
        return 1
    _emit_binop(g, op, cls, dst)
    return 1


def _emit_binop(g: _Gen, op: int, cls: int, dst: int, src: int | None = None) -> None:
    r = g.rng
    alu32 = cls == ALU
    d = g.regs[dst]
    assert d is not None
    width = 32 if alu32 else 64
    off = 0
    if op in (sc.DIV, sc.MOD) and r.random() < 0.5:
        off = 1
    if src is None and r.random() < 0.3:
        src = g.reg()
    if src is not None:
        s = g.regs[src]
        assert s is not None
        insn = Insn(cls | X | op, dst, src, off)
    else:
        if op in (sc.LSH, sc.RSH, sc.ARSH):
            imm = r.randint(0, width - 1) if r.random() < 0.7 else r.choice((1, 8, 31, width - 1))
        elif op in (sc.DIV, sc.MOD):
            imm = g.imm() or 3
        elif op in (sc.AND, sc.OR) and r.random() < 0.5:
            imm = r.choice((0xFF, 0xFFFF, 0xF0, 0x7F, 1, 3, 7, 0x1F, 0xFF00, -8, -256, 0x11,
                            0x7FFFFFFF, -0x80000000, 0x80000000))  # fmt: skip
        else:
            imm = g.imm(dst)
        imm = _norm_imm(imm)
        s = sc.known(imm)
        insn = Insn(cls | K | op, dst, 0, off, imm)
    if op in (sc.AND, sc.OR) and not s.var_off.mask:
        split = sc.fork(d)
        if split is not None:
            d = split[0]
    g.emit(insn)
    g.regs[dst] = sc.alu(op, d, s, alu32, off)


# ---------------------------------------------------------------------------------------
# Log parsing


_INSN_LINE = re.compile(r"^(\d+): \(([0-9a-f]{2})\) (.*?)(?:\s+; (.*))?$")
_STATE_LINE = re.compile(r"^(\d+):((?: frame\d+:)? R\d.*)$")
_FROM_LINE = re.compile(r"^from (\d+) to (\d+): (.*)$")
_SAFE_LINE = re.compile(r"^(\d+): safe$")
_VIOLATION_LINE = re.compile(r"^verifier bug: REG INVARIANTS VIOLATION")
_REG = re.compile(r"(?:^| )R(\d+)(?:_\w+)?=")
_ID = re.compile(r"(?<=[(,])(?:id|ref_obj_id)=\d+(?:[+-]\d+)?,?")


def relevant_lines(log: str) -> list[str]:
    """The lines of a level-2 log the replay reads (instructions, states, branches)."""
    keep = []
    for line in log.splitlines():
        if (
            _INSN_LINE.match(line)
            or _STATE_LINE.match(line)
            or _FROM_LINE.match(line)
            or _SAFE_LINE.match(line)
            or _VIOLATION_LINE.match(line)
        ):
            keep.append(line)
    return keep


def parse_regs(text: str) -> dict[int, str]:
    """``R1=ctx() R6=scalar(id=1,smin=...)`` -> {1: 'ctx()', 6: 'scalar(smin=...)'}.

    Ids and the precision mark are dropped: they are the caller's, not the domain's.
    """
    out: dict[int, str] = {}
    marks = list(_REG.finditer(text))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        value = text[m.end() : end].strip()
        if value.startswith("P"):
            value = value[1:]
        value = _ID.sub("", value).replace(",)", ")")
        out[int(m.group(1))] = value
    return out


# ---------------------------------------------------------------------------------------
# Replay


@dataclass
class Comparison:
    where: str
    reg: int
    kernel: str
    ours: str

    @property
    def agrees(self) -> bool:
        return self.kernel == self.ours


@dataclass
class Replay:
    comparisons: list[Comparison] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def disagreements(self) -> list[Comparison]:
        return [c for c in self.comparisons if not c.agrees]


_Regs = list[sc.Bounds | None]


def _scalar_text(b: sc.Bounds) -> str:
    return sc.format_scalar(b)


def replay(insns: list[Insn], lines: list[str]) -> Replay:
    """Walk the kernel's log of ``insns`` with pybpf's transfer functions; compare states."""
    out = Replay()
    regs: _Regs = [None] * 11
    pending: list[tuple[int, int, _Regs]] = []
    violations: list[str] = []  # the consistency complaints the kernel should log next
    pc: int | None = 0
    for line in lines:
        if _VIOLATION_LINE.match(line):
            if not violations:
                out.problems.append(f"{line!r}: the replay expected no violation here")
                return out
            out.comparisons.append(Comparison("invariants", -1, line, violations.pop(0)))
            continue
        if violations:
            out.problems.append(f"{line!r}: the kernel did not log {violations[0]!r}")
            return out
        m = _FROM_LINE.match(line)
        if m:
            frm, to, rest = int(m.group(1)), int(m.group(2)), m.group(3)
            if not pending:
                out.problems.append(f"{line!r}: the replay has no pending path")
                return out
            pfrm, pto, pregs = pending.pop()
            if (pfrm, pto) != (frm, to):
                out.problems.append(f"{line!r}: the replay expected from {pfrm} to {pto}")
                return out
            regs = pregs
            pc = to
            if rest.strip() != "safe":
                _compare(out, f"from {frm} to {to}", regs, parse_regs(rest))
            else:
                pc = None
            continue
        m = _SAFE_LINE.match(line)
        if m:
            pc = None
            continue
        m = _STATE_LINE.match(line)
        if m:
            _compare(out, f"state at {m.group(1)}", regs, parse_regs(m.group(2)))
            continue
        m = _INSN_LINE.match(line)
        if not m:
            continue
        idx = int(m.group(1))
        if pc is not None and idx != pc:
            out.problems.append(f"{line!r}: the replay expected instruction {pc}")
            return out
        try:
            pc = _step(insns, idx, regs, pending, violations)
        except _Stop:
            pc = None
        if m.group(4):
            _compare(out, f"after {idx}: {m.group(3)}", regs, parse_regs(m.group(4)))
    return out


def _alu(
    insn: Insn, regs: _Regs, idx: int, pending: list[tuple[int, int, _Regs]]
) -> sc.Bounds | None:
    """The new value of the destination of an ALU instruction (None: not a scalar)."""
    code = insn.code
    cls = code & 7
    op = code & 0xF0
    alu32 = cls == ALU
    d = regs[insn.dst]
    if op == sc.MOV:
        if code & X:
            s = regs[insn.src]
            if s is None:  # a pointer or the frame pointer: not replayed
                return None
        else:
            s = sc.known(insn.imm)
        return sc.alu(sc.MOV, d or sc.UNKNOWN, s, alu32, insn.off)
    assert d is not None
    if op == sc.END:
        return sc.byte_swap(d, insn.imm, cls == ALU64, bool(code & X))
    if op == sc.NEG:
        return sc.alu(sc.NEG, d, d, alu32)
    s = regs[insn.src] if code & X else sc.known(insn.imm)
    assert s is not None
    if op in (sc.AND, sc.OR) and not s.var_off.mask:
        split = sc.fork(d)
        if split is not None:
            other = list(regs)
            other[insn.dst] = split[1]
            pending.append((idx, idx, other))
            d = split[0]
    return sc.alu(op, d, s, alu32, insn.off)


def _checked(b: sc.Bounds, ctx: str, violations: list[str]) -> sc.Bounds:
    """reg_bounds_sanity_check: an inconsistent register is logged and forgets its ranges."""
    line = sc.invariants_violation(b, ctx)
    if line is None:
        return b
    violations.append(line)
    return sc.forget_ranges(b)


class _Stop(Exception):
    pass


def _compare(out: Replay, where: str, regs: _Regs, printed: dict[int, str]) -> None:
    for reg, text in printed.items():
        if not 1 <= reg <= 9:
            continue
        b = regs[reg]
        if b is None:
            continue
        out.comparisons.append(Comparison(where, reg, text, _scalar_text(b)))


def _step(
    insns: list[Insn],
    idx: int,
    regs: _Regs,
    pending: list[tuple[int, int, _Regs]],
    violations: list[str],
) -> int:
    """Execute instruction ``idx`` abstractly; returns the next pc of this path."""
    insn = insns[idx]
    code = insn.code
    cls = code & 7
    op = code & 0xF0
    if code == CALL:
        regs[0] = sc.UNKNOWN
        for r in range(1, 6):
            regs[r] = None
        return idx + 1
    if code == EXIT:
        raise _Stop
    if code == 0x18:  # lddw
        regs[insn.dst] = sc.known((insns[idx + 1].imm << 32) | (insn.imm & 0xFFFFFFFF))
        return idx + 2
    if cls in (ALU, ALU64):
        regs[insn.dst] = _alu(insn, regs, idx, pending)
        if regs[insn.dst] is not None:  # check_alu_op ends with reg_bounds_sanity_check
            regs[insn.dst] = _checked(regs[insn.dst], "alu", violations)  # type: ignore[arg-type]
        return idx + 1
    if cls in (JMP, JMP32):
        is32 = cls == JMP32
        d = regs[insn.dst]
        s = regs[insn.src] if code & X else sc.known(insn.imm)
        assert d is not None and s is not None
        target = idx + 1 + insn.off
        pred = sc.is_branch_taken(op, d, s, is32)
        if pred == 1:
            return target
        if pred == 0:
            return idx + 1
        if code & X and insn.src == insn.dst:
            td = ts = sc.refine_same(op, d, is32)
            fd = fs = sc.refine_same(sc.negate(op), d, is32)
        else:
            td, ts = sc.refine(op, d, s, is32)
            fd, fs = sc.refine(sc.negate(op), d, s, is32)
        # reg_set_min_max checks the four results in this order, a complaint resetting
        # the register (which, when both operands are one register, is checked twice)
        same = bool(code & X) and insn.src == insn.dst
        td = _checked(td, "true_reg1", violations)
        ts = _checked(td if same else ts, "true_reg2", violations)
        fd = _checked(fd, "false_reg1", violations)
        fs = _checked(fd if same else fs, "false_reg2", violations)
        if same:
            td, fd = ts, fs
        taken = list(regs)
        taken[insn.dst] = td
        regs[insn.dst] = fd
        if code & X:
            taken[insn.src] = ts
            regs[insn.src] = fs
        pending.append((idx, target, taken))
        return idx + 1
    raise AssertionError(f"unexpected instruction {insn}")


# ---------------------------------------------------------------------------------------
# Hand-written programs, one per behaviour worth pinning down


PROLOGUE = """
call 5
r6 = r0
call 5
r7 = r0
call 5
r8 = r0
call 5
r9 = r0
r1 = 0
r2 = 0
r3 = 0
r4 = 0
r5 = 0
r0 = 0
"""

PROBES: dict[str, str] = {
    # signed products of ranges (6.14+), and their 32-bit forms
    "mul_signed": """
        if r6 s< -3 goto exit
        if r6 s> 5 goto exit
        if r7 < 2 goto exit
        if r7 > 4 goto exit
        r1 = r6
        r1 *= r7
        w2 = w6
        w2 *= w7
        r4 = r6
        r4 *= -7
        w5 = w6
        w5 *= -7
        r8 &= 0xffff
        r8 *= r8
        r9 &= 0x1ffff
        r9 *= r9
    """,
    # tnum_mul keeps correlated unknown bits (the union-based product)
    "mul_tnum": """
        r6 &= 2
        r6 |= 57
        r6 *= 158
        r7 &= 2
        r7 |= 13
        r7 *= 243
        r8 &= 1
        r8 |= 90
        r8 *= 151
        r9 &= 0x0f0f
        r9 *= 0x1001
    """,
    # BPF_NEG is tracked (6.13+), as 0 - x
    "neg": """
        r6 &= 0xff
        r6 = -r6
        w7 &= 0x7f
        w7 = -w7
        r8 |= 1
        r8 = -r8
        r1 = 5
        r1 = -r1
        w2 = 5
        w2 = -w2
    """,
    # byte swaps keep the known bits (BPF_END tracking, in 6.18 stable)
    "bswap": """
        r6 &= 0xff
        r6 = be16 r6
        r7 &= 0xf0f0
        r7 = be32 r7
        r8 &= 0xff00
        r8 = bswap64 r8
        r9 &= 0xffff
        r9 = le16 r9
        r1 = r7
        r1 = le64 r1
        r2 = 0x1234
        r2 = be16 r2
        r3 = r8
        r3 = bswap16 r3
        r4 = r9
        r4 = le32 r4
    """,
    # a tnum and a range meeting in one number make a constant (in 6.18 stable)
    "single_value": """
        r6 &= 0x11
        if r6 < 2 goto exit
        if r6 > 16 goto exit
        r7 &= 0x101
        if r7 > 0x100 goto exit
        if r7 < 1 goto exit
        r8 &= 0x30
        if r8 s> 0x20 goto exit
        if r8 == 0 goto exit
    """,
    # sums and differences that wrap at both ends keep their range (6.16+)
    "wrap_both_ends": """
        r6 &= 0xff
        r6 += -1
        r7 &= 0xff
        r7 |= 1
        r7 -= 0x100
        w8 &= 0xf
        w8 |= 1
        w8 = -w8
        w9 &= 0xff
        w9 += 0x7fffffff
        r1 = r6
        r1 += 0x7fffffff
    """,
    # AND/OR with a constant on a -1/0 register forks the path
    "fork": """
        r6 s>>= 63
        r6 &= 7
        w7 s>>= 31
        w7 |= 0x10
        r8 = r7
        r8 &= 1
    """,
    # comparisons of a register with itself refine through both operands at once
    "same_register": """
        r6 &= 0xff
        if r6 == r6 goto exit
        if r6 > r6 goto exit
        if r6 s< r6 goto exit
        w7 &= 0xff
        if w7 < w7 goto exit
        if w7 s> w7 goto exit
        r1 = 0
    """,
    # sign-extending moves and their ranges
    "sign_extension": """
        r6 &= 0x1ff
        r1 = (s8)r6
        r7 &= 0x7f
        r2 = (s8)r7
        r3 = (s16)r6
        w4 = (s8)w6
        w5 = (s16)w7
        r8 |= -256
        r1 = (s8)r8
        r1 |= 0
        r9 &= 0xffffffff
        r2 = (s32)r9
        r2 |= 0
        r3 = 0x80
        r3 = (s8)r3
    """,
    # shifts: constant amounts, the <<32 pattern, and unknown amounts
    "shifts": """
        r6 &= 0xff
        r6 <<= 32
        r6 s>>= 32
        w7 &= 0xff
        w7 <<= 24
        w7 s>>= 24
        r8 &= 0xffff
        r8 >>= 4
        r9 &= 3
        r1 = r6
        r1 <<= r9
        r2 = 0xff
        r2 >>= r9
        w3 = 1
        w3 <<= 31
    """,
    # jumps that the ranges or the known bits decide, and the JSET forms
    "jumps": """
        r6 &= 0xf0
        if r6 == 5 goto exit
        if r6 & 0xf goto exit
        if r6 & 0x10 goto exit
        r7 &= 0xff
        if r7 & 0x10 goto exit
        if w7 s> 0x7f goto exit
        if r7 > 0x7f goto exit
        if r8 != 0 goto exit
        r9 |= 0x80000000
        if w9 s>= 0 goto exit
    """,
    # a dead branch the ranges cannot see: the kernel logs and forgets the ranges
    "invariants": """
        r7 |= 7
        if w7 s<= 0xffff goto exit
        if w7 s> 0x10001 goto exit
        r1 = r7
        r1 |= 0
        r8 &= -8
        if r8 < 9 goto exit
        if r8 > 10 goto exit
    """,
    # division and modulo, and shifts by too much, are not tracked
    "untracked": """
        r6 &= 0xff
        r6 /= 3
        w7 &= 0xff
        w7 %= 7
        r8 &= 0xff
        r8 s/= -3
        r1 = 100
        r1 /= 3
        r9 &= 0x3f
        r2 = 1
        r2 <<= r9
        w3 = 7
        w3 >>= w9
    """,
}


def assemble_probe(body: str) -> list[Insn]:
    """The probe's instructions, its ``goto exit`` jumps aimed at the closing exit."""
    from pybpf.isa import assemble

    lines = [ln.strip() for ln in (PROLOGUE + body).splitlines() if ln.strip()]
    sizes = [len(assemble(ln.replace("goto exit", "goto +0"))) for ln in lines]
    exit_at = sum(sizes)
    out: list[Insn] = []
    for ln, size in zip(lines, sizes):
        at = len(out) + size
        out.extend(assemble(ln.replace("goto exit", f"goto {exit_at - at:+d}")))
    out.extend(assemble("r0 = 0\nexit"))
    return out
