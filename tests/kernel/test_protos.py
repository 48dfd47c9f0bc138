"""Helper prototypes: the kernel's argument and return types, flags and variants."""

from __future__ import annotations

import pytest

from pybpf.isa.helper_ids import HELPER_IDS, HELPER_NAMES
from pybpf.kernel.protos import (
    ALL_PROTOS,
    CHANGES_PKT_DATA,
    COMPATIBLE_REG_TYPES,
    PROTOS,
    VARIANTS,
    ArgType,
    HelperProto,
    RetType,
    arg_base,
    arg_type_name,
    expected_types_str,
    proto,
    reg_type_fits,
    ret_type_name,
)
from pybpf.kernel.regtypes import (
    PTR_TO_MAP_VALUE_OR_NULL,
    RegType,
    TypeFlag,
    reg_type_str,
)

A = ArgType
R = RetType
MAYBE_NULL = TypeFlag.PTR_MAYBE_NULL
RDONLY = TypeFlag.MEM_RDONLY


def _p(name: str, variant: str = "") -> HelperProto:
    return proto(HELPER_IDS[name], variant)


def test_every_helper_id_has_a_prototype() -> None:
    assert sorted(PROTOS) == list(range(1, len(HELPER_NAMES)))
    for func_id, p in PROTOS.items():
        assert p.func_id == func_id
        assert p.name == "bpf_" + HELPER_NAMES[func_id]


def test_variants_are_unique_and_consistent() -> None:
    assert len(VARIANTS) == len(ALL_PROTOS)
    for (func_id, variant), p in VARIANTS.items():
        assert (p.func_id, p.variant) == (func_id, variant)
        assert len(p.arg_types) <= 5
        assert not p.arg_types or p.arg_types[-1] != A.DONTCARE
        assert all(arg_base(t) in COMPATIBLE_REG_TYPES or arg_base(t) == A.ANYTHING
                   for t in p.arg_types)  # fmt: skip


@pytest.mark.parametrize(
    ("composite", "value"),
    [
        (A.PTR_TO_MAP_VALUE_OR_NULL, MAYBE_NULL | A.PTR_TO_MAP_VALUE),
        (A.PTR_TO_MEM_OR_NULL, MAYBE_NULL | A.PTR_TO_MEM),
        (A.PTR_TO_CTX_OR_NULL, MAYBE_NULL | A.PTR_TO_CTX),
        (A.PTR_TO_SOCKET_OR_NULL, MAYBE_NULL | A.PTR_TO_SOCKET),
        (A.PTR_TO_STACK_OR_NULL, MAYBE_NULL | A.PTR_TO_STACK),
        (A.PTR_TO_BTF_ID_OR_NULL, MAYBE_NULL | A.PTR_TO_BTF_ID),
        (A.PTR_TO_UNINIT_MEM, TypeFlag.MEM_UNINIT | TypeFlag.MEM_WRITE | A.PTR_TO_MEM),
        (A.PTR_TO_FIXED_SIZE_MEM, TypeFlag.MEM_FIXED_SIZE | A.PTR_TO_MEM),
        (R.PTR_TO_MAP_VALUE_OR_NULL, MAYBE_NULL | R.PTR_TO_MAP_VALUE),
        (R.PTR_TO_RINGBUF_MEM_OR_NULL, MAYBE_NULL | TypeFlag.MEM_RINGBUF | R.PTR_TO_MEM),
        (R.PTR_TO_DYNPTR_MEM_OR_NULL, MAYBE_NULL | R.PTR_TO_MEM),
        (R.PTR_TO_BTF_ID_TRUSTED, TypeFlag.PTR_TRUSTED | R.PTR_TO_BTF_ID),
    ],
)
def test_composite_types_use_the_register_flag_bits(composite: int, value: int) -> None:
    assert int(composite) == int(value)


PROTO_TABLE = [
    ("map_lookup_elem", "", R.PTR_TO_MAP_VALUE_OR_NULL, (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY),
     False, True),
    ("map_update_elem", "", R.INTEGER,
     (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY, A.PTR_TO_MAP_VALUE, A.ANYTHING), False, True),
    ("map_pop_elem", "", R.INTEGER,
     (A.CONST_MAP_PTR, A.PTR_TO_MAP_VALUE | TypeFlag.MEM_UNINIT | TypeFlag.MEM_WRITE), False,
     False),
    ("trace_printk", "", R.INTEGER, (A.PTR_TO_MEM | RDONLY, A.CONST_SIZE), True, False),
    ("tail_call", "", R.VOID, (A.PTR_TO_CTX, A.CONST_MAP_PTR, A.ANYTHING), False, False),
    ("skb_load_bytes", "", R.INTEGER,
     (A.PTR_TO_CTX, A.ANYTHING, A.PTR_TO_UNINIT_MEM, A.CONST_SIZE), False, False),
    ("skb_store_bytes", "", R.INTEGER,
     (A.PTR_TO_CTX, A.ANYTHING, A.PTR_TO_MEM | RDONLY, A.CONST_SIZE, A.ANYTHING), False, False),
    ("csum_diff", "", R.INTEGER,
     (A.PTR_TO_MEM | MAYBE_NULL | RDONLY, A.CONST_SIZE_OR_ZERO,
      A.PTR_TO_MEM | MAYBE_NULL | RDONLY, A.CONST_SIZE_OR_ZERO, A.ANYTHING), False, True),
    ("redirect", "", R.INTEGER, (A.ANYTHING, A.ANYTHING), False, False),
    ("redirect_map", "", R.INTEGER, (A.CONST_MAP_PTR, A.ANYTHING, A.ANYTHING), False, False),
    ("ringbuf_reserve", "", R.PTR_TO_RINGBUF_MEM_OR_NULL,
     (A.CONST_MAP_PTR, A.CONST_ALLOC_SIZE_OR_ZERO, A.ANYTHING), False, False),
    ("ringbuf_submit", "", R.VOID,
     (A.PTR_TO_RINGBUF_MEM | TypeFlag.OBJ_RELEASE, A.ANYTHING), False, False),
    ("sk_lookup_tcp", "tc", R.PTR_TO_SOCKET_OR_NULL,
     (A.PTR_TO_CTX, A.PTR_TO_MEM | RDONLY, A.CONST_SIZE_OR_ZERO, A.ANYTHING, A.ANYTHING),
     False, True),
    ("sk_release", "", R.INTEGER, (A.PTR_TO_BTF_ID_SOCK_COMMON | TypeFlag.OBJ_RELEASE,),
     False, False),
    ("tcp_sock", "", R.PTR_TO_TCP_SOCK_OR_NULL, (A.PTR_TO_SOCK_COMMON,), False, False),
    ("perf_event_output", "kprobe", R.INTEGER,
     (A.PTR_TO_CTX, A.CONST_MAP_PTR, A.ANYTHING, A.PTR_TO_MEM | RDONLY,
      A.CONST_SIZE_OR_ZERO), True, False),
    ("get_stackid", "pe", R.INTEGER, (A.PTR_TO_CTX, A.CONST_MAP_PTR, A.ANYTHING), False,
     False),
    ("probe_read_kernel", "", R.INTEGER,
     (A.PTR_TO_UNINIT_MEM, A.CONST_SIZE_OR_ZERO, A.ANYTHING), True, False),
    ("fib_lookup", "", R.INTEGER,
     (A.PTR_TO_CTX, A.PTR_TO_MEM | TypeFlag.MEM_WRITE, A.CONST_SIZE, A.ANYTHING), True, False),
    ("loop", "", R.INTEGER, (A.ANYTHING, A.PTR_TO_FUNC, A.PTR_TO_STACK_OR_NULL, A.ANYTHING),
     False, False),
    ("get_current_task_btf", "", R.PTR_TO_BTF_ID_TRUSTED, (), True, False),
    ("kptr_xchg", "", R.PTR_TO_BTF_ID_OR_NULL,
     (A.KPTR_XCHG_DEST, A.PTR_TO_BTF_ID_OR_NULL | TypeFlag.OBJ_RELEASE), False, False),
]  # fmt: skip


@pytest.mark.parametrize(("name", "variant", "ret", "args", "gpl", "pkt"), PROTO_TABLE)
def test_prototype(name: str, variant: str, ret: int, args: tuple[int, ...], gpl: bool,
                   pkt: bool) -> None:  # fmt: skip
    p = _p(name, variant)
    assert p.ret_type == ret, ret_type_name(p.ret_type)
    assert p.arg_types == tuple(int(a) for a in args), [arg_type_name(a) for a in p.arg_types]
    assert (p.gpl_only, p.pkt_access) == (gpl, pkt)


def test_fixed_size_and_btf_details() -> None:
    strtol = _p("strtol")
    assert strtol.arg_size(3) == 8
    assert strtol.arg(3) & TypeFlag.MEM_ALIGNED
    assert _p("check_mtu").arg_sizes == (0, 0, 4, 0, 0)
    assert _p("tcp_raw_check_syncookie_ipv6").arg_sizes == (40, 20)
    assert _p("get_current_task_btf").ret_btf_id == "task_struct"
    assert _p("task_pt_regs").arg_btf_id(0) == "task_struct"
    assert _p("task_pt_regs").ret_btf_id == "pt_regs"
    assert _p("seq_printf").arg_btf_id(0) == "seq_file"
    assert _p("skc_to_tcp_sock").ret_btf_id == "tcp_sock"
    assert _p("d_path").allowed == "d_path"
    assert _p("get_smp_processor_id").allow_fastcall
    assert not _p("get_smp_processor_id", "raw").allow_fastcall
    assert _p("copy_from_user").might_sleep
    assert _p("get_task_stack", "sleepable").might_sleep
    assert _p("ringbuf_discard").releases == 0
    assert _p("map_lookup_elem").releases is None
    assert _p("get_func_arg").nargs == 3 and _p("get_func_arg").arg(4) == A.DONTCARE


def test_every_gpl_only_helper() -> None:
    gpl = sorted({p.name for p in ALL_PROTOS if p.gpl_only and p.variant in ("", "kprobe")})
    assert "bpf_trace_printk" in gpl and "bpf_probe_read_kernel" in gpl
    assert "bpf_map_lookup_elem" not in gpl and "bpf_get_stackid" in gpl
    assert not _p("get_stackid", "pe").gpl_only  # the perf_event variant is not


def test_expected_types_message() -> None:
    assert expected_types_str(A.PTR_TO_MEM | RDONLY) == (
        "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_"
    )
    assert expected_types_str(A.CONST_MAP_PTR) == "map_ptr"
    assert expected_types_str(A.CONST_SIZE) == "scalar"
    assert expected_types_str(A.PTR_TO_SOCK_COMMON) == "sock_common, sock, tcp_sock, xdp_sock"
    assert expected_types_str(A.PTR_TO_BTF_ID_SOCK_COMMON) == (
        "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_"
    )
    assert expected_types_str(A.PTR_TO_BTF_ID) == "ptr_, trusted_ptr_, rcu_ptr_"
    assert expected_types_str(A.PTR_TO_PERCPU_BTF_ID) == (
        "percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_"
    )
    assert expected_types_str(A.PTR_TO_DYNPTR) == "fp, dynptr_ptr"
    assert expected_types_str(A.PTR_TO_RINGBUF_MEM) == "ringbuf_mem"
    assert expected_types_str(A.ANYTHING) == ""


@pytest.mark.parametrize(
    ("arg", "reg", "fits"),
    [
        (A.PTR_TO_MEM, RegType.PTR_TO_STACK, True),
        (A.PTR_TO_MEM, RegType.PTR_TO_CTX, False),
        (A.PTR_TO_MEM | RDONLY, RegType.PTR_TO_MEM | RDONLY, True),
        (A.PTR_TO_MEM, RegType.PTR_TO_MEM | RDONLY, False),
        (A.PTR_TO_MEM, RegType.PTR_TO_MEM | TypeFlag.DYNPTR_TYPE_LOCAL, True),
        (A.PTR_TO_MAP_VALUE_OR_NULL, PTR_TO_MAP_VALUE_OR_NULL, True),
        (A.PTR_TO_MAP_VALUE, PTR_TO_MAP_VALUE_OR_NULL, False),
        (A.PTR_TO_SOCK_COMMON, RegType.PTR_TO_TCP_SOCK, True),
        (A.PTR_TO_SOCKET, RegType.PTR_TO_SOCK_COMMON, False),
        (A.CONST_SIZE, RegType.SCALAR_VALUE, True),
        (A.ANYTHING, RegType.SCALAR_VALUE, False),  # not type-checked at all
    ],
)
def test_reg_type_fits(arg: int, reg: int, fits: bool) -> None:
    assert reg_type_fits(arg, reg) is fits


def test_reg_type_str() -> None:
    assert reg_type_str(RegType.PTR_TO_STACK) == "fp"
    assert reg_type_str(PTR_TO_MAP_VALUE_OR_NULL) == "map_value_or_null"
    assert reg_type_str(RegType.PTR_TO_MEM | TypeFlag.MEM_RINGBUF | RDONLY) == "rdonly_ringbuf_mem"
    task = RegType.PTR_TO_BTF_ID | TypeFlag.PTR_TRUSTED | MAYBE_NULL
    assert reg_type_str(task, "task_struct") == "trusted_ptr_or_null_task_struct"


def test_names() -> None:
    assert arg_type_name(A.PTR_TO_MAP_VALUE_OR_NULL) == "ARG_PTR_TO_MAP_VALUE_OR_NULL"
    assert arg_type_name(A.PTR_TO_MEM | RDONLY) == "ARG_PTR_TO_MEM|MEM_RDONLY"
    assert ret_type_name(R.PTR_TO_MEM_OR_BTF_ID | RDONLY) == "RET_PTR_TO_MEM_OR_BTF_ID|MEM_RDONLY"
    assert PROTOS[1].describe() == (
        "RET_PTR_TO_MAP_VALUE_OR_NULL bpf_map_lookup_elem(ARG_CONST_MAP_PTR, ARG_PTR_TO_MAP_KEY)"
    )


def test_helpers_that_change_packet_data_take_the_ctx_first() -> None:
    assert HELPER_IDS["skb_pull_data"] in CHANGES_PKT_DATA
    assert HELPER_IDS["map_lookup_elem"] not in CHANGES_PKT_DATA
    for func_id in CHANGES_PKT_DATA:
        for p in ALL_PROTOS:
            if p.func_id == func_id:
                assert p.arg(0) == A.PTR_TO_CTX, p.describe()
