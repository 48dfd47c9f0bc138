"""``pybpf verify``: the kernel verifier's verdict, errno, message and log for programs."""

from __future__ import annotations

import argparse
import errno
from typing import Any

from ..errors import BpfError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "verify",
        help="verify programs as the kernel's verifier does",
        description="Verify case files (shared/spec/case-format.md) or the programs of object "
        "files from clang as Linux's BPF_PROG_LOAD would: accept or reject, with the kernel's "
        "errno, message and log.  With --json, one JSON object per case (or per program of an "
        "object) per line, in order.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  pybpf verify --case bad.json --log-level 2\n"
        "  pybpf verify --case corpus/*.json --json > verdicts.jsonl\n"
        "  pybpf verify prog.o --prog xdp_count --log-level 2",
    )
    p.add_argument("objects", nargs="*", metavar="OBJ", help="object files (clang -target bpf)")
    p.add_argument("--case", nargs="+", metavar="FILE", default=[], help="case files")
    p.add_argument("--prog", metavar="NAME", help="only this program of the objects")
    p.add_argument("--log-level", type=int, default=1, help="1: the failing path, 2: everything, 4: statistics")
    p.add_argument("--unprivileged", action="store_true", help="verify as a loader without CAP_BPF")
    p.add_argument("--json", action="store_true", help="JSON lines output")
    p.set_defaults(handler=run)


def verify_case(case: Any, log_level: int = 1, unprivileged: bool = False) -> dict[str, Any]:
    """The case-format result object for one case (maps created in a fresh kernel)."""
    from ..case import _case_maps
    from ..kernel.state import Kernel
    from ..verifier import Options, verify

    kernel = Kernel(seed=0)
    try:
        maps = _case_maps(case, kernel)
    except BpfError as exc:
        return {"accepted": False, "errno": exc.errno, "message": exc.message, "log": "",
                "insns_processed": 0, "run": None}  # fmt: skip
    opts = Options.unprivileged(log_level) if unprivileged else Options(log_level=log_level)
    try:
        res = verify(list(case.insns), case.prog_type, maps=maps, kernel=kernel,
                     expected_attach_type=case.expected_attach_type, options=opts)  # fmt: skip
    finally:
        for m in maps:
            m.close()
    out: dict[str, Any] = res.to_json()
    out["run"] = None
    return out


def run(args: argparse.Namespace) -> int:
    from ..case import load_case
    from .main import emit_json

    if not args.case and not args.objects:
        raise BpfError(errno.EINVAL, "nothing to verify: give object files or --case FILE")
    status = 0
    if args.objects:
        from .cmd_prog import verify_objects

        status = verify_objects(args)
    for path in args.case:
        try:
            case = load_case(path)
        except BpfError as exc:
            status = 1
            if args.json:
                emit_json({"file": path, "error": exc.message, "errno": exc.errno})
            else:
                print(exc.message)
            continue
        out = verify_case(case, args.log_level, args.unprivileged)
        if not out["accepted"]:
            status = 1
        if args.json:
            emit_json(out)
            continue
        label = f"{path}: " if len(args.case) > 1 else ""
        if out["log"]:
            print(out["log"], end="" if out["log"].endswith("\n") else "\n")
        verdict = "accepted" if out["accepted"] else f"rejected ({errno.errorcode.get(out['errno'], out['errno'])})"
        print(f"{label}{verdict}, {out['insns_processed']} insns processed")
    return status
