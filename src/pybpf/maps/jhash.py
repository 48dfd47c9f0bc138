"""Bob Jenkins' lookup3 hash, as the kernel's hash maps use it to pick a bucket.

The kernel hashes a key with ``jhash2`` (32-bit words) when its length is a multiple of
four and with ``jhash`` (bytes) otherwise.  Both are lookup3 ("hashword"/"hashlittle")
seeded with ``0xdeadbeef + length + initval``; for little-endian machines the word
variant equals the byte variant on the same bytes, so one function serves both.
Getting this bit-exact is what makes hash-map iteration order match the kernel's.
"""

from __future__ import annotations

import struct

_M32 = 0xFFFFFFFF
_GOLDEN = 0xDEADBEEF
_WORDS3 = struct.Struct("<III")


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M32


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    """lookup3's reversible mixing of three 32-bit lanes."""
    a = (a - c) & _M32
    a ^= _rot(c, 4)
    c = (c + b) & _M32
    b = (b - a) & _M32
    b ^= _rot(a, 6)
    a = (a + c) & _M32
    c = (c - b) & _M32
    c ^= _rot(b, 8)
    b = (b + a) & _M32
    a = (a - c) & _M32
    a ^= _rot(c, 16)
    c = (c + b) & _M32
    b = (b - a) & _M32
    b ^= _rot(a, 19)
    a = (a + c) & _M32
    c = (c - b) & _M32
    c ^= _rot(b, 4)
    b = (b + a) & _M32
    return a, b, c


def _final(a: int, b: int, c: int) -> int:
    """lookup3's final avalanche; only ``c`` is the result."""
    c ^= b
    c = (c - _rot(b, 14)) & _M32
    a ^= c
    a = (a - _rot(c, 11)) & _M32
    b ^= a
    b = (b - _rot(a, 25)) & _M32
    c ^= b
    c = (c - _rot(b, 16)) & _M32
    a ^= c
    a = (a - _rot(c, 4)) & _M32
    b ^= a
    b = (b - _rot(a, 14)) & _M32
    c ^= b
    c = (c - _rot(b, 24)) & _M32
    return c


def jhash(data: bytes, initval: int = 0) -> int:
    """The 32-bit lookup3 hash of ``data`` (little-endian word loads)."""
    length = len(data)
    a = b = c = (_GOLDEN + length + initval) & _M32
    pos = 0
    # Every full 12-byte block but the last goes through the mixer.
    while length - pos > 12:
        x, y, z = _WORDS3.unpack_from(data, pos)
        a = (a + x) & _M32
        b = (b + y) & _M32
        c = (c + z) & _M32
        a, b, c = _mix(a, b, c)
        pos += 12
    rest = length - pos
    if rest == 0:
        return c
    tail = bytes(data[pos:]) + bytes(12 - rest)
    x, y, z = _WORDS3.unpack(tail)
    a = (a + x) & _M32
    b = (b + y) & _M32
    c = (c + z) & _M32
    return _final(a, b, c)


def jhash2(words: list[int] | tuple[int, ...], initval: int = 0) -> int:
    """lookup3 over 32-bit words (the kernel's ``jhash2``)."""
    return jhash(struct.pack(f"<{len(words)}I", *[w & _M32 for w in words]), initval)
