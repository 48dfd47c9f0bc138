"""How many of the kernel selftests' BPF programs pybpf judges as the running kernel does.

Usage (a measurement, run by hand or by the slow test of this directory):

    python tests/elf/selftests_progs.py OBJ_DIR [--jobs 2] [--timeout 60] [--out FILE]

``OBJ_DIR`` holds objects built from ``tools/testing/selftests/bpf/progs/*.c`` of the
Linux sources (clang-19 -target bpf -mcpu=v3 -g -O2 against a vmlinux.h bpftool makes;
see ``build_selftests`` in ``test_selftests_progs.py``).  For each object, libbpf (the
kernel's verdict, one program at a time) and pybpf (``BpfObject.verify``) judge every
program; each object runs in its own process under a time limit.  Prints a summary and
writes every program's pair of verdicts as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def judge_one(path: str) -> dict[str, Any]:
    """Both verdicts for every program of one object (run in a child process)."""
    sys.path.insert(0, str(HERE))
    import libbpf_ref

    import pybpf

    out: dict[str, Any] = {"object": os.path.basename(path), "programs": {}}
    try:
        ref = libbpf_ref.reference(path)
    except Exception as exc:  # libbpf refusing an object is an answer, not a failure
        ref = {"open_errno": -1, "error": str(exc)}
    if "open_errno" in ref:
        out["libbpf_open_errno"] = ref["open_errno"]
    start = time.monotonic()
    try:
        verdicts = {v.name: v for v in pybpf.open(path).verify(log_level=1)}
        out["pybpf_seconds"] = round(time.monotonic() - start, 2)
    except pybpf.BpfError as exc:
        out["pybpf_open_errno"] = exc.errno
        out["pybpf_error"] = exc.message
        verdicts = {}
    for name, r in ref.get("programs", {}).items():
        v = verdicts.get(name)
        out["programs"][name] = {
            "kernel": [r["accepted"], r["errno"], r["insns_processed"]],
            "pybpf": [v.accepted, v.errno, v.insns_processed] if v is not None else None,
            "message": v.message if v is not None and not v.accepted else "",
            "kernel_message": r["message"],
        }
    return out


def _run(path: Path, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", str(path)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"object": path.name, "timeout": True, "programs": {}}
    try:
        data: dict[str, Any] = json.loads(res.stdout.splitlines()[-1])
        return data
    except (json.JSONDecodeError, IndexError):
        return {"object": path.name, "crash": res.stderr[-2000:], "programs": {}}


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    c: Counter[str] = Counter()
    errnos: Counter[str] = Counter()
    for r in results:
        c["objects"] += 1
        if r.get("timeout"):
            c["objects timed out"] += 1
        if r.get("crash"):
            c["objects crashed pybpf"] += 1
        if "libbpf_open_errno" in r:
            c["objects libbpf (1.1) could not open"] += 1
        if "pybpf_open_errno" in r:
            c["objects pybpf could not open"] += 1
            errnos[f"open errno {r['pybpf_open_errno']}: {r.get('pybpf_error', '')[:60]}"] += 1
        for p in r["programs"].values():
            c["programs"] += 1
            k, o = p["kernel"], p["pybpf"]
            c["kernel accepts"] += k[0]
            if o is None:
                c["no pybpf verdict"] += 1
                continue
            if k[0] == o[0]:
                c["same verdict"] += 1
                if k == o:
                    c["same verdict, errno and insns processed"] += 1
            elif k[0]:
                c["kernel accepts, pybpf rejects"] += 1
                errnos[f"pybpf rejects: {p['message'][:70]}"] += 1
            else:
                c["kernel rejects, pybpf accepts"] += 1
    return {"counts": dict(c), "top_reasons": errnos.most_common(25)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("objdir", nargs="?")
    ap.add_argument("--one", metavar="OBJ", help=argparse.SUPPRESS)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--limit", type=int, default=0, help="only the first N objects")
    ap.add_argument("--out", metavar="FILE", help="write per-object results as JSON lines")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(judge_one(args.one)))
        return 0
    objs = sorted(Path(args.objdir).glob("*.o"))
    if args.limit:
        objs = objs[: args.limit]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda p: _run(p, args.timeout), objs))
    if args.out:
        with open(args.out, "w") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")
    print(json.dumps(summarize(results), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
