"""pybpf: the Linux eBPF subsystem as a Python library.

Load the objects clang builds, verify programs as the kernel's verifier does, and run them
on real map implementations and helpers, without root and without a particular kernel.
"""

from __future__ import annotations

from .errors import BpfError

__version__ = "0.1.0"

__all__ = ["BpfError", "__version__"]
