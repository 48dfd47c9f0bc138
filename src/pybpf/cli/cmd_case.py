"""``pybpf case``: an object file's programs as case files, one per program.

A case (``shared/spec/case-format.md``) holds the program as the kernel receives it:
relocated, with the maps it uses numbered from 0 (``BPF_PSEUDO_MAP_IDX``), global data
with its initial image and ``.rodata`` frozen.  So any object can be verified, run and
compared with the kernel (``pybpf verify --case``, ``pybpf run --case``) without it.
"""

from __future__ import annotations

import argparse
import errno
import json
from pathlib import Path
from typing import Any

from ..errors import BpfError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "case",
        help="export an object's programs as case files",
        description="Write one case file per program of an object file: the relocated "
        "instructions, the maps it uses (global data initialised, .rodata frozen) and, in "
        "the ignored 'meta' field, what a case cannot hold (license, source lines, initial "
        "map-in-map and program-array slots).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  pybpf case export prog.o --out cases/\n"
        "  pybpf case export prog.o --prog xdp_count --out cases/ --set debug=1\n"
        "  pybpf verify --case cases/xdp_count.json",
    )
    verbs = p.add_subparsers(dest="case_verb", metavar="VERB", parser_class=type(p))
    e = verbs.add_parser("export", help="one case file per program of an object")
    e.add_argument("object", help="object file (clang -target bpf)")
    e.add_argument("--out", required=True, metavar="DIR", help="directory for the case files")
    e.add_argument("--prog", metavar="NAME", help="only this program")
    e.add_argument("--set", action="append", default=[], metavar="VAR=VALUE",
                   help="set a .rodata/.data/.bss variable first (repeatable)")  # fmt: skip
    e.add_argument("--json", action="store_true", help="one JSON line per file written")
    p.set_defaults(handler=run)


def apply_sets(obj: Any, sets: list[str]) -> None:
    """``VAR=VALUE`` settings: the first global-data section with VAR takes the value
    (an integer, or ``hex:...`` bytes, or text for char arrays)."""
    for item in sets:
        name, sep, text = item.partition("=")
        if not sep:
            raise BpfError(errno.EINVAL, f"--set {item!r}: expected VAR=VALUE")
        value: Any
        if text.startswith("hex:"):
            try:
                value = bytes.fromhex(text[4:])
            except ValueError:
                raise BpfError(errno.EINVAL, f"--set {item!r}: bad hex") from None
        else:
            try:
                value = int(text, 0)
            except ValueError:
                value = text
        for m in obj.spec.maps:
            if m.internal and any(v.name == name for v in m.variables):
                obj.section(m.real_name)[name] = value
                break
        else:
            raise BpfError(errno.ENOENT, f"--set: no global variable {name!r} in {obj.path}")


def run(args: argparse.Namespace) -> int:
    from ..obj import open as open_object
    from .main import emit_json

    if args.case_verb != "export":
        raise BpfError(errno.EINVAL, "give a case verb (pybpf case --help)")
    obj = open_object(args.object)
    apply_sets(obj, args.set)
    names = [args.prog] if args.prog else list(obj.programs)
    if args.prog and args.prog not in obj.programs:
        raise BpfError(errno.ENOENT, f"{args.object}: no program named {args.prog!r}")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BpfError(exc.errno or errno.EIO, f"{out}: {exc.strerror}") from None
    status = 0
    for name in names:
        try:
            case = obj.export_case(name)
        except BpfError as exc:
            status = 1
            if args.json:
                emit_json({"program": name, "error": exc.message, "errno": exc.errno})
            else:
                print(f"{name}: skipped: {exc.message}")
            continue
        path = out / f"{name}.json"
        try:
            path.write_text(json.dumps(case.to_json(), indent=1) + "\n")
        except OSError as exc:
            raise BpfError(exc.errno or errno.EIO, f"{path}: {exc.strerror}") from None
        if args.json:
            emit_json({"program": name, "file": str(path), "insns": len(case.insns),
                       "maps": len(case.maps)})  # fmt: skip
        else:
            print(f"{path}: {name}, {len(case.insns)} insns, {len(case.maps)} maps")
    return status
