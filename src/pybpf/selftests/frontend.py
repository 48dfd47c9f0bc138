"""The headers and ``test_verifier.c`` read as one translation unit, ready for the tests.

The selftest files are fragments of ``test_verifier.c``'s test table; they use its macros
and types and those of the headers it includes.  :func:`translate` reads those files in
include order into one preprocessor and one scope, which then read each test file.
"""

from __future__ import annotations

import errno as _errno
from dataclasses import dataclass

from .cparse import Parser, Scope, evaluate_if
from .cpp import Preprocessor
from .ctokens import Token
from .source import KernelSource

_LIMITS = (
    "CHAR_BIT 8",
    "SCHAR_MAX 127", "SCHAR_MIN (-128)", "UCHAR_MAX 255",
    "SHRT_MAX 32767", "SHRT_MIN (-32768)", "USHRT_MAX 65535",
    "INT_MAX 2147483647", "INT_MIN (-INT_MAX - 1)", "UINT_MAX 4294967295U",
    "LONG_MAX 9223372036854775807L", "LONG_MIN (-LONG_MAX - 1L)",
    "ULONG_MAX 18446744073709551615UL",
    "LLONG_MAX 9223372036854775807LL", "LLONG_MIN (-LLONG_MAX - 1LL)",
    "ULLONG_MAX 18446744073709551615ULL",
    "U8_MAX ((u8)~0U)", "S8_MAX ((s8)(U8_MAX >> 1))", "S8_MIN ((s8)(-S8_MAX - 1))",
    "U16_MAX ((u16)~0U)", "S16_MAX ((s16)(U16_MAX >> 1))", "S16_MIN ((s16)(-S16_MAX - 1))",
    "U32_MAX ((u32)~0U)", "S32_MAX ((s32)(U32_MAX >> 1))", "S32_MIN ((s32)(-S32_MAX - 1))",
    "U64_MAX ((u64)~0ULL)", "S64_MAX ((s64)(U64_MAX >> 1))", "S64_MIN ((s64)(-S64_MAX - 1))",
)  # fmt: skip
"""limits.h and the kernel's fixed-width limits, for LP64."""

PREDEFINED: tuple[str, ...] = (
    "__x86_64__ 1",
    "__x86_64 1",
    "__LP64__ 1",
    "__linux__ 1",
    "__CHAR_BIT__ 8",
    "__SIZEOF_LONG__ 8",
    "__SIZEOF_POINTER__ 8",
    "__ORDER_LITTLE_ENDIAN__ 1234",
    "__ORDER_BIG_ENDIAN__ 4321",
    "__BYTE_ORDER__ __ORDER_LITTLE_ENDIAN__",
    "__aligned_u64 __u64 __attribute__((aligned(8)))",
    "__aligned_be64 __be64 __attribute__((aligned(8)))",
    "__aligned_le64 __le64 __attribute__((aligned(8)))",
    "NULL ((void *)0)",
    "true 1",
    "false 0",
    "offsetofend offsetofend",  # the parser's own builtin; keeps bpf_util.h's version out
    "ENOTSUPP 524",
    *_LIMITS,
    *(f"{name} {num}" for num, name in sorted(_errno.errorcode.items())),
)
"""What the compiler and libc headers would define for an x86-64 Linux build."""

_READ_ORDER: tuple[tuple[str, bool], ...] = (
    ("bpf_common.h", False),
    ("bpf.h", True),
    ("ptrace.h", True),
    ("asm-generic/bpf_perf_event.h", True),
    ("bpf_perf_event.h", True),
    ("btf.h", True),
    ("if_ether.h", False),
    ("filter.h", False),
    ("bpf_util.h", False),
    ("test_btf.h", False),
    ("test_verifier.c", True),
)
"""Files in include order, and whether their declarations (not only macros) are read."""


@dataclass(slots=True)
class Translation:
    cpp: Preprocessor
    scope: Scope
    headers: tuple[str, ...]
    """The paths read, in order."""

    def tokens(self, text: str) -> list[Token]:
        """A test file, preprocessed with everything read so far."""
        return self.cpp.run(text)

    def parser(self, toks: list[Token]) -> Parser:
        return Parser(self.scope, toks)


def translate(source: KernelSource) -> Translation:
    cpp = Preprocessor(evaluate_if, PREDEFINED)
    scope = Scope()
    read: list[str] = []
    for short, declarations in _READ_ORDER:
        got = source.header(short)
        if got is None:
            continue
        path, text = got
        read.append(path)
        toks = cpp.run(text, keep=declarations)
        if declarations:
            Parser(scope, toks).translation_unit()
    return Translation(cpp, scope, tuple(read))
