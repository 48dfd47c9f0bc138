"""Byte buffers handed to the kernel by address, kept alive for the length of a call."""

from __future__ import annotations

import ctypes
import threading

Buffer = ctypes.Array[ctypes.c_char]


def in_buffer(data: bytes | bytearray | memoryview | None) -> tuple[Buffer | None, int]:
    """A C copy of ``data`` and its address; None and empty input become a NULL pointer."""
    if data is None or len(data) == 0:
        return None, 0
    raw = bytes(data)
    buf = ctypes.create_string_buffer(raw, len(raw))
    return buf, ctypes.addressof(buf)


def out_buffer(size: int) -> tuple[Buffer | None, int]:
    """A zeroed buffer of ``size`` bytes for the kernel to fill (NULL when size is 0)."""
    if size <= 0:
        return None, 0
    buf = ctypes.create_string_buffer(size)
    return buf, ctypes.addressof(buf)


_scratch = threading.local()


def log_buffer(size: int) -> tuple[Buffer | None, int]:
    """A log buffer of at least ``size`` bytes, reused by this thread from call to call.

    Allocating (and zeroing) a fresh 16 MiB buffer costs more than most loads; the kernel
    only writes a NUL-terminated log, so one buffer per thread serves every call once its
    first byte is reset (errors found before the log starts write nothing at all).
    """
    if size <= 0:
        return None, 0
    buf: Buffer | None = getattr(_scratch, "log", None)
    if buf is None or len(buf) < size:
        buf = ctypes.create_string_buffer(size)
        _scratch.log = buf
    buf[0] = b"\0"
    return buf, ctypes.addressof(buf)


def read(buf: Buffer | None, size: int | None = None) -> bytes:
    """The first ``size`` bytes of ``buf`` (all of it when size is None)."""
    if buf is None:
        return b""
    n = len(buf) if size is None else max(0, min(size, len(buf)))
    return ctypes.string_at(ctypes.addressof(buf), n)


def read_text(buf: Buffer | None) -> str:
    """A NUL-terminated log buffer as text (trailing NULs dropped, bad bytes escaped)."""
    if buf is None:
        return ""
    return bytes(buf.value).decode("utf-8", errors="backslashreplace")


def name_bytes(name: str | bytes) -> bytes:
    """An object name for a 16-byte field.

    Longer names are cut to 16 bytes *without* a NUL, so the kernel answers EINVAL as
    it does for any name that does not fit, rather than pybpf deciding for it.
    """
    raw = name.encode("utf-8", errors="replace") if isinstance(name, str) else bytes(name)
    return raw[:16]
