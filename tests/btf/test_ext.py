""".BTF.ext: func_info, line_info (with the verifier's source-line text) and CO-RE records."""

from __future__ import annotations

import contextlib
import json
import os
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.btf import Func, parse
from pybpf.btf.ext import BtfExt, LineInfo, encode_func_info, encode_line_info, find_line, parse_ext
from pybpf.btf.files import elf_btf_sections
from pybpf.errors import BpfError
from pybpf.oracle import available, unavailable_reason


def load(obj: Path) -> tuple[BtfExt, object]:
    sec = elf_btf_sections(obj.read_bytes())
    btf = parse(sec.btf)
    assert sec.ext is not None
    return parse_ext(sec.ext, btf), btf


def test_func_info_names_functions(objects: dict[str, Path]) -> None:
    ext, btf = load(objects["prog"])
    names = {sec: [btf[f.type_id].name for f in fis] for sec, fis in ext.func_info.items()}  # type: ignore[index]
    assert names == {".text": ["global_helper", "bump"], "xdp": ["count_packets"]}
    assert all(isinstance(btf[f.type_id], Func) for fis in ext.func_info.values() for f in fis)  # type: ignore[index]
    assert ext.func_info["xdp"][0].insn == 0
    assert encode_func_info(ext.func_info["xdp"]) == struct.pack("<II", 0, ext.func_info["xdp"][0].type_id)


def test_line_info_reads_as_the_verifier_prints_it(objects: dict[str, Path]) -> None:
    ext, _ = load(objects["prog"])
    lines = ext.line_info["xdp"]
    assert lines[0].log_text() == "int count_packets(struct xdp_md *ctx) @ prog.c:52"
    assert lines[1].log_text() == "u32 key = ctx->ingress_ifindex & 63; @ prog.c:54"
    assert lines[1].line.startswith("\t") and lines[1].col == 17
    by_insn = [li.moved(li.insn) for li in lines]
    assert [li.insn_off for li in by_insn[3:5]] == [3, 6]  # records at insns 3 and 6
    assert find_line(by_insn, 3) is by_insn[3]
    assert find_line(by_insn, 5) is by_insn[3]
    assert find_line(by_insn, 6) is by_insn[4]
    assert find_line([], 3) is None
    raw = encode_line_info(lines[:1])
    assert struct.unpack("<IIII", raw)[3] == lines[0].line_col == 52 << 10


def test_no_core_relos_without_builtins(objects: dict[str, Path]) -> None:
    ext, _ = load(objects["prog"])
    assert ext.core_relos == {}


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_corrupt_ext_is_an_error_not_a_crash(objects: dict[str, Path], data: st.DataObject) -> None:
    sec = elf_btf_sections(objects["prog"].read_bytes())
    assert sec.ext is not None
    btf = parse(sec.btf)
    raw = bytearray(sec.ext)
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    with contextlib.suppress(BpfError):
        parse_ext(bytes(raw[:cut]), btf)


@pytest.mark.kernel
@pytest.mark.skipif(not available(), reason=f"bpf() unavailable: {unavailable_reason()}")
def test_kernel_keeps_the_same_lines(objects: dict[str, Path], bpftool: Callable[..., str]) -> None:
    """Loaded through libbpf, the kernel's line info is a subset of what we read."""
    if not os.path.isdir("/sys/fs/bpf"):
        pytest.skip("no bpffs")
    ext, _ = load(objects["prog"])
    ours = {(li.file_name, li.line_num, li.col, li.line.strip()) for lis in ext.line_info.values() for li in lis}
    pin = f"/sys/fs/bpf/pybpf_btf_ext_{os.getpid()}"
    subprocess.run(["bpftool", "prog", "load", str(objects["prog"]), pin], check=True, capture_output=True)
    try:
        dump = json.loads(bpftool("-j", "prog", "dump", "xlated", "pinned", pin, "linum"))
    finally:
        os.unlink(pin)
    kernel = {(d["file"], d["line_num"], d.get("line_col", 0), d["src"].strip()) for d in dump if "src" in d}
    assert kernel and kernel <= ours


def test_line_info_is_a_value() -> None:
    a = LineInfo(8, "/x/p.c", "  int a;", 3, 4, file_name_off=5, line_off=9)
    assert a == LineInfo(8, "/x/p.c", "  int a;", 3, 4) and a.insn == 1 and a.log_text() == "int a; @ p.c:3"
