"""The ``pybpf`` command: bpftool-like verbs over pybpf's simulated kernel.

Every verb takes ``--json``; every failure is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import BpfError

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
        words = self.prog.split()
        hint = " ".join(["pybpf", *words[1:], "--help"])
        self.exit(2, f"pybpf: {message} (see {hint})\n")


@dataclass(frozen=True)
class Verb:
    """One verb as the top-level parser lists it, without importing its module.

    ``module`` (under ``pybpf.cli``) is imported only when this verb runs: its
    ``register(sub)`` adds the real subparser (and any sibling verbs it owns).
    """

    name: str
    help: str
    module: str


# In ``pybpf --help`` order.  The help lines must equal those the modules give
# (tests/cli/test_lazy.py checks it), since the listing is built from these.
VERBS: tuple[Verb, ...] = (
    Verb("asm", "assemble text into instructions", "cmd_asm"),
    Verb("disasm", "disassemble instructions", "cmd_asm"),
    Verb("run", "run programs (case files or assembler text)", "cmd_run"),
    Verb("verify", "verify programs as the kernel's verifier does", "cmd_verify"),
    Verb("conformance", "run bpf_conformance test files", "cmd_conformance"),
    Verb("map", "create and operate on maps pinned by name", "cmd_map"),
    Verb("btf", "inspect and check BTF (type information)", "cmd_btf"),
    Verb("prog", "load, pin, list and dump programs from object files", "cmd_prog"),
    Verb("case", "export an object's programs as case files", "cmd_case"),
    Verb("iter", "pin BPF iterators and read them (bpftool iter pin; cat)", "cmd_iter"),
    Verb(
        "struct_ops",
        "register, list, dump and unregister struct_ops (bpftool struct_ops)",
        "cmd_struct_ops",
    ),
    Verb(
        "tcp-sim",
        "run TCP congestion controls (BPF struct_ops or built-in) over a simulated link",
        "cmd_tcpsim",
    ),
)


def chosen_verb(argv: Sequence[str]) -> str | None:
    """The verb of a command line: its first word that is not an option.

    The top-level parser has only flags (``--version``, ``-h``), so this is
    what argparse itself will take as VERB.
    """
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with the full subparser only for the verb ``argv`` names.

    Every other verb is a bare placeholder carrying its help line, so that
    ``pybpf --help`` and usage errors list all verbs without importing them.
    With ``argv=None`` every module is loaded (the complete parser).
    """
    parser = _Parser(
        prog="pybpf", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    wanted = None if argv is None else chosen_verb(argv)
    load = {v.module for v in VERBS if argv is None or v.name == wanted}
    loaded: set[str] = set()
    for verb in VERBS:
        if verb.module in load:
            if verb.module not in loaded:
                importlib.import_module(f"{__package__}.{verb.module}").register(sub)
                loaded.add(verb.module)
        else:
            sub.add_parser(verb.name, help=verb.help)
    return parser


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, sort_keys=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.version:
        from .. import __version__
        from ..verifier import build_info

        print(f"pybpf {__version__} (verifier: {build_info()})")
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
