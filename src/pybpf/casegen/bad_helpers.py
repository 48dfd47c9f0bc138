"""Deliberate mistakes in helper calls and references: unknown helpers, helpers the
program type may not call, arguments of the wrong type or size, maps of the wrong type
(tail calls included), and ring buffer records leaked, unchecked, used after release,
released twice or accessed out of bounds.
"""

from __future__ import annotations

from ..isa.helper_ids import HELPER_IDS
from ..isa.opcodes import AluOp, JmpOp
from . import asm
from .asm import Label
from .bad_util import call_subprog, fp_ptr, unknown_scalar, value_ptr
from .frag_mem import (
    HELPER_LOOKUP,
    HELPER_LOOKUP_PERCPU,
    HELPER_UPDATE,
    _write_key,
    direct_map,
    new_data_map,
    pick_map,
)
from .frag_ringbuf import HELPER_RINGBUF_OUTPUT, HELPER_RINGBUF_QUERY, release, reserve, ringbuf_map
from .gen import CTX, FP, Gen, MapInfo

H = HELPER_IDS
# helpers the running kernel (6.18, root) refuses to every program type the generator
# makes, and some more per type (measured with BPF_PROG_LOAD)
_UNAVAILABLE_ALL = (4, 27, 36, 45, 49, 52, 53, 56, 58, 62, 64, 67, 101, 111, 116, 126, 142, 150,
                    166, 173, 183, 186)  # fmt: skip
_UNAVAILABLE = {
    "socket_filter": (9, 10, 11, 13, 23, 44, 51),
    "sched_cls": (44, 51, 189, 190),
    "sched_act": (44, 51, 189, 190),
    "xdp": (9, 10, 13, 18, 26),
    "cgroup_skb": (9, 10, 23, 44, 51),
}
MAX_HELPER_ID = len(HELPER_IDS) - 1


def emit_helper_unknown(g: Gen) -> None:
    rng = g.rng
    g.before_call()
    g.emit(asm.call_helper(rng.choice([MAX_HELPER_ID + 1, rng.randint(MAX_HELPER_ID + 1, 400), 1000,
                                       0x7FFFFFFF, -1, -rng.randint(2, 100)])))  # fmt: skip
    g.define(0)


def emit_helper_unavailable(g: Gen) -> None:
    rng = g.rng
    g.before_call()
    ids = _UNAVAILABLE_ALL + _UNAVAILABLE.get(g.prog_type, ())
    g.emit(asm.call_helper(rng.choice(ids)))
    g.define(0)


def _key_ptr(g: Gen, m: MapInfo) -> None:
    """r2 = a pointer to an initialised key for ``m``."""
    _write_key(g, m)
    g.emit(asm.mov(2, FP), asm.alu(True, AluOp.ADD, 2, None, g.frame.key_buf))


def emit_helper_arg_type(g: Gen) -> None:
    """A helper argument of the wrong type: a number, the context or the frame pointer
    where a map, a key, a value or the context is expected."""
    rng = g.rng
    g.before_call()
    m = pick_map(g)
    which = rng.randrange(4 if g.prog_type != "xdp" else 3)
    if which == 0:  # the map argument
        _key_ptr(g, m)
        bad = rng.choice(["scalar", "fp", "ctx", "value"])
        if bad == "scalar":
            g.emit(asm.movi(1, rng.choice([0, 1, m.index])))
        elif bad == "fp":
            g.emit(asm.mov(1, FP), asm.alu(True, AluOp.ADD, 1, None, -8))
        elif bad == "ctx":
            g.emit(asm.mov(1, CTX))
        else:
            g.emit(asm.ld_map_value(1, direct_map(g).index, 0))
        g.emit(asm.call_helper(rng.choice([HELPER_LOOKUP, H["map_delete_elem"]])))
    elif which == 1:  # the key argument
        bad = rng.choice(["scalar", "ctx", "map"])
        if bad == "scalar":
            g.emit(asm.movi(2, rng.choice([0, 8, -8])))
        elif bad == "ctx":
            g.emit(asm.mov(2, CTX))
        else:
            g.emit(asm.ld_map(2, m.index))
        g.emit(asm.ld_map(1, m.index), asm.call_helper(rng.choice([HELPER_LOOKUP, H["map_delete_elem"]])))
    elif which == 2:  # the value argument of an update
        _key_ptr(g, m)
        g.emit(asm.ld_map(1, m.index))
        if rng.random() < 0.5:
            g.emit(asm.movi(3, 0))
        else:
            g.emit(asm.mov(3, CTX))
        g.emit(asm.movi(4, 0), asm.call_helper(HELPER_UPDATE))
    else:  # the context argument of a socket-buffer helper
        g.emit(asm.mov(1, FP) if rng.random() < 0.5 else asm.movi(1, 0))
        g.emit(asm.movi(2, 0), asm.mov(3, FP), asm.alu(True, AluOp.ADD, 3, None, -8), asm.movi(4, 4))
        g.emit(asm.call_helper(H["skb_load_bytes"]))


def emit_helper_stack_bounds(g: Gen) -> None:
    """A key or value buffer on the stack that runs past the frame pointer or below the
    frame."""
    rng = g.rng
    g.before_call()
    m = pick_map(g)
    if rng.random() < 0.6:  # the key
        off = rng.choice([-rng.randint(1, m.key_size - 1), 0, 8,
                          -512 - m.key_size + rng.randint(0, m.key_size - 1)])  # fmt: skip
        g.emit(asm.ld_map(1, m.index), asm.mov(2, FP), asm.alu(True, AluOp.ADD, 2, None, off))
        g.emit(asm.call_helper(rng.choice([HELPER_LOOKUP, H["map_delete_elem"]])))
    else:  # the value of an update
        _key_ptr(g, m)
        room = rng.randint(0, max(m.value_size - 1, 0)) & ~7 if m.value_size > 8 else 0
        g.emit(asm.ld_map(1, m.index), asm.mov(3, FP), asm.alu(True, AluOp.ADD, 3, None, -room))
        g.emit(asm.movi(4, 0), asm.call_helper(HELPER_UPDATE))


def emit_helper_mem_size(g: Gen) -> None:
    """A (buffer, size) helper argument pair whose size is zero, negative, unknown or
    larger than the buffer."""
    rng = g.rng
    g.before_call()
    buf = -8 * rng.randint(1, 8)
    kind = rng.choice(["zero", "negative", "unknown", "too_big"])
    if kind == "unknown":
        v = unknown_scalar(g)
        g.emit(asm.mov(4, v))
    g.emit(asm.mov(1, CTX), asm.movi(2, rng.randint(0, 20)))
    g.emit(asm.mov(3, FP), asm.alu(True, AluOp.ADD, 3, None, buf))
    if kind == "zero":
        g.emit(asm.movi(4, 0))
    elif kind == "negative":
        g.emit(asm.movi(4, rng.choice([-1, -8, -0x80000000])))
    elif kind == "too_big":
        g.emit(asm.movi(4, -buf + rng.choice([1, 8, 64, 600])))
    g.emit(asm.call_helper(H["xdp_load_bytes"] if g.is_xdp else H["skb_load_bytes"]))
    g.define(0)


def emit_helper_map_type(g: Gen) -> None:
    """A map of a type the helper does not take."""
    rng = g.rng
    kinds = ["percpu_lookup", "ringbuf_on_data", "data_on_ringbuf"]
    if g.is_xdp:
        kinds.append("redirect_map")
    kind = rng.choice(kinds)
    if kind == "percpu_lookup":
        plain = [m for m in g.data_maps() if not m.percpu]
        m = rng.choice(plain) if plain else new_data_map(g, ("array", "hash", "lru_hash"))
        g.before_call()
        _key_ptr(g, m)
        g.emit(asm.ld_map(1, m.index), asm.movi(3, 0), asm.call_helper(HELPER_LOOKUP_PERCPU))
    elif kind == "ringbuf_on_data":
        m = pick_map(g)
        g.before_call()
        g.emit(asm.ld_map(1, m.index))
        if rng.random() < 0.5:
            g.emit(asm.movi(2, 0), asm.call_helper(HELPER_RINGBUF_QUERY))
        else:
            g.emit(asm.mov(2, FP), asm.alu(True, AluOp.ADD, 2, None, -8), asm.movi(3, 8), asm.movi(4, 0))
            g.emit(asm.call_helper(HELPER_RINGBUF_OUTPUT))
    elif kind == "data_on_ringbuf":
        rb = ringbuf_map(g)
        g.before_call()
        g.emit(asm.st(4, FP, g.frame.key_buf, 0))
        g.emit(asm.ld_map(1, rb.index), asm.mov(2, FP), asm.alu(True, AluOp.ADD, 2, None, g.frame.key_buf))
        if rng.random() < 0.5:
            g.emit(asm.call_helper(HELPER_LOOKUP))
        else:
            g.emit(asm.mov(3, FP), asm.alu(True, AluOp.ADD, 3, None, -8), asm.movi(4, 0))
            g.emit(asm.call_helper(HELPER_UPDATE))
    else:
        m = pick_map(g)
        g.before_call()
        g.emit(asm.ld_map(1, m.index), asm.movi(2, 0), asm.movi(3, 0), asm.call_helper(H["redirect_map"]))
    g.define(0)
    g.mix(0)


def emit_tail_call_bad_map(g: Gen) -> None:
    """``bpf_tail_call`` with a map that is not a program array (or no map at all)."""
    rng = g.rng
    g.before_call()
    g.emit(asm.mov(1, CTX), asm.movi(3, rng.randint(0, 3)))
    r = rng.random()
    if r < 0.75:
        m = pick_map(g) if rng.random() < 0.7 else ringbuf_map(g)
        g.emit(asm.ld_map(2, m.index))
    elif r < 0.9:
        g.emit(asm.movi(2, 0))
    else:
        g.emit(asm.mov(2, FP), asm.alu(True, AluOp.ADD, 2, None, -8))
    g.emit(asm.call_helper(H["tail_call"]))
    g.define(0)
    g.mix(0)


# --- ring buffer references ---------------------------------------------------------------


def _reserved(g: Gen, size: int | None = None) -> int:
    size = size or g.rng.choice([8, 16, 32])
    reserve(g, ringbuf_map(g), size)
    return size


def emit_ringbuf_leak(g: Gen) -> None:
    """A reserved record that is never (or not always) submitted or discarded."""
    rng = g.rng

    def leak(g: Gen) -> None:
        size = _reserved(g)
        null = Label("full")
        g.asm.branch(asm.jcond(False, JmpOp.JEQ, 0, None, 0), null)
        g.emit(asm.stx(min(size, 8), 0, g.acc(), 0))
        if rng.random() < 0.4:  # released on one path only
            keep = Label("keep")
            g.frame.reserved.add(0)
            v = unknown_scalar(g, (0,))
            g.frame.reserved.discard(0)
            g.asm.branch(asm.jcond(False, JmpOp.JGT, v, None, rng.randint(1, 100)), keep)
            release(g, 0)
            g.asm.place(keep)
        g.asm.place(null)
        g.frame.live.clear()

    if rng.random() < 0.3:
        call_subprog(g, leak, args=rng.randint(0, 2))
    else:
        leak(g)


def emit_ringbuf_unchecked(g: Gen) -> None:
    """A reserved record used or released before its NULL check."""
    rng = g.rng
    size = _reserved(g)
    if rng.random() < 0.5:
        g.emit(asm.st(min(size, 8), 0, 0, g.imm32()))
    else:
        release(g, 0)
    g.frame.live.clear()


def emit_ringbuf_after_release(g: Gen) -> None:
    """A record written after it was submitted, or submitted twice."""
    rng = g.rng
    size = _reserved(g)
    null = Label("full")
    g.asm.branch(asm.jcond(False, JmpOp.JEQ, 0, None, 0), null)
    keep = g.acc()
    g.emit(asm.mov(keep, 0))  # the accumulator now holds the record
    release(g, 0)
    if rng.random() < 0.5:
        g.emit(asm.st(min(size, 8), keep, 0, g.imm32()))
    else:
        release(g, keep)
    g.asm.place(null)
    g.frame.live.clear()


def emit_ringbuf_bad_size(g: Gen) -> None:
    """``bpf_ringbuf_reserve`` with a size the verifier does not know."""
    rb = ringbuf_map(g)
    g.before_call()
    v = unknown_scalar(g)
    g.emit(asm.mov(2, v), asm.ld_map(1, rb.index), asm.movi(3, 0))
    g.emit(asm.call_helper(H["ringbuf_reserve"]))
    null = Label("full")
    g.asm.branch(asm.jcond(False, JmpOp.JEQ, 0, None, 0), null)
    release(g, 0)
    g.asm.place(null)
    g.frame.live.clear()


def emit_ringbuf_oob(g: Gen) -> None:
    """An access past the end of (or before) a reserved record."""
    rng = g.rng
    size = _reserved(g, rng.choice([4, 8, 16, 24]))
    null = Label("full")
    g.asm.branch(asm.jcond(False, JmpOp.JEQ, 0, None, 0), null)
    width = rng.choice([1, 2, 4, 8])
    pos = size - width + rng.randint(1, 8) if rng.random() < 0.8 else -width
    g.emit(asm.st(width, 0, pos, g.imm32()))
    release(g, 0)
    g.asm.place(null)
    g.frame.live.clear()


def emit_ringbuf_release_wrong(g: Gen) -> None:
    """Submit or discard something that is not a reserved record."""
    rng = g.rng
    g.before_call()
    kind = rng.choice(["fp", "ctx", "value", "scalar"])
    if kind == "fp":
        p = fp_ptr(g, -8 * rng.randint(1, 8))
    elif kind == "ctx":
        p = CTX
    elif kind == "value":
        p = value_ptr(g)[0]
    else:
        p = g.acc()
    g.emit(asm.mov(1, p), asm.movi(2, 0))
    g.emit(asm.call_helper(rng.choice([H["ringbuf_submit"], H["ringbuf_discard"]])))
    g.frame.live -= set(range(6))
