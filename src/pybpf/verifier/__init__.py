"""The verifier: the kernel's verdict, message and log for a program.

``verify(insns, prog_type, maps=..., log_level=...)`` runs the checks of Linux's
``bpf_check`` in the kernel's order and returns a :class:`VerifyResult`.  Submodules
(the scalar domain, state, log) import without pulling in the whole verifier.
"""

from __future__ import annotations

from typing import Any

from ._accel import activate as _activate
from ._accel import build_info

__all__ = ["Options", "VerifyResult", "build_info", "verify"]

# A mypyc build of exactly these sources, when ``make accel`` made one (else pure Python).
_activate(__path__)


def __getattr__(name: str) -> Any:
    if name in ("VerifyResult", "verify"):
        from . import core

        return getattr(core, name)
    if name == "Options":
        from .env import Options

        return Options
    raise AttributeError(name)
