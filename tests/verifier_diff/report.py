"""Where pybpf's verifier and the kernel's disagree on the recorded corpus, by category.

    .venv/bin/python tests/verifier_diff/report.py [--stride N] [--jobs N] [--dump DIR]

Replays the corpus (every case, or every Nth) and prints the agreement figures, then the
disagreements grouped by mistake kind and by the kernel's message (numbers blanked),
each group with its size and one example (seed/index, what each side said), and every
case where pybpf's verifier crashed or gave no verdict.  ``--dump DIR`` writes the
disagreeing cases as case files, for ``pybpf verify --case DIR/*.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``tests.verifier_diff`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.verifier_diff.harness import (
    CORPUS,
    Agreement,
    Comparison,
    Record,
    compare_record,
    corpus_case,
    grouped,
    read_corpus,
)


def _replay(args: tuple[int, list[Record]]) -> list[Comparison]:
    seed, records = args
    return [compare_record(seed, r) for r in records]


def replay(path: Path, stride: int, jobs: int) -> tuple[int, list[Comparison]]:
    header, records = read_corpus(path)
    chosen = list(records[::stride])
    seed = int(header["seed"])
    if jobs <= 1:
        return seed, _replay((seed, chosen))
    chunks = [(seed, chosen[i : i + 100]) for i in range(0, len(chosen), 100)]
    with ProcessPoolExecutor(jobs) as pool:
        return seed, [c for part in pool.map(_replay, chunks) for c in part]


def print_groups(title: str, comparisons: list[Comparison], by: str, limit: int) -> None:
    groups = grouped(comparisons, by)
    print(f"\n== disagreements by {title} ({len(groups)} groups) ==")
    for key, cs in list(groups.items())[:limit]:
        print(f"{len(cs):5d}  {key}")
        print(f"       e.g. {cs[0].describe()[:400]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--stride", type=int, default=1, help="replay every Nth case")
    ap.add_argument("--jobs", type=int, default=1, help="processes to replay with")
    ap.add_argument("--limit", type=int, default=40, help="groups shown per grouping")
    ap.add_argument("--dump", type=Path, help="write the disagreeing cases here as case files")
    args = ap.parse_args(argv)
    start = time.monotonic()
    seed, comparisons = replay(args.corpus, args.stride, args.jobs)
    figures = Agreement.of(comparisons)
    print(f"{args.corpus} (every {args.stride}), {time.monotonic() - start:.0f} s")
    print(figures.summary())
    print("bar:", "met" if not figures.shortfalls() else "NOT met: " + "; ".join(figures.shortfalls()))
    print_groups("category", comparisons, "category", args.limit)
    print_groups("mistake kind", comparisons, "mistake", args.limit)
    print_groups("kernel message", comparisons, "message", args.limit)
    failed = [c for c in comparisons if c.failed]
    if failed:
        print(f"\n== pybpf crashed or gave no verdict ({len(failed)}) ==")
        for c in failed:
            print(f"  {c.describe()[:400]}")
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
        bad = [c for c in comparisons if c.category]
        for c in bad:
            case = corpus_case(seed, c.index)
            case["kernel"] = {"accepted": c.kernel.accepted, "errno": c.kernel.errno,
                              "message": c.kernel.message}  # fmt: skip
            out = args.dump / f"{seed}-{c.index:05d}-{c.mistake}.json"
            out.write_text(json.dumps(case, indent=1) + "\n")
        print(f"\n{len(bad)} case files in {args.dump}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
