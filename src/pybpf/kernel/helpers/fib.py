"""``bpf_fib_lookup``: the argument checks the kernel makes before it consults a table.

The simulated kernel has no routing tables, so a well-formed IPv4 or IPv6 lookup is
refused as not simulated (a run-time fault naming the helper) rather than answered
with a guess; malformed ones get the kernel's errno.
"""

from __future__ import annotations

import errno

from ...errors import MemoryFault, RuntimeFault
from ...memory import MEMORY
from ..env import RunEnv
from .registry import helper, neg

PARAMS_SIZE = 64  # sizeof(struct bpf_fib_lookup)
FLAGS_MASK = 0x3F  # DIRECT, OUTPUT, SKIP_NEIGH, TBID, SRC, MARK
AF_INET, AF_INET6 = 2, 10


@helper("fib_lookup")
def fib_lookup(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    plen = r3 & 0xFFFFFFFF
    if plen >= 0x80000000 or plen < PARAMS_SIZE:  # a signed int in the kernel
        return neg(errno.EINVAL)
    if r4 & 0xFFFFFFFF & ~FLAGS_MASK:
        return neg(errno.EINVAL)
    try:
        family = MEMORY.read(r2, 1, env.pc)[0]
    except MemoryFault:
        return neg(errno.EFAULT)
    if family not in (AF_INET, AF_INET6):
        return neg(errno.EAFNOSUPPORT)
    raise RuntimeFault(env.pc, "bpf_fib_lookup: pybpf's kernel has no routing tables")
