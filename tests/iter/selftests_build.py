"""What the iterator selftests modules share: building the kernel's ``progs/*.c`` at
test time, opening one object, linking one of its iterators, and the running kernel's
verdicts (through libbpf) for an object."""

from __future__ import annotations

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
