"""Fixtures of the loader tests: the C programs of tests/data/elf, compiled once a session.

The objects are built at test time with ``clang-19 -target bpf -g -O2`` (nothing built
is committed); every test that needs them skips, with the reason, where clang-19 is
missing (``make system-deps`` installs it).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "data" / "elf"
CLANG = shutil.which("clang-19")


def compile_c(src: Path, out: Path, extra: tuple[str, ...] = ()) -> Path:
    cmd = [CLANG or "clang-19", "-target", "bpf", "-g", "-O2", "-c", src.name, "-o", str(out),
           *extra]  # fmt: skip
    res = subprocess.run(cmd, cwd=src.parent, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"clang-19 failed on {src.name}:\n{res.stderr}")
    return out


@pytest.fixture(scope="session")
def objects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every ``tests/data/elf/*.c`` compiled, by stem (``objects["maps"]``)."""
    if CLANG is None:
        pytest.skip("clang-19 is not installed (make system-deps installs it)")
    out_dir = tmp_path_factory.mktemp("elf-objects")
    return {src.stem: compile_c(src, out_dir / f"{src.stem}.o") for src in sorted(SRC.glob("*.c"))}


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private pybpf state directory (pinned maps and programs)."""
    d = tmp_path / "state"
    monkeypatch.setenv("PYBPF_STATE_DIR", str(d))
    return d
