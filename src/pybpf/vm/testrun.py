"""``BPF_PROG_TEST_RUN`` as the kernel does it, per program type.

What the packet looks like to the program, which context fields a caller may set, what
comes back as data and context, and in which order the errors are checked follow the
kernel's ``net/bpf/test_run.c`` as measured on Linux 6.18 (``docs/kernel/test-run.md``).
"""

from __future__ import annotations

import errno
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import BpfError
from ..kernel.context import SK_BUFF, XDP_MD
from ..kernel.helpers.storage import test_run_storages
from ..kernel.progtypes import AttachType, ProgType
from ..kernel.skb import (
    ETH_HLEN,
    ETH_P_IP,
    ETH_P_IPV6,
    LOOPBACK,
    MAX_LINEAR,
    SkBuff,
    csum_fold,
)
from ..kernel.xdp import FRAG_SIZE, HEADROOM, MAX_FRAGS, XDP_FRAME_SIZE, XdpBuff
from ..kernel.xdp import MAX_LINEAR as XDP_MAX_LINEAR
from ..memory import MEMORY, RegionKind, allocate
from .interpreter import Interpreter
from .tiers import Runner, Tier
from .tiers import runner_for as shared_runner

if TYPE_CHECKING:
    from ..program import Program

SKB_TYPES = (ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.CGROUP_SKB,
             ProgType.LWT_IN, ProgType.LWT_OUT, ProgType.LWT_XMIT)  # fmt: skip
# skb types that see the Ethernet header; the others start at the network header and
# get the header back, zeroed, in data_out
L2_TYPES = (ProgType.SCHED_CLS, ProgType.SCHED_ACT)
# types whose kernel program ops have no test_run: BPF_PROG_TEST_RUN answers ENOTSUPP
NO_TEST_RUN = frozenset({
    ProgType.KPROBE, ProgType.TRACEPOINT, ProgType.PERF_EVENT, ProgType.CGROUP_SOCK,
    ProgType.SOCK_OPS, ProgType.SK_SKB, ProgType.CGROUP_DEVICE, ProgType.SK_MSG,
    ProgType.CGROUP_SOCK_ADDR, ProgType.LWT_SEG6LOCAL, ProgType.LIRC_MODE2,
    ProgType.SK_REUSEPORT, ProgType.CGROUP_SYSCTL, ProgType.RAW_TRACEPOINT_WRITABLE,
    ProgType.CGROUP_SOCKOPT, ProgType.EXT, ProgType.LSM,
})  # fmt: skip
ENOTSUPP = 524
# A tracing test run calls the kernel's test functions; the program, attached to none of
# them, does not run.  fmod_ret's retval packs the functions' own results: 4 + 29, and
# in the upper half the two side effects they made (per net/bpf/test_run.c).
TRACING_RETVALS = {AttachType.TRACE_FENTRY: 0, AttachType.TRACE_FEXIT: 0,
                   AttachType.MODIFY_RETURN: (2 << 16) | 33}  # fmt: skip
BPF_F_TEST_XDP_LIVE_FRAMES = 2
BPF_F_TEST_SKB_CHECKSUM_COMPLETE = 4
MAX_CTX_IN = 4096
U32_MAX = 0xFFFFFFFF

# __sk_buff fields a caller may set in ctx_in (all others must be zero)
_SKB_CTX_IN = ("mark", "priority", "ingress_ifindex", "ifindex", "cb", "tstamp", "wire_len",
               "gso_segs", "gso_size", "hwtstamp")  # fmt: skip
# fields the kernel writes back into ctx_out from the skb
_SKB_CTX_OUT = ("mark", "priority", "ingress_ifindex", "ifindex", "tstamp", "cb", "wire_len",
                "gso_segs", "hwtstamp")  # fmt: skip


@dataclass(frozen=True)
class TestRunResult:
    """What the kernel writes back: r0 of the last run as u32, the packet, the context."""

    __test__ = False  # not a pytest class

    retval: int
    data: bytes
    ctx: bytes | None
    duration_ns: int
    r0: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"retval": self.retval, "data": self.data.hex(), "duration_ns": self.duration_ns}


def runner_for(program: Program, tier: Tier | str | None = None) -> Runner:
    """The runner of ``tier`` (default: the default tier) for the program's kernel."""
    return shared_runner(program.kernel, tier)


def interpreter_for(program: Program) -> Interpreter:
    runner = runner_for(program, Tier.INTERP)
    assert isinstance(runner, Interpreter)
    return runner


def _check_ctx_tail(ctx: bytes | None, size: int) -> bytes:
    if ctx is None:
        return bytes(size)
    if len(ctx) > MAX_CTX_IN or any(ctx[size:]):
        raise BpfError(errno.E2BIG, f"ctx_in has non-zero bytes past the {size}-byte context")
    return ctx[:size].ljust(size, b"\0")


def _field(ctx: bytes, name: str, layout: Any = SK_BUFF) -> int:
    f = layout.field(name)
    return int.from_bytes(ctx[f.offset : f.end], "little")


def test_run(
    program: Program,
    data: bytes = b"",
    ctx: bytes | None = None,
    repeat: int = 1,
    cpu: int = 0,
    flags: int = 0,
    want_ctx: bool = False,
    tier: Tier | str | None = None,
) -> TestRunResult:
    """Run ``program`` ``repeat`` times as ``BPF_PROG_TEST_RUN`` would, on ``tier``
    (default: the default tier, see :mod:`pybpf.vm.tiers`)."""
    if program.prog_type in NO_TEST_RUN:
        raise BpfError(ENOTSUPP, f"{program.prog_type.name.lower()} programs cannot be test-run")
    if program.prog_type == ProgType.TRACING and program.expected_attach_type in TRACING_RETVALS:
        return _run_tracing(program, cpu, flags)
    runner = runner_for(program, tier)
    if program.prog_type in SKB_TYPES:
        return _run_skb(program, runner, data, ctx, repeat, cpu, flags, want_ctx)
    if program.prog_type == ProgType.XDP:
        return _run_xdp(program, runner, data, ctx, repeat, flags, want_ctx)
    return _run_raw(program, runner, data, ctx, repeat, cpu)


def _timed_runs(
    program: Program, runner: Runner, ctx_addr: int, ctx_obj: Any, repeat: int, cpu: int
) -> tuple[int, int]:
    """r0 of the last run and the mean ns per run.  Code generation happens before the
    clock starts, as the kernel JIT-compiles at load time, not in the test run."""
    with test_run_storages(program, program.maps):
        return _timed_runs_with_storage(program, runner, ctx_addr, ctx_obj, repeat, cpu)


def _timed_runs_with_storage(
    program: Program, runner: Runner, ctx_addr: int, ctx_obj: Any, repeat: int, cpu: int
) -> tuple[int, int]:
    exe = program.executable
    runner.prepare(exe)
    runs = max(repeat, 1)
    run_repeat = getattr(runner, "run_repeat", None)
    if run_repeat is not None:  # the jit's native loop, the python tier's generated REPEAT
        r0, ns = run_repeat(exe, ctx_addr, runs, ctx=ctx_obj, cpu=cpu)
        return r0, min(ns, U32_MAX)
    run = runner.run
    r0 = 0
    start = time.perf_counter_ns()
    for _ in range(runs):
        r0 = run(exe, ctx_addr, ctx=ctx_obj, cpu=cpu)
    elapsed = time.perf_counter_ns() - start
    return r0, min(elapsed // runs, U32_MAX)


def _run_skb(
    program: Program, runner: Runner, data: bytes, ctx: bytes | None, repeat: int, cpu: int, flags: int, want_ctx: bool
) -> TestRunResult:
    if flags & ~BPF_F_TEST_SKB_CHECKSUM_COMPLETE or cpu:
        raise BpfError(errno.EINVAL, "flags or cpu not supported for skb test runs")
    if len(data) < ETH_HLEN:
        raise BpfError(errno.EINVAL, f"skb test run needs at least {ETH_HLEN} bytes of data")
    if len(data) > MAX_LINEAR:
        raise BpfError(errno.EINVAL, f"skb test run takes at most {MAX_LINEAR} bytes of data")
    use_ctx = ctx is not None or want_ctx
    kctx = _check_ctx_tail(ctx, SK_BUFF.size)
    ifindex = _field(kctx, "ifindex")
    if ifindex > LOOPBACK.ifindex:
        raise BpfError(errno.ENODEV, f"no device with ifindex {ifindex}")
    skb = SkBuff(data)
    try:
        skb.pull(ETH_HLEN)
        if skb.protocol == ETH_P_IP and skb.len < 20:
            raise BpfError(errno.EINVAL, "IPv4 frame shorter than an IP header")
        if skb.protocol == ETH_P_IPV6 and skb.len < 40:
            raise BpfError(errno.EINVAL, "IPv6 frame shorter than an IPv6 header")
        l2 = program.prog_type in L2_TYPES
        if l2:
            skb.push(ETH_HLEN)
        if use_ctx:
            _apply_skb_ctx(skb, kctx)
        if flags & BPF_F_TEST_SKB_CHECKSUM_COMPLETE:
            skb.csum = skb.checksum_from_network()
        r0, duration = _timed_runs(program, runner, skb.ctx.base, skb, repeat, cpu)
        if not l2:
            if skb.headroom < ETH_HLEN:  # a helper used up the head room: make 16 more
                skb.expand_head((ETH_HLEN - skb.headroom + 15) // 16 * 16)
            skb.push(ETH_HLEN)
            skb.region.buf[skb.data_off : skb.data_off + ETH_HLEN] = bytes(ETH_HLEN)
        if skb.csum is not None and csum_fold(skb.csum) != csum_fold(skb.checksum_from_network()):
            raise BpfError(errno.EBADMSG, "the packet's checksum no longer matches skb->csum")
        out_ctx = _skb_ctx_out(skb, kctx) if use_ctx else None
        return TestRunResult(r0 & U32_MAX, skb.linear(), out_ctx, duration, r0)
    finally:
        skb.close()


def _apply_skb_ctx(skb: SkBuff, kctx: bytes) -> None:
    allowed = bytearray(SK_BUFF.size)
    for name in _SKB_CTX_IN:
        f = SK_BUFF.field(name)
        allowed[f.offset : f.end] = b"\xff" * f.size
    if any(b & ~a & 0xFF for b, a in zip(kctx, allowed, strict=True)):
        raise BpfError(errno.EINVAL, "ctx_in sets a __sk_buff field a test run may not set")
    wire_len = _field(kctx, "wire_len")
    if wire_len and not skb.len <= wire_len <= 65536:
        raise BpfError(errno.EINVAL, "ctx_in wire_len must lie between len and 65536")
    if _field(kctx, "gso_segs") > 0xFFFF:
        raise BpfError(errno.EINVAL, "ctx_in gso_segs must fit in 16 bits")
    for name in ("mark", "priority", "ingress_ifindex", "cb", "tstamp", "gso_segs", "gso_size", "hwtstamp"):
        f = SK_BUFF.field(name)
        skb.ctx.buf[f.offset : f.end] = kctx[f.offset : f.end]
    skb.set_ctx("gso_size", _field(kctx, "gso_size") & 0xFFFF)  # a 16-bit field in the skb
    skb.set_ctx("wire_len", wire_len or skb.len)


def _skb_ctx_out(skb: SkBuff, kctx: bytes) -> bytes:
    out = bytearray(kctx)
    for name in _SKB_CTX_OUT:
        f = SK_BUFF.field(name)
        out[f.offset : f.end] = skb.ctx.buf[f.offset : f.end]
    f = SK_BUFF.field("ifindex")
    out[f.offset : f.end] = skb.dev.ifindex.to_bytes(4, "little")
    return bytes(out)


def _run_xdp(
    program: Program, runner: Runner, data: bytes, ctx: bytes | None, repeat: int, flags: int, want_ctx: bool
) -> TestRunResult:
    if program.expected_attach_type in (AttachType.XDP_DEVMAP, AttachType.XDP_CPUMAP):
        raise BpfError(errno.EINVAL, "devmap and cpumap XDP programs cannot be test-run")
    if flags & ~BPF_F_TEST_XDP_LIVE_FRAMES:
        raise BpfError(errno.EINVAL, "flags not supported for xdp test runs")
    if flags:
        raise BpfError(errno.EOPNOTSUPP, "live-frame XDP test runs are not simulated")
    use_ctx = ctx is not None or want_ctx
    kctx = _check_ctx_tail(ctx, XDP_MD.size)
    meta = linear = 0
    if use_ctx:
        meta, end = _field(kctx, "data", XDP_MD), _field(kctx, "data_end", XDP_MD)
        if _field(kctx, "data_meta", XDP_MD) or end > len(data) or meta > end:
            raise BpfError(errno.EINVAL, "xdp_md ctx_in: data_meta must be 0 and data <= data_end <= size")
        if meta % 4 or meta > HEADROOM - XDP_FRAME_SIZE:
            raise BpfError(errno.EINVAL, "xdp_md ctx_in: metadata size must be a multiple of 4, at most 216")
        linear = end
    if len(data) - meta < ETH_HLEN:
        raise BpfError(errno.EINVAL, f"xdp test run needs at least {ETH_HLEN} bytes after the metadata")
    ingress, queue = 1, 0
    if use_ctx:
        if _field(kctx, "egress_ifindex", XDP_MD):
            raise BpfError(errno.EINVAL, "xdp_md ctx_in: egress_ifindex must be 0")
        ingress, queue = _field(kctx, "ingress_ifindex", XDP_MD), _field(kctx, "rx_queue_index", XDP_MD)
        if ingress == 0 and queue:
            raise BpfError(errno.EINVAL, "xdp_md ctx_in: rx_queue_index without ingress_ifindex")
        if ingress > LOOPBACK.ifindex:
            raise BpfError(errno.ENODEV, f"no device with ifindex {ingress}")
        if queue:
            raise BpfError(errno.EINVAL, f"device {ingress} has no rx queue {queue}")
        ingress = ingress or 1
    else:
        linear = min(len(data), XDP_MAX_LINEAR)
    linear = min(linear, XDP_MAX_LINEAR + meta)
    if len(data) - linear > MAX_FRAGS * FRAG_SIZE:
        raise BpfError(errno.ENOMEM, "packet needs more than 17 fragments")
    xdp = XdpBuff(data, meta, linear, ingress, queue)
    try:
        r0, duration = _timed_runs(program, runner, xdp.ctx.base, xdp, repeat, 0)
        out_ctx = None
        if use_ctx:
            md = bytearray(kctx)
            struct.pack_into("<II", md, 0, xdp.data_off - xdp.meta_off, xdp.end_off - xdp.meta_off)
            out_ctx = bytes(md)
        return TestRunResult(r0 & U32_MAX, xdp.output(), out_ctx, duration, r0)
    finally:
        xdp.close()


def _run_tracing(program: Program, cpu: int, flags: int) -> TestRunResult:
    if flags or cpu:
        raise BpfError(errno.EINVAL, "flags and cpu are not supported for tracing test runs")
    assert program.expected_attach_type is not None
    return TestRunResult(TRACING_RETVALS[program.expected_attach_type], b"", None, 0)


def _run_raw(
    program: Program, runner: Runner, data: bytes, ctx: bytes | None, repeat: int, cpu: int
) -> TestRunResult:
    """Program types without a packet model: the context is the bytes given (or none)."""
    region = allocate(max(len(ctx or b""), 1), RegionKind.CTX, "ctx", True, ctx or b"")
    try:
        r0, duration = _timed_runs(program, runner, region.base if ctx else 0, None, repeat, cpu)
        return TestRunResult(r0 & U32_MAX, b"", bytes(region.buf[: len(ctx)]) if ctx else None, duration, r0)
    finally:
        MEMORY.remove(region)
