"""Runs pybpf's CO-RE relocator over an object the way libbpf walks it, producing the
same log lines (specs, candidates, patches), for comparison with libbpf's."""

from __future__ import annotations

import bisect
import hashlib
import io
from pathlib import Path

from elftools.elf.elffile import ELFFile

from pybpf.btf import parse
from pybpf.btf.core import CoreRelocator, CoreTarget, patch_insn
from pybpf.btf.ext import parse_ext
from pybpf.btf.files import elf_btf_sections
from pybpf.errors import BpfError


def object_digest(obj: Path) -> str:
    """What the recorded answers depend on: BTF, BTF.ext and code of the object."""
    elf = ELFFile(io.BytesIO(obj.read_bytes()))
    h = hashlib.sha256()
    for sec in elf.iter_sections():
        if sec.name in (".BTF", ".BTF.ext") or sec["sh_flags"] & 0x4:  # SHF_EXECINSTR
            h.update(sec.name.encode() + bytes(sec.data()))
    return h.hexdigest()[:16]


def pybpf_relo_lines(obj: Path, target: CoreTarget) -> list[str]:
    data = obj.read_bytes()
    elf = ELFFile(io.BytesIO(data))
    sections = elf_btf_sections(data)
    btf = parse(sections.btf)
    assert sections.ext is not None
    ext = parse_ext(sections.ext, btf)
    relocator = CoreRelocator(btf, target)
    lines: list[str] = []
    for sec_name, relos in ext.core_relos.items():
        code = bytes(elf.get_section_by_name(sec_name).data())
        funcs = sorted(ext.func_info.get(sec_name, ()), key=lambda f: f.insn_off)
        starts = [f.insn for f in funcs]
        bounds = [*starts[1:], len(code) // 8]
        progs = [bytearray(code[s * 8 : e * 8]) for s, e in zip(starts, bounds, strict=True)]
        for i, relo in enumerate(relos):
            k = bisect.bisect_right(starts, relo.insn) - 1
            name = btf[funcs[k].type_id].name
            relocator.prog_name = name
            try:
                res = relocator.resolve(relo, i)
                lines += res.log
                lines += patch_insn(progs[k], relo.insn - starts[k], relo, res.result, name, i)
            except BpfError as exc:
                lines += getattr(exc, "log", ())
                lines.append(exc.message)
                lines.append(f"prog '{name}': relo #{i}: failed to relocate: -{exc.errno}")
                return lines
    return lines
