"""``pybpf iter pin``/``cat`` for the ``bpf_prog``, ``bpf_link`` and ``task`` targets, with
``tests/data/iter/iter_objects.c`` (compiled at test time, members found by CO-RE).

Its four programs load in the kernel as in pybpf (verdicts recorded in
``tests/data/iter/iter_objects_verdicts.json``, asked again through libbpf where it
can be); ``bpftool iter pin`` and ``cat`` of the program iterator in the kernel show
the pinned program as ``pybpf iter cat`` does (ids aside).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path

import pytest

from pybpf.cli.main import main

from ..elf.conftest import CLANG, compile_c

SRC = Path(__file__).resolve().parents[1] / "data" / "iter" / "iter_objects.c"
VERDICTS = Path(__file__).resolve().parents[1] / "data" / "iter" / "iter_objects_verdicts.json"


@pytest.fixture(scope="module")
def obj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if CLANG is None:
        pytest.skip("clang-19 is not installed (make system-deps installs it)")
    return compile_c(SRC, tmp_path_factory.mktemp("iter-objects") / "iter_objects.o")


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "state"
    monkeypatch.setenv("PYBPF_STATE_DIR", str(d))
    return d


def _cat(capsys: pytest.CaptureFixture[str], obj: Path, prog: str) -> str:
    assert main(["iter", "pin", str(obj), prog, "--prog", prog]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["iter", "cat", prog]) == 0
    return capsys.readouterr().out


def test_programs(obj: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each ``cat`` loads the object afresh: its iterator program is the only one."""
    assert _cat(capsys, obj, "dump_progs") == "prog 1 26 dump_progs\nend\n"


def test_links(obj: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cat(capsys, obj, "dump_links") == "link 1 prog 1\nend\n"


def test_tasks(obj: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _cat(capsys, obj, "dump_tasks").splitlines()
    me = os.getpid()
    assert lines[:2] == ["1 1 init", "2 2 kthreadd"]
    assert lines[2].startswith(f"{me} {me} ") and lines[3:] == ["end"]


def test_verdicts_are_the_kernels(obj: Path) -> None:
    import pybpf

    want = {n: (r["accepted"], r["errno"]) for n, r in json.loads(VERDICTS.read_text()).items()}
    got = {v.name: (v.accepted, v.errno) for v in pybpf.open(obj).verify(log_level=1)}
    assert got == want


def _need_kernel() -> None:
    from pybpf.oracle import available, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")


@pytest.mark.kernel
def test_the_running_kernel_loads_them_so(obj: Path) -> None:
    from ..elf import libbpf_ref

    _need_kernel()
    if libbpf_ref.libbpf() is None:
        pytest.skip("libbpf.so.1 is not available")
    ref = libbpf_ref.reference(str(obj))
    got = {
        n: {k: r[k] for k in ("accepted", "errno", "message")} for n, r in ref["programs"].items()
    }
    assert got == json.loads(VERDICTS.read_text())


@pytest.mark.kernel
def test_the_kernel_cats_the_pinned_program_alike(
    obj: Path, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``bpftool iter pin`` pins the object's first program, dump_progs; once bpftool has
    exited it is the pinned program's line the kernel's text holds (other programs of the
    machine may come and go)."""
    import subprocess

    _need_kernel()
    if shutil.which("bpftool") is None or not Path("/sys/fs/bpf").is_dir():
        pytest.skip("bpftool or bpffs is not available")
    path = f"/sys/fs/bpf/pybpf_iter_objects_{uuid.uuid4().hex[:8]}"
    try:
        res = subprocess.run(["bpftool", "iter", "pin", str(obj), path], capture_output=True,
                             timeout=60)  # fmt: skip
        if res.returncode != 0:
            pytest.skip(f"bpftool iter pin failed: {res.stderr.decode(errors='replace').strip()}")
        kernel = Path(path).read_text().splitlines()
    finally:
        if os.path.exists(path):
            os.unlink(path)
    ours = _cat(capsys, obj, "dump_progs").splitlines()
    no_id = re.compile(r"^prog \d+ ")
    assert kernel[-1] == ours[-1] == "end"
    assert no_id.sub("prog N ", ours[0]) in [no_id.sub("prog N ", line) for line in kernel[:-1]]


def test_task_iterator_of_one_thread(
    obj: Path, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["iter", "pin", str(obj), "t2", "--prog", "dump_tasks", "--tid", "2"]) == 0
    capsys.readouterr()
    assert main(["iter", "cat", "t2"]) == 0
    assert capsys.readouterr().out == "2 2 kthreadd\nend\n"
    assert (
        main(["iter", "pin", str(obj), "both", "--prog", "dump_tasks", "--tid", "2", "--pid", "2"])
        == 1
    )
    assert "(EINVAL)" in capsys.readouterr().err
