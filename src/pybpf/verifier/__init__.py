"""The verifier: the kernel's verdict, message and log for a program.

``verify(insns, prog_type, maps=..., log_level=...)`` runs the checks of Linux's
``bpf_check`` in the kernel's order and returns a :class:`VerifyResult`.  Submodules
(the scalar domain, state, log) import without pulling in the whole verifier.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Options", "VerifyResult", "verify"]


def __getattr__(name: str) -> Any:
    if name in ("VerifyResult", "verify"):
        from . import core

        return getattr(core, name)
    if name == "Options":
        from .env import Options

        return Options
    raise AttributeError(name)
