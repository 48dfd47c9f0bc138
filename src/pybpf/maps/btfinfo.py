"""What ``BPF_MAP_CREATE`` learns from BTF: the key and value types a map was described with.

A loader that has BTF passes ``btf_fd`` with a key and a value type id; the kernel resolves
both (through typedefs and qualifiers), requires their sizes to equal ``key_size`` and
``value_size``, looks for special fields in the value (a ``bpf_spin_lock``, timers,
kptrs...) and lets the map type judge the key.  pybpf keeps only what those checks and the
verifier need: a :class:`MapBtf` with the two ids and the *resolved* types as small
frozen descriptions.  The BTF object itself (whatever the loader parsed) rides along in
``MapBtf.btf`` for the verifier; the maps package never looks inside it.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..errors import BpfError


class BtfKind(Enum):
    """The BTF kinds a resolved map key or value can have (modifiers already skipped)."""

    VOID = "void"
    INT = "int"
    PTR = "ptr"
    ARRAY = "array"
    STRUCT = "struct"
    UNION = "union"
    ENUM = "enum"
    ENUM64 = "enum64"
    FLOAT = "float"
    DATASEC = "datasec"
    FWD = "fwd"  # no size: a key or value of this kind fails to resolve
    FUNC = "func"  # likewise


class SpecialField(Enum):
    """Fields of a value the kernel gives meaning to (``btf_parse_fields``)."""

    SPIN_LOCK = "bpf_spin_lock"
    TIMER = "bpf_timer"
    WORKQUEUE = "bpf_wq"
    KPTR_UNREF = "kptr_untrusted"
    KPTR_REF = "kptr"
    KPTR_PERCPU = "percpu_kptr"
    REFCOUNT = "bpf_refcount"
    LIST_HEAD = "bpf_list_head"
    RB_ROOT = "bpf_rb_root"


_SIZELESS = (BtfKind.VOID, BtfKind.FWD, BtfKind.FUNC)


@dataclass(frozen=True)
class BtfMember:
    """One struct member: bit offset, its (resolved) type, bitfield width (0: none)."""

    name: str
    bit_offset: int
    type: BtfType
    bitfield_size: int = 0


@dataclass(frozen=True)
class BtfType:
    """A resolved BTF type as map creation sees it.

    ``size`` is in bytes (ignored for the sizeless kinds); ``int_bits``/``int_offset``
    are the INT encoding; ``members`` list a struct's members; ``fields`` the special
    fields found anywhere in the value, with their byte offsets.
    """

    kind: BtfKind
    size: int = 0
    name: str = ""
    int_bits: int = 0
    int_offset: int = 0
    members: tuple[BtfMember, ...] = ()
    fields: tuple[tuple[SpecialField, int], ...] = ()
    kflag: bool = False

    @property
    def resolves(self) -> bool:
        """Whether ``btf_type_id_size`` finds a size for it."""
        return self.kind not in _SIZELESS

    @classmethod
    def integer(cls, size: int, bits: int | None = None, offset: int = 0, name: str = "") -> BtfType:
        return cls(BtfKind.INT, size, name or f"u{size * 8}", bits if bits is not None else size * 8,
                   offset)

    @classmethod
    def void(cls) -> BtfType:
        return cls(BtfKind.VOID)

    def has(self, special: SpecialField) -> bool:
        return any(f is special for f, _ in self.fields)

    def offset_of(self, special: SpecialField) -> int | None:
        for f, off in self.fields:
            if f is special:
                return off
        return None

    # ------------------------------------------------------------ case form ---

    def to_case(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value}
        if self.resolves:
            out["size"] = self.size
        if self.name:
            out["name"] = self.name
        if self.kind is BtfKind.INT:
            out["bits"] = self.int_bits
            if self.int_offset:
                out["bit_offset"] = self.int_offset
        if self.members:
            out["members"] = [
                {"name": m.name, "bit_offset": m.bit_offset, "type": m.type.to_case(),
                 **({"bitfield_size": m.bitfield_size} if m.bitfield_size else {})}
                for m in self.members
            ]
        if self.fields:
            out["fields"] = [{"kind": f.value, "offset": off} for f, off in self.fields]
        if self.kflag:
            out["kflag"] = True
        return out

    @classmethod
    def from_case(cls, case: Any) -> BtfType:
        if not isinstance(case, dict):
            raise BpfError(errno.EINVAL, "a BTF type description must be a JSON object")
        try:
            kind = BtfKind(case["kind"])
            members = tuple(
                BtfMember(str(m.get("name", "")), int(m["bit_offset"]), cls.from_case(m["type"]),
                          int(m.get("bitfield_size", 0)))
                for m in case.get("members", ())
            )
            fields = tuple(
                (SpecialField(f["kind"]), int(f["offset"])) for f in case.get("fields", ())
            )
            size = int(case.get("size", 0))
            return cls(
                kind, size, str(case.get("name", "")),
                int(case.get("bits", size * 8 if kind is BtfKind.INT else 0)),
                int(case.get("bit_offset", 0)), members, fields, bool(case.get("kflag", False)),
            )
        except BpfError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise BpfError(errno.EINVAL, f"bad BTF type description: {exc}") from None


@dataclass(frozen=True)
class MapBtf:
    """The BTF a map is created with: ``btf_key_type_id``, ``btf_value_type_id`` and the
    types they resolve to.  ``key_type_id`` 0 means no key type (``key`` is void)."""

    key_type_id: int
    value_type_id: int
    key: BtfType = field(default_factory=BtfType.void)
    value: BtfType = field(default_factory=BtfType.void)
    btf: object = field(default=None, compare=False, repr=False)

    @property
    def value_fields(self) -> tuple[tuple[SpecialField, int], ...]:
        return self.value.fields

    def to_case(self) -> dict[str, Any]:
        return {
            "key_type_id": self.key_type_id,
            "value_type_id": self.value_type_id,
            "key": self.key.to_case(),
            "value": self.value.to_case(),
        }

    @classmethod
    def from_case(cls, case: Any) -> MapBtf:
        if not isinstance(case, dict):
            raise BpfError(errno.EINVAL, "map btf must be a JSON object")
        try:
            key = BtfType.from_case(case["key"]) if "key" in case else BtfType.void()
            value = BtfType.from_case(case["value"]) if "value" in case else BtfType.void()
            return cls(int(case.get("key_type_id", 0)), int(case.get("value_type_id", 0)), key,
                       value)
        except BpfError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise BpfError(errno.EINVAL, f"bad map btf: {exc}") from None


def is_reg_int(t: BtfType, bits: int) -> bool:
    """An INT of exactly ``bits`` bits starting at bit 0 of its storage."""
    return t.kind is BtfKind.INT and t.int_bits == bits and t.int_offset == 0


def member_is_reg_int(struct: BtfType, m: BtfMember, byte_offset: int, size: int) -> bool:
    """``btf_member_is_reg_int``: a member that is a plain ``size``-byte integer at
    ``byte_offset``."""
    t = m.type
    if not t.resolves or t.kind is not BtfKind.INT:
        return False
    bits = t.int_bits
    if struct.kflag:
        return (m.bitfield_size == 0 and (m.bit_offset + 7) // 8 == byte_offset
                and (bits + 7) // 8 == size)
    return not (t.int_offset or m.bit_offset % 8 or (m.bit_offset + 7) // 8 != byte_offset
                or bits % 8 or (bits + 7) // 8 != size)
