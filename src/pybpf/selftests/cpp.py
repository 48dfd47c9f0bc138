"""A C preprocessor for kernel headers and selftest files: macros and conditionals.

``#include`` is not followed: the caller feeds the files it wants, in order, to one
:class:`Preprocessor`, which is what a translation unit of them would see.  Expansion
follows the standard's rescanning rules with hide sets, so self-referencing macros,
``#`` stringification and ``##`` pasting come out as a compiler's would.  Text between
directives is expanded as one run, which is exact unless a macro call straddles a
directive (nothing the kernel writes does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .ctokens import CSyntaxError, Kind, Token, strip_comments, tokenize_line

IfEvaluator = Callable[[list[Token]], int]


@dataclass(frozen=True, slots=True)
class Macro:
    name: str
    params: tuple[str, ...] | None
    """None for an object-like macro; the parameter names (``__VA_ARGS__`` last when
    variadic) for a function-like one."""
    variadic: bool
    body: tuple[Token, ...]


@dataclass(slots=True)
class _Cond:
    active: bool
    """This branch's text is compiled."""
    taken: bool
    """Some branch of this #if chain was already taken."""
    outer: bool
    """The enclosing text is compiled."""


def _one(text: str, line: int = 0) -> Token:
    toks = tokenize_line(text, line)
    if len(toks) != 1:
        raise CSyntaxError(f"pasting makes {text!r}, not one token", line)
    return toks[0]


class Preprocessor:
    """Macro definitions shared by every file run through it, in order."""

    def __init__(self, if_evaluator: IfEvaluator, predefined: Iterable[str] = ()) -> None:
        self.macros: dict[str, Macro] = {}
        self._evaluate_if = if_evaluator
        self._memo: dict[tuple[object, ...], list[Token]] = {}
        """Complete expansions of macro calls, by macro, arguments and hide set: the
        selftests write the same instruction macros thousands of times."""
        for line in predefined:
            self._define(tokenize_line(line))

    # --- definitions ---------------------------------------------------------------------

    def define(self, text: str) -> None:
        """Define a macro from the text after ``#define``."""
        self._define(tokenize_line(text))

    def _define(self, toks: list[Token]) -> None:
        if not toks or toks[0].kind is not Kind.IDENT:
            raise CSyntaxError("#define without a name", toks[0].line if toks else 0)
        name = toks[0].text
        rest = toks[1:]
        params: tuple[str, ...] | None = None
        variadic = False
        if rest and rest[0].text == "(" and not rest[0].space:
            names: list[str] = []
            i = 1
            while i < len(rest) and rest[i].text != ")":
                t = rest[i]
                if t.text == "...":
                    variadic = True
                    names.append("__VA_ARGS__")
                elif t.kind is Kind.IDENT:
                    if i + 1 < len(rest) and rest[i + 1].text == "...":
                        variadic = True
                        i += 1
                    names.append(t.text)
                elif t.text != ",":
                    raise CSyntaxError(f"bad parameter list of {name}", t.line)
                i += 1
            if i >= len(rest):
                raise CSyntaxError(f"unterminated parameter list of {name}", toks[0].line)
            params = tuple(names)
            rest = rest[i + 1 :]
        if rest:
            rest[0] = rest[0].with_space(False)
        self.macros[name] = Macro(name, params, variadic, tuple(rest))
        self._memo.clear()

    # --- files ---------------------------------------------------------------------------

    def run(self, text: str, *, keep: bool = True) -> list[Token]:
        """Process one file; returns its expanded text (empty when ``keep`` is false)."""
        out: list[Token] = []
        pending: list[Token] = []
        stack: list[_Cond] = []

        def active() -> bool:
            return not stack or stack[-1].active

        def flush() -> None:
            if pending and keep:
                out.extend(self.expand(pending))
            pending.clear()

        for lineno, line in enumerate(strip_comments(text).split("\n"), 1):
            stripped = line.lstrip()
            if not stripped.startswith("#"):
                if active() and keep and stripped:
                    toks = tokenize_line(line, lineno)
                    if toks and pending:
                        toks[0] = toks[0].with_space(True)
                    pending.extend(toks)
                continue
            flush()
            toks = tokenize_line(stripped[1:], lineno)
            if not toks:
                continue
            word, args = toks[0].text, toks[1:]
            if word in ("if", "ifdef", "ifndef"):
                outer = active()
                if not outer:
                    cond = False
                elif word == "if":
                    cond = self._if(args)
                else:
                    if not args or args[0].kind is not Kind.IDENT:
                        raise CSyntaxError(f"#{word} without a name", lineno)
                    cond = (args[0].text in self.macros) == (word == "ifdef")
                stack.append(_Cond(outer and cond, cond, outer))
            elif word in ("elif", "else"):
                if not stack:
                    raise CSyntaxError(f"#{word} without #if", lineno)
                top = stack[-1]
                if top.taken or not top.outer:
                    top.active = False
                else:
                    cond = True if word == "else" else self._if(args)
                    top.active = cond
                    top.taken = cond
            elif word == "endif":
                if not stack:
                    raise CSyntaxError("#endif without #if", lineno)
                stack.pop()
            elif not active():
                continue
            elif word == "define":
                self._define(args)
            elif word == "undef" and args:
                self.macros.pop(args[0].text, None)
                self._memo.clear()
            # include, pragma, error, warning, line: nothing to do here
        flush()
        if stack:
            raise CSyntaxError("unterminated #if")
        return out

    def _if(self, toks: list[Token]) -> bool:
        resolved: list[Token] = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.text == "defined":
                if i + 1 < len(toks) and toks[i + 1].text == "(":
                    name, i = toks[i + 2].text, i + 4
                else:
                    name, i = toks[i + 1].text, i + 2
                resolved.append(Token(Kind.NUMBER, "1" if name in self.macros else "0", True))
                continue
            resolved.append(t)
            i += 1
        expanded = [
            Token(Kind.NUMBER, "0", t.space, t.line) if t.kind is Kind.IDENT else t
            for t in self.expand(resolved)
        ]
        return self._evaluate_if(expanded) != 0

    # --- expansion -----------------------------------------------------------------------

    def expand(self, tokens: Sequence[Token]) -> list[Token]:
        """Tokens with every macro expanded (rescanned until nothing expands)."""
        out: list[Token] = []
        stack = list(reversed(tokens))
        macros = self.macros
        while stack:
            t = stack.pop()
            if t.kind is not Kind.IDENT or t.text in t.hide:
                out.append(t)
                continue
            m = macros.get(t.text)
            if m is None:
                out.append(t)
                continue
            if m.params is None:
                args: list[list[Token]] = []
                hide = t.hide | {m.name}
            else:
                if not stack or stack[-1].text != "(":
                    out.append(t)
                    continue
                args, rparen = self._collect_args(m, stack, t)
                hide = (t.hide & rparen.hide) | {m.name}
            key = (m.name, hide, *(tuple((a.text, a.space, a.hide) for a in arg) for arg in args))
            done = self._memo.get(key)
            if done is None:
                repl = self._substitute(m, args, hide, t)
                done = self._expand_alone(repl)
                if done is None:  # the expansion may reach past the call: rescan in place
                    stack.extend(reversed(repl))
                    continue
                self._memo[key] = done
            if done:
                out.append(done[0].with_space(t.space))
                out.extend(done[1:])
        return out

    def _expand_alone(self, repl: list[Token]) -> list[Token] | None:
        """A replacement list rescanned on its own, or None when its end names a
        function-like macro whose arguments would come from the text after the call."""
        try:
            done = self.expand(repl)
        except CSyntaxError:  # a call left open, to be closed by the following text
            return None
        if done:
            last = done[-1]
            m = self.macros.get(last.text) if last.kind is Kind.IDENT else None
            if m is not None and m.params is not None and last.text not in last.hide:
                return None
        return done

    @staticmethod
    def _collect_args(m: Macro, stack: list[Token], at: Token) -> tuple[list[list[Token]], Token]:
        stack.pop()  # "("
        args: list[list[Token]] = [[]]
        depth = 0
        while stack:
            t = stack.pop()
            if t.text == "(":
                depth += 1
            elif t.text == ")":
                if depth == 0:
                    break
                depth -= 1
            elif t.text == "," and depth == 0:
                args.append([])
                continue
            args[-1].append(t)
        else:
            raise CSyntaxError(f"unterminated call of macro {m.name}", at.line)
        assert m.params is not None
        n = len(m.params)
        if m.variadic and len(args) > n:
            head, tail = args[: n - 1], args[n - 1 :]
            joined: list[Token] = []
            for j, a in enumerate(tail):
                if j:
                    joined.append(Token(Kind.PUNCT, ",", False, at.line))
                joined.extend(a)
            args = [*head, joined]
        if n == 0 and args == [[]]:
            args = []
        if len(args) != n and not (m.variadic and len(args) == n - 1):
            raise CSyntaxError(f"macro {m.name} takes {n} arguments, got {len(args)}", at.line)
        while len(args) < n:
            args.append([])
        return args, t

    def _substitute(
        self, m: Macro, args: list[list[Token]], hide: frozenset[str], at: Token
    ) -> list[Token]:
        params = m.params or ()
        index = {p: i for i, p in enumerate(params)}
        expanded: dict[int, list[Token]] = {}
        body = m.body
        out: list[Token] = []
        i = 0
        while i < len(body):
            b = body[i]
            if b.text == "#" and params and i + 1 < len(body) and body[i + 1].text in index:
                arg = args[index[body[i + 1].text]]
                out.append(Token(Kind.STRING, _stringize(arg), b.space, at.line))
                i += 2
                continue
            if b.text == "##" and i + 1 < len(body):
                nxt = body[i + 1]
                rhs = args[index[nxt.text]] if nxt.text in index else [nxt]
                if rhs:
                    if out:
                        left = out.pop()
                        pasted = _one(left.text + rhs[0].text, at.line)
                        out.append(pasted.with_space(left.space))
                        out.extend(rhs[1:])
                    else:
                        out.extend(rhs)
                i += 2
                continue
            if b.kind is Kind.IDENT and b.text in index:
                k = index[b.text]
                if i + 1 < len(body) and body[i + 1].text == "##":
                    repl = args[k]
                else:
                    if k not in expanded:
                        expanded[k] = self.expand(args[k])
                    repl = expanded[k]
                if repl:
                    out.append(repl[0].with_space(b.space))
                    out.extend(repl[1:])
                i += 1
                continue
            out.append(b)
            i += 1
        result = [t.with_hide(hide) for t in out]
        if result:
            result[0] = result[0].with_space(at.space)
        return result


def _stringize(arg: Sequence[Token]) -> str:
    parts: list[str] = []
    for j, t in enumerate(arg):
        if j and t.space:
            parts.append(" ")
        text = t.text
        if t.kind in (Kind.STRING, Kind.CHAR):
            text = text.replace("\\", "\\\\").replace('"', '\\"')
        parts.append(text)
    return '"' + "".join(parts) + '"'
