"""Questions about types that follow references: what a type is under its modifiers,
its size and alignment, where a member lives (bitfields included).

The answers follow libbpf (``btf__resolve_size``, ``btf__align_of``) so that layouts
agree with what clang and libbpf compute for the same BTF.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from ..errors import BpfError
from .btf import Btf
from .kinds import Kind
from .types import (
    Array,
    BtfType,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    Float,
    Int,
    Member,
    Ptr,
    Struct,
    Union,
    Var,
)

MAX_RESOLVE_DEPTH = 32
_MODS = (Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG)
_QUALS = (Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG)


def _follow(btf: Btf, type_id: int, kinds: tuple[Kind, ...]) -> int:
    for _ in range(MAX_RESOLVE_DEPTH + 1):
        if btf.kind(type_id) not in kinds:
            return type_id
        type_id = btf[type_id].type  # type: ignore[union-attr]
    raise BpfError(errno.ELOOP, f"BTF type chain at [{type_id}] is too long or loops")


def skip_modifiers(btf: Btf, type_id: int) -> int:
    """The id under typedefs, const, volatile, restrict and type tags."""
    return _follow(btf, type_id, _MODS)


def skip_qualifiers(btf: Btf, type_id: int) -> int:
    """The id under const, volatile, restrict and type tags (typedefs kept)."""
    return _follow(btf, type_id, _QUALS)


def strip(btf: Btf, type_id: int) -> BtfType:
    """The type under every modifier."""
    return btf[skip_modifiers(btf, type_id)]


_LONG_NAMES = frozenset(
    {"long", "long int", "int long", "unsigned long", "long unsigned", "unsigned long int",
     "unsigned int long", "long unsigned int", "long int unsigned", "int unsigned long",
     "int long unsigned"}
)  # fmt: skip


def ptr_size(btf: Btf) -> int:
    """Pointer size as libbpf guesses it: from a ``long`` INT if there is one, else 8."""
    got = btf.memo.get(("ptr_size", 0))
    if got is not None:
        return got
    size = ptr_size(btf.base) if btf.base is not None else 0
    if not size:
        for name in sorted(_LONG_NAMES):
            for type_id in btf.find_by_name(name):
                t = btf[type_id]
                if isinstance(t, Int) and t.size in (4, 8):
                    size = t.size
                    break
            if size:
                break
    size = size or 8
    btf.memo[("ptr_size", 0)] = size
    return size


def resolve_size(btf: Btf, type_id: int) -> int:
    """The size in bytes of a type (through modifiers, vars and arrays).

    ``BpfError(EINVAL)`` for a type without size (void, func, fwd, ...), ``E2BIG`` when
    an array overflows 32 bits.
    """
    nelems = 1
    for _ in range(MAX_RESOLVE_DEPTH):
        if type_id == 0:
            break
        t = btf[type_id]
        if isinstance(t, Int | Struct | Union | Enum | Enum64 | Datasec | Float):
            size = t.size
            break
        if isinstance(t, Ptr):
            size = ptr_size(btf)
            break
        if t.kind in _MODS or isinstance(t, Var | DeclTag):
            type_id = t.type  # type: ignore[union-attr]
            continue
        if isinstance(t, Array):
            if nelems and t.nelems > 0xFFFFFFFF // nelems:
                raise BpfError(errno.E2BIG, f"array [{type_id}] is too large")
            nelems *= t.nelems
            type_id = t.type
            continue
        raise BpfError(errno.EINVAL, f"type [{type_id}] ({t.kind.label}) has no size")
    else:
        raise BpfError(errno.EINVAL, f"type [{type_id}] has no size")
    if type_id == 0:
        raise BpfError(errno.EINVAL, "void has no size")
    if nelems and size > 0xFFFFFFFF // nelems:
        raise BpfError(errno.E2BIG, f"type [{type_id}] is too large")
    return nelems * size


def align_of(btf: Btf, type_id: int) -> int:
    """Natural alignment as libbpf computes it (1 for a struct laid out packed)."""
    key = ("align", type_id)
    got = btf.memo.get(key)
    if got is None:
        try:
            got = btf.memo[key] = _align_of(btf, type_id)
        except RecursionError:
            raise BpfError(errno.ELOOP, f"type [{type_id}] contains itself") from None
    return got


def _align_of(btf: Btf, type_id: int) -> int:
    t = btf[type_id]
    if isinstance(t, Int | Enum | Enum64 | Float):
        if t.size <= 0:  # a damaged type: nothing is aligned to 0 bytes
            raise BpfError(errno.EINVAL, f"type [{type_id}] ({t.kind.label}) has size 0: no alignment")
        return min(ptr_size(btf), t.size)
    if isinstance(t, Ptr):
        return ptr_size(btf)
    if t.kind in _MODS:
        return align_of(btf, t.type)  # type: ignore[union-attr]
    if isinstance(t, Array):
        return align_of(btf, t.type)
    if isinstance(t, Struct | Union):
        max_align = 1
        for m in t.members:
            a = align_of(btf, m.type)
            max_align = max(max_align, a)
            if not m.bitfield_size and m.offset % (8 * a):
                return 1
        return 1 if t.size % max_align else max_align
    raise BpfError(errno.EINVAL, f"type [{type_id}] ({t.kind.label}) has no alignment")


@dataclass(frozen=True, slots=True)
class FieldLocation:
    """Where a member's value is: the bytes to load and, for a bitfield, the bits in them.

    ``bit_offset``/``bit_size`` locate the value from the start of the aggregate;
    ``byte_offset``/``byte_size`` give the smallest naturally sized load that covers it
    (for a plain member, the member itself).
    """

    byte_offset: int
    byte_size: int
    bit_offset: int
    bit_size: int
    signed: bool
    type_id: int

    @property
    def is_bitfield(self) -> bool:
        return self.bit_offset % 8 != 0 or self.bit_size != self.byte_size * 8

    def lshift(self) -> int:
        """Left shift that puts the value's top bit at bit 63 of the 64-bit register the
        (little-endian) load filled."""
        return 64 - (self.bit_offset + self.bit_size - self.byte_offset * 8)

    def rshift(self) -> int:
        return 64 - self.bit_size


def member_location(btf: Btf, member: Member) -> FieldLocation:
    """Where ``member`` (of some struct/union) lives, bitfields handled as libbpf does."""
    mtype = skip_modifiers(btf, member.type)
    t = btf[mtype]
    signed = (isinstance(t, Int) and t.signed) or (isinstance(t, Enum | Enum64) and t.signed)
    bit_size = member.bitfield_size
    bit_off = member.offset
    if isinstance(t, Int) and not bit_size and (t.offset or t.bits != t.size * 8):
        bit_off += t.offset
        bit_size = t.bits
    if not bit_size:
        size = resolve_size(btf, member.type)
        return FieldLocation(bit_off // 8, size, bit_off, size * 8, signed, member.type)
    size = resolve_size(btf, mtype)
    byte_off = bit_off // 8 // size * size
    while bit_off + bit_size - byte_off * 8 > size * 8:
        if size >= 8:
            raise BpfError(errno.EINVAL, "bitfield straddles more than 8 bytes")
        size *= 2
        byte_off = bit_off // 8 // size * size
    return FieldLocation(byte_off, size, bit_off, bit_size, signed, member.type)


@dataclass(frozen=True, slots=True)
class MemberRef:
    """A member found by name: the chain of member indices through anonymous
    members, its bit offset from the outer aggregate and the member itself."""

    path: tuple[int, ...]
    bit_offset: int
    member: Member


def find_member(btf: Btf, type_id: int, name: str, _depth: int = 0) -> MemberRef | None:
    """The member ``name`` of a struct/union (looking inside anonymous members)."""
    if _depth > MAX_RESOLVE_DEPTH:
        raise BpfError(errno.ELOOP, f"anonymous members of [{type_id}] nest too deep")
    t = strip(btf, type_id)
    if not isinstance(t, Struct | Union):
        return None
    for i, m in enumerate(t.members):
        if m.name == name:
            return MemberRef((i,), m.offset, m)
        if not m.name:
            inner = find_member(btf, m.type, name, _depth + 1)
            if inner is not None:
                return MemberRef((i, *inner.path), m.offset + inner.bit_offset, inner.member)
    return None


def is_int_like(t: BtfType) -> bool:
    return isinstance(t, Int | Enum | Enum64)
