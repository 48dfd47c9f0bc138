"""Re-record the kernel's answers for the differential corpus (root, bpf() available).

    .venv/bin/python tests/diff/record.py [--seed S] [--count N] [--out PATH]

Writes gzip'd JSON lines: a header (seed, count, the machine's possible CPUs, kernel
release, generator version), then one ``{"case": ..., "kernel": outcome}`` per case.
``test_diff_replay.py`` holds pybpf against these answers without a kernel.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``tests.diff`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pybpf import oracle
from pybpf.casegen import GENERATOR_VERSION, generate
from pybpf.kernel.state import possible_cpus
from tests.diff.harness import CORPUS, CORPUS_COUNT, CORPUS_SEED, FORMAT, kernel_outcome


def record(seed: int, count: int, out: Path) -> dict[str, int]:
    """Ask the kernel about every case of the corpus and write the answers to ``out``."""
    header = {
        "format": FORMAT, "version": 1, "seed": seed, "count": count,
        "num_cpus": possible_cpus(), "kernel": os.uname().release,
        "generator_version": GENERATOR_VERSION,
    }  # fmt: skip
    accepted = 0
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as raw, io.TextIOWrapper(raw, encoding="utf-8") as f:
        f.write(json.dumps(header) + "\n")
        for case in generate(seed, count):
            case["meta"].pop("fragments", None)  # not needed to replay; keeps the file small
            answer = kernel_outcome(case)
            accepted += answer["accepted"]
            f.write(json.dumps({"case": case, "kernel": answer}, separators=(",", ":")) + "\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())
    return {"count": count, "accepted": accepted, "bytes": len(buf.getvalue())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=CORPUS_SEED)
    ap.add_argument("--count", type=int, default=CORPUS_COUNT)
    ap.add_argument("--out", type=Path, default=CORPUS)
    args = ap.parse_args(argv)
    if not oracle.available():
        print(f"bpf() unavailable: {oracle.unavailable_reason()}", file=sys.stderr)
        return 1
    if 0 not in os.sched_getaffinity(0):
        print("CPU 0 is not available to this process", file=sys.stderr)
        return 1
    stats = record(args.seed, args.count, args.out)
    print(f"{args.out}: {stats['count']} cases, {stats['accepted']} accepted, {stats['bytes']} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
