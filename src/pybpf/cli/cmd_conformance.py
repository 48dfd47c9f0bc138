"""``pybpf conformance DIR``: run bpf_conformance data files."""

from __future__ import annotations

import argparse
import errno
from pathlib import Path
from typing import Any

from ..conformance import CaseResult, Outcome, parse, run_case, run_directory, run_files, summary
from ..errors import BpfError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "conformance",
        help="run bpf_conformance test files",
        description="Run every *.data file of a bpf_conformance directory (or the given files) "
        "in the interpreter and end with 'N passed, N failed'.  Files of a directory named "
        "'negative' must be refused.",
    )
    p.add_argument("paths", nargs="+", help="directories or .data files")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per file")
    p.add_argument("--negative", action="store_true", help="treat the files as negative tests")
    p.add_argument("--json", action="store_true", help="one JSON line per file, then the summary")
    p.add_argument("--tier", choices=["interp", "python", "jit"], default=None,
                   help="execution tier to run the files on (default: the reference interpreter)")
    p.set_defaults(handler=run)


def _on_tier(paths: list[Path], negative: bool, tier: str) -> list[CaseResult]:
    """The files run on ``tier`` (one runner for all, as ``run_files`` does)."""
    from ..kernel.state import Kernel
    from ..vm.tiers import make_runner

    runner = make_runner(Kernel(seed=0), tier)
    results = []
    for path in sorted(paths):
        case = parse(path)
        if case is None:
            results.append(CaseResult(path.stem, Outcome.SKIPPED, "no result or error section"))
        else:
            results.append(run_case(case, runner, negative))  # type: ignore[arg-type]
    return results


def run(args: argparse.Namespace) -> int:
    from .main import emit_json

    results = []
    for name in args.paths:
        path = Path(name)
        if path.is_dir() and args.tier is not None:
            results.extend(_on_tier(list(path.glob("*.data")), args.negative or path.name == "negative", args.tier))
        elif path.is_file() and args.tier is not None:
            results.extend(_on_tier([path], args.negative, args.tier))
        elif path.is_dir():
            results.extend(run_directory(path, True if args.negative else None))
        elif path.is_file():
            results.extend(run_files([path], negative=args.negative))
        else:
            raise BpfError(errno.ENOENT, f"{name}: no such file or directory")
    for r in results:
        if args.json:
            emit_json({"name": r.name, "outcome": r.outcome.value, "detail": r.detail})
        elif args.verbose or r.outcome is Outcome.FAILED:
            print(f"{r.outcome.value.upper():7} {r.name}: {r.detail}")
    text = summary(results)
    if args.json:
        emit_json({"summary": text})
    else:
        print(text)
    return 1 if any(r.outcome is Outcome.FAILED for r in results) else 0
