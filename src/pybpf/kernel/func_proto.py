"""Which helpers a program may call: the kernel's per-type ``get_func_proto`` lookups.

Every program type has a lookup (``sk_filter_func_proto``, ``xdp_func_proto``,
``kprobe_prog_func_proto``, ...) that answers a helper id with a prototype or with
nothing (``program of this type cannot use helper bpf_redirect#23``).  Most of them end
in ``bpf_base_func_proto``, whose answers depend on the loader's capabilities in three
tiers: everyone, ``CAP_BPF``, ``CAP_PERFMON``.  This module reproduces those lookups as
Linux 6.18 has them (measured with the running kernel; see ``tests/kernel``), and the
checks ``check_helper_call`` makes right after the lookup (:func:`helper_call_error`).

The answers also depend on the kernel's build and boot configuration (lockdown, kprobe
override, ...): :class:`KernelConfig`, whose default :data:`REFERENCE_KERNEL` is the
kernel pybpf is measured against.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from ..isa.helper_ids import HELPER_IDS, HELPER_NAMES
from .progtypes import AttachType, ProgType
from .protos import VARIANTS, HelperProto

MAX_HELPER_ID = len(HELPER_NAMES) - 1
"""The highest helper id (``__BPF_FUNC_MAX_ID - 1``)."""


class Capability(IntFlag):
    """The capabilities the kernel consults when it loads a program."""

    NET_ADMIN = 1
    SYS_ADMIN = 2
    PERFMON = 4
    BPF = 8


ALL_CAPABILITIES = Capability.NET_ADMIN | Capability.SYS_ADMIN | Capability.PERFMON | Capability.BPF
"""What root has, and pybpf's default."""


class Lockdown(IntEnum):
    """The lockdown LSM's level: ``integrity`` forbids writing user memory from BPF,
    ``confidentiality`` also reading kernel memory."""

    NONE = 0
    INTEGRITY = 1
    CONFIDENTIALITY = 2


@dataclass(frozen=True)
class KernelConfig:
    """Build and boot options that change what ``get_func_proto`` answers."""

    lockdown: Lockdown = Lockdown.INTEGRITY
    kprobe_override: bool = False
    """``CONFIG_BPF_KPROBE_OVERRIDE``: ``bpf_override_return`` for kprobes."""
    lirc: bool = False
    """``CONFIG_BPF_LIRC_MODE2``: the ``lirc_mode2`` program type and its helpers."""
    seg6: bool = True
    """``CONFIG_IPV6_SEG6_BPF``: the ``lwt_seg6*`` helpers."""


REFERENCE_KERNEL = KernelConfig()
"""The kernel pybpf is specified against: 6.18, lockdown ``integrity``
(``CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY``), no kprobe override, no lirc."""

UPSTREAM_DEFAULTS = KernelConfig(lockdown=Lockdown.NONE, kprobe_override=True, lirc=True)
"""An unlocked kernel with every optional helper built in."""


def _caps(privileged: bool | Capability) -> Capability:
    if isinstance(privileged, Capability):
        return privileged
    return ALL_CAPABILITIES if privileged else Capability(0)


@dataclass(frozen=True)
class _Prog:
    """What a lookup may consult about the program being verified."""

    prog_type: int
    attach_type: int
    caps: Capability
    sleepable: bool
    attach_btf_name: str | None
    struct_ops_member: str | None
    config: KernelConfig

    def can(self, cap: Capability) -> bool:
        return bool(self.caps & cap)


_ID = HELPER_IDS


def _get(name: str, variant: str = "") -> HelperProto:
    return VARIANTS[(_ID[name], variant)]


# ---------------------------------------------------------------------------------------
# bpf_base_func_proto: every program type falls back to it.

_BASE_EVERYONE = frozenset({
    "map_lookup_elem", "map_update_elem", "map_delete_elem", "map_push_elem", "map_pop_elem",
    "map_peek_elem", "map_lookup_percpu_elem", "get_prandom_u32", "get_numa_node_id",
    "tail_call", "ktime_get_ns", "ktime_get_boot_ns", "ktime_get_tai_ns", "ringbuf_output",
    "ringbuf_reserve", "ringbuf_submit", "ringbuf_discard", "ringbuf_query", "strncmp",
    "strtol", "strtoul", "get_current_pid_tgid", "get_ns_current_pid_tgid",
    "get_current_uid_gid",
})  # fmt: skip
_BASE_CAP_BPF = frozenset({
    "spin_lock", "spin_unlock", "jiffies64", "per_cpu_ptr", "this_cpu_ptr", "timer_init",
    "timer_set_callback", "timer_start", "timer_cancel", "kptr_xchg", "for_each_map_elem",
    "loop", "user_ringbuf_drain", "ringbuf_reserve_dynptr", "ringbuf_submit_dynptr",
    "ringbuf_discard_dynptr", "dynptr_from_mem", "dynptr_read", "dynptr_write", "dynptr_data",
    "cgrp_storage_get", "cgrp_storage_delete", "get_current_cgroup_id",
    "get_current_ancestor_cgroup_id", "current_task_under_cgroup",
})  # fmt: skip
_BASE_CAP_PERFMON = frozenset({
    "trace_printk", "get_current_task", "get_current_task_btf", "get_current_comm",
    "probe_read_user", "probe_read_user_str", "copy_from_user", "copy_from_user_task",
    "snprintf_btf", "snprintf", "task_pt_regs", "trace_vprintk", "perf_event_read_value",
    "perf_event_read", "send_signal", "send_signal_thread", "get_branch_snapshot", "find_vma",
})  # fmt: skip


def _recursion_possible(p: _Prog) -> bool:
    """``bpf_prog_check_recur``: task storage needs its recursion-safe variant."""
    if p.prog_type == ProgType.TRACING:
        return p.attach_type != AttachType.TRACE_ITER
    return p.prog_type not in (ProgType.STRUCT_OPS, ProgType.LSM)


def _base(p: _Prog, name: str) -> HelperProto | None:
    if name == "get_smp_processor_id":
        return _get(name, "raw")
    if name in _BASE_EVERYONE:
        return _get(name)
    if not p.can(Capability.BPF):
        return None
    if name in _BASE_CAP_BPF:
        return _get(name)
    if name == "get_cgroup_classid":
        return _get(name, "current")
    if name in ("task_storage_get", "task_storage_delete"):
        return _get(name, "recur" if _recursion_possible(p) else "")
    if not p.can(Capability.PERFMON):
        return None
    if name in _BASE_CAP_PERFMON:
        return _get(name)
    if name in ("probe_read_kernel", "probe_read_kernel_str"):
        return None if p.config.lockdown >= Lockdown.CONFIDENTIALITY else _get(name)
    if name == "get_task_stack":
        return _get(name, "sleepable" if p.sleepable else "")
    return None


_SK_BASE_PERFMON = frozenset({
    "skc_to_tcp6_sock", "skc_to_tcp_sock", "skc_to_tcp_timewait_sock",
    "skc_to_tcp_request_sock", "skc_to_udp6_sock", "skc_to_unix_sock", "skc_to_mptcp_sock",
})  # fmt: skip


def _sk_base(p: _Prog, name: str) -> HelperProto | None:
    """``bpf_sk_base_func_proto``: the socket casts need ``CAP_PERFMON``."""
    if name in _SK_BASE_PERFMON:
        return _get(name) if p.can(Capability.PERFMON) else None
    if name == "ktime_get_coarse_ns":
        return _get(name)
    return _base(p, name)


# ---------------------------------------------------------------------------------------
# Socket and packet program types (net/core/filter.c).

_NO_RETVAL_ATTACH = frozenset({
    AttachType.CGROUP_INET_INGRESS, AttachType.CGROUP_INET_EGRESS, AttachType.CGROUP_SOCK_OPS,
    AttachType.CGROUP_UDP4_RECVMSG, AttachType.CGROUP_UDP6_RECVMSG,
    AttachType.CGROUP_UNIX_RECVMSG, AttachType.CGROUP_INET4_GETPEERNAME,
    AttachType.CGROUP_INET6_GETPEERNAME, AttachType.CGROUP_UNIX_GETPEERNAME,
    AttachType.CGROUP_INET4_GETSOCKNAME, AttachType.CGROUP_INET6_GETSOCKNAME,
    AttachType.CGROUP_UNIX_GETSOCKNAME,
})  # fmt: skip


def _cgroup_common(p: _Prog, name: str) -> HelperProto | None:
    if name == "get_local_storage":
        return _get(name)
    if name in ("get_retval", "set_retval"):
        return None if p.attach_type in _NO_RETVAL_ATTACH else _get(name)
    return None


def _sk_filter(p: _Prog, name: str) -> HelperProto | None:
    match name:
        case "skb_load_bytes" | "skb_load_bytes_relative" | "get_socket_cookie":
            return _get(name)
        case "get_socket_uid" | "get_netns_cookie":
            return _get(name)
        case "perf_event_output":
            return _get(name, "skb")
    return _sk_base(p, name)


def _cg_skb(p: _Prog, name: str) -> HelperProto | None:
    found = _cgroup_common(p, name)
    if found:
        return found
    match name:
        case "sk_fullsock" | "sk_storage_get" | "sk_storage_delete" | "skb_cgroup_id":
            return _get(name)
        case "skb_ancestor_cgroup_id" | "sk_cgroup_id" | "sk_ancestor_cgroup_id":
            return _get(name)
        case "sk_lookup_tcp" | "sk_lookup_udp" | "sk_release" | "skc_lookup_tcp":
            return _get(name)
        case "tcp_sock" | "get_listener_sock" | "skb_ecn_set_ce":
            return _get(name)
        case "perf_event_output":
            return _get(name, "skb")
    return _sk_filter(p, name)


_TC_PLAIN = frozenset({
    "skb_store_bytes", "skb_load_bytes", "skb_load_bytes_relative", "skb_pull_data",
    "csum_diff", "csum_update", "csum_level", "l3_csum_replace", "l4_csum_replace",
    "clone_redirect", "get_cgroup_classid", "skb_vlan_push", "skb_vlan_pop",
    "skb_change_proto", "skb_change_type", "skb_adjust_room", "skb_change_tail",
    "skb_change_head", "skb_get_tunnel_key", "skb_set_tunnel_key", "skb_get_tunnel_opt",
    "skb_set_tunnel_opt", "redirect", "redirect_neigh", "redirect_peer", "get_route_realm",
    "get_hash_recalc", "set_hash_invalid", "set_hash", "skb_under_cgroup",
    "get_socket_cookie", "get_socket_uid", "fib_lookup", "check_mtu", "sk_fullsock",
    "sk_storage_get", "sk_storage_delete", "skb_get_xfrm_state", "skb_cgroup_classid",
    "skb_cgroup_id", "skb_ancestor_cgroup_id", "sk_release", "tcp_sock", "get_listener_sock",
    "tcp_check_syncookie", "skb_ecn_set_ce", "tcp_gen_syncookie", "sk_assign",
    "skb_set_tstamp", "tcp_raw_gen_syncookie_ipv4", "tcp_raw_gen_syncookie_ipv6",
    "tcp_raw_check_syncookie_ipv4", "tcp_raw_check_syncookie_ipv6", "get_netns_cookie",
})  # fmt: skip


def _tc_cls_act(p: _Prog, name: str) -> HelperProto | None:
    if name in _TC_PLAIN:
        return _get(name)
    match name:
        case "perf_event_output":
            return _get(name, "skb")
        case "get_smp_processor_id":
            return _get(name)
        case "sk_lookup_tcp" | "sk_lookup_udp" | "skc_lookup_tcp":
            return _get(name, "tc")
    return _sk_base(p, name)


_XDP_PLAIN = frozenset({
    "csum_diff", "xdp_adjust_head", "xdp_adjust_meta", "redirect_map", "xdp_adjust_tail",
    "xdp_get_buff_len", "xdp_load_bytes", "xdp_store_bytes", "sk_release",
    "tcp_check_syncookie", "tcp_gen_syncookie", "tcp_raw_gen_syncookie_ipv4",
    "tcp_raw_gen_syncookie_ipv6", "tcp_raw_check_syncookie_ipv4",
    "tcp_raw_check_syncookie_ipv6", "get_smp_processor_id",
})  # fmt: skip


def _xdp(p: _Prog, name: str) -> HelperProto | None:
    if name in _XDP_PLAIN:
        return _get(name)
    match name:
        case "perf_event_output" | "redirect" | "fib_lookup" | "check_mtu":
            return _get(name, "xdp")
        case "sk_lookup_udp" | "sk_lookup_tcp" | "skc_lookup_tcp":
            return _get(name, "xdp")
    return _sk_base(p, name)


def _sock_ops(p: _Prog, name: str) -> HelperProto | None:
    found = _cgroup_common(p, name)
    if found:
        return found
    match name:
        case "setsockopt" | "getsockopt" | "get_socket_cookie" | "get_netns_cookie":
            return _get(name, "sock_ops")
        case "sock_ops_cb_flags_set" | "sock_map_update" | "sock_hash_update":
            return _get(name)
        case "sk_storage_get" | "sk_storage_delete" | "load_hdr_opt" | "store_hdr_opt":
            return _get(name)
        case "reserve_hdr_opt" | "tcp_sock":
            return _get(name)
        case "perf_event_output":
            return _get(name)
    return _sk_base(p, name)


def _sk_msg(p: _Prog, name: str) -> HelperProto | None:
    match name:
        case "msg_redirect_map" | "msg_redirect_hash" | "msg_apply_bytes" | "msg_cork_bytes":
            return _get(name)
        case "msg_pull_data" | "msg_push_data" | "msg_pop_data":
            return _get(name)
        case "sk_storage_get" | "sk_storage_delete" | "perf_event_output":
            return _get(name)
        case "get_netns_cookie":
            return _get(name, "sk_msg")
    return _sk_base(p, name)


def _sk_skb(p: _Prog, name: str) -> HelperProto | None:
    match name:
        case "skb_store_bytes" | "skb_load_bytes" | "get_socket_cookie" | "get_socket_uid":
            return _get(name)
        case "skb_pull_data" | "skb_change_tail" | "skb_change_head" | "skb_adjust_room":
            return _get(name, "sk_skb")
        case "sk_redirect_map" | "sk_redirect_hash":
            return _get(name)
        case "perf_event_output":
            return _get(name, "skb")
        case "sk_lookup_tcp" | "sk_lookup_udp" | "sk_release" | "skc_lookup_tcp":
            return _get(name)
    return _sk_base(p, name)


def _flow_dissector(p: _Prog, name: str) -> HelperProto | None:
    if name == "skb_load_bytes":
        return _get(name, "flow_dissector")
    return _sk_base(p, name)


_LWT_OUT_PLAIN = frozenset({
    "skb_load_bytes", "skb_pull_data", "csum_diff", "get_cgroup_classid", "get_route_realm",
    "get_hash_recalc", "get_smp_processor_id", "skb_under_cgroup",
})  # fmt: skip


def _lwt_out(p: _Prog, name: str) -> HelperProto | None:
    if name in _LWT_OUT_PLAIN:
        return _get(name)
    if name == "perf_event_output":
        return _get(name, "skb")
    return _sk_base(p, name)


def _lwt_in(p: _Prog, name: str) -> HelperProto | None:
    if name == "lwt_push_encap":
        return _get(name, "in")
    return _lwt_out(p, name)


_LWT_XMIT_PLAIN = frozenset({
    "skb_get_tunnel_key", "skb_set_tunnel_key", "skb_get_tunnel_opt", "skb_set_tunnel_opt",
    "redirect", "clone_redirect", "skb_change_tail", "skb_change_head", "skb_store_bytes",
    "csum_update", "csum_level", "l3_csum_replace", "l4_csum_replace", "set_hash_invalid",
    "lwt_push_encap",
})  # fmt: skip


def _lwt_xmit(p: _Prog, name: str) -> HelperProto | None:
    if name in _LWT_XMIT_PLAIN:
        return _get(name)
    return _lwt_out(p, name)


def _lwt_seg6local(p: _Prog, name: str) -> HelperProto | None:
    if name in ("lwt_seg6_store_bytes", "lwt_seg6_action", "lwt_seg6_adjust_srh"):
        return _get(name) if p.config.seg6 else None
    return _lwt_out(p, name)


def _sock_filter(p: _Prog, name: str) -> HelperProto | None:
    """``cgroup_sock`` programs."""
    found = _cgroup_common(p, name)
    if found:
        return found
    match name:
        case "get_socket_cookie" | "get_netns_cookie":
            return _get(name, "sock")
        case "perf_event_output":
            return _get(name)
        case "sk_storage_get":
            return _get(name, "cg_sock")
        case "ktime_get_coarse_ns":
            return _get(name)
    return _base(p, name)


_SOCKOPT_ADDR_ATTACH = frozenset({
    AttachType.CGROUP_INET4_BIND, AttachType.CGROUP_INET6_BIND,
    AttachType.CGROUP_INET4_CONNECT, AttachType.CGROUP_INET6_CONNECT,
    AttachType.CGROUP_UNIX_CONNECT, AttachType.CGROUP_UDP4_RECVMSG,
    AttachType.CGROUP_UDP6_RECVMSG, AttachType.CGROUP_UNIX_RECVMSG,
    AttachType.CGROUP_UDP4_SENDMSG, AttachType.CGROUP_UDP6_SENDMSG,
    AttachType.CGROUP_UNIX_SENDMSG, AttachType.CGROUP_INET4_GETPEERNAME,
    AttachType.CGROUP_INET6_GETPEERNAME, AttachType.CGROUP_INET4_GETSOCKNAME,
    AttachType.CGROUP_INET6_GETSOCKNAME,
})  # fmt: skip


def _sock_addr(p: _Prog, name: str) -> HelperProto | None:
    found = _cgroup_common(p, name)
    if found:
        return found
    match name:
        case "bind":
            connect = (AttachType.CGROUP_INET4_CONNECT, AttachType.CGROUP_INET6_CONNECT)
            return _get(name) if p.attach_type in connect else None
        case "get_socket_cookie" | "get_netns_cookie":
            return _get(name, "sock_addr")
        case "perf_event_output" | "sk_release" | "sk_storage_get" | "sk_storage_delete":
            return _get(name)
        case "sk_lookup_tcp" | "sk_lookup_udp" | "skc_lookup_tcp":
            return _get(name, "sock_addr")
        case "setsockopt" | "getsockopt":
            return _get(name, "sock_addr") if p.attach_type in _SOCKOPT_ADDR_ATTACH else None
    return _sk_base(p, name)


def _sk_reuseport(p: _Prog, name: str) -> HelperProto | None:
    match name:
        case "sk_select_reuseport" | "ktime_get_coarse_ns":
            return _get(name)
        case "skb_load_bytes" | "skb_load_bytes_relative":
            return _get(name, "sk_reuseport")
        case "get_socket_cookie":
            return _get(name, "ptr")
    return _base(p, name)


def _sk_lookup(p: _Prog, name: str) -> HelperProto | None:
    match name:
        case "perf_event_output" | "sk_release":
            return _get(name)
        case "sk_assign":
            return _get(name, "sk_lookup")
    return _sk_base(p, name)


# ---------------------------------------------------------------------------------------
# cgroup hooks without a packet (kernel/bpf/cgroup.c).


def _cgroup_dev(p: _Prog, name: str) -> HelperProto | None:
    found = _cgroup_common(p, name)
    if found:
        return found
    if name == "perf_event_output":
        return _get(name)
    return _base(p, name)


def _sysctl(p: _Prog, name: str) -> HelperProto | None:
    found = _cgroup_common(p, name)
    if found:
        return found
    match name:
        case "sysctl_get_name" | "sysctl_get_current_value" | "sysctl_get_new_value":
            return _get(name)
        case "sysctl_set_new_value" | "ktime_get_coarse_ns" | "perf_event_output":
            return _get(name)
    return _base(p, name)


def _cg_sockopt(p: _Prog, name: str) -> HelperProto | None:
    found = _cgroup_common(p, name)
    if found:
        return found
    match name:
        case "get_netns_cookie":
            return _get(name, "sockopt")
        case "sk_storage_get" | "sk_storage_delete" | "perf_event_output":
            return _get(name)
        case "setsockopt" | "getsockopt":
            return _get(name) if p.attach_type == AttachType.CGROUP_SETSOCKOPT else None
        case "tcp_sock":
            return _get(name)
    return _base(p, name)


def _netfilter(p: _Prog, name: str) -> HelperProto | None:
    return _base(p, name)


# ---------------------------------------------------------------------------------------
# Tracing program types (kernel/trace/bpf_trace.c and friends).


def _tracing_common(p: _Prog, name: str) -> HelperProto | None:
    """``bpf_tracing_func_proto``: what every tracing flavour shares."""
    match name:
        case "get_smp_processor_id":
            return _get(name)
        case "probe_read" | "probe_read_str":
            return None if p.config.lockdown >= Lockdown.CONFIDENTIALITY else _get(name)
        case "get_func_ip":
            return _get(name)
    found = _base(p, name)
    if found or not p.can(Capability.SYS_ADMIN):
        return found
    if name == "probe_write_user" and p.config.lockdown < Lockdown.INTEGRITY:
        return _get(name)
    return None


_MULTI_KPROBE = (AttachType.TRACE_KPROBE_MULTI, AttachType.TRACE_KPROBE_SESSION)


def _kprobe(p: _Prog, name: str) -> HelperProto | None:
    match name:
        case "perf_event_output":
            return _get(name, "kprobe")
        case "get_stackid":
            return _get(name)
        case "get_stack":
            return _get(name, "sleepable" if p.sleepable else "")
        case "override_return":
            return _get(name) if p.config.kprobe_override else None
        case "get_func_ip":
            if p.attach_type in _MULTI_KPROBE:
                return _get(name, "kprobe_multi")
            if p.attach_type == AttachType.TRACE_UPROBE_MULTI:
                return _get(name, "uprobe_multi")
            return _get(name, "kprobe")
        case "get_attach_cookie":
            if p.attach_type in _MULTI_KPROBE:
                return _get(name, "kprobe_multi")
            if p.attach_type == AttachType.TRACE_UPROBE_MULTI:
                return _get(name, "uprobe_multi")
            return _get(name, "trace")
    return _tracing_common(p, name)


def _tracepoint(p: _Prog, name: str) -> HelperProto | None:
    match name:
        case "perf_event_output" | "get_stackid" | "get_stack":
            return _get(name, "tp")
        case "get_attach_cookie":
            return _get(name, "trace")
    return _tracing_common(p, name)


def _perf_event(p: _Prog, name: str) -> HelperProto | None:
    match name:
        case "perf_event_output":
            return _get(name, "tp")
        case "get_stackid" | "get_stack" | "get_attach_cookie":
            return _get(name, "pe")
        case "perf_prog_read_value" | "read_branch_records":
            return _get(name)
    return _tracing_common(p, name)


def _raw_tp(p: _Prog, name: str) -> HelperProto | None:
    match name:
        case "perf_event_output" | "get_stackid" | "get_stack":
            return _get(name, "raw_tp")
        case "get_attach_cookie":
            return _get(name)
    return _tracing_common(p, name)


_TRAMPOLINE_ATTACH = (AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN)


def _has_trampoline(p: _Prog) -> bool:
    """``bpf_prog_has_trampoline``."""
    if p.prog_type == ProgType.TRACING:
        return p.attach_type in _TRAMPOLINE_ATTACH
    return p.prog_type == ProgType.LSM and p.attach_type == AttachType.LSM_MAC


_TRACING_SOCK = frozenset({
    "skb_output", "xdp_output", "skc_to_tcp6_sock", "skc_to_tcp_sock",
    "skc_to_tcp_timewait_sock", "skc_to_tcp_request_sock", "skc_to_udp6_sock",
    "skc_to_unix_sock", "skc_to_mptcp_sock", "sock_from_file", "d_path",
})  # fmt: skip
# the iterators whose own get_func_proto adds the socket options (tcp_ipv4.c, af_unix.c;
# the udp iterator has none: the kernel refuses the helpers there, EINVAL)
_ITER_SOCKOPT_TARGETS = frozenset({"bpf_iter_tcp", "bpf_iter_unix"})


def _tracing(p: _Prog, name: str) -> HelperProto | None:
    """``tracing_prog_func_proto``: fentry/fexit/fmod_ret, tp_btf and iterators."""
    iterator = p.attach_type == AttachType.TRACE_ITER
    if name in _TRACING_SOCK:
        return _get(name)
    match name:
        case "sk_storage_get" | "sk_storage_delete":
            return _get(name, "tracing")
        case "get_socket_cookie":
            return _get(name, "ptr")
        case "xdp_get_buff_len":
            return _get(name, "trace")
        case "seq_printf" | "seq_write" | "seq_printf_btf":
            return _get(name) if iterator else None
        case "get_func_arg" | "get_func_ret" | "get_func_arg_cnt":
            return _get(name) if _has_trampoline(p) else None
        case "get_attach_cookie":
            if p.attach_type == AttachType.TRACE_RAW_TP or _has_trampoline(p):
                return _get(name)
            return None
    found = _raw_tp(p, name)
    sockopt = name in ("setsockopt", "getsockopt")
    if found is None and iterator and sockopt and p.attach_btf_name in _ITER_SOCKOPT_TARGETS:
        return _get(name)
    return found


def _syscall(p: _Prog, name: str) -> HelperProto | None:
    match name:
        case "sys_bpf":
            return _get(name) if p.can(Capability.PERFMON) else None
        case "btf_find_by_name_kind" | "sys_close" | "kallsyms_lookup_name":
            return _get(name)
    return _tracing(p, name)


def _lsm(p: _Prog, name: str) -> HelperProto | None:
    cgroup = p.attach_type == AttachType.LSM_CGROUP
    if cgroup:
        found = _cgroup_common(p, name)
        if found:
            return found
    match name:
        case "inode_storage_get" | "inode_storage_delete" | "sk_storage_get":
            return _get(name)
        case "sk_storage_delete" | "spin_lock" | "spin_unlock" | "bprm_opts_set":
            return _get(name)
        case "ima_inode_hash" | "ima_file_hash":
            return _get(name)
        case "get_attach_cookie":
            return _get(name, "lsm") if _has_trampoline(p) else None
        case "setsockopt" | "getsockopt":
            # Only for lsm_cgroup on the socket hooks; which variant depends on whether
            # the hook runs with the socket locked.
            return _get(name) if cgroup else None
    return _tracing(p, name)


def _struct_ops(p: _Prog, name: str) -> HelperProto | None:
    """Only ``tcp_congestion_ops`` is modelled (other struct_ops give ``None``)."""
    if p.attach_btf_name != "tcp_congestion_ops":
        return None
    match name:
        case "tcp_send_ack" | "sk_storage_get" | "sk_storage_delete" | "ktime_get_coarse_ns":
            return _get(name)
        case "setsockopt" | "getsockopt":
            return None if p.struct_ops_member == "release" else _get(name)
    return _base(p, name)


def _lirc(p: _Prog, name: str) -> HelperProto | None:
    if name in ("rc_repeat", "rc_keydown", "rc_pointer_rel"):
        return _get(name)
    return _base(p, name)


_LOOKUPS: dict[int, Callable[[_Prog, str], HelperProto | None]] = {
    ProgType.SOCKET_FILTER: _sk_filter,
    ProgType.KPROBE: _kprobe,
    ProgType.SCHED_CLS: _tc_cls_act,
    ProgType.SCHED_ACT: _tc_cls_act,
    ProgType.TRACEPOINT: _tracepoint,
    ProgType.XDP: _xdp,
    ProgType.PERF_EVENT: _perf_event,
    ProgType.CGROUP_SKB: _cg_skb,
    ProgType.CGROUP_SOCK: _sock_filter,
    ProgType.LWT_IN: _lwt_in,
    ProgType.LWT_OUT: _lwt_out,
    ProgType.LWT_XMIT: _lwt_xmit,
    ProgType.SOCK_OPS: _sock_ops,
    ProgType.SK_SKB: _sk_skb,
    ProgType.CGROUP_DEVICE: _cgroup_dev,
    ProgType.SK_MSG: _sk_msg,
    ProgType.RAW_TRACEPOINT: _raw_tp,
    ProgType.CGROUP_SOCK_ADDR: _sock_addr,
    ProgType.LWT_SEG6LOCAL: _lwt_seg6local,
    ProgType.LIRC_MODE2: _lirc,
    ProgType.SK_REUSEPORT: _sk_reuseport,
    ProgType.FLOW_DISSECTOR: _flow_dissector,
    ProgType.CGROUP_SYSCTL: _sysctl,
    ProgType.RAW_TRACEPOINT_WRITABLE: _raw_tp,
    ProgType.CGROUP_SOCKOPT: _cg_sockopt,
    ProgType.TRACING: _tracing,
    ProgType.STRUCT_OPS: _struct_ops,
    ProgType.LSM: _lsm,
    ProgType.SK_LOOKUP: _sk_lookup,
    ProgType.SYSCALL: _syscall,
    ProgType.NETFILTER: _netfilter,
}

SUPPORTED_PROG_TYPES: frozenset[int] = frozenset(_LOOKUPS)
"""Program types :func:`func_proto` knows (``ext`` takes its target's helpers)."""


def func_proto(
    prog_type: int,
    func_id: int,
    attach_type: int | None = None,
    privileged: bool | Capability = True,
    gpl: bool = True,
    *,
    sleepable: bool = False,
    attach_btf_name: str | None = None,
    struct_ops_member: str | None = None,
    config: KernelConfig = REFERENCE_KERNEL,
) -> HelperProto | None:
    """The prototype a program of ``prog_type`` gets for helper ``func_id``, or None
    when it may not call it.

    ``attach_type`` is the program's ``expected_attach_type`` (None means 0, as for the
    kernel: ``BPF_CGROUP_INET_INGRESS``).  ``privileged`` is True (root), False (no
    capability) or a :class:`Capability` set.  With ``gpl=False`` GPL-only helpers are
    refused too (the kernel's message differs: see :func:`helper_call_error`).
    ``attach_btf_name`` names the attach target where the answer depends on it (the
    iterator for ``tracing`` iterators, the struct for ``struct_ops``).
    """
    if not 0 < func_id <= MAX_HELPER_ID:
        return None
    lookup = _LOOKUPS.get(prog_type)
    if lookup is None or (prog_type == ProgType.LIRC_MODE2 and not config.lirc):
        return None
    prog = _Prog(int(prog_type), int(attach_type or 0), _caps(privileged), sleepable,
                 attach_btf_name, struct_ops_member, config)  # fmt: skip
    found = lookup(prog, HELPER_NAMES[func_id])
    if found is not None and found.gpl_only and not gpl:
        return None
    return found


def available_helpers(
    prog_type: int,
    attach_type: int | None = None,
    privileged: bool | Capability = True,
    **options: object,
) -> tuple[int, ...]:
    """Every helper id :func:`func_proto` answers for this program."""
    return tuple(
        h for h in range(1, MAX_HELPER_ID + 1)
        if func_proto(prog_type, h, attach_type, privileged, **options)  # type: ignore[arg-type]
    )  # fmt: skip


# ---------------------------------------------------------------------------------------
# The checks right after the lookup in check_helper_call.

_D_PATH_TARGETS = frozenset({
    "security_file_permission", "security_inode_getattr", "security_file_open",
    "security_path_truncate", "vfs_truncate", "vfs_fallocate", "dentry_open", "vfs_getattr",
    "filp_close",
})  # fmt: skip


def helper_allowed(
    proto: HelperProto,
    prog_type: int,
    attach_type: int | None = None,
    *,
    sleepable: bool = False,
    attach_btf_name: str | None = None,
) -> bool:
    """A prototype's extra ``allowed`` predicate (d_path, ima hashes, tracing socket
    storage); helpers without one are always allowed."""
    at = int(attach_type or 0)
    match proto.allowed:
        case None:
            return True
        case "d_path":
            if prog_type == ProgType.TRACING and at == AttachType.TRACE_ITER:
                return True
            if prog_type == ProgType.LSM:
                return sleepable
            return attach_btf_name in _D_PATH_TARGETS
        case "ima":
            return prog_type == ProgType.LSM and sleepable
        case "sk_storage_tracing":
            if at in (AttachType.TRACE_ITER, AttachType.TRACE_RAW_TP):
                return True
            if at in (AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT):
                return not (attach_btf_name or "").startswith("bpf_sk_storage")
            return False
    return True


def helper_call_error(
    prog_type: int,
    func_id: int,
    attach_type: int | None = None,
    privileged: bool | Capability = True,
    gpl: bool = True,
    *,
    sleepable: bool = False,
    attach_btf_name: str | None = None,
    struct_ops_member: str | None = None,
    config: KernelConfig = REFERENCE_KERNEL,
) -> tuple[int, str] | None:
    """The errno and verifier message ``check_helper_call`` gives before it looks at the
    arguments, or None when the call gets that far."""
    if not 0 <= func_id <= MAX_HELPER_ID:
        return errno.EINVAL, f"invalid func unknown#{func_id}"
    name = f"bpf_{HELPER_NAMES[func_id]}#{func_id}"
    found = func_proto(prog_type, func_id, attach_type, privileged, True, sleepable=sleepable,
                       attach_btf_name=attach_btf_name, struct_ops_member=struct_ops_member,
                       config=config)  # fmt: skip
    if found is None:
        return errno.EINVAL, f"program of this type cannot use helper {name}"
    if found.gpl_only and not gpl:
        return errno.EINVAL, "cannot call GPL-restricted function from non-GPL compatible program"
    if not helper_allowed(found, prog_type, attach_type, sleepable=sleepable,
                          attach_btf_name=attach_btf_name):  # fmt: skip
        return errno.EINVAL, "helper call is not allowed in probe"
    if found.might_sleep and not sleepable:
        return errno.EINVAL, "helper call might sleep in a non-sleepable prog"
    return None
