"""C types as x86-64 Linux lays them out (LP64, little endian, System V bit-fields).

Selftests name struct fields (``offsetof(struct __sk_buff, cb[2])``) and the converter
fills ``struct bpf_test`` initialisers into bytes; both need the layout a compiler would
give the kernel's own headers, so the types here are built from those headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ctokens import CSyntaxError


@dataclass(frozen=True, slots=True)
class IntType:
    name: str
    size: int
    signed: bool
    rank: int
    """Conversion rank: _Bool < char < short < int < long < long long."""

    @property
    def align(self) -> int:
        return self.size

    @property
    def bits(self) -> int:
        return self.size * 8

    def wrap(self, v: int) -> int:
        """``v`` converted to this type (modulo 2**bits, then signed if the type is)."""
        if self.rank == 0:
            return 1 if v else 0
        mask = (1 << self.bits) - 1
        v &= mask
        if self.signed and v >> (self.bits - 1):
            v -= 1 << self.bits
        return v

    def holds(self, v: int) -> bool:
        return self.wrap(v) == v


BOOL = IntType("_Bool", 1, False, 0)
CHAR = IntType("char", 1, True, 1)
SCHAR = IntType("signed char", 1, True, 1)
UCHAR = IntType("unsigned char", 1, False, 1)
SHORT = IntType("short", 2, True, 2)
USHORT = IntType("unsigned short", 2, False, 2)
INT = IntType("int", 4, True, 3)
UINT = IntType("unsigned int", 4, False, 3)
LONG = IntType("long", 8, True, 4)
ULONG = IntType("unsigned long", 8, False, 4)
LLONG = IntType("long long", 8, True, 5)
ULLONG = IntType("unsigned long long", 8, False, 5)
INTMAX = LLONG
UINTMAX = ULLONG


@dataclass(frozen=True, slots=True)
class VoidType:
    size: int = 1  # GCC's sizeof(void), for pointer arithmetic
    align: int = 1


VOID = VoidType()


@dataclass(frozen=True, slots=True)
class FuncType:
    size: int = 1
    align: int = 1


@dataclass(frozen=True, slots=True)
class PointerType:
    target: CType
    size: int = 8
    align: int = 8


@dataclass(frozen=True, slots=True)
class ArrayType:
    elem: CType
    count: int | None
    """None for ``[]`` (a flexible or size-from-initialiser array)."""

    @property
    def size(self) -> int:
        return self.elem.size * (self.count or 0)

    @property
    def align(self) -> int:
        return self.elem.align


@dataclass(frozen=True, slots=True)
class AlignedType:
    """A type with ``__attribute__((aligned(N)))`` (or ``packed``) applied to it."""

    base: CType
    align: int

    @property
    def size(self) -> int:
        s = self.base.size
        return (s + self.align - 1) // self.align * self.align if self.align else s


@dataclass(frozen=True, slots=True)
class Field:
    name: str | None
    """None for an unnamed bit-field or an anonymous struct/union member."""
    type: CType
    offset: int
    """Byte offset; for a bit-field, of the storage unit of its type's size."""
    bit_offset: int | None = None
    """For a bit-field: the first bit within the storage unit (little endian)."""
    bit_width: int | None = None


@dataclass(eq=False, slots=True)
class RecordType:
    """A struct or union; complete once its definition has been read."""

    kind: str
    tag: str | None
    fields: tuple[Field, ...] = ()
    size: int = 0
    align: int = 1
    complete: bool = False
    error: str | None = None
    """Why the definition could not be read, for a type used only where it matters."""
    _by_name: dict[str, tuple[Field, ...]] = field(default_factory=dict, repr=False)

    def define(self, fields: tuple[Field, ...], size: int, align: int) -> None:
        self.fields, self.size, self.align, self.complete = fields, size, align, True
        self._by_name.clear()

    def require_complete(self) -> None:
        if not self.complete:
            what = f"{self.kind} {self.tag or '(anonymous)'}"
            raise CSyntaxError(f"{what} is not defined" + (f": {self.error}" if self.error else ""))

    def member(self, name: str) -> tuple[Field, ...]:
        """The path to member ``name``, through anonymous members as C11 allows."""
        self.require_complete()
        if not self._by_name:
            for f in self.fields:
                if f.name is not None:
                    self._by_name.setdefault(f.name, (f,))
                else:
                    inner = strip(f.type)
                    if isinstance(inner, RecordType):
                        inner.require_complete()
                        inner.member("")  # fill its index
                        for n, sub in inner._by_name.items():
                            self._by_name.setdefault(n, (f, *sub))
        found = self._by_name.get(name)
        if found is None:
            if name == "":
                return ()
            raise CSyntaxError(f"{self.kind} {self.tag or '(anonymous)'} has no member {name}")
        return found


CType = IntType | VoidType | FuncType | PointerType | ArrayType | AlignedType | RecordType


def strip(t: CType) -> CType:
    """The type without alignment attributes."""
    while isinstance(t, AlignedType):
        t = t.base
    return t


def is_aggregate(t: CType) -> bool:
    return isinstance(strip(t), ArrayType | RecordType)


def layout(
    kind: str, members: list[tuple[str | None, CType, int | None]], packed: bool, min_align: int
) -> tuple[tuple[Field, ...], int, int]:
    """Offsets, size and alignment of a struct or union with these members.

    Each member is (name, type, bit width or None).  Bit-fields follow the System V
    x86-64 ABI: a field goes at the next free bit unless it would cross a boundary of a
    storage unit of its type's size, unnamed ones do not raise the record's alignment,
    and a zero width moves on to the next unit.
    """
    fields: list[Field] = []
    align = max(min_align, 1)
    bitpos = 0  # next free bit, from the start of the record
    size = 0
    for name, t, width in members:
        t_align = 1 if packed else t.align
        if kind == "union":
            bitpos = 0
        if width is None:
            if isinstance(strip(t), RecordType):
                rec = strip(t)
                assert isinstance(rec, RecordType)
                rec.require_complete()
            off = (bitpos + 8 * t_align - 1) // (8 * t_align) * t_align
            fields.append(Field(name, t, off))
            bitpos = (off + t.size) * 8
            align = max(align, t_align)
        else:
            unit = t.size * 8
            if width > unit:
                raise CSyntaxError(f"bit-field {name} is wider than its type")
            if width == 0:
                bitpos = (bitpos + unit - 1) // unit * unit
                continue
            if packed:
                start = bitpos
            elif bitpos // unit != (bitpos + width - 1) // unit:
                start = (bitpos + unit - 1) // unit * unit
            else:
                start = bitpos
            unit_off = start // unit * t.size
            if name is not None:
                fields.append(Field(name, t, unit_off, start - unit_off * 8, width))
                align = max(align, t_align)
            bitpos = start + width
        size = max(size, (bitpos + 7) // 8)
    size = (size + align - 1) // align * align
    return tuple(fields), size, align
