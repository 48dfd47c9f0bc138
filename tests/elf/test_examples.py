"""The bundled examples (what ``make run`` shows): every one does what it states, and the
committed C objects are what ``make examples`` builds from their sources."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pybpf

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
C_DIR = EXAMPLES / "c"


@pytest.fixture(scope="module")
def run_examples() -> object:
    sys.path.insert(0, str(EXAMPLES))
    try:
        return importlib.import_module("run_examples")
    finally:
        sys.path.remove(str(EXAMPLES))


def test_every_example_does_what_it_states(run_examples: object, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_examples.main([])  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert code == 0, out
    last = out.strip().splitlines()[-1]
    assert last.startswith("all ") and last.endswith(" examples did what they state")
    assert "FAILED" not in out


def test_c_examples_cover_the_issue(run_examples: object) -> None:
    """An XDP counter with a hash map, global data with rodata pruning, a bpf-to-bpf
    call, a bounded loop and a tail-call dispatcher, each from a committed C source."""
    stems = {e.stem for e in run_examples.C_EXAMPLES}  # type: ignore[attr-defined]
    assert stems == {"xdp_counter", "global_data", "bpf_to_bpf_call", "bounded_loop", "tail_call"}
    assert {p.stem for p in C_DIR.glob("*.c")} == stems == {p.stem for p in C_DIR.glob("*.o")}
    for stem in stems:
        obj = pybpf.open(C_DIR / f"{stem}.o")
        assert obj.spec.btf is not None and obj.spec.btf_ext is not None  # clang -g kept BTF
        assert all(v.accepted for v in obj.verify()), stem


def test_committed_objects_match_their_sources(tmp_path: Path) -> None:
    """``examples/c/build.sh`` is reproducible (no paths of the tree in the objects), so a
    fresh build must give the committed bytes; run ``make examples`` after editing a source."""
    if shutil.which("clang-19") is None or shutil.which("llvm-strip-19") is None:
        pytest.skip("clang-19/llvm-strip-19 are not installed (make system-deps installs them)")
    if not Path("/usr/include/bpf/bpf_helpers.h").exists():
        pytest.skip("libbpf-dev is not installed (make system-deps installs it)")
    for src in [*C_DIR.glob("*.c"), C_DIR / "build.sh"]:
        shutil.copy(src, tmp_path / src.name)
    subprocess.run([str(tmp_path / "build.sh")], check=True, capture_output=True, timeout=300)
    stale = [o.name for o in sorted(C_DIR.glob("*.o")) if (tmp_path / o.name).read_bytes() != o.read_bytes()]
    assert not stale, f"out of date (run `make examples`): {stale}"
