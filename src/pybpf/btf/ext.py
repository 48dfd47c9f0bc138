"""``.BTF.ext``: per-section function info, line info and CO-RE relocation records.

In an object file every ``insn_off`` is a byte offset into its ELF section (divide by 8
for the instruction index); names (sections, files, source lines, CO-RE access
strings) are offsets into the ``.BTF`` string table, resolved here.  A loader moves
the records to program-relative instruction indices when it links subprograms
(:meth:`FuncInfo.moved`, :meth:`LineInfo.moved`).
"""

from __future__ import annotations

import bisect
import enum
import errno
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from ..errors import BpfError
from .btf import Btf

EXT_MAGIC = 0xEB9F
EXT_HEADER_MIN = 24  # up to line_info_len; core_relo_off/len follow when hdr_len says so
_C_SPACE = " \t\n\v\f\r"


class CoreReloKind(enum.IntEnum):
    """What a CO-RE relocation asks for (``enum bpf_core_relo_kind``)."""

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

    @property
    def label(self) -> str:
        """The name libbpf logs for this kind."""
        return _KIND_LABELS[self]

    @property
    def is_field(self) -> bool:
        return self <= CoreReloKind.FIELD_RSHIFT_U64

    @property
    def is_type(self) -> bool:
        return self in (CoreReloKind.TYPE_ID_LOCAL, CoreReloKind.TYPE_ID_TARGET, CoreReloKind.TYPE_EXISTS,
                        CoreReloKind.TYPE_SIZE, CoreReloKind.TYPE_MATCHES)  # fmt: skip

    @property
    def is_enumval(self) -> bool:
        return self in (CoreReloKind.ENUMVAL_EXISTS, CoreReloKind.ENUMVAL_VALUE)


_KIND_LABELS = {
    CoreReloKind.FIELD_BYTE_OFFSET: "byte_off",
    CoreReloKind.FIELD_BYTE_SIZE: "byte_sz",
    CoreReloKind.FIELD_EXISTS: "field_exists",
    CoreReloKind.FIELD_SIGNED: "signed",
    CoreReloKind.FIELD_LSHIFT_U64: "lshift_u64",
    CoreReloKind.FIELD_RSHIFT_U64: "rshift_u64",
    CoreReloKind.TYPE_ID_LOCAL: "local_type_id",
    CoreReloKind.TYPE_ID_TARGET: "target_type_id",
    CoreReloKind.TYPE_EXISTS: "type_exists",
    CoreReloKind.TYPE_MATCHES: "type_matches",
    CoreReloKind.TYPE_SIZE: "type_size",
    CoreReloKind.ENUMVAL_EXISTS: "enumval_exists",
    CoreReloKind.ENUMVAL_VALUE: "enumval_value",
}


@dataclass(frozen=True, slots=True)
class FuncInfo:
    """A function starts at ``insn_off`` and has the BTF FUNC ``type_id``."""

    insn_off: int
    type_id: int

    @property
    def insn(self) -> int:
        return self.insn_off // 8

    def moved(self, insn: int) -> FuncInfo:
        """The same record at instruction index ``insn`` (as a program load expects)."""
        return replace(self, insn_off=insn)


@dataclass(frozen=True, slots=True)
class LineInfo:
    """The source line of the instructions from ``insn_off`` on."""

    insn_off: int
    file_name: str
    line: str
    line_num: int
    col: int
    file_name_off: int = field(default=0, compare=False)
    line_off: int = field(default=0, compare=False)

    @property
    def insn(self) -> int:
        return self.insn_off // 8

    def moved(self, insn: int) -> LineInfo:
        return replace(self, insn_off=insn)

    @property
    def line_col(self) -> int:
        """The packed word of the wire format: line number above 10 bits of column."""
        return (self.line_num << 10) | (self.col & 0x3FF)

    def log_text(self) -> str:
        """The line as the verifier log shows it after ``"; "``: the source text without
        its indentation, then ``@ file:line`` (file name without directories)."""
        text = self.line.lstrip(_C_SPACE)
        return f"{text} @ {self.file_name.rsplit('/', 1)[-1]}:{self.line_num}"


@dataclass(frozen=True, slots=True)
class CoreRelo:
    """Relocate the instruction at ``insn_off`` for ``kind`` of local type ``type_id``
    along ``access`` (``"0:1:2"``: member/element indices; an enumerator index for
    enum kinds; ``"0"`` for type kinds)."""

    insn_off: int
    type_id: int
    access: str
    kind: CoreReloKind
    access_str_off: int = field(default=0, compare=False)

    @property
    def insn(self) -> int:
        return self.insn_off // 8


@dataclass(frozen=True, slots=True)
class BtfExt:
    """Every record of a ``.BTF.ext``, grouped by ELF section name."""

    func_info: dict[str, tuple[FuncInfo, ...]]
    line_info: dict[str, tuple[LineInfo, ...]]
    core_relos: dict[str, tuple[CoreRelo, ...]]
    func_info_rec_size: int = 8
    line_info_rec_size: int = 16
    core_relo_rec_size: int = 16


R = TypeVar("R")


def _bad(msg: str) -> BpfError:
    return BpfError(errno.EINVAL, msg)


def _sections(
    data: bytes,
    start: int,
    length: int,
    what: str,
    min_rec: int,
    btf: Btf,
    decode: Callable[[bytes, int], R],
) -> tuple[dict[str, tuple[R, ...]], int]:
    """Records of one info kind: a record size, then (section name, count, records)*."""
    if not length:
        return {}, min_rec
    if length < 4 or start + length > len(data):
        raise _bad(f".BTF.ext {what} section is truncated")
    (rec_size,) = struct.unpack_from("<I", data, start)
    if rec_size < min_rec or rec_size % 4:
        raise _bad(f".BTF.ext {what} record size {rec_size} is invalid")
    out: dict[str, tuple[R, ...]] = {}
    pos = start + 4
    end = start + length
    while pos < end:
        if end - pos < 8:
            raise _bad(f".BTF.ext {what} section header is truncated")
        name_off, count = struct.unpack_from("<II", data, pos)
        pos += 8
        if not count:
            raise _bad(f".BTF.ext {what} section has no records")
        if count * rec_size > end - pos:
            raise _bad(f".BTF.ext {what} records overrun the section")
        name = _string(btf, name_off, what)
        records = tuple(decode(data, pos + i * rec_size) for i in range(count))
        out[name] = out.get(name, ()) + records
        pos += count * rec_size
    return out, rec_size


def _string(btf: Btf, off: int, what: str) -> str:
    try:
        return btf.string(off)
    except BpfError:
        raise _bad(f".BTF.ext {what} refers to string offset {off} outside .BTF") from None


def parse_ext(raw: bytes | bytearray | memoryview, btf: Btf) -> BtfExt:
    """Read a ``.BTF.ext`` section; ``btf`` is the object's ``.BTF`` (for its strings)."""
    data = bytes(raw)
    if len(data) < 8:
        raise _bad(".BTF.ext header not found")
    magic, version, flags, hdr_len = struct.unpack_from("<HBBI", data)
    if magic != EXT_MAGIC:
        raise _bad(f"Invalid .BTF.ext magic: {magic:x}")
    if version != 1:
        raise BpfError(errno.ENOTSUP, f"Unsupported .BTF.ext version: {version}")
    if flags:
        raise BpfError(errno.ENOTSUP, f"Unsupported .BTF.ext flags: {flags:x}")
    if hdr_len < EXT_HEADER_MIN or hdr_len > len(data):
        raise _bad(f".BTF.ext header length {hdr_len} is invalid")
    words = list(struct.unpack_from("<IIII", data, 8))
    if hdr_len >= 32:
        words += list(struct.unpack_from("<II", data, 24))
    else:
        words += [0, 0]
    fi_off, fi_len, li_off, li_len, cr_off, cr_len = words

    def func(buf: bytes, pos: int) -> FuncInfo:
        insn_off, type_id = struct.unpack_from("<II", buf, pos)
        return FuncInfo(insn_off, type_id)

    def line(buf: bytes, pos: int) -> LineInfo:
        insn_off, file_off, line_off, line_col = struct.unpack_from("<IIII", buf, pos)
        return LineInfo(insn_off, _string(btf, file_off, "line_info"), _string(btf, line_off, "line_info"),
                        line_col >> 10, line_col & 0x3FF, file_off, line_off)  # fmt: skip

    def relo(buf: bytes, pos: int) -> CoreRelo:
        insn_off, type_id, access_off, kind = struct.unpack_from("<IIII", buf, pos)
        try:
            k = CoreReloKind(kind)
        except ValueError:
            raise _bad(f".BTF.ext CO-RE relocation has unknown kind {kind}") from None
        return CoreRelo(insn_off, type_id, _string(btf, access_off, "core_relo"), k, access_off)

    base = hdr_len
    fi, fi_size = _sections(data, base + fi_off, fi_len, "func_info", 8, btf, func)
    li, li_size = _sections(data, base + li_off, li_len, "line_info", 16, btf, line)
    cr, cr_size = _sections(data, base + cr_off, cr_len, "core_relo", 16, btf, relo)
    return BtfExt(fi, li, cr, fi_size, li_size, cr_size)


def find_line(lines: Sequence[LineInfo], insn: int) -> LineInfo | None:
    """The record covering instruction index ``insn`` of a program whose line info
    was moved to instruction indices (the last record starting at or before it)."""
    if not lines:
        return None
    starts = [li.insn_off for li in lines]
    i = bisect.bisect_right(starts, insn) - 1
    return lines[i] if i >= 0 else None


def encode_line_info(lines: Sequence[LineInfo]) -> bytes:
    """Line info records as ``BPF_PROG_LOAD`` takes them (16 bytes each; the string
    offsets are the ones read from the object's ``.BTF``)."""
    return b"".join(
        struct.pack("<IIII", li.insn_off, li.file_name_off, li.line_off, li.line_col) for li in lines
    )


def encode_func_info(funcs: Sequence[FuncInfo]) -> bytes:
    return b"".join(struct.pack("<II", f.insn_off, f.type_id) for f in funcs)
