"""The jit tier: eBPF to LLVM IR to native code through llvmlite (``pip install pybpf[jit]``)."""

from __future__ import annotations

from .runner import JitRunner

__all__ = ["JitRunner"]
