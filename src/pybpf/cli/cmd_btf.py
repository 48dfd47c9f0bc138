"""``pybpf btf``: dump BTF as bpftool does (raw, JSON or C) and validate it as the kernel does."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import BpfError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "btf",
        help="inspect and check BTF (type information)",
        description="BTF from an ELF object (its .BTF section) or a raw blob such as "
        "/sys/kernel/btf/vmlinux.  'dump' prints it as bpftool btf dump does; 'check' "
        "validates it with the kernel's BPF_BTF_LOAD rules and prints the kernel's log.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  pybpf btf dump file prog.o format c\n"
        "  pybpf btf dump file /sys/kernel/btf/vmlinux --json\n"
        "  pybpf btf check prog.btf",
    )
    verbs = p.add_subparsers(dest="btf_verb", metavar="VERB", parser_class=type(p))
    d = verbs.add_parser("dump", help="print every type (raw, JSON or C)")
    d.add_argument("source", choices=["file"], help="where the BTF comes from")
    d.add_argument("path", help="ELF object or raw BTF")
    d.add_argument("rest", nargs=argparse.REMAINDER, metavar="[format {c|raw}] [-B BASE] [--json]",
                   help="output format (default raw); base BTF for split BTF (default vmlinux for "
                   "modules); JSON output (raw format only)")  # fmt: skip
    d.add_argument("-B", "--base", help=argparse.SUPPRESS)
    d.add_argument("--json", "-j", action="store_true", help=argparse.SUPPRESS)
    c = verbs.add_parser("check", help="validate with the kernel's rules (BPF_BTF_LOAD)")
    c.add_argument("path", help="ELF object or raw BTF")
    c.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def _dump_options(args: argparse.Namespace) -> str:
    """bpftool's trailing words (``format c``), with -B/--json allowed among them."""
    fmt = "raw"
    words = list(args.rest)
    while words:
        word = words.pop(0)
        if word in ("-j", "--json"):
            args.json = True
        elif word in ("-B", "--base", "format"):
            if not words:
                raise BpfError(22, f"expecting value for '{word}' option")
            value = words.pop(0)
            if word == "format":
                if value not in ("c", "raw"):
                    raise BpfError(22, f"unrecognized format specifier: '{value}', possible values: raw, c")
                fmt = value
            else:
                args.base = value
        else:
            raise BpfError(22, f"unrecognized option: '{word}'")
    return fmt


def _load(load_file: Any, path: str, base: Any = None) -> Any:
    """The BTF of ``path``; an error names the file once (as bpftool's does)."""
    try:
        return load_file(path, base)
    except BpfError as exc:
        if exc.message.startswith(path):
            raise
        raise BpfError(exc.errno, f"{path}: {exc.message}") from None


def run(args: argparse.Namespace) -> int:
    from .main import emit_json

    if args.btf_verb == "dump":
        from ..btf.dump_c import dump_c
        from ..btf.dump_raw import dump_json, dump_raw
        from ..btf.files import load_file

        fmt = _dump_options(args)
        base = _load(load_file, args.base) if args.base else None
        btf = _load(load_file, args.path, base)
        if fmt == "c":
            if args.json:
                raise BpfError(95, "JSON output for C-syntax dump is not supported")
            sys.stdout.write(dump_c(btf))
        elif args.json:
            emit_json(dump_json(btf))
        else:
            sys.stdout.write(dump_raw(btf))
        return 0
    if args.btf_verb == "check":
        from ..btf.files import elf_btf_sections, is_elf, read_bytes
        from ..btf.validate import BtfRejected, check

        data = read_bytes(args.path)
        if is_elf(data):
            data = elf_btf_sections(data, args.path).btf
        try:
            res = check(data)
        except BtfRejected as exc:
            if args.json:
                emit_json({"accepted": False, "errno": exc.errno, "message": exc.message, "log": exc.log})
            else:
                sys.stdout.write(exc.log + ("" if exc.log.endswith("\n") else "\n"))
                print(f"rejected ({exc.errno_name}): {exc.message}")
            return 1
        if args.json:
            emit_json({"accepted": True, "errno": 0, "message": "", "log": res.log,
                       "types": res.nr_types - 1})  # fmt: skip
        else:
            sys.stdout.write(res.log)
            print(f"accepted, {res.nr_types - 1} types")
        return 0
    print(json.dumps({"error": "missing verb"}) if getattr(args, "json", False) else "usage: pybpf btf {dump,check} ...")
    return 2
