"""CO-RE relocation: from a local type and access string to the value for the target.

For each relocation the local spec is parsed, candidate target types are those
whose kind fits and whose name is the local name up to ``___flavor`` suffixes (the
main target first; module BTFs only when the main one has none), each candidate is
matched, and all matching candidates must agree.  No match gives the "not found"
value (0 for existence and type relocations) or a *poison* decision, which a loader
turns into a call to the invalid helper ``0xbad2310`` so that the program fails
only if the instruction is reachable.

Candidate lists are kept per local type for one object and shrink to the
candidates that matched, as libbpf does; use one :class:`CoreRelocator` per object.
"""

from __future__ import annotations

import errno
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

from ...errors import BpfError
from ..btf import Btf
from ..ext import CoreRelo, CoreReloKind
from ..resolve import resolve_size, skip_modifiers
from ..types import Array, Enum, Enum64, Int, Ptr, Struct, Union
from .compat import fields_are_compat, kinds_compatible, types_are_compat, types_match
from .spec import (
    SPEC_MAX_LEN,
    Accessor,
    CoreSpec,
    essential_name,
    is_flex_array,
    kind_word,
    parse_spec,
)

POISON_IMM = 0xBAD2310
"""The helper id a poisoned instruction calls (the verifier says ``invalid func unknown#195896080``)."""


@dataclass(frozen=True, slots=True)
class CoreTarget:
    """Where target types come from: the main BTF (vmlinux or a replacement) and,
    searched only when it has no candidate, kernel module BTFs split on it."""

    main: Btf
    modules: tuple[tuple[str, Btf], ...] = ()


@dataclass(frozen=True, slots=True)
class Candidate:
    btf: Btf
    type_id: int


@dataclass(frozen=True, slots=True)
class CoreResult:
    """The decision for one relocation (libbpf's ``bpf_core_relo_res``).

    ``orig_val`` is what the compiler put in the instruction (checked when
    ``validate``), ``new_val`` what goes there now; ``poison`` means replace the
    instruction with a call to helper :data:`POISON_IMM`.  For memory accesses,
    ``orig_sz``/``new_sz`` are field sizes: when they differ the access size changes,
    or the access is poisoned when ``fail_memsz_adjust``.
    """

    orig_val: int = 0
    new_val: int = 0
    poison: bool = False
    validate: bool = True
    fail_memsz_adjust: bool = False
    orig_sz: int = 0
    new_sz: int = 0
    orig_type_id: int = 0
    new_type_id: int = 0


@dataclass(frozen=True, slots=True)
class CoreResolution:
    """A result with the specs it came from and the debug lines libbpf would log."""

    result: CoreResult
    local_spec: CoreSpec
    target_spec: CoreSpec | None
    log: tuple[str, ...] = ()


class CoreReloError(BpfError):
    """A relocation libbpf would refuse (and with it the object); ``log`` holds the
    lines logged before the failure."""

    def __init__(self, err: int, message: str, log: tuple[str, ...] = ()) -> None:
        super().__init__(err, message)
        self.log = log


class _Poison(Exception):
    """Internal: the relocation cannot be computed for a missing target."""


_ESSENTIAL: weakref.WeakKeyDictionary[Btf, tuple[int, dict[str, list[int]]]] = weakref.WeakKeyDictionary()


def _by_essential_name(btf: Btf) -> dict[str, list[int]]:
    """This BTF's own named types grouped by essential name (built once per BTF size)."""
    cached = _ESSENTIAL.get(btf)
    if cached is not None and cached[0] == len(btf):
        return cached[1]
    index: dict[str, list[int]] = {}
    for type_id in btf.own_ids():
        name = btf.name_of_id(type_id)
        if name:
            index.setdefault(essential_name(name), []).append(type_id)
    _ESSENTIAL[btf] = (len(btf), index)
    return index


def find_candidates(local: Btf, local_id: int, target: CoreTarget) -> list[Candidate]:
    """Target types with a compatible kind and the same essential name, in id order
    (the main target's, else every module's)."""
    t = local[local_id]
    if not t.name:
        raise BpfError(errno.EINVAL, f"candidate search for anonymous type [{local_id}]")
    want = essential_name(t.name)

    def scan(btf: Btf, with_base: bool) -> list[Candidate]:
        ids: list[int] = []
        chain: Btf | None = btf
        while chain is not None:
            ids += _by_essential_name(chain).get(want, [])
            chain = chain.base if with_base else None
        return [Candidate(btf, i) for i in sorted(ids) if kinds_compatible(btf.kind(i), t.kind)]

    cands = scan(target.main, True)
    if cands:
        return cands
    for _, mod in target.modules:
        cands += scan(mod, False)
    return cands


def _size(btf: Btf, type_id: int) -> int:
    return resolve_size(btf, type_id)


def _match_member(lspec: CoreSpec, lacc: Accessor, tbtf: Btf, tid: int, spec: CoreSpec) -> tuple[int, int]:
    """Find the local named member in target aggregate ``tid`` (looking inside
    anonymous members); returns (1, member type) on a compatible match, (0, 0) if
    none.  ``spec`` grows with the path taken."""
    tid = skip_modifiers(tbtf, tid)
    tt = tbtf[tid]
    if not isinstance(tt, Struct | Union):
        return 0, 0
    lt = lspec.btf[lacc.type_id]
    assert isinstance(lt, Struct | Union)
    lmember = lt.members[lacc.idx]
    for i, m in enumerate(tt.members):
        if len(spec.raw) == SPEC_MAX_LEN:
            raise BpfError(errno.E2BIG, "CO-RE access nests too deep")
        spec.bit_offset += m.offset
        spec.raw.append(i)
        if not m.name:
            found, next_id = _match_member(lspec, lacc, tbtf, m.type, spec)
            if found:
                return found, next_id
        elif m.name == lmember.name:
            spec.accessors.append(Accessor(tid, i, m.name))
            if fields_are_compat(lspec.btf, lmember.type, tbtf, m.type):
                return 1, m.type
            spec.accessors.pop()
            return 0, 0
        spec.bit_offset -= m.offset
        spec.raw.pop()
    return 0, 0


def match_spec(local: CoreSpec, tbtf: Btf, tid: int) -> tuple[bool, CoreSpec]:
    """Match ``local`` against candidate ``tid``: (matched, target spec).  On a miss
    the spec holds what was matched so far, which is what libbpf logs."""
    spec = CoreSpec(tbtf, tid, local.kind)
    kind = local.kind
    if kind.is_type:
        if kind == CoreReloKind.TYPE_MATCHES:
            ok = types_match(local.btf, local.root_type_id, tbtf, tid)
        else:
            ok = types_are_compat(local.btf, local.root_type_id, tbtf, tid)
        return ok, spec
    if kind.is_enumval:
        tid = skip_modifiers(tbtf, tid)
        tt = tbtf[tid]
        if not isinstance(tt, Enum | Enum64):
            return False, spec
        want = essential_name(local.accessors[0].name or "")
        for i, v in enumerate(tt.values):
            if essential_name(v.name) == want:
                spec.accessors.append(Accessor(tid, i, v.name))
                spec.raw.append(i)
                return True, spec
        return False, spec
    for i, lacc in enumerate(local.accessors):
        tid = skip_modifiers(tbtf, tid)
        tt = tbtf[tid]
        if lacc.name is not None:
            found, tid = _match_member(local, lacc, tbtf, tid, spec)
            if not found:
                return False, spec
            continue
        if i > 0:
            if not isinstance(tt, Array):
                return False, spec
            if not is_flex_array(tbtf, spec.accessors[-1], tt) and lacc.idx >= tt.nelems:
                return False, spec
            tid = skip_modifiers(tbtf, tt.type)
        if len(spec.raw) == SPEC_MAX_LEN:
            raise BpfError(errno.E2BIG, "CO-RE access nests too deep")
        spec.accessors.append(Accessor(tid, lacc.idx))
        spec.raw.append(lacc.idx)
        spec.bit_offset += lacc.idx * _size(tbtf, tid) * 8
    return True, spec


@dataclass(slots=True)
class _FieldValue:
    val: int = 0
    field_sz: int = 0
    type_id: int = 0
    validate: bool = True


def _field_value(relo: CoreRelo, spec: CoreSpec | None) -> _FieldValue:
    kind = relo.kind
    if kind == CoreReloKind.FIELD_EXISTS:
        return _FieldValue(1 if spec else 0)
    if spec is None:
        raise _Poison
    btf = spec.btf
    acc = spec.accessors[-1]
    if acc.name is None:
        size = _size(btf, acc.type_id)
        if kind == CoreReloKind.FIELD_BYTE_OFFSET:
            return _FieldValue(spec.bit_offset // 8, size, acc.type_id)
        if kind == CoreReloKind.FIELD_BYTE_SIZE:
            return _FieldValue(size)
        raise BpfError(errno.EINVAL, f"relo {int(kind)} at insn #{relo.insn} can't be applied to array access")
    t = btf[acc.type_id]
    assert isinstance(t, Struct | Union)
    m = t.members[acc.idx]
    ftype = skip_modifiers(btf, m.type)
    mt = btf[ftype]
    bit_off = spec.bit_offset
    bit_sz = m.bitfield_size
    bitfield = bit_sz > 0
    if bitfield:
        byte_sz = getattr(mt, "size", 0)
        if not byte_sz:
            raise BpfError(errno.EINVAL, f"bitfield of type [{ftype}] without size")
        byte_off = bit_off // 8 // byte_sz * byte_sz
        while bit_off + bit_sz - byte_off * 8 > byte_sz * 8:
            if byte_sz >= 8:
                raise BpfError(errno.E2BIG, f"relo {int(kind)} at insn #{relo.insn} can't be satisfied for bitfield")
            byte_sz *= 2
            byte_off = bit_off // 8 // byte_sz * byte_sz
    else:
        byte_sz = _size(btf, ftype)
        byte_off = bit_off // 8
        bit_sz = byte_sz * 8
    out = _FieldValue(validate=not bitfield)
    if kind == CoreReloKind.FIELD_BYTE_OFFSET:
        out.val = byte_off
        if not bitfield:
            out.field_sz, out.type_id = byte_sz, ftype
    elif kind == CoreReloKind.FIELD_BYTE_SIZE:
        out.val = byte_sz
    elif kind == CoreReloKind.FIELD_SIGNED:
        out.val = int((isinstance(mt, Enum | Enum64) and mt.signed) or (isinstance(mt, Int) and mt.signed))
        out.validate = True
    elif kind == CoreReloKind.FIELD_LSHIFT_U64:
        out.val = 64 - (bit_off + bit_sz - byte_off * 8)
    elif kind == CoreReloKind.FIELD_RSHIFT_U64:
        out.val = 64 - bit_sz
        out.validate = True
    return out


def _type_value(relo: CoreRelo, spec: CoreSpec | None) -> int:
    if spec is None:
        return 0
    if relo.kind == CoreReloKind.TYPE_ID_TARGET:
        return spec.root_type_id
    if relo.kind in (CoreReloKind.TYPE_EXISTS, CoreReloKind.TYPE_MATCHES):
        return 1
    if relo.kind == CoreReloKind.TYPE_SIZE:
        return _size(spec.btf, spec.root_type_id)
    raise BpfError(errno.EOPNOTSUPP, f"unrecognized CO-RE relocation {relo.kind.label}")


def _enum_value(relo: CoreRelo, spec: CoreSpec | None) -> int:
    if relo.kind == CoreReloKind.ENUMVAL_EXISTS:
        return 1 if spec else 0
    if spec is None:
        raise _Poison
    acc = spec.accessors[0]
    t = spec.btf[acc.type_id]
    assert isinstance(t, Enum | Enum64)
    v = t.values[acc.idx].value
    if isinstance(t, Enum):  # the 32-bit value is widened as a signed number
        w = v & 0xFFFFFFFF
        return w | 0xFFFFFFFF00000000 if w & 0x80000000 else w
    return v & ((1 << 64) - 1)


def calc_relo(relo: CoreRelo, local: CoreSpec, target: CoreSpec | None) -> CoreResult:
    """Original and new values for one (local, target) pair; poison on a miss."""
    kind = relo.kind
    try:
        if kind.is_field:
            orig = _field_value(relo, local)
            new = _field_value(relo, target)
            fail = False
            if orig.field_sz != new.field_sz and target is not None:
                ot, nt = local.btf[orig.type_id], target.btf[new.type_id]
                both_ptr = isinstance(ot, Ptr) and isinstance(nt, Ptr)
                both_unsigned = (isinstance(ot, Int) and isinstance(nt, Int)
                                 and ot.encoding != 1 and nt.encoding != 1)  # fmt: skip
                fail = not both_ptr and not both_unsigned
            return CoreResult(orig.val, new.val, False, orig.validate, fail, orig.field_sz, new.field_sz,
                              orig.type_id, new.type_id)  # fmt: skip
        if kind.is_type:
            validate = kind != CoreReloKind.TYPE_ID_TARGET
            return CoreResult(_type_value(relo, local), _type_value(relo, target), validate=validate)
        return CoreResult(_enum_value(relo, local), _enum_value(relo, target))
    except _Poison:
        return CoreResult(poison=True, validate=kind not in (CoreReloKind.TYPE_ID_TARGET,))


@dataclass
class CoreRelocator:
    """Resolves the CO-RE relocations of one object against one target."""

    local: Btf
    target: CoreTarget
    prog_name: str = ""
    _cands: dict[int, list[Candidate]] = field(default_factory=dict)

    def resolve(self, relo: CoreRelo, relo_idx: int = 0) -> CoreResolution:
        """The decision for ``relo`` (the ``relo_idx``-th of its section, for the log)."""
        log: list[str] = []
        p = f"prog '{self.prog_name}': relo #{relo_idx}: "
        local_t = self.local.get(relo.type_id)
        if local_t is None:
            raise BpfError(errno.EINVAL, f"{p}relocation of missing type [{relo.type_id}]")
        try:
            lspec = parse_spec(self.local, relo)
        except BpfError as exc:
            name = local_t.name or "<anon>"
            raise BpfError(errno.EINVAL, f"{p}parsing [{relo.type_id}] {kind_word(self.local, relo.type_id)} "
                           f"{name} + {relo.access} failed: {exc.message}") from None  # fmt: skip
        log.append(p + lspec.format())
        if relo.kind == CoreReloKind.TYPE_ID_LOCAL:
            res = CoreResult(relo.type_id, relo.type_id, validate=False)
            return CoreResolution(res, lspec, None, tuple(log))
        if not local_t.name:
            raise BpfError(errno.EOPNOTSUPP, f"{p}<{relo.kind.label}> ({int(relo.kind)}) relocation doesn't "
                           "support anonymous types")  # fmt: skip
        cands = self._cands.get(relo.type_id)
        if cands is None:
            cands = find_candidates(self.local, relo.type_id, self.target)
            self._cands[relo.type_id] = cands
        kept: list[Candidate] = []
        best: CoreResult | None = None
        best_spec: CoreSpec | None = None
        for i, cand in enumerate(cands):
            matched, cspec = match_spec(lspec, cand.btf, cand.type_id)
            log.append(f"{p}{'matching' if matched else 'non-matching'} candidate #{i} {cspec.format()}")
            if not matched:
                continue
            res = calc_relo(relo, lspec, cspec)
            if best is None:
                best, best_spec = res, cspec
            elif best_spec is not None and cspec.bit_offset != best_spec.bit_offset:
                raise CoreReloError(errno.EINVAL, f"{p}field offset ambiguity: {cspec.bit_offset} != "
                                    f"{best_spec.bit_offset}", tuple(log))  # fmt: skip
            elif res.poison != best.poison or res.new_val != best.new_val:
                raise CoreReloError(errno.EINVAL, f"{p}relocation decision ambiguity: "
                                    f"{'failure' if res.poison else 'success'} {res.new_val} != "
                                    f"{'failure' if best.poison else 'success'} {best.new_val}", tuple(log))  # fmt: skip
            kept.append(cand)
        if kept:
            self._cands[relo.type_id] = kept
        if best is None:
            log.append(f"{p}no matching targets found")
            best = calc_relo(relo, lspec, None)
        return CoreResolution(best, lspec, best_spec, tuple(log))


def resolve_relos(local: Btf, relos: Sequence[CoreRelo], target: CoreTarget, prog_name: str = "") -> list[CoreResolution]:
    """Every relocation of a sequence, in order, with shared candidate lists."""
    r = CoreRelocator(local, target, prog_name)
    return [r.resolve(relo, i) for i, relo in enumerate(relos)]
