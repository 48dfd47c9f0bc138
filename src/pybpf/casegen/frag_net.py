"""Fragments for packet programs: context fields, direct packet access with bounds
checks, LD_ABS/LD_IND, and the packet helpers."""

from __future__ import annotations

from dataclasses import dataclass

from ..isa.helper_ids import HELPER_IDS
from ..isa.opcodes import AluOp, JmpOp
from . import asm
from .asm import Label
from .gen import CTX, FP, Gen

SKF_NET_OFF = -0x100000
SKF_LL_OFF = -0x200000

HELPER_SKB_STORE_BYTES = HELPER_IDS["skb_store_bytes"]
HELPER_REDIRECT = HELPER_IDS["redirect"]
HELPER_SKB_LOAD_BYTES = HELPER_IDS["skb_load_bytes"]
HELPER_XDP_ADJUST_HEAD = HELPER_IDS["xdp_adjust_head"]
HELPER_XDP_ADJUST_META = HELPER_IDS["xdp_adjust_meta"]
HELPER_XDP_ADJUST_TAIL = HELPER_IDS["xdp_adjust_tail"]
HELPER_XDP_GET_BUFF_LEN = HELPER_IDS["xdp_get_buff_len"]
HELPER_SET_HASH = HELPER_IDS["set_hash"]
HELPER_GET_HASH_RECALC = HELPER_IDS["get_hash_recalc"]


@dataclass(frozen=True)
class CtxField:
    name: str
    offset: int
    size: int  # 4: narrow reads allowed; 8 (or 1): that exact size only
    narrow: bool = True


# __sk_buff scalar fields every skb program type may read
_SKB_COMMON = (
    CtxField("len", 0, 4), CtxField("pkt_type", 4, 4), CtxField("mark", 8, 4),
    CtxField("queue_mapping", 12, 4), CtxField("protocol", 16, 4),
    CtxField("vlan_present", 20, 4), CtxField("vlan_tci", 24, 4), CtxField("vlan_proto", 28, 4),
    CtxField("priority", 32, 4), CtxField("ingress_ifindex", 36, 4), CtxField("ifindex", 40, 4),
    CtxField("tc_index", 44, 4), CtxField("cb0", 48, 4), CtxField("cb1", 52, 4),
    CtxField("cb2", 56, 4), CtxField("cb3", 60, 4), CtxField("cb4", 64, 4),
    CtxField("hash", 68, 4), CtxField("napi_id", 84, 4), CtxField("gso_segs", 164, 4),
    CtxField("gso_size", 176, 4),
)  # fmt: skip
_SKB_TC_ONLY = (
    CtxField("tc_classid", 72, 4), CtxField("wire_len", 160, 4),
    CtxField("tstamp", 152, 8, False), CtxField("hwtstamp", 184, 8, False),
    CtxField("tstamp_type", 180, 1, False),
)  # fmt: skip
_XDP_FIELDS = (CtxField("ingress_ifindex", 12, 4, False), CtxField("rx_queue_index", 16, 4, False))

# fields programs may write: (name, offset, size)
_CB_WRITES = tuple((f"cb{i}", 48 + 4 * i, 4) for i in range(5))
_TC_WRITES = (("mark", 8, 4), ("priority", 32, 4), ("tc_index", 44, 4), ("queue_mapping", 12, 4),
              ("tc_classid", 72, 4), ("tstamp", 152, 8))  # fmt: skip

# struct bpf_sock fields readable through __sk_buff->sk (offset, sizes)
_SOCK_FIELDS = ((0, (4,)), (4, (4,)), (24, (1, 2, 4)), (28, (4,)), (32, (1, 2, 4)), (40, (4,)),
                (44, (4,)), (48, (2, 4)), (52, (1, 2, 4)), (56, (4,)), (68, (2, 4)), (72, (4,)),
                (76, (4,)))  # fmt: skip


def ctx_fields(g: Gen) -> tuple[CtxField, ...]:
    if g.is_xdp:
        return _XDP_FIELDS
    return _SKB_COMMON + (_SKB_TC_ONLY if g.is_tc else ())


def ctx_access(g: Gen) -> tuple[int, int, bool]:
    """(offset, size, sign-extend) of a valid scalar context read."""
    rng = g.rng
    f = rng.choice(ctx_fields(g))
    if not f.narrow:
        return f.offset, f.size, False
    if f.name.startswith("cb") and f.offset in (48, 56) and rng.random() < 0.2:
        return f.offset, 8, False
    size = rng.choice([1, 2, 4, 4])
    at = f.offset + rng.randrange(0, 4, size)
    return at, size, rng.random() < 0.1


def load_ctx(g: Gen, dst: int) -> None:
    off, size, signed = ctx_access(g)
    if signed:
        g.note("ldsx_ctx")
    g.emit(asm.ldx(size, dst, CTX, off, signed))


def frag_ctx_read(g: Gen) -> None:
    g.note("ctx_read")
    for _ in range(g.rng.randint(1, 4)):
        t = g.temp()
        load_ctx(g, t)
        g.define(t)
        g.mix(t)


def frag_ctx_write(g: Gen) -> None:
    """Stores into writable context fields, read back afterwards."""
    g.note("ctx_write")
    rng = g.rng
    if g.is_xdp:
        frag_ctx_read(g)
        return
    choices = _CB_WRITES + (_TC_WRITES if g.is_tc else ())
    for _ in range(rng.randint(1, 3)):
        name, off, size = rng.choice(choices)
        if name.startswith("cb") and rng.random() < 0.4:  # narrow or 8-byte cb stores
            size = rng.choice([1, 2] + ([8] if off in (48, 56) else []))
            if size < 4:
                off += rng.randrange(0, 4, size)
        if rng.random() < 0.6:
            g.emit(asm.stx(size, CTX, g.scalar(), off))
        else:
            g.emit(asm.st(size, CTX, off, g.imm32()))
        if rng.random() < 0.7:
            t = g.temp()
            g.emit(asm.ldx(size, t, CTX, off))
            g.define(t)
            g.mix(t)


def frag_sk(g: Gen) -> None:
    """``skb->sk`` (the test run's dummy socket): NULL check, then socket fields."""
    g.note("sk")
    rng = g.rng
    s = g.temp()
    g.emit(asm.ldx(8, s, CTX, 168))
    g.frame.reserved.add(s)
    skip = Label("nosk")
    g.asm.branch(asm.jcond(False, JmpOp.JEQ, s, None, 0), skip)
    before = g.snapshot()
    for _ in range(rng.randint(1, 4)):
        off, sizes = rng.choice(_SOCK_FIELDS)
        size = rng.choice(sizes)
        t = g.temp(avoid=(s,))
        g.emit(asm.ldx(size, t, s, off))
        g.define(t)
        g.mix(t)
    g.asm.place(skip)
    g.join(before)
    g.frame.reserved.discard(s)


# --- direct packet access -----------------------------------------------------------------


def _bounds_check(g: Gen, ptr: int, end: int, n: int, skip: Label) -> None:
    """Continue only if ``n`` bytes from ``ptr`` lie before ``end``; else go to ``skip``."""
    rng = g.rng
    p = g.temp(avoid=(ptr, end))
    g.emit(asm.mov(p, ptr), asm.alu(True, AluOp.ADD, p, None, n))
    form = rng.randrange(4)
    if form == 0:
        g.asm.branch(asm.jcond(False, JmpOp.JGT, p, end), skip)
    elif form == 1:
        g.asm.branch(asm.jcond(False, JmpOp.JLT, end, p), skip)
    else:
        ok = Label("ok")
        if form == 2:
            g.asm.branch(asm.jcond(False, JmpOp.JLE, p, end), ok)
        else:
            g.asm.branch(asm.jcond(False, JmpOp.JGE, end, p), ok)
        g.asm.branch(asm.ja(), skip)
        g.asm.place(ok)
    g.frame.live.discard(p)


def _packet_ops(g: Gen, base: int, n: int, count: int, write: bool) -> None:
    rng = g.rng
    for _ in range(count):
        size = rng.choice([s for s in (1, 2, 4, 8) if s <= n] or [1])
        pos = rng.randint(0, n - size)
        r = rng.random()
        if write and r < 0.35:
            g.emit(asm.stx(size, base, g.scalar(), pos))
            g.note("packet_write")
        elif write and r < 0.45:
            g.emit(asm.st(size, base, pos, g.imm32()))
            g.note("packet_write")
        else:
            t = g.temp(avoid=(base,))
            g.emit(asm.ldx(size, t, base, pos, size < 8 and rng.random() < 0.1))
            if size > 1 and rng.random() < 0.3:
                g.emit(asm.endian("be", t, 8 * size))
            g.define(t)
            g.mix(t)


def _pkt_offsets(g: Gen) -> tuple[int, int, int]:
    if g.is_xdp:
        return 0, 4, 8
    return 76, 80, 140


def frag_packet(g: Gen) -> None:
    """Load data/data_end, check bounds, read and write the packet."""
    g.note("packet")
    rng = g.rng
    data_off, end_off, _ = _pkt_offsets(g)
    d = g.temp()
    e = g.temp(avoid=(d,))
    g.frame.reserved |= {d, e}
    g.emit(asm.ldx(4, d, CTX, data_off), asm.ldx(4, e, CTX, end_off))
    if rng.random() < 0.3:
        t = g.temp()
        g.emit(asm.mov(t, e), asm.alu(True, AluOp.SUB, t, d))  # the packet's length
        g.define(t)
        g.mix(t)
    if rng.random() < 0.3:
        v = g.temp()
        g.emit(asm.mov(v, g.acc()), asm.alu(True, AluOp.AND, v, None, rng.choice([1, 3, 7, 15, 31])))
        g.emit(asm.alu(True, AluOp.ADD, d, v))
        g.frame.live.discard(v)
        g.note("packet_varoff")
    n = rng.choice([rng.randint(1, 16), rng.randint(1, 64), rng.randint(14, 80)])
    skip = Label("short")
    _bounds_check(g, d, e, n, skip)
    before = g.snapshot()
    _packet_ops(g, d, n, rng.randint(1, 6), True)
    g.asm.place(skip)
    g.join(before)
    g.frame.reserved -= {d, e}


def frag_xdp_meta(g: Gen) -> None:
    """XDP metadata: the room between data_meta and data (given through ctx_in)."""
    g.note("xdp_meta")
    rng = g.rng
    m = g.temp()
    d = g.temp(avoid=(m,))
    g.frame.reserved |= {m, d}
    g.emit(asm.ldx(4, m, CTX, 8), asm.ldx(4, d, CTX, 0))
    t = g.temp()
    g.emit(asm.mov(t, d), asm.alu(True, AluOp.SUB, t, m))  # metadata length
    g.define(t)
    g.mix(t)
    n = rng.choice([4, 8, 12, 16, 32])
    skip = Label("nometa")
    _bounds_check(g, m, d, n, skip)
    before = g.snapshot()
    _packet_ops(g, m, n, rng.randint(1, 4), True)
    g.asm.place(skip)
    g.join(before)
    g.frame.reserved -= {m, d}


# --- legacy packet loads ------------------------------------------------------------------


def _ld_offset(g: Gen, size: int) -> int:
    rng = g.rng
    r = rng.random()
    if r < 0.7:
        return rng.randint(0, 60 - size)
    if r < 0.8:
        return rng.randint(0, 300)
    if r < 0.87:
        return SKF_NET_OFF + rng.randint(0, 40)
    if r < 0.94:
        return SKF_LL_OFF + rng.randint(0, 60)
    return rng.choice([-1, -14, -0x1000, SKF_LL_OFF - 1, 0x7FFFFFFF, 3000])


def frag_ldabs(g: Gen) -> None:
    """LD_ABS / LD_IND: big-endian packet loads; out of range ends the program with 0."""
    g.note("ldabs")
    g.has_ld_abs = True
    rng = g.rng
    g.before_call()
    for _ in range(rng.randint(1, 4)):
        size = rng.choice([1, 2, 4])
        if rng.random() < 0.6:
            g.emit(asm.ld_abs(size, _ld_offset(g, size)))
        else:
            g.note("ldind")
            src = rng.choice([1, 2, 3, 4, 5])
            g.emit(asm.mov(src, g.acc()))
            if rng.random() < 0.9:
                g.emit(asm.alu(True, AluOp.AND, src, None, rng.choice([7, 15, 31, 63])))
            g.emit(asm.ld_ind(size, src, rng.choice([0, 0, rng.randint(0, 40), SKF_NET_OFF])))
        g.frame.live = {0}
        g.mix(0)
    g.frame.live.clear()


# --- packet helpers -----------------------------------------------------------------------


def _scratch_buffer(g: Gen, length: int) -> int:
    """A frame-pointer offset with ``length`` bytes of scratch stack above it."""
    low = -(-length // 8)
    return -8 * g.rng.randint(low, g.frame.scratch // 8)


def frag_skb_load_bytes(g: Gen) -> None:
    g.note("skb_load_bytes")
    rng = g.rng
    g.before_call()
    length = rng.choice([1, 2, 4, 8, rng.randint(1, 16), rng.randint(1, 32)])
    buf = _scratch_buffer(g, length)
    g.emit(asm.mov(1, CTX))
    if rng.random() < 0.6:
        g.emit(asm.movi(2, rng.choice([rng.randint(0, 64), rng.randint(0, 400), -1, 0x7FFFFFFF])))
    else:
        g.emit(asm.mov(2, g.acc()), asm.alu(True, AluOp.AND, 2, None, rng.choice([15, 63, 255])))
    g.emit(asm.mov(3, FP), asm.alu(True, AluOp.ADD, 3, None, buf), asm.movi(4, length))
    g.emit(asm.call_helper(HELPER_SKB_LOAD_BYTES))
    g.define(0)
    g.mix(0)
    t = g.temp()
    size = rng.choice([s for s in (1, 2, 4, 8) if s <= -buf])
    g.emit(asm.ldx(size, t, FP, buf))
    g.define(t)
    g.mix(t)


def frag_skb_store_bytes(g: Gen) -> None:
    g.note("skb_store_bytes")
    rng = g.rng
    g.before_call()
    length = rng.choice([1, 2, 4, 8, rng.randint(1, 16)])
    buf = _scratch_buffer(g, length)
    g.emit(asm.mov(1, CTX))
    if rng.random() < 0.7:
        g.emit(asm.movi(2, rng.choice([rng.randint(0, 64), rng.randint(0, 200), 0x7FFFFFFF, -1])))
    else:
        g.emit(asm.mov(2, g.acc()), asm.alu(True, AluOp.AND, 2, None, rng.choice([15, 63])))
    flags = rng.choice([0, 0, 1, 2, 3]) if rng.random() < 0.95 else rng.choice([4, 16])
    g.emit(asm.mov(3, FP), asm.alu(True, AluOp.ADD, 3, None, buf), asm.movi(4, length),
           asm.movi(5, flags))  # fmt: skip
    g.emit(asm.call_helper(HELPER_SKB_STORE_BYTES))
    g.define(0)
    g.mix(0)


def frag_xdp_adjust(g: Gen) -> None:
    rng = g.rng
    kind = rng.choice(["head", "tail", "meta", "len"])
    g.note(f"xdp_adjust_{kind}")
    g.before_call()
    g.emit(asm.mov(1, CTX))
    if kind == "head":
        delta = rng.choice([rng.randint(-64, 64), rng.randint(-256, 100), -216, -217, 14])
        g.emit(asm.movi(2, delta), asm.call_helper(HELPER_XDP_ADJUST_HEAD))
    elif kind == "tail":
        delta = rng.choice([rng.randint(-64, 64), rng.randint(-200, 600), rng.randint(3000, 3600)])
        g.emit(asm.movi(2, delta), asm.call_helper(HELPER_XDP_ADJUST_TAIL))
    elif kind == "meta":
        delta = rng.choice([-4 * rng.randint(0, 16), 4 * rng.randint(0, 4), rng.randint(-40, 8)])
        g.emit(asm.movi(2, delta), asm.call_helper(HELPER_XDP_ADJUST_META))
    else:
        g.emit(asm.call_helper(HELPER_XDP_GET_BUFF_LEN))
    g.define(0)
    g.mix(0)


def frag_redirect(g: Gen) -> None:
    g.note("redirect")
    rng = g.rng
    g.before_call()
    flags = rng.choice([0, 0, 1]) if rng.random() < 0.8 else rng.choice([2, 4, 1 << 20])
    g.emit(asm.movi(1, rng.choice([0, 1, 2, 99])), asm.movi(2, flags))
    g.emit(asm.call_helper(HELPER_REDIRECT))
    g.define(0)
    g.mix(0)


def frag_hash(g: Gen) -> None:
    """``bpf_set_hash``, then the hash read back (recalculation keeps a software hash;
    without one it would compute a flow hash with a per-boot random seed)."""
    g.note("set_hash")
    rng = g.rng
    g.before_call()
    g.emit(asm.mov(1, CTX))
    if rng.random() < 0.5:
        g.emit(asm.mov(2, g.acc()))
    else:
        g.emit(asm.movi(2, g.imm32()))
    g.emit(asm.call_helper(HELPER_SET_HASH))
    g.define(0)
    g.mix(0)
    if rng.random() < 0.5:
        g.emit(asm.mov(1, CTX), asm.call_helper(HELPER_GET_HASH_RECALC))
        g.define(0)
        g.mix(0)
    t = g.temp()
    g.emit(asm.ldx(4, t, CTX, 68))
    g.define(t)
    g.mix(t)
