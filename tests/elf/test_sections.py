"""SEC() names: libbpf's table, its matching rules and the ``?`` prefix."""

from __future__ import annotations

import pytest

from pybpf.elf.mapdefs import adjust_ringbuf_size, internal_map_name
from pybpf.elf.sections import BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, find_sec_def, split_autoload
from pybpf.kernel.progtypes import AttachType as A
from pybpf.kernel.progtypes import ProgType as P


@pytest.mark.parametrize(
    ("name", "prog_type", "attach"),
    [
        ("socket", P.SOCKET_FILTER, None),
        ("xdp", P.XDP, A.XDP),
        ("xdp.frags", P.XDP, A.XDP),
        ("xdp/devmap", P.XDP, A.XDP_DEVMAP),
        ("tc", P.SCHED_CLS, None),
        ("classifier", P.SCHED_CLS, None),
        ("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS),
        ("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS),
        ("action", P.SCHED_ACT, None),
        ("kprobe/do_sys_open", P.KPROBE, None),
        ("kretprobe/do_sys_open", P.KPROBE, None),
        ("kprobe", P.KPROBE, None),
        ("kprobe.multi/foo*", P.KPROBE, A.TRACE_KPROBE_MULTI),
        ("uprobe.s/bin:sym", P.KPROBE, None),
        ("tracepoint/syscalls/sys_enter_openat", P.TRACEPOINT, None),
        ("tp/sched/sched_switch", P.TRACEPOINT, None),
        ("raw_tp/sched_switch", P.RAW_TRACEPOINT, None),
        ("raw_tp.w/foo", P.RAW_TRACEPOINT_WRITABLE, None),
        ("tp_btf/sched_switch", P.TRACING, A.TRACE_RAW_TP),
        ("fentry/do_unlinkat", P.TRACING, A.TRACE_FENTRY),
        ("fexit/do_unlinkat", P.TRACING, A.TRACE_FEXIT),
        ("fmod_ret/foo", P.TRACING, A.MODIFY_RETURN),
        ("lsm/file_open", P.LSM, A.LSM_MAC),
        ("lsm_cgroup/socket_bind", P.LSM, A.LSM_CGROUP),
        ("iter/bpf_map", P.TRACING, A.TRACE_ITER),
        ("iter.s/task", P.TRACING, A.TRACE_ITER),
        ("struct_ops/tcp_init", P.STRUCT_OPS, None),
        ("struct_ops", P.STRUCT_OPS, None),
        ("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS),
        ("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS),
        ("cgroup/skb", P.CGROUP_SKB, None),
        ("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
        ("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT),
        ("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE),
        ("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER),
        ("sk_skb", P.SK_SKB, None),
        ("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT),
        ("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS),
        ("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR),
        ("syscall", P.SYSCALL, None),
        ("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP),
        ("netfilter", P.NETFILTER, A.NETFILTER),
        ("perf_event", P.PERF_EVENT, None),
        ("lwt_xmit", P.LWT_XMIT, None),
    ],
)
def test_section_table(name: str, prog_type: P, attach: A | None) -> None:
    d = find_sec_def(name)
    assert d is not None
    assert (d.prog_type, d.attach_type) == (prog_type, attach)


@pytest.mark.parametrize(
    "name", ["xdpfoo", "socket/extra", "kprobefoo", "fentry_x", "tcx", "cgroup_skb", "", "maps"]
)
def test_unmatched_sections(name: str) -> None:
    assert find_sec_def(name) is None


def test_program_flags() -> None:
    assert find_sec_def("xdp.frags") and find_sec_def("xdp.frags").prog_flags == BPF_F_XDP_HAS_FRAGS  # type: ignore[union-attr]
    assert find_sec_def("fentry.s/foo").prog_flags == BPF_F_SLEEPABLE  # type: ignore[union-attr]
    assert find_sec_def("xdp").prog_flags == 0  # type: ignore[union-attr]


def test_question_mark_turns_autoload_off() -> None:
    assert split_autoload("?xdp") == ("xdp", False)
    assert split_autoload("xdp") == ("xdp", True)


@pytest.mark.parametrize(
    ("obj", "section", "expected"),
    [
        ("globals", ".rodata", "globals.rodata"),
        ("globals", ".bss", "globals.bss"),
        ("my_object_name", ".rodata", "my_objec.rodata"),
        ("my_object_name", ".bss", "my_objec.bss"),
        ("my_object_name", ".kconfig", "my_obje.kconfig"),
        ("x", ".rodata.str1.1", ".rodata.str1.1"),
        ("x", ".rodata.abracadabra", ".rodata.abracad"),
        ("x", ".data.custom", ".data.custom"),
        ("a-b", ".data", "a_b.data"),
    ],
)
def test_internal_map_names(obj: str, section: str, expected: str) -> None:
    assert internal_map_name(obj, section) == expected


def test_ringbuf_size_rounding() -> None:
    assert adjust_ringbuf_size(0) == 0
    assert adjust_ringbuf_size(4096) == 4096
    assert adjust_ringbuf_size(5000) == 8192
    assert adjust_ringbuf_size(3 * 4096) == 4 * 4096
