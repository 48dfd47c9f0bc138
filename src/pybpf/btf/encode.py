"""``encode``: a :class:`Btf` back into a blob the kernel (or libbpf) reads.

The string table of a parsed BTF is kept and extended, so encoding what was parsed
gives the same bytes back for any blob whose names start after a NUL and are unique
(everything clang, pahole and libbpf write).  ``compact`` builds a fresh table.
"""

from __future__ import annotations

from .btf import Btf
from .kinds import MAGIC, VERSION
from .strings import StringTable, StringTableBuilder
from .wire import Header, encode_record, pack_words


def _base_tables(btf: Btf) -> tuple[StringTable, ...]:
    tables: list[StringTable] = []
    base = btf.base
    while base is not None:
        tables.append(base.strings)
        base = base.base
    return tuple(tables)


def encode(btf: Btf, *, byte_order: str | None = None, compact: bool = False) -> bytes:
    """The blob for ``btf``'s own types (header, type section, string section)."""
    order = byte_order or btf.byte_order
    start = btf.strings.start
    strings = StringTableBuilder(None if compact else btf.strings, _base_tables(btf), start)
    words: list[int] = []
    for t in btf:
        words += encode_record(t, strings.add)
    type_data = pack_words(words, order)
    str_data = strings.data()
    hdr = Header(MAGIC, VERSION, 0, 24, 0, len(type_data), len(type_data), len(str_data), order)
    return hdr.pack() + type_data + str_data
