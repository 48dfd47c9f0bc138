"""``pybpf struct_ops`` and ``pybpf tcp-sim``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pybpf.cli.main import main

EXAMPLES = Path(__file__).parents[2] / "examples" / "struct_ops"


def test_struct_ops_verbs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PYBPF_STATE_DIR", str(tmp_path))
    assert main(["struct_ops", "register", str(EXAMPLES / "reno.bpf.o")]) == 0
    assert main(["struct_ops", "register", str(EXAMPLES / "reno.bpf.o")]) == 1  # bpf_reno is taken
    assert "EEXIST" in capsys.readouterr().err
    assert main(["struct_ops", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["kernel_struct_ops"]) for r in rows] == [("bpf_reno", "tcp_congestion_ops")]
    assert main(["struct_ops", "dump", "name", "bpf_reno", "--json"]) == 0
    value = json.loads(capsys.readouterr().out)[0]["value"]
    assert value["state"] == 1 and value["refcnt"]["refs"]["counter"] == 1
    assert value["data"]["ssthresh"] and value["data"]["cong_avoid"] and not value["data"]["init"]
    assert bytes(c for c in value["data"]["name"] if c) == b"bpf_reno"
    assert main(["struct_ops", "unregister", "name", "bpf_reno"]) == 0
    assert main(["struct_ops", "register", str(EXAMPLES / "reno.bpf.o")]) == 0


def test_tcp_sim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "out.png"
    argv = ["tcp-sim", str(EXAMPLES / "reno.bpf.o"), "--algo", "bpf_reno", "--algo", "reno",
            "--duration", "2", "--png", str(png), "--json"]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    flows = out["flows"]
    assert [f["algorithm"] for f in flows] == ["bpf_reno", "reno"]
    assert sum(f["throughput_mbps"] for f in flows) > 8
    assert png.read_bytes().startswith(b"\x89PNG")
    assert main(["tcp-sim", "--algo", "nope"]) == 1


def test_verify_struct_ops_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(EXAMPLES / "cubic.bpf.o"), "--json"]) == 0
    out = capsys.readouterr().out
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(rows) == 5 and all(r["accepted"] for r in rows)
    assert {r["name"]: r["insns_processed"] for r in rows}["cubic_cong_avoid"] == 727  # the kernel's count
