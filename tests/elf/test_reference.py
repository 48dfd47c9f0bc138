"""pybpf's loader against the real one: libbpf's relocated instructions and maps, and
the running kernel's verdict on them.

The answers are recorded in ``tests/data/elf/libbpf_reference.json`` (made with
``python tests/elf/libbpf_ref.py``), keyed by a digest of each object's code, so the
comparison runs without the kernel as long as clang builds the same code; the
``kernel``-marked test asks libbpf and the kernel again, live.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

import pybpf
from pybpf.isa.insn import encode_hex

from . import libbpf_ref

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "elf" / "libbpf_reference.json"

# Differences that are not the loader's (none at the moment: the verifier takes the
# object's BTF function info, so global functions and callbacks agree with the kernel).
VERIFIER_GAPS: dict[tuple[str, str], str] = {}


def _recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text())["objects"]
    return data


def _same_insns(ours: str, ref: str) -> bool:
    """Equal, where the reference's map index -1 (unknown after a failed load) matches any."""
    a, b = ours.split(), ref.split()
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x == y:
            continue
        if y[:2] == "18" and y[8:] == "ffffffff" and x[:8] == y[:8]:
            continue
        return False
    return True


def compare(stem: str, path: Path, ref: dict[str, Any]) -> list[str]:
    """Every difference between pybpf and the reference for one object."""
    problems: list[str] = []
    if "open_errno" in ref:
        return [f"libbpf refused to open {stem} (errno {ref['open_errno']})"]
    obj = pybpf.open(path)
    maps = [{"name": m.name, "type": int(m.spec.type), "key_size": m.spec.key_size,
             "value_size": m.spec.value_size, "max_entries": m.spec.max_entries,
             "flags": m.spec.flags} for m in obj.spec.maps]  # fmt: skip
    if maps != ref["maps"]:
        problems.append(f"{stem}: maps {maps} != {ref['maps']}")
    try:
        verdicts = {v.name: v for v in obj.verify(log_level=1)}
    except pybpf.BpfError as exc:
        if exc.errno == errno.EOPNOTSUPP and "CO-RE" in exc.message:
            return []  # the btf package's CO-RE resolver has not landed yet
        raise
    if list(verdicts) != list(ref["programs"]):
        problems.append(f"{stem}: programs {list(verdicts)} != {list(ref['programs'])}")
    for name, r in ref["programs"].items():
        op = obj.programs.get(name)
        if op is None:
            continue
        if (op.section, int(op.prog_type)) != (r["section"], r["prog_type"]):
            problems.append(f"{stem}/{name}: section/type {op.section}/{op.prog_type}")
        if op.definition.sec_def is not None and not _same_insns(encode_hex(op.insns), r["insns"]):
            problems.append(f"{stem}/{name}: relocated instructions differ")
        if (stem, name) in VERIFIER_GAPS:
            continue
        v = verdicts[name]
        ours = (v.accepted, v.errno, v.insns_processed)
        theirs = (r["accepted"], r["errno"], r["insns_processed"])
        if ours != theirs:
            problems.append(f"{stem}/{name}: verdict {ours} != {theirs}")
        if r["message"] and v.message != r["message"]:
            problems.append(f"{stem}/{name}: message {v.message!r} != {r['message']!r}")
        if r.get("log") and libbpf_ref.normalize_log(v.log) != libbpf_ref.normalize_log(r["log"]):
            problems.append(f"{stem}/{name}: verifier log differs:\n{v.log}\n--- kernel:\n{r['log']}")
    return problems


def test_recorded_reference(objects: dict[str, Path]) -> None:
    recorded = _recorded()
    compared = 0
    problems: list[str] = []
    for stem, ref in recorded.items():
        path = objects.get(stem)
        if path is None or libbpf_ref.object_digest(str(path)) != ref["digest"]:
            continue  # this clang builds different code; only the live test can compare
        compared += 1
        if stem == "legacy":
            # libbpf 1.0+ refuses SEC("maps"); pybpf reads it as older loaders did
            assert ref["open_errno"] == errno.EOPNOTSUPP
            continue
        problems += compare(stem, path, ref)
    if not compared:
        pytest.skip("clang-19 here builds different code than the recorded reference")
    assert not problems, "\n".join(problems)


@pytest.mark.kernel
def test_live_libbpf_and_kernel(objects: dict[str, Path]) -> None:
    from pybpf.oracle import available, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    if libbpf_ref.libbpf() is None:
        pytest.skip("libbpf.so.1 is not installed")
    problems: list[str] = []
    for stem, path in objects.items():
        if stem == "legacy":
            continue
        problems += compare(stem, path, libbpf_ref.reference(str(path)))
    assert not problems, "\n".join(problems)


@pytest.mark.kernel
@pytest.mark.parametrize(("stem", "prog"), [("globals", "xdp_globals"), ("maps", "xdp_count"),
                                            ("mapinmap", "xdp_inner")])  # fmt: skip
def test_live_level2_log_with_source_lines(objects: dict[str, Path], stem: str, prog: str) -> None:
    """The whole level-2 log, source lines included, as the kernel writes it."""
    from pybpf.oracle import available, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    if libbpf_ref.libbpf() is None:
        pytest.skip("libbpf.so.1 is not installed")
    kernel = libbpf_ref.kernel_log(str(objects[stem]), prog, 2)
    ours = pybpf.open(objects[stem]).verify(prog, log_level=2)[0].log
    assert "; " in ours and " @ " in ours
    assert libbpf_ref.normalize_log(ours) == libbpf_ref.normalize_log(kernel)


@pytest.mark.kernel
def test_exported_cases_get_the_kernels_verdict(objects: dict[str, Path]) -> None:
    """Every program exported as a case: pybpf and the kernel (given the same case, so no
    BTF on either side) agree on verdict, errno and instructions processed."""
    from pybpf.cli.cmd_verify import verify_case
    from pybpf.oracle import available, load_case, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    problems = []
    for stem, path in objects.items():
        obj = pybpf.open(path)
        for name, op in obj.programs.items():
            if op.definition.sec_def is None:
                continue
            try:
                case = obj.export_case(name)
            except pybpf.BpfError as exc:
                if exc.errno == errno.EOPNOTSUPP and "CO-RE" in exc.message:
                    continue  # the btf package's CO-RE resolver has not landed yet
                raise
            ours = verify_case(case)
            theirs = load_case(case.to_json()).to_json()
            a = (ours["accepted"], ours["errno"], ours["insns_processed"])
            b = (theirs["accepted"], theirs["errno"], theirs["insns_processed"])
            if a != b:
                problems.append(f"{stem}/{name}: pybpf {a} kernel {b} {theirs['message']!r}")
    assert not problems, "\n".join(problems)
