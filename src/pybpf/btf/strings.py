"""BTF string tables: NUL-terminated names addressed by byte offset.

Names are decoded as UTF-8 with ``surrogateescape`` so that any byte sequence survives
a parse/encode round trip.
"""

from __future__ import annotations

import errno

from ..errors import BpfError


def decode_name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def encode_name(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


class StringTable:
    """One blob's string section, seen at offsets ``start``.. (``start`` > 0 for split BTF,
    whose lower offsets belong to the base's tables)."""

    __slots__ = ("_index", "cache", "data", "start")

    def __init__(self, data: bytes, start: int = 0) -> None:
        self.data = bytes(data)
        self.start = start
        self.cache: dict[int, str] = {}
        self._index: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.data)

    @property
    def end(self) -> int:
        """The first offset past this table (where a split BTF's strings start)."""
        return self.start + len(self.data)

    def contains(self, off: int) -> bool:
        return self.start <= off < self.end

    def get(self, off: int) -> str:
        """The name at ``off``; BpfError(EINVAL) when ``off`` is outside the table."""
        cached = self.cache.get(off)
        if cached is not None:
            return cached
        rel = off - self.start
        if not 0 <= rel < len(self.data):
            raise BpfError(errno.EINVAL, f"BTF string offset {off} is outside the string section")
        end = self.data.find(b"\0", rel)
        if end < 0:
            end = len(self.data)
        name = decode_name(self.data[rel:end])
        self.cache[off] = name
        return name

    def raw_at(self, off: int) -> bytes:
        """The bytes of the name at ``off`` (no decoding), empty when out of range."""
        rel = off - self.start
        if not 0 <= rel < len(self.data):
            return b""
        end = self.data.find(b"\0", rel)
        return self.data[rel : end if end >= 0 else len(self.data)]

    def index(self) -> dict[str, int]:
        """Each whole string (one starting after a NUL) mapped to its first offset."""
        if self._index is None:
            idx: dict[str, int] = {}
            data = self.data
            pos = 0
            n = len(data)
            while pos < n:
                end = data.find(b"\0", pos)
                if end < 0:
                    end = n
                s = decode_name(data[pos:end])
                if s not in idx:
                    idx[s] = self.start + pos
                pos = end + 1
            self._index = idx
        return self._index

    def find(self, name: str) -> int | None:
        return self.index().get(name)


class StringTableBuilder:
    """Collects names for an encoder: known names keep their offsets, new ones are
    appended once.  ``base`` tables (split BTF) are consulted first, as libbpf does."""

    def __init__(self, seed: StringTable | None, base: tuple[StringTable, ...] = (), start: int = 0) -> None:
        self._base = base
        self.start = start
        if seed is not None and seed.start == start and (seed.data[:1] == b"\0" or start):
            self._buf = bytearray(seed.data)
            self._offsets = dict(seed.index())
        else:
            self._buf = bytearray(b"" if start else b"\0")
            self._offsets = {} if start else {"": 0}

    def add(self, name: str) -> int:
        if not name:
            return 0
        off = self._offsets.get(name)
        if off is not None:
            return off
        for table in self._base:
            off = table.find(name)
            if off is not None:
                return off
        off = self.start + len(self._buf)
        self._buf += encode_name(name) + b"\0"
        self._offsets[name] = off
        return off

    def data(self) -> bytes:
        return bytes(self._buf)
