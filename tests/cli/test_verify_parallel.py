"""``pybpf verify`` over many files on worker processes (and on a Ray cluster): the output
is exactly the one-process output, line for line, in input order."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from pybpf.casegen import generate_case, mistakes_config
from pybpf.cli.main import main
from pybpf.errors import BpfError
from pybpf.parallel import batch_size, ordered_map

SEED = 20260202
ELF = Path(__file__).resolve().parents[1] / "data" / "elf"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Twelve generated cases (about half with a deliberate mistake) and one file that
    is not a case, in the middle."""
    d = tmp_path_factory.mktemp("corpus")
    paths = []
    for i in range(12):
        case = generate_case(SEED, i, mistakes_config(0.55))
        case.pop("run", None)
        p = d / f"case{i:02}.json"
        p.write_text(json.dumps(case))
        paths.append(str(p))
    bad = d / "broken.json"
    bad.write_text("{ not json")
    paths.insert(6, str(bad))
    return paths


ADDRESS = re.compile(r"0x[0-9a-f]{10,}")


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    """Status and output lines; host addresses (map pointers in logs, as the kernel
    prints its own) differ between processes and are masked."""
    status = main(["verify", *args])
    return status, [ADDRESS.sub("0xADDR", line) for line in capsys.readouterr().out.splitlines()]


def test_jobs_give_the_one_process_output_in_order(
    capsys: pytest.CaptureFixture[str], corpus: list[str]
) -> None:
    one = _verify(capsys, "--case", *corpus, "--json", "--jobs", "1")
    two = _verify(capsys, "--case", *corpus, "--json", "--jobs", "2")
    assert one == two
    status, lines = two
    assert status == 1 and len(lines) == len(corpus)
    records = [json.loads(line) for line in lines]
    assert records[6] == {"file": corpus[6], "error": records[6]["error"], "errno": 22}
    verdicts = {r["accepted"] for r in records if "accepted" in r}
    assert verdicts == {True, False}, "the corpus should hold accepted and rejected cases"


def test_text_output_is_the_same_on_workers(
    capsys: pytest.CaptureFixture[str], corpus: list[str]
) -> None:
    one = _verify(capsys, "--case", *corpus[:5], "--jobs", "1")
    many = _verify(capsys, "--case", *corpus[:5])  # default: every core
    assert one == many
    assert all(line.startswith(tuple(corpus[:5])) for line in one[1] if "insns processed" in line)


def test_bad_job_counts_are_clean_errors(
    capsys: pytest.CaptureFixture[str], corpus: list[str]
) -> None:
    status = main(["verify", "--case", *corpus[:2], "--jobs", "0"])
    assert status == 1
    assert "--jobs must be at least 1" in capsys.readouterr().err
    with pytest.raises(BpfError):
        list(ordered_map(abs, [1, 2], jobs=-1))


def _slow_square(x: int) -> int:
    time.sleep(0.02 if x % 3 == 0 else 0.0)  # uneven work: later inputs finish first
    return x * x


def test_ordered_map_keeps_input_order() -> None:
    xs = list(range(40))
    assert list(ordered_map(_slow_square, xs, jobs=2)) == [x * x for x in xs]
    assert list(ordered_map(_slow_square, xs[:3], jobs=1)) == [0, 1, 4]
    assert list(ordered_map(_slow_square, [], jobs=2)) == []
    assert batch_size(100_000, 2) == 64 and batch_size(10, 2) == 1


@pytest.mark.skipif(shutil.which("clang-19") is None, reason="clang-19 is not installed")
def test_objects_on_workers(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    objs = []
    for stem in ("maps", "globals", "calls"):
        out = tmp_path / f"{stem}.o"
        subprocess.run(["clang-19", "-target", "bpf", "-g", "-O2", "-c", f"{stem}.c", "-o", str(out)],
                       cwd=ELF, check=True, capture_output=True, timeout=120)  # fmt: skip
        objs.append(str(out))
    objs.insert(1, str(tmp_path / "missing.o"))
    for extra in ((), ("--json",)):
        one = _verify(capsys, *objs, *extra, "--jobs", "1")
        two = _verify(capsys, *objs, *extra, "--jobs", "2")
        assert one == two
        assert one[0] == 1  # the missing object


NO_RAY = importlib.util.find_spec("ray") is None


@pytest.mark.skipif(NO_RAY, reason="ray is not installed (pip install pybpf[ray])")
def test_an_unreachable_ray_cluster_is_a_clean_error(
    capsys: pytest.CaptureFixture[str], corpus: list[str]
) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["verify", "--case", *corpus[:2], "--ray", f"127.0.0.1:{port}"]) == 1
    assert "cannot reach the Ray cluster" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="ray is not installed (pip install pybpf[ray])"
)
def test_a_local_ray_cluster_verifies_the_corpus(
    capsys: pytest.CaptureFixture[str], corpus: list[str]
) -> None:
    """``--ray local`` starts a private Ray instance on this machine, verifies the corpus
    through Ray tasks and shuts it down."""
    one = _verify(capsys, "--case", *corpus, "--json", "--jobs", "1")
    on_ray = _verify(capsys, "--case", *corpus, "--json", "--ray", "local")
    assert one == on_ray
