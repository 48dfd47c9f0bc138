"""The one memory model: every object a program can point to is a Region at a real address.

A region owns a ``bytearray`` pinned by a ctypes view, so its host address never moves and
a 64-bit pointer in a BPF register is that host address, usable as is by native code (the
JIT) and resolved to its region by the interpreter and the helpers.  Regions register in
one process-wide index; an address outside every registered region is a fault, never a
Python exception or a stray host access.

Special regions (program contexts) carry *fields*: offsets whose loads are computed by a
getter, as the kernel's context conversion computes ``skb->data`` from the real skb.
"""

from __future__ import annotations

import ctypes
import struct
from bisect import bisect_right, insort
from collections.abc import Callable
from enum import Enum

from .errors import MemoryFault

U8 = struct.Struct("<B")
U16 = struct.Struct("<H")
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")
UNSIGNED = {1: U8, 2: U16, 4: U32, 8: U64}
M64 = (1 << 64) - 1


class RegionKind(Enum):
    STACK = "stack"
    CTX = "ctx"
    PACKET = "packet"
    MAP = "map"  # the map object itself (what CONST_PTR_TO_MAP points at)
    MAP_VALUE = "map_value"
    MAP_KEY = "map_key"
    RINGBUF = "ringbuf"
    MEM = "mem"  # input memory of a plain run, helper scratch
    KERNEL = "kernel"  # kernel objects behind BTF ids


FieldGetter = Callable[[], int]
FieldSetter = Callable[[int], None]


class Region:
    """A buffer with a stable host address.  ``buf`` is the live bytes."""

    __slots__ = ("_pin", "base", "buf", "end", "fields", "kind", "name", "owner", "size", "writable")

    def __init__(
        self,
        size: int,
        kind: RegionKind,
        name: str = "",
        writable: bool = True,
        data: bytes | None = None,
        owner: object = None,
    ) -> None:
        if size <= 0:
            size = 1  # a zero-sized object still needs an address of its own
        self.buf = bytearray(size)
        if data:
            self.buf[: len(data)] = data
        self._pin = (ctypes.c_char * size).from_buffer(self.buf)
        self.base: int = ctypes.addressof(self._pin)
        self.end = self.base + size
        self.size = size
        self.kind = kind
        self.name = name
        self.writable = writable
        self.owner = owner
        self.fields: dict[tuple[int, int], tuple[FieldGetter | None, FieldSetter | None]] | None = None

    def __repr__(self) -> str:
        return f"<Region {self.kind.value} {self.name!r} 0x{self.base:x}+{self.size}>"

    def add_field(
        self,
        offset: int,
        size: int,
        getter: FieldGetter | None,
        setter: FieldSetter | None = None,
    ) -> None:
        """Route accesses of exactly ``size`` bytes at ``offset`` through hooks.

        A getter computes what a load returns (the full 64-bit value, as the kernel's
        context conversion loads a whole pointer for a 4-byte field); a setter receives
        what a store writes.  Accesses of other sizes or offsets use the plain bytes.
        """
        if self.fields is None:
            self.fields = {}
        self.fields[(offset, size)] = (getter, setter)

    def read(self, offset: int, size: int) -> bytes:
        return bytes(self.buf[offset : offset + size])

    def write(self, offset: int, data: bytes) -> None:
        self.buf[offset : offset + len(data)] = data


class AddressSpace:
    """The index of live regions, sorted by address, with the fault rules."""

    def __init__(self) -> None:
        self._bases: list[int] = []
        self._regions: list[Region] = []
        self._special: list[Region] = []
        # bumped whenever a region goes away, so address caches know to forget it
        self.generation = 0

    def add(self, region: Region) -> Region:
        if region.fields is not None:
            self._special.append(region)
            return region
        i = bisect_right(self._bases, region.base)
        insort(self._bases, region.base)
        self._regions.insert(i, region)
        return region

    def remove(self, region: Region) -> None:
        self.generation += 1
        if region.fields is not None:
            if region in self._special:
                self._special.remove(region)
            return
        i = bisect_right(self._bases, region.base) - 1
        if i >= 0 and self._regions[i] is region:
            del self._bases[i]
            del self._regions[i]

    def find(self, addr: int, size: int = 1) -> Region | None:
        """The region holding all of ``[addr, addr+size)``, or None."""
        i = bisect_right(self._bases, addr) - 1
        if i >= 0:
            r = self._regions[i]
            if addr + size <= r.end:
                return r
        for r in self._special:
            if r.base <= addr and addr + size <= r.end:
                return r
        return None

    def region_at(self, addr: int) -> Region | None:
        return self.find(addr, 1)

    # --- access with the fault rules -------------------------------------------------

    def load(self, addr: int, size: int, pc: int = -1) -> int:
        i = bisect_right(self._bases, addr) - 1
        if i >= 0:
            r = self._regions[i]
            if addr + size <= r.end:
                return UNSIGNED[size].unpack_from(r.buf, addr - r.base)[0]  # type: ignore[no-any-return]
        return self._load_special(addr, size, pc)

    def _load_special(self, addr: int, size: int, pc: int) -> int:
        for r in self._special:
            if r.base <= addr and addr + size <= r.end:
                off = addr - r.base
                assert r.fields is not None
                field = r.fields.get((off, size))
                if field is not None and field[0] is not None:
                    return field[0]() & M64
                return UNSIGNED[size].unpack_from(r.buf, off)[0]  # type: ignore[no-any-return]
        raise MemoryFault(pc, addr, size, False, self.describe(addr))

    def store(self, addr: int, size: int, value: int, pc: int = -1) -> None:
        i = bisect_right(self._bases, addr) - 1
        if i >= 0:
            r = self._regions[i]
            if addr + size <= r.end and r.writable:
                UNSIGNED[size].pack_into(r.buf, addr - r.base, value & ((1 << (size * 8)) - 1))
                return
        self._store_special(addr, size, value, pc)

    def _store_special(self, addr: int, size: int, value: int, pc: int) -> None:
        r = self.find(addr, size)
        if r is None:
            raise MemoryFault(pc, addr, size, True, self.describe(addr))
        if not r.writable:
            raise MemoryFault(pc, addr, size, True, f"{r.kind.value} {r.name!r} is read-only")
        off = addr - r.base
        value &= (1 << (size * 8)) - 1
        if r.fields is not None:
            field = r.fields.get((off, size))
            if field is not None and field[1] is not None:
                field[1](value)
                return
        UNSIGNED[size].pack_into(r.buf, off, value)

    def read(self, addr: int, size: int, pc: int = -1) -> bytes:
        """``size`` raw bytes (for helpers); the range must lie in one region."""
        if size == 0:
            return b""
        r = self.find(addr, size)
        if r is None:
            raise MemoryFault(pc, addr, size, False, self.describe(addr))
        off = addr - r.base
        return bytes(r.buf[off : off + size])

    def write(self, addr: int, data: bytes, pc: int = -1) -> None:
        if not data:
            return
        r = self.find(addr, len(data))
        if r is None:
            raise MemoryFault(pc, addr, len(data), True, self.describe(addr))
        if not r.writable:
            raise MemoryFault(pc, addr, len(data), True, f"{r.kind.value} {r.name!r} is read-only")
        off = addr - r.base
        r.buf[off : off + len(data)] = data

    def read_cstr(self, addr: int, limit: int, pc: int = -1) -> bytes:
        """Bytes up to the first NUL within ``limit`` bytes (NUL not included)."""
        r = self.find(addr, 1)
        if r is None:
            raise MemoryFault(pc, addr, 1, False, self.describe(addr))
        off = addr - r.base
        chunk = bytes(r.buf[off : min(off + limit, r.size)])
        nul = chunk.find(b"\0")
        return chunk if nul < 0 else chunk[:nul]

    def describe(self, addr: int) -> str:
        """Where an address falls relative to the nearest region (for fault messages).

        Only a region within a page of the address is named: anything farther is a wild
        pointer, and naming whichever region happens to be closest would mislead.
        """
        best: tuple[int, str] | None = None
        for r in (*self._regions, *self._special):
            if addr >= r.end:
                d, text = addr - r.end, f"{addr - r.end} bytes past the end of"
            elif addr < r.base:
                d, text = r.base - addr, f"{r.base - addr} bytes before"
            else:
                continue
            if d < NEAR and (best is None or d < best[0]):
                best = (d, f"{text} {r.kind.value} {r.name!r}")
        return best[1] if best is not None else "outside every region"

    def __len__(self) -> int:
        return len(self._regions) + len(self._special)


NEAR = 4096
"""How close a fault must be to a region to be described relative to it."""

# The process-wide index: addresses are host addresses, unique in the process.
MEMORY = AddressSpace()


def allocate(
    size: int,
    kind: RegionKind,
    name: str = "",
    writable: bool = True,
    data: bytes | None = None,
    owner: object = None,
) -> Region:
    """A new registered region."""
    return MEMORY.add(Region(size, kind, name, writable, data, owner))


def release(region: Region) -> None:
    MEMORY.remove(region)
