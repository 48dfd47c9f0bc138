"""Context access rules: what each program type may load from and store into its ctx."""

from __future__ import annotations

import dataclasses

import pytest

from pybpf.kernel.context import SK_BUFF
from pybpf.kernel.ctx_access import (
    BPF_FLOW_KEYS,
    BPF_PERF_EVENT_DATA,
    BPF_SOCK_ADDR,
    BPF_SOCK_OPS,
    CTX_IS_PLAIN_MEMORY,
    PT_REGS_X86_64,
    SUPPORTED_PROG_TYPES,
    BtfArg,
    BtfArgKind,
    BtfFuncSig,
    CtxAccess,
    ctx_is_plain_memory,
    ctx_layout,
    ctx_size,
    is_valid_access,
    is_valid_flow_keys_access,
)
from pybpf.kernel.progtypes import AttachType, ProgType
from pybpf.kernel.regtypes import (
    PTR_TO_SOCK_COMMON_OR_NULL,
    PTR_TO_SOCKET_OR_NULL,
    RegType,
    TypeFlag,
)

P = ProgType
AT = AttachType


def _ok(prog_type: int, off: int, size: int, access: str = "read", at: int | None = None,
        **kw: object) -> bool:  # fmt: skip
    return is_valid_access(prog_type, off, size, access, at, **kw) is not None  # type: ignore[arg-type]


def _sizes(prog_type: int, off: int, access: str, at: int | None = None) -> tuple[int, ...]:
    return tuple(s for s in (1, 2, 4, 8) if _ok(prog_type, off, s, access, at))


# docs/kernel/test-run.md §9.1, as measured on 6.18: (field, socket_filter, sched_cls),
# each side (read sizes, write sizes).
SKB_TABLE = [
    ("len", ((1, 2, 4), ()), ((1, 2, 4), ())),
    ("pkt_type", ((1, 2, 4), ()), ((1, 2, 4), ())),
    ("mark", ((1, 2, 4), ()), ((1, 2, 4), (4,))),
    ("queue_mapping", ((1, 2, 4), ()), ((1, 2, 4), (4,))),
    ("protocol", ((1, 2, 4), ()), ((1, 2, 4), ())),
    ("priority", ((1, 2, 4), ()), ((1, 2, 4), (4,))),
    ("tc_index", ((1, 2, 4), ()), ((1, 2, 4), (4,))),
    ("hash", ((1, 2, 4), ()), ((1, 2, 4), ())),
    ("tc_classid", ((), ()), ((1, 2, 4), (4,))),
    ("data", ((), ()), ((4,), ())),
    ("data_end", ((), ()), ((4,), ())),
    ("data_meta", ((), ()), ((4,), ())),
    ("family", ((), ()), ((), ())),
    ("local_port", ((), ()), ((), ())),
    ("flow_keys", ((), ()), ((), ())),
    ("tstamp", ((), ()), ((8,), (8,))),
    ("wire_len", ((), ()), ((1, 2, 4), ())),
    ("gso_segs", ((1, 2, 4), ()), ((1, 2, 4), ())),
    ("sk", ((8,), ()), ((8,), ())),
    ("gso_size", ((1, 2, 4), ()), ((1, 2, 4), ())),
    ("tstamp_type", ((), ()), ((1,), ())),
    ("hwtstamp", ((), ()), ((8,), ())),
]  # fmt: skip


@pytest.mark.parametrize(("field", "sf", "tc"), SKB_TABLE)
def test_sk_buff_fields(field: str, sf: tuple[tuple[int, ...], ...],
                        tc: tuple[tuple[int, ...], ...]) -> None:  # fmt: skip
    off = SK_BUFF.offset(field)
    assert (_sizes(P.SOCKET_FILTER, off, "read"), _sizes(P.SOCKET_FILTER, off, "write")) == sf
    for prog_type in (P.SCHED_CLS, P.SCHED_ACT):
        assert (_sizes(prog_type, off, "read"), _sizes(prog_type, off, "write")) == tc


def test_sk_buff_cb_and_padding() -> None:
    cb = SK_BUFF.offset("cb")
    for prog_type in (P.SOCKET_FILTER, P.SCHED_CLS):
        assert _sizes(prog_type, cb, "write") == (1, 2, 4, 8)
        assert _sizes(prog_type, cb + 8, "read") == (1, 2, 4, 8)
        assert _sizes(prog_type, cb + 16, "read") == (1, 2, 4)  # 8 would cross cb[4]
        assert _sizes(prog_type, cb + 3, "write") == (1,)
    for off in (181, 182, 183):
        assert _sizes(P.SCHED_CLS, off, "read") == ()
    assert _sizes(P.SCHED_CLS, 192, "read") == ()
    assert _sizes(P.SCHED_CLS, -4, "read") == ()


def test_sk_buff_counts_match_the_measured_totals() -> None:
    """test-run.md: 224 accepted (offset, size, op) combinations for socket_filter, 256
    for sched_cls/act, over LDX/STX/ST."""

    def count(prog_type: int) -> int:
        return sum(
            _ok(prog_type, off, size, access)
            for off in range(0, 196) for size in (1, 2, 4, 8)
            for access in ("read", "write", "write")
        )  # fmt: skip

    assert count(P.SOCKET_FILTER) == 224
    assert count(P.SCHED_CLS) == count(P.SCHED_ACT) == 256


def test_sk_buff_loads() -> None:
    data = is_valid_access(P.SCHED_CLS, 76, 4, "read")
    assert data == CtxAccess(76, 4, RegType.PTR_TO_PACKET)
    meta = is_valid_access(P.SCHED_CLS, 140, 4, "read")
    assert meta is not None and meta.reg_type == RegType.PTR_TO_PACKET_META
    sk = is_valid_access(P.SOCKET_FILTER, 168, 8, "read")
    assert sk is not None and sk.reg_type == PTR_TO_SOCK_COMMON_OR_NULL
    mark = is_valid_access(P.SCHED_CLS, 9, 1, "read")
    assert mark is not None and mark.ctx_field_size == 4 and mark.narrow_load and mark.narrow_ok
    whole = is_valid_access(P.SCHED_CLS, 8, 4, "read")
    assert whole is not None and whole.ctx_field_size == 4 and not whole.narrow_load
    cb = is_valid_access(P.SCHED_CLS, 48, 1, "read")
    assert cb is not None and cb.ctx_field_size == 0 and not cb.narrow_ok
    assert is_valid_access(P.SCHED_CLS, 8, 4, "write") == CtxAccess(8, 4)
    assert not _ok(P.SCHED_CLS, 76, 4, ldsx=True)
    assert _ok(P.SCHED_CLS, 8, 1, ldsx=True)


def test_other_skb_users() -> None:
    assert _sizes(P.CGROUP_SKB, 76, "read") == (4,)
    assert not _ok(P.CGROUP_SKB, 76, 4, privileged=False)
    assert _ok(P.CGROUP_SKB, 152, 8, "write")
    assert not _ok(P.CGROUP_SKB, 152, 8, "write", privileged=False)
    assert _sizes(P.CGROUP_SKB, 8, "write") == (4,)
    assert _sizes(P.CGROUP_SKB, 140, "read") == ()
    assert _sizes(P.LWT_XMIT, 76, "read") == (4,) and _sizes(P.LWT_IN, 140, "read") == ()
    assert _sizes(P.SK_SKB, 8, "read") == ()  # no mark
    assert _sizes(P.SK_SKB, 44, "write") == (4,)
    flow_keys = is_valid_access(P.FLOW_DISSECTOR, 144, 8, "read")
    assert flow_keys is not None and flow_keys.reg_type == RegType.PTR_TO_FLOW_KEYS
    assert _sizes(P.FLOW_DISSECTOR, 0, "read") == ()
    assert is_valid_flow_keys_access(0, 8) and not is_valid_flow_keys_access(52, 8)
    assert BPF_FLOW_KEYS.size == 56


def test_xdp() -> None:
    for off, reg in ((0, RegType.PTR_TO_PACKET), (4, RegType.PTR_TO_PACKET_END),
                     (8, RegType.PTR_TO_PACKET_META), (12, RegType.SCALAR_VALUE),
                     (16, RegType.SCALAR_VALUE)):  # fmt: skip
        got = is_valid_access(P.XDP, off, 4, "read")
        assert got is not None and got.reg_type == reg
        assert _sizes(P.XDP, off, "read") == (4,)
        assert _sizes(P.XDP, off, "write") == ()
    assert _sizes(P.XDP, 20, "read") == ()
    assert _sizes(P.XDP, 20, "read", AT.XDP_DEVMAP) == (4,)
    assert not _ok(P.XDP, 0, 4, ldsx=True) and _ok(P.XDP, 12, 4, ldsx=True)
    assert _ok(P.XDP, 16, 4, "write", offloaded=True)


def test_socket_contexts() -> None:
    create, post4 = AT.CGROUP_INET_SOCK_CREATE, AT.CGROUP_INET4_POST_BIND
    assert _sizes(P.CGROUP_SOCK, 0, "write", create) == (4,)  # bound_dev_if
    assert _sizes(P.CGROUP_SOCK, 0, "write", post4) == ()
    assert _sizes(P.CGROUP_SOCK, 24, "read", post4) == (1, 2, 4)  # src_ip4
    assert _sizes(P.CGROUP_SOCK, 24, "read", create) == ()
    assert _sizes(P.CGROUP_SOCK, 48, "read", create) == (1, 2, 4)  # dst_port
    assert _sizes(P.CGROUP_SOCK, 50, "read", create) == ()  # its padding
    connect4, connect6 = AT.CGROUP_INET4_CONNECT, AT.CGROUP_INET6_CONNECT
    ip6 = BPF_SOCK_ADDR.offset("user_ip6")
    assert _sizes(P.CGROUP_SOCK_ADDR, ip6, "read", connect6) == (1, 2, 4, 8)
    assert _sizes(P.CGROUP_SOCK_ADDR, ip6 + 4, "read", connect6) == (1, 2, 4)
    assert _sizes(P.CGROUP_SOCK_ADDR, ip6, "write", connect6) == (4, 8)
    assert _sizes(P.CGROUP_SOCK_ADDR, ip6, "read", connect4) == ()
    sk = is_valid_access(P.CGROUP_SOCK_ADDR, 64, 8, "read", connect4)
    assert sk is not None and sk.reg_type == RegType.PTR_TO_SOCKET
    reply = BPF_SOCK_OPS.offset("reply")
    assert _sizes(P.SOCK_OPS, reply, "write") == (4,)
    sk_ops = is_valid_access(P.SOCK_OPS, BPF_SOCK_OPS.offset("sk"), 8, "read")
    assert sk_ops is not None and sk_ops.reg_type == PTR_TO_SOCKET_OR_NULL
    assert _sizes(P.SOCK_OPS, BPF_SOCK_OPS.offset("bytes_acked"), "read") == (8,)
    assert _sizes(P.SK_MSG, 0, "read") == (8,) and _sizes(P.SK_MSG, 68, "read") == (4,)
    port = is_valid_access(P.SK_LOOKUP, 36, 2, "read")
    assert port is not None and port.ctx_field_size == 2
    assert _sizes(P.SK_LOOKUP, 36, "read") == (1, 2, 4)
    assert _sizes(P.SK_LOOKUP, 38, "read") == (1, 2)  # zero padding
    migrating = is_valid_access(P.SK_REUSEPORT, 48, 8, "read")
    assert migrating is not None and migrating.reg_type == PTR_TO_SOCK_COMMON_OR_NULL
    assert _sizes(P.SK_REUSEPORT, 20, "read") == (2, 4)  # eth_protocol: no byte reads


def test_cgroup_hook_contexts() -> None:
    assert _sizes(P.CGROUP_SYSCTL, 0, "read") == (1, 2, 4)
    assert _sizes(P.CGROUP_SYSCTL, 0, "write") == ()
    assert _sizes(P.CGROUP_SYSCTL, 4, "write") == (4,)
    get, set_ = AT.CGROUP_GETSOCKOPT, AT.CGROUP_SETSOCKOPT
    assert _sizes(P.CGROUP_SOCKOPT, 36, "write", get) == (4,)  # retval
    assert _sizes(P.CGROUP_SOCKOPT, 36, "write", set_) == ()
    assert _sizes(P.CGROUP_SOCKOPT, 24, "write", set_) == (4,)  # level
    optval = is_valid_access(P.CGROUP_SOCKOPT, 8, 8, "read", get)
    assert optval is not None and optval.reg_type == RegType.PTR_TO_PACKET
    assert _sizes(P.CGROUP_DEVICE, 0, "read") == (1, 2, 4)
    assert _sizes(P.CGROUP_DEVICE, 4, "read") == (4,)
    skb = is_valid_access(P.NETFILTER, 8, 8, "read")
    assert skb is not None and skb.btf_type == "sk_buff"
    assert skb.reg_type == RegType.PTR_TO_BTF_ID | TypeFlag.PTR_TRUSTED


def test_tracing_contexts() -> None:
    assert _sizes(P.KPROBE, 160, "read") == (1, 2, 4, 8)
    assert _sizes(P.KPROBE, 168, "read") == ()
    assert _sizes(P.KPROBE, 0, "write") == ()
    assert _sizes(P.TRACEPOINT, 8, "read") == (1, 2, 4, 8)
    assert _sizes(P.TRACEPOINT, 0, "read") == ()
    assert _sizes(P.TRACEPOINT, -8, "read") == (1, 2, 4, 8)  # measured on 6.18
    assert _sizes(P.TRACEPOINT, 8184, "read") == (1, 2, 4, 8)
    assert _sizes(P.TRACEPOINT, 8192, "read") == ()
    period = is_valid_access(P.PERF_EVENT, 168, 4, "read")
    assert period is not None and period.ctx_field_size == 8 and period.narrow_load
    assert _sizes(P.PERF_EVENT, 8, "read") == (8,)
    assert _sizes(P.RAW_TRACEPOINT, 88, "read") == (1, 2, 4, 8)
    assert _sizes(P.RAW_TRACEPOINT, 96, "read") == ()
    buf = is_valid_access(P.RAW_TRACEPOINT_WRITABLE, 0, 8, "read")
    assert buf is not None and buf.reg_type == RegType.PTR_TO_TP_BUFFER
    assert _sizes(P.RAW_TRACEPOINT_WRITABLE, 0, "read") == (8,)
    assert _sizes(P.SYSCALL, 100, "write") == (1, 2, 4)
    assert _sizes(P.SYSCALL, 65535, "read") == ()


SWITCH = BtfFuncSig("sched_switch", (
    BtfArg(BtfArgKind.SCALAR), BtfArg(BtfArgKind.STRUCT_PTR, "task_struct"),
    BtfArg(BtfArgKind.STRUCT_PTR, "task_struct", nullable=True), BtfArg(BtfArgKind.OTHER),
))  # fmt: skip


def test_btf_contexts() -> None:
    tp = AT.TRACE_RAW_TP
    assert _sizes(P.TRACING, 0, "read", tp) == (1, 2, 4, 8)
    prev = is_valid_access(P.TRACING, 8, 8, "read", tp, func_sig=SWITCH)
    assert prev is not None and prev.btf_type == "task_struct"
    assert prev.reg_type == RegType.PTR_TO_BTF_ID | TypeFlag.PTR_TRUSTED
    nxt = is_valid_access(P.TRACING, 16, 8, "read", tp, func_sig=SWITCH)
    assert nxt is not None and nxt.reg_type & TypeFlag.PTR_MAYBE_NULL
    assert not _ok(P.TRACING, 8, 4, at=tp, func_sig=SWITCH)
    assert not _ok(P.TRACING, 24, 8, at=tp, func_sig=SWITCH)  # not a pointer or scalar
    assert not _ok(P.TRACING, 32, 8, at=tp, func_sig=SWITCH)  # past the last argument
    fentry = is_valid_access(P.TRACING, 8, 8, "read", AT.TRACE_FENTRY, func_sig=SWITCH)
    assert fentry is not None and fentry.reg_type == RegType.PTR_TO_BTF_ID
    returns_int = dataclasses.replace(SWITCH, ret=BtfArg(BtfArgKind.SCALAR))
    ret = is_valid_access(P.TRACING, 32, 8, "read", AT.TRACE_FEXIT, func_sig=returns_int)
    assert ret is not None and ret.reg_type == RegType.SCALAR_VALUE
    lsm = is_valid_access(P.LSM, 32, 8, "read", AT.LSM_MAC, func_sig=returns_int)
    assert lsm is not None and lsm.is_retval
    assert not _ok(P.TRACING, 32, 8, at=AT.TRACE_FEXIT, func_sig=SWITCH)  # void: no return slot
    assert not _ok(P.TRACING, 4, 4, at=AT.TRACE_FENTRY)  # not a multiple of 8
    assert _ok(P.TRACING, 32, 8, at=AT.TRACE_FENTRY)  # no signature: five scalars
    assert not _ok(P.TRACING, 40, 8, at=AT.TRACE_FENTRY)
    assert _ok(P.TRACING, 40, 8, at=AT.TRACE_FEXIT)
    sock = BtfFuncSig("ssthresh", (BtfArg(BtfArgKind.STRUCT_PTR, "sock"),))
    tcp = is_valid_access(P.STRUCT_OPS, 0, 8, "read", 0, func_sig=sock)
    assert tcp is not None and tcp.btf_type == "tcp_sock"
    assert tcp.reg_type == RegType.PTR_TO_BTF_ID | TypeFlag.PTR_TRUSTED


def test_layouts() -> None:
    assert ctx_size(P.SOCKET_FILTER) == 192 and ctx_size(P.XDP) == 24
    assert ctx_size(P.KPROBE) == PT_REGS_X86_64.size == 168
    assert ctx_size(P.PERF_EVENT) == BPF_PERF_EVENT_DATA.size == 184
    assert ctx_size(P.RAW_TRACEPOINT) == 96 and ctx_size(P.TRACEPOINT) == 8192
    assert ctx_size(P.CGROUP_SOCK_ADDR) == 72 and ctx_size(P.SOCK_OPS) == 224
    assert ctx_size(P.UNSPEC) == 0 and ctx_layout(P.EXT) is None
    layout = ctx_layout(P.PERF_EVENT)
    assert layout is not None and layout.offset("sample_period") == 168
    assert PT_REGS_X86_64.offset("di") == 112 and PT_REGS_X86_64.offset("ip") == 128
    for prog_type in SUPPORTED_PROG_TYPES:
        assert ctx_layout(prog_type) is not None, prog_type


def test_plain_memory_contexts() -> None:
    assert ctx_is_plain_memory(P.RAW_TRACEPOINT) and ctx_is_plain_memory(P.SYSCALL)
    assert ctx_is_plain_memory(P.KPROBE)
    assert not ctx_is_plain_memory(P.SCHED_CLS) and not ctx_is_plain_memory(P.PERF_EVENT)
    assert P.XDP not in CTX_IS_PLAIN_MEMORY


def test_bad_arguments() -> None:
    assert is_valid_access(P.SCHED_CLS, 8, 3, "read") is None
    assert is_valid_access(P.SCHED_CLS, 8, 0, "read") is None
    assert is_valid_access(P.UNSPEC, 0, 4, "read") is None
    assert is_valid_access(999, 0, 4, "read") is None
