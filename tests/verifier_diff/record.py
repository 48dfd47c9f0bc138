"""Record the kernel's verdicts on the verifier corpus (root, bpf() available).

    .venv/bin/python tests/verifier_diff/record.py [--seed S] [--count N] [--out PATH]

Writes gzip'd JSON lines: a header (seed, count, mistake rate, kernel release, generator
version, how many the kernel rejected), then one record per case: its index, the digest
of the regenerated case, its mistake kind, and the kernel's answer at log level 1
(accepted, errno, message, insns_processed).  ``test_replay.py`` holds pybpf against
these answers without a kernel.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``tests.verifier_diff`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pybpf import oracle
from pybpf.casegen import GENERATOR_VERSION
from tests.verifier_diff.harness import (
    CORPUS,
    CORPUS_COUNT,
    CORPUS_SEED,
    FORMAT,
    LOG_LEVEL,
    MISTAKE_RATE,
    Record,
    corpus_case,
    digest,
    kernel_answer,
    mistake_of,
    write_corpus,
)


def record(seed: int, count: int, out: Path) -> dict[str, int]:
    """Ask the kernel about every case of the corpus and write the answers to ``out``."""
    records = []
    for index in range(count):
        case = corpus_case(seed, index)
        ans = kernel_answer(case)
        records.append(Record(index, digest(case), mistake_of(case), ans.accepted, ans.errno,
                              ans.message, ans.insns_processed))  # fmt: skip
    rejected = sum(not r.accepted for r in records)
    header = {
        "format": FORMAT, "version": 1, "seed": seed, "count": count,
        "mistake_rate": MISTAKE_RATE, "log_level": LOG_LEVEL, "kernel": os.uname().release,
        "generator_version": GENERATOR_VERSION, "rejected": rejected,
        "mistaken": sum(r.mistake != "valid" for r in records),
    }  # fmt: skip
    size = write_corpus(out, header, records)
    return {"count": count, "rejected": rejected, "bytes": size}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--seed", type=int, default=CORPUS_SEED)
    ap.add_argument("--count", type=int, default=CORPUS_COUNT)
    ap.add_argument("--out", type=Path, default=CORPUS)
    args = ap.parse_args(argv)
    if not oracle.available():
        print(f"bpf() unavailable: {oracle.unavailable_reason()}", file=sys.stderr)
        return 1
    start = time.monotonic()
    stats = record(args.seed, args.count, args.out)
    print(f"{args.out}: {stats['count']} cases, {stats['rejected']} rejected by the kernel, "
          f"{stats['bytes']} bytes, {time.monotonic() - start:.0f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
