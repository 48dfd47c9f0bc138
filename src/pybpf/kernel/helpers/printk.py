"""``bpf_trace_printk``'s format language: the kernel's subset of printf.

Accepted: ``%d %i %u %x %X %o %c %s %p %px %pK %%`` with ``l``/``ll``/``h``/``hh`` length
modifiers, flags ``-0+ #`` and a width or precision; at most three arguments.  Anything
else makes the helper fail with -EINVAL, as the kernel's format check does.
"""

from __future__ import annotations

import re

from ...errors import MemoryFault
from ...memory import MEMORY

_SPEC = re.compile(rb"%([-0+ #]*)(\d*)(?:\.(\d+))?(hh|h|ll|l|z)?([diuxXocsp%])([xK])?")
MAX_ARGS = 3


def _width(value: int, length: bytes | None) -> tuple[int, int]:
    bits = {b"ll": 64, b"l": 64, b"z": 64, b"h": 16, b"hh": 8}.get(length or b"", 32)
    return value & ((1 << bits) - 1), bits


def format_printk(fmt: bytes, args: list[int]) -> str | None:
    """The formatted text, or None where the kernel refuses the format."""
    out: list[str] = []
    pos = 0
    used = 0
    while True:
        nxt = fmt.find(b"%", pos)
        if nxt < 0:
            out.append(fmt[pos:].decode("latin-1"))
            break
        out.append(fmt[pos:nxt].decode("latin-1"))
        m = _SPEC.match(fmt, nxt)
        if not m:
            return None
        flags, width, prec, length, conv, ptr_kind = m.groups()
        pos = m.end()
        if conv == b"%":
            out.append("%")
            continue
        if used >= MAX_ARGS:
            return None
        raw = args[used]
        used += 1
        spec = "%" + flags.decode() + width.decode() + (f".{prec.decode()}" if prec else "")
        if conv == b"p":
            # %px shows the address; the kernel hashes plain %p, pybpf shows it too
            out.append((spec + "s") % f"{raw:016x}")
            continue
        if ptr_kind is not None:
            pos -= 1  # the letter after a non-pointer conversion is plain text
        if conv == b"s":
            try:
                s = MEMORY.read_cstr(raw, 1024).decode("latin-1")
            except MemoryFault:
                s = "(efault)"
            out.append((spec + "s") % s)
            continue
        if conv == b"c":
            out.append((spec + "c") % chr(raw & 0xFF))
            continue
        value, bits = _width(raw, length)
        if conv in (b"d", b"i"):
            if value >> (bits - 1):
                value -= 1 << bits
            out.append((spec + "d") % value)
        else:
            out.append((spec + conv.decode()) % value)
    return "".join(out)
