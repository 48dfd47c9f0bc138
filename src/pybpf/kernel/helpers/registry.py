"""Helper implementations, keyed by the kernel's helper id.

An implementation takes the run environment and the five argument registers and returns
what the kernel's helper returns in r0 (an unsigned 64-bit value; negative errnos are
returned as their two's complement).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...isa.helper_ids import HELPER_IDS
from ..env import RunEnv

HelperFn = Callable[[RunEnv, int, int, int, int, int], int]

M64 = (1 << 64) - 1


@dataclass(frozen=True)
class Helper:
    id: int
    name: str
    fn: HelperFn


HELPERS: dict[int, Helper] = {}


def helper(name: str) -> Callable[[HelperFn], HelperFn]:
    """Register ``fn`` as the implementation of ``bpf_<name>``."""
    hid = HELPER_IDS[name]

    def register(fn: HelperFn) -> HelperFn:
        HELPERS[hid] = Helper(hid, "bpf_" + name, fn)
        return fn

    return register


def neg(err: int) -> int:
    """A negative errno as the unsigned value a register holds."""
    return (-err) & M64
