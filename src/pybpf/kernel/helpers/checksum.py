"""Checksum and head-room helpers of skb programs: csum_diff, csum_update, skb_change_head.

``bpf_csum_diff`` is the one of Linux 6.13 and later (the running kernel's): no size
limit, the two buffers summed separately and the result folded to 16 bits.  Its sums
are those of x86-64's ``csum_partial`` (little-endian words added with an end-around
carry, then folded to 32 bits the same way), computed exactly since the program sees
the bits: the ones'-complement sum modulo 2**32 - 1, where a non-zero total never
becomes 0.
"""

from __future__ import annotations

import errno

from ...errors import MemoryFault
from ...memory import MEMORY
from ..env import RunEnv
from ..skb import csum_add, csum_fold
from .packet import _skb
from .registry import helper, neg

ENOTSUPP = 524
M32 = 0xFFFFFFFF


def csum_partial32(data: bytes, seed: int) -> int:
    """The 32-bit sum x86-64's ``csum_partial`` returns for ``data`` and ``seed``."""
    total = seed & M32
    data += bytes(-len(data) % 4)
    for i in range(0, len(data), 4):
        total += int.from_bytes(data[i : i + 4], "little")
    return 0 if total == 0 else (total - 1) % M32 + 1


@helper("csum_diff")
def csum_diff(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    from_size, to_size = r2 & M32, r4 & M32
    try:
        old = MEMORY.read(r1, from_size, env.pc) if from_size else b""
        new = MEMORY.read(r3, to_size, env.pc) if to_size else b""
    except MemoryFault:
        return neg(errno.EFAULT)
    ret = r5 & M32
    if old and new:
        ret = csum_add(csum_partial32(new, ret), ~csum_partial32(old, 0) & M32)
    elif new:
        ret = csum_partial32(new, ret)
    elif old:
        ret = ~csum_partial32(old, ~ret & M32) & M32
    return csum_fold(ret)  # folded to 16 bits, not inverted, as the kernel returns it


@helper("csum_update")
def csum_update(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    skb = _skb(env)
    if skb.csum is None:  # not CHECKSUM_COMPLETE: nothing to keep up to date
        return neg(ENOTSUPP)
    skb.csum = csum_add(skb.csum, r2 & M32)
    return skb.csum


@helper("skb_change_head")
def skb_change_head(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    err = _skb(env).change_head(r2 & M32, r3)
    return neg(err) if err else 0
