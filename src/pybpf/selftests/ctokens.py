"""C tokens: enough of the C lexer to read kernel headers and selftest initialisers.

Comments go first (a comment is whitespace to C), then lines are split into tokens.  Each
token remembers whether whitespace came before it, because stringification (``#x``)
puts exactly one space where the source had any, and the macros it came through, so
that an expansion never expands its own name again (the C standard's "hide set").
"""

from __future__ import annotations

import enum
import re
from typing import NamedTuple

from ..errors import BpfError


class Kind(enum.Enum):
    IDENT = "ident"
    NUMBER = "number"
    STRING = "string"
    CHAR = "char"
    PUNCT = "punct"


_NO_HIDE: frozenset[str] = frozenset()


class Token(NamedTuple):
    """One token (a named tuple rather than a dataclass: macro expansion makes millions)."""

    kind: Kind
    text: str
    space: bool = False
    """Whitespace (or a comment) came right before this token."""
    line: int = 0
    hide: frozenset[str] = _NO_HIDE
    """Macros this token already came out of: they do not expand it again."""

    def with_hide(self, names: frozenset[str]) -> Token:
        if not names or names <= self.hide:
            return self
        return Token(self.kind, self.text, self.space, self.line, self.hide | names)

    def with_space(self, space: bool) -> Token:
        if space == self.space:
            return self
        return Token(self.kind, self.text, space, self.line, self.hide)


class CSyntaxError(BpfError):
    """Source the converter cannot read; the message names the line."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(22, f"line {line}: {message}" if line else message)


_PUNCTUATORS = sorted(
    ("...", "<<=", ">>=", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||",
     "*=", "/=", "%=", "+=", "-=", "&=", "^=", "|=", "##", "#", "[", "]", "(", ")", "{", "}",
     ".", "&", "*", "+", "-", "~", "!", "/", "%", "<", ">", "^", "|", "?", ":", ";", "=", ",",
     "\\"),
    key=len,
    reverse=True,
)  # fmt: skip
_TOKEN = re.compile(
    r"""(?P<ws>[ \t\f\v\r]+)
    |(?P<ident>[A-Za-z_$][A-Za-z_0-9$]*)
    |(?P<number>\.?[0-9](?:[eEpP][+-]|[A-Za-z_0-9.])*)
    |(?P<string>(?:L|u8|u|U)?"(?:\\.|[^"\\\n])*")
    |(?P<char>(?:L|u|U)?'(?:\\.|[^'\\\n])*')
    |(?P<punct>"""
    + "|".join(re.escape(p) for p in _PUNCTUATORS)
    + r""")""",
    re.VERBOSE,
)
# A string or character literal, or a comment: scanned together so that "/*" inside a
# string is not a comment and a quote inside a comment is not a string.
_COMMENT_OR_LITERAL = re.compile(
    r"""/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'""", re.DOTALL
)


_KINDS = {k.value: k for k in Kind}


def strip_comments(text: str) -> str:
    """The text with line continuations joined and comments turned into whitespace.

    A block comment keeps its newlines (so line numbers stay right) unless it sits on a
    directive line, where C would continue the directive past them; those are rare
    enough in headers that joining is the better error.
    """
    text = text.replace("\\\r\n", "").replace("\\\n", "")

    def repl(m: re.Match[str]) -> str:
        s = m.group(0)
        if s.startswith("/*"):
            return " " + "\n" * s.count("\n") if "\n" in s else " "
        if s.startswith("//"):
            return " "
        return s

    return _COMMENT_OR_LITERAL.sub(repl, text)


def tokenize_line(text: str, line: int = 0) -> list[Token]:
    """The tokens of one logical line (comments already stripped)."""
    out: list[Token] = []
    pos = 0
    space = False
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise CSyntaxError(f"unexpected character {text[pos]!r}", line)
        kind = m.lastgroup
        pos = m.end()
        if kind == "ws":
            space = True
            continue
        out.append(Token(_KINDS[kind or ""], m.group(0), space, line))
        space = False
    return out


def tokenize(text: str) -> list[Token]:
    """All tokens of a piece of source without directives (comments allowed)."""
    out: list[Token] = []
    for i, line in enumerate(strip_comments(text).split("\n"), 1):
        toks = tokenize_line(line, i)
        if toks and out:
            toks[0] = toks[0].with_space(True)
        out.extend(toks)
    return out


_ESCAPES = {
    "n": 10, "t": 9, "r": 13, "0": 0, "a": 7, "b": 8, "f": 12, "v": 11,
    "\\": 92, "'": 39, '"': 34, "?": 63, "e": 27,
}  # fmt: skip


def literal_bytes(tok: Token) -> bytes:
    """The bytes a string or character literal stands for (without a terminating NUL)."""
    text = tok.text
    quote = text.index('"' if tok.kind is Kind.STRING else "'")
    body = text[quote + 1 : -1]
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        i += 1
        if i >= len(body):
            raise CSyntaxError(f"bad escape in {text}", tok.line)
        c = body[i]
        if c == "x":
            j = i + 1
            while j < len(body) and body[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(body[i + 1 : j], 16) & 0xFF)
            i = j
        elif c in "01234567":
            j = i
            while j < len(body) and j < i + 3 and body[j] in "01234567":
                j += 1
            out.append(int(body[i:j], 8) & 0xFF)
            i = j
        elif c in _ESCAPES:
            out.append(_ESCAPES[c])
            i += 1
        else:
            raise CSyntaxError(f"unknown escape \\{c} in {text}", tok.line)
    return bytes(out)
