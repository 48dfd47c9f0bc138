"""Callbacks (bpf_loop, bpf_for_each_map_elem) in a C object: pybpf against the kernel.

tests/data/verifier/callbacks.c is built with clang at test time; the kernel's verdicts
(libbpf loading each program) are in callbacks_kernel.json, rewritten by
``python tests/verifier/test_func_info_callbacks.py --record``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent.parent / "data" / "verifier"
SOURCE = DATA / "callbacks.c"
RECORDED = DATA / "callbacks_kernel.json"


def _clang() -> str | None:
    return shutil.which("clang-19") or shutil.which("clang")


def build(out_dir: Path) -> Path:
    clang = _clang()
    if clang is None:
        pytest.skip("clang is not installed")
    obj = out_dir / "callbacks.o"
    arch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()
    cmd = [clang, "-O2", "-g", "-target", "bpf", f"-I/usr/include/{arch or 'x86_64-linux-gnu'}",
           "-c", str(SOURCE), "-o", str(obj)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        pytest.skip(f"clang cannot build the object: {res.stderr.strip()[:200]}")
    return obj


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bool, int, str]]:
    import pybpf

    obj = build(tmp_path_factory.mktemp("callbacks"))
    return {v.name: (v.accepted, v.errno, v.message) for v in pybpf.open(str(obj)).verify()}


@pytest.mark.parametrize("name", sorted(json.loads(RECORDED.read_text())))
def test_callbacks_match_recorded_kernel(verdicts: dict[str, tuple[bool, int, str]], name: str) -> None:
    want = json.loads(RECORDED.read_text())[name]
    accepted, err, message = verdicts[name]
    assert (accepted, err) == (want["accepted"], want["errno"]), message
    if not accepted:
        assert message == want["message"]


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent.parent / "elf"))
    from libbpf_ref import reference

    with tempfile.TemporaryDirectory() as d:
        ref = reference(str(build(Path(d))))["programs"]
    out = {n: {k: r[k] for k in ("accepted", "errno", "message")} for n, r in ref.items()}
    RECORDED.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(json.dumps(out, indent=1))
