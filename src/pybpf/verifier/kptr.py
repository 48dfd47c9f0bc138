"""Special fields of map values in the verifier: kptrs, and the fields no instruction
may touch.

A kptr is read with ``BPF_LDX`` (giving a possibly-NULL pointer of its struct), written
with ``BPF_STX`` (a pointer of exactly that struct, or NULL) or ``BPF_ST`` (only 0), always
as a double word at its own offset; a referenced kptr is never written directly, only
exchanged with ``bpf_kptr_xchg``.  Locks, timers and the other special fields may not be
loaded or stored at all.
"""

from __future__ import annotations

import errno
from typing import Any

from ..isa.opcodes import InsnClass, Mode
from ..kernel.regtypes import RegType, TypeFlag, base_type, type_flag
from ..maps.btfinfo import SpecialField
from ..maps.kptr import FIELD_NAMES, FIELD_SIZES, KptrField
from .btf_access import in_rcu_cs, mark_btf_ld_reg
from .env import Env
from .log import reg_type_str
from .state import RegState

RCU_PROTECTED = frozenset(
    {"prog_test_ref_kfunc", "cgroup", "bpf_cpumask", "task_struct", "bpf_crypto_ctx"}
)
"""Kernel structs freed only after an RCU grace period: a referenced kptr to one may be
loaded as an RCU pointer inside an RCU section (``rcu_protected_types``)."""

_KPTR_KINDS = (SpecialField.KPTR_UNREF, SpecialField.KPTR_REF, SpecialField.KPTR_PERCPU)


def map_kptrs(m: Any) -> tuple[KptrField, ...]:
    spec = getattr(m, "spec", None)
    if spec is None:
        return ()
    fields = getattr(m, "kptr_fields", None)
    if fields is not None:
        return tuple(fields)
    from ..maps.kptr import map_kptrs as of_spec

    return of_spec(spec)


def _special_fields(m: Any) -> tuple[tuple[SpecialField, int], ...]:
    from ..maps.kptr import record_fields

    return record_fields(getattr(m, "spec", None))


def find_kptr(m: Any, off: int) -> KptrField | None:
    for f in map_kptrs(m):
        if f.offset == off:
            return f
    return None


def check_map_fields(env: Env, reg: RegState, off: int, size: int, helper: bool) -> None:
    """No access may overlap a special field, but a direct double-word access exactly at
    a kptr (``check_map_access``)."""
    fields = _special_fields(reg.map)
    if not fields:
        return
    lo = reg.b.smin + off
    hi = reg.b.umax + off + size
    for kind, p in fields:
        fsize = FIELD_SIZES.get(kind, 8)
        if not (lo < p + fsize and p < hi):
            continue
        if kind in _KPTR_KINDS:
            if helper:
                raise env.eacces("kptr cannot be accessed indirectly by helper")
            vo = reg.b.var_off
            if vo.mask:
                raise env.eacces("kptr access cannot have variable offset")
            if p != off + vo.value:
                raise env.eacces(
                    f"kptr access misaligned expected={p} off={(off + vo.value) & ((1 << 64) - 1)}"
                )
            if size != 8:
                raise env.eacces("kptr access size must be BPF_DW")
            continue
        raise env.eacces(
            f"{FIELD_NAMES.get(kind, kind.value)} cannot be accessed directly by load/store"
        )


def kptr_at_access(reg: RegState, off: int) -> KptrField | None:
    """The kptr a constant-offset access to a map value lands on, if any."""
    if reg.b.var_off.mask:
        return None
    return find_kptr(reg.map, off + reg.b.var_off.value)


def _ld_kptr_type(env: Env, f: KptrField) -> int:
    rcu_safe = f.kind is SpecialField.KPTR_PERCPU or (
        f.kind is SpecialField.KPTR_REF and f.kernel and f.type_name in RCU_PROTECTED
    )
    flag = int(TypeFlag.PTR_MAYBE_NULL)
    if rcu_safe and in_rcu_cs(env):
        flag |= TypeFlag.MEM_RCU
        if f.kind is SpecialField.KPTR_PERCPU:
            flag |= TypeFlag.MEM_PERCPU
        elif not f.kernel:
            flag |= TypeFlag.MEM_ALLOC
        return flag
    return flag | TypeFlag.PTR_UNTRUSTED


def check_map_kptr_access(
    env: Env, regno: int, value_regno: int, insn_idx: int, f: KptrField
) -> None:
    """A load or store exactly at a kptr (``check_map_kptr_access``)."""
    from .precision import mark_chain_precision
    from .regs import register_is_null

    insn = env.insns[insn_idx]
    cls = insn.cls
    if insn.mode != Mode.MEM:
        raise env.eacces("kptr in map can only be accessed using BPF_MEM instruction mode")
    if cls != InsnClass.LDX and f.referenced:
        raise env.eacces("store to referenced kptr disallowed")
    regs = env.regs
    if cls == InsnClass.LDX:
        mark_btf_ld_reg(
            env, regs, value_regno, RegType.PTR_TO_BTF_ID, f.btf, f.btf_id, _ld_kptr_type(env, f)
        )
        return
    if cls == InsnClass.STX:
        val = regs[value_regno]
        if register_is_null(val):
            mark_chain_precision(env, value_regno)
            return
        map_kptr_match_type(env, f, val, value_regno)
        return
    if cls == InsnClass.ST:
        if insn.imm:
            raise env.eacces(f"BPF_ST imm must be 0 when storing to kptr at off={f.offset}")
        return
    raise env.eacces("kptr in map can only be accessed using BPF_LDX/BPF_STX/BPF_ST")


def _bad_type(env: Env, f: KptrField, reg: RegState, regno: int, reg_name: str) -> Exception:
    targ = f.btf.name_of(f.btf_id)
    text = (
        f"invalid kptr access, R{regno} type={reg_type_str(reg.type)}{reg_name} "
        f"expected={reg_type_str(RegType.PTR_TO_BTF_ID)}{targ}"
    )
    if f.kind is SpecialField.KPTR_UNREF:
        text += f" or {reg_type_str(RegType.PTR_TO_BTF_ID | TypeFlag.PTR_UNTRUSTED)}{targ}"
    return env.error(errno.EACCES, text)


def map_kptr_match_type(env: Env, f: KptrField, reg: RegState, regno: int) -> None:
    """A pointer stored into (or exchanged with) a kptr must be of exactly its type."""
    from ..kernel.vmlinux import kernel_btf
    from .kfunc import _types_match
    from .mem import check_ptr_off_reg

    if base_type(reg.type) != RegType.PTR_TO_BTF_ID:
        raise _bad_type(env, f, reg, regno, "")
    if reg.btf is kernel_btf():
        perm = TypeFlag.PTR_MAYBE_NULL | TypeFlag.PTR_TRUSTED | TypeFlag.MEM_RCU
        if f.kind is SpecialField.KPTR_UNREF:
            perm |= TypeFlag.PTR_UNTRUSTED
    else:
        perm = TypeFlag.PTR_MAYBE_NULL | TypeFlag.MEM_ALLOC
        if f.kind is SpecialField.KPTR_PERCPU:
            perm |= TypeFlag.MEM_PERCPU
    if type_flag(reg.type) & ~int(perm):
        raise _bad_type(env, f, reg, regno, "")
    if (f.kind is SpecialField.KPTR_PERCPU) != bool(reg.type & TypeFlag.MEM_PERCPU):
        raise _bad_type(env, f, reg, regno, "")
    reg_name = reg.btf.name_of(reg.btf_id) if reg.btf is not None else ""
    check_ptr_off_reg(env, reg, regno, True)
    strict = f.kind is not SpecialField.KPTR_UNREF
    if reg.btf is not f.btf or not _types_match(f.btf, reg.btf_id, reg.off, f.btf_id, strict):
        raise _bad_type(env, f, reg, regno, reg_name)


# --- bpf_kptr_xchg ----------------------------------------------------------------------


def process_kptr_func(env: Env, regno: int) -> KptrField:
    """The kptr ``bpf_kptr_xchg``'s destination argument points to."""
    reg = env.regs[regno]
    m = reg.map
    if m is None or getattr(m.spec, "btf", None) is None:
        name = getattr(getattr(m, "spec", None), "name", "")
        raise env.einval(f"map '{name}' has to have BTF in order to use bpf_kptr_xchg")
    if reg.b.var_off.mask:
        raise env.einval(
            f"R{regno} doesn't have constant offset. kptr has to be at the constant offset"
        )
    fields = map_kptrs(m)
    if not fields:
        raise env.einval(f"R{regno} has no valid kptr")
    off = reg.off + reg.b.var_off.value
    f = find_kptr(m, off)
    if f is None:
        raise env.eacces(f"off={off} doesn't point to kptr")
    if not f.referenced:
        raise env.eacces(f"off={off} kptr isn't referenced kptr")
    return f
