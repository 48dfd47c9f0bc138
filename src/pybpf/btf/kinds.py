"""BTF's numbers: kinds, encodings, linkages and the limits of the format (uapi btf.h)."""

from __future__ import annotations

import enum

MAGIC = 0xEB9F
VERSION = 1
HEADER_SIZE = 24
MAX_TYPE = 0x000FFFFF
MAX_NAME_OFFSET = 0x00FFFFFF
MAX_VLEN = 0xFFFF
MAX_SIZE = 16 * 1024 * 1024
"""The largest blob BPF_BTF_LOAD takes."""


class Kind(enum.IntEnum):
    """The kind of a type record: bits 24..28 of its ``info`` word."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19

    @property
    def label(self) -> str:
        """The name the kernel and bpftool print (``UNKNOWN`` for kind 0)."""
        return "UNKNOWN" if self is Kind.UNKN else self.name


KIND_MAX = max(Kind)


class IntEncoding(enum.IntFlag):
    """The encoding bits of an INT (the kernel accepts at most one of them)."""

    NONE = 0
    SIGNED = 1
    CHAR = 2
    BOOL = 4


def int_encoding_label(encoding: int) -> str:
    """How the kernel's log and bpftool name an INT encoding."""
    return {0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}.get(encoding, "UNKN")


class FuncLinkage(enum.IntEnum):
    """A FUNC's linkage, stored in its ``vlen`` bits."""

    STATIC = 0
    GLOBAL = 1
    EXTERN = 2


class VarLinkage(enum.IntEnum):
    """A VAR's linkage word."""

    STATIC = 0
    GLOBAL_ALLOCATED = 1
    GLOBAL_EXTERN = 2


def func_linkage_label(linkage: int) -> str:
    return {0: "static", 1: "global", 2: "extern"}.get(linkage, "(unknown)")


def var_linkage_label(linkage: int) -> str:
    return {0: "static", 1: "global", 2: "extern"}.get(linkage, "(unknown)")


MODIFIER_KINDS = frozenset(
    {Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG}
)
"""Kinds that refer to one other type and take their size from it (the kernel's grouping)."""

QUALIFIER_KINDS = frozenset({Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG})
"""Modifiers other than typedef."""

# Words that follow the common 12-byte header of a record: a fixed part and a part
# repeated vlen times.  Indexed by kind; unknown kinds have none.
FIXED_WORDS = (0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0)
VLEN_WORDS = (0, 0, 0, 0, 3, 3, 2, 0, 0, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 3)


def record_words(kind: int, vlen: int) -> int:
    """How many 32-bit words a record of this kind and vlen takes, header included."""
    if kind > KIND_MAX:
        return 3
    return 3 + FIXED_WORDS[kind] + VLEN_WORDS[kind] * vlen
