"""``pybpf.open``: an object file from clang, loaded as libbpf loads it."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from .errors import BpfError


def open(path: str | Path, **options: Any) -> Any:  # noqa: A001 - the public name
    raise BpfError(errno.EOPNOTSUPP, "pybpf.open is being built")


class BpfObject:
    """An opened object file (being built)."""
