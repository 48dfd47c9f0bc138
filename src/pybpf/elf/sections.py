"""``SEC()`` names: which program type and expected attach type a section name means.

The table follows libbpf's conventions (libbpf 1.5, Linux 6.12).  A name ending in
``+`` matches the bare word or the word followed by ``/`` and anything (``kprobe`` and
``kprobe/do_sys_open``); a name ending in ``/`` matches any name with that prefix; every
other name must match exactly.  The first matching row wins, so the more specific
spellings come first.  A leading ``?`` (a program not loaded by default) is removed by
the caller before the lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag

from ..kernel.progtypes import AttachType as A
from ..kernel.progtypes import ProgType as P


class SecFlag(IntFlag):
    """What a section implies beyond the two types (libbpf's ``sec_def_flags``)."""

    NONE = 0
    EXP_ATTACH_OPT = 1
    ATTACHABLE = 2
    ATTACH_BTF = 4
    SLEEPABLE = 8
    XDP_FRAGS = 16
    USDT = 32


ATTACHABLE_OPT = SecFlag.ATTACHABLE | SecFlag.EXP_ATTACH_OPT

# Program flags (``prog_flags`` of BPF_PROG_LOAD) a section may imply.
BPF_F_SLEEPABLE = 1 << 4
BPF_F_XDP_HAS_FRAGS = 1 << 5


@dataclass(frozen=True)
class SecDef:
    pattern: str
    prog_type: P
    attach_type: A | None
    flags: SecFlag = SecFlag.NONE

    def matches(self, name: str) -> bool:
        pat = self.pattern
        if pat.endswith("/"):
            return name.startswith(pat)
        if pat.endswith("+"):
            word = pat[:-1]
            return name == word or name.startswith(word + "/")
        return name == pat

    @property
    def prog_flags(self) -> int:
        flags = BPF_F_SLEEPABLE if self.flags & SecFlag.SLEEPABLE else 0
        if self.prog_type == P.XDP and self.flags & SecFlag.XDP_FRAGS:
            flags |= BPF_F_XDP_HAS_FRAGS
        return flags

    @property
    def needs_btf_target(self) -> bool:
        """fentry/fexit/lsm/iter/tp_btf/freplace: the part after ``/`` names a kernel
        function or type, which the load resolves to ``attach_btf_id``."""
        return bool(self.flags & SecFlag.ATTACH_BTF)


_N, _ATT, _BTF, _SLP = SecFlag.NONE, SecFlag.ATTACHABLE, SecFlag.ATTACH_BTF, SecFlag.SLEEPABLE
_FRAGS, _OPT, _USDT = SecFlag.XDP_FRAGS, ATTACHABLE_OPT, SecFlag.USDT

SECTION_DEFS: tuple[SecDef, ...] = (
    SecDef("socket", P.SOCKET_FILTER, None),
    SecDef("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, _ATT),
    SecDef("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, _ATT),
    SecDef("kprobe+", P.KPROBE, None),
    SecDef("uprobe+", P.KPROBE, None),
    SecDef("uprobe.s+", P.KPROBE, None, _SLP),
    SecDef("kretprobe+", P.KPROBE, None),
    SecDef("uretprobe+", P.KPROBE, None),
    SecDef("uretprobe.s+", P.KPROBE, None, _SLP),
    SecDef("kprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI),
    SecDef("kretprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI),
    SecDef("kprobe.session+", P.KPROBE, A.TRACE_KPROBE_SESSION),
    SecDef("uprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI),
    SecDef("uretprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI),
    SecDef("uprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, _SLP),
    SecDef("uretprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, _SLP),
    SecDef("ksyscall+", P.KPROBE, None),
    SecDef("kretsyscall+", P.KPROBE, None),
    SecDef("usdt+", P.KPROBE, None, _USDT),
    SecDef("usdt.s+", P.KPROBE, None, _USDT | _SLP),
    SecDef("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS),
    SecDef("tc/egress", P.SCHED_CLS, A.TCX_EGRESS),
    SecDef("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS),
    SecDef("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS),
    SecDef("tc", P.SCHED_CLS, None),
    SecDef("classifier", P.SCHED_CLS, None),
    SecDef("action", P.SCHED_ACT, None),
    SecDef("netkit/primary", P.SCHED_CLS, A.NETKIT_PRIMARY),
    SecDef("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER),
    SecDef("tracepoint+", P.TRACEPOINT, None),
    SecDef("tp+", P.TRACEPOINT, None),
    SecDef("raw_tracepoint+", P.RAW_TRACEPOINT, None),
    SecDef("raw_tp+", P.RAW_TRACEPOINT, None),
    SecDef("raw_tracepoint.w+", P.RAW_TRACEPOINT_WRITABLE, None),
    SecDef("raw_tp.w+", P.RAW_TRACEPOINT_WRITABLE, None),
    SecDef("tp_btf+", P.TRACING, A.TRACE_RAW_TP, _BTF),
    SecDef("fentry+", P.TRACING, A.TRACE_FENTRY, _BTF),
    SecDef("fmod_ret+", P.TRACING, A.MODIFY_RETURN, _BTF),
    SecDef("fexit+", P.TRACING, A.TRACE_FEXIT, _BTF),
    SecDef("fentry.s+", P.TRACING, A.TRACE_FENTRY, _BTF | _SLP),
    SecDef("fmod_ret.s+", P.TRACING, A.MODIFY_RETURN, _BTF | _SLP),
    SecDef("fexit.s+", P.TRACING, A.TRACE_FEXIT, _BTF | _SLP),
    SecDef("freplace+", P.EXT, None, _BTF),
    SecDef("lsm+", P.LSM, A.LSM_MAC, _BTF),
    SecDef("lsm.s+", P.LSM, A.LSM_MAC, _BTF | _SLP),
    SecDef("lsm_cgroup+", P.LSM, A.LSM_CGROUP, _BTF),
    SecDef("iter+", P.TRACING, A.TRACE_ITER, _BTF),
    SecDef("iter.s+", P.TRACING, A.TRACE_ITER, _BTF | _SLP),
    SecDef("syscall", P.SYSCALL, None, _SLP),
    SecDef("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, _FRAGS),
    SecDef("xdp/devmap", P.XDP, A.XDP_DEVMAP, _ATT),
    SecDef("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, _FRAGS),
    SecDef("xdp/cpumap", P.XDP, A.XDP_CPUMAP, _ATT),
    SecDef("xdp.frags", P.XDP, A.XDP, _FRAGS),
    SecDef("xdp", P.XDP, A.XDP, _OPT),
    SecDef("perf_event", P.PERF_EVENT, None),
    SecDef("lwt_in", P.LWT_IN, None),
    SecDef("lwt_out", P.LWT_OUT, None),
    SecDef("lwt_xmit", P.LWT_XMIT, None),
    SecDef("lwt_seg6local", P.LWT_SEG6LOCAL, None),
    SecDef("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS, _OPT),
    SecDef("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER, _OPT),
    SecDef("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT, _OPT),
    SecDef("sk_skb/verdict", P.SK_SKB, A.SK_SKB_VERDICT, _OPT),
    SecDef("sk_skb", P.SK_SKB, None),
    SecDef("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT, _OPT),
    SecDef("lirc_mode2", P.LIRC_MODE2, A.LIRC_MODE2, _OPT),
    SecDef("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, _OPT),
    SecDef("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS, _OPT),
    SecDef("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS, _OPT),
    SecDef("cgroup/skb", P.CGROUP_SKB, None),
    SecDef("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, _ATT),
    SecDef("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, _ATT),
    SecDef("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, _OPT),
    SecDef("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, _ATT),
    SecDef("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, _ATT),
    SecDef("cgroup/bind4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, _ATT),
    SecDef("cgroup/bind6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, _ATT),
    SecDef("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, _ATT),
    SecDef("cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, _ATT),
    SecDef("cgroup/connect_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, _ATT),
    SecDef("cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, _ATT),
    SecDef("cgroup/sendmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, _ATT),
    SecDef("cgroup/sendmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, _ATT),
    SecDef("cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, _ATT),
    SecDef("cgroup/recvmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, _ATT),
    SecDef("cgroup/recvmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, _ATT),
    SecDef("cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, _ATT),
    SecDef("cgroup/getpeername6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, _ATT),
    SecDef("cgroup/getpeername_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, _ATT),
    SecDef("cgroup/getsockname4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, _ATT),
    SecDef("cgroup/getsockname6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, _ATT),
    SecDef("cgroup/getsockname_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, _ATT),
    SecDef("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, _ATT),
    SecDef("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, _ATT),
    SecDef("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, _ATT),
    SecDef("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, _OPT),
    SecDef("struct_ops+", P.STRUCT_OPS, None),
    SecDef("struct_ops.s+", P.STRUCT_OPS, None, _SLP),
    SecDef("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, _ATT),
    SecDef("netfilter", P.NETFILTER, A.NETFILTER),
)


def find_sec_def(name: str) -> SecDef | None:
    """The first table row matching ``name`` (without its ``?``), or None."""
    for d in SECTION_DEFS:
        if d.matches(name):
            return d
    return None


def split_autoload(section: str) -> tuple[str, bool]:
    """``?xdp`` -> (``xdp``, False): the ``?`` prefix only turns autoload off."""
    if section.startswith("?"):
        return section[1:], False
    return section, True


def attach_target(section: str) -> str:
    """What follows the first ``/`` of a section name (``fentry/do_unlinkat`` ->
    ``do_unlinkat``), or the empty string."""
    _, _, rest = section.partition("/")
    return rest
