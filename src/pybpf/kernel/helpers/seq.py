"""The output side of iterators: a ``seq_file`` and the helpers that write into it.

An iterator program prints through ``bpf_seq_write``, ``bpf_seq_printf`` and
``bpf_seq_printf_btf`` into the ``seq_file`` its ``meta->seq`` points to.  The file's
buffer is fixed (eight pages); a write that does not fit marks the file overflowed,
keeps nothing of that write, and the helper returns ``-EOVERFLOW``, so that the reader
can retry the object with an empty buffer (or fail with E2BIG if even that is too small).

:class:`SeqFile` is that buffer; :func:`new_seq_file` puts one behind a kernel object
of type ``struct seq_file`` so that a program's pointer leads to it.
"""

from __future__ import annotations

import errno
import ipaddress
import struct

from ...errors import MemoryFault
from ...memory import MEMORY
from ..env import RunEnv
from ..vmlinux import KObject, alloc_object, object_at
from .registry import helper, neg

PAGE_SIZE = 4096
SEQ_BUF_SIZE = PAGE_SIZE << 3
MAX_BPRINTF_VARARGS = 12
MAX_BPRINTF_BUF = 1024
"""What one ``%s`` may copy at most (the helpers' per-call scratch buffer)."""


class SeqFile:
    """A ``seq_file`` buffer: text accumulates until it would pass ``size``."""

    def __init__(self, size: int = SEQ_BUF_SIZE) -> None:
        self.size = size
        self.buf = bytearray()
        self.overflowed = False

    @property
    def count(self) -> int:
        return self.size if self.overflowed else len(self.buf)

    def has_overflowed(self) -> bool:
        return self.overflowed

    def write(self, data: bytes) -> bool:
        """Append ``data``; False (and the file overflowed) if it does not fit (the
        last byte of the buffer is never used: room is kept for a terminating NUL)."""
        if self.overflowed:
            return False
        if len(self.buf) + len(data) >= self.size:
            self.overflowed = True
            return False
        self.buf += data
        return True

    def truncate(self, count: int) -> None:
        """Drop what was written after ``count`` bytes (an object shown again)."""
        del self.buf[count:]
        self.overflowed = False

    def take(self) -> bytes:
        out = bytes(self.buf)
        self.buf.clear()
        self.overflowed = False
        return out


def new_seq_file(seq: SeqFile) -> KObject:
    """A kernel ``struct seq_file`` standing for ``seq`` (what ``meta->seq`` points to)."""
    return alloc_object("seq_file", name="seq_file", owner=seq, size=seq.size)


def seq_file_at(address: int) -> SeqFile | None:
    obj = object_at(address)
    owner = getattr(obj, "owner", None) if obj is not None else None
    return owner if isinstance(owner, SeqFile) else None


# --- bpf_seq_printf's format language (bpf_bprintf_prepare) ------------------------------


class _BadFormat(Exception):
    def __init__(self, err: int = errno.EINVAL) -> None:
        super().__init__(err)
        self.errno = err


def _isprint_or_space(c: int) -> bool:
    return c >= 0x80 or 0x20 <= c < 0x7F or c in (0x09, 0x0A, 0x0B, 0x0C, 0x0D)


def _ispunct(c: int) -> bool:
    return 0x21 <= c < 0x7F and not chr(c).isalnum()


def _ends_word(c: int) -> bool:
    return c == 0 or chr(c).isspace() or _ispunct(c)


def _read_str(addr: int, limit: int) -> bytes:
    try:
        return MEMORY.read_cstr(addr, limit)
    except MemoryFault:
        return b""


def _pad(text: str, flags: str, width: int) -> str:
    if len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    return text.rjust(width)


def _int_text(value: int, conv: str, size: int, flags: str, width: int) -> str:
    bits = size * 8
    value &= (1 << bits) - 1
    if conv in "di" and value >> (bits - 1):
        value -= 1 << bits
    if conv in "di":
        digits = str(abs(value))
        sign = "-" if value < 0 else ("+" if "+" in flags else (" " if " " in flags else ""))
    elif conv == "u":
        digits, sign = str(value), ""
    else:
        digits, sign = format(value, "x" if conv == "x" else "X"), ""
    if "0" in flags and "-" not in flags and len(sign) + len(digits) < width:
        digits = digits.rjust(width - len(sign), "0")
    return _pad(sign + digits, flags, width)


def format_bprintf(fmt: bytes, args: list[int]) -> str:
    """The text ``bpf_seq_printf`` writes for ``fmt`` (without its NUL) and ``args``;
    raises :class:`_BadFormat` where the kernel refuses the format."""
    out: list[str] = []
    i = 0
    used = 0
    n = len(fmt)
    z = fmt + b"\0\0\0"

    def at(k: int) -> int:
        return z[k] if k < n + 3 else 0

    while i < n:
        c = fmt[i]
        if not _isprint_or_space(c):
            raise _BadFormat()
        if c != 0x25:  # '%'
            out.append(chr(c) if c < 0x80 else bytes([c]).decode("latin-1"))
            i += 1
            continue
        if at(i + 1) == 0x25:
            out.append("%")
            i += 2
            continue
        if used >= len(args):
            raise _BadFormat()
        i += 1
        if at(i) >= 0x80:
            raise _BadFormat()
        flags = ""
        while chr(at(i)) in "0+- ":
            flags += chr(at(i))
            i += 1
        width = 0
        while 0x30 <= at(i) <= 0x39:
            width = width * 10 + at(i) - 0x30
            i += 1
        conv = chr(at(i))
        arg = args[used]
        if conv == "p":
            nxt = at(i + 1)
            if _ends_word(nxt):
                text = f"{arg:016x}"
                i += 1
            elif chr(nxt) in "ku" and at(i + 2) == ord("s"):
                if not _ends_word(at(i + 3)):
                    raise _BadFormat()
                text = _read_str(arg, MAX_BPRINTF_BUF).decode("latin-1")
                i += 3
            elif chr(nxt) in "Kx":
                text = f"{arg:016x}"
                i += 2
            elif chr(nxt) in "sSB":
                text = f"0x{arg:x}"
                i += 2
            elif chr(nxt) in "iI" and chr(at(i + 2)) in "46":
                size = 4 if at(i + 2) == ord("4") else 16
                try:
                    raw = MEMORY.read(arg, size)
                except MemoryFault:
                    raw = bytes(size)
                text = _ip_text(raw, chr(nxt))
                i += 3
            else:
                raise _BadFormat()
            out.append(_pad(text, flags, width))
            used += 1
            continue
        if conv == "s":
            if not _ends_word(at(i + 1)):
                raise _BadFormat()
            out.append(_pad(_read_str(arg, MAX_BPRINTF_BUF).decode("latin-1"), flags, width))
            i += 1
            used += 1
            continue
        if conv == "c":
            out.append(_pad(chr(arg & 0xFF), flags, width))
            i += 1
            used += 1
            continue
        size = 4
        if conv == "l":
            size = 8
            i += 1
            if chr(at(i)) == "l":
                i += 1
            conv = chr(at(i))
        if conv not in "iduxX":
            raise _BadFormat()
        out.append(_int_text(arg, conv, size, flags, width))
        i += 1
        used += 1
    return "".join(out)


def _ip_text(raw: bytes, style: str) -> str:
    if len(raw) == 4:
        if style == "i":
            return ".".join(f"{b:03d}" for b in raw)
        return str(ipaddress.IPv4Address(raw))
    if style == "i":
        return raw.hex()
    return ":".join(raw[k : k + 2].hex() for k in range(0, 16, 2))


# --- the helpers ------------------------------------------------------------------------


def _seq(env: RunEnv, addr: int) -> SeqFile | None:
    return seq_file_at(addr)


@helper("seq_write")
def seq_write(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    seq = _seq(env, r1)
    size = r3 & 0xFFFFFFFF
    if seq is None:
        return neg(errno.EINVAL)
    try:
        data = MEMORY.read(r2, size, env.pc) if size else b""
    except MemoryFault:
        return neg(errno.EFAULT)
    return 0 if seq.write(data) else neg(errno.EOVERFLOW)


@helper("seq_printf")
def seq_printf(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    seq = _seq(env, r1)
    fmt_size = r3 & 0xFFFFFFFF
    data_len = r5 & 0xFFFFFFFF
    if seq is None:
        return neg(errno.EINVAL)
    if data_len & 7 or data_len > MAX_BPRINTF_VARARGS * 8 or (data_len and not r4):
        return neg(errno.EINVAL)
    try:
        fmt = MEMORY.read(r2, fmt_size, env.pc)
        raw = MEMORY.read(r4, data_len, env.pc) if data_len else b""
    except MemoryFault:
        return neg(errno.EFAULT)
    end = fmt.find(b"\0")
    if end < 0:
        return neg(errno.EINVAL)
    args = list(struct.unpack(f"<{data_len // 8}Q", raw))
    try:
        text = format_bprintf(fmt[:end], args)
    except _BadFormat as exc:
        return neg(exc.errno)
    return 0 if seq.write(text.encode("latin-1")) else neg(errno.EOVERFLOW)


BTF_PTR_SIZE = 16
"""``sizeof(struct btf_ptr)``: the pointer, the type id and (unused) flags."""


def _btf_ptr(env: RunEnv, addr: int, size: int, flags: int) -> tuple[int, int] | int:
    """``bpf_btf_printf_prepare``: the object's address and kernel BTF type id, or the
    negative errno the helpers return."""
    from ..vmlinux import kernel_btf
    from .btf_show import BTF_F_ALL, check_btf_ptr

    if flags & ~BTF_F_ALL or size != BTF_PTR_SIZE:
        return neg(errno.EINVAL)
    try:
        ptr, type_id, _flags = struct.unpack("<QII", MEMORY.read(addr, BTF_PTR_SIZE, env.pc))
    except MemoryFault:
        return neg(errno.EFAULT)
    err = check_btf_ptr(type_id, len(kernel_btf()))
    return neg(-err) if err else (ptr, type_id)


@helper("seq_printf_btf")
def seq_printf_btf(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """The object's text goes into the file piece by piece (a piece that does not fit
    overflows it); the return value is the walk's status, not the overflow."""
    from ..vmlinux import kernel_btf
    from .btf_show import show_btf

    seq = _seq(env, r1)
    if seq is None:
        return neg(errno.EINVAL)
    got = _btf_ptr(env, r2, r3 & 0xFFFFFFFF, r4)
    if isinstance(got, int):
        return got
    ptr, type_id = got
    return neg(-show_btf(kernel_btf(), type_id, ptr, r4, seq.write))


@helper("snprintf_btf")
def snprintf_btf(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """Like ``snprintf``: as much of the text as fits with its NUL (a piece that does not
    fit is cut and ends the string), and the length the whole text has."""
    from ..vmlinux import kernel_btf
    from .btf_show import show_btf

    got = _btf_ptr(env, r3, r4 & 0xFFFFFFFF, r5)
    if isinstance(got, int):
        return got
    ptr, type_id = got
    out = _SnprintfTarget(r1, r2 & 0xFFFFFFFF, env.pc)
    status = show_btf(kernel_btf(), type_id, ptr, r5, out.write)
    if status:
        return neg(-status)
    return out.length if out.length >= 0 else neg(errno.EFAULT)


class _SnprintfTarget:
    """``btf_snprintf_show``: each piece is a ``vsnprintf`` into what is left."""

    def __init__(self, addr: int, size: int, pc: int) -> None:
        self.addr = addr
        self.left = size
        self.length = 0
        self.pc = pc

    def write(self, piece: bytes) -> None:
        if self.left > 0:
            cut = piece[: self.left - 1]
            try:
                MEMORY.write(self.addr, cut + b"\0", self.pc)
            except MemoryFault:
                self.left = 0
                self.length = -1
                return
        if len(piece) >= self.left:
            self.left = 0
        else:
            self.left -= len(piece)
            self.addr += len(piece)
        if self.length >= 0:
            self.length += len(piece)
