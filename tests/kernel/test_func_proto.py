"""Which helpers each program type may call (``get_func_proto``) and the checks after it."""

from __future__ import annotations

import errno

import pytest

from pybpf.isa.helper_ids import HELPER_IDS
from pybpf.kernel.func_proto import (
    ALL_CAPABILITIES,
    MAX_HELPER_ID,
    SUPPORTED_PROG_TYPES,
    UPSTREAM_DEFAULTS,
    Capability,
    KernelConfig,
    Lockdown,
    available_helpers,
    func_proto,
    helper_allowed,
    helper_call_error,
)
from pybpf.kernel.progtypes import AttachType, ProgType

P = ProgType
AT = AttachType
H = HELPER_IDS


def _can(prog_type: ProgType, name: str, attach_type: int | None = None, **kw: object) -> bool:
    return func_proto(prog_type, H[name], attach_type, **kw) is not None  # type: ignore[arg-type]


AVAILABILITY = [
    (P.SOCKET_FILTER, "skb_load_bytes", True),
    (P.SOCKET_FILTER, "redirect", False),
    (P.SOCKET_FILTER, "skb_store_bytes", False),
    (P.SOCKET_FILTER, "get_current_comm", True),  # base since 6.16
    (P.SOCKET_FILTER, "probe_read", False),
    (P.SOCKET_FILTER, "get_netns_cookie", True),
    (P.SCHED_CLS, "redirect", True),
    (P.SCHED_CLS, "skb_store_bytes", True),
    (P.SCHED_CLS, "xdp_adjust_head", False),
    (P.SCHED_ACT, "clone_redirect", True),
    (P.XDP, "xdp_adjust_head", True),
    (P.XDP, "redirect_map", True),
    (P.XDP, "skb_load_bytes", False),
    (P.XDP, "fib_lookup", True),
    (P.KPROBE, "probe_read", True),
    (P.KPROBE, "get_stackid", True),
    (P.KPROBE, "override_return", False),  # CONFIG_BPF_KPROBE_OVERRIDE is off
    (P.KPROBE, "probe_write_user", False),  # lockdown=integrity
    (P.KPROBE, "skb_load_bytes", False),
    (P.TRACEPOINT, "perf_event_output", True),
    (P.PERF_EVENT, "perf_prog_read_value", True),
    (P.PERF_EVENT, "read_branch_records", True),
    (P.KPROBE, "read_branch_records", False),
    (P.RAW_TRACEPOINT, "get_attach_cookie", True),
    (P.CGROUP_SKB, "sk_fullsock", True),
    (P.CGROUP_SKB, "get_local_storage", True),
    (P.CGROUP_SKB, "get_retval", False),  # not for ingress/egress
    (P.CGROUP_SOCK, "sk_storage_get", True),
    (P.LWT_IN, "lwt_push_encap", True),
    (P.LWT_OUT, "lwt_push_encap", False),
    (P.LWT_XMIT, "redirect", True),
    (P.LWT_SEG6LOCAL, "lwt_seg6_action", True),
    (P.LWT_SEG6LOCAL, "skb_pull_data", True),
    (P.SOCK_OPS, "sock_ops_cb_flags_set", True),
    (P.SK_SKB, "sk_redirect_map", True),
    (P.SK_MSG, "msg_redirect_map", True),
    (P.SK_MSG, "sk_redirect_map", False),
    (P.FLOW_DISSECTOR, "skb_load_bytes", True),
    (P.FLOW_DISSECTOR, "skb_load_bytes_relative", False),
    (P.SK_REUSEPORT, "sk_select_reuseport", True),
    (P.SK_LOOKUP, "sk_assign", True),
    (P.CGROUP_SYSCTL, "sysctl_get_name", True),
    (P.NETFILTER, "skb_load_bytes", False),
    (P.NETFILTER, "map_lookup_elem", True),
    (P.SYSCALL, "sys_bpf", True),
    (P.SYSCALL, "skb_output", True),
]


@pytest.mark.parametrize(("prog_type", "helper", "expected"), AVAILABILITY)
def test_availability(prog_type: ProgType, helper: str, expected: bool) -> None:
    assert _can(prog_type, helper) is expected


@pytest.mark.parametrize(
    ("prog_type", "attach", "helper", "variant"),
    [
        (P.KPROBE, None, "perf_event_output", "kprobe"),
        (P.TRACEPOINT, None, "perf_event_output", "tp"),
        (P.PERF_EVENT, None, "perf_event_output", "tp"),
        (P.RAW_TRACEPOINT, None, "perf_event_output", "raw_tp"),
        (P.SCHED_CLS, None, "perf_event_output", "skb"),
        (P.XDP, None, "perf_event_output", "xdp"),
        (P.CGROUP_SOCK, AT.CGROUP_INET_SOCK_CREATE, "perf_event_output", ""),
        (P.PERF_EVENT, None, "get_stackid", "pe"),
        (P.KPROBE, AT.TRACE_KPROBE_MULTI, "get_func_ip", "kprobe_multi"),
        (P.KPROBE, None, "get_func_ip", "kprobe"),
        (P.KPROBE, AT.TRACE_UPROBE_MULTI, "get_attach_cookie", "uprobe_multi"),
        (P.SCHED_CLS, None, "sk_lookup_tcp", "tc"),
        (P.XDP, None, "sk_lookup_udp", "xdp"),
        (P.CGROUP_SKB, None, "sk_lookup_tcp", ""),
        (P.CGROUP_SOCK_ADDR, AT.CGROUP_INET4_CONNECT, "sk_lookup_tcp", "sock_addr"),
        (P.SK_SKB, None, "skb_pull_data", "sk_skb"),
        (P.SOCKET_FILTER, None, "get_smp_processor_id", "raw"),
        (P.SCHED_CLS, None, "get_smp_processor_id", ""),
        (P.SOCKET_FILTER, None, "task_storage_get", "recur"),
        (P.TRACING, AT.TRACE_ITER, "task_storage_get", ""),
        (P.TRACING, AT.TRACE_RAW_TP, "sk_storage_get", "tracing"),
        (P.SK_REUSEPORT, None, "get_socket_cookie", "ptr"),
        (P.SK_LOOKUP, AT.SK_LOOKUP, "sk_assign", "sk_lookup"),
    ],
)
def test_variant(prog_type: ProgType, attach: int | None, helper: str, variant: str) -> None:
    found = func_proto(prog_type, H[helper], attach)
    assert found is not None and found.variant == variant


def test_attach_type_gating() -> None:
    connect4, bind4 = AT.CGROUP_INET4_CONNECT, AT.CGROUP_INET4_BIND
    assert _can(P.CGROUP_SOCK_ADDR, "bind", connect4)
    assert not _can(P.CGROUP_SOCK_ADDR, "bind", bind4)
    assert _can(P.CGROUP_SOCK_ADDR, "setsockopt", bind4)
    assert not _can(P.CGROUP_SOCK_ADDR, "setsockopt", AT.CGROUP_INET_SOCK_RELEASE)
    assert _can(P.CGROUP_SOCKOPT, "setsockopt", AT.CGROUP_SETSOCKOPT)
    assert not _can(P.CGROUP_SOCKOPT, "setsockopt", AT.CGROUP_GETSOCKOPT)
    assert _can(P.CGROUP_SKB, "get_retval", AT.CGROUP_INET_SOCK_CREATE)
    assert _can(P.CGROUP_DEVICE, "get_retval", AT.CGROUP_DEVICE)
    assert not _can(P.CGROUP_DEVICE, "get_retval")  # attach type 0 = inet ingress
    assert _can(P.TRACING, "seq_printf", AT.TRACE_ITER)
    assert not _can(P.TRACING, "seq_printf", AT.TRACE_RAW_TP)
    assert _can(P.TRACING, "get_func_arg", AT.TRACE_FENTRY)
    assert not _can(P.TRACING, "get_func_arg", AT.TRACE_RAW_TP)
    assert _can(P.TRACING, "get_attach_cookie", AT.TRACE_RAW_TP)
    assert not _can(P.TRACING, "get_attach_cookie", AT.TRACE_ITER)
    assert _can(P.TRACING, "setsockopt", AT.TRACE_ITER, attach_btf_name="bpf_iter_tcp")
    assert not _can(P.TRACING, "setsockopt", AT.TRACE_ITER, attach_btf_name="bpf_iter_task")
    assert _can(P.XDP, "get_smp_processor_id", AT.XDP_DEVMAP)


def test_struct_ops_tcp_congestion_control() -> None:
    kw = {"attach_btf_name": "tcp_congestion_ops"}
    assert _can(P.STRUCT_OPS, "tcp_send_ack", 0, **kw)
    assert _can(P.STRUCT_OPS, "setsockopt", 0, struct_ops_member="ssthresh", **kw)
    assert not _can(P.STRUCT_OPS, "setsockopt", 17, struct_ops_member="release", **kw)
    assert not _can(P.STRUCT_OPS, "map_lookup_elem", 0)  # unknown struct_ops


def test_lsm() -> None:
    assert _can(P.LSM, "inode_storage_get", AT.LSM_MAC)
    assert _can(P.LSM, "bprm_opts_set", AT.LSM_MAC)
    assert _can(P.LSM, "get_attach_cookie", AT.LSM_MAC)
    assert not _can(P.LSM, "get_attach_cookie", AT.LSM_CGROUP)
    assert _can(P.LSM, "get_retval", AT.LSM_CGROUP)
    assert not _can(P.LSM, "setsockopt", AT.LSM_MAC)
    assert _can(P.LSM, "d_path", AT.LSM_MAC)  # allowed() then needs a sleepable hook


def test_sleepable_variants() -> None:
    stack = func_proto(P.KPROBE, H["get_stack"], sleepable=True)
    assert stack is not None and stack.might_sleep
    task_stack = func_proto(P.KPROBE, H["get_task_stack"])
    assert task_stack is not None and not task_stack.might_sleep


CAP_CASES = [
    (Capability.BPF, "map_lookup_elem", True),
    (Capability.BPF, "spin_lock", True),
    (Capability.BPF, "get_cgroup_classid", True),
    (Capability.BPF, "task_storage_get", True),
    (Capability.BPF, "trace_printk", False),
    (Capability.BPF, "get_current_comm", False),
    (Capability.BPF, "skc_to_tcp_sock", False),
    (Capability.BPF | Capability.PERFMON, "trace_printk", True),
    (Capability.BPF | Capability.PERFMON, "skc_to_tcp_sock", True),
    (Capability(0), "map_lookup_elem", True),
    (Capability(0), "get_current_uid_gid", True),
    (Capability(0), "skb_load_bytes", True),
    (Capability(0), "spin_lock", False),
    (Capability(0), "jiffies64", False),
    (Capability(0), "get_current_cgroup_id", False),
]


@pytest.mark.parametrize(("caps", "helper", "expected"), CAP_CASES)
def test_capability_tiers(caps: Capability, helper: str, expected: bool) -> None:
    assert _can(P.SOCKET_FILTER, helper, privileged=caps) is expected


def test_unprivileged_is_no_capability() -> None:
    assert available_helpers(P.SOCKET_FILTER, privileged=False) == available_helpers(
        P.SOCKET_FILTER, privileged=Capability(0)
    )
    assert len(available_helpers(P.SOCKET_FILTER)) > len(
        available_helpers(P.SOCKET_FILTER, privileged=False)
    )
    assert ALL_CAPABILITIES & Capability.SYS_ADMIN


def test_kernel_config() -> None:
    unlocked = KernelConfig(lockdown=Lockdown.NONE)
    assert _can(P.KPROBE, "probe_write_user", config=unlocked)
    assert not _can(P.KPROBE, "probe_write_user", config=unlocked,
                    privileged=Capability.BPF | Capability.PERFMON)  # fmt: skip
    secret = KernelConfig(lockdown=Lockdown.CONFIDENTIALITY)
    assert not _can(P.KPROBE, "probe_read_kernel", config=secret)
    assert not _can(P.KPROBE, "probe_read", config=secret)
    assert _can(P.KPROBE, "probe_read_user", config=secret)
    assert _can(P.KPROBE, "override_return", config=UPSTREAM_DEFAULTS)
    assert not _can(P.LIRC_MODE2, "rc_keydown")
    assert _can(P.LIRC_MODE2, "rc_keydown", config=UPSTREAM_DEFAULTS)
    assert not _can(P.LWT_SEG6LOCAL, "lwt_seg6_action", config=KernelConfig(seg6=False))


def test_gpl() -> None:
    assert _can(P.KPROBE, "trace_printk")
    assert not _can(P.KPROBE, "trace_printk", gpl=False)
    assert _can(P.KPROBE, "map_lookup_elem", gpl=False)
    assert _can(P.PERF_EVENT, "get_stackid", gpl=False)
    assert not _can(P.KPROBE, "get_stackid", gpl=False)


def test_out_of_range_and_unknown_types() -> None:
    assert func_proto(P.SOCKET_FILTER, 0) is None
    assert func_proto(P.SOCKET_FILTER, MAX_HELPER_ID + 1) is None
    assert func_proto(P.SOCKET_FILTER, -1) is None
    assert func_proto(P.UNSPEC, 1) is None
    assert func_proto(P.EXT, 1) is None
    assert func_proto(999, 1) is None
    assert P.EXT not in SUPPORTED_PROG_TYPES and P.XDP in SUPPORTED_PROG_TYPES


@pytest.mark.parametrize(
    ("prog_type", "func_id", "kw", "expected"),
    [
        (P.SOCKET_FILTER, 23, {}, "program of this type cannot use helper bpf_redirect#23"),
        (P.SOCKET_FILTER, 212, {}, "invalid func unknown#212"),
        (P.SOCKET_FILTER, -3, {}, "invalid func unknown#-3"),
        (P.SOCKET_FILTER, 0, {}, "program of this type cannot use helper bpf_unspec#0"),
        (P.SOCKET_FILTER, 6, {"gpl": False},
         "cannot call GPL-restricted function from non-GPL compatible program"),
        (P.SOCKET_FILTER, 148, {}, "helper call might sleep in a non-sleepable prog"),
        (P.TRACING, 147, {"attach_type": AT.TRACE_RAW_TP}, "helper call is not allowed in probe"),
    ],
)  # fmt: skip
def test_helper_call_error(prog_type: ProgType, func_id: int, kw: dict[str, object],
                           expected: str) -> None:  # fmt: skip
    error = helper_call_error(prog_type, func_id, **kw)  # type: ignore[arg-type]
    assert error == (errno.EINVAL, expected)


def test_helper_call_passes() -> None:
    assert helper_call_error(P.SOCKET_FILTER, 1) is None
    assert helper_call_error(P.KPROBE, H["copy_from_user"], sleepable=True) is None
    assert helper_call_error(P.TRACING, H["d_path"], AT.TRACE_ITER) is None
    d_path = func_proto(P.TRACING, H["d_path"], AT.TRACE_FENTRY)
    assert d_path is not None
    assert helper_allowed(d_path, P.TRACING, AT.TRACE_FENTRY, attach_btf_name="vfs_truncate")
    assert not helper_allowed(d_path, P.TRACING, AT.TRACE_FENTRY, attach_btf_name="vfs_read")
    assert helper_allowed(d_path, P.LSM, AT.LSM_MAC, sleepable=True)
    storage = func_proto(P.TRACING, H["sk_storage_get"], AT.TRACE_FEXIT)
    assert storage is not None
    assert not helper_allowed(storage, P.TRACING, AT.TRACE_FEXIT,
                              attach_btf_name="bpf_sk_storage_free")  # fmt: skip


def test_every_type_reaches_the_base_helpers() -> None:
    for prog_type in SUPPORTED_PROG_TYPES:
        if prog_type in (P.STRUCT_OPS, P.LIRC_MODE2):
            continue
        assert _can(prog_type, "map_lookup_elem"), prog_type
        assert _can(prog_type, "ringbuf_output"), prog_type
