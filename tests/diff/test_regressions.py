"""Focused regressions for the disagreements with the kernel the differential test found.

Each entry is a small program with the kernel's answer as measured on Linux 6.18; pybpf
must give it everywhere, and where bpf() works the kernel is asked again.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pytest

from pybpf import oracle
from pybpf.isa import assemble, encode_hex

from .harness import kernel_outcome, pybpf_outcome

needs_kernel = pytest.mark.skipif(
    not oracle.available(), reason=f"bpf() unavailable: {oracle.unavailable_reason()}"
)

COUNTING = bytes(range(64))


def _xdp_md(meta: int, end: int) -> bytes:
    return struct.pack("<IIIIII", meta, end, 0, 0, 0, 0)


def _skb_ctx(**fields: int) -> bytes:
    ctx = bytearray(192)
    offsets = {"gso_segs": 164, "gso_size": 176, "mark": 8}
    for name, value in fields.items():
        struct.pack_into("<I", ctx, offsets[name], value)
    return bytes(ctx)


@dataclass(frozen=True)
class Regression:
    name: str
    prog_type: str
    text: str
    retval: int
    data: bytes = COUNTING
    ctx: bytes | None = None
    errno: int = 0
    data_out: bytes | None = None

    def case(self) -> dict[str, object]:
        return {
            "name": self.name, "prog_type": self.prog_type,
            "insns": encode_hex(assemble(self.text, "c")), "maps": [],
            "run": {"data": self.data.hex(), "ctx": self.ctx.hex() if self.ctx else None, "repeat": 1},
        }  # fmt: skip


_QUEUE_MAPPING = "r6 = r1\n{store}\nr0 = *(u32 *)(r6 + 12)\nexit"
_XDP_CALL = "r6 = r1\nr2 = {delta}\ncall {helper}\nexit"

REGRESSIONS = (
    # bpf_sock.rx_queue_mapping without a queue is a 64-bit -1, not 0xffffffff
    Regression("sock rx_queue_mapping is 64-bit -1", "socket_filter",
               "r2 = *(u64 *)(r1 + 168)\nr0 = 0\nif r2 == 0 goto +2\n"
               "r0 = *(u32 *)(r2 + 76)\nr0 >>= 32\nexit", 0xFFFFFFFF),
    # __sk_buff.queue_mapping stores: an immediate is compared signed (so -1 is stored,
    # truncated to 16 bits), a register with its whole 64 bits
    Regression("queue_mapping st -1", "sched_cls",
               _QUEUE_MAPPING.format(store="*(u32 *)(r6 + 12) = -1"), 0xFFFF),
    Regression("queue_mapping st -65536", "sched_cls",
               _QUEUE_MAPPING.format(store="*(u32 *)(r6 + 12) = -65536"), 0),
    Regression("queue_mapping st 0xffff ignored", "sched_cls",
               _QUEUE_MAPPING.format(store="*(u32 *)(r6 + 12) = 65535"), 0),
    Regression("queue_mapping stx 64-bit value ignored", "sched_cls",
               _QUEUE_MAPPING.format(store="r1 = 0x100000005 ll\n*(u32 *)(r6 + 12) = r1"), 0),
    Regression("queue_mapping stx 0xfffe", "sched_cls",
               _QUEUE_MAPPING.format(store="r1 = 65534\n*(u32 *)(r6 + 12) = r1"), 0xFFFE),
    # bpf_xdp_adjust_meta: -EINVAL outside [hard_start + 40, data], -EACCES for a length
    # that is not a multiple of 4
    Regression("adjust_meta past data", "xdp", _XDP_CALL.format(delta=4, helper=54), 0xFFFFFFEA),
    Regression("adjust_meta misaligned", "xdp", _XDP_CALL.format(delta=-2, helper=54), 0xFFFFFFF3),
    Regression("adjust_meta below the frame", "xdp", _XDP_CALL.format(delta=-220, helper=54),
               0xFFFFFFEA),
    # metadata given in ctx_in comes out of the headroom: data stays at offset 256, so
    # with 8 bytes of metadata the head can grow by 208 bytes, not 216 (the metadata moves
    # along; the old copy stays in the exposed headroom)
    Regression("adjust_head with ctx metadata, limit", "xdp",
               _XDP_CALL.format(delta=-212, helper=44), 0xFFFFFFEA, ctx=_xdp_md(8, 64)),
    Regression("adjust_head with ctx metadata", "xdp", _XDP_CALL.format(delta=-208, helper=44), 0,
               ctx=_xdp_md(8, 64), data_out=COUNTING[:8] + bytes(200) + COUNTING),
    Regression("adjust_meta with ctx metadata", "xdp", _XDP_CALL.format(delta=-212, helper=54),
               0xFFFFFFEA, ctx=_xdp_md(8, 64)),
    # the skb keeps 16 bits of the gso_size given in ctx_in
    Regression("ctx_in gso_size is 16 bits", "sched_cls", "r0 = *(u32 *)(r1 + 176)\nexit", 0x4B1C,
               ctx=_skb_ctx(gso_size=0xF4FE4B1C)),
    # a ctx_in shorter than __sk_buff: the case runner's ctx_out of the same size is too
    # small, ENOSPC after retval and data are written (as the kernel runner reports it)
    Regression("short ctx gives ENOSPC", "sched_cls", "r0 = *(u32 *)(r1 + 8)\nexit", 0x1234,
               ctx=_skb_ctx(mark=0x1234)[:100], errno=28),
)  # fmt: skip


def _check(outcome: dict[str, object], reg: Regression) -> None:
    assert outcome["accepted"], outcome
    run = outcome["run"]
    assert isinstance(run, dict)
    assert (run["errno"], run["retval"]) == (reg.errno, reg.retval)
    if reg.data_out is not None:
        assert bytes.fromhex(run["data"]) == reg.data_out


@pytest.mark.parametrize("reg", REGRESSIONS, ids=lambda r: r.name)
def test_pybpf_matches_kernel(reg: Regression) -> None:
    _check(pybpf_outcome(reg.case()), reg)


@pytest.mark.kernel
@needs_kernel
@pytest.mark.parametrize("reg", REGRESSIONS, ids=lambda r: r.name)
def test_kernel_still_answers_so(reg: Regression) -> None:
    _check(kernel_outcome(reg.case()), reg)
