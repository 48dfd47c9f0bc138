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
        "  pybpf verify prog.o --prog xdp_count --log-level 2\n"
        "  pybpf verify --case corpus/*.json --json --jobs 8          # 8 worker processes\n"
        "  pybpf verify --case corpus/*.json --json --ray 10.0.0.1:6379  # a Ray cluster",
    )
    p.add_argument("objects", nargs="*", metavar="OBJ", help="object files (clang -target bpf)")
    p.add_argument("--case", nargs="+", metavar="FILE", default=[], help="case files")
    p.add_argument("--prog", metavar="NAME", help="only this program of the objects")
    p.add_argument(
        "--log-level", type=int, default=1, help="1: the failing path, 2: everything, 4: statistics"
    )
    p.add_argument("--unprivileged", action="store_true", help="verify as a loader without CAP_BPF")
    p.add_argument("--json", action="store_true", help="JSON lines output")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help="worker processes for many files (default: every core; output order is "
                   "the input order whatever N)")  # fmt: skip
    p.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="spread the files over the Ray cluster at ADDRESS ('local': a private "
                   "one on this machine); needs pip install pybpf[ray]")  # fmt: skip
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


def verify_case_file(job: tuple[str, int, bool]) -> dict[str, Any]:
    """One case file's result object, or ``{"file", "error", "errno"}`` when it cannot be
    read (a worker's unit of work: a module-level function, so it pickles)."""
    from ..case import load_case

    path, log_level, unprivileged = job
    try:
        case = load_case(path)
    except BpfError as exc:
        return {"file": path, "error": exc.message, "errno": exc.errno}
    return verify_case(case, log_level, unprivileged)


def object_verdicts(obj: Any, prog: str | None, log_level: int, shown_if_accepted: bool) -> list[Any]:
    """``obj.verify`` at ``log_level``; where only rejected programs' logs are shown (the
    plain output at level 1), at level 0: a program rejected there is verified again at
    level 1 for its log (``BpfObject.verify`` retries as libbpf does), and writing the log
    costs more than the walk (examples/c/bounded_loop.o takes about 3x as long at level 1)."""
    level = 0 if log_level == 1 and not shown_if_accepted else log_level
    return list(obj.verify(prog, log_level=level))


def verify_object_file(job: tuple[str, str | None, int, bool, bool]) -> dict[str, Any]:
    """Every program of one object: ``{"file", "verdicts"}`` or ``{"file", "error", "errno"}``."""
    from ..obj import open as open_object

    path, prog, log_level, unprivileged, shown_if_accepted = job
    try:
        obj = open_object(path, unprivileged=unprivileged)
        verdicts = object_verdicts(obj, prog, log_level, shown_if_accepted)
    except BpfError as exc:
        return {"file": path, "error": exc.message, "errno": exc.errno}
    return {"file": path, "verdicts": [v.to_json() for v in verdicts]}


def _parallel(args: argparse.Namespace, count: int) -> bool:
    """Whether ``count`` files go to workers rather than through this process."""
    if args.ray is not None:
        return True
    if args.jobs is not None and args.jobs < 1:
        raise BpfError(errno.EINVAL, f"--jobs must be at least 1, not {args.jobs}")
    return count > 1 and args.jobs != 1


def run(args: argparse.Namespace) -> int:
    if not args.case and not args.objects:
        raise BpfError(errno.EINVAL, "nothing to verify: give object files or --case FILE")
    status = 0
    if args.objects:
        if _parallel(args, len(args.objects)):
            status = _objects_in_parallel(args)
        else:
            from .cmd_prog import verify_objects

            status = verify_objects(args)
    if args.case:
        if _parallel(args, len(args.case)):
            from ..parallel import ordered_map

            jobs = [(path, args.log_level, args.unprivileged) for path in args.case]
            results = ordered_map(verify_case_file, jobs, args.jobs, args.ray)
        else:
            results = (
                verify_case_file((path, args.log_level, args.unprivileged)) for path in args.case
            )
        for path, out in zip(args.case, results):
            status |= _print_case(args, path, out)
    return status


def _print_case(args: argparse.Namespace, path: str, out: dict[str, Any]) -> int:
    from .main import emit_json

    if "error" in out:
        if args.json:
            emit_json(out)
        else:
            print(out["error"])
        return 1
    if args.json:
        emit_json(out)
        return 0 if out["accepted"] else 1
    label = f"{path}: " if len(args.case) > 1 else ""
    if out["log"]:
        print(out["log"], end="" if out["log"].endswith("\n") else "\n")
    verdict = (
        "accepted"
        if out["accepted"]
        else f"rejected ({errno.errorcode.get(out['errno'], out['errno'])})"
    )
    print(f"{label}{verdict}, {out['insns_processed']} insns processed")
    return 0 if out["accepted"] else 1


def _objects_in_parallel(args: argparse.Namespace) -> int:
    """``pybpf verify a.o b.o ...`` on workers, printed as :func:`verify_objects` does."""
    from ..parallel import ordered_map
    from .main import emit_json

    status = 0
    jobs = [(path, args.prog, args.log_level, args.unprivileged, args.json) for path in args.objects]
    for path, out in zip(args.objects, ordered_map(verify_object_file, jobs, args.jobs, args.ray)):
        if "error" in out:
            status = 1
            if args.json:
                emit_json(out)
            else:
                msg = out["error"]
                print(msg if msg.startswith(f"{path}:") else f"{path}: {msg}")
            continue
        for v in out["verdicts"]:
            if not v["accepted"]:
                status = 1
            if args.json:
                emit_json({"file": path, **v})
                continue
            if v["log"] and (not v["accepted"] or args.log_level > 1):
                print(v["log"], end="" if v["log"].endswith("\n") else "\n")
            label = f"{path}: " if len(args.objects) > 1 else ""
            if v["accepted"]:
                verdict = "accepted"
            else:
                verdict = (
                    f"rejected ({errno.errorcode.get(v['errno'], v['errno'])}): {v['message']}"
                )
            print(
                f"{label}{v['name']} (SEC {v['section']!r}): {verdict}, {v['insns_processed']} insns processed"
            )
    return status
