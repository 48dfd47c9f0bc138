"""Dumps match bpftool's: raw text, JSON and C, on clang objects and on vmlinux."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pybpf.btf import Btf, Enum, EnumValue, Func, FuncProto, Int, Member, Ptr, Struct, encode
from pybpf.btf.dump_c import c_type_name, dump_c
from pybpf.btf.dump_raw import dump_json, dump_raw
from pybpf.btf.files import VMLINUX, load_file
from pybpf.cli.main import main


@pytest.mark.parametrize("stem", ["prog", "layouts", "core", "core_target"])
def test_object_dumps_match_bpftool(stem: str, objects: dict[str, Path], bpftool: Callable[..., str]) -> None:
    obj = str(objects[stem])
    btf = load_file(obj)
    assert dump_raw(btf) == bpftool("btf", "dump", "file", obj)
    assert dump_json(btf) == json.loads(bpftool("-j", "btf", "dump", "file", obj))
    assert dump_c(btf) == bpftool("btf", "dump", "file", obj, "format", "c")


def test_cli_dump(objects: dict[str, Path], bpftool: Callable[..., str], capsys: pytest.CaptureFixture[str]) -> None:
    obj = str(objects["prog"])
    assert main(["btf", "dump", "file", obj, "format", "c"]) == 0
    assert capsys.readouterr().out == bpftool("btf", "dump", "file", obj, "format", "c")
    assert main(["btf", "dump", "file", obj, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(bpftool("-j", "btf", "dump", "file", obj))
    assert main(["btf", "dump", "file", obj, "format", "json"]) == 1
    assert "unrecognized format specifier" in capsys.readouterr().err


def test_enum_values_print_like_bpftool() -> None:
    """Unsigned 32-bit enumerators: text shows the u32, JSON the sign-extended s32."""
    btf = Btf()
    btf.add(Enum(name="e", values=(EnumValue(name="BIG", value=0xFFFFFFFF),)))
    assert "'BIG' val=4294967295" in dump_raw(btf)
    assert dump_json(btf)["types"][0]["values"][0]["val"] == 2**64 - 1


def test_c_type_names() -> None:
    btf = Btf()
    i = btf.add(Int(name="int", size=4, bits=32, encoding=1))
    s = btf.add(Struct(name="sk_buff", size=4, members=(Member(name="len", type=i, offset=0),)))
    p = btf.add(Ptr(type=s))
    fp = btf.add(FuncProto(return_type=i, params=()))
    pf = btf.add(Ptr(type=fp))
    btf.add(Func(name="f", type=fp))
    assert c_type_name(btf, p) == "struct sk_buff *"
    assert c_type_name(btf, pf, "cb") == "int (*cb)(void)"
    assert c_type_name(btf, 0) == "void"
    assert encode(btf)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(VMLINUX), reason="no /sys/kernel/btf/vmlinux")
def test_vmlinux_dumps_match_bpftool(bpftool: Callable[..., str]) -> None:
    btf = load_file(VMLINUX)
    assert dump_raw(btf) == bpftool("btf", "dump", "file", VMLINUX)
    assert dump_c(btf) == bpftool("btf", "dump", "file", VMLINUX, "format", "c")


def test_cli_check(objects: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["btf", "check", str(objects["prog"])]) == 1
    out = capsys.readouterr().out
    assert out.rstrip().endswith("rejected (EINVAL): [33] DATASEC .bss size=0 vlen=2 size == 0")
    raw = tmp_path / "one.btf"
    b = Btf()
    b.add(Int(name="int", size=4, bits=32, encoding=1))
    raw.write_bytes(encode(b))
    assert main(["btf", "check", str(raw), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["accepted"] and res["types"] == 1 and res["log"].startswith("magic: 0xeb9f\n")
    assert main(["btf", "dump", "file", str(tmp_path / "missing")]) == 1
    assert "No such file" in capsys.readouterr().err


@pytest.mark.skipif(not os.path.exists(VMLINUX), reason="no /sys/kernel/btf/vmlinux")
def test_cli_split_btf_on_a_base(tmp_path: Path, bpftool: Callable[..., str], capsys: pytest.CaptureFixture[str]) -> None:
    from pybpf.btf import BtfBuilder, Kind, load_vmlinux

    vmlinux = load_vmlinux()
    b = BtfBuilder(base=vmlinux)
    task = vmlinux.find_by_name_kind("task_struct", Kind.STRUCT)
    assert task is not None
    b.struct("my_mod_thing", [("task", b.ptr(task))])
    path = tmp_path / "split.btf"
    path.write_bytes(encode(b.btf))
    assert main(["btf", "dump", "file", str(path), "-B", VMLINUX]) == 0
    assert capsys.readouterr().out == bpftool("btf", "dump", "file", str(path), "-B", VMLINUX)
    assert main(["btf", "dump", "file", str(path), "format", "c", "--base", VMLINUX]) == 0
    assert "struct task_struct *task;" in capsys.readouterr().out
