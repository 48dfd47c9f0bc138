"""``bpf_seq_printf_btf``'s text: the shapes the kernel's own selftest expects
(``progs/netif_receive_skb.c``, compact mode) for the types pybpf's kernel BTF has, and
the helper's argument checks."""

from __future__ import annotations

import struct

import pytest

from pybpf.kernel.helpers.btf_show import (
    BTF_F_COMPACT,
    BTF_F_NONAME,
    BTF_F_PTR_RAW,
    BTF_F_ZERO,
    show_btf_value,
)
from pybpf.memory import MEMORY, RegionKind, allocate

C = BTF_F_COMPACT


def _show(type_name: str, kind: str, data: bytes, flags: int) -> str | None:
    from pybpf.kernel.vmlinux import type_id

    region = allocate(max(len(data), 1), RegionKind.MEM, "btf_show", True, data)
    try:
        return show_btf_value(type_id(type_name, kind), region.base, flags)
    finally:
        MEMORY.remove(region)


def _i32(v: int) -> bytes:
    return struct.pack("<i", v)


@pytest.mark.parametrize(("type_name", "kind", "data", "flags", "want"), [
    ("int", "int", _i32(1234), C, "(int)1234"),
    ("int", "int", _i32(1234), C | BTF_F_NONAME, "1234"),
    ("int", "int", _i32(0), C, "(int)0"),
    ("int", "int", _i32(0), C | BTF_F_NONAME | BTF_F_ZERO, "0"),
    ("int", "int", _i32(-4567), C | BTF_F_NONAME, "-4567"),
    ("char", "int", b"\x64", C | BTF_F_NONAME, "100"),
    ("char", "int", b"\0", C, "(char)0"),
    ("u64", "typedef", struct.pack("<Q", 1), C | BTF_F_NONAME, "1"),
    ("u64", "typedef", struct.pack("<Q", 0), C | BTF_F_ZERO, "(u64)0"),
    ("atomic_t", "typedef", _i32(1), C, "(atomic_t){.counter = (int)1,}"),
    ("atomic_t", "typedef", _i32(1), C | BTF_F_NONAME, "{1,}"),
    ("atomic_t", "typedef", _i32(0), C, "(atomic_t){}"),
    ("atomic_t", "typedef", _i32(0), C | BTF_F_NONAME, "{}"),
    ("atomic_t", "typedef", _i32(0), C | BTF_F_ZERO, "(atomic_t){.counter = (int)0,}"),
    ("atomic_t", "typedef", _i32(0), C | BTF_F_NONAME | BTF_F_ZERO, "{0,}"),
    ("list_head", "struct", struct.pack("<QQ", 1, 0), C | BTF_F_PTR_RAW,
     "(struct list_head){.next = (struct list_head *)0x0000000000000001,}"),
    ("list_head", "struct", bytes(16), C | BTF_F_PTR_RAW, "(struct list_head){}"),
])  # fmt: skip
def test_shapes_the_kernel_selftest_expects(type_name: str, kind: str, data: bytes, flags: int,
                                            want: str) -> None:  # fmt: skip
    assert _show(type_name, kind, data, flags) == want


def test_sk_buff_cb_array() -> None:
    from pybpf.kernel.vmlinux import offsetof, sizeof

    data = bytearray(sizeof("__sk_buff"))
    off = offsetof("__sk_buff", "cb")
    data[off : off + 20] = struct.pack("<5I", 1, 2, 3, 4, 5)
    assert _show("__sk_buff", "struct", bytes(data), C) == "(struct __sk_buff){.cb = (__u32[])[1,2,3,4,5,],}"


def test_unknown_type_id_is_enoent() -> None:
    from pybpf.kernel.vmlinux import kernel_btf

    assert show_btf_value(len(kernel_btf()) + 5, 0, 0) is None
