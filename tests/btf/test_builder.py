"""BtfBuilder: ids back, C layout like clang's, kernel-valid output."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybpf.btf import Int, Struct, Union, parse
from pybpf.btf.builder import BtfBuilder, Field
from pybpf.btf.dump_c import c_type_name, dump_c
from pybpf.btf.files import load_file
from pybpf.errors import BpfError


def test_kernel_like_types_validate_and_dump() -> None:
    b = BtfBuilder()
    i32 = b.int_type("int", 4, signed=True)
    u8 = b.int_type("unsigned char", 1)
    u16 = b.int_type("unsigned short", 2)
    u32 = b.int_type("unsigned int", 4)
    u64 = b.int_type("long long unsigned int", 8)
    assert b.int_type("int", 4, signed=True) == i32
    node = b.declare_struct("list_head")
    b.define_struct(node, [("next", b.ptr(node)), ("prev", b.ptr(node))])
    task = b.declare_struct("task_struct")
    b.define_struct(task, [("pid", i32, 2416), ("tgid", i32, 2420), ("real_parent", b.ptr(task), 2432),
                           ("comm", b.array(b.int_type("char", 1, signed=True), 16), 3000)], size=9792)  # fmt: skip
    sock = b.struct("sock_common", [("skc_family", u16), ("skc_state", u8), Field("skc_reuse", u8, bits=4),
                                    Field("skc_reuseport", u8, bits=1), ("skc_hash", u32)])  # fmt: skip
    ref = b.struct("prog_test_ref_kfunc", [("a", i32), ("b", i32), ("next", b.ptr(b.declare_struct("prog_test_ref_kfunc"))),
                                           ("cnt", u64)])  # fmt: skip
    proto = b.func_proto(b.ptr(ref), [("scalar_ptr", b.ptr(u64))])
    b.func("bpf_kfunc_call_test_acquire", proto)
    b.func_proto(i32, [("fmt", b.ptr(b.const(b.int_type("char", 1, signed=True))))], variadic=True)
    b.enum("tcp_state", {"TCP_ESTABLISHED": 1, "TCP_CLOSE": 7})
    b.enum("big", {"HUGE": 1 << 40})
    b.validate()
    btf = parse(b.encode())
    s = btf[sock]
    assert isinstance(s, Struct) and s.size == 8 and s.kflag
    assert [(m.name, m.offset, m.bitfield_size) for m in s.members] == [
        ("skc_family", 0, 0), ("skc_state", 16, 0), ("skc_reuse", 24, 4), ("skc_reuseport", 28, 1), ("skc_hash", 32, 0)]  # fmt: skip
    t = btf[task]
    assert isinstance(t, Struct) and t.size == 9792 and t.members[2].offset == 2432 * 8
    assert "struct task_struct *real_parent;" in dump_c(btf)
    assert c_type_name(btf, proto) == "struct prog_test_ref_kfunc *(u64 *scalar_ptr)".replace("u64", "long long unsigned int")


def test_layout_too_small() -> None:
    b = BtfBuilder()
    with pytest.raises(BpfError):
        b.struct("s", [("a", b.int_type("long", 8, signed=True))], size=4)


def test_union_layout() -> None:
    b = BtfBuilder()
    u = b.union("u", [("c", b.int_type("char", 1)), ("l", b.int_type("long", 8))])
    t = b.btf[u]
    assert isinstance(t, Union) and t.size == 8 and all(m.offset == 0 for m in t.members)


@pytest.mark.parametrize("stem", ["layouts", "prog", "core"])
def test_auto_layout_agrees_with_clang(stem: str, objects: dict[str, Path]) -> None:
    """Every struct clang laid out naturally gets the same offsets and size from the builder."""
    btf = load_file(objects[stem])
    b = BtfBuilder(btf=btf)
    checked = 0
    for _, t in list(btf.items()):
        if not isinstance(t, Struct) or not t.members or t.name in ("aligned16", "big_gap", "outer_packed_inner",
                                                                    "contains_uneven", "all", "bits", "bits_gap"):  # fmt: skip
            continue
        if any(isinstance(btf[m.type], Int) and btf[m.type].offset for m in t.members):  # type: ignore[union-attr]
            continue
        from pybpf.btf.dump_c import CDumper

        if CDumper(btf, for_definitions=False)._is_packed(t) or any(
            m.bitfield_size == 0 and m.type and btf.kind(m.type).name == "ARRAY" and not btf[m.type].nelems  # type: ignore[union-attr]
            for m in t.members
        ):
            continue
        fields = [Field(m.name, m.type, bits=m.bitfield_size) for m in t.members]
        rebuilt = b._layout(t.name, fields, None, False)
        assert [(m.offset, m.bitfield_size) for m in rebuilt.members] == [(m.offset, m.bitfield_size) for m in t.members], t.name
        assert rebuilt.size == t.size, t.name
        checked += 1
    assert checked >= 3
