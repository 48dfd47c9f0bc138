"""``pybpf iter pin`` / ``pybpf iter cat`` against ``bpftool iter pin`` and ``cat`` of the
pinned iterator in the kernel, for ``tests/data/iter/iter_counters.c`` (compiled at test
time) over hash, LRU, array and per-CPU maps.  The kernel's text is recorded in
``tests/data/iter/cli_kernel.json``; where bpftool, bpffs and bpf() are available the
kernel is asked again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from pybpf.cli.main import main

from ..elf.conftest import CLANG, compile_c

SRC = Path(__file__).resolve().parents[1] / "data" / "iter" / "iter_counters.c"
RECORDED = Path(__file__).resolve().parents[1] / "data" / "iter" / "cli_kernel.json"

# map type, entries (key, value) for each scenario; the element lines of hash maps come
# in the kernel's bucket order, so they are compared sorted
SCENARIOS: dict[str, tuple[str, list[tuple[int, int]]]] = {
    "hash": ("hash", [(1, 10), (2, 256), (7, 5)]),
    "lru_hash": ("lru_hash", [(3, 1), (4, 2)]),
    "array": ("array", [(0, 4), (2, 9)]),
    "empty_hash": ("hash", []),
}
MAX_ENTRIES = 4


def _sorted_body(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[:1] + sorted(lines[1:-1]) + lines[-1:] if len(lines) > 2 else lines


@pytest.fixture(scope="module")
def obj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if CLANG is None:
        pytest.skip("clang-19 is not installed (make system-deps installs it)")
    return compile_c(SRC, tmp_path_factory.mktemp("iter-cli") / "iter_counters.o")


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "state"
    monkeypatch.setenv("PYBPF_STATE_DIR", str(d))
    return d


def _pybpf(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _pybpf_cat(obj: Path, capsys: pytest.CaptureFixture[str], scenario: str) -> str:
    mtype, entries = SCENARIOS[scenario]
    assert _pybpf(capsys, "map", "create", mtype, "m", "--key-size", "4", "--value-size", "8",
                  "--max-entries", str(MAX_ENTRIES))[0] == 0  # fmt: skip
    for k, v in entries:
        assert _pybpf(capsys, "map", "update", "m", str(k), str(v))[0] == 0
    code, out, err = _pybpf(capsys, "iter", "pin", str(obj), "it", "--map", "m")
    assert code == 0, err
    code, out, err = _pybpf(capsys, "iter", "cat", "it")
    assert code == 0, err
    return out


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_cat_prints_what_the_kernel_prints(obj: Path, state: Path, scenario: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    want = json.loads(RECORDED.read_text())[scenario]
    assert _sorted_body(_pybpf_cat(obj, capsys, scenario)) == _sorted_body(want)


def test_cat_twice_starts_afresh(obj: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _pybpf_cat(obj, capsys, "array")
    assert _pybpf(capsys, "iter", "cat", "it")[1] == first
    code, out, _ = _pybpf(capsys, "iter", "show")
    assert code == 0 and out.startswith("it: dump_counters (bpf_map_elem map m)")


def test_pin_refuses_a_map_too_small(obj: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _pybpf(capsys, "map", "create", "hash", "small", "--key-size", "4", "--value-size", "4",
           "--max-entries", "2")  # fmt: skip
    code, _, err = _pybpf(capsys, "iter", "pin", str(obj), "it", "--map", "small")
    assert code == 1 and err.count("\n") == 1 and "(EACCES)" in err
    _pybpf(capsys, "map", "create", "queue", "q", "--key-size", "0", "--value-size", "8",
           "--max-entries", "2")  # fmt: skip
    code, _, err = _pybpf(capsys, "iter", "pin", str(obj), "it", "--map", "q")
    assert code == 1 and "(EINVAL)" in err
    code, _, err = _pybpf(capsys, "iter", "pin", str(obj), "it")
    assert code == 1 and "(EBADF)" in err
    code, _, err = _pybpf(capsys, "iter", "cat", "nothing")
    assert code == 1 and "(ENOENT)" in err


def test_help_shows_the_flow(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["iter", "--help"])
    text = capsys.readouterr().out
    assert "pybpf iter pin" in text and "pybpf iter cat" in text


# --- the kernel through bpftool ----------------------------------------------------------


def kernel_cat(obj: Path, scenario: str) -> str:
    """``bpftool map create``/``update``, ``bpftool iter pin``, ``cat``."""
    mtype, entries = SCENARIOS[scenario]
    tag = uuid.uuid4().hex[:8]
    m, it = f"/sys/fs/bpf/pybpf_m_{tag}", f"/sys/fs/bpf/pybpf_it_{tag}"

    def bpftool(*args: str) -> None:
        subprocess.run(["bpftool", *args], check=True, capture_output=True, timeout=60)

    try:
        bpftool("map", "create", m, "type", mtype, "key", "4", "value", "8", "entries",
                str(MAX_ENTRIES), "name", "m")  # fmt: skip
        for k, v in entries:
            bpftool("map", "update", "pinned", m, "key", *[str(b) for b in k.to_bytes(4, "little")],
                    "value", *[str(b) for b in v.to_bytes(8, "little")])  # fmt: skip
        bpftool("iter", "pin", str(obj), it, "map", "pinned", m)
        return Path(it).read_text()
    finally:
        for p in (it, m):
            if os.path.exists(p):
                os.unlink(p)


@pytest.mark.kernel
def test_the_kernel_prints_the_recorded_text(obj: Path) -> None:
    from pybpf.oracle import available, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    if shutil.which("bpftool") is None or not os.path.isdir("/sys/fs/bpf"):
        pytest.skip("bpftool or bpffs is not available")
    recorded = json.loads(RECORDED.read_text())
    for scenario in SCENARIOS:
        try:
            got = kernel_cat(obj, scenario)
        except (subprocess.CalledProcessError, PermissionError) as exc:
            pytest.skip(f"bpftool failed: {exc}")
        assert _sorted_body(got) == _sorted_body(recorded[scenario]), scenario


if __name__ == "__main__":  # python -m tests.iter.test_cli OBJ: record the kernel's text
    import sys

    RECORDED.write_text(json.dumps({s: kernel_cat(Path(sys.argv[1]), s) for s in SCENARIOS},
                                   indent=1) + "\n")  # fmt: skip
