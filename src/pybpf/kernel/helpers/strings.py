"""``bpf_strtol`` and ``bpf_strtoul``: a number at the start of a bounded buffer.

The kernel skips leading white space, takes one ``-``, copies at most 63 more bytes and
parses them with its ``kstrto*`` rules (base 0 guesses 8, 10 or 16 from a ``0``/``0x``
prefix; base 16 may carry ``0x``).  The result is the number of bytes consumed; the
value is written only on success.
"""

from __future__ import annotations

import errno
import struct

from ...errors import MemoryFault
from ...memory import MEMORY
from ..env import RunEnv
from .registry import helper, neg

BASE_MASK = 0x1F
MAX_DIGITS = 63  # the kernel's 64-byte copy keeps room for the NUL
SPACE = frozenset(b" \t\n\v\f\r\xa0")
U64_MAX = (1 << 64) - 1


def _digit(c: int) -> int:
    if 0x30 <= c <= 0x39:
        return c - 0x30
    low = c | 0x20
    return low - 0x61 + 10 if 0x61 <= low <= 0x66 else 99


def parse(buf: bytes, flags: int) -> tuple[int, int, bool]:
    """(consumed bytes or negative errno, magnitude, negative sign)."""
    base = flags & BASE_MASK
    if not buf or base not in (0, 8, 10, 16) or flags & ~BASE_MASK:
        return -errno.EINVAL, 0, False
    i = 0
    while i < len(buf) and buf[i] in SPACE:
        i += 1
    negative = i < len(buf) and buf[i] == 0x2D
    i += negative
    if i == len(buf):
        return -errno.EINVAL, 0, negative
    text = buf[i : i + MAX_DIGITS].split(b"\0")[0] + b"\0\0"
    j = 0
    if base == 0:
        if text[0] == 0x30:
            base = 16 if text[1] | 0x20 == 0x78 and _digit(text[2]) < 16 else 8
        else:
            base = 10
    if base == 16 and text[0] == 0x30 and text[1] | 0x20 == 0x78:
        j = 2
    start, value, overflow = j, 0, False
    while _digit(text[j]) < base:
        value = value * base + _digit(text[j])
        if value > U64_MAX:
            overflow = True
            value &= U64_MAX
        j += 1
    if overflow:
        return -errno.ERANGE, 0, negative
    if j == start:
        return -errno.EINVAL, 0, negative
    return i + j, value, negative


def _strto(env: RunEnv, buf: int, size: int, flags: int, res: int, signed: bool) -> int:
    size &= 0xFFFFFFFF
    try:
        data = MEMORY.read(buf, size, env.pc) if size else b""
    except MemoryFault:
        return neg(errno.EFAULT)
    consumed, value, negative = parse(data, flags)
    if consumed < 0:
        return neg(-consumed)
    if signed:
        if value > (1 << 63) - (0 if negative else 1):
            return neg(errno.ERANGE)
        value = -value if negative else value
    elif negative:
        return neg(errno.EINVAL)
    MEMORY.write(res, struct.pack("<Q", value & U64_MAX), env.pc)
    return consumed


@helper("strtoul")
def strtoul(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _strto(env, r1, r2, r3, r4, False)


@helper("strtol")
def strtol(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _strto(env, r1, r2, r3, r4, True)
