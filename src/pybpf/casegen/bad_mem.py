"""Deliberate mistakes in memory access: uninitialised registers and stack, the context
(offsets, sizes, read-only fields, modified pointers), packets (missing and off-by-one
bounds checks), map values (NULL, constant, variable, negative and unbounded offsets),
the stack (outside the frame, misaligned), read-only maps, and atomics on bad pointers.
"""

from __future__ import annotations

from ..isa.helper_ids import HELPER_IDS
from ..isa.insn import Insn
from ..isa.opcodes import AluOp, AtomicOp, InsnClass, JmpOp, Mode
from . import asm
from .asm import SIZE_CODE, Label
from .bad_util import (
    access,
    bounds_ok,
    ctx_ptr,
    fp_ptr,
    loaded,
    lookup,
    packet_pointers,
    read,
    readonly_map,
    unknown_scalar,
    value_ptr,
    with_value,
)
from .frag_mem import ATOMIC_OPS, HELPER_LOOKUP_PERCPU, _call_with_key, pick_map
from .gen import BPF_F_RDONLY_PROG, CTX, FP, Gen, MapInfo

HELPER_PRANDOM = HELPER_IDS["get_prandom_u32"]
HELPER_SMP_ID = HELPER_IDS["get_smp_processor_id"]
HELPER_KTIME = HELPER_IDS["ktime_get_ns"]
HELPER_SKB_PULL_DATA = HELPER_IDS["skb_pull_data"]
HELPER_XDP_ADJUST_HEAD = HELPER_IDS["xdp_adjust_head"]
HELPER_SKB_LOAD_BYTES = HELPER_IDS["skb_load_bytes"]
HELPER_XDP_LOAD_BYTES = HELPER_IDS["xdp_load_bytes"]

SIZES = (1, 2, 4, 8)

# --- uninitialised registers and stack -----------------------------------------------------


def emit_uninit_reg(g: Gen) -> None:
    """Read one of r1-r5 right after a helper call left it unset."""
    rng = g.rng
    g.before_call()
    g.emit(asm.call_helper(rng.choice([HELPER_PRANDOM, HELPER_SMP_ID, HELPER_KTIME])))
    g.define(0)
    g.mix(0)
    r = rng.randint(1, 5)
    how = rng.randrange(7)
    acc = g.acc()
    if how == 0:
        g.emit(asm.alu(rng.random() < 0.7, rng.choice([AluOp.ADD, AluOp.XOR, AluOp.SUB]), acc, r))
    elif how == 1:
        g.emit(asm.alu(True, AluOp.ADD, r, None, 1))
    elif how == 2:
        g.emit(asm.stx(rng.choice(SIZES), FP, r, -8))
    elif how == 3:
        g.emit(asm.ldx(rng.choice(SIZES), acc, r, 0))
    elif how == 4:
        skip = Label("skip")
        g.asm.branch(asm.jcond(rng.random() < 0.3, JmpOp.JGT, r, None, 5), skip)
        g.emit(asm.alu(True, AluOp.ADD, acc, None, 1))
        g.asm.place(skip)
    elif how == 5:
        g.emit(asm.mov(acc, r))
    else:  # a helper argument left unset
        m = pick_map(g)
        g.emit(asm.ld_map(1, m.index), asm.call_helper(HELPER_IDS["map_lookup_elem"]))


def emit_uninit_callee_reg(g: Gen) -> None:
    """A subprogram reading a callee-saved register (r6-r9) it never wrote."""
    from .bad_util import call_subprog

    rng = g.rng

    def inner(g: Gen) -> None:
        r = rng.choice([6, 7, 8, 9])
        if rng.random() < 0.5:
            g.emit(asm.mov(0, r))
        else:
            g.emit(asm.movi(0, 1), asm.alu(True, AluOp.ADD, 0, r))
        g.emit(asm.exit_())

    call_subprog(g, inner, args=rng.randint(0, 3), init=False, epilogue=False)


def emit_uninit_stack_read(g: Gen) -> None:
    """A read of stack nothing wrote (allowed with CAP_PERFMON: the kernel accepts it)."""
    rng = g.rng
    size = rng.choice(SIZES)
    off = -size * rng.randint(160 // size + 1, 512 // size)
    if rng.random() < 0.5:
        read(g, FP, off, size)
    else:
        base = -8 * rng.randint(-(off // 8), 64)
        p = fp_ptr(g, base)
        read(g, p, off - base, size)


# --- the context -------------------------------------------------------------------------

_SKB_SIZE = 192
_XDP_SIZE = 24
# __sk_buff offsets no program type may read (gaps and fields that need other types)
_SKB_HOLES = (88, 92, 96, 100, 104, 108, 112, 116, 120, 124, 128, 132, 136, 144, 148, 172, 188)
_SKB_RO = (0, 4, 16, 20, 24, 28, 36, 40, 68, 84, 160, 164, 176)  # read-only for every type
_XDP_FIELDS = (0, 4, 8, 12, 16, 20)


def _ctx_size(g: Gen) -> int:
    return _XDP_SIZE if g.is_xdp else _SKB_SIZE


def emit_ctx_bad_offset(g: Gen) -> None:
    """A context access outside the structure, in a gap, or at a field of other types."""
    rng = g.rng
    size = rng.choice([4, 4, 1, 2])
    end = _ctx_size(g)
    choices = [end + 4 * rng.randint(0, 8), -4 * rng.randint(1, 4), 1024]
    if not g.is_xdp:
        choices.append(rng.choice(_SKB_HOLES))
        if g.prog_type in ("socket_filter", "cgroup_skb"):
            choices += [72, 140, 144] if g.prog_type == "socket_filter" else [72, 140]
            if g.prog_type == "socket_filter":
                choices += [76, 80]
    off = rng.choice(choices)
    base = ctx_ptr(g) if rng.random() < 0.2 else CTX
    if rng.random() < 0.8:
        read(g, base, off, size)
    else:
        g.emit(asm.stx(size, base, g.scalar(), off))


def emit_ctx_bad_size(g: Gen) -> None:
    """A context field read with a size it does not allow."""
    rng = g.rng
    if g.is_xdp:
        off, size = rng.choice([(rng.choice(_XDP_FIELDS), rng.choice([1, 2, 8]))])
    else:
        r = rng.random()
        if r < 0.5:
            off, size = 4 * rng.choice([0, 1, 2, 3, 4, 8, 9, 10, 11, 17]), 8  # 8 bytes of a u32
        elif r < 0.75:
            off, size = rng.choice([152, 184]), rng.choice([1, 2, 4])  # part of a u64
        else:
            off, size = rng.choice([76, 80, 168]), rng.choice([1, 2, 8 if g.prog_type != "socket_filter" else 4])
    read(g, CTX, off, size)


def emit_ctx_misaligned(g: Gen) -> None:
    rng = g.rng
    field = 4 * rng.choice([0, 1, 2, 3, 8, 9, 12]) if not g.is_xdp else rng.choice(_XDP_FIELDS)
    size = rng.choice([2, 4])
    off = field + rng.choice([1, 3]) if size == 2 else field + rng.choice([1, 2, 3])
    read(g, CTX, off, size)


def emit_ctx_write_readonly(g: Gen) -> None:
    """A store into a context field programs of this type may only read."""
    rng = g.rng
    if g.is_xdp:
        off = rng.choice(_XDP_FIELDS)
    else:
        ro = list(_SKB_RO)
        if g.prog_type == "socket_filter":
            ro += [8, 12, 32, 44]  # mark, queue_mapping, priority, tc_index: tc only
        elif g.prog_type == "cgroup_skb":
            ro += [12, 44]
        off = rng.choice(ro)
    if rng.random() < 0.5:
        g.emit(asm.stx(4, CTX, g.scalar(), off))
    else:
        g.emit(asm.st(4, CTX, off, g.imm32()))


def emit_ctx_modified(g: Gen) -> None:
    """The context pointer moved by a constant, then dereferenced."""
    rng = g.rng
    p = ctx_ptr(g)
    k = rng.choice([4, 8, 12, 16, 48, -4])
    g.emit(asm.alu(True, AluOp.ADD if rng.random() < 0.7 else AluOp.SUB, p, None, k))
    off = rng.choice([0, 0, 4, -k if k > 0 else 4])
    if rng.random() < 0.7:
        read(g, p, off, 4)
    else:
        g.emit(asm.stx(4, p, g.scalar(), off))


def emit_ctx_variable_offset(g: Gen) -> None:
    rng = g.rng
    p = ctx_ptr(g)
    v = unknown_scalar(g, (p,))
    g.emit(asm.alu(True, AluOp.AND, v, None, rng.choice([4, 12, 28, 60])))
    g.emit(asm.alu(True, AluOp.ADD, p, v))
    read(g, p, rng.choice([0, 8, 48]), 4, (v,))


def emit_sk_misuse(g: Gen) -> None:
    """``skb->sk``: used before its NULL check, written, or moved before the check."""
    rng = g.rng
    s = g.temp()
    g.emit(asm.ldx(8, s, CTX, 168))
    how = rng.randrange(3)
    if how == 0:
        read(g, s, rng.choice([0, 4, 24, 40]), 4, (s,))
    elif how == 1:
        g.emit(asm.alu(True, AluOp.ADD, s, None, rng.choice([4, 8])))
    else:
        skip = Label("nosk")
        g.asm.branch(asm.jcond(False, JmpOp.JEQ, s, None, 0), skip)
        g.emit(asm.st(4, s, rng.choice([0, 4, 24]), g.imm32()))
        g.asm.place(skip)


# --- packets --------------------------------------------------------------------------------


def _pkt_access(g: Gen, d: int, pos: int, size: int, avoid: tuple[int, ...]) -> None:
    if g.rng.random() < 0.6:
        read(g, d, pos, size, avoid)
    else:
        g.emit(asm.stx(size, d, g.scalar(), pos))


def emit_packet_unchecked(g: Gen) -> None:
    """A packet access without comparing against ``data_end``."""
    rng = g.rng
    d, e = packet_pointers(g)
    size = rng.choice(SIZES)
    _pkt_access(g, d, rng.randint(0, 40), size, (e,))


def emit_packet_off_by_one(g: Gen) -> None:
    """Checked for ``n`` bytes, accessed one byte (or more) past them."""
    rng = g.rng
    d, e = packet_pointers(g)
    n = rng.randint(1, 64)
    skip = Label("short")
    bounds_ok(g, d, e, n, skip)
    size = rng.choice(SIZES)
    over = 1 if rng.random() < 0.7 else rng.randint(2, 8)
    pos = max(n - size + over, 0)
    _pkt_access(g, d, pos, size, (e,))
    g.asm.place(skip)
    g.frame.live.clear()


def emit_packet_wrong_branch(g: Gen) -> None:
    """The bounds check's outcome read the wrong way round: access where it failed."""
    rng = g.rng
    d, e = packet_pointers(g)
    n = rng.randint(1, 32)
    bad = Label("bad")
    end = Label("end")
    p = g.temp((d, e))
    g.emit(asm.mov(p, d), asm.alu(True, AluOp.ADD, p, None, n))
    g.asm.branch(asm.jcond(False, JmpOp.JGT, p, e), bad)
    g.asm.branch(asm.ja(), end)
    g.asm.place(bad)
    _pkt_access(g, d, rng.randint(0, n - 1), 1, (e,))
    g.asm.place(end)
    g.frame.live.clear()


def emit_packet_end_misuse(g: Gen) -> None:
    """``data_end`` dereferenced, moved, or written through."""
    rng = g.rng
    d, e = packet_pointers(g)
    how = rng.randrange(3)
    if how == 0:
        read(g, e, rng.choice([-1, -4, 0]), rng.choice([1, 4]), (d,))
    elif how == 1:
        g.emit(asm.alu(True, rng.choice([AluOp.ADD, AluOp.SUB]), e, None, rng.randint(1, 16)))
    else:
        g.emit(asm.st(1, e, -1, 0))


def emit_packet_after_invalidate(g: Gen) -> None:
    """A checked packet pointer used after a helper that may move the packet."""
    rng = g.rng
    d, e = packet_pointers(g)
    n = rng.randint(1, 32)
    skip = Label("short")
    bounds_ok(g, d, e, n, skip)
    g.before_call()
    keep = g.acc()
    g.emit(asm.mov(keep, d))  # the accumulator now holds the pointer
    g.emit(asm.mov(1, CTX))
    if g.is_xdp:
        g.emit(asm.movi(2, rng.choice([0, 4, -4])), asm.call_helper(HELPER_XDP_ADJUST_HEAD))
    else:
        g.emit(asm.movi(2, rng.choice([0, 14, 64])), asm.call_helper(HELPER_SKB_PULL_DATA))
    g.emit(asm.ldx(rng.choice([1, 2, 4]), 0, keep, rng.randint(0, n - 1)))
    g.asm.place(skip)
    g.frame.live.clear()


def emit_packet_unbounded_offset(g: Gen) -> None:
    """The packet pointer moved by a value the verifier cannot bound, then checked."""
    rng = g.rng
    d, e = packet_pointers(g)
    v = g.temp((d, e))
    g.emit(asm.ldx(4, v, CTX, 0 if not g.is_xdp else 16))  # skb->len / rx_queue_index
    if rng.random() < 0.3:
        g.emit(asm.alu(True, AluOp.LSH, v, None, rng.randint(1, 20)))
    g.emit(asm.alu(True, AluOp.ADD, d, v))
    n = rng.randint(1, 16)
    skip = Label("short")
    bounds_ok(g, d, e, n, skip, (v,))
    _pkt_access(g, d, 0, rng.choice([s for s in SIZES if s <= n]), (e, v))
    g.asm.place(skip)
    g.frame.live.clear()


def emit_packet_meta_unchecked(g: Gen) -> None:
    """XDP metadata read without comparing against ``data``."""
    rng = g.rng
    m = g.temp()
    g.emit(asm.ldx(4, m, CTX, 8))
    _pkt_access(g, m, rng.randint(0, 16), rng.choice(SIZES), ())


# --- map values -----------------------------------------------------------------------------


def emit_map_null_unchecked(g: Gen) -> None:
    """A looked-up value used without its NULL check."""
    rng = g.rng
    m = lookup(g) if rng.random() < 0.85 else _lookup_percpu(g)
    how = rng.randrange(4)
    size = rng.choice([s for s in SIZES if s <= m.value_size])
    if how == 0:
        g.emit(asm.ldx(size, rng.choice([1, 2, 3]), 0, 0))
    elif how == 1:
        g.emit(asm.stx(size, 0, g.acc(), 0))
    elif how == 2:
        g.emit(asm.st(size, 0, 0, g.imm32()))
    else:  # as a helper's key
        m2 = pick_map(g)
        g.emit(asm.mov(2, 0), asm.ld_map(1, m2.index), asm.call_helper(HELPER_IDS["map_lookup_elem"]))
    g.frame.live.clear()


def _lookup_percpu(g: Gen) -> MapInfo:
    m = pick_map(g, "percpu")
    _call_with_key(g, m, HELPER_LOOKUP_PERCPU)
    g.emit(asm.movi(3, 0), asm.call_helper(HELPER_LOOKUP_PERCPU))
    return m


def emit_map_null_arith(g: Gen) -> None:
    """Arithmetic on a map value that may still be NULL."""
    rng = g.rng
    lookup(g)
    if rng.random() < 0.7:
        g.emit(asm.alu(True, rng.choice([AluOp.ADD, AluOp.SUB]), 0, None, rng.randint(1, 16)))
    else:
        g.frame.reserved.add(0)
        t = unknown_scalar(g, (0,))
        g.frame.reserved.discard(0)
        g.emit(asm.alu(True, AluOp.AND, t, None, 7), asm.alu(True, AluOp.ADD, 0, t))
    g.frame.live.clear()


def _value_site(g: Gen) -> tuple[int, MapInfo, Label | None]:
    """A pointer to a map value: a direct one, or a looked-up one after its NULL check
    (then the returned label must be placed once the access is written)."""
    if g.rng.random() < 0.35:
        p, m = value_ptr(g)
        return p, m, None
    m = lookup(g)
    null = Label("null")
    g.asm.branch(asm.jcond(False, JmpOp.JEQ, 0, None, 0), null)
    g.frame.reserved.add(0)
    return 0, m, null


def _end_site(g: Gen, null: Label | None) -> None:
    g.frame.reserved.discard(0)
    if null is not None:
        g.asm.place(null)
        g.frame.live.clear()


def emit_map_value_oob(g: Gen) -> None:
    """A constant offset that runs past the end of the value."""
    rng = g.rng
    p, m, null = _value_site(g)
    size = rng.choice(SIZES)
    pos = m.value_size - size + (1 if rng.random() < 0.6 else rng.randint(2, 16))
    pos = max(pos, m.value_size - size + 1)
    access(g, p, pos, size, (p,))
    _end_site(g, null)


def emit_map_value_negative(g: Gen) -> None:
    """A negative offset from the start of the value, constant or moved there."""
    rng = g.rng
    p, _, null = _value_site(g)
    size = rng.choice(SIZES)
    if rng.random() < 0.5:
        access(g, p, -rng.choice([1, 2, 4, 8, 16]), size, (p,))
    else:
        q = g.temp((p,))
        g.emit(asm.mov(q, p), asm.alu(True, AluOp.SUB, q, None, rng.randint(1, 16)))
        access(g, q, 0, size, (p, q))
    _end_site(g, null)


def emit_map_value_variable_oob(g: Gen) -> None:
    """A masked variable offset whose largest value reaches past the value."""
    rng = g.rng
    p, m, null = _value_site(g)
    size = rng.choice(SIZES)
    mask = (1 << (m.value_size - size + 1).bit_length()) - 1
    mask = max(mask, 1) | (rng.choice([0, 0, 0xF, 0xFF]))
    q = g.temp((p,))
    g.emit(asm.mov(q, p))
    v = unknown_scalar(g, (p, q))
    g.emit(asm.alu(True, AluOp.AND, v, None, mask))
    g.emit(asm.alu(True, AluOp.ADD, q, v))
    access(g, q, 0, size, (p, q, v))
    _end_site(g, null)


def emit_map_value_unbounded(g: Gen) -> None:
    """An offset the verifier cannot bound (a context field, a random number, a signed
    value with no lower bound)."""
    rng = g.rng
    p, m, null = _value_site(g)
    q = g.temp((p,))
    g.emit(asm.mov(q, p))
    v = unknown_scalar(g, (p, q))
    r = rng.random()
    if r < 0.3:  # sign-extend the top bit: no lower bound
        g.emit(asm.alu(True, AluOp.LSH, v, None, 32 + rng.randint(0, 24)),
               asm.alu(True, AluOp.ARSH, v, None, rng.randint(1, 32)))  # fmt: skip
    elif r < 0.6:
        g.emit(asm.alu(True, AluOp.MUL, v, None, rng.randint(2, 1 << 20)))
    elif r < 0.8:
        g.emit(asm.alu(True, AluOp.LSH, v, None, rng.randint(8, 40)))
    g.emit(asm.alu(True, AluOp.ADD, q, v))
    access(g, q, 0, rng.choice([s for s in SIZES if s <= m.value_size]), (p, q, v))
    _end_site(g, null)


def emit_map_ptr_write(g: Gen) -> None:
    """A store through the map pointer itself (programs may only read ``struct bpf_map``)."""
    rng = g.rng
    m = pick_map(g)
    p = g.temp()
    g.emit(asm.ld_map(p, m.index))
    size = rng.choice(SIZES)
    off = size * rng.randint(0, 8)
    if rng.random() < 0.5:
        g.emit(asm.st(size, p, off, g.imm32()))
    else:
        g.emit(asm.stx(size, p, g.scalar(), off))


# --- the stack --------------------------------------------------------------------------------


def emit_stack_out_of_frame(g: Gen) -> None:
    """A stack access below the 512 bytes of the frame or at/above the frame pointer."""
    rng = g.rng
    size = rng.choice(SIZES)
    off = -512 - size * rng.randint(1, 8) if rng.random() < 0.6 else size * rng.randint(0, 4)
    if rng.random() < 0.7:
        access(g, FP, off, size)
    else:
        base = -8 * rng.randint(1, 64)
        p = fp_ptr(g, base)
        access(g, p, off - base, size, (p,))


def emit_stack_misaligned(g: Gen) -> None:
    """A stack access not aligned to its size (the stack is always checked strictly)."""
    rng = g.rng
    size = rng.choice([2, 4, 8])
    off = -size * rng.randint(1, 128 // size) - rng.randint(1, size - 1)
    if rng.random() < 0.7:
        access(g, FP, off, size)
    else:
        base = -8 * rng.randint(-(-(-off + size) // 8), 64)
        p = fp_ptr(g, base)
        access(g, p, off - base, size, (p,))


def emit_stack_variable_oob(g: Gen) -> None:
    """A stack access at a variable offset whose range leaves the frame."""
    rng = g.rng
    size = rng.choice(SIZES)
    base = -8 * rng.randint(1, 64)
    p = fp_ptr(g, base)
    v = unknown_scalar(g, (p,))
    mask = rng.choice([0xFF, 0x1FF, 0x3FF, 0xFFF]) & ~(size - 1)
    g.emit(asm.alu(True, AluOp.AND, v, None, mask))
    if rng.random() < 0.5:
        g.emit(asm.alu(True, AluOp.ADD, p, v))
    else:
        g.emit(asm.alu(True, AluOp.SUB, p, v))
    access(g, p, 0, size, (p, v))


# --- read-only maps ---------------------------------------------------------------------------


def emit_readonly_write(g: Gen) -> None:
    """A store or an atomic into a map the program may only read (BPF_F_RDONLY_PROG)."""
    rng = g.rng
    m = readonly_map(g)
    if rng.random() < 0.4:
        lookup(g, m)
        null = Label("null")
        g.asm.branch(asm.jcond(False, JmpOp.JEQ, 0, None, 0), null)
        p = 0
    else:
        null = None
        p = g.temp()
        g.emit(asm.ld_map_value(p, m.index, 0))
    size = rng.choice([s for s in SIZES if s <= m.value_size])
    pos = size * rng.randrange(m.value_size // size)
    r = rng.random()
    if r < 0.4:
        g.emit(asm.st(size, p, pos, g.imm32()))
    elif r < 0.7:
        g.emit(asm.stx(size, p, g.scalar(), pos))
    else:
        size = 8 if m.value_size >= 8 and rng.random() < 0.5 else 4
        pos = size * rng.randrange(m.value_size // size)
        t = g.temp((p,))
        g.emit(asm.mov(t, g.acc()))
        op = rng.choice([o for o in ATOMIC_OPS if o != AtomicOp.CMPXCHG])
        g.emit(asm.atomic(size, op, p, t, pos))
    if null is not None:
        g.asm.place(null)
        g.frame.live.clear()


def emit_readonly_helper_write(g: Gen) -> None:
    """A helper told to write into a read-only map value."""
    rng = g.rng
    m = readonly_map(g)
    g.before_call()
    g.emit(asm.mov(1, CTX), asm.movi(2, rng.randint(0, 8)))
    g.emit(asm.ld_map_value(3, m.index, 0), asm.movi(4, rng.choice([1, 2, 4, m.value_size])))
    g.emit(asm.call_helper(HELPER_XDP_LOAD_BYTES if g.is_xdp else HELPER_SKB_LOAD_BYTES))
    loaded(g, 0)


# --- branches on read-only data --------------------------------------------------------------


def _const_branch(g: Gen, frozen: bool) -> tuple[Label, Label, bool]:
    """Load a constant from a (frozen, or not) map and branch on it; returns the labels
    of the taken side and of the join, and whether the jump is taken."""
    rng = g.rng
    if frozen:
        m = readonly_map(g)
    else:
        vs = rng.choice([8, 16, 32])
        init = rng.getrandbits(8 * vs).to_bytes(vs, "little")
        flags = BPF_F_RDONLY_PROG if rng.random() < 0.5 else 0
        m = g.add_map(MapInfo(0, "array", 4, vs, 1, flags, init))
    assert m.map_init is not None
    size = rng.choice(SIZES)
    pos = size * rng.randrange(m.value_size // size)
    value = int.from_bytes(m.map_init[pos : pos + size], "little")
    p = g.temp()
    g.emit(asm.ld_map_value(p, m.index, 0))
    t = g.temp((p,))
    g.emit(asm.ldx(size, t, p, pos))
    op = rng.choice([JmpOp.JEQ, JmpOp.JNE, JmpOp.JGT, JmpOp.JLE, JmpOp.JSET])
    k = value if op in (JmpOp.JEQ, JmpOp.JNE) and rng.random() < 0.5 else rng.getrandbits(8)
    if k >= 1 << 31:
        k = rng.getrandbits(8)
    taken = {
        JmpOp.JEQ: value == k, JmpOp.JNE: value != k, JmpOp.JGT: value > k,
        JmpOp.JLE: value <= k, JmpOp.JSET: bool(value & k),
    }[op]  # fmt: skip
    there = Label("there")
    join = Label("join")
    g.asm.branch(asm.jcond(False, op, t, None, k), there)
    g.define(t)
    return there, join, taken


def _dead_mistake(g: Gen) -> None:
    """A mistake only the verifier's walk finds (no structural check sees it)."""
    from .bad_ops import emit_div_by_zero, emit_write_r10

    rng = g.rng
    live = set(g.frame.live)
    rng.choice([emit_div_by_zero, emit_write_r10, emit_uninit_reg, emit_map_null_unchecked,
                emit_ctx_bad_offset, emit_stack_out_of_frame])(g)  # fmt: skip
    g.frame.live = live & g.frame.live


def _rodata_branch(g: Gen, frozen: bool, dead: bool) -> None:
    """``if (const from a map) { A } else { B }`` with a mistake in the arm the constant
    rules out (``dead``) or in the one it selects."""
    there, join, taken = _const_branch(g, frozen)
    before = g.snapshot()
    # the fall-through arm runs when the jump is not taken
    if taken == dead:
        _dead_mistake(g)
    else:
        g.mix(g.scalar())
    g.asm.branch(asm.ja(), join)
    fall_live = g.snapshot()
    g.frame.live = set(before)
    g.asm.place(there)
    if taken != dead:
        _dead_mistake(g)
    else:
        g.mix(g.scalar())
    g.asm.place(join)
    g.join(fall_live)


def emit_rodata_dead_code(g: Gen) -> None:
    """The mistake sits where a frozen read-only constant says the program never goes:
    the kernel prunes it and accepts the program."""
    _rodata_branch(g, True, True)


def emit_rodata_live_code(g: Gen) -> None:
    _rodata_branch(g, True, False)


def emit_rodata_not_frozen(g: Gen) -> None:
    """As :func:`emit_rodata_dead_code`, but the map is not frozen: both arms are walked."""
    _rodata_branch(g, False, True)


# --- atomics ------------------------------------------------------------------------------


def emit_atomic_bad_pointer(g: Gen) -> None:
    """An atomic on the context, a packet, a map pointer, a scalar, a maybe-NULL value,
    a socket or data_end."""
    rng = g.rng
    kinds = ["ctx", "map_ptr", "scalar", "null"]
    if g.prog_type in ("sched_cls", "sched_act", "xdp"):
        kinds += ["pkt", "pkt_end"]
    if not g.is_xdp:
        kinds.append("sk")
    kind = rng.choice(kinds)
    size = rng.choice([4, 8])
    op = rng.choice([o for o in ATOMIC_OPS if o != AtomicOp.CMPXCHG])
    skip: Label | None = None
    if kind == "ctx":
        p, off = CTX, rng.choice([48, 52, 56, 8])
    elif kind == "map_ptr":
        p, off = g.temp(), 0
        g.emit(asm.ld_map(p, pick_map(g).index))
    elif kind == "scalar":
        p, off = g.acc(), 0
    elif kind == "null":
        lookup(g)
        p, off = 0, 0
    elif kind == "sk":
        p, off = g.temp(), 0
        g.emit(asm.ldx(8, p, CTX, 168))
        skip = Label("nosk")
        g.asm.branch(asm.jcond(False, JmpOp.JEQ, p, None, 0), skip)
    else:
        d, e = packet_pointers(g)
        skip = Label("short")
        bounds_ok(g, d, e, 8, skip)
        p, off = (d, 0) if kind == "pkt" else (e, -8)
    t = g.temp((p,))
    g.emit(asm.mov(t, g.acc()), asm.atomic(size, op, p, t, off))
    if skip is not None:
        g.asm.place(skip)
    g.frame.live.clear()


def emit_atomic_bad_encoding(g: Gen) -> None:
    """An atomic with a size or an operation code the instruction set does not have."""
    rng = g.rng
    p = fp_ptr(g, -8 * rng.randint(1, 16))
    t = g.temp((p,))
    g.emit(asm.mov(t, g.acc()))
    if rng.random() < 0.5:
        size = rng.choice([1, 2])
        op = int(rng.choice(ATOMIC_OPS))
    else:
        size = rng.choice([4, 8])
        op = rng.choice([0x10, 0x20, 0x30, 0x80, 0x90, 0xB0, 0xC0, 0xE0, 0xF0, 0x02, 0x11,
                         0x120, 0x1000])  # fmt: skip
    g.emit(Insn(InsnClass.STX | Mode.ATOMIC | SIZE_CODE[size], p, t, 0, op))


def emit_atomic_misaligned(g: Gen) -> None:
    """An atomic on the stack or a map value at an offset not aligned to its size."""
    rng = g.rng
    size = rng.choice([4, 8])
    op = rng.choice([o for o in ATOMIC_OPS if o != AtomicOp.CMPXCHG])
    if rng.random() < 0.5:
        p, off = FP, -size * rng.randint(1, 120 // size) - rng.randint(1, size - 1)
        t = g.temp()
        g.emit(asm.mov(t, g.acc()), asm.atomic(size, op, p, t, off))
        return

    def at(g: Gen, base: int, m: MapInfo) -> None:
        width = min(size, 8 if m.value_size >= 8 else 4)
        off = rng.randrange(1, max(m.value_size - width, 1) + 1)
        if off % width == 0:
            off += 1
        t = g.temp((base,))
        g.emit(asm.mov(t, g.acc()), asm.atomic(width, op, base, t, off))

    with_value(g, at, pick_map(g))
