"""``pybpf case``: turn an object file's programs into case files."""

from __future__ import annotations

import argparse
import errno
from typing import Any

from ..errors import BpfError


def register(sub: Any) -> None:
    p = sub.add_parser("case", help="export an object's programs as case files")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise BpfError(errno.EOPNOTSUPP, "pybpf case is being built")
