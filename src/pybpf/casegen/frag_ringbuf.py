"""Ring buffer records: ``bpf_ringbuf_reserve`` with its NULL check, writes into the
record and its release (submit or discard), or ``bpf_ringbuf_output`` from the stack.
Reserved records are references the verifier tracks, so this fragment is what the
reference-leak mistakes are the wrong version of."""

from __future__ import annotations

from ..isa.helper_ids import HELPER_IDS
from ..isa.opcodes import AluOp, JmpOp
from . import asm
from .asm import Label
from .gen import FP, Gen, MapInfo

HELPER_RINGBUF_OUTPUT = HELPER_IDS["ringbuf_output"]
HELPER_RINGBUF_RESERVE = HELPER_IDS["ringbuf_reserve"]
HELPER_RINGBUF_SUBMIT = HELPER_IDS["ringbuf_submit"]
HELPER_RINGBUF_DISCARD = HELPER_IDS["ringbuf_discard"]
HELPER_RINGBUF_QUERY = HELPER_IDS["ringbuf_query"]

# BPF_RB_NO_WAKEUP, BPF_RB_FORCE_WAKEUP
RELEASE_FLAGS = (0, 0, 1, 2)


def ringbuf_map(g: Gen) -> MapInfo:
    for m in g.maps:
        if m.role == "ringbuf":
            return m
    size = 4096 << g.rng.randint(0, 2)
    return g.add_map(MapInfo(0, "ringbuf", 0, 0, size, role="ringbuf"))


def reserve(g: Gen, m: MapInfo, size: int) -> None:
    """``r0 = bpf_ringbuf_reserve(m, size, 0)`` (r0-r5 clobbered first)."""
    g.before_call()
    g.emit(asm.ld_map(1, m.index), asm.movi(2, size), asm.movi(3, 0))
    g.emit(asm.call_helper(HELPER_RINGBUF_RESERVE))


def release(g: Gen, reg: int) -> None:
    """Submit or discard the record ``reg`` points to (r0-r5 clobbered)."""
    g.clobber([r for r in range(6) if r != reg])
    helper = g.rng.choice([HELPER_RINGBUF_SUBMIT, HELPER_RINGBUF_DISCARD])
    g.emit(asm.mov(1, reg), asm.movi(2, g.rng.choice(RELEASE_FLAGS)), asm.call_helper(helper))
    g.frame.live -= set(range(6))


def frag_ringbuf(g: Gen) -> None:
    rng = g.rng
    m = ringbuf_map(g)
    g.note("ringbuf")
    if rng.random() < 0.3:
        size = 8 * rng.randint(1, g.frame.scratch // 8)
        buf = -8 * rng.randint(size // 8, g.frame.scratch // 8)
        g.before_call()
        g.emit(asm.ld_map(1, m.index), asm.mov(2, FP), asm.alu(True, AluOp.ADD, 2, None, buf))
        g.emit(asm.movi(3, size), asm.movi(4, rng.choice(RELEASE_FLAGS)))
        g.emit(asm.call_helper(HELPER_RINGBUF_OUTPUT))
        g.define(0)
        g.mix(0)
        return
    size = rng.choice([8, 16, 24, 32, 64, 12, 4])
    reserve(g, m, size)
    null = Label("full")
    g.asm.branch(asm.jcond(False, JmpOp.JEQ, 0, None, 0), null)
    for _ in range(rng.randint(1, 3)):
        width = rng.choice([w for w in (1, 2, 4, 8) if w <= size])
        pos = width * rng.randrange(size // width)
        if rng.random() < 0.7:
            g.emit(asm.stx(width, 0, g.acc(), pos))
        else:
            g.emit(asm.st(width, 0, pos, g.imm32()))
    release(g, 0)
    g.asm.place(null)
    g.frame.live.clear()
