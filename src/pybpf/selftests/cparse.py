"""A C front end for declarations, constant expressions and initialisers.

It reads what kernel headers and ``struct bpf_test`` initialisers are made of: struct,
union, enum and typedef declarations (other declarations and function bodies are
skipped), integer constant expressions with C's typing rules (``-1U``, ``(__u32)x``,
``1ULL << 63``, ``offsetof``, ``sizeof``) and brace initialisers with designators and
compound literals, which are written into a byte image of the object exactly as a
compiler would lay it out.  Pointers in an image are kept beside the bytes: a string
literal or a function name, by offset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from .cmodel import (
    BOOL,
    CHAR,
    INT,
    LLONG,
    LONG,
    SCHAR,
    SHORT,
    UCHAR,
    UINT,
    ULLONG,
    ULONG,
    USHORT,
    VOID,
    AlignedType,
    ArrayType,
    CType,
    Field,
    FuncType,
    IntType,
    PointerType,
    RecordType,
    VoidType,
    is_aggregate,
    layout,
    strip,
)
from .ctokens import CSyntaxError, Kind, Token, literal_bytes

# --- values ---------------------------------------------------------------------------------


class IntVal(NamedTuple):
    """An integer value and its C type (a named tuple: expressions make many)."""

    v: int
    t: IntType


@dataclass(frozen=True, slots=True)
class StrVal:
    """A string literal (its bytes, without the terminating NUL)."""

    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class Symbol:
    """An identifier with no value here: in an initialiser, the name of a function."""

    name: str


@dataclass(frozen=True, slots=True)
class Blob:
    """An object value (a compound literal): its type, bytes and pointers."""

    t: CType
    data: bytes
    ptrs: tuple[tuple[int, StrVal | Symbol], ...] = ()


Value = IntVal | StrVal | Symbol | Blob


@dataclass(slots=True)
class Image:
    """The bytes of one object being initialised, and the pointers stored in it."""

    buf: bytearray
    ptrs: dict[int, StrVal | Symbol] = field(default_factory=dict)

    def read_int(self, off: int, t: IntType) -> int:
        return t.wrap(int.from_bytes(self.buf[off : off + t.size], "little"))

    def read_ptr(self, off: int) -> StrVal | Symbol | int:
        if off in self.ptrs:
            return self.ptrs[off]
        return int.from_bytes(self.buf[off : off + 8], "little")


_UNSIGNED_OF = {INT: UINT, LONG: ULONG, LLONG: ULLONG}


def _promote(t: IntType) -> IntType:
    return INT if t.rank < INT.rank else t


def common_type(a: IntType, b: IntType) -> IntType:
    """C's usual arithmetic conversions, for LP64."""
    a, b = _promote(a), _promote(b)
    if a == b:
        return a
    if a.signed == b.signed:
        return a if a.rank >= b.rank else b
    u, s = (a, b) if not a.signed else (b, a)
    if u.rank >= s.rank:
        return u
    if s.size > u.size:
        return s
    return _UNSIGNED_OF.get(s, ULLONG)


def _c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def int_literal(tok: Token) -> IntVal:
    """An integer constant with the type C gives it (suffix, base and magnitude)."""
    text = tok.text.replace("'", "")
    body = text.rstrip("uUlL")
    suffix = text[len(body) :].lower()
    try:
        if body[:2] in ("0x", "0X"):
            v, decimal = int(body[2:], 16), False
        elif body[:2] in ("0b", "0B"):
            v, decimal = int(body[2:], 2), False
        elif len(body) > 1 and body[0] == "0":
            v, decimal = int(body, 8), False
        else:
            v, decimal = int(body, 10), True
    except ValueError:
        raise CSyntaxError(f"not an integer constant: {tok.text}", tok.line) from None
    unsigned = "u" in suffix
    longs = suffix.count("l")
    candidates: list[IntType]
    if longs >= 2:
        candidates = [ULLONG] if unsigned else ([LLONG] if decimal else [LLONG, ULLONG])
    elif longs == 1:
        candidates = [ULONG, ULLONG] if unsigned else (
            [LONG, LLONG] if decimal else [LONG, ULONG, LLONG, ULLONG]
        )  # fmt: skip
    elif unsigned:
        candidates = [UINT, ULONG, ULLONG]
    else:
        candidates = [INT, LONG, LLONG] if decimal else [INT, UINT, LONG, ULONG, LLONG, ULLONG]
    for t in candidates:
        if t.holds(v):
            return IntVal(v, t)
    return IntVal(ULLONG.wrap(v), ULLONG)


# --- scope ----------------------------------------------------------------------------------

_BASIC_TYPEDEFS: dict[str, CType] = {
    "__u8": UCHAR, "__s8": SCHAR, "__u16": USHORT, "__s16": SHORT,
    "__u32": UINT, "__s32": INT, "__u64": ULLONG, "__s64": LLONG,
    "__le16": USHORT, "__be16": USHORT, "__le32": UINT, "__be32": UINT,
    "__le64": ULLONG, "__be64": ULLONG, "__sum16": USHORT, "__wsum": UINT,
    "u8": UCHAR, "s8": SCHAR, "u16": USHORT, "s16": SHORT,
    "u32": UINT, "s32": INT, "u64": ULLONG, "s64": LLONG,
    "uint8_t": UCHAR, "int8_t": SCHAR, "uint16_t": USHORT, "int16_t": SHORT,
    "uint32_t": UINT, "int32_t": INT, "uint64_t": ULONG, "int64_t": LONG,
    "size_t": ULONG, "ssize_t": LONG, "uintptr_t": ULONG, "intptr_t": LONG,
    "__kernel_size_t": ULONG, "__kernel_long_t": LONG, "__kernel_ulong_t": ULONG,
    "bool": BOOL,
}  # fmt: skip
"""The fixed-width integer typedefs of the kernel's and libc's headers on x86-64."""

_TYPE_WORDS = frozenset(
    ("void", "char", "short", "int", "long", "signed", "unsigned", "_Bool", "float", "double",
     "__signed__", "__int128")
)  # fmt: skip
_QUALIFIERS = frozenset(
    ("const", "volatile", "restrict", "__restrict", "__restrict__", "__const", "__volatile__",
     "static", "extern", "inline", "__inline", "__inline__", "register", "auto", "__extension__",
     "__always_inline", "__user", "__force", "__iomem", "__rcu", "__percpu", "noinline",
     "__maybe_unused", "__attribute_const__", "_Noreturn")
)  # fmt: skip


@dataclass(slots=True)
class Scope:
    """What the declarations read so far define: types, tags and enumeration constants."""

    typedefs: dict[str, CType] = field(default_factory=lambda: dict(_BASIC_TYPEDEFS))
    records: dict[str, RecordType] = field(default_factory=dict)
    enums: dict[str, IntType] = field(default_factory=dict)
    constants: dict[str, IntVal] = field(default_factory=dict)
    enum_members: dict[str, list[str]] = field(default_factory=dict)
    """Each tagged enum's constants, in order."""
    errors: list[str] = field(default_factory=list)
    """Declarations that could not be read (and were skipped)."""
    literals: dict[tuple[object, ...], Blob] = field(default_factory=dict)
    """Compound literals already evaluated, by type and tokens (every instruction macro
    is one, and the same instructions recur throughout the selftests)."""

    def record(self, kind: str, tag: str) -> RecordType:
        key = f"{kind} {tag}"
        rec = self.records.get(key)
        if rec is None:
            rec = RecordType(kind, tag)
            self.records[key] = rec
        return rec

    def is_type_start(self, tok: Token) -> bool:
        if tok.kind is not Kind.IDENT:
            return False
        t = tok.text
        return (
            t in _TYPE_WORDS
            or t in ("struct", "union", "enum", "__attribute__", "typeof", "__typeof__")
            or (t in _QUALIFIERS and t not in ("static", "extern", "inline"))
            or t in self.typedefs
        )


@dataclass(frozen=True, slots=True)
class _Attrs:
    align: int = 0
    packed: bool = False

    def merge(self, other: _Attrs) -> _Attrs:
        return _Attrs(max(self.align, other.align), self.packed or other.packed)


def _apply(t: CType, attrs: _Attrs) -> CType:
    if attrs.align and attrs.align > t.align:
        return AlignedType(t, attrs.align)
    return t


# --- the parser -----------------------------------------------------------------------------

_BINARY: dict[str, int] = {
    "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6,
    "<": 7, ">": 7, "<=": 7, ">=": 7, "<<": 8, ">>": 8,
    "+": 9, "-": 9, "*": 10, "/": 10, "%": 10,
}  # fmt: skip


class Parser:
    """Declarations, expressions and initialisers over a list of (expanded) tokens."""

    def __init__(self, scope: Scope, toks: Sequence[Token]) -> None:
        self.scope = scope
        self.toks = toks
        self.pos = 0

    # --- tokens --------------------------------------------------------------------------

    def peek(self, k: int = 0) -> Token | None:
        i = self.pos + k
        return self.toks[i] if i < len(self.toks) else None

    def at(self, text: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t is not None and t.text == text and t.kind is not Kind.STRING

    def next(self) -> Token:
        t = self.peek()
        if t is None:
            last = self.toks[-1].line if self.toks else 0
            raise CSyntaxError("unexpected end of input", last)
        self.pos += 1
        return t

    def expect(self, text: str) -> Token:
        t = self.next()
        if t.text != text:
            raise CSyntaxError(f"expected {text!r}, found {t.text!r}", t.line)
        return t

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.pos += 1
            return True
        return False

    def ident(self) -> str:
        t = self.next()
        if t.kind is not Kind.IDENT:
            raise CSyntaxError(f"expected a name, found {t.text!r}", t.line)
        return t.text

    def done(self) -> bool:
        return self.pos >= len(self.toks)

    def skip_balanced(self) -> None:
        """Skip one token, or a whole bracketed group when it opens one."""
        pairs = {"(": ")", "[": "]", "{": "}"}
        t = self.next()
        if t.text not in pairs:
            return
        depth = [pairs[t.text]]
        while depth:
            t = self.next()
            if t.kind is Kind.PUNCT:
                if t.text in pairs:
                    depth.append(pairs[t.text])
                elif t.text == depth[-1]:
                    depth.pop()

    # --- declarations --------------------------------------------------------------------

    def translation_unit(self) -> None:
        """Read every declaration; ones that cannot be read are noted and skipped."""
        while not self.done():
            start = self.pos
            try:
                self._external()
            except CSyntaxError as exc:
                self.scope.errors.append(str(exc))
                self.pos = start
                self._skip_declaration()

    def _skip_declaration(self) -> None:
        """Skip to the end of a declaration: its ``;``, or a function body's ``}``."""
        after_parens = False
        while not self.done():
            t = self.peek()
            assert t is not None
            if t.text == ";":
                self.pos += 1
                return
            if t.text == "{" and after_parens:
                self.skip_balanced()
                return
            self.skip_balanced()
            after_parens = t.text == "("

    def _external(self) -> None:
        if self.accept(";"):
            return
        start = self.pos
        is_typedef, base, attrs = self.specifiers()
        if self.pos == start:
            raise CSyntaxError(f"not a declaration: {self.peek()!r}")
        if self.accept(";"):
            return
        if not is_typedef:
            self._skip_declaration()
            return
        while True:
            name, t, more = self.declarator(_apply(base, attrs))
            if name is None:
                raise CSyntaxError("typedef without a name")
            self.scope.typedefs[name] = _apply(t, more)
            if self.accept(","):
                continue
            self.expect(";")
            return

    def attributes(self) -> _Attrs:
        """``__attribute__((...))`` lists at this point: the alignment and packing asked."""
        attrs = _Attrs()
        while self.at("__attribute__") or self.at("__attribute"):
            self.next()
            self.expect("(")
            self.expect("(")
            while not self.at(")"):
                if self.accept(","):
                    continue
                name = self.ident().strip("_")
                if name == "packed":
                    attrs = attrs.merge(_Attrs(packed=True))
                elif name == "aligned":
                    if self.accept("("):
                        v = self.const_int()
                        self.expect(")")
                    else:
                        v = 16
                    attrs = attrs.merge(_Attrs(align=v))
                elif self.at("("):
                    self.skip_balanced()
            self.expect(")")
            self.expect(")")
        return attrs

    def specifiers(self) -> tuple[bool, CType, _Attrs]:
        """Declaration specifiers: (is a typedef, the type, attributes seen)."""
        is_typedef = False
        words: list[str] = []
        base: CType | None = None
        attrs = _Attrs()
        while True:
            t = self.peek()
            if t is None or t.kind is not Kind.IDENT:
                break
            w = t.text
            if w == "typedef":
                is_typedef = True
                self.next()
            elif w in _QUALIFIERS:
                self.next()
            elif w in ("__attribute__", "__attribute"):
                attrs = attrs.merge(self.attributes())
            elif w in _TYPE_WORDS:
                words.append(w)
                self.next()
            elif w in ("struct", "union"):
                base = self._record()
            elif w == "enum":
                base = self._enum()
            elif w in self.scope.typedefs and base is None and not words:
                base = self.scope.typedefs[w]
                self.next()
            else:
                break
        if base is None:
            if not words:
                if is_typedef or attrs != _Attrs():
                    raise CSyntaxError("declaration without a type")
                return is_typedef, INT, attrs
            base = _basic_type(words)
        elif words:
            raise CSyntaxError(f"{' '.join(words)} with a named type")
        return is_typedef, base, attrs

    def type_name(self) -> CType:
        """A type name, as in a cast or ``sizeof``: specifiers and an abstract declarator."""
        _, base, attrs = self.specifiers()
        name, t, more = self.declarator(_apply(base, attrs))
        if name is not None:
            raise CSyntaxError(f"unexpected name {name} in a type name")
        return _apply(t, more)

    def declarator(self, base: CType) -> tuple[str | None, CType, _Attrs]:
        """A (possibly abstract) declarator applied to ``base``: (name, type, attributes)."""
        t = base
        attrs = self.attributes()
        while self.accept("*"):
            t = PointerType(t)
            while self.peek() is not None and (
                self.peek().text in _QUALIFIERS  # type: ignore[union-attr]
                or self.at("__attribute__")
            ):
                if self.at("__attribute__"):
                    self.attributes()
                else:
                    self.next()
        if self.at("(") and (self.at("*", 1) or self.at("(", 1) or self.at("__attribute__", 1)):
            self.next()
            inner_start = self.pos
            depth = 1
            while depth:
                paren = self.next()
                if paren.text == "(":
                    depth += 1
                elif paren.text == ")":
                    depth -= 1
            inner = self.toks[inner_start : self.pos - 1]
            t = self._suffixes(t)
            sub = Parser(self.scope, inner)
            name, t, more = sub.declarator(t)
            return name, t, attrs.merge(more).merge(self.attributes())
        name = None
        tok = self.peek()
        if tok is not None and tok.kind is Kind.IDENT and tok.text not in ("__attribute__",):
            name = tok.text
            self.next()
        t = self._suffixes(t)
        return name, t, attrs.merge(self.attributes())

    def _suffixes(self, t: CType) -> CType:
        dims: list[int | None] = []
        func = False
        while True:
            if self.accept("["):
                if self.accept("]"):
                    dims.append(None)
                else:
                    dims.append(self.const_int())
                    self.expect("]")
            elif self.at("("):
                self.skip_balanced()
                func = True
            else:
                break
        if func:
            return FuncType()
        for d in reversed(dims):
            t = ArrayType(t, d)
        return t

    def _record(self) -> RecordType:
        kind = self.next().text
        attrs = self.attributes()
        tag = None
        tok = self.peek()
        if tok is not None and tok.kind is Kind.IDENT and tok.text != "__attribute__":
            tag = self.ident()
        attrs = attrs.merge(self.attributes())
        if not self.at("{"):
            if tag is None:
                raise CSyntaxError(f"{kind} without a tag or a body")
            return self.scope.record(kind, tag)
        rec = self.scope.record(kind, tag) if tag is not None else RecordType(kind, None)
        if rec.complete:  # a second definition (a header read twice): keep the first
            self.skip_balanced()
            self.attributes()
            return rec
        self.expect("{")
        members: list[tuple[str | None, CType, int | None]] = []
        try:
            while not self.accept("}"):
                members.extend(self._member_declaration())
        except CSyntaxError as exc:
            rec.error = str(exc)
            raise
        attrs = attrs.merge(self.attributes())
        fields, size, align = layout(kind, members, attrs.packed, attrs.align)
        rec.define(fields, size, align)
        return rec

    def _member_declaration(self) -> list[tuple[str | None, CType, int | None]]:
        _, base, attrs = self.specifiers()
        base = _apply(base, attrs)
        if self.accept(";"):  # an anonymous struct or union member
            if not isinstance(strip(base), RecordType):
                raise CSyntaxError("member without a name")
            return [(None, base, None)]
        out: list[tuple[str | None, CType, int | None]] = []
        while True:
            if self.at(":"):
                name, t, more = None, base, _Attrs()
            else:
                name, t, more = self.declarator(base)
            width = None
            if self.accept(":"):
                width = self.const_int()
                more = more.merge(self.attributes())
            if more.packed and width is None:
                t = AlignedType(t, 1) if t.align > 1 else t
            t = _apply(t, more)
            out.append((name, t, width))
            if self.accept(","):
                continue
            self.expect(";")
            return out

    def _enum(self) -> IntType:
        self.next()
        self.attributes()
        tag = None
        tok = self.peek()
        if tok is not None and tok.kind is Kind.IDENT:
            tag = self.ident()
        if not self.accept("{"):
            if tag is None:
                raise CSyntaxError("enum without a tag or a body")
            return self.scope.enums.get(tag, UINT)
        value = IntVal(-1, INT)
        names: list[str] = []
        values: list[int] = []
        while not self.accept("}"):
            name = self.ident()
            if self.accept("="):
                value = self.constant()
            else:
                value = _enum_value(value.v + 1)
            self.scope.constants[name] = _enum_value(value.v)
            names.append(name)
            values.append(value.v)
            if not self.accept(","):
                self.expect("}")
                break
        self.attributes()
        lo, hi = min(values, default=0), max(values, default=0)
        t = (
            (INT if lo >= -(1 << 31) and hi < (1 << 31) else LONG)
            if lo < 0
            else (UINT if hi < (1 << 32) else ULONG)
        )
        if tag is not None:
            self.scope.enums[tag] = t
            self.scope.enum_members[tag] = names
        return t

    # --- expressions ---------------------------------------------------------------------

    def const_int(self) -> int:
        return self.constant().v

    def constant(self) -> IntVal:
        v = self.expression()
        if not isinstance(v, IntVal):
            raise CSyntaxError(f"not an integer constant: {_describe(v)}", self._line())
        return v

    def _line(self) -> int:
        t = self.peek() or (self.toks[-1] if self.toks else None)
        return t.line if t is not None else 0

    def expression(self) -> Value:
        """A conditional expression (what an initialiser or array size may be)."""
        cond = self._binary(1)
        if not self.accept("?"):
            return cond
        a = self.expression()
        self.expect(":")
        b = self.expression()
        c = _as_int(cond, self._line())
        if isinstance(a, IntVal) and isinstance(b, IntVal):
            t = common_type(a.t, b.t)
            return IntVal(t.wrap((a if c.v else b).v), t)
        return a if c.v else b

    def _binary(self, min_prec: int) -> Value:
        left = self._unary()
        while True:
            tok = self.peek()
            if tok is None or tok.kind is not Kind.PUNCT:
                return left
            prec = _BINARY.get(tok.text)
            if prec is None or prec < min_prec:
                return left
            self.next()
            right = self._binary(prec + 1)
            left = _binop(tok.text, _as_int(left, tok.line), _as_int(right, tok.line), tok.line)

    def _unary(self) -> Value:
        tok = self.peek()
        if tok is None:
            raise CSyntaxError("expression expected", self._line())
        if tok.kind is Kind.PUNCT and tok.text in ("-", "+", "~", "!"):
            self.next()
            v = _as_int(self._unary(), tok.line)
            t = _promote(v.t)
            if tok.text == "-":
                return IntVal(t.wrap(-v.v), t)
            if tok.text == "~":
                return IntVal(t.wrap(~v.v), t)
            if tok.text == "!":
                return IntVal(0 if v.v else 1, INT)
            return IntVal(v.v, t)
        if tok.text == "sizeof" and tok.kind is Kind.IDENT:
            self.next()
            if self.at("(") and self._type_follows(1):
                self.next()
                size = self.type_name().size
                self.expect(")")
                return IntVal(size, ULONG)
            return IntVal(_size_of_value(self._unary(), tok.line), ULONG)
        if tok.text == "(" and self._type_follows(1):
            self.next()
            to = self.type_name()
            self.expect(")")
            if self.at("{"):
                return self.compound_literal(to)
            return _cast(self._unary(), to, tok.line)
        return self._primary()

    def _type_follows(self, k: int) -> bool:
        t = self.peek(k)
        return t is not None and self.scope.is_type_start(t)

    def _primary(self) -> Value:
        tok = self.next()
        if tok.kind is Kind.NUMBER:
            return int_literal(tok)
        if tok.kind is Kind.CHAR:
            raw = literal_bytes(tok)
            return IntVal(CHAR.wrap(raw[0]) if raw else 0, INT)
        if tok.kind is Kind.STRING:
            data = literal_bytes(tok)
            while self.peek() is not None and self.peek().kind is Kind.STRING:  # type: ignore[union-attr]
                data += literal_bytes(self.next())
            return StrVal(data)
        if tok.text == "(":
            v = self.expression()
            self.expect(")")
            return v
        if tok.kind is Kind.IDENT:
            if tok.text in ("offsetof", "__builtin_offsetof", "offsetofend"):
                return self._offsetof(end=tok.text == "offsetofend")
            c = self.scope.constants.get(tok.text)
            if c is not None:
                return c
            return Symbol(tok.text)
        raise CSyntaxError(f"unexpected {tok.text!r} in an expression", tok.line)

    def _offsetof(self, end: bool) -> IntVal:
        self.expect("(")
        t = self.type_name()
        self.expect(",")
        off, ft = self.member_designator(t)
        self.expect(")")
        return IntVal(off + (ft.size if end else 0), ULONG)

    def member_designator(self, t: CType) -> tuple[int, CType]:
        """``a.b[2].c`` within ``t``: the offset and the member's type."""
        off = 0
        first = True
        while True:
            if first or self.accept("."):
                name = self.ident()
                rec = strip(t)
                if not isinstance(rec, RecordType):
                    raise CSyntaxError(f"member {name} of a non-struct type", self._line())
                for f in rec.member(name):
                    off += f.offset
                    t = f.type
                first = False
            elif self.accept("["):
                idx = self.const_int()
                self.expect("]")
                arr = strip(t)
                if not isinstance(arr, ArrayType):
                    raise CSyntaxError("subscript of a non-array member", self._line())
                off += idx * arr.elem.size
                t = arr.elem
            else:
                return off, t

    # --- initialisers --------------------------------------------------------------------

    def compound_literal(self, t: CType) -> Blob:
        start = self.pos
        self.skip_balanced()
        key = (t, *(tok.text for tok in self.toks[start : self.pos]))
        got = self.scope.literals.get(key)
        if got is None:
            self.pos = start
            img = Image(bytearray(t.size))
            self.braced(t, 0, img)
            got = Blob(t, bytes(img.buf), tuple(sorted(img.ptrs.items())))
            self.scope.literals[key] = got
        return got

    def initializer(self, t: CType, off: int, img: Image, bits: Field | None = None) -> None:
        if self.at("{"):
            if bits is not None:
                raise CSyntaxError("braces around a bit-field initialiser", self._line())
            self.braced(t, off, img)
        else:
            line = self._line()
            store(t, off, img, self.expression(), bits, line)

    def braced(self, t: CType, off: int, img: Image) -> None:
        """A ``{ ... }`` initialiser for the object of type ``t`` at ``off``."""
        self.expect("{")
        s = strip(t)
        if isinstance(s, ArrayType):
            idx = 0
            while not self.accept("}"):
                if self.at("["):
                    idx, sub_t, sub_off, bits = self._designation(s, off)
                else:
                    sub_t, sub_off, bits = s.elem, off + idx * s.elem.size, None
                if s.count is not None and idx >= s.count:
                    raise CSyntaxError(f"too many initialisers for an array of {s.count}")
                self.initializer(sub_t, sub_off, img, bits)
                idx += 1
                if not self.accept(","):
                    self.expect("}")
                    break
        elif isinstance(s, RecordType):
            s.require_complete()
            cursor = 0
            while not self.accept("}"):
                if self.at("."):
                    cursor, sub_t, sub_off, bits = self._designation(s, off)
                else:
                    if cursor >= len(s.fields) or (s.kind == "union" and cursor > 0):
                        raise CSyntaxError(
                            f"too many initialisers for {s.kind} {s.tag}", self._line()
                        )
                    f = s.fields[cursor]
                    sub_t, sub_off = f.type, off + f.offset
                    bits = f if f.bit_width is not None else None
                self.initializer(sub_t, sub_off, img, bits)
                cursor += 1
                if not self.accept(","):
                    self.expect("}")
                    break
        else:
            self.initializer(t, off, img)
            self.accept(",")
            self.expect("}")

    def _designation(
        self, s: ArrayType | RecordType, off: int
    ) -> tuple[int, CType, int, Field | None]:
        """A designator list and ``=``: (the top-level index to continue after, the type,
        offset and bit-field of the designated object)."""
        top: int | None = None
        t: CType = s
        bits: Field | None = None
        while True:
            cur = strip(t)
            if self.accept("["):
                if not isinstance(cur, ArrayType):
                    raise CSyntaxError("array designator in a non-array", self._line())
                idx = self.const_int()
                self.expect("]")
                top = idx if top is None else top
                off += idx * cur.elem.size
                t, bits = cur.elem, None
            elif self.accept("."):
                name = self.ident()
                if not isinstance(cur, RecordType):
                    raise CSyntaxError(f"member designator .{name} in a non-struct", self._line())
                path = cur.member(name)
                if top is None:
                    top = cur.fields.index(path[0])
                for f in path:
                    off += f.offset
                    t = f.type
                last = path[-1]
                bits = last if last.bit_width is not None else None
            else:
                break
        self.expect("=")
        assert top is not None
        return top, t, off, bits


def _basic_type(words: list[str]) -> CType:
    n_long = words.count("long")
    unsigned = "unsigned" in words
    if "void" in words:
        return VOID
    if "_Bool" in words:
        return BOOL
    if "float" in words or "double" in words or "__int128" in words:
        raise CSyntaxError(f"unsupported type {' '.join(words)}")
    if "char" in words:
        return UCHAR if unsigned else (SCHAR if "signed" in words else CHAR)
    if "short" in words:
        return USHORT if unsigned else SHORT
    if n_long >= 2:
        return ULLONG if unsigned else LLONG
    if n_long == 1:
        return ULONG if unsigned else LONG
    return UINT if unsigned else INT


def _enum_value(v: int) -> IntVal:
    for t in (INT, UINT, LONG, ULONG):
        if t.holds(v):
            return IntVal(v, t)
    return IntVal(ULLONG.wrap(v), ULLONG)


def _describe(v: Value) -> str:
    if isinstance(v, Symbol):
        return f"unknown identifier {v.name}"
    if isinstance(v, StrVal):
        return f"string {v.text!r}"
    if isinstance(v, Blob):
        return "an object"
    return str(v.v)


def _as_int(v: Value, line: int) -> IntVal:
    if isinstance(v, IntVal):
        return v
    raise CSyntaxError(f"not an integer: {_describe(v)}", line)


def _binop(op: str, a: IntVal, b: IntVal, line: int) -> IntVal:
    if op in ("&&", "||"):
        r = (a.v and b.v) if op == "&&" else (a.v or b.v)
        return IntVal(1 if r else 0, INT)
    if op in ("<<", ">>"):
        t = _promote(a.t)
        n = b.v
        if n < 0 or n >= t.bits:
            raise CSyntaxError(f"shift by {n} of a {t.bits}-bit value", line)
        return IntVal(t.wrap(a.v << n if op == "<<" else a.v >> n), t)
    t = common_type(a.t, b.t)
    x, y = t.wrap(a.v), t.wrap(b.v)
    if op in ("==", "!=", "<", ">", "<=", ">="):
        r = {"==": x == y, "!=": x != y, "<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]
        return IntVal(1 if r else 0, INT)
    if op in ("/", "%"):
        if y == 0:
            raise CSyntaxError("division by zero in a constant", line)
        q = _c_div(x, y)
        return IntVal(t.wrap(q if op == "/" else x - y * q), t)
    ops: dict[str, Callable[[int, int], int]] = {
        "+": lambda p, q: p + q,
        "-": lambda p, q: p - q,
        "*": lambda p, q: p * q,
        "&": lambda p, q: p & q,
        "|": lambda p, q: p | q,
        "^": lambda p, q: p ^ q,
    }
    return IntVal(t.wrap(ops[op](x, y)), t)


def _cast(v: Value, t: CType, line: int) -> Value:
    s = strip(t)
    if isinstance(s, IntType):
        return IntVal(s.wrap(_as_int(v, line).v), s)
    if isinstance(s, PointerType):
        if isinstance(v, IntVal):
            return IntVal(ULONG.wrap(v.v), ULONG)
        return v
    if isinstance(s, VoidType):
        return IntVal(0, INT)
    raise CSyntaxError("cast to a non-scalar type", line)


def _size_of_value(v: Value, line: int) -> int:
    if isinstance(v, IntVal):
        return v.t.size
    if isinstance(v, StrVal):
        return len(v.data) + 1
    if isinstance(v, Blob):
        return v.t.size
    raise CSyntaxError(f"sizeof {_describe(v)}", line)


def store(t: CType, off: int, img: Image, v: Value, bits: Field | None, line: int) -> None:
    """Write value ``v`` into the object of type ``t`` at ``off``, as assignment would."""
    s = strip(t)
    if bits is not None:
        ft = strip(bits.type)
        assert isinstance(ft, IntType) and bits.bit_width is not None
        assert bits.bit_offset is not None
        mask = (1 << bits.bit_width) - 1
        unit = int.from_bytes(img.buf[off : off + ft.size], "little")
        unit &= ~(mask << bits.bit_offset)
        unit |= (_as_int(v, line).v & mask) << bits.bit_offset
        img.buf[off : off + ft.size] = unit.to_bytes(ft.size, "little")
        return
    if isinstance(s, IntType):
        raw = s.wrap(_as_int(v, line).v) & ((1 << s.bits) - 1)
        img.buf[off : off + s.size] = raw.to_bytes(s.size, "little")
        return
    if isinstance(s, PointerType):
        if isinstance(v, StrVal | Symbol):
            img.ptrs[off] = v
            img.buf[off : off + 8] = (1).to_bytes(8, "little")
        else:
            img.ptrs.pop(off, None)
            img.buf[off : off + 8] = ULONG.wrap(_as_int(v, line).v).to_bytes(
                8, "little", signed=False
            )
        return
    if isinstance(s, ArrayType) and isinstance(v, StrVal):
        elem = strip(s.elem)
        if not (isinstance(elem, IntType) and elem.size == 1):
            raise CSyntaxError("a string initialises only a char array", line)
        data = v.data + b"\0"
        n = len(data) if s.count is None else min(len(data), s.count)
        img.buf[off : off + n] = data[:n]
        return
    if isinstance(v, Blob) and is_aggregate(t) and v.t.size == t.size:
        img.buf[off : off + t.size] = v.data
        for p_off, p in v.ptrs:
            img.ptrs[off + p_off] = p
        return
    raise CSyntaxError(f"cannot initialise a {type(s).__name__} with {_describe(v)}", line)


def evaluate_if(toks: list[Token]) -> int:
    """The value of a ``#if`` expression (macros already expanded, names already 0)."""
    p = Parser(Scope(), toks)
    v = p.constant().v
    if not p.done():
        raise CSyntaxError(f"junk after #if expression: {p.peek()!r}", toks[0].line)
    return v
