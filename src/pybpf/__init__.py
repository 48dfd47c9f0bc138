"""pybpf: the Linux eBPF subsystem as a Python library.

Load the objects clang builds, verify programs as the kernel's verifier does, and run them
on real map implementations and helpers, without root and without a particular kernel.

The names below load lazily, so ``import pybpf`` stays cheap for tools that need one part.
"""

from __future__ import annotations

from typing import Any

from .errors import BpfError

__version__ = "0.1.0"

_LAZY = {
    "verify": ("verifier.core", "verify"),
    "VerifyResult": ("verifier.core", "VerifyResult"),
    "Options": ("verifier.env", "Options"),
    "load_program": ("program", "load_program"),
    "Program": ("program", "Program"),
    "ProgramRejected": ("program", "ProgramRejected"),
    "Case": ("case", "Case"),
    "load_case": ("case", "load_case"),
    "run_case": ("case", "run_case"),
    "assemble": ("isa", "assemble"),
    "create_map": ("maps", "create_map"),
    "Kernel": ("kernel.state", "Kernel"),
    "open": ("obj", "open"),
    "BpfObject": ("obj", "BpfObject"),
}

__all__ = ["BpfError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'pybpf' has no attribute {name!r}")
