"""BTF validation with the kernel's rules, messages and log (what BPF_BTF_LOAD checks).

:func:`check` takes the blob a loader would pass to ``BPF_BTF_LOAD``.  It returns the
log the kernel writes at log level 1 when the blob is accepted, and raises
:class:`BtfRejected` (a :class:`~pybpf.errors.BpfError`) with the kernel's errno, the
last log line as the message and the whole log when it is refused.

Not checked: the layout of special fields (``bpf_spin_lock``, ``bpf_list_head``, kptrs,
...) that the kernel parses after validation; those matter when a map or program uses
the type and are the verifier's business.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass

from ...errors import BpfError
from ..kinds import HEADER_SIZE, MAGIC, MAX_NAME_OFFSET, MAX_SIZE, VERSION
from .env import ENOTSUPP, Env, Rejected
from .meta import check_all_metas
from .resolve import check_all_types, check_type_tags

_U32 = 0xFFFFFFFF


class BtfRejected(BpfError):
    """The kernel would refuse this BTF: errno, the last log line and the whole log."""

    def __init__(self, err: int, message: str, log: str) -> None:
        super().__init__(err, message)
        self.log = log


@dataclass(frozen=True, slots=True)
class BtfAccepted:
    """The kernel would load this BTF; ``log`` is what it writes at log level 1."""

    log: str
    nr_types: int


def _reject(env: Env, msg: str, err: int = errno.EINVAL) -> Rejected:
    env.log(msg)
    return Rejected(err)


def _parse_header(env: Env) -> tuple[int, int, int, int, int]:
    data = env.data
    size = len(data)
    if size < 8:
        raise _reject(env, "hdr_len not found")
    (hdr_len,) = struct.unpack_from("<I", data, 4)
    if size < hdr_len:
        raise _reject(env, "btf_header not found")
    if hdr_len > HEADER_SIZE and any(data[HEADER_SIZE:hdr_len]):
        raise _reject(env, "Unsupported btf_header", errno.E2BIG)
    copy = data[: min(hdr_len, HEADER_SIZE)].ljust(HEADER_SIZE, b"\0")
    magic, version, flags, hlen, type_off, type_len, str_off, str_len = struct.unpack("<HBBIIIII", copy)
    env.log(
        f"magic: 0x{magic:x}\nversion: {version}\nflags: 0x{flags:x}\nhdr_len: {hlen}\n"
        f"type_off: {type_off}\ntype_len: {type_len}\nstr_off: {str_off}\nstr_len: {str_len}\n"
        f"btf_total_size: {size}\n"
    )
    if magic != MAGIC:
        raise _reject(env, "Invalid magic")
    if version != VERSION:
        raise _reject(env, "Unsupported version", ENOTSUPP)
    if flags:
        raise _reject(env, "Unsupported flags", ENOTSUPP)
    if size == hlen:
        raise _reject(env, "No data")
    _check_sections(env, size, hlen, [(type_off, type_len), (str_off, str_len)])
    return hlen, type_off, type_len, str_off, str_len


def _s32(v: int) -> int:
    v &= _U32
    return v - (1 << 32) if v & 0x80000000 else v


def _check_sections(env: Env, size: int, hdr_len: int, secs: list[tuple[int, int]]) -> None:
    a, b = secs
    # Sorted by offset then length, compared as the kernel does (signed 32-bit differences).
    if (_s32(a[0] - b[0]) or _s32(a[1] - b[1])) > 0:
        secs = [b, a]
    total = 0
    expected = (size - hdr_len) & _U32
    for off, length in secs:
        if expected < off:
            raise _reject(env, "Invalid section offset")
        if total < off:
            raise _reject(env, "Unsupported section found")
        if total > off:
            raise _reject(env, "Section overlap found")
        if expected - total < length:
            raise _reject(env, "Total section length too long")
        total = (total + length) & _U32
    if expected != total:
        raise _reject(env, "Unsupported section found")


def _parse_strings(env: Env, body: int, str_off: int, str_len: int) -> None:
    start = body + str_off
    end = start + str_len
    if end != len(env.data):
        raise _reject(env, "String section is not at the end")
    strings = env.data[start:end]
    if not str_len or str_len - 1 > MAX_NAME_OFFSET or strings[-1] or strings[0]:
        raise _reject(env, "Invalid string section")
    env.strings = strings


def check(raw: bytes | bytearray | memoryview, *, log_level: int = 1) -> BtfAccepted:
    """Validate a BTF blob as ``BPF_BTF_LOAD`` does (base BTF, native byte order)."""
    data = bytes(raw)
    if len(data) > MAX_SIZE:
        raise BtfRejected(errno.E2BIG, f"BTF of {len(data)} bytes is larger than {MAX_SIZE}", "")
    env = Env(data=data, log_level=log_level)
    try:
        hdr_len, type_off, type_len, str_off, str_len = _parse_header(env)
        _parse_strings(env, hdr_len, str_off, str_len)
        if type_off & 3:
            raise _reject(env, "Unaligned type_off")
        if not type_len:
            raise _reject(env, "No type found")
        check_all_metas(env, hdr_len + type_off, type_len)
        check_all_types(env)
        check_type_tags(env)
    except Rejected as exc:
        log = env.text()
        lines = log.rstrip("\n").rsplit("\n", 1)
        message = lines[-1] if log else "invalid BTF"
        raise BtfRejected(exc.err, message, log) from None
    return BtfAccepted(env.text(), env.nr_types)


__all__ = ["BtfAccepted", "BtfRejected", "check"]
