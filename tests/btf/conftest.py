"""Objects compiled with clang-19 at test time from tests/data/btf/*.c, and bpftool."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

SOURCES = Path(__file__).resolve().parents[1] / "data" / "btf"
CLANG = shutil.which("clang-19")
BPFTOOL = shutil.which("bpftool")
CFLAGS = ["-target", "bpf", "-g", "-O2", "-I/usr/include/x86_64-linux-gnu", "-c"]


def compile_objects(out: Path) -> dict[str, Path]:
    """Every tests/data/btf/*.c compiled with clang-19 into ``out``, by stem."""
    assert CLANG is not None
    built: dict[str, Path] = {}
    for src in sorted(SOURCES.glob("*.c")):
        obj = out / f"{src.stem}.o"
        subprocess.run([CLANG, *CFLAGS, str(src), "-o", str(obj)], check=True, capture_output=True)
        built[src.stem] = obj
    return built


@pytest.fixture(scope="session")
def objects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every tests/data/btf/*.c compiled to an object, by stem."""
    if CLANG is None:
        pytest.skip("clang-19 is not installed")
    return compile_objects(tmp_path_factory.mktemp("btf-objects"))


@pytest.fixture(scope="session")
def bpftool() -> Callable[..., str]:
    """Run bpftool and return its stdout."""
    if BPFTOOL is None:
        pytest.skip("bpftool is not installed")

    def run(*args: str) -> str:
        res = subprocess.run([BPFTOOL, *args], capture_output=True, text=True, check=False)
        if res.returncode:
            pytest.fail(f"bpftool {' '.join(args)}: {res.stderr.strip()}")
        return res.stdout

    return run
