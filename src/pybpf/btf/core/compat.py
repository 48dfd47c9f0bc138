"""When is a target type good enough for a local one?  libbpf's three relations.

* field compatibility (field relocations): both aggregates; or same kind with
  names equal up to flavors for enums and forwards; ints without bit offsets;
  arrays by element type; pointers and floats always;
* type compatibility (type exists/size/id): same kind after modifiers and typedefs,
  recursing through pointers, arrays and function prototypes;
* type *matching* (``bpf_core_type_matches``): a stricter structural match where
  local members and enumerators must exist by name in the target and ints must have
  the same size and signedness.

Results are 1 (yes), 0 (no) or an ``EINVAL`` error for chains that are too deep.
"""

from __future__ import annotations

import errno

from ...errors import BpfError
from ..btf import Btf
from ..kinds import Kind
from ..resolve import skip_modifiers
from ..types import Array, Enum, Enum64, FuncProto, Fwd, Int, Ptr, Struct, Union
from .spec import essential_name

MAX_DEPTH = 32
_ENUMS = (Kind.ENUM, Kind.ENUM64)


def kinds_compatible(a: Kind, b: Kind) -> bool:
    """Same kind, or both enums (32- and 64-bit enums stand in for each other)."""
    return a == b or (a in _ENUMS and b in _ENUMS)


def _too_deep() -> BpfError:
    return BpfError(errno.EINVAL, "CO-RE type comparison nests too deep")


def types_are_compat(lbtf: Btf, lid: int, tbtf: Btf, tid: int, level: int = MAX_DEPTH) -> bool:
    """Type-based relocations: structurally compatible, names ignored below the root."""
    if not kinds_compatible(lbtf.kind(lid), tbtf.kind(tid)):
        return False
    for _ in range(MAX_DEPTH):
        lid = skip_modifiers(lbtf, lid)
        tid = skip_modifiers(tbtf, tid)
        lk, tk = lbtf.kind(lid), tbtf.kind(tid)
        if not kinds_compatible(lk, tk):
            return False
        lt, tt = lbtf[lid], tbtf[tid]
        if lk in (Kind.UNKN, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.FWD, Kind.ENUM64):
            return True
        if isinstance(lt, Int) and isinstance(tt, Int):
            return lt.offset == 0 and tt.offset == 0
        if isinstance(lt, Ptr) and isinstance(tt, Ptr):
            lid, tid = lt.type, tt.type
            continue
        if isinstance(lt, Array) and isinstance(tt, Array):
            lid, tid = lt.type, tt.type
            continue
        if isinstance(lt, FuncProto) and isinstance(tt, FuncProto):
            if len(lt.params) != len(tt.params):
                return False
            for lp, tp in zip(lt.params, tt.params, strict=True):
                if level <= 0:
                    raise _too_deep()
                if not types_are_compat(lbtf, skip_modifiers(lbtf, lp.type), tbtf,
                                        skip_modifiers(tbtf, tp.type), level - 1):  # fmt: skip
                    return False
            lid, tid = skip_modifiers(lbtf, lt.return_type), skip_modifiers(tbtf, tt.return_type)
            continue
        return False
    raise _too_deep()


def fields_are_compat(lbtf: Btf, lid: int, tbtf: Btf, tid: int) -> bool:
    """Field relocations: may the local member's type be read from the target's?"""
    for _ in range(MAX_DEPTH + 1):
        lid = skip_modifiers(lbtf, lid)
        tid = skip_modifiers(tbtf, tid)
        lt, tt = lbtf[lid], tbtf[tid]
        if isinstance(lt, Struct | Union) and isinstance(tt, Struct | Union):
            return True
        if not kinds_compatible(lt.kind, tt.kind):
            return False
        if isinstance(lt, Ptr) or lt.kind == Kind.FLOAT:
            return True
        if isinstance(lt, Fwd | Enum | Enum64):
            ln, tn = essential_name(lt.name), essential_name(tt.name)
            return not ln or not tn or ln == tn
        if isinstance(lt, Int) and isinstance(tt, Int):
            return lt.offset == 0 and tt.offset == 0
        if isinstance(lt, Array) and isinstance(tt, Array):
            lid, tid = lt.type, tt.type
            continue
        return False
    raise _too_deep()


def names_match(local: str, target: str) -> bool:
    """Names equal up to flavor suffixes; an anonymous target only matches anonymous."""
    if not target:
        return not local
    return essential_name(local) == essential_name(target)


def _enums_match(lt: Enum | Enum64, tt: Enum | Enum64) -> bool:
    if lt.size != tt.size or len(lt.values) > len(tt.values):
        return False
    return all(any(names_match(lv.name, tv.name) for tv in tt.values) for lv in lt.values)


def _composites_match(lbtf: Btf, lt: Struct | Union, tbtf: Btf, tt: Struct | Union, behind_ptr: bool, level: int) -> bool:
    if len(lt.members) > len(tt.members):
        return False
    for lm in lt.members:
        if not any(
            names_match(lm.name, tm.name) and types_match(lbtf, lm.type, tbtf, tm.type, behind_ptr, level - 1)
            for tm in tt.members
        ):
            return False
    return True


def types_match(lbtf: Btf, lid: int, tbtf: Btf, tid: int, behind_ptr: bool = False, level: int = MAX_DEPTH) -> bool:
    """``bpf_core_type_matches``: the local type's shape is found in the target."""
    if level <= 0:
        raise _too_deep()
    for _ in range(MAX_DEPTH):
        lid = skip_modifiers(lbtf, lid)
        tid = skip_modifiers(tbtf, tid)
        lt, tt = lbtf[lid], tbtf[tid]
        if not names_match(lt.name, tt.name):
            return False
        lk, tk = lt.kind, tt.kind
        if lk == Kind.UNKN:
            return tk == Kind.UNKN
        if isinstance(lt, Fwd):
            if tk == lk:
                return lt.union == tt.union  # type: ignore[union-attr]
            if behind_ptr:
                return (tk == Kind.STRUCT and not lt.union) or (tk == Kind.UNION and lt.union)
            return False
        if isinstance(lt, Enum | Enum64):
            return isinstance(tt, Enum | Enum64) and _enums_match(lt, tt)
        if isinstance(lt, Struct | Union):
            if behind_ptr:
                if lk == tk:
                    return True
                return isinstance(tt, Fwd) and tt.union == (lk == Kind.UNION)
            if lk != tk:
                return False
            return _composites_match(lbtf, lt, tbtf, tt, behind_ptr, level)  # type: ignore[arg-type]
        if isinstance(lt, Int):
            return isinstance(tt, Int) and lt.size == tt.size and lt.signed == tt.signed
        if isinstance(lt, Ptr):
            if not isinstance(tt, Ptr):
                return False
            behind_ptr = True
            lid, tid = lt.type, tt.type
            continue
        if isinstance(lt, Array):
            if not isinstance(tt, Array) or lt.nelems != tt.nelems:
                return False
            lid, tid = lt.type, tt.type
            continue
        if isinstance(lt, FuncProto):
            if not isinstance(tt, FuncProto) or len(lt.params) != len(tt.params):
                return False
            for lp, tp in zip(lt.params, tt.params, strict=True):
                if not types_match(lbtf, lp.type, tbtf, tp.type, behind_ptr, level - 1):
                    return False
            lid, tid = lt.return_type, tt.return_type
            continue
        return False
    raise _too_deep()
