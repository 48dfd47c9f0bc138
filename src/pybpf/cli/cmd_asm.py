"""``pybpf asm`` and ``pybpf disasm``: text to instructions and back."""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path
from typing import Any

from ..errors import BpfError
from ..isa import Syntax, assemble, decode, decode_hex, disassemble, encode, encode_hex
from ..isa.insn import Insn


def register(sub: Any) -> None:
    p = sub.add_parser(
        "asm",
        help="assemble text into instructions",
        description="Assemble kernel-log / llvm-objdump syntax (r0 = 1) or bpf_conformance "
        "syntax (mov %%r0, 1) into instructions: case-file hex by default.",
    )
    p.add_argument("file", help="source file, or - for standard input")
    p.add_argument("--syntax", choices=["auto", "c", "conformance"], default="auto",
                   help="input syntax (auto: conformance when registers are written %%rN)")
    p.add_argument("--format", choices=["hex", "raw", "json"], default="hex",
                   help="hex: case-file hex; raw: binary slots on stdout; json: one object")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.set_defaults(handler=run_asm)

    p = sub.add_parser(
        "disasm",
        help="disassemble instructions",
        description="Print instructions in the kernel verifier log's syntax (default) or in "
        "llvm-objdump's.  Input: a raw binary file, --hex, or a case file's insns.",
    )
    p.add_argument("file", nargs="?", help="raw instruction bytes (8 per slot)")
    p.add_argument("--hex", help="instructions as case-file hex")
    p.add_argument("--case", help="a case file: disassemble its insns")
    p.add_argument("--syntax", choices=["kernel", "llvm"], default="kernel")
    p.add_argument("--json", action="store_true", help="one JSON object with a list of lines")
    p.set_defaults(handler=run_disasm)


def read_source(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise BpfError(exc.errno or errno.EIO, f"{path}: {exc.strerror}") from None


def run_asm(args: argparse.Namespace) -> int:
    from .main import emit_json

    insns = assemble(read_source(args.file), args.syntax)
    fmt = "json" if args.json else args.format
    if fmt == "raw":
        sys.stdout.buffer.write(encode(insns))
    elif fmt == "json":
        emit_json({"insns": encode_hex(insns), "count": len(insns)})
    else:
        print(encode_hex(insns))
    return 0


def load_insns(args: argparse.Namespace) -> list[Insn]:
    if args.hex:
        return decode_hex(args.hex)
    if args.case:
        from ..case import load_case

        return list(load_case(args.case).insns)
    if not args.file:
        raise BpfError(errno.EINVAL, "give a file, --hex or --case")
    try:
        return decode(Path(args.file).read_bytes())
    except OSError as exc:
        raise BpfError(exc.errno or errno.EIO, f"{args.file}: {exc.strerror}") from None


def run_disasm(args: argparse.Namespace) -> int:
    from .main import emit_json

    lines = disassemble(load_insns(args), Syntax(args.syntax))
    if args.json:
        emit_json({"lines": lines})
    else:
        for line in lines:
            print(line)
    return 0
