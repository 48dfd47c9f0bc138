"""``pybpf btf``: inspect BTF as bpftool btf does (filled in by the btf package)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("btf", help="inspect BTF (type information)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return 2
