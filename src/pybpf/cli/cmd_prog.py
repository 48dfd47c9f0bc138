"""``pybpf prog``: load objects' programs, pin them, list them and dump their instructions."""

from __future__ import annotations

import argparse
import errno
from typing import Any

from ..errors import BpfError


def register(sub: Any) -> None:
    p = sub.add_parser("prog", help="load, pin, list and dump programs from object files")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise BpfError(errno.EOPNOTSUPP, "pybpf prog is being built")


def verify_objects(args: argparse.Namespace) -> int:
    """``pybpf verify prog.o``: every program of the objects, one verdict each."""
    raise BpfError(errno.EOPNOTSUPP, "verifying object files is being built")
