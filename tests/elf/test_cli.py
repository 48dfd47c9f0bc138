"""``pybpf verify prog.o``, ``pybpf prog load/loadall/show/dump/unpin``, ``pybpf case export``."""

from __future__ import annotations

import errno
import json
import re
from pathlib import Path

import pytest

from pybpf.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_object_json(objects: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", str(objects["rejects"]), "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [(r["name"], r["section"], r["verdict"], r["errno"]) for r in lines] == [
        ("xdp_null_deref", "xdp", "rejected", 13), ("xdp_ok", "xdp", "accepted", 0),
        ("sock_oob", "socket", "rejected", 13),
        ("unknown_sec", "pybpf_unknown_section", "rejected", 22),
    ]  # fmt: skip
    assert lines[0]["message"] == "R0 invalid mem access 'map_value_or_null'"
    assert lines[0]["insns_processed"] == 7 and lines[1]["insns_processed"] == 2


def test_verify_one_program_text(objects: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", str(objects["rejects"]), "--prog", "xdp_null_deref")
    assert code == 1
    assert "; return *v ? XDP_PASS : XDP_DROP; @ rejects.c:17" in out
    assert out.splitlines()[-1].startswith("xdp_null_deref (SEC 'xdp'): rejected (EACCES)")
    code, out, _ = run(capsys, "verify", str(objects["maps"]), "--prog", "tc_mark")
    assert code == 0 and out.strip() == "tc_mark (SEC 'tc'): accepted, 16 insns processed"


def test_plain_output_is_level_one_output(objects: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Plain output verifies at level 0 and again at level 1 only what it rejects: the text
    is what verifying everything at level 1 gives (logs of rejected programs only)."""
    from pybpf.obj import open as open_object

    code, out, _ = run(capsys, "verify", str(objects["rejects"]))
    expected = []
    for v in open_object(objects["rejects"]).verify(None, log_level=1):
        if not v.accepted and v.log:
            expected.append(v.log.rstrip("\n"))
        verdict = "accepted" if v.accepted else f"rejected ({errno.errorcode[v.errno]}): {v.message}"
        expected.append(f"{v.name} (SEC {v.section!r}): {verdict}, {v.insns_processed} insns processed")
    address = re.compile(r"0x[0-9a-f]{8,}")  # each open maps its maps afresh
    assert code == 1 and address.sub("0x", out) == address.sub("0x", "\n".join(expected) + "\n")
    assert "R0 invalid mem access 'map_value_or_null'" in out


def test_verify_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"\x7fELF" + bytes(40))
    code, out, _ = run(capsys, "verify", str(bad))
    assert code == 1 and len(out.splitlines()) == 1 and "bad.o" in out
    code, out, _ = run(capsys, "verify", str(tmp_path / "missing.o"), "--json")
    assert code == 1 and json.loads(out)["errno"] == 2
    code, _, err = run(capsys, "verify")
    assert code == 1 and err.startswith("pybpf: nothing to verify")


def test_prog_load_show_dump(objects: dict[str, Path], state_dir: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    code, out, _ = run(capsys, "prog", "load", str(objects["maps"]), "counter", "--prog", "tc_mark")
    assert code == 0 and "pinned tc_mark as 'counter'" in out
    code, out, _ = run(capsys, "prog", "show", "--json")
    rec = json.loads(out)
    assert (rec["name"], rec["program"], rec["type"], rec["insns"]) == ("counter", "tc_mark",
                                                                        "sched_cls", 17)
    assert rec["maps"] == ["counter.recent"]
    code, out, _ = run(capsys, "prog", "dump", "xlated", "counter")
    lines = out.splitlines()
    assert lines[0] == "int tc_mark(struct __sk_buff * skb):"
    assert "; __u64 key = skb->len;" in lines
    assert any("r1 = map[counter.recent]" in line for line in lines)
    code, out, _ = run(capsys, "map", "list")
    assert "counter.recent" in out.split()
    code, _, _ = run(capsys, "prog", "unpin", "counter")
    code, _, err = run(capsys, "prog", "show", "counter")
    assert code == 1 and "no program pinned" in err


def test_prog_loadall_and_dump_object(objects: dict[str, Path], state_dir: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    code, out, _ = run(capsys, "prog", "loadall", str(objects["calls"]), "c", "--json")
    assert code == 0  # xdp_loop_cb's bpf_loop callback included
    assert "c.xdp_loop_cb" in [json.loads(x)["name"] for x in out.splitlines()]
    code, out, _ = run(capsys, "prog", "loadall", str(objects["mapinmap"]), "m", "--json")
    assert code == 0
    rows = [json.loads(x) for x in out.splitlines()]
    assert [r["name"] for r in rows] == [
        "m.xdp_tail_pass", "m.xdp_tail_drop", "m.xdp_dispatch", "m.xdp_inner"]
    # the programs of one object share its maps: each is pinned once, under the prefix
    pinned = {m for r in rows for m in r["maps"]}
    assert pinned and all(m.startswith("m.") and m.count(".") >= 1 for m in pinned)
    assert not any(m.startswith(("m.xdp_", "m.m.")) for m in pinned), pinned
    code, out, _ = run(capsys, "prog", "dump", "xlated", str(objects["calls"]), "--prog",
                       "xdp_calls")  # fmt: skip
    heads = [line for line in out.splitlines() if line.endswith("):")]
    assert heads == ["int xdp_calls(struct xdp_md * ctx):", "__u64 sum_squares(__u32 n):",
                     "__u64 square(__u64 x):", "int store(__u32 slot, __u64 value):"]  # fmt: skip


def test_case_export_round_trip(objects: dict[str, Path], tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out_dir = tmp_path / "cases"
    code, out, _ = run(capsys, "case", "export", str(objects["globals"]), "--out", str(out_dir),
                       "--set", "multiplier=7")  # fmt: skip
    assert code == 0
    case = json.loads((out_dir / "xdp_globals.json").read_text())
    assert [m["name"] for m in case["maps"]] == ["globals.rodata", ".rodata.str1.1",
                                                 "globals.bss", "globals.data"]  # fmt: skip
    assert case["maps"][0]["map_init"] == "0000000007000000" and case["maps"][0]["freeze"]
    assert case["meta"]["license"] == "GPL"
    code, out, _ = run(capsys, "verify", "--case", str(out_dir / "xdp_globals.json"), "--json")
    res = json.loads(out)
    assert code == 0 and res["accepted"] and res["insns_processed"] == 28


def test_case_export_every_program(objects: dict[str, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    code, out, _ = run(capsys, "case", "export", str(objects["rejects"]), "--out", str(tmp_path),
                       "--json")  # fmt: skip
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 1  # the program of an unknown section has no type to export
    assert [r.get("program") for r in rows] == ["xdp_null_deref", "xdp_ok", "sock_oob",
                                                "unknown_sec"]  # fmt: skip
    assert rows[-1]["errno"] == 22
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [
        "sock_oob.json", "xdp_null_deref.json", "xdp_ok.json"]


def test_verify_object_unprivileged(objects: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", str(objects["maps"]), "--prog", "sock_len", "--json",
                       "--unprivileged")  # fmt: skip
    unpriv = json.loads(out)
    code2, out, _ = run(capsys, "verify", str(objects["maps"]), "--prog", "sock_len", "--json")
    priv = json.loads(out)
    assert code == code2 == 0 and unpriv["accepted"] and priv["accepted"]
    assert unpriv["insns_processed"] > priv["insns_processed"]  # no pruning help for unprivileged


def test_prog_show_counts_the_rewritten_program(objects: dict[str, Path], state_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """bpftool's "xlated" size is the program after the verifier's rewrites (408 bytes for
    xdp_count on 6.18: the inlined hash lookup adds instructions)."""
    run(capsys, "prog", "load", str(objects["maps"]), "cnt")
    code, out, _ = run(capsys, "prog", "show", "cnt", "--json")
    rec = json.loads(out)
    code, dump, _ = run(capsys, "prog", "dump", "xlated", "cnt", "--rewritten")
    if code != 0:
        pytest.skip("this verifier does not give its rewritten program")
    assert rec["bytes_xlated"] == 408
    assert "call __htab_map_lookup_elem" in dump
