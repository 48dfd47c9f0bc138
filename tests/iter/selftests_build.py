"""What the iterator selftests modules share: building the kernel's ``progs/*.c`` at
test time, opening one object, linking one of its iterators, and the verdicts: pybpf's
and the running kernel's (through libbpf), each held against the recorded ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ..elf.conftest import CLANG
from ..elf.test_selftests_progs import HELPER_DEFS, VMLINUX, build_selftests, selftests_dir


def missing_tool() -> str | None:
    """The first thing building the selftests needs that this machine lacks."""
    for what, ok in (("clang-19", CLANG is not None), ("linux-source-6.12", selftests_dir().is_dir()),
                     ("bpftool", shutil.which("bpftool") is not None),
                     ("/sys/kernel/btf/vmlinux", VMLINUX.exists()),
                     ("libbpf-dev", HELPER_DEFS.exists())):  # fmt: skip
        if not ok:
            return what
    return None


def built_objects(tmp: Path, sources: list[str]) -> dict[str, Path]:
    """``sources`` compiled into ``tmp``, by stem (skips the test when a tool is missing)."""
    missing = missing_tool()
    if missing:
        pytest.skip(f"{missing} is not available")
    return {p.stem: p for p in build_selftests(tmp, sources)}


def open_object(objs: dict[str, Path], stem: str) -> Any:
    import pybpf

    if stem not in objs:
        pytest.skip(f"{stem}.c did not compile")
    return pybpf.open(objs[stem])


def iter_link(obj: Any, prog: str, m: Any = None) -> Any:
    from pybpf.iter import create_iter_link

    return create_iter_link(obj.programs[prog].program, m)


def kernel_verdicts(path: Path) -> dict[str, dict[str, Any]]:
    """The running kernel's verdict on each program of ``path`` (through libbpf)."""
    from ..elf import libbpf_ref

    ref = libbpf_ref.reference(str(path))
    return {n: {"accepted": r["accepted"], "errno": r["errno"], "message": r["message"]}
            for n, r in ref["programs"].items()}  # fmt: skip


def check_pybpf_verdicts(objs: dict[str, Path], recorded_path: Path) -> None:
    """pybpf's verdict (accepted, errno) on every recorded program is the kernel's."""
    recorded = json.loads(recorded_path.read_text())
    for stem, progs in recorded.items():
        obj = open_object(objs, stem)
        got = {v.name: (v.accepted, v.errno) for v in obj.verify(log_level=1)}
        assert got == {n: (r["accepted"], r["errno"]) for n, r in progs.items()}, stem


def check_running_kernel_verdicts(objs: dict[str, Path], recorded_path: Path) -> None:
    """The running kernel still gives the recorded verdicts (skips without bpf() or
    libbpf)."""
    from pybpf.oracle import available, unavailable_reason

    from ..elf import libbpf_ref

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    if libbpf_ref.libbpf() is None:
        pytest.skip("libbpf.so.1 is not available")
    recorded = json.loads(recorded_path.read_text())
    assert set(recorded) == set(objs)
    for stem, path in objs.items():
        assert kernel_verdicts(path) == recorded[stem], stem
