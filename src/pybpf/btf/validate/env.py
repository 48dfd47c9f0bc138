"""The validator's view of a blob: raw records by type id, the string section, the log.

Validation works on the raw words, not on the dataclass model, because the kernel's
rules are about the raw encoding (stray kflag bits, vlen on an INT, odd offsets) that
the model cannot even represent.
"""

from __future__ import annotations

import enum
import re
import sys
from array import array
from dataclasses import dataclass, field

from ..kinds import MAX_NAME_OFFSET, Kind

KSYM_NAME_LEN = 512
MAX_RESOLVE_DEPTH = 32
ENOTSUPP = 524
"""The kernel-internal errno some BTF checks return (user space sees 524)."""

_U32 = 0xFFFFFFFF

# The kernel's ctype for bytes 128..255: Latin-1 letters count as letters and every
# byte from 160 up as printable (its table, not the C locale's).
_UPPER_HI = set(range(192, 215)) | set(range(216, 223))
_LOWER_HI = set(range(223, 247)) | set(range(248, 256))


_ALPHA = rb"A-Za-z\xc0-\xd6\xd8-\xf6\xf8-\xff"
_IDENT = re.compile(rb"[" + _ALPHA + rb"_.][" + _ALPHA + rb"0-9_.]*")
"""An identifier as the kernel accepts it: a letter, ``_`` or ``.``, then also digits."""


def k_isalpha(c: int) -> bool:
    return 65 <= c <= 90 or 97 <= c <= 122 or c in _UPPER_HI or c in _LOWER_HI


def k_isalnum(c: int) -> bool:
    return k_isalpha(c) or 48 <= c <= 57


def k_isprint(c: int) -> bool:
    return 32 <= c <= 126 or c >= 160


_MODIFIERS = frozenset({Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG})
_NEEDS_RESOLVE = _MODIFIERS | {Kind.PTR, Kind.STRUCT, Kind.UNION, Kind.ARRAY, Kind.VAR, Kind.FUNC,
                               Kind.DECL_TAG, Kind.DATASEC}  # fmt: skip


class Phase(enum.Enum):
    CHECK_META = 0
    CHECK_TYPE = 1


class ResolveMode(enum.Enum):
    TBD = 0
    PTR = 1
    STRUCT_OR_ARRAY = 2


class Visit(enum.IntEnum):
    NOT_VISITED = 0
    VISITED = 1
    RESOLVED = 2


@dataclass(slots=True)
class Vertex:
    type_id: int
    next_member: int = 0


class Rejected(Exception):
    """Raised inside the validator with the errno the kernel would return."""

    def __init__(self, err: int) -> None:
        super().__init__(err)
        self.err = err


@dataclass
class Env:
    """Everything one BTF_BTF_LOAD validation looks at and writes."""

    data: bytes
    log_level: int
    hdr: dict[str, int] = field(default_factory=dict)
    types_base: int = 0
    strings: bytes = b""
    offsets: list[int] = field(default_factory=lambda: [-1])
    """Per type id, the word index of its record in ``words`` (-1 for void)."""
    words: array[int] = field(default_factory=lambda: array("I"))
    kinds: list[int] = field(default_factory=lambda: [0])
    """Per type id its kind, filled in as pass 1 accepts records."""
    _ident_ok: dict[int, bool] = field(default_factory=dict)
    log_parts: list[str] = field(default_factory=list)
    log_type_id: int = 0
    phase: Phase = Phase.CHECK_META
    mode: ResolveMode = ResolveMode.TBD
    visit: list[int] = field(default_factory=list)
    resolved_ids: list[int] = field(default_factory=list)
    resolved_sizes: list[int] = field(default_factory=list)
    stack: list[Vertex] = field(default_factory=list)

    # -- log ---------------------------------------------------------------------------
    def log(self, text: str) -> None:
        if self.log_level:
            self.log_parts.append(text)

    def log_type(self, type_id: int, msg: str | None = None, details: bool = True) -> None:
        """``[id] KIND name details msg`` as the kernel prints a type it is checking."""
        if not self.log_level:
            return
        kind = self.kind(type_id)
        label = Kind(kind).label if kind <= 19 else "UNKNOWN"
        parts = [f"[{self.log_type_id}] {label} {self.name_for_log(self.name_off(type_id))}"]
        if details:
            parts.append(" " + self.details(type_id))
        if msg:
            parts.append(" " + msg)
        parts.append("\n")
        self.log_parts.append("".join(parts))

    def log_member(self, struct_id: int, member: tuple[int, int, int], msg: str | None = None) -> None:
        """A member line (``member`` is its name offset, type and offset words); outside
        pass 1 the struct's own line comes first."""
        if not self.log_level:
            return
        if self.phase is not Phase.CHECK_META:
            self.log_type(struct_id)
        name_off, mtype, off = member
        name = self.name_for_log(name_off)
        if self.kflag(struct_id):
            text = f"\t{name} type_id={mtype} bitfield_size={off >> 24} bits_offset={off & 0xFFFFFF}"
        else:
            text = f"\t{name} type_id={mtype} bits_offset={off}"
        if msg:
            text += " " + msg
        self.log_parts.append(text + "\n")

    def log_vsi(self, sec_id: int, index: int, msg: str | None = None) -> None:
        if not self.log_level:
            return
        if self.phase is not Phase.CHECK_META:
            self.log_type(sec_id)
        vtype, off, size = self.secinfo(sec_id, index)
        text = f"\t type_id={vtype} offset={off} size={size}"
        if msg:
            text += " " + msg
        self.log_parts.append(text + "\n")

    def details(self, type_id: int) -> str:
        kind = self.kind(type_id)
        size_type = self.size_type(type_id)
        vlen = self.vlen(type_id)
        if kind == Kind.INT:
            data = self.word(type_id, 0)
            enc = {0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}.get((data >> 24) & 0xF, "UNKN")
            return f"size={size_type} bits_offset={(data >> 16) & 0xFF} nr_bits={data & 0xFF} encoding={enc}"
        if kind in (Kind.PTR, Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT,
                    Kind.TYPE_TAG, Kind.FUNC):  # fmt: skip
            return f"type_id={size_type}"
        if kind == Kind.FWD:
            return "union" if self.kflag(type_id) else "struct"
        if kind == Kind.ARRAY:
            return (f"type_id={self.word(type_id, 0)} index_type_id={self.word(type_id, 1)} "
                    f"nr_elems={self.word(type_id, 2)}")  # fmt: skip
        if kind in (Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.DATASEC):
            return f"size={size_type} vlen={vlen}"
        if kind == Kind.FUNC_PROTO:
            return f"return={size_type} args=({self._args(type_id)})"
        if kind == Kind.VAR:
            return f"type_id={size_type} linkage={self.word(type_id, 0)}"
        if kind == Kind.FLOAT:
            return f"size={size_type}"
        if kind == Kind.DECL_TAG:
            return f"type={size_type} component_idx={to_s32(self.word(type_id, 0))}"
        return ""

    def _args(self, type_id: int) -> str:
        n = self.vlen(type_id)
        if not n:
            return "void"
        params = [self.param(type_id, i) for i in range(n)]
        if n == 1 and not params[0][1]:
            return "vararg"
        out = [f"{params[0][1]} {self.name_for_log(params[0][0])}"]
        out += [f"{t} {self.name_for_log(o)}" for o, t in params[1:-1]]
        if n > 1:
            o, t = params[-1]
            out.append(f"{t} {self.name_for_log(o)}" if t else "vararg")
        return ", ".join(out)

    def text(self) -> str:
        return "".join(self.log_parts)

    # -- strings -----------------------------------------------------------------------
    def name_offset_valid(self, off: int) -> bool:
        return off <= MAX_NAME_OFFSET and off < len(self.strings)

    def string_at(self, off: int) -> bytes | None:
        if off >= len(self.strings):
            return None
        end = self.strings.find(b"\0", off)
        return self.strings[off : end if end >= 0 else len(self.strings)]

    def name_for_log(self, off: int) -> str:
        if not off:
            return "(anon)"
        s = self.string_at(off)
        if s is None:
            return "(invalid-name-offset)"
        return s.decode("utf-8", "backslashreplace")

    def valid_identifier(self, off: int) -> bool:
        ok = self._ident_ok.get(off)
        if ok is None:
            s = self.string_at(off) or b""
            ok = self._ident_ok[off] = len(s) <= KSYM_NAME_LEN and _IDENT.fullmatch(s) is not None
        return ok

    def valid_section_name(self, off: int) -> bool:
        s = self.string_at(off) or b""
        return 0 < len(s) <= KSYM_NAME_LEN and all(k_isprint(c) for c in s)

    # -- records -----------------------------------------------------------------------
    @property
    def nr_types(self) -> int:
        return len(self.offsets)

    def exists(self, type_id: int) -> bool:
        return 0 <= type_id < len(self.offsets)

    def load_types(self, start: int, length: int) -> None:
        """Take the type section as native words (padded to a whole word)."""
        raw = self.data[start : start + length]
        raw += b"\0" * (-len(raw) % 4)
        w: array[int] = array("I")
        w.frombytes(raw)
        if sys.byteorder != "little":
            w.byteswap()
        self.words = w

    def _hdr_word(self, type_id: int, n: int) -> int:
        off = self.offsets[type_id]
        return 0 if off < 0 else self.words[off + n]

    def name_off(self, type_id: int) -> int:
        return self._hdr_word(type_id, 0)

    def info(self, type_id: int) -> int:
        return self._hdr_word(type_id, 1)

    def kind(self, type_id: int) -> int:
        kinds = self.kinds
        if type_id < len(kinds):
            return kinds[type_id]
        return (self._hdr_word(type_id, 1) >> 24) & 0x1F

    def vlen(self, type_id: int) -> int:
        return self._hdr_word(type_id, 1) & 0xFFFF

    def kflag(self, type_id: int) -> bool:
        return bool(self._hdr_word(type_id, 1) >> 31)

    def size_type(self, type_id: int) -> int:
        return self._hdr_word(type_id, 2)

    def word(self, type_id: int, n: int) -> int:
        """The ``n``-th word after a record's 12-byte header."""
        return self.words[self.offsets[type_id] + 3 + n]

    def member(self, type_id: int, i: int) -> tuple[int, int, int]:
        """(name_off, type, offset) of member ``i`` of a struct/union."""
        w = self.words
        base = self.offsets[type_id] + 3 + 3 * i
        return w[base], w[base + 1], w[base + 2]

    def secinfo(self, type_id: int, i: int) -> tuple[int, int, int]:
        return self.member(type_id, i)

    def param(self, type_id: int, i: int) -> tuple[int, int]:
        w = self.words
        base = self.offsets[type_id] + 3 + 2 * i
        return w[base], w[base + 1]

    def enum_value(self, type_id: int, i: int) -> tuple[int, int]:
        return self.param(type_id, i)

    def enum64_value(self, type_id: int, i: int) -> tuple[int, int]:
        a, lo, hi = self.member(type_id, i)
        return a, lo | (hi << 32)

    # -- kind predicates (void is id 0, kind 0) ------------------------------------------
    def is_void(self, type_id: int) -> bool:
        return type_id == 0

    def is_modifier(self, type_id: int) -> bool:
        return self.kind(type_id) in _MODIFIERS

    def is_struct(self, type_id: int) -> bool:
        return self.kind(type_id) in (Kind.STRUCT, Kind.UNION)

    def is_fwd(self, type_id: int) -> bool:
        return self.kind(type_id) == Kind.FWD

    def is_ptr(self, type_id: int) -> bool:
        return self.kind(type_id) == Kind.PTR

    def is_array(self, type_id: int) -> bool:
        return self.kind(type_id) == Kind.ARRAY

    def is_int(self, type_id: int) -> bool:
        return self.kind(type_id) == Kind.INT

    def is_var(self, type_id: int) -> bool:
        return self.kind(type_id) == Kind.VAR

    def is_func(self, type_id: int) -> bool:
        return self.kind(type_id) == Kind.FUNC

    def is_func_proto(self, type_id: int) -> bool:
        return self.kind(type_id) == Kind.FUNC_PROTO

    def is_datasec(self, type_id: int) -> bool:
        return self.kind(type_id) == Kind.DATASEC

    def is_decl_tag(self, type_id: int) -> bool:
        return self.kind(type_id) == Kind.DECL_TAG

    def is_type_tag(self, type_id: int) -> bool:
        return self.kind(type_id) == Kind.TYPE_TAG

    def is_typedef(self, type_id: int) -> bool:
        return self.kind(type_id) == Kind.TYPEDEF

    def nosize(self, type_id: int) -> bool:
        """Types that have no size: void, fwd, func, func_proto, decl_tag."""
        return type_id == 0 or self.kind(type_id) in (Kind.FWD, Kind.FUNC, Kind.FUNC_PROTO,
                                                      Kind.DECL_TAG)  # fmt: skip

    def nosize_or_null(self, type_id: int) -> bool:
        return not self.exists(type_id) or self.nosize(type_id)

    def has_size(self, type_id: int) -> bool:
        return self.kind(type_id) in (Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM,
                                      Kind.DATASEC, Kind.FLOAT, Kind.ENUM64)  # fmt: skip

    def is_resolve_source_only(self, type_id: int) -> bool:
        return self.kind(type_id) in (Kind.VAR, Kind.DECL_TAG, Kind.DATASEC)

    def needs_resolve(self, type_id: int) -> bool:
        return self.kind(type_id) in _NEEDS_RESOLVE

    def int_is_regular(self, type_id: int) -> bool:
        """A whole u8/u16/u32/u64/u128, not a bitfield."""
        data = self.word(type_id, 0)
        bits = data & 0xFF
        nbytes = (bits >> 3) + (1 if bits & 7 else 0)
        return not (bits & 7) and not ((data >> 16) & 0xFF) and nbytes in (1, 2, 4, 8, 16)

    # -- resolved ids and sizes ----------------------------------------------------------
    def is_resolved(self, type_id: int) -> bool:
        return self.visit[type_id] == Visit.RESOLVED

    def id_size(self, type_id: int) -> tuple[int, int] | None:
        """The kernel's ``btf_type_id_size``: (id with a size, size) or None."""
        if self.nosize_or_null(type_id):
            return None
        if self.has_size(type_id):
            return type_id, self.size_type(type_id)
        if self.is_array(type_id):
            return type_id, self.resolved_sizes[type_id]
        if self.is_ptr(type_id):
            return type_id, 8
        if not self.is_modifier(type_id) and not self.is_var(type_id):
            return None
        rid = self.resolved_ids[type_id]
        if self.nosize_or_null(rid):
            return None
        if self.has_size(rid):
            return rid, self.size_type(rid)
        if self.is_array(rid):
            return rid, self.resolved_sizes[rid]
        if self.is_ptr(rid):
            return rid, 8
        return None


def to_s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def u32_sub(a: int, b: int) -> int:
    return (a - b) & _U32
