"""CO-RE: relocations applied against the kernel's BTF and against a BTF of our own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pybpf
from pybpf.btf import Btf, Enum, EnumValue, Int, IntEncoding, Member, Struct
from pybpf.elf.core import VMLINUX_BTF

PKT = bytes(60)

pytest.importorskip("pybpf.btf.core", reason="the btf package's CO-RE resolver is not here")


def _target(with_extra_field: bool) -> Btf:
    """A small kernel BTF: xdp_md (maybe with one more field), ethhdr, xdp_action."""
    btf = Btf()
    u32 = btf.add(Int(name="unsigned int", size=4, bits=32))
    u8 = btf.add(Int(name="unsigned char", size=1, bits=8, encoding=IntEncoding.NONE))
    names = ["data", "data_end", "data_meta", "ingress_ifindex"]
    if with_extra_field:
        names[3] = "not_in_the_kernel"
    btf.add(Struct(name="xdp_md", size=16,
                   members=tuple(Member(name=n, type=u32, offset=32 * i) for i, n in enumerate(names))))
    from pybpf.btf import Array

    idx = btf.add(Int(name="__ARRAY_SIZE_TYPE__", size=4, bits=32))
    mac = btf.add(Array(type=u8, index_type=idx, nelems=6))
    btf.add(Struct(name="ethhdr", size=14, members=(
        Member(name="h_dest", type=mac, offset=0), Member(name="h_source", type=mac, offset=48),
        Member(name="h_proto", type=btf.add(Int(name="unsigned short", size=2, bits=16)), offset=96))))
    btf.add(Enum(name="xdp_action", size=4, values=tuple(
        EnumValue(name=n, value=v) for n, v in
        (("XDP_ABORTED", 0), ("XDP_DROP", 1), ("XDP_PASS", 2), ("XDP_TX", 3), ("XDP_REDIRECT", 4))
    )))  # fmt: skip
    return btf


def test_core_against_a_given_btf(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["core"], btf=_target(with_extra_field=False))
    linked = obj.programs["xdp_core"].link()
    # the missing field's load was poisoned, and only it
    assert [(p.insn_idx, p.relo_idx) for p in linked.core_poisoned] == [(25, 8)]
    assert linked.insns[25].code == 0x85 and linked.insns[25].imm == 0xBAD2310
    # data_end/data swapped back to the target's offsets
    assert (linked.insns[0].off, linked.insns[1].off) == (0, 4)
    obj.load()  # the poisoned load sits behind "field exists" == 0: dead code
    assert obj.programs["xdp_core"].run(PKT).retval == 2
    assert obj.bss.sizes == [4, 14, 0, 0]
    assert obj.bss.values == [60, 2, 0, 0]
    obj.close()


def test_core_when_the_target_has_the_field(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["core"], btf=_target(with_extra_field=True))
    linked = obj.programs["xdp_core"].link()
    assert not linked.core_poisoned
    assert linked.insns[25].off == 12  # not_in_the_kernel sits where ingress_ifindex is
    obj.load()
    obj.programs["xdp_core"].run(PKT)
    assert obj.bss.sizes == [4, 14, 0, 1]
    obj.close()


@pytest.mark.skipif(not os.path.exists(VMLINUX_BTF), reason="no /sys/kernel/btf/vmlinux")
def test_core_against_the_running_kernel(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["core"])
    obj.load()
    assert obj.programs["xdp_core"].run(PKT).retval == 2
    assert obj.bss.values == [60, 2, 0, 0]
    obj.close()


def test_core_without_a_target(objects: dict[str, Path], tmp_path: Path) -> None:
    obj = pybpf.open(objects["core"], btf=tmp_path / "missing")
    with pytest.raises(pybpf.BpfError) as exc:
        obj.load()
    assert exc.value.errno == 2 and "\n" not in exc.value.message
