"""Objects damaged where the loader reads the most structure (hypothesis): the .BTF and
.BTF.ext sections, relocation entries, the ELF headers, and files cut anywhere.  Every
outcome must be a loaded/verified object or one ``BpfError`` line with an errno; the
command line must print one error line, never a traceback."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pybpf
from pybpf.cli.main import main
from pybpf.errors import BpfError

FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


def section_span(raw: bytes, name: str) -> tuple[int, int]:
    """(file offset, size) of a section, found with pyelftools (not the code under test)."""
    from elftools.elf.elffile import ELFFile

    sec = ELFFile(io.BytesIO(raw)).get_section_by_name(name)
    assert sec is not None, name
    return int(sec["sh_offset"]), int(sec["sh_size"])


def rel_sections(raw: bytes) -> list[tuple[int, int]]:
    from elftools.elf.elffile import ELFFile

    ef = ELFFile(io.BytesIO(raw))
    return [(int(s["sh_offset"]), int(s["sh_size"])) for s in ef.iter_sections()
            if s["sh_type"] == "SHT_REL" and s["sh_size"]]  # fmt: skip


def exercise(raw: bytes) -> None:
    """Open, verify every program, load, export each program as a case: either it works
    or one clear BpfError comes out."""
    try:
        obj = pybpf.open(raw, name="fuzz")
        obj.verify(log_level=0)
        for name in obj.programs:
            try:
                obj.export_case(name)
            except BpfError as exc:
                assert exc.errno > 0 and exc.message and "\n" not in exc.message
        obj.load()
        obj.close()
    except BpfError as exc:
        assert exc.errno > 0, exc
        assert exc.message and "\n" not in exc.message, exc.message


def damage(raw: bytes, span: tuple[int, int], data: st.DataObject, most: int = 6) -> bytes:
    off, size = span
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, most), label="bytes changed")):
        pos = off + data.draw(st.integers(0, size - 1), label="offset")
        out[pos] = data.draw(st.integers(0, 255), label="value")
    return bytes(out)


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_corrupt_btf(objects: dict[str, Path], data: st.DataObject) -> None:
    """.BTF of objects that need it (BTF-defined maps, global data, CO-RE)."""
    stem = data.draw(st.sampled_from(["maps", "globals", "mapinmap", "core"]), label="object")
    raw = objects[stem].read_bytes()
    exercise(damage(raw, section_span(raw, ".BTF"), data))


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_corrupt_btf_header(objects: dict[str, Path], data: st.DataObject) -> None:
    """The 24-byte BTF header: lengths and offsets that point anywhere."""
    raw = objects["maps"].read_bytes()
    off, _ = section_span(raw, ".BTF")
    out = bytearray(raw)
    field = data.draw(st.sampled_from([8, 12, 16, 20]), label="header field")  # type/str off/len
    struct.pack_into("<I", out, off + field, data.draw(st.integers(0, 0xFFFFFFFF), label="value"))
    exercise(bytes(out))


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_corrupt_btf_ext(objects: dict[str, Path], data: st.DataObject) -> None:
    """.BTF.ext: func_info, line_info and CO-RE records of subprogram-calling objects."""
    stem = data.draw(st.sampled_from(["calls", "core", "globals"]), label="object")
    raw = objects[stem].read_bytes()
    exercise(damage(raw, section_span(raw, ".BTF.ext"), data))


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_bad_relocations(objects: dict[str, Path], data: st.DataObject) -> None:
    """A relocation entry's offset, symbol or type replaced by anything."""
    stem = data.draw(st.sampled_from(["calls", "globals", "maps", "mapinmap", "kconfig"]), label="object")
    raw = bytearray(objects[stem].read_bytes())
    off, size = data.draw(st.sampled_from(rel_sections(bytes(raw))), label="rel section")
    entry = off + 16 * data.draw(st.integers(0, size // 16 - 1), label="entry")
    part = data.draw(st.sampled_from(["offset", "type", "symbol"]), label="field")
    if part == "offset":
        struct.pack_into("<Q", raw, entry, data.draw(st.integers(0, 1 << 20), label="r_offset"))
    elif part == "type":
        struct.pack_into("<I", raw, entry + 8, data.draw(st.integers(0, 255), label="r_type"))
    else:
        struct.pack_into("<I", raw, entry + 12, data.draw(st.integers(0, 0xFFFF), label="r_sym"))
    exercise(bytes(raw))


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_corrupt_elf_headers(objects: dict[str, Path], data: st.DataObject) -> None:
    """The ELF header and the section header table."""
    from elftools.elf.elffile import ELFFile

    raw = objects["globals"].read_bytes()
    ef = ELFFile(io.BytesIO(raw))
    shoff, shsize = int(ef["e_shoff"]), int(ef["e_shentsize"]) * int(ef["e_shnum"])
    span = data.draw(st.sampled_from([(0, 64), (shoff, shsize)]), label="header")
    exercise(damage(raw, span, data, most=3))


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_truncated_anywhere(objects: dict[str, Path], data: st.DataObject) -> None:
    stem = data.draw(st.sampled_from(["calls", "maps", "core"]), label="object")
    raw = objects[stem].read_bytes()
    exercise(raw[: data.draw(st.integers(0, len(raw) - 1), label="length")])


@pytest.mark.slow
@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def test_commands_print_one_line(objects: dict[str, Path], tmp_path: Path, data: st.DataObject,
                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """``pybpf verify``, ``btf dump`` and ``case export`` on a damaged object: exit status
    0 or 1 and, on failure, one line on stderr."""
    raw = objects["maps"].read_bytes()
    where = data.draw(st.sampled_from([".BTF", ".BTF.ext", ".maps", "xdp"]), label="section")
    bad = tmp_path / "bad.o"
    bad.write_bytes(damage(raw, section_span(raw, where), data))
    for argv in (["verify", str(bad)], ["verify", str(bad), "--json"],
                 ["btf", "dump", "file", str(bad), "format", "c"],
                 ["case", "export", str(bad), "--out", str(tmp_path / "cases")]):  # fmt: skip
        code = main(argv)
        out, err = capsys.readouterr()
        assert code in (0, 1), (argv, code, err)
        assert "Traceback" not in err
        if code == 1 and "--json" in argv:
            # every line is JSON: a program's verdict or {"file", "error", "errno"}
            lines = [json.loads(line) for line in out.splitlines()]
            assert lines and all("error" in r or "verdict" in r for r in lines), out
            assert all(r["errno"] > 0 for r in lines if "error" in r)
        elif code == 1 and err.strip():  # else: verdicts on stdout, some program rejected
            assert len(err.strip().splitlines()) == 1 and str(bad) in err, (argv, err)
        elif code == 1:
            assert out.strip(), argv
