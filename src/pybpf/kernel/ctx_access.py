"""Which loads and stores a program may make through its context pointer.

Each program type's verifier ops carry an ``is_valid_access`` callback: given an offset
into the context, an access size and read/write, it says yes or no (``invalid
bpf_context access off=76 size=2``), what register type a load produces (a packet
pointer for ``__sk_buff.data``, a nullable socket for ``__sk_buff.sk``...), and the
field size a narrower load must be widened to (``ctx_field_size``).  This module
reproduces those callbacks for Linux 6.18 as :func:`is_valid_access`, with the context
layouts they work on (:func:`ctx_layout`, :func:`ctx_size`).

Tracing, LSM and struct_ops contexts are the traced function's arguments, one u64 each;
what a load yields depends on the function's BTF signature, which the caller describes
with :class:`BtfFuncSig` (no BTF parsing here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from .context import BPF_SOCK, SK_BUFF, XDP_MD, CtxField, CtxLayout
from .progtypes import AttachType, ProgType
from .regtypes import (
    PTR_TO_SOCK_COMMON_OR_NULL,
    PTR_TO_SOCKET_OR_NULL,
    RegType,
    TypeFlag,
)

Access = Literal["read", "write"]

PERF_MAX_TRACE_SIZE = 8192
"""Tracepoint records: the context is the raw record, readable from byte 8 up to here
(6.18; it was 2048 before)."""
MAX_BPF_FUNC_ARGS = 12
MAX_BPF_FUNC_REG_ARGS = 5
SYSCALL_CTX_MAX = 0xFFFF
"""``syscall`` programs may touch ctx bytes below U16_MAX (the buffer passed in)."""


def _layout(name: str, size: int, spec: list[tuple[str, int, int]]) -> CtxLayout:
    return CtxLayout(name, size, tuple(CtxField(n, off, sz) for n, off, sz in spec))


PT_REGS_X86_64 = _layout("pt_regs", 168, [
    ("r15", 0, 8), ("r14", 8, 8), ("r13", 16, 8), ("r12", 24, 8), ("bp", 32, 8),
    ("bx", 40, 8), ("r11", 48, 8), ("r10", 56, 8), ("r9", 64, 8), ("r8", 72, 8),
    ("ax", 80, 8), ("cx", 88, 8), ("dx", 96, 8), ("si", 104, 8), ("di", 112, 8),
    ("orig_ax", 120, 8), ("ip", 128, 8), ("cs", 136, 8), ("flags", 144, 8), ("sp", 152, 8),
    ("ss", 160, 8),
])  # fmt: skip
"""``struct pt_regs`` on x86-64: the kprobe context."""

BPF_PERF_EVENT_DATA = _layout("bpf_perf_event_data", 184, [
    ("regs", 0, 168), ("sample_period", 168, 8), ("addr", 176, 8),
])  # fmt: skip

BPF_RAW_TRACEPOINT_ARGS = _layout(
    "bpf_raw_tracepoint_args", 8 * MAX_BPF_FUNC_ARGS,
    [(f"args[{i}]", 8 * i, 8) for i in range(MAX_BPF_FUNC_ARGS)],
)  # fmt: skip
"""``u64 args[]``: raw tracepoints (and, per argument, tracing programs) read up to
:data:`MAX_BPF_FUNC_ARGS` of them."""

BPF_SOCK_ADDR = _layout("bpf_sock_addr", 72, [
    ("user_family", 0, 4), ("user_ip4", 4, 4), ("user_ip6", 8, 16), ("user_port", 24, 4),
    ("family", 28, 4), ("type", 32, 4), ("protocol", 36, 4), ("msg_src_ip4", 40, 4),
    ("msg_src_ip6", 44, 16), ("sk", 64, 8),
])  # fmt: skip

BPF_SOCK_OPS = _layout("bpf_sock_ops", 224, [
    ("op", 0, 4), ("reply", 4, 16), ("family", 20, 4), ("remote_ip4", 24, 4),
    ("local_ip4", 28, 4), ("remote_ip6", 32, 16), ("local_ip6", 48, 16),
    ("remote_port", 64, 4), ("local_port", 68, 4), ("is_fullsock", 72, 4),
    ("snd_cwnd", 76, 4), ("srtt_us", 80, 4), ("bpf_sock_ops_cb_flags", 84, 4),
    ("state", 88, 4), ("rtt_min", 92, 4), ("snd_ssthresh", 96, 4), ("rcv_nxt", 100, 4),
    ("snd_nxt", 104, 4), ("snd_una", 108, 4), ("mss_cache", 112, 4), ("ecn_flags", 116, 4),
    ("rate_delivered", 120, 4), ("rate_interval_us", 124, 4), ("packets_out", 128, 4),
    ("retrans_out", 132, 4), ("total_retrans", 136, 4), ("segs_in", 140, 4),
    ("data_segs_in", 144, 4), ("segs_out", 148, 4), ("data_segs_out", 152, 4),
    ("lost_out", 156, 4), ("sacked_out", 160, 4), ("sk_txhash", 164, 4),
    ("bytes_received", 168, 8), ("bytes_acked", 176, 8), ("sk", 184, 8),
    ("skb_data", 192, 8), ("skb_data_end", 200, 8), ("skb_len", 208, 4),
    ("skb_tcp_flags", 212, 4), ("skb_hwtstamp", 216, 8),
])  # fmt: skip
"""``reply`` stands for the 16-byte union ``args[4]``/``reply``/``replylong[4]``."""

SK_MSG_MD = _layout("sk_msg_md", 80, [
    ("data", 0, 8), ("data_end", 8, 8), ("family", 16, 4), ("remote_ip4", 20, 4),
    ("local_ip4", 24, 4), ("remote_ip6", 28, 16), ("local_ip6", 44, 16),
    ("remote_port", 60, 4), ("local_port", 64, 4), ("size", 68, 4), ("sk", 72, 8),
])  # fmt: skip

SK_REUSEPORT_MD = _layout("sk_reuseport_md", 56, [
    ("data", 0, 8), ("data_end", 8, 8), ("len", 16, 4), ("eth_protocol", 20, 4),
    ("ip_protocol", 24, 4), ("bind_inany", 28, 4), ("hash", 32, 4), ("sk", 40, 8),
    ("migrating_sk", 48, 8),
])  # fmt: skip

BPF_SK_LOOKUP = _layout("bpf_sk_lookup", 72, [
    ("sk", 0, 8), ("family", 8, 4), ("protocol", 12, 4), ("remote_ip4", 16, 4),
    ("remote_ip6", 20, 16), ("remote_port", 36, 2), ("local_ip4", 40, 4),
    ("local_ip6", 44, 16), ("local_port", 60, 4), ("ingress_ifindex", 64, 4),
])  # fmt: skip
"""``sk`` shares its 8 bytes with ``cookie``; bytes 38-39 are zero padding."""

BPF_SYSCTL = _layout("bpf_sysctl", 8, [("write", 0, 4), ("file_pos", 4, 4)])

BPF_SOCKOPT = _layout("bpf_sockopt", 40, [
    ("sk", 0, 8), ("optval", 8, 8), ("optval_end", 16, 8), ("level", 24, 4),
    ("optname", 28, 4), ("optlen", 32, 4), ("retval", 36, 4),
])  # fmt: skip

BPF_CGROUP_DEV_CTX = _layout("bpf_cgroup_dev_ctx", 12, [
    ("access_type", 0, 4), ("major", 4, 4), ("minor", 8, 4),
])  # fmt: skip

BPF_NF_CTX = _layout("bpf_nf_ctx", 16, [("state", 0, 8), ("skb", 8, 8)])

BPF_FLOW_KEYS = _layout("bpf_flow_keys", 56, [
    ("nhoff", 0, 2), ("thoff", 2, 2), ("addr_proto", 4, 2), ("is_frag", 6, 1),
    ("is_first_frag", 7, 1), ("is_encap", 8, 1), ("ip_proto", 9, 1), ("n_proto", 10, 2),
    ("sport", 12, 2), ("dport", 14, 2), ("addrs", 16, 32), ("flags", 48, 4),
    ("flow_label", 52, 4),
])  # fmt: skip
"""What ``__sk_buff.flow_keys`` points to in flow dissector programs
(``PTR_TO_FLOW_KEYS``; the verifier bounds accesses by this size)."""

FLOW_KEYS_SIZE = BPF_FLOW_KEYS.size

BPF_TCP_SOCK = _layout("bpf_tcp_sock", 112, [
    ("snd_cwnd", 0, 4), ("srtt_us", 4, 4), ("rtt_min", 8, 4), ("snd_ssthresh", 12, 4),
    ("rcv_nxt", 16, 4), ("snd_nxt", 20, 4), ("snd_una", 24, 4), ("mss_cache", 28, 4),
    ("ecn_flags", 32, 4), ("rate_delivered", 36, 4), ("rate_interval_us", 40, 4),
    ("packets_out", 44, 4), ("retrans_out", 48, 4), ("total_retrans", 52, 4),
    ("segs_in", 56, 4), ("data_segs_in", 60, 4), ("segs_out", 64, 4),
    ("data_segs_out", 68, 4), ("lost_out", 72, 4), ("sacked_out", 76, 4),
    ("bytes_received", 80, 8), ("bytes_acked", 88, 8), ("dsack_dups", 96, 4),
    ("delivered", 100, 4), ("delivered_ce", 104, 4), ("icsk_retransmits", 108, 4),
])  # fmt: skip
"""What a ``PTR_TO_TCP_SOCK`` (from ``bpf_tcp_sock``) lets a program read."""

BPF_XDP_SOCK = _layout("bpf_xdp_sock", 4, [("queue_id", 0, 4)])

SYSCALL_CTX = _layout("syscall ctx", SYSCALL_CTX_MAX, [])
TRACEPOINT_CTX = _layout("tracepoint record", PERF_MAX_TRACE_SIZE, [])


@dataclass(frozen=True)
class CtxAccess:
    """An access the kernel accepts, and what it implies.

    ``reg_type`` is the register type a load produces (``SCALAR_VALUE`` unless the field
    holds a pointer; with ``btf_type`` naming the struct of a ``PTR_TO_BTF_ID``).  A
    non-zero ``ctx_field_size`` makes the field a narrow-load candidate: a smaller read is
    rewritten into a load of that many bytes plus a shift and mask.  ``is_retval`` marks a
    read of an LSM hook's return value.
    """

    off: int
    size: int
    reg_type: int = RegType.SCALAR_VALUE
    ctx_field_size: int = 0
    btf_type: str | None = None
    is_retval: bool = False
    btf_id: int = 0

    @property
    def narrow_ok(self) -> bool:
        """The field allows loads narrower than its ctx field size."""
        return self.ctx_field_size != 0

    @property
    def narrow_load(self) -> bool:
        """This access is narrower than the field and will be widened."""
        return self.ctx_field_size != 0 and self.size < self.ctx_field_size


@dataclass
class _Info:
    """The ``bpf_insn_access_aux`` the callbacks fill in."""

    is_ldsx: bool = False
    reg_type: int = RegType.SCALAR_VALUE
    ctx_field_size: int = 0
    btf_type: str | None = None
    is_retval: bool = False
    btf_id: int = 0
    log: list[str] | None = None

    def note(self, line: str) -> None:
        """A line ``btf_ctx_access`` writes to the verifier log."""
        if self.log is not None:
            self.log.append(line)


def _narrow_ok(size: int, size_default: int) -> bool:
    """``bpf_ctx_narrow_access_ok``: a power of two no larger than the field."""
    return size <= size_default and size & (size - 1) == 0


def _wide_ok(off: int, size: int, f: CtxField) -> bool:
    """``bpf_ctx_wide_access_ok``: an aligned 8-byte access inside an array field."""
    return size == 8 and f.offset <= off and off + 8 <= f.end and off % 8 == 0


def _within(off: int, first: CtxField, last: CtxField | None = None) -> bool:
    return first.offset <= off < (last or first).end


# --- __sk_buff ------------------------------------------------------------------------

_SKB = SK_BUFF


def _skb(name: str) -> CtxField:
    return _SKB.field(name)


def _cb(off: int) -> bool:
    return _within(off, _skb("cb"))


def _skb_common(off: int, size: int, write: bool, info: _Info) -> bool:
    """``bpf_skb_is_valid_access``: the rules every ``__sk_buff`` user shares."""
    if off < 0 or off >= _SKB.size or off % size:
        return False
    if _cb(off):
        return off + size <= _skb("cb").end
    if any(_within(off, _skb(n)) for n in ("data", "data_meta", "data_end")):
        return not info.is_ldsx and size == 4
    if _within(off, _skb("remote_ip4"), _skb("local_ip6")):
        return size == 4
    if _within(off, _skb("flow_keys")):
        return False
    if _within(off, _skb("hwtstamp")):
        return not write and size == 8
    if _within(off, _skb("tstamp")):
        return size == 8
    if _within(off, _skb("sk")):
        if write or size != 8:
            return False
        info.reg_type = PTR_TO_SOCK_COMMON_OR_NULL
        return True
    if off == _skb("tstamp_type").offset:
        return False
    if _skb("tstamp_type").end <= off < _skb("hwtstamp").offset:
        return False  # padding
    if write:
        return size == 4
    info.ctx_field_size = 4
    return _narrow_ok(size, 4)


def _skb_excluded(off: int, names: tuple[str, ...]) -> bool:
    for name in names:
        if name == "family..local_port":
            if _within(off, _skb("family"), _skb("local_port")):
                return True
        elif _within(off, _skb(name)):
            return True
    return False


def _writable(off: int, names: tuple[str, ...]) -> bool:
    return any(_within(off, _skb(n)) for n in names)


def _pkt_reg_types(off: int, info: _Info, meta: bool = False) -> None:
    if _within(off, _skb("data")):
        info.reg_type = RegType.PTR_TO_PACKET
    elif _within(off, _skb("data_end")):
        info.reg_type = RegType.PTR_TO_PACKET_END
    elif meta and _within(off, _skb("data_meta")):
        info.reg_type = RegType.PTR_TO_PACKET_META


def _sk_filter(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    excluded = ("tc_classid", "data", "data_meta", "data_end", "family..local_port", "tstamp",
                "wire_len", "hwtstamp")  # fmt: skip
    if _skb_excluded(off, excluded):
        return False
    if write and not _cb(off):
        return False
    return _skb_common(off, size, write, info)


def _cg_skb(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    if _skb_excluded(off, ("tc_classid", "data_meta", "wire_len")):
        return False
    if _skb_excluded(off, ("data", "data_end")) and not p.cap_bpf:
        return False
    if write:
        if _within(off, _skb("tstamp")):
            if not p.cap_bpf:
                return False
        elif not _writable(off, ("mark", "priority", "cb")):
            return False
    _pkt_reg_types(off, info)
    return _skb_common(off, size, write, info)


def _lwt(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    excluded = ("tc_classid", "family..local_port", "data_meta", "tstamp", "wire_len",
                "hwtstamp")  # fmt: skip
    if _skb_excluded(off, excluded):
        return False
    if write and not _writable(off, ("mark", "priority", "cb")):
        return False
    _pkt_reg_types(off, info)
    return _skb_common(off, size, write, info)


def _tc_cls_act(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    tc_writable = ("mark", "tc_index", "priority", "tc_classid", "cb", "tstamp",
                   "queue_mapping")  # fmt: skip
    if write and not _writable(off, tc_writable):
        return False
    _pkt_reg_types(off, info, meta=True)
    if _skb_excluded(off, ("family..local_port",)):
        return False
    if off == _skb("tstamp_type").offset:
        return size == 1
    return _skb_common(off, size, write, info)


def _sk_skb(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    if _skb_excluded(off, ("tc_classid", "data_meta", "tstamp", "wire_len", "hwtstamp")):
        return False
    if write and not _writable(off, ("tc_index", "priority")):
        return False
    if _within(off, _skb("mark")):
        return False
    _pkt_reg_types(off, info)
    return _skb_common(off, size, write, info)


def _flow_dissector(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    if off < 0 or off >= _SKB.size or off % size or write:
        return False
    if _within(off, _skb("data")) or _within(off, _skb("data_end")):
        if info.is_ldsx or size != 4:
            return False
        _pkt_reg_types(off, info)
        return True
    if _within(off, _skb("flow_keys")):
        if size != 8:
            return False
        info.reg_type = RegType.PTR_TO_FLOW_KEYS
        return True
    return False


# --- xdp_md -----------------------------------------------------------------------------


def _xdp(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    xdp = XDP_MD
    if p.attach_type != AttachType.XDP_DEVMAP and off == xdp.offset("egress_ifindex"):
        return False
    pointers = (xdp.offset("data"), xdp.offset("data_meta"), xdp.offset("data_end"))
    if write:
        if p.offloaded and off == xdp.offset("rx_queue_index"):
            return 0 <= off < xdp.size and off % size == 0 and size == 4
        return False
    if off in pointers and info.is_ldsx:
        return False
    if off == xdp.offset("data"):
        info.reg_type = RegType.PTR_TO_PACKET
    elif off == xdp.offset("data_meta"):
        info.reg_type = RegType.PTR_TO_PACKET_META
    elif off == xdp.offset("data_end"):
        info.reg_type = RegType.PTR_TO_PACKET_END
    return 0 <= off < xdp.size and off % size == 0 and size == 4


# --- bpf_sock (cgroup_sock) ------------------------------------------------------------


def _sock_fields_ok(off: int, size: int, info: _Info) -> bool:
    """``bpf_sock_is_valid_access``: also the rule for ``PTR_TO_SOCKET`` loads."""
    s = BPF_SOCK
    if off < 0 or off >= s.size or off % size:
        return False
    narrow = ("state", "family", "type", "protocol", "src_port", "rx_queue_mapping")
    if off in (s.offset(n) for n in narrow) or any(
        _within(off, s.field(n)) for n in ("src_ip4", "src_ip6", "dst_ip4", "dst_ip6")
    ):
        info.ctx_field_size = 4
        return _narrow_ok(size, 4)
    dst_port = s.offset("dst_port")  # a __be16 followed by two bytes of padding
    if dst_port <= off < dst_port + 2:
        field_size = 4 if size == 4 else 2
        info.ctx_field_size = field_size
        return _narrow_ok(size, field_size)
    if dst_port + 2 <= off < s.offset("dst_ip4"):
        return False
    return size == 4


def _sock_attach_ok(off: int, write: bool, attach: int) -> bool:
    """``__sock_filter_check_attach_type``."""
    s = BPF_SOCK
    if off in (s.offset("bound_dev_if"), s.offset("mark"), s.offset("priority")):
        return attach in (AttachType.CGROUP_INET_SOCK_CREATE,
                          AttachType.CGROUP_INET_SOCK_RELEASE)  # fmt: skip
    if _within(off, s.field("src_ip4")):
        if attach != AttachType.CGROUP_INET4_POST_BIND:
            return False
    elif _within(off, s.field("src_ip6")):
        if attach != AttachType.CGROUP_INET6_POST_BIND:
            return False
    elif _within(off, s.field("src_port")) and attach not in (
        AttachType.CGROUP_INET4_POST_BIND,
        AttachType.CGROUP_INET6_POST_BIND,
    ):
        return False
    return not write


def _cg_sock(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    if not _sock_fields_ok(off, size, info):
        return False
    return _sock_attach_ok(off, write, p.attach_type)


# --- bpf_sock_addr ---------------------------------------------------------------------

_V4_ATTACH = frozenset({
    AttachType.CGROUP_INET4_BIND, AttachType.CGROUP_INET4_CONNECT,
    AttachType.CGROUP_INET4_GETPEERNAME, AttachType.CGROUP_INET4_GETSOCKNAME,
    AttachType.CGROUP_UDP4_SENDMSG, AttachType.CGROUP_UDP4_RECVMSG,
})  # fmt: skip
_V6_ATTACH = frozenset({
    AttachType.CGROUP_INET6_BIND, AttachType.CGROUP_INET6_CONNECT,
    AttachType.CGROUP_INET6_GETPEERNAME, AttachType.CGROUP_INET6_GETSOCKNAME,
    AttachType.CGROUP_UDP6_SENDMSG, AttachType.CGROUP_UDP6_RECVMSG,
})  # fmt: skip


def _sock_addr(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    s = BPF_SOCK_ADDR
    if off < 0 or off >= s.size or off % size:
        return False
    at = p.attach_type
    ip6, src6 = s.field("user_ip6"), s.field("msg_src_ip6")
    if _within(off, s.field("user_ip4")) and at not in _V4_ATTACH:
        return False
    if _within(off, ip6) and at not in _V6_ATTACH:
        return False
    if _within(off, s.field("msg_src_ip4")) and at != AttachType.CGROUP_UDP4_SENDMSG:
        return False
    if _within(off, src6) and at != AttachType.CGROUP_UDP6_SENDMSG:
        return False
    addr_fields = ("user_ip4", "user_ip6", "msg_src_ip4", "msg_src_ip6", "user_port")
    if any(_within(off, s.field(n)) for n in addr_fields):
        if _wide_ok(off, size, ip6) or _wide_ok(off, size, src6):
            if not write:
                info.ctx_field_size = 4
            return True
        if write:
            return size == 4
        info.ctx_field_size = 4
        return _narrow_ok(size, 4)
    if _within(off, s.field("sk")):
        if write or size != 8:
            return False
        info.reg_type = RegType.PTR_TO_SOCKET
        return True
    if any(_within(off, s.field(n)) for n in ("user_family", "family", "type", "protocol")):
        return not write and size == 4
    return False


# --- bpf_sock_ops ----------------------------------------------------------------------


def _sock_ops(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    s = BPF_SOCK_OPS
    if off < 0 or off >= s.size or off % size:
        return False
    if write:
        return off in (s.offset("reply"), s.offset("sk_txhash")) and size == 4
    if _within(off, s.field("bytes_received"), s.field("bytes_acked")):
        return size == 8
    pointers: dict[str, int] = {"sk": PTR_TO_SOCKET_OR_NULL, "skb_data": RegType.PTR_TO_PACKET,
                                "skb_data_end": RegType.PTR_TO_PACKET_END}  # fmt: skip
    for name, reg_type in pointers.items():
        if _within(off, s.field(name)):
            if size != 8:
                return False
            info.reg_type = reg_type
            return True
    if off == s.offset("skb_tcp_flags"):
        info.ctx_field_size = 4
        return _narrow_ok(size, 4)
    if _within(off, s.field("skb_hwtstamp")):
        return size == 8
    return size == 4


# --- sk_msg_md, sk_reuseport_md, bpf_sk_lookup ---------------------------------------


def _sk_msg(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    s = SK_MSG_MD
    if write or off % size:
        return False
    pointers = {"data": RegType.PTR_TO_PACKET, "data_end": RegType.PTR_TO_PACKET_END,
                "sk": RegType.PTR_TO_SOCKET}  # fmt: skip
    for name, reg_type in pointers.items():
        if _within(off, s.field(name)):
            info.reg_type = reg_type
            return size == 8
    words = ("family", "remote_ip4", "local_ip4", "remote_ip6", "local_ip6", "remote_port",
             "local_port", "size")  # fmt: skip
    if any(_within(off, s.field(n)) for n in words):
        return size == 4
    return False


def _sk_reuseport(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    s = SK_REUSEPORT_MD
    if off < 0 or off >= s.size or off % size or write:
        return False
    pointers: dict[str, int] = {
        "data": RegType.PTR_TO_PACKET,
        "data_end": RegType.PTR_TO_PACKET_END,
        "sk": RegType.PTR_TO_SOCKET,
        "migrating_sk": PTR_TO_SOCK_COMMON_OR_NULL,
    }
    for name, reg_type in pointers.items():
        if off == s.offset(name):
            info.reg_type = reg_type
            return size == 8
    if off == s.offset("hash"):
        return size == 4
    if _within(off, s.field("eth_protocol")) and size < 2:
        return False  # sk_buff.protocol is a u16: no single-byte reads
    if any(_within(off, s.field(n)) for n in ("eth_protocol", "ip_protocol", "bind_inany",
                                               "len")):  # fmt: skip
        info.ctx_field_size = 4
        return _narrow_ok(size, 4)
    return False


def _sk_lookup(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    s = BPF_SK_LOOKUP
    if off < 0 or off >= s.size or off % size or write:
        return False
    if _within(off, s.field("sk")):
        info.reg_type = PTR_TO_SOCKET_OR_NULL
        return size == 8
    words = ("family", "protocol", "remote_ip4", "local_ip4", "remote_ip6", "local_ip6",
             "local_port", "ingress_ifindex")  # fmt: skip
    if any(_within(off, s.field(n)) for n in words):
        info.ctx_field_size = 4
        return _narrow_ok(size, 4)
    if _within(off, s.field("remote_port")):
        if size == 4:
            return True  # the 2-byte port may be read as a u32, for compatibility
        info.ctx_field_size = 2
        return _narrow_ok(size, 2)
    if s.field("remote_port").end <= off < s.offset("local_ip4"):
        info.ctx_field_size = 2  # the zero padding after remote_port
        return _narrow_ok(size, 2)
    return False


# --- cgroup hooks without packets ------------------------------------------------------


def _cgroup_dev(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    s = BPF_CGROUP_DEV_CTX
    if write or off < 0 or off + size > s.size or off % size:
        return False
    if _within(off, s.field("access_type")):
        info.ctx_field_size = 4
        return _narrow_ok(size, 4)
    return size == 4


def _sysctl(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    s = BPF_SYSCTL
    if off < 0 or off + size > s.size or off % size:
        return False
    if _within(off, s.field("write")):
        if write:
            return False
        info.ctx_field_size = 4
        return _narrow_ok(size, 4)
    if _within(off, s.field("file_pos")):
        if write:
            return size == 4
        info.ctx_field_size = 4
        return _narrow_ok(size, 4)
    return False


def _sockopt(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    s = BPF_SOCKOPT
    if off < 0 or off >= s.size or off % size:
        return False
    get = p.attach_type == AttachType.CGROUP_GETSOCKOPT
    set_ = p.attach_type == AttachType.CGROUP_SETSOCKOPT
    if write:
        if off == s.offset("retval"):
            return size == 4 and get
        if off in (s.offset("optname"), s.offset("level")):
            return size == 4 and set_
        if off == s.offset("optlen"):
            return size == 4
        return False
    pointers = {"sk": RegType.PTR_TO_SOCKET, "optval": RegType.PTR_TO_PACKET,
                "optval_end": RegType.PTR_TO_PACKET_END}  # fmt: skip
    for name, reg_type in pointers.items():
        if _within(off, s.field(name)):
            if size != 8:
                return False
            info.reg_type = reg_type
            return True
    if _within(off, s.field("retval")):
        return size == 4 and get
    return size == 4


def _netfilter(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    s = BPF_NF_CTX
    if off < 0 or off >= s.size or write or off % size:
        return False
    for name, struct in (("skb", "sk_buff"), ("state", "nf_hook_state")):
        if _within(off, s.field(name)):
            if size != 8:
                return False
            info.reg_type = RegType.PTR_TO_BTF_ID | TypeFlag.PTR_TRUSTED
            info.btf_type = struct
            return True
    return False


# --- tracing ---------------------------------------------------------------------------


def _kprobe(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    regs = PT_REGS_X86_64.size
    return 0 <= off < regs and not write and off % size == 0 and off + size <= regs


def _tracepoint(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    # The kernel compares the offset with sizeof(void *) as an unsigned number, so the
    # lower bound lets every negative offset through (measured on 6.18).
    if 0 <= off < 8 or off >= PERF_MAX_TRACE_SIZE:
        return False
    return not write and off % size == 0


def _perf_event(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    s = BPF_PERF_EVENT_DATA
    if off < 0 or off >= s.size or write or off % size:
        return False
    if _within(off, s.field("sample_period")) or _within(off, s.field("addr")):
        info.ctx_field_size = 8
        return _narrow_ok(size, 8)
    return size == 8


def _tracing_ctx_ok(off: int, size: int, write: bool) -> bool:
    """``bpf_tracing_ctx_access``: raw tracepoint arguments."""
    return 0 <= off < 8 * MAX_BPF_FUNC_ARGS and not write and off % size == 0


def _raw_tp(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    return _tracing_ctx_ok(off, size, write)


def _raw_tp_writable(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    if off == 0:
        if size != 8 or write:
            return False
        info.reg_type = RegType.PTR_TO_TP_BUFFER
    return _tracing_ctx_ok(off, size, write)


def _syscall(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    return 0 <= off < SYSCALL_CTX_MAX and off % size == 0


class BtfArgKind(Enum):
    """How ``btf_ctx_access`` sees one argument of the traced function."""

    SCALAR = "scalar"
    """An integer, enum or struct passed by value: read as a scalar."""
    STRUCT_PTR = "struct_ptr"
    """A pointer to a struct: read as ``PTR_TO_BTF_ID`` of that struct."""
    VOID_PTR = "void_ptr"
    INT_PTR = "int_ptr"
    """A pointer to an integer (or an array of them): read as a scalar."""
    NOT_STRUCT_PTR = "not_struct_ptr"
    """A pointer to something other than a struct, an integer or void (a pointer to a
    pointer, an enum, a forward declaration...): refused."""
    OTHER = "other"
    """Anything else that is not a pointer (a float, a union by value...): refused."""


@dataclass(frozen=True)
class BtfArg:
    kind: BtfArgKind
    struct: str | None = None
    """The struct's name for ``STRUCT_PTR``."""
    nullable: bool = False
    """The parameter's name ends in ``__nullable``, or it may be NULL by the kernel's
    list of raw tracepoints: the load is ``PTR_MAYBE_NULL``."""
    tag: str | None = None
    """A ``btf_type_tag`` on the pointer: ``user`` or ``percpu``."""
    reg_type: int | None = None
    """An explicit register type the attach target declares for this argument
    (``ctx_arg_info`` of iterators: e.g. a nullable trusted task pointer)."""
    slots: int = 1
    """How many u64 context slots the argument takes (a struct passed by value may
    take two)."""
    btf_id: int = 0
    """The pointed-to struct's id in the kernel BTF, where known."""
    type_str: str = ""
    """The kernel's name for the BTF kind the log names (``STRUCT``, ``PTR``, ``FWD``
    ...): the argument's type for ``OTHER``, the pointee's for ``NOT_STRUCT_PTR``."""
    type_name: str = ""
    """That type's name (empty for anonymous types), for ``OTHER``."""


@dataclass(frozen=True)
class BtfFuncSig:
    """The signature a tracing, LSM or struct_ops program is attached to (for a
    ``tp_btf`` program: the tracepoint's arguments without the leading ``void *``)."""

    name: str
    args: tuple[BtfArg, ...]
    ret: BtfArg | None = None
    """None for a void function."""
    from_module: bool = False
    nullable_args: frozenset[int] = field(default_factory=frozenset)
    err_args: frozenset[int] = field(default_factory=frozenset)
    """Tracepoint arguments that may hold an error code instead of a pointer: they load
    as scalars (after the pointer checks)."""
    proto_slots: tuple[int, ...] = ()
    """The context slots of every parameter of the attach prototype, as
    ``get_ctx_arg_idx`` counts them (for a ``tp_btf`` program: with the leading
    ``void *``); empty: one slot per argument."""
    args_trusted: bool = False
    """The arguments are trusted pointers (an LSM hook outside the kernel's list of
    hooks whose arguments may be freed or half built)."""

    @property
    def ret_slots(self) -> int:
        return self.ret.slots if self.ret is not None else 0

    def arg_index(self, off: int) -> int:
        """``get_ctx_arg_idx``: the parameter the slot at ``off`` belongs to; one past the
        parameters for the return value, two past for anything beyond."""
        end = 0
        sizes = self.proto_slots or tuple(a.slots for a in self.args)
        for i, n in enumerate(sizes):
            end += 8 * n
            if off < end:
                return i
        end += 8 * self.ret_slots
        return len(sizes) if off < end else len(sizes) + 1


def _args_trusted(p: _Ctx) -> bool:
    """``prog_args_trusted``."""
    if p.prog_type == ProgType.TRACING:
        return p.attach_type in (AttachType.TRACE_RAW_TP, AttachType.TRACE_ITER)
    if p.prog_type == ProgType.LSM:
        return p.lsm_trusted or (p.func_sig is not None and p.func_sig.args_trusted)
    return p.prog_type == ProgType.STRUCT_OPS


_RET_ATTACH = (AttachType.LSM_MAC, AttachType.LSM_CGROUP, AttachType.TRACE_FEXIT)


def _btf_ctx(off: int, size: int, write: bool, info: _Info, p: _Ctx) -> bool:
    """``bpf_tracing_btf_ctx_access`` / ``btf_ctx_access``."""
    if not _tracing_ctx_ok(off, size, write):
        return False
    sig = p.func_sig
    tname = sig.name if sig is not None else ""
    if off % 8:
        info.note(f"func '{tname}' offset {off} is not multiple of 8")
        return False
    arg = sig.arg_index(off) if sig is not None else off // 8
    nargs = len(sig.args) if sig else MAX_BPF_FUNC_REG_ARGS
    if arg > nargs:
        info.note(f"func '{tname}' doesn't have {arg + 1}-th argument")
        return False
    at = p.attach_type
    if arg == nargs:
        if at == AttachType.LSM_MAC:
            info.is_retval = True
        if at in _RET_ATTACH:
            if sig is None:
                return True
            t = sig.ret or BtfArg(BtfArgKind.OTHER, slots=0, type_str="UNKNOWN")
        elif at == AttachType.MODIFY_RETURN:
            if sig is None:
                return False
            if (
                sig.ret is None
                or sig.ret.kind != BtfArgKind.SCALAR
                or sig.ret.type_str not in ("", "INT")
            ):
                r = sig.ret
                kind = ("UNKNOWN" if r is None else
                        r.type_str if r.kind in (BtfArgKind.SCALAR, BtfArgKind.OTHER) else "PTR")  # fmt: skip
                info.note(f"ret type {kind} not allowed for fmod_ret")
                return False
            t = sig.ret
        else:
            info.note(f"func '{tname}' doesn't have {arg + 1}-th argument")
            return False
    else:
        if sig is None:
            return True
        t = sig.args[arg]
    if t.kind == BtfArgKind.SCALAR:
        return True
    if t.kind == BtfArgKind.OTHER:
        info.note(f"func '{tname}' arg{arg} '{t.type_name}' has type {t.type_str}. "
                  "Only pointer access is allowed")  # fmt: skip
        return False
    if size != 8:
        info.note(f"func '{tname}' size {size} must be 8")
        return False
    if t.reg_type is not None and t.kind != BtfArgKind.STRUCT_PTR:
        info.reg_type = t.reg_type
        return True
    if t.kind in (BtfArgKind.VOID_PTR, BtfArgKind.INT_PTR):
        return True
    if t.reg_type is not None:
        info.reg_type = t.reg_type
        info.btf_type = t.struct
        info.btf_id = t.btf_id
        return True
    reg_type = int(RegType.PTR_TO_BTF_ID)
    if _args_trusted(p):
        reg_type |= TypeFlag.PTR_TRUSTED
    if t.nullable or arg in (sig.nullable_args if sig else ()):
        reg_type |= TypeFlag.PTR_MAYBE_NULL
    if at == AttachType.TRACE_RAW_TP and sig is not None and sig.from_module:
        reg_type |= TypeFlag.PTR_MAYBE_NULL
    if t.tag == "user":
        reg_type |= TypeFlag.MEM_USER
    elif t.tag == "percpu":
        reg_type |= TypeFlag.MEM_PERCPU
    if t.kind == BtfArgKind.NOT_STRUCT_PTR:
        info.note(f"func '{tname}' arg{arg} type {t.type_str} is not a struct")
        return False
    info.reg_type = reg_type
    info.btf_type = t.struct
    info.btf_id = t.btf_id
    if t.btf_id:
        info.note(
            f"func '{tname}' arg{arg} has btf_id {t.btf_id} type {t.type_str or 'STRUCT'} '{t.struct}'"
        )
    if sig is not None and arg in sig.err_args:
        info.note(f"marking pointer arg{arg} as scalar as it may encode error")
        info.reg_type = RegType.SCALAR_VALUE
    if p.prog_type == ProgType.STRUCT_OPS and t.struct == "sock" and p.struct_ops_tcp_ca:
        info.btf_type = "tcp_sock"  # the congestion-control ops see a tcp_sock
        info.btf_id = 0
    return True


# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ctx:
    prog_type: int
    attach_type: int
    cap_bpf: bool
    offloaded: bool
    func_sig: BtfFuncSig | None
    lsm_trusted: bool
    struct_ops_tcp_ca: bool


_Check = Callable[[int, int, bool, _Info, _Ctx], bool]

_CHECKS: dict[int, _Check] = {
    ProgType.SOCKET_FILTER: _sk_filter,
    ProgType.KPROBE: _kprobe,
    ProgType.SCHED_CLS: _tc_cls_act,
    ProgType.SCHED_ACT: _tc_cls_act,
    ProgType.TRACEPOINT: _tracepoint,
    ProgType.XDP: _xdp,
    ProgType.PERF_EVENT: _perf_event,
    ProgType.CGROUP_SKB: _cg_skb,
    ProgType.CGROUP_SOCK: _cg_sock,
    ProgType.LWT_IN: _lwt,
    ProgType.LWT_OUT: _lwt,
    ProgType.LWT_XMIT: _lwt,
    ProgType.LWT_SEG6LOCAL: _lwt,
    ProgType.SOCK_OPS: _sock_ops,
    ProgType.SK_SKB: _sk_skb,
    ProgType.CGROUP_DEVICE: _cgroup_dev,
    ProgType.SK_MSG: _sk_msg,
    ProgType.RAW_TRACEPOINT: _raw_tp,
    ProgType.CGROUP_SOCK_ADDR: _sock_addr,
    ProgType.SK_REUSEPORT: _sk_reuseport,
    ProgType.FLOW_DISSECTOR: _flow_dissector,
    ProgType.CGROUP_SYSCTL: _sysctl,
    ProgType.RAW_TRACEPOINT_WRITABLE: _raw_tp_writable,
    ProgType.CGROUP_SOCKOPT: _sockopt,
    ProgType.TRACING: _btf_ctx,
    ProgType.STRUCT_OPS: _btf_ctx,
    ProgType.LSM: _btf_ctx,
    ProgType.SK_LOOKUP: _sk_lookup,
    ProgType.SYSCALL: _syscall,
    ProgType.NETFILTER: _netfilter,
}

SUPPORTED_PROG_TYPES: frozenset[int] = frozenset(_CHECKS)


def is_valid_access(
    prog_type: int,
    off: int,
    size: int,
    access: Access,
    attach_type: int | None = None,
    privileged: bool = True,
    *,
    ldsx: bool = False,
    offloaded: bool = False,
    func_sig: BtfFuncSig | None = None,
    lsm_trusted: bool = False,
    struct_ops_tcp_ca: bool = True,
    log: list[str] | None = None,
) -> CtxAccess | None:
    """What the kernel's ``*_is_valid_access`` answers for a load (``read``) or store
    (``write``) of ``size`` bytes at ``off`` into the context: a :class:`CtxAccess`, or
    None for ``invalid bpf_context access off=OFF size=SIZE``.

    ``ldsx`` marks a sign-extending load (refused on packet pointers).  ``privileged``
    stands for ``CAP_BPF`` (cgroup_skb needs it for ``data``/``data_end`` and ``tstamp``
    writes).  Tracing, LSM and struct_ops programs need ``func_sig`` to type pointer
    arguments; without it every argument reads as a scalar, as for a BPF program target
    without BTF.  ``lsm_trusted`` says whether an LSM hook's arguments are trusted.
    ``log`` collects the lines the kernel writes to the verifier log while it decides
    (``func 'x' arg0 type PTR is not a struct``...).
    """
    check = _CHECKS.get(prog_type)
    if check is None or size not in (1, 2, 4, 8):
        return None
    info = _Info(is_ldsx=ldsx, log=log)
    ctx = _Ctx(int(prog_type), int(attach_type or 0), privileged, offloaded, func_sig,
               lsm_trusted, struct_ops_tcp_ca)  # fmt: skip
    if not check(off, size, access == "write", info, ctx):
        return None
    return CtxAccess(off, size, info.reg_type, info.ctx_field_size, info.btf_type,
                     info.is_retval, info.btf_id)  # fmt: skip


def sock_access_ok(reg_type: int, off: int, size: int, access: Access = "read") -> CtxAccess | None:
    """Loads through the socket pointer types (``check_sock_access``): ``bpf_sock`` fields
    for ``PTR_TO_SOCKET``, the subset ``sock_common`` has for ``PTR_TO_SOCK_COMMON``,
    ``bpf_tcp_sock`` and ``bpf_xdp_sock`` fields.  None means ``R1 invalid sock access
    off=OFF size=SIZE`` (writes are refused before this check: ``cannot write into``)."""
    if size not in (1, 2, 4, 8):
        return None
    info = _Info()
    t = int(reg_type) & ~int(TypeFlag.PTR_MAYBE_NULL)
    if t == RegType.PTR_TO_SOCKET:
        ok = _sock_fields_ok(off, size, info)
    elif t == RegType.PTR_TO_SOCK_COMMON:
        s = BPF_SOCK
        if s.offset("type") <= off < s.field("priority").end:
            return None
        ok = _sock_fields_ok(off, size, info)
    elif t == RegType.PTR_TO_TCP_SOCK:
        tcp = BPF_TCP_SOCK
        wide = _within(off, tcp.field("bytes_received"), tcp.field("bytes_acked"))
        ok = 0 <= off < tcp.size and off % size == 0 and size == (8 if wide else 4)
    elif t == RegType.PTR_TO_XDP_SOCK:
        ok = 0 <= off < BPF_XDP_SOCK.size and off % size == 0 and size == 4
    else:
        ok = False
    if not ok:
        return None
    return CtxAccess(off, size, RegType.SCALAR_VALUE, info.ctx_field_size)


def is_valid_flow_keys_access(off: int, size: int) -> bool:
    """Loads and stores through ``PTR_TO_FLOW_KEYS`` stay inside ``bpf_flow_keys``
    (``invalid access to flow keys off=%d size=%d`` otherwise)."""
    return off >= 0 and off + size <= BPF_FLOW_KEYS.size


_LAYOUTS: dict[int, CtxLayout] = {
    ProgType.SOCKET_FILTER: SK_BUFF, ProgType.SCHED_CLS: SK_BUFF, ProgType.SCHED_ACT: SK_BUFF,
    ProgType.CGROUP_SKB: SK_BUFF, ProgType.LWT_IN: SK_BUFF, ProgType.LWT_OUT: SK_BUFF,
    ProgType.LWT_XMIT: SK_BUFF, ProgType.LWT_SEG6LOCAL: SK_BUFF, ProgType.SK_SKB: SK_BUFF,
    ProgType.FLOW_DISSECTOR: SK_BUFF, ProgType.XDP: XDP_MD, ProgType.CGROUP_SOCK: BPF_SOCK,
    ProgType.CGROUP_SOCK_ADDR: BPF_SOCK_ADDR, ProgType.SOCK_OPS: BPF_SOCK_OPS,
    ProgType.SK_MSG: SK_MSG_MD, ProgType.SK_REUSEPORT: SK_REUSEPORT_MD,
    ProgType.SK_LOOKUP: BPF_SK_LOOKUP, ProgType.CGROUP_SYSCTL: BPF_SYSCTL,
    ProgType.CGROUP_SOCKOPT: BPF_SOCKOPT, ProgType.CGROUP_DEVICE: BPF_CGROUP_DEV_CTX,
    ProgType.KPROBE: PT_REGS_X86_64, ProgType.PERF_EVENT: BPF_PERF_EVENT_DATA,
    ProgType.TRACEPOINT: TRACEPOINT_CTX, ProgType.RAW_TRACEPOINT: BPF_RAW_TRACEPOINT_ARGS,
    ProgType.RAW_TRACEPOINT_WRITABLE: BPF_RAW_TRACEPOINT_ARGS,
    ProgType.TRACING: BPF_RAW_TRACEPOINT_ARGS, ProgType.LSM: BPF_RAW_TRACEPOINT_ARGS,
    ProgType.STRUCT_OPS: BPF_RAW_TRACEPOINT_ARGS, ProgType.SYSCALL: SYSCALL_CTX,
    ProgType.NETFILTER: BPF_NF_CTX,
}  # fmt: skip


def ctx_layout(prog_type: int, attach_type: int | None = None) -> CtxLayout | None:
    """The structure the program's ctx pointer points to, as the program sees it."""
    return _LAYOUTS.get(prog_type)


def ctx_size(prog_type: int, attach_type: int | None = None) -> int:
    """The bound ``is_valid_access`` puts on offsets (0 for unknown types)."""
    layout = _LAYOUTS.get(prog_type)
    return layout.size if layout else 0


CTX_IS_PLAIN_MEMORY: frozenset[int] = frozenset({
    ProgType.KPROBE, ProgType.TRACEPOINT, ProgType.RAW_TRACEPOINT,
    ProgType.RAW_TRACEPOINT_WRITABLE, ProgType.TRACING, ProgType.LSM, ProgType.STRUCT_OPS,
    ProgType.SYSCALL, ProgType.CGROUP_DEVICE, ProgType.NETFILTER,
})  # fmt: skip
"""Program types whose context is the memory passed in, read at the offsets the
program uses (their verifier ops have no ``convert_ctx_access``): register dumps,
tracepoint records, argument arrays, the device and netfilter structs and, for
``syscall`` programs, the user's buffer."""


def ctx_is_plain_memory(prog_type: int) -> bool:
    return prog_type in CTX_IS_PLAIN_MEMORY


def has_ctx_conversion(prog_type: int) -> bool:
    """The verifier rewrites this type's ctx loads and stores (``convert_ctx_access``):
    the program's view of the context is not the kernel's object."""
    return prog_type in _CHECKS and prog_type not in CTX_IS_PLAIN_MEMORY
