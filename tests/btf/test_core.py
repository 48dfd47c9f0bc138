"""CO-RE: pybpf's decisions and log lines are libbpf's (recorded and live), plus units."""

from __future__ import annotations

import errno
import os
import platform
import struct
from pathlib import Path

import pytest

from pybpf.btf import Btf, Enum, EnumValue, Int, Member, Ptr, Struct, Typedef, Union
from pybpf.btf.core import (
    POISON_IMM,
    CoreRelocator,
    CoreResult,
    CoreTarget,
    essential_name,
    parse_spec,
    patch_insn,
    types_match,
)
from pybpf.btf.ext import CoreRelo, CoreReloKind
from pybpf.btf.files import VMLINUX, load_file, load_vmlinux
from pybpf.errors import BpfError
from pybpf.oracle import available, unavailable_reason

from . import core_verdicts
from .core_harness import object_digest, pybpf_relo_lines
from .libbpf_core import libbpf_relo_lines

RECORDED = core_verdicts.load()
needs_kernel = pytest.mark.skipif(not available(), reason=f"bpf() unavailable: {unavailable_reason()}")


def _same_object(objects: dict[str, Path]) -> None:
    if object_digest(objects["core"]) != RECORDED["object_digest"]:
        pytest.skip("core.o differs from the recorded one (another clang?)")


@pytest.mark.parametrize("target", core_verdicts.TARGETS)
def test_matches_recorded_libbpf(target: str, objects: dict[str, Path]) -> None:
    _same_object(objects)
    ours = pybpf_relo_lines(objects["core"], CoreTarget(load_file(objects[target])))
    assert ours == RECORDED["targets"][target]  # type: ignore[index]


@pytest.mark.skipif(not os.path.exists(VMLINUX), reason="no vmlinux BTF")
def test_matches_recorded_libbpf_on_vmlinux(objects: dict[str, Path]) -> None:
    _same_object(objects)
    rec = RECORDED["vmlinux"]
    if rec["kernel"] != platform.release():  # type: ignore[index]
        pytest.skip("recorded on another kernel")
    assert pybpf_relo_lines(objects["core"], CoreTarget(load_vmlinux())) == rec["lines"]  # type: ignore[index]


@pytest.mark.kernel
@needs_kernel
@pytest.mark.parametrize("target", [*core_verdicts.TARGETS, "vmlinux"])
def test_matches_live_libbpf(target: str, objects: dict[str, Path]) -> None:
    tgt = None if target == "vmlinux" else objects[target]
    core_target = CoreTarget(load_vmlinux() if tgt is None else load_file(tgt))
    assert pybpf_relo_lines(objects["core"], core_target) == libbpf_relo_lines(objects["core"], tgt)


def test_essential_names() -> None:
    assert essential_name("task_struct___v2") == "task_struct"
    assert essential_name("a___b___c") == "a___b"
    assert essential_name("a____b") == "a____b"
    assert essential_name("___x") == "___x"
    assert essential_name("x___") == "x___"
    assert essential_name("plain") == "plain"


def _pair() -> tuple[Btf, Btf, int, int]:
    """A local struct s {int a; unsigned b:3;} and a target with other offsets."""
    local = Btf()
    i = local.add(Int(name="int", size=4, bits=32, encoding=1))
    u = local.add(Int(name="unsigned int", size=4, bits=32))
    s = local.add(Struct(name="s", size=8, kflag=True, members=(
        Member(name="a", type=i, offset=0), Member(name="b", type=u, offset=32, bitfield_size=3))))
    target = Btf()
    ti = target.add(Int(name="int", size=4, bits=32, encoding=1))
    tu = target.add(Int(name="unsigned int", size=4, bits=32))
    target.add(Typedef(name="pad_t", type=ti))
    ts = target.add(Struct(name="s___real", size=16, kflag=True, members=(
        Member(name="pad", type=ti, offset=0), Member(name="b", type=tu, offset=37, bitfield_size=3),
        Member(name="a", type=ti, offset=64))))
    return local, target, s, ts


def test_field_relocations_against_a_built_target() -> None:
    local, target, s, ts = _pair()
    r = CoreRelocator(local, CoreTarget(target), "p")

    def val(kind: CoreReloKind, access: str) -> CoreResult:
        return r.resolve(CoreRelo(0, s, access, kind)).result

    assert val(CoreReloKind.FIELD_BYTE_OFFSET, "0:0").new_val == 8
    off = val(CoreReloKind.FIELD_BYTE_OFFSET, "0:1")
    assert (off.orig_val, off.new_val) == (4, 4)
    assert val(CoreReloKind.FIELD_LSHIFT_U64, "0:1").new_val == 64 - (37 + 3 - 32)
    assert val(CoreReloKind.FIELD_RSHIFT_U64, "0:1").new_val == 61
    assert val(CoreReloKind.FIELD_SIGNED, "0:0").new_val == 1
    assert val(CoreReloKind.TYPE_SIZE, "0").new_val == 16
    assert val(CoreReloKind.TYPE_ID_TARGET, "0").new_val == ts


def test_missing_field_poisons_and_exists_is_zero() -> None:
    local, _, s, _ = _pair()
    empty = Btf()
    empty.add(Struct(name="s", size=4))
    r = CoreRelocator(local, CoreTarget(empty))
    assert r.resolve(CoreRelo(0, s, "0:0", CoreReloKind.FIELD_BYTE_OFFSET)).result.poison
    res = r.resolve(CoreRelo(0, s, "0:0", CoreReloKind.FIELD_EXISTS)).result
    assert (res.poison, res.orig_val, res.new_val) == (False, 1, 0)


def test_enum_values_sign_extend() -> None:
    local = Btf()
    e = local.add(Enum(name="e", values=(EnumValue(name="NEG", value=-1),), signed=True))
    target = Btf()
    target.add(Enum(name="e", values=(EnumValue(name="X", value=3), EnumValue(name="NEG", value=-2)), signed=True))
    res = CoreRelocator(local, CoreTarget(target)).resolve(CoreRelo(0, e, "0", CoreReloKind.ENUMVAL_VALUE))
    assert (res.result.orig_val, res.result.new_val) == (2**64 - 1, 2**64 - 2)


def test_bad_access_strings() -> None:
    local, _, s, _ = _pair()
    for access, kind in (("", CoreReloKind.FIELD_EXISTS), (":0", CoreReloKind.FIELD_EXISTS),
                         ("0:9", CoreReloKind.FIELD_BYTE_OFFSET), ("1", CoreReloKind.TYPE_SIZE),
                         ("0:x", CoreReloKind.FIELD_BYTE_SIZE), ("0:-1", CoreReloKind.FIELD_BYTE_SIZE)):  # fmt: skip
        with pytest.raises(BpfError) as exc:
            parse_spec(local, CoreRelo(0, s, access, kind))
        assert exc.value.errno == errno.EINVAL


def test_types_match_struct_behind_pointer_matches_fwd() -> None:
    from pybpf.btf import Fwd

    local = Btf()
    ls = local.add(Struct(name="x", size=4))
    lp = local.add(Ptr(type=ls))
    target = Btf()
    tf = target.add(Fwd(name="x"))
    tp = target.add(Ptr(type=tf))
    assert types_match(local, lp, target, tp)
    tu = target.add(Fwd(name="x", union=True))
    assert not types_match(local, lp, target, target.add(Ptr(type=tu)))
    assert not types_match(local, ls, target, tf)
    assert types_match(local, local.add(Union(name="u", size=4)), target, target.add(Union(name="u___2", size=8)))


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, dst | (src << 4), off, imm)


def test_patching_raw_instructions() -> None:
    relo = CoreRelo(0, 1, "0:0", CoreReloKind.FIELD_BYTE_OFFSET)
    insns = bytearray(_insn(0x07, 1, imm=4))  # r1 += 4
    assert patch_insn(insns, 0, relo, CoreResult(4, 12), "p", 3) == ["prog 'p': relo #3: patched insn #0 (ALU/ALU64) imm 4 -> 12"]
    assert struct.unpack("<i", insns[4:8])[0] == 12
    ldx = bytearray(_insn(0x61, 0, 1, off=4))  # r0 = *(u32 *)(r1 + 4)
    lines = patch_insn(ldx, 0, relo, CoreResult(4, 16, orig_sz=4, new_sz=8, orig_type_id=1, new_type_id=2))
    assert ldx[0] == 0x79 and struct.unpack("<h", ldx[2:4])[0] == 16 and len(lines) == 2
    with pytest.raises(BpfError) as exc:
        patch_insn(bytearray(_insn(0x07, 1, imm=5)), 0, relo, CoreResult(4, 12))
    assert exc.value.errno == errno.EINVAL and "unexpected insn #0 (ALU/ALU64) value: got 5" in exc.value.message
    ld = bytearray(_insn(0x18, 1, imm=7) + _insn(0))
    patch_insn(ld, 0, relo, CoreResult(poison=True))
    assert all(struct.unpack("<BBhi", ld[k : k + 8]) == (0x85, 0, 0, POISON_IMM) for k in (0, 8))
    with pytest.raises(BpfError) as exc:
        patch_insn(bytearray(_insn(0x61, off=4)), 0, relo, CoreResult(4, 40000))
    assert exc.value.errno == errno.ERANGE
