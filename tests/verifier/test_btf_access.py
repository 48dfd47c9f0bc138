"""Loads through BTF pointers and map pointers: pybpf's verifier against the kernel's.

Recorded answers: tests/data/verifier/btf_access_kernel.json (regenerate with
``python -m tests.verifier.test_btf_access`` where bpf() works).
"""

from __future__ import annotations

import pytest

from pybpf.btf import Btf, Int, Member, Ptr, Struct, TypeTag, Union
from pybpf.kernel.regtypes import TypeFlag
from pybpf.maps.types import MapType
from pybpf.verifier.btf_access import BtfAccessError, Walk, btf_struct_walk

from .kptr_harness import (
    Case,
    MapDef,
    live_mismatches,
    record,
    recorded_mismatches,
)

TASK = "call bpf_get_current_task_btf\n"
END = "r0 = 0\nexit\n"
HASH = (MapDef(MapType.HASH, with_btf=False),)
ARRAY = (MapDef(MapType.ARRAY, with_btf=False),)


def _task(name: str, body: str, **kw: object) -> Case:
    return Case(name, "kprobe", TASK + body + "\n" + END, **kw)  # type: ignore[arg-type]


def _mapptr(name: str, body: str, maps: tuple[MapDef, ...] = HASH, **kw: object) -> Case:
    return Case(name, "socket_filter", "r1 = map[idx:0]\n" + body + "\n" + END, maps, **kw)  # type: ignore[arg-type]


TCP = (
    "r1 = *(u64 *)(r1 + 168)\nif r1 == 0 goto out\ncall bpf_skc_to_tcp_sock\nif r0 == 0 goto out\n"
)


def _tc(name: str, body: str) -> Case:
    return Case(name, "sched_cls", TCP + body + "\nout:\n" + END)


CASES: tuple[Case, ...] = (
    _tc("tc_tcp_sock_write", "*(u32 *)(r0 + 0) = 1"),
    _tc("tc_tcp_sock_snd_cwnd", "r1 = *(u32 *)(r0 + {off:tcp_sock.snd_cwnd})"),
    _tc("tc_tcp_sock_snd_cwnd_u64", "r1 = *(u64 *)(r0 + {off:tcp_sock.snd_cwnd})"),
    _task("task_pid_u32", "r1 = *(u32 *)(r0 + {off:task_struct.pid})"),
    _task("task_pid_u8", "r1 = *(u8 *)(r0 + {off:task_struct.pid})"),
    _task("task_pid_u64_past_member", "r1 = *(u64 *)(r0 + {off:task_struct.tgid})"),
    _task("task_ptr_member_half", "r1 = *(u32 *)(r0 + {off:task_struct.real_parent})"),
    _task(
        "task_real_parent_then_pid",
        "r1 = *(u64 *)(r0 + {off:task_struct.real_parent})\nr2 = *(u32 *)(r1 + {off:task_struct.pid})",
    ),
    _task(
        "task_parent_then_pid",
        "r1 = *(u64 *)(r0 + {off:task_struct.parent})\nr2 = *(u32 *)(r1 + {off:task_struct.pid})",
    ),
    _task("task_write_pid", "*(u32 *)(r0 + {off:task_struct.pid}) = 1"),
    _task("task_write_reg_pid", "r1 = 1\n*(u32 *)(r0 + {off:task_struct.pid}) = r1"),
    _task("task_negative", "r1 = *(u32 *)(r0 - 8)"),
    _task(
        "task_var_off",
        "r1 = *(u32 *)(r0 + {off:task_struct.pid})\nr1 &= 8\nr0 += r1\nr1 = *(u32 *)(r0 + 0)",
    ),
    _task("task_comm_byte", "r1 = *(u8 *)(r0 + {off:task_struct.comm})"),
    _task("task_comm_u64", "r1 = *(u64 *)(r0 + {off:task_struct.comm})"),
    _task("task_nongpl", "r1 = *(u32 *)(r0 + {off:task_struct.pid})", gpl=False),
    _mapptr("map_u32_at_0", "r2 = *(u32 *)(r1 + 0)"),
    _mapptr("map_u32_at_1", "r2 = *(u32 *)(r1 + 1)"),
    _mapptr("map_write", "*(u32 *)(r1 + 0) = 0"),
    _mapptr("map_write_array", "*(u32 *)(r1 + 0) = 0", ARRAY),
    _mapptr("map_negative", "r2 = *(u32 *)(r1 - 8)"),
    _mapptr("map_ops_ptr", "r2 = *(u64 *)(r1 + {off:bpf_map.ops})"),
    _mapptr("map_ops_ptr_half", "r2 = *(u32 *)(r1 + {off:bpf_map.ops})"),
    _mapptr("map_key_size", "r2 = *(u32 *)(r1 + {off:bpf_map.key_size})"),
    _mapptr("map_max_entries_u64", "r2 = *(u64 *)(r1 + {off:bpf_map.max_entries})"),
    _mapptr(
        "map_inner_meta_deref",
        "r2 = *(u64 *)(r1 + {off:bpf_map.inner_map_meta})\nr0 = *(u32 *)(r2 + {off:bpf_map.key_size})",
    ),
    _mapptr("map_htab_n_buckets", "r2 = *(u32 *)(r1 + {off:bpf_htab.n_buckets})"),
    _mapptr("map_array_elem_size", "r2 = *(u32 *)(r1 + {off:bpf_array.elem_size})", ARRAY),
)


def test_pybpf_answers_are_the_kernels_recorded() -> None:
    bad = recorded_mismatches("btf_access_kernel", CASES)
    if bad is None:
        pytest.skip("no recorded kernel answers")
    assert not bad, bad


@pytest.mark.kernel
def test_pybpf_answers_are_the_live_kernels() -> None:
    from pybpf import oracle

    if not oracle.available():
        pytest.skip(oracle.unavailable_reason())
    bad = live_mismatches(CASES)
    assert not bad, bad


# --- the BTF walk alone -------------------------------------------------------------------


def _btf() -> tuple[Btf, int, int]:
    b = Btf()
    i32 = b.add(Int(name="int", size=4, bits=32))
    inner = b.add(
        Struct(
            name="inner",
            size=8,
            members=(Member(name="a", type=i32, offset=0), Member(name="b", type=i32, offset=32)),
        )
    )
    pinner = b.add(Ptr(type=inner))
    rcu = b.add(TypeTag(name="rcu", type=inner))
    prcu = b.add(Ptr(type=rcu))
    u = b.add(
        Union(
            name="u",
            size=8,
            members=(Member(name="p", type=pinner, offset=0), Member(name="x", type=i32, offset=0)),
        )
    )
    outer = b.add(
        Struct(
            name="outer",
            size=40,
            members=(
                Member(name="x", type=i32, offset=0),
                Member(name="in", type=inner, offset=32),
                Member(name="p", type=pinner, offset=128),
                Member(name="r", type=prcu, offset=192),
                Member(name="u", type=u, offset=256),
            ),
        )
    )
    return b, outer, inner


def test_walk_finds_scalars_nested_structs_and_pointers() -> None:
    b, outer, inner = _btf()
    assert btf_struct_walk(b, outer, 0, 4, 0, True).kind is Walk.SCALAR
    s = btf_struct_walk(b, outer, 4, 4, 0, True)
    assert s.kind is Walk.STRUCT and s.next_id == inner
    p = btf_struct_walk(b, outer, 16, 8, 0, True)
    assert p.kind is Walk.PTR and p.next_id == inner and p.field_name == "p" and p.flag == 0
    r = btf_struct_walk(b, outer, 24, 8, 0, True)
    assert r.kind is Walk.PTR and r.flag == TypeFlag.MEM_RCU
    u = btf_struct_walk(b, outer, 32, 8, 0, True)
    assert u.kind is Walk.STRUCT  # the union, walked next at offset 0
    up = btf_struct_walk(b, u.next_id, 0, 8, 0, True)
    assert (
        up.kind is Walk.PTR and up.flag & TypeFlag.PTR_UNTRUSTED
    )  # unions make pointers untrusted


@pytest.mark.parametrize(("off", "size", "message"), [
    (40, 4, "access beyond struct outer at off 40 size 4"),
    (16, 4, "cannot access ptr member p with moff 16 in struct outer with off 16 size 4"),
    (0, 8, "access beyond the end of member x (mend:4) in struct outer with off 0 size 8"),
])  # fmt: skip
def test_walk_refusals(off: int, size: int, message: str) -> None:
    b, outer, _ = _btf()
    with pytest.raises(BtfAccessError) as ei:
        btf_struct_walk(b, outer, off, size, 0, True)
    assert ei.value.message == message


def test_loaded_pointer_type() -> None:
    from pybpf.isa.asm_c import assemble_c
    from pybpf.kernel.vmlinux import offsetof
    from pybpf.verifier import verify

    text = f"call bpf_get_current_task_btf\nr1 = *(u64 *)(r0 + {offsetof('task_struct', 'parent')})\n{END}"
    res = verify(assemble_c(text), "kprobe", log_level=2)
    assert res.accepted
    assert "R1=ptr_task_struct()" in res.log  # walking a trusted pointer, not in the safe list
    text = f"call bpf_get_current_task_btf\nr1 = *(u64 *)(r0 + {offsetof('task_struct', 'real_parent')})\n{END}"
    assert "R1=rcu_ptr_task_struct()" in verify(assemble_c(text), "kprobe", log_level=2).log


if __name__ == "__main__":
    record("btf_access_kernel", CASES)
