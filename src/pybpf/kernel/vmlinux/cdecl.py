"""A small C declaration language: how pybpf writes down its kernel's types.

The simulated kernel's types are kept as C text (structs, unions, enums, typedefs and
function prototypes, the subset of C that headers use for them) because that is the
form a reader can hold beside a ``vmlinux.h`` and compare by eye.  This module turns
that text into a tree of frozen values; :mod:`.emit` lays the tree out and writes BTF.

Accepted: ``struct``/``union`` definitions (nested, anonymous or named), forward
declarations, ``enum`` definitions with explicit or implicit values, ``typedef`` (also
of an inline struct), member bitfields, arrays (``[N]`` and flexible ``[]``), pointers
with ``const``/``volatile``, pointers to functions, function prototypes with named or
unnamed parameters and ``...``, the qualifiers ``__rcu``/``__user``/``__percpu`` (as
BTF type tags) and ``__aligned(N)`` after a member or a closing brace.  Comments are
``//`` and ``/* */``.  Not accepted: expressions other than integers, initialisers,
``static``/``extern`` storage classes, K&R declarations.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

from ...errors import BpfError

# --------------------------------------------------------------------------- tree ---


@dataclass(frozen=True, slots=True)
class BaseType:
    """A C base type under its canonical BTF name (``long unsigned int``)."""

    name: str
    size: int
    signed: bool = False
    char: bool = False
    bool_: bool = False


@dataclass(frozen=True, slots=True)
class VoidType:
    pass


@dataclass(frozen=True, slots=True)
class TagRef:
    """``struct NAME`` / ``union NAME`` / ``enum NAME`` used without a body."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class TypedefRef:
    name: str


@dataclass(frozen=True, slots=True)
class Member:
    """A member; ``bits`` set for a bitfield (``name`` empty for padding bits)."""

    name: str
    type: CType
    bits: int | None = None
    align: int | None = None


@dataclass(frozen=True, slots=True)
class Aggregate:
    """A struct or union body (``name`` None when anonymous)."""

    union: bool
    name: str | None
    members: tuple[Member, ...]
    align: int | None = None


@dataclass(frozen=True, slots=True)
class EnumDef:
    name: str | None
    values: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Qualified:
    """``const``/``volatile``/``restrict`` or a type tag (``tag`` True) on a type."""

    qual: str
    target: CType
    tag: bool = False


@dataclass(frozen=True, slots=True)
class Pointer:
    target: CType


@dataclass(frozen=True, slots=True)
class ArrayOf:
    elem: CType
    nelems: int


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: CType


@dataclass(frozen=True, slots=True)
class FuncOf:
    ret: CType
    params: tuple[Param, ...]
    variadic: bool = False


CType: TypeAlias = (
    BaseType
    | VoidType
    | TagRef
    | TypedefRef
    | Aggregate
    | EnumDef
    | Qualified
    | Pointer
    | ArrayOf
    | FuncOf
)


@dataclass(frozen=True, slots=True)
class TypedefDecl:
    name: str
    type: CType


@dataclass(frozen=True, slots=True)
class TypeDecl:
    """A struct, union or enum definition standing alone (``struct x { ... };``)."""

    type: Aggregate | EnumDef


@dataclass(frozen=True, slots=True)
class ForwardDecl:
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class FuncDecl:
    name: str
    type: FuncOf


Decl = TypedefDecl | TypeDecl | ForwardDecl | FuncDecl

# ------------------------------------------------------------------------- tokens ---

_TOKEN = re.compile(
    r"-?0[xX][0-9a-fA-F]+[uUlL]*|-?\d+[uUlL]*|[A-Za-z_]\w*|\.\.\.|<<|//[^\n]*|/\*.*?\*/|\S",
    re.DOTALL,
)
_PUNCT = frozenset("{}()[];,*:=") | {"...", "<<"}

_BASE_WORDS = frozenset({"void", "char", "short", "int", "long", "signed", "unsigned", "_Bool"})
_QUALS = frozenset({"const", "volatile", "restrict"})
TYPE_TAGS = {"__rcu": "rcu", "__user": "user", "__percpu": "percpu"}
"""Qualifier words that become BTF type tags."""

_CANON: dict[tuple[str, ...], BaseType] = {}


def _canon(words: tuple[str, ...], t: BaseType) -> None:
    _CANON[tuple(sorted(words))] = t


for _w, _t in [
    (("char",), BaseType("char", 1, char=True)),
    (("signed", "char"), BaseType("signed char", 1, signed=True)),
    (("unsigned", "char"), BaseType("unsigned char", 1)),
    (("short",), BaseType("short int", 2, signed=True)),
    (("short", "int"), BaseType("short int", 2, signed=True)),
    (("signed", "short"), BaseType("short int", 2, signed=True)),
    (("unsigned", "short"), BaseType("short unsigned int", 2)),
    (("unsigned", "short", "int"), BaseType("short unsigned int", 2)),
    (("int",), BaseType("int", 4, signed=True)),
    (("signed",), BaseType("int", 4, signed=True)),
    (("signed", "int"), BaseType("int", 4, signed=True)),
    (("unsigned",), BaseType("unsigned int", 4)),
    (("unsigned", "int"), BaseType("unsigned int", 4)),
    (("long",), BaseType("long int", 8, signed=True)),
    (("long", "int"), BaseType("long int", 8, signed=True)),
    (("signed", "long"), BaseType("long int", 8, signed=True)),
    (("unsigned", "long"), BaseType("long unsigned int", 8)),
    (("unsigned", "long", "int"), BaseType("long unsigned int", 8)),
    (("long", "long"), BaseType("long long int", 8, signed=True)),
    (("long", "long", "int"), BaseType("long long int", 8, signed=True)),
    (("signed", "long", "long"), BaseType("long long int", 8, signed=True)),
    (("unsigned", "long", "long"), BaseType("long long unsigned int", 8)),
    (("unsigned", "long", "long", "int"), BaseType("long long unsigned int", 8)),
    (("_Bool",), BaseType("_Bool", 1, bool_=True)),
]:
    _canon(_w, _t)


class _Tok(NamedTuple):
    kind: str  # "num", "id", "p" (punctuation), "eof"
    text: str
    pos: int


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def tokenize(text: str, where: str = "<decls>") -> list[_Tok]:
    toks: list[_Tok] = []
    for m in _TOKEN.finditer(text):
        tok = m.group()
        c = tok[0]
        if c == "_" or c.isalpha():
            toks.append(_Tok("id", tok, m.start()))
        elif c.isdigit() or (c == "-" and len(tok) > 1):
            toks.append(_Tok("num", tok.rstrip("uUlL"), m.start()))
        elif tok in _PUNCT:
            toks.append(_Tok("p", tok, m.start()))
        elif not tok.startswith(("//", "/*")):
            raise BpfError(errno.EINVAL, f"{where}:{_line(text, m.start())}: unexpected {tok!r}")
    toks.append(_Tok("eof", "", len(text)))
    return toks


# ------------------------------------------------------------------------- parser ---


class _Parser:
    def __init__(self, text: str, where: str) -> None:
        self.toks = tokenize(text, where)
        self.text = text
        self.i = 0
        self.where = where
        self.typedefs: set[str] = set()

    # -- token helpers -----------------------------------------------------------------
    def peek(self, k: int = 0) -> _Tok:
        if k:
            return self.toks[min(self.i + k, len(self.toks) - 1)]
        return self.toks[self.i]

    def next(self) -> _Tok:
        t = self.toks[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def error(self, msg: str) -> BpfError:
        t = self.peek()
        got = t.text or "end of input"
        return BpfError(errno.EINVAL, f"{self.where}:{_line(self.text, t.pos)}: {msg} (at {got!r})")

    def accept(self, text: str) -> bool:
        t = self.toks[self.i]
        if t.text == text and t.kind != "num":
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            raise self.error(f"expected {text!r}")

    def ident(self) -> str:
        t = self.peek()
        if t.kind != "id":
            raise self.error("expected a name")
        self.i += 1
        return t.text

    def number(self) -> int:
        t = self.peek()
        if t.kind != "num":
            raise self.error("expected a number")
        self.i += 1
        value = int(t.text, 0)
        if self.accept("<<"):
            value <<= self.number()
        return value

    # -- declarations ------------------------------------------------------------------
    def parse(self) -> list[Decl]:
        out: list[Decl] = []
        while self.peek().kind != "eof":
            out.extend(self.declaration())
        return out

    def declaration(self) -> list[Decl]:
        if self.accept("typedef"):
            base = self.specifiers()
            decls: list[Decl] = []
            while True:
                name, t = self.declarator(base)
                if not name:
                    raise self.error("typedef without a name")
                self.typedefs.add(name)
                decls.append(TypedefDecl(name, t))
                if not self.accept(","):
                    break
            self.expect(";")
            return decls
        start = self.i
        base = self.specifiers()
        if self.accept(";"):
            if isinstance(base, EnumDef) or (isinstance(base, Aggregate) and base.name):
                return [TypeDecl(base)]
            if isinstance(base, TagRef) and base.kind != "enum":
                return [ForwardDecl(base.kind, base.name)]
            self.i = start
            raise self.error("declaration declares nothing")
        name, t = self.declarator(base)
        if not isinstance(t, FuncOf) or not name:
            raise self.error("only types and function prototypes can be declared")
        self.expect(";")
        lead: list[Decl] = (
            [TypeDecl(base)] if isinstance(base, Aggregate | EnumDef) and base.name else []
        )
        return [*lead, FuncDecl(name, t)]

    def specifiers(self) -> CType:
        """Qualifiers and one type specifier (base words, tag, typedef name or body)."""
        quals: list[str] = []
        tags: list[str] = []
        words: list[str] = []
        spec: CType | None = None
        while True:
            t = self.peek()
            if t.kind != "id":
                break
            if t.text in _QUALS:
                quals.append(t.text)
            elif t.text in TYPE_TAGS:
                tags.append(TYPE_TAGS[t.text])
            elif t.text in _BASE_WORDS and spec is None:
                words.append(t.text)
            elif t.text in ("struct", "union", "enum") and spec is None and not words:
                self.i += 1
                spec = self.tagged(t.text)
                continue
            elif t.text in self.typedefs and spec is None and not words:
                spec = TypedefRef(t.text)
            else:
                break
            self.i += 1
        if words:
            if words == ["void"]:
                spec = VoidType()
            else:
                key = tuple(sorted(words))
                if key not in _CANON:
                    raise self.error(f"unknown base type {' '.join(words)!r}")
                spec = _CANON[key]
        if spec is None:
            raise self.error("expected a type")
        return self._qualify(spec, quals, tags)

    @staticmethod
    def _qualify(t: CType, quals: list[str], tags: list[str]) -> CType:
        for q in quals:
            t = Qualified(q, t)
        for tag in tags:  # type tags go outermost: the kernel wants them first in a chain
            t = Qualified(tag, t, tag=True)
        return t

    def tagged(self, kind: str) -> CType:
        name = self.ident() if self.peek().kind == "id" and self.peek().text != "{" else None
        if not self.accept("{"):
            if name is None:
                raise self.error(f"{kind} without a name or a body")
            return TagRef(kind, name)
        if kind == "enum":
            return EnumDef(name, self.enum_body())
        members: list[Member] = []
        while not self.accept("}"):
            members.extend(self.member_line())
        align = self.aligned()
        return Aggregate(kind == "union", name, tuple(members), align)

    def enum_body(self) -> tuple[tuple[str, int], ...]:
        values: list[tuple[str, int]] = []
        nxt = 0
        while not self.accept("}"):
            name = self.ident()
            if self.accept("="):
                nxt = self.number()
            values.append((name, nxt))
            nxt += 1
            if not self.accept(","):
                self.expect("}")
                break
        return tuple(values)

    def aligned(self) -> int | None:
        if not self.accept("__aligned"):
            return None
        self.expect("(")
        n = self.number()
        self.expect(")")
        return n

    def member_line(self) -> list[Member]:
        base = self.specifiers()
        if self.accept(";"):  # an anonymous struct/union member
            if not isinstance(base, Aggregate) or base.name is not None:
                raise self.error("a member needs a name")
            return [Member("", base)]
        out: list[Member] = []
        while True:
            if self.accept(":"):  # unnamed bits: padding
                out.append(Member("", base, bits=self.number()))
            else:
                name, t = self.declarator(base)
                if not name:
                    raise self.error("a member needs a name")
                bits = self.number() if self.accept(":") else None
                out.append(Member(name, t, bits, self.aligned()))
            if not self.accept(","):
                break
        self.expect(";")
        return out

    # -- declarators -------------------------------------------------------------------
    def declarator(self, base: CType) -> tuple[str, CType]:
        """A (possibly abstract) declarator applied to ``base``: its name and type."""
        ptrs: list[list[str]] = []
        while self.accept("*"):
            quals: list[str] = []
            while self.peek().text in _QUALS:
                quals.append(self.next().text)
            ptrs.append(quals)
        t = base
        for quals in ptrs:
            t = self._qualify(Pointer(t), quals, [])
        if self.peek().text == "(" and self.peek(1).text == "*":
            self.expect("(")
            start = self.i
            depth = 1
            while depth:  # skip the inner declarator; it applies after our suffixes
                tok = self.next()
                if tok.kind == "eof":
                    raise self.error("unbalanced parentheses")
                depth += {"(": 1, ")": -1}.get(tok.text, 0) if tok.kind == "p" else 0
            end = self.i
            t = self.suffixes(t)
            after = self.i
            self.i = start
            name, t = self.declarator(t)
            if self.i != end - 1:
                raise self.error("unsupported declarator")
            self.i = after
            return name, t
        name = ""
        if self.peek().kind == "id" and self.peek().text not in _QUALS:
            name = self.ident()
        return name, self.suffixes(t)

    def suffixes(self, t: CType) -> CType:
        dims: list[int] = []
        while self.accept("["):
            dims.append(0 if self.peek().text == "]" else self.number())
            self.expect("]")
        if dims:
            for n in reversed(dims):
                t = ArrayOf(t, n)
            return t
        if self.accept("("):
            return self.params(t)
        return t

    def params(self, ret: CType) -> FuncOf:
        ps: list[Param] = []
        variadic = False
        if self.peek().text == "void" and self.peek(1).text == ")":
            self.i += 1
        while not self.accept(")"):
            if self.accept("..."):
                variadic = True
                self.expect(")")
                break
            base = self.specifiers()
            name, t = self.declarator(base)
            if isinstance(t, ArrayOf):  # a parameter array is a pointer
                t = Pointer(t.elem)
            ps.append(Param(name, t))
            if not self.accept(","):
                self.expect(")")
                break
        return FuncOf(ret, tuple(ps), variadic)


def parse_decls(text: str, where: str = "<decls>", typedefs: set[str] | None = None) -> list[Decl]:
    """The declarations in ``text``; ``typedefs`` names typedefs declared elsewhere before
    (it is updated with this text's own)."""
    p = _Parser(text, where)
    if typedefs is not None:
        p.typedefs = typedefs
    return p.parse()
