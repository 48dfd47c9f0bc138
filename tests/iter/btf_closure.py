"""A type of a large BTF (the running kernel's) cut out with what showing it needs, so
that a test can show it where that BTF is not available.

Everything a value of the type contains is copied whole; what its pointers point to is
kept only as far as the pointer's printed name goes: typedef and qualifier chains, and
structs, unions and enums reduced to their name and kind.
"""

from __future__ import annotations

import base64
import dataclasses

from pybpf.btf import Btf, encode
from pybpf.btf.parse import parse
from pybpf.btf.types import (
    Array,
    BtfType,
    Enum,
    Enum64,
    Float,
    FuncProto,
    Fwd,
    Int,
    Member,
    Ptr,
    Struct,
    Union,
)


class _Cutter:
    def __init__(self, src: Btf) -> None:
        self.src = src
        self.out = Btf()
        self.done: dict[tuple[int, bool], int] = {}

    def copy(self, tid: int, stub: bool = False) -> int:
        """The id in ``out`` of ``src``'s ``tid`` (``stub``: only as a pointee)."""
        if tid == 0:
            return 0
        key = (tid, stub)
        if key in self.done:
            return self.done[key]
        new = self._convert(self.src[tid], stub)
        nid = self.out.add(new)
        self.done[key] = nid
        return nid

    def _convert(self, t: BtfType, stub: bool) -> BtfType:
        if isinstance(t, Int | Float | Fwd):
            return t
        if isinstance(t, Ptr):
            return dataclasses.replace(t, type=self.copy(t.type, True))
        if isinstance(t, Array):
            return dataclasses.replace(t, type=self.copy(t.type, stub),
                                       index_type=self.copy(t.index_type))  # fmt: skip
        if isinstance(t, Struct | Union):
            if stub:
                return dataclasses.replace(t, members=())
            members = tuple(Member(name=m.name, type=self.copy(m.type), offset=m.offset,
                                   bitfield_size=m.bitfield_size) for m in t.members)  # fmt: skip
            return dataclasses.replace(t, members=members)
        if isinstance(t, Enum | Enum64):
            return dataclasses.replace(t, values=()) if stub else t
        if isinstance(t, FuncProto):
            return FuncProto(return_type=0)
        inner = getattr(t, "type", None)
        if inner is not None:
            return dataclasses.replace(t, type=self.copy(inner, stub))  # type: ignore[arg-type]
        raise ValueError(f"cannot cut a {t.kind.name}")


def cut_type(src: Btf, type_id: int) -> tuple[bytes, int]:
    """The raw BTF holding ``type_id`` and what it needs, and the type's id in it."""
    cutter = _Cutter(src)
    nid = cutter.copy(type_id)
    return encode(cutter.out), nid


def pack(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def unpack(text: str) -> Btf:
    return parse(base64.b64decode(text))
