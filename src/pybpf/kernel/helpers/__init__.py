"""Helper implementations by id; importing this package registers all of them."""

from __future__ import annotations

from ..vmlinux import runtime as _kfunc_runtime  # noqa: F401  (kfuncs, bpf_kptr_xchg)
from . import checksum, core, fib, maps, packet, seq, sockets, storage, strings  # noqa: F401
from .registry import HELPERS, Helper, HelperFn, helper, neg

__all__ = ["HELPERS", "Helper", "HelperFn", "helper", "neg"]
