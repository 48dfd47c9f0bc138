"""Bad objects: one BpfError line with the right errno, never a traceback, nothing left
half loaded."""

from __future__ import annotations

import errno
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pybpf
from pybpf.elf.reader import read_elf
from pybpf.errors import BpfError
from pybpf.kernel.state import Kernel

from .conftest import SRC, compile_c


def _open_and_verify(raw: bytes) -> None:
    try:
        obj = pybpf.open(raw, name="fuzz")
        obj.verify()
    except BpfError as exc:
        assert exc.message and "\n" not in exc.message
        assert exc.errno > 0


def _rel_entry_offset(raw: bytes, rel_section: str, n: int) -> int:
    elf = read_elf(raw)
    import io

    from elftools.elf.elffile import ELFFile

    ef = ELFFile(io.BytesIO(raw))
    sec = ef.get_section_by_name(rel_section)
    assert sec is not None and elf.section_named(rel_section) is not None
    return int(sec["sh_offset"]) + 16 * n


def test_truncated_objects(objects: dict[str, Path]) -> None:
    raw = objects["maps"].read_bytes()
    for cut in list(range(0, 256, 7)) + list(range(256, len(raw), 211)):
        with pytest.raises(BpfError) as exc:
            pybpf.open(raw[:cut], name="t")
        assert exc.value.errno == errno.EINVAL and "\n" not in exc.value.message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_corruption(objects: dict[str, Path], data: st.DataObject) -> None:
    raw = bytearray(objects["globals"].read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    _open_and_verify(bytes(raw))


def test_not_bpf_objects(tmp_path: Path) -> None:
    with pytest.raises(BpfError, match="not an ELF file"):
        pybpf.open(b"hello", name="x")
    host = Path("/bin/true").read_bytes() if Path("/bin/true").exists() else None
    if host is not None:
        with pytest.raises(BpfError) as exc:
            pybpf.open(host, name="x")
        assert exc.value.errno == errno.EINVAL
    with pytest.raises(BpfError) as exc:
        pybpf.open(tmp_path / "nothing.o")
    assert exc.value.errno == errno.ENOENT


def test_big_endian_object(tmp_path: Path) -> None:
    from .conftest import CLANG

    if CLANG is None:
        pytest.skip("clang-19 is not installed")
    out = compile_c(SRC / "globals.c", tmp_path / "be.o", ("-mbig-endian",))
    with pytest.raises(BpfError, match="endianness") as exc:
        pybpf.open(out)
    assert exc.value.errno == errno.EINVAL


def test_stripped_object(objects: dict[str, Path], tmp_path: Path) -> None:
    import shutil
    import subprocess

    strip = shutil.which("llvm-strip-19") or shutil.which("llvm-strip")
    if strip is None:
        pytest.skip("llvm-strip is not installed")
    out = tmp_path / "stripped.o"
    subprocess.run([strip, "-o", str(out), str(objects["maps"])], check=True)
    with pytest.raises(BpfError, match="no symbol table") as exc:
        pybpf.open(out)
    assert exc.value.errno == errno.ENOENT


def test_relocation_on_a_plain_instruction(objects: dict[str, Path]) -> None:
    raw = bytearray(objects["globals"].read_bytes())
    off = _rel_entry_offset(bytes(raw), ".relxdp", 0)
    struct.pack_into("<Q", raw, off, 0)  # point relo #0 at insn 0 (a ldx)
    with pytest.raises(BpfError, match=r"invalid relo against 'debug_mode' for insns\[0\]") as exc:
        pybpf.open(bytes(raw), name="g")
    assert exc.value.errno == errno.EINVAL


def test_relocation_past_the_section(objects: dict[str, Path]) -> None:
    raw = bytearray(objects["globals"].read_bytes())
    off = _rel_entry_offset(bytes(raw), ".relxdp", 0)
    struct.pack_into("<Q", raw, off, 1 << 20)
    with pytest.raises(BpfError, match="invalid offset 0x100000 for relo #0"):
        pybpf.open(bytes(raw), name="g")


def test_relocation_against_a_missing_symbol(objects: dict[str, Path]) -> None:
    raw = bytearray(objects["globals"].read_bytes())
    off = _rel_entry_offset(bytes(raw), ".relxdp", 0)
    info = struct.unpack_from("<Q", raw, off + 8)[0]
    struct.pack_into("<Q", raw, off + 8, (0xFFFF << 32) | (info & 0xFFFFFFFF))
    with pytest.raises(BpfError, match="symbol #65535 not found") as exc:
        pybpf.open(bytes(raw), name="g")
    assert exc.value.errno == errno.EINVAL


def test_relocation_of_an_unknown_type(objects: dict[str, Path]) -> None:
    raw = bytearray(objects["globals"].read_bytes())
    off = _rel_entry_offset(bytes(raw), ".relxdp", 0)
    info = struct.unpack_from("<Q", raw, off + 8)[0]
    struct.pack_into("<Q", raw, off + 8, (info & ~0xFFFFFFFF) | 3)  # R_BPF_64_ABS32
    with pytest.raises(BpfError, match="R_BPF_64_ABS32"):
        pybpf.open(bytes(raw), name="g")


def test_failed_load_leaves_nothing(objects: dict[str, Path]) -> None:
    kernel = Kernel(seed=0)
    obj = pybpf.open(objects["rejects"], kernel=kernel)
    with pytest.raises(BpfError):
        obj.load()
    assert not kernel.maps and not kernel.programs and not obj.loaded
    obj.programs["xdp_null_deref"].autoload = False
    obj.programs["sock_oob"].autoload = False
    obj.programs["unknown_sec"].autoload = False
    obj.load()
    assert len(kernel.programs) == 1 and len(kernel.maps) == 1
    obj.close()
    assert not kernel.maps and not kernel.programs


def test_object_loads_once(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["maps"])
    obj.load()
    with pytest.raises(BpfError, match="already loaded"):
        obj.load()
    with pytest.raises(BpfError) as exc:
        obj.maps["verdicts"].set_max_entries(8)
    assert exc.value.errno == errno.EBUSY
    obj.close()


def test_broken_btf_is_dropped_when_not_needed(objects: dict[str, Path]) -> None:
    """As libbpf: programs without BTF-defined maps load without a corrupt .BTF."""
    import io

    from elftools.elf.elffile import ELFFile

    for stem, needed in (("nongpl", False), ("maps", True)):
        raw = bytearray(objects[stem].read_bytes())
        sec = ELFFile(io.BytesIO(bytes(raw))).get_section_by_name(".BTF")
        raw[int(sec["sh_offset"])] ^= 0xFF  # the magic
        if needed:
            with pytest.raises(BpfError) as exc:
                pybpf.open(bytes(raw), name=stem)
            assert exc.value.errno == errno.EINVAL
        else:
            obj = pybpf.open(bytes(raw), name=stem)
            assert obj.spec.btf is None and obj.spec.btf_ext is None
            assert {v.name: v.accepted for v in obj.verify()} == {"printk_user": False, "plain": True}
