"""The ``Btf`` container: types by id (decoded on first use), names, strings, base BTF.

Ids run as in the kernel: 0 is void, a base BTF's own types start at 1, a split BTF's
at the base's type count, and a split BTF answers for its base's ids and strings too.
A ``Btf`` may be extended (:meth:`Btf.add`) and patched (:meth:`Btf.replace`), which is
what a loader needs to fix up DATASEC sizes or to describe its own kernel types.
"""

from __future__ import annotations

import errno
from array import array
from collections.abc import Callable, Iterator

from ..errors import BpfError
from .kinds import Kind
from .strings import StringTable
from .types import VOID, BtfType
from .wire import NATIVE, decode_record


class Btf:
    """A set of BTF types, possibly split on a ``base``."""

    def __init__(
        self,
        *,
        base: Btf | None = None,
        strings: StringTable | None = None,
        byte_order: str = NATIVE,
    ) -> None:
        self.base = base
        self.start_id = len(base) if base is not None else 1
        start_str = base.strings_end if base is not None else 0
        self.strings = strings if strings is not None else StringTable(b"" if base else b"\0", start_str)
        if self.strings.start != start_str:
            raise BpfError(errno.EINVAL, "split BTF strings must start where the base's end")
        self.byte_order = byte_order
        self._types: list[BtfType | None] = []
        self._words: array[int] | None = None
        self._offsets: array[int] | None = None
        self._by_name: dict[str, list[int]] | None = None
        self.memo: dict[tuple[str, int], int] = {}
        """Cached answers about types (sizes, alignments); cleared when a type changes."""

    # -- construction from a parsed blob ---------------------------------------------
    @classmethod
    def _from_records(
        cls,
        words: array[int],
        offsets: array[int],
        strings: StringTable,
        base: Btf | None,
        byte_order: str,
    ) -> Btf:
        btf = cls(base=base, strings=strings, byte_order=byte_order)
        btf._words = words
        btf._offsets = offsets
        btf._types = [None] * len(offsets)
        return btf

    # -- sizes and ids ---------------------------------------------------------------
    def __len__(self) -> int:
        """The number of type ids in use, void and base types included (``btf__type_cnt``)."""
        return self.start_id + len(self._types)

    @property
    def own_count(self) -> int:
        """How many types this BTF itself holds (a split BTF's, without its base)."""
        return len(self._types)

    @property
    def strings_end(self) -> int:
        return self.strings.end

    def own_ids(self) -> range:
        return range(self.start_id, len(self))

    def ids(self) -> range:
        """Every type id but void, base ids first."""
        return range(1, len(self))

    def __contains__(self, type_id: object) -> bool:
        return isinstance(type_id, int) and 0 <= type_id < len(self)

    # -- types -----------------------------------------------------------------------
    def __getitem__(self, type_id: int) -> BtfType:
        idx = type_id - self.start_id
        if idx >= 0:
            try:
                t = self._types[idx]
            except IndexError:
                raise BpfError(errno.ENOENT, f"BTF type id {type_id} does not exist") from None
            return t if t is not None else self._decode(idx)
        if type_id == 0:
            return VOID
        if self.base is None or type_id < 0:
            raise BpfError(errno.ENOENT, f"BTF type id {type_id} does not exist")
        return self.base[type_id]

    def get(self, type_id: int) -> BtfType | None:
        try:
            return self[type_id]
        except BpfError:
            return None

    def _decode(self, idx: int) -> BtfType:
        assert self._words is not None and self._offsets is not None
        t = decode_record(self._words, self._offsets[idx], self._string_fn())
        self._types[idx] = t
        return t

    def _string_fn(self) -> Callable[[int], str]:
        """``string``, with this table's cache looked at first (decoding's hot path)."""
        cache = self.strings.cache
        slow = self.string

        def name(off: int) -> str:
            s = cache.get(off)
            return s if s is not None else slow(off)

        return name

    def decode_all(self) -> None:
        """Decode every lazily held type now (so that errors surface at once)."""
        if self._words is None or self._offsets is None:
            return
        words, offsets, types, name = self._words, self._offsets, self._types, self._string_fn()
        for idx, t in enumerate(types):
            if t is None:
                types[idx] = decode_record(words, offsets[idx], name)

    def items(self) -> Iterator[tuple[int, BtfType]]:
        """This BTF's own types with their ids."""
        for type_id in self.own_ids():
            yield type_id, self[type_id]

    def __iter__(self) -> Iterator[BtfType]:
        for type_id in self.own_ids():
            yield self[type_id]

    def kind(self, type_id: int) -> Kind:
        """A type's kind without decoding it."""
        if type_id < self.start_id:
            if type_id == 0:
                return Kind.UNKN
            return self.base.kind(type_id) if self.base is not None else Kind.UNKN
        idx = type_id - self.start_id
        if not 0 <= idx < len(self._types):
            raise BpfError(errno.ENOENT, f"BTF type id {type_id} does not exist")
        t = self._types[idx]
        if t is not None:
            return t.kind
        assert self._words is not None and self._offsets is not None
        return Kind((self._words[self._offsets[idx] + 1] >> 24) & 0x1F)

    def raw_name_offset(self, type_id: int) -> int | None:
        """The name offset of a lazily held type (None once it was decoded or added)."""
        idx = type_id - self.start_id
        if self._words is None or self._offsets is None or idx >= len(self._offsets) or idx < 0:
            return None
        if self._types[idx] is not None:
            return None
        return self._words[self._offsets[idx]]

    # -- names -----------------------------------------------------------------------
    def string(self, off: int) -> str:
        """The string at offset ``off`` (base strings for a split BTF's low offsets)."""
        if off < self.strings.start and self.base is not None:
            return self.base.string(off)
        return self.strings.get(off)

    def name_of(self, type_id: int) -> str:
        return self[type_id].name

    def name_of_id(self, type_id: int) -> str:
        """A type's name without decoding the whole type when it is held lazily."""
        off = self.raw_name_offset(type_id)
        return self.string(off) if off is not None else self[type_id].name

    def _name_index(self) -> dict[str, list[int]]:
        if self._by_name is None:
            idx: dict[str, list[int]] = {}
            words, offsets = self._words, self._offsets
            for n, t in enumerate(self._types):
                type_id = self.start_id + n
                if t is not None:
                    name = t.name
                else:
                    assert words is not None and offsets is not None
                    name = self.string(words[offsets[n]])
                if name:
                    idx.setdefault(name, []).append(type_id)
            self._by_name = idx
        return self._by_name

    def find_by_name(self, name: str) -> list[int]:
        """Ids of every type named ``name``, base types first."""
        own = self._name_index().get(name, [])
        if self.base is not None:
            return [*self.base.find_by_name(name), *own]
        return list(own)

    def find_by_name_kind(self, name: str, kind: Kind) -> int | None:
        """The first type of ``kind`` named ``name`` (as ``btf__find_by_name_kind``)."""
        if name == "void" and kind == Kind.UNKN:
            return 0
        for type_id in self.find_by_name(name):
            if self.kind(type_id) == kind:
                return type_id
        return None

    # -- changes ---------------------------------------------------------------------
    def add(self, t: BtfType) -> int:
        """Append a type; returns its id."""
        if t.kind == Kind.UNKN:
            raise BpfError(errno.EINVAL, "void cannot be added to BTF")
        self._types.append(t)
        type_id = len(self) - 1
        if self._by_name is not None and t.name:
            self._by_name.setdefault(t.name, []).append(type_id)
        return type_id

    def replace(self, type_id: int, t: BtfType) -> None:
        """Put ``t`` in place of this BTF's own type ``type_id``."""
        idx = type_id - self.start_id
        if not 0 <= idx < len(self._types):
            raise BpfError(errno.ENOENT, f"BTF type id {type_id} is not one of this BTF's own")
        self._types[idx] = t
        self._by_name = None
        self.memo.clear()

    def __repr__(self) -> str:
        split = f", split at {self.start_id}" if self.base is not None else ""
        return f"<Btf {len(self._types)} types{split}>"
