"""CO-RE access specifications: an access string read against a type.

``"0:2:1"`` on ``struct s`` means: element 0 of a ``struct s *``, then member 2, then
member (or array element) 1 of that.  The *raw* spec keeps every index; the
*accessors* keep only the points that matter when matching another BTF: the root,
each named member and each array index (members of anonymous structs/unions are
walked through but not recorded).  ``bit_offset`` is where the access lands.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from ...errors import BpfError
from ..btf import Btf
from ..ext import CoreRelo, CoreReloKind
from ..resolve import resolve_size, skip_modifiers
from ..types import Array, Enum, Enum64, Struct, Union

SPEC_MAX_LEN = 64

_KIND_WORDS = ("void", "int", "ptr", "array", "struct", "union", "enum", "fwd", "typedef",
               "volatile", "const", "restrict", "func", "func_proto", "var", "datasec", "float",
               "decl_tag", "type_tag", "enum64")  # fmt: skip


def kind_word(btf: Btf, type_id: int) -> str:
    """A type's kind as libbpf names it in its messages (``struct``, ``typedef``, ...)."""
    return _KIND_WORDS[btf.kind(type_id)]


def essential_name(name: str) -> str:
    """The name without its ``___flavor`` suffix: cut at the last ``X___Y`` where
    neither X nor Y is an underscore (``task_struct___v2`` -> ``task_struct``)."""
    j = name.rfind("___")
    while j > 0:
        if name[j - 1] != "_" and j + 3 < len(name) and name[j + 3] != "_":
            return name[:j]
        j = name.rfind("___", 0, j + 2)
    return name


@dataclass(frozen=True, slots=True)
class Accessor:
    """One meaningful step: a named member (``name`` set) or an array index."""

    type_id: int
    idx: int
    name: str | None = None


@dataclass(slots=True)
class CoreSpec:
    """A parsed or matched access: low-level indices, accessors and the bit offset."""

    btf: Btf
    root_type_id: int
    kind: CoreReloKind
    raw: list[int] = field(default_factory=list)
    accessors: list[Accessor] = field(default_factory=list)
    bit_offset: int = 0

    def copy(self) -> CoreSpec:
        return CoreSpec(self.btf, self.root_type_id, self.kind, list(self.raw), list(self.accessors),
                        self.bit_offset)  # fmt: skip

    def format(self) -> str:
        """libbpf's rendering: ``<kind> [id] struct name.a[3] (0:1:3 @ offset 12)``."""
        btf = self.btf
        t = btf[self.root_type_id]
        out = f"<{self.kind.label}> [{self.root_type_id}] {kind_word(btf, self.root_type_id)} {t.name or '<anon>'}"
        if self.kind.is_type:
            return out
        if self.kind.is_enumval:
            et = btf[skip_modifiers(btf, self.root_type_id)]
            index = self.raw[0] if self.raw else 0  # libbpf shows the first value for a miss
            if isinstance(et, Enum | Enum64) and index < len(et.values):
                v = et.values[index]
                if isinstance(et, Enum):
                    w = v.value & 0xFFFFFFFF
                    shown = w - (1 << 32) if et.signed and w >> 31 else w
                else:
                    u = v.value & ((1 << 64) - 1)
                    shown = u - (1 << 64) if et.signed and u >> 63 else u
                out += f"::{v.name} = {shown}"
            return out
        for i, acc in enumerate(self.accessors):
            if acc.name:
                out += f".{acc.name}"
            elif i > 0 or acc.idx > 0:
                out += f"[{acc.idx}]"
        out += " (" + ":".join(str(r) for r in self.raw)
        if self.bit_offset % 8:
            out += f" @ offset {self.bit_offset // 8}.{self.bit_offset % 8})"
        else:
            out += f" @ offset {self.bit_offset // 8})"
        return out


def _invalid(msg: str) -> BpfError:
    return BpfError(errno.EINVAL, msg)


def is_flex_array(btf: Btf, prev: Accessor, arr: Array) -> bool:
    """A zero-length array that is the last member of the struct it was reached from."""
    if prev.name is None or arr.nelems > 0:
        return False
    t = btf[prev.type_id]
    return isinstance(t, Struct | Union) and prev.idx == len(t.members) - 1


def _size(btf: Btf, type_id: int) -> int:
    try:
        return resolve_size(btf, type_id)
    except BpfError as exc:
        raise BpfError(exc.errno, f"type [{type_id}] has no size") from None


def parse_spec(btf: Btf, relo: CoreRelo) -> CoreSpec:
    """Read ``relo.access`` against its local type, as libbpf's spec parser does."""
    text = relo.access
    if not text or text[0] == ":":
        raise _invalid(f"empty or malformed access string '{text}'")
    spec = CoreSpec(btf, relo.type_id, relo.kind)
    if relo.kind.is_type:
        if text != "0":
            raise _invalid(f"type relocation with access string '{text}'")
        return spec
    for part in text.split(":"):
        try:
            idx = int(part.strip())
        except ValueError:
            raise _invalid(f"malformed access string '{text}'") from None
        if idx < 0:
            raise _invalid(f"negative index in access string '{text}'")
        if len(spec.raw) == SPEC_MAX_LEN:
            raise BpfError(errno.E2BIG, f"access string '{text}' is too long")
        spec.raw.append(idx)
    if relo.type_id not in btf:
        raise _invalid(f"relocation of missing type [{relo.type_id}]")
    type_id = skip_modifiers(btf, relo.type_id)
    t = btf[type_id]
    first = spec.raw[0]
    if relo.kind.is_enumval:
        if not isinstance(t, Enum | Enum64) or len(spec.raw) > 1 or first >= len(t.values):
            raise _invalid(f"enum relocation '{text}' does not name an enumerator")
        spec.accessors.append(Accessor(type_id, first, t.values[first].name))
        return spec
    if not relo.kind.is_field:
        raise _invalid(f"unknown relocation kind {relo.kind}")
    spec.accessors.append(Accessor(type_id, first))
    spec.bit_offset = first * _size(btf, type_id) * 8
    for i, idx in enumerate(spec.raw[1:], start=1):
        type_id = skip_modifiers(btf, type_id)
        t = btf[type_id]
        if isinstance(t, Struct | Union):
            if idx >= len(t.members):
                raise _invalid(f"member index {idx} out of range in [{type_id}]")
            m = t.members[idx]
            spec.bit_offset += m.offset
            if m.name:
                spec.accessors.append(Accessor(type_id, idx, m.name))
            type_id = m.type
        elif isinstance(t, Array):
            elem = skip_modifiers(btf, t.type)
            if not is_flex_array(btf, spec.accessors[-1], t) and idx >= t.nelems:
                raise _invalid(f"array index {idx} out of range in [{type_id}]")
            spec.accessors.append(Accessor(elem, idx))
            type_id = elem
            spec.bit_offset += idx * _size(btf, elem) * 8
        else:
            raise _invalid(
                f"relo for [{relo.type_id}] {text} (at idx {i}) captures type [{type_id}] of "
                f"unexpected kind {kind_word(btf, type_id)}"
            )
    return spec
