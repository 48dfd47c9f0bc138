"""DATASEC fix-ups: the BTF libbpf loads into the kernel is what we compute."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from pybpf.btf import Btf, Datasec, encode, parse
from pybpf.btf.dump_raw import dump_raw
from pybpf.btf.files import elf_btf_sections
from pybpf.btf.fixup import VarSymbol, fixup_datasecs
from pybpf.btf.validate import BtfRejected, check
from pybpf.oracle import available, unavailable_reason


def fixed(obj: Path) -> Btf:
    data = obj.read_bytes()
    elf = ELFFile(io.BytesIO(data))
    btf = parse(elf_btf_sections(data).btf)
    symtab = elf.get_section_by_name(".symtab")
    syms = {s.name: s for s in symtab.iter_symbols() if s["st_info"]["type"] == "STT_OBJECT"}

    def size(name: str) -> int | None:
        sec = elf.get_section_by_name(name)
        return sec["sh_size"] if sec is not None else None

    def sym(name: str) -> VarSymbol | None:
        s = syms.get(name)
        if s is None:
            return None
        return VarSymbol(s["st_value"], s["st_other"]["visibility"] in ("STV_HIDDEN", "STV_INTERNAL"))

    fixup_datasecs(btf, size, sym)
    return btf


def test_object_btf_becomes_loadable(objects: dict[str, Path]) -> None:
    raw = elf_btf_sections(objects["prog"].read_bytes()).btf
    with pytest.raises(BtfRejected, match="size == 0"):
        check(raw)
    btf = fixed(objects["prog"])
    bss = btf[btf.find_by_name_kind(".bss", Datasec.kind) or 0]
    assert isinstance(bss, Datasec) and bss.size == 20
    assert [v.offset for v in bss.vars] == [0, 4]
    check(encode(btf))


@pytest.mark.kernel
@pytest.mark.skipif(not available(), reason=f"bpf() unavailable: {unavailable_reason()}")
def test_libbpf_loads_the_same_btf(objects: dict[str, Path], bpftool: Callable[..., str]) -> None:
    if not os.path.isdir("/sys/fs/bpf"):
        pytest.skip("no bpffs")
    pin = f"/sys/fs/bpf/pybpf_btf_fixup_{os.getpid()}"
    subprocess.run(["bpftool", "prog", "load", str(objects["prog"]), pin], check=True, capture_output=True)
    try:
        btf_id = json.loads(bpftool("-j", "prog", "show", "pinned", pin))["btf_id"]
        kernel = bpftool("btf", "dump", "id", str(btf_id))
    finally:
        os.unlink(pin)
    assert dump_raw(fixed(objects["prog"])) == kernel
