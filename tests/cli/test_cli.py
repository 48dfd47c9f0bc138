"""The pybpf command: verbs, --json, one-line errors with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pybpf.cli.main import main

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "bpf_conformance"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_asm_then_disasm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "p.s"
    src.write_text("r0 = 2\nexit\n")
    code, out, _ = run(capsys, "asm", str(src))
    assert code == 0 and out.strip() == "b700000002000000 9500000000000000"
    code, out, _ = run(capsys, "disasm", "--hex", out.strip())
    assert out.splitlines() == ["0: (b7) r0 = 2", "1: (95) exit"]
    code, out, _ = run(capsys, "disasm", "--hex", "b700000002000000", "--syntax", "llvm", "--json")
    assert json.loads(out)["lines"][0].endswith("r0 = 0x2")


def test_run_cases_json_lines_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = {"prog_type": "xdp", "insns": "b700000002000000 9500000000000000",
          "run": {"data": "00" * 14, "repeat": 1}}  # fmt: skip
    bad_map = {"prog_type": "socket_filter", "insns": "1811000000000000 0000000000000000 b700000000000000 9500000000000000"}
    (tmp_path / "a.json").write_text(json.dumps(ok))
    (tmp_path / "b.json").write_text(json.dumps(bad_map))
    (tmp_path / "c.json").write_text("{not json")
    code, out, _ = run(capsys, "run", "--json", "--case", *(str(tmp_path / f"{n}.json") for n in "abc"))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert lines[0]["accepted"] and lines[0]["run"]["retval"] == 2
    assert not lines[1]["accepted"] and lines[1]["errno"] == 9
    assert lines[2]["errno"] == 22 and "not JSON" in lines[2]["error"]


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = tmp_path / "bad.s"
    src.write_text("r0 = = 1\n")
    code, _, err = run(capsys, "asm", str(src))
    assert code == 1 and err.count("\n") == 1 and "EINVAL" in err
    code, _, err = run(capsys, "disasm", "--hex", "zz")
    assert code == 1 and err.count("\n") == 1


def test_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--repeat", "x"])
    assert info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="bpf_conformance data not present")
def test_conformance_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "conformance", str(CONFORMANCE))
    assert code == 0 and out.strip().endswith("313 passed, 0 failed")


def test_map_verbs(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBPF_STATE_DIR", str(tmp_path))
    assert run(capsys, "map", "create", "hash", "m", "--key-size", "4", "--value-size", "8",
               "--max-entries", "2")[0] == 0  # fmt: skip
    assert run(capsys, "map", "update", "m", "1", "10")[0] == 0
    assert run(capsys, "map", "update", "m", "2", "20")[0] == 0
    code, _, err = run(capsys, "map", "update", "m", "3", "30")
    assert code == 1 and "E2BIG" in err
    code, _, err = run(capsys, "map", "update", "m", "1", "5", "--flags", "noexist")
    assert code == 1 and "EEXIST" in err
    code, out, _ = run(capsys, "map", "lookup", "m", "1", "--json")
    assert json.loads(out)["int"] == 10
    code, out, _ = run(capsys, "map", "dump", "m", "--json")
    assert sorted(e["key"]["int"] for e in json.loads(out)) == [1, 2]
    assert run(capsys, "map", "delete", "m", "1")[0] == 0
    code, _, err = run(capsys, "map", "lookup", "m", "1")
    assert code == 1 and "ENOENT" in err
