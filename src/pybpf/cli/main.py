"""The ``pybpf`` command: bpftool-like verbs over pybpf's simulated kernel.

Every verb takes ``--json``; every failure is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import BpfError
from . import (
    cmd_asm,
    cmd_btf,
    cmd_case,
    cmd_conformance,
    cmd_iter,
    cmd_map,
    cmd_prog,
    cmd_run,
    cmd_struct_ops,
    cmd_tcpsim,
    cmd_verify,
)

DESCRIPTION = """\
pybpf: the Linux eBPF subsystem in Python -- assemble, inspect and run BPF programs
without root and without a particular kernel.

examples:
  pybpf asm prog.s                         assemble to case-file hex
  pybpf disasm --hex 'b700000002000000 9500000000000000'
  pybpf run --case case.json --json        run case files (one JSON line each)
  pybpf verify --case case.json --log-level 2   the verifier's verdict and log
  pybpf run prog.s --type xdp --data 00112233
  pybpf conformance shared/bpf_conformance
  pybpf map create hash counters --key-size 4 --value-size 8 --max-entries 64
  pybpf map update counters 1 42 && pybpf map dump counters
  pybpf verify prog.o --json             every program of a clang object
  pybpf prog load prog.o myprog && pybpf prog show
  pybpf case export prog.o --out cases/
  pybpf iter pin iter.o dump --map m1 && pybpf iter cat dump
"""


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other failure."""

    def error(self, message: str) -> Any:
        self.exit(2, f"pybpf: {message} (see pybpf {self.prog.split()[-1]} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pybpf", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    cmd_asm.register(sub)
    cmd_run.register(sub)
    cmd_verify.register(sub)
    cmd_conformance.register(sub)
    cmd_map.register(sub)
    cmd_btf.register(sub)
    cmd_prog.register(sub)
    cmd_case.register(sub)
    cmd_iter.register(sub)
    cmd_struct_ops.register(sub)
    cmd_tcpsim.register(sub)
    return parser


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, sort_keys=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from .. import __version__

        print(f"pybpf {__version__}")
        return 0
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except BpfError as exc:
        if getattr(args, "json", False):
            emit_json({"error": exc.message, "errno": exc.errno})
        sys.stderr.write(f"pybpf: {exc.message} ({exc.errno_name})\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
