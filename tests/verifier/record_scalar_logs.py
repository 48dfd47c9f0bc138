"""Record the running kernel's verifier logs of the scalar-domain test programs.

    .venv/bin/python -m tests.verifier.record_scalar_logs [--count N]

Writes ``tests/data/verifier/scalar_{alu,jmp,mixed,probes}.json``: for each program its
instructions (hex), the errno of BPF_PROG_LOAD and the log lines the replay reads (see
:mod:`tests.verifier.scalar_logs`), with runs of alignment spaces collapsed.  The tests
replay these without the kernel; re-record when the kernel (or the generator) changes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
from pathlib import Path

from pybpf.isa import Insn, encode_hex
from pybpf.oracle import available, prog_load, unavailable_reason

from .scalar_logs import PROBES, STYLES, assemble_probe, generate, relevant_lines

DATA = Path(__file__).resolve().parent.parent / "data" / "verifier"
SOCKET_FILTER = 1


def kernel_lines(insns: list[Insn]) -> tuple[int, list[str]]:
    """BPF_PROG_LOAD at log level 2: the errno and the replayed lines of the log."""
    res = prog_load(SOCKET_FILTER, insns, log_level=2, log_size=1 << 24)
    lines = [re.sub(r" {2,}", " ", line) for line in relevant_lines(res.log)]
    return res.errno, lines


def record(name: str, programs: list[tuple[str, list[Insn]]]) -> Path:
    out = []
    for label, insns in programs:
        errno, lines = kernel_lines(insns)
        out.append({"name": label, "insns": encode_hex(insns, ""), "errno": errno, "log": lines})
    path = DATA / f"scalar_{name}.json"
    doc = {
        "kernel": platform.release(),
        "about": "verifier logs (level 2) of pybpf's scalar-domain test programs",
        "programs": out,
    }
    path.write_text(json.dumps(doc, indent=0) + "\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=80, help="random programs per style")
    args = ap.parse_args()
    if not available():
        raise SystemExit(f"bpf() unavailable: {unavailable_reason()}")
    os.makedirs(DATA, exist_ok=True)
    for style in STYLES:
        progs = [(f"{style}-{seed}", generate(seed, style)) for seed in range(args.count)]
        print(record(style, progs))
    print(record("probes", [(name, assemble_probe(body)) for name, body in PROBES.items()]))


if __name__ == "__main__":
    main()
