"""``.BTF.ext``: per-section function info, line info and CO-RE relocation records.

A loader-side reader of the format (the ``pybpf.btf`` package owns BTF itself): a header,
then up to three info blocks, each a record size followed by per-section groups
``{section name offset, record count, records}``.  Instruction offsets in the file are
byte offsets into the ELF section; they are kept as instruction indices here.  Names
and source lines are strings of the object's ``.BTF`` string table.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from ..errors import BpfError

BTF_EXT_MAGIC = 0xEB9F
_HDR = struct.Struct("<HBBI")
FUNC_INFO_MIN = 8
LINE_INFO_MIN = 16
CORE_RELO_MIN = 16


class CoreReloKind(IntEnum):
    """``enum bpf_core_relo_kind``."""

    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12


@dataclass(frozen=True)
class FuncInfo:
    insn_off: int
    type_id: int


@dataclass(frozen=True)
class LineInfo:
    """A source line starting at instruction ``insn_off`` (``line`` 1-based, ``col``)."""

    insn_off: int
    file_name: str
    line_text: str
    line: int
    col: int
    file_name_off: int = 0

    def describe(self) -> str:
        """``<source text> @ <file>:<line>`` as the kernel's verifier log shows it."""
        base = self.file_name.rsplit("/", 1)[-1]
        return f"{self.line_text.lstrip()} @ {base}:{self.line}"


@dataclass(frozen=True)
class CoreRelo:
    insn_off: int
    type_id: int
    access_str: str
    kind: CoreReloKind


@dataclass
class BtfExt:
    """Records grouped by the name of the ELF section whose instructions they describe."""

    func_info: dict[str, list[FuncInfo]] = field(default_factory=dict)
    line_info: dict[str, list[LineInfo]] = field(default_factory=dict)
    core_relos: dict[str, list[CoreRelo]] = field(default_factory=dict)
    func_info_rec_size: int = FUNC_INFO_MIN
    line_info_rec_size: int = LINE_INFO_MIN


def _bad(what: str) -> BpfError:
    return BpfError(errno.EINVAL, f".BTF.ext: {what}")


def parse_btf_ext(raw: bytes, string: Callable[[int], str]) -> BtfExt:
    """Read ``.BTF.ext``; ``string`` looks offsets up in the object's BTF strings."""
    if len(raw) < 8:
        raise _bad("too short for a header")
    magic, version, flags, hdr_len = _HDR.unpack_from(raw)
    if magic != BTF_EXT_MAGIC:
        raise _bad(f"bad magic {magic:#x}" + (" (big-endian objects are not supported)"
                                              if magic == 0x9FEB else ""))  # fmt: skip
    if version != 1:
        raise _bad(f"unsupported version {version}")
    if flags:
        raise _bad(f"unsupported flags {flags:#x}")
    if hdr_len < 24 or hdr_len > len(raw):
        raise _bad(f"bad header length {hdr_len}")
    fields = struct.unpack_from("<4I", raw, 8)
    core_off = core_len = 0
    if hdr_len >= 32:
        core_off, core_len = struct.unpack_from("<2I", raw, 24)
    body = raw[hdr_len:]
    ext = BtfExt()

    def block(off: int, length: int, min_rec: int, what: str) -> tuple[int, list[tuple[str, list[bytes]]]]:
        if not length:
            return min_rec, []
        if off + length > len(body) or length < 4:
            raise _bad(f"{what} runs past the end of the section")
        data = body[off : off + length]
        rec_size = struct.unpack_from("<I", data)[0]
        if rec_size < min_rec or rec_size % 4:
            raise _bad(f"{what} record size {rec_size} is invalid")
        pos = 4
        groups: list[tuple[str, list[bytes]]] = []
        while pos < len(data):
            if pos + 8 > len(data):
                raise _bad(f"{what} section header is truncated")
            name_off, count = struct.unpack_from("<2I", data, pos)
            pos += 8
            if count == 0:
                raise _bad(f"{what} has a section with no records")
            end = pos + count * rec_size
            if end > len(data):
                raise _bad(f"{what} records run past the end")
            name = _str(string, name_off, what)
            groups.append((name, [data[p : p + rec_size] for p in range(pos, end, rec_size)]))
            pos = end
        return rec_size, groups

    ext.func_info_rec_size, groups = block(fields[0], fields[1], FUNC_INFO_MIN, "func_info")
    for name, recs in groups:
        ext.func_info[name] = [FuncInfo(*_insn_first(r, 2, "func_info")) for r in recs]
    ext.line_info_rec_size, groups = block(fields[2], fields[3], LINE_INFO_MIN, "line_info")
    for name, recs in groups:
        lines = []
        for r in recs:
            off, fname_off, line_off, line_col = struct.unpack_from("<4I", r)
            if off % 8:
                raise _bad(f"line_info instruction offset {off} is not a multiple of 8")
            lines.append(LineInfo(off // 8, _str(string, fname_off, "line_info"),
                                  _str(string, line_off, "line_info"), line_col >> 10,
                                  line_col & 0x3FF, fname_off))  # fmt: skip
        ext.line_info[name] = lines
    _, groups = block(core_off, core_len, CORE_RELO_MIN, "core_relo")
    for name, recs in groups:
        relos = []
        for r in recs:
            off, type_id, access_off, kind = struct.unpack_from("<4I", r)
            if off % 8:
                raise _bad(f"core_relo instruction offset {off} is not a multiple of 8")
            try:
                k = CoreReloKind(kind)
            except ValueError:
                raise _bad(f"unknown CO-RE relocation kind {kind}") from None
            relos.append(CoreRelo(off // 8, type_id, _str(string, access_off, "core_relo"), k))
        ext.core_relos[name] = relos
    return ext


def _insn_first(rec: bytes, n: int, what: str) -> tuple[int, ...]:
    vals = struct.unpack_from(f"<{n}I", rec)
    if vals[0] % 8:
        raise _bad(f"{what} instruction offset {vals[0]} is not a multiple of 8")
    return (vals[0] // 8, *vals[1:])


def _str(string: Callable[[int], str], off: int, what: str) -> str:
    try:
        return string(off)
    except BpfError:
        raise _bad(f"{what} names string offset {off}, which is not in the BTF strings") from None
