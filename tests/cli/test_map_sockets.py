"""``pybpf map`` on socket maps: an empty sockmap/sockhash can be created, pinned, listed,
dumped, looked up and destroyed, and answers what the running kernel answers.

The kernel's answers for empty socket maps (the key walk, each key's lookup errno, the
lookup/delete/getnext errnos of key 0) are recorded in tests/data/maps/sockmap_empty_kernel.json;
the kernel test re-records them and checks the file still holds them.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

from pybpf.cli.main import main

DATA = Path(__file__).resolve().parents[1] / "data" / "maps" / "sockmap_empty_kernel.json"
CASES = (("sockmap", 4), ("sockmap", 8), ("sockhash", 4), ("sockhash", 8))
MAX_ENTRIES = 3


def _case_name(mtype: str, value_size: int) -> str:
    return f"{mtype}_v{value_size}"


def _record_kernel() -> dict[str, Any]:
    """Walk each empty socket map in the running kernel as bpftool does."""
    from pybpf import oracle
    from pybpf.maps.types import MapType

    out: dict[str, Any] = {}
    for mtype, vsize in CASES:
        fd = oracle.map_create(MapType.from_name(mtype), 4, vsize, MAX_ENTRIES, name="ysock")
        try:
            walk: list[list[Any]] = []
            key: bytes | None = None
            while True:
                nxt = oracle.map_get_next_key(fd, key, 4)
                if nxt.errno:
                    end = nxt.errno
                    break
                assert nxt.value is not None
                key = nxt.value
                walk.append([key.hex(), oracle.map_lookup(fd, key, vsize).errno])
            zero = bytes(4)
            out[_case_name(mtype, vsize)] = {
                "walk": walk,
                "walk_end": end,
                "lookup0": oracle.map_lookup(fd, zero, vsize).errno,
                "delete0": oracle.map_delete(fd, zero),
            }
        finally:
            oracle.close(fd)
    return out


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _errno_of(err: str) -> int:
    """The errno a one-line CLI error names (``... (ENOENT)``)."""
    name = err.strip().rsplit("(", 1)[-1].rstrip(")")
    return int(getattr(errno, name))


@pytest.mark.parametrize(("mtype", "vsize"), CASES)
def test_empty_socket_map_through_cli(
    mtype: str,
    vsize: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    want = json.loads(DATA.read_text())[_case_name(mtype, vsize)]
    monkeypatch.setenv("PYBPF_STATE_DIR", str(tmp_path))
    code, out, err = _run(capsys, "map", "create", mtype, "s", "--key-size", "4",
                          "--value-size", str(vsize), "--max-entries", str(MAX_ENTRIES))  # fmt: skip
    assert (code, err) == (0, "") and "created" in out
    assert _run(capsys, "map", "list")[1].split() == ["s"]

    code, out, _ = _run(capsys, "map", "dump", "s", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["key"]["hex"] for r in rows] == [k for k, _ in want["walk"]]
    assert [r["value"] for r in rows] == [{"error": os.strerror(e)} for _, e in want["walk"]]
    code, out, _ = _run(capsys, "map", "dump", "s")
    shown = {errno.ENOENT: "<no entry>", errno.ENOSPC: os.strerror(errno.ENOSPC)}
    assert code == 0 and out.splitlines()[-1] == "Found 0 elements"
    assert [line.rsplit("value: ", 1)[1] for line in out.splitlines()[:-1]] == [
        shown[e] for _, e in want["walk"]
    ]

    code, _, err = _run(capsys, "map", "lookup", "s", "0")
    assert code == 1 and _errno_of(err) == want["lookup0"]
    code, _, err = _run(capsys, "map", "delete", "s", "0")
    assert code == 1 and _errno_of(err) == want["delete0"]
    after_last = ["hex:" + want["walk"][-1][0]] if want["walk"] else []
    code, _, err = _run(capsys, "map", "getnext", "s", *after_last)
    assert code == 1 and _errno_of(err) == want["walk_end"]

    assert _run(capsys, "map", "destroy", "s")[0] == 0
    assert _run(capsys, "map", "list")[1] == ""
    code, _, err = _run(capsys, "map", "dump", "s")
    assert code == 1 and "ENOENT" in err


def test_reuseport_array_dump_says_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """bpftool's words for an empty reuseport array with 4-byte values (every lookup
    is ENOSPC there): ``<cannot read>``."""
    monkeypatch.setenv("PYBPF_STATE_DIR", str(tmp_path))
    assert _run(capsys, "map", "create", "reuseport_sockarray", "r", "--key-size", "4",
                "--value-size", "4", "--max-entries", "2")[0] == 0  # fmt: skip
    code, out, _ = _run(capsys, "map", "dump", "r")
    assert code == 0 and out.splitlines() == [
        "key: 00000000 (0)  value: <cannot read>",
        "key: 01000000 (1)  value: <cannot read>",
        "Found 0 elements",
    ]


@pytest.mark.kernel
def test_recorded_answers_are_the_kernels() -> None:
    from pybpf import oracle

    if not oracle.available():
        pytest.skip(oracle.unavailable_reason())
    try:
        got = _record_kernel()
    except oracle.OracleError as exc:
        pytest.skip(f"the kernel refused a socket map: {exc}")
    assert got == json.loads(DATA.read_text())


if __name__ == "__main__":  # re-record: python tests/cli/test_map_sockets.py
    DATA.write_text(json.dumps(_record_kernel(), indent=1) + "\n")
