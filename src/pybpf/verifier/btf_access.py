"""Loads through BTF-typed kernel pointers and through a map pointer.

A ``PTR_TO_BTF_ID`` register points to a kernel object whose layout the kernel BTF
describes.  A load from it is allowed where the BTF has a field of that size: it gives
a scalar, or, for a pointer member to a struct, another typed pointer whose trust
(trusted, RCU, untrusted) follows the kernel's rules.  Stores are allowed only where a
program type registers a write rule (:func:`register_btf_write_access`); tracing has
none.  A map pointer reads as the struct the kernel uses for that map type.

:func:`btf_struct_walk` and :func:`btf_struct_access` are the BTF side
(``kernel/bpf/btf.c``); :func:`check_ptr_to_btf_access` and
:func:`check_ptr_to_map_access` the verifier side.  Other subsystems (iterators,
struct_ops) call :func:`btf_struct_access` with the signature below.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..btf import Array, Btf, Enum64, Float, Int, Ptr, Struct, TypeTag, Union
from ..btf import Enum as BtfEnum
from ..btf.types import is_modifier
from ..kernel.progtypes import ProgType
from ..kernel.regtypes import RegType, TypeFlag, base_type, type_flag
from . import tnum
from .env import Env, VerifierError
from .log import reg_type_str
from .state import RegState

PTR_UNTRUSTED = TypeFlag.PTR_UNTRUSTED
PTR_TRUSTED = TypeFlag.PTR_TRUSTED
MEM_RCU = TypeFlag.MEM_RCU
MEM_ALLOC = TypeFlag.MEM_ALLOC
MEM_USER = TypeFlag.MEM_USER
MEM_PERCPU = TypeFlag.MEM_PERCPU
PTR_MAYBE_NULL = TypeFlag.PTR_MAYBE_NULL
NON_OWN_REF = TypeFlag.NON_OWN_REF
TRUSTED_MODIFIERS = int(MEM_ALLOC | PTR_TRUSTED | NON_OWN_REF)
MAX_RESOLVE_DEPTH = 32
U32_MAX = 0xFFFFFFFF
ENOTSUPP = 524  # the kernel's internal 'operation not supported'


class Walk(Enum):
    """What one step of a walk found at the offset."""

    SCALAR = 0
    PTR = 1
    STRUCT = 2


@dataclass(frozen=True, slots=True)
class StructAccess:
    """The result of an access: the loaded register's type (``SCALAR_VALUE`` or
    ``PTR_TO_BTF_ID``), and for a pointer its BTF id, flags and the member's name."""

    reg_type: int
    btf_id: int = 0
    flag: int = 0
    field_name: str = ""


class BtfAccessError(Exception):
    """A refused access: errno and the kernel's log line."""

    def __init__(self, err: int, message: str) -> None:
        super().__init__(message)
        self.errno = err
        self.message = message


# --- the BTF side ------------------------------------------------------------------------


def _skip_mods(btf: Btf, type_id: int) -> int:
    for _ in range(MAX_RESOLVE_DEPTH):
        t = btf[type_id]
        if not is_modifier(t):
            return type_id
        type_id = t.type  # type: ignore[union-attr]
    return type_id


def _resolve_size(btf: Btf, type_id: int) -> tuple[int, int, int, int, int, int] | None:
    """A member type's total size, through modifiers and (flattened) arrays.

    Returns (resolved id, total size, element id, element nelems, element type id under
    modifiers, the id the walk continues with), or None for a type without a size.
    """
    array_id = 0
    elem_array_type = 0
    nelems = 1
    cur = type_id
    mod_id = 0
    for _ in range(MAX_RESOLVE_DEPTH):
        t = btf[cur]
        if isinstance(t, Int | Struct | Union | BtfEnum | Enum64 | Float):
            size = t.size
            break
        if isinstance(t, Ptr):
            size = 8
            break
        if is_modifier(t):
            mod_id = t.type  # type: ignore[union-attr]
            cur = mod_id
            continue
        if isinstance(t, Array):
            if not array_id:
                array_id = cur
            if nelems and t.nelems > U32_MAX // nelems:
                return None
            nelems *= t.nelems
            elem_array_type = t.type
            cur = t.type
            continue
        return None
    else:
        return None
    if nelems and size > U32_MAX // nelems:
        return None
    resolved = array_id or cur
    continue_id = mod_id or type_id
    return resolved, nelems * size, elem_array_type, nelems, cur, continue_id


def _is_struct(t: object) -> bool:
    return isinstance(t, Struct | Union)


@dataclass(frozen=True, slots=True)
class _Step:
    kind: Walk
    next_id: int = 0
    flag: int = 0
    field_name: str = ""


def btf_struct_walk(
    btf: Btf, type_id: int, off: int, size: int, flag: int, walk_flex: bool
) -> _Step:
    """Find what ``size`` bytes at ``off`` of type ``type_id`` are; BtfAccessError if
    nothing there can be read at that size."""
    tid = type_id
    while True:
        tid = _skip_mods(btf, tid)
        t = btf[tid]
        tname = t.name if hasattr(t, "name") else ""
        if not _is_struct(t):
            raise BtfAccessError(errno.EINVAL, f"Type '{tname}' is not a struct")
        assert isinstance(t, Struct | Union)
        members = t.members
        if isinstance(t, Union) and len(members) != 1 and not flag & PTR_UNTRUSTED:
            flag |= PTR_UNTRUSTED  # only single-member unions keep their pointers' trust
        if off + size > t.size:
            nxt = _flex_tail(btf, t, off, walk_flex)
            if nxt is None:
                raise BtfAccessError(
                    errno.EACCES, f"access beyond struct {tname} at off {off & U32_MAX} size {size}"
                )
            if nxt[0] == -1:
                return _Step(Walk.SCALAR, flag=flag)
            tid, off = nxt
            continue
        step = _walk_members(btf, t, tname, off, size, flag)
        if isinstance(step, _Step):
            return step
        tid, off = step  # an embedded struct the offset falls inside


def _flex_tail(btf: Btf, t: Struct | Union, off: int, walk_flex: bool) -> tuple[int, int] | None:
    """Past the end of a struct: inside a trailing flexible array, the element to walk
    (``(-1, 0)`` for a scalar element); None if the access is simply out of bounds."""
    if not walk_flex or not t.members:
        return None
    last = t.members[-1]
    aid = _skip_mods(btf, last.type)
    arr = btf[aid]
    if not isinstance(arr, Array) or arr.nelems != 0:
        return None
    moff = last.offset // 8
    if off < moff:
        return None
    eid = _skip_mods(btf, arr.type)
    elem = btf[eid]
    if isinstance(elem, Int):
        return (-1, 0)
    if not _is_struct(elem) or not elem.size:  # type: ignore[union-attr]
        return None
    return eid, (off - moff) % elem.size  # type: ignore[union-attr]


def _walk_members(
    btf: Btf, t: Struct | Union, tname: str, off: int, size: int, flag: int
) -> _Step | tuple[int, int]:
    for member in t.members:
        moff = member.offset // 8
        if off + size <= moff:
            break
        if member.bitfield_size:
            end_bit = member.offset + member.bitfield_size
            if off <= moff and (end_bit + 7) // 8 <= off + size:
                return _Step(Walk.SCALAR, flag=flag)
            continue
        if off < moff:
            break
        mname = member.name
        res = _resolve_size(btf, member.type)
        if res is None:
            raise BtfAccessError(errno.EFAULT, f"field {mname} doesn't have size")
        resolved, msize, elem_id, nelems, elem_under, mid = res
        mtype = btf[resolved]
        mtrue_end = moff + msize
        if off >= mtrue_end:
            continue
        if isinstance(mtype, Array):
            if moff == mtrue_end:
                continue
            msize //= nelems
            moff += (off - moff) // msize * msize
            mtype = btf[elem_under]
            mid = elem_id
        if _is_struct(mtype):
            if off == moff:
                return _Step(Walk.STRUCT, next_id=mid, flag=flag)
            return mid, off - moff
        if isinstance(mtype, Ptr):
            if msize != size or off != moff:
                raise BtfAccessError(
                    errno.EACCES,
                    f"cannot access ptr member {mname} with moff {moff} in struct {tname} "
                    f"with off {off} size {size}",
                )
            tag_flag = 0
            pointee = btf[mtype.type]
            if isinstance(pointee, TypeTag):
                tag_flag = {"user": MEM_USER, "percpu": MEM_PERCPU, "rcu": MEM_RCU}.get(
                    pointee.name, 0
                )
            sid = _skip_mods(btf, mtype.type)
            if _is_struct(btf[sid]):
                return _Step(Walk.PTR, next_id=sid, flag=flag | tag_flag, field_name=mname)
        if off + size > mtrue_end and not flag & PTR_UNTRUSTED:
            raise BtfAccessError(
                errno.EACCES,
                f"access beyond the end of member {mname} (mend:{mtrue_end}) in struct {tname} "
                f"with off {off} size {size}",
            )
        return _Step(Walk.SCALAR, flag=flag)
    raise BtfAccessError(errno.EINVAL, f"struct {tname} doesn't have field at offset {off}")


def _is_alloc(t: int) -> bool:
    return bool(t & MEM_ALLOC)


def btf_struct_access(env: Env, reg: RegState, off: int, size: int, write: bool) -> StructAccess:
    """What a ``size``-byte access at ``off`` through ``reg`` (a BTF pointer) reads.

    Raises the verifier error (logged) for an access the BTF does not allow.
    """
    btf: Btf = reg.btf
    tid = reg.btf_id
    flag = 0
    walk_flex = not _is_alloc(reg.type)
    try:
        while True:
            step = btf_struct_walk(btf, tid, off, size, flag, walk_flex)
            flag = step.flag
            if step.kind == Walk.STRUCT:
                tid, off = step.next_id, 0
                continue
            if step.kind == Walk.SCALAR or _is_alloc(reg.type):
                return StructAccess(RegType.SCALAR_VALUE)
            return StructAccess(RegType.PTR_TO_BTF_ID, step.next_id, step.flag, step.field_name)
    except BtfAccessError as exc:
        raise env.error(exc.errno, exc.message) from None


# --- which nested pointers keep their parent's trust ------------------------------------

# (struct, member) -> the pointee struct, for members the kernel lists as safe
_SAFE_RCU: dict[tuple[str, str], str] = {
    ("task_struct", "cpus_ptr"): "cpumask",
    ("task_struct", "cgroups"): "css_set",
    ("task_struct", "real_parent"): "task_struct",
    ("task_struct", "group_leader"): "task_struct",
    ("cgroup", "kn"): "kernfs_node",
    ("css_set", "dfl_cgrp"): "cgroup",
}
_SAFE_RCU_OR_NULL: dict[tuple[str, str], str] = {
    ("mm_struct", "exe_file"): "file",
    ("sk_buff", "sk"): "sock",
    ("request_sock", "sk"): "sock",
}
_SAFE_TRUSTED: dict[tuple[str, str], str] = {
    ("bpf_iter_meta", "seq"): "seq_file",
    ("bpf_iter__task", "meta"): "bpf_iter_meta",
    ("bpf_iter__task", "task"): "task_struct",
    ("linux_binprm", "file"): "file",
    ("file", "f_inode"): "inode",
    ("dentry", "d_inode"): "inode",
}
_SAFE_TRUSTED_OR_NULL: dict[tuple[str, str], str] = {
    ("socket", "sk"): "sock",
}


def register_safe_trusted(struct: str, member: str, pointee: str) -> None:
    """Let another subsystem (an iterator context, say) mark a member as trusted."""
    _SAFE_TRUSTED[(struct, member)] = pointee


def _listed(table: dict[tuple[str, str], str], reg: RegState, field_name: str, btf_id: int) -> bool:
    btf: Btf = reg.btf
    want = table.get((btf.name_of(reg.btf_id), field_name))
    return want is not None and btf.name_of(btf_id) == want


def in_sleepable(env: Env) -> bool:
    return bool(getattr(env, "sleepable", False)) or (
        env.cur_state is not None and env.state.in_sleepable
    )


def in_rcu_cs(env: Env) -> bool:
    st = env.state
    return bool(st.active_rcu_lock) or st.active_lock is not None or not in_sleepable(env)


_REG2BTF = (
    RegType.PTR_TO_SOCKET,
    RegType.PTR_TO_SOCK_COMMON,
    RegType.PTR_TO_TCP_SOCK,
    RegType.PTR_TO_XDP_SOCK,
)


def has_unsafe_modifiers(t: int) -> bool:
    return bool(type_flag(t) & ~TRUSTED_MODIFIERS)


def is_trusted_reg(reg: RegState) -> bool:
    """Referenced, a socket type, or flagged trusted with no unsafe modifier."""
    if reg.ref_obj_id:
        return True
    if base_type(reg.type) in _REG2BTF and not has_unsafe_modifiers(reg.type):
        return True
    return bool(type_flag(reg.type) & TRUSTED_MODIFIERS) and not has_unsafe_modifiers(reg.type)


def is_rcu_reg(reg: RegState) -> bool:
    return bool(reg.type & MEM_RCU)


def _clear_trusted(flag: int) -> int:
    return flag & ~(TRUSTED_MODIFIERS | MEM_RCU)


def nested_flag(env: Env, reg: RegState, acc: StructAccess) -> int:
    """The flags of a pointer loaded from a BTF pointer (trust rules of the kernel)."""
    flag = acc.flag
    if reg.type & PTR_UNTRUSTED:
        return int(PTR_UNTRUSTED)
    if not (is_trusted_reg(reg) or is_rcu_reg(reg)):
        return _clear_trusted(flag)
    name, bid = acc.field_name, acc.btf_id
    if _listed(_SAFE_TRUSTED, reg, name, bid):
        return flag | PTR_TRUSTED
    if _listed(_SAFE_TRUSTED_OR_NULL, reg, name, bid):
        return flag | PTR_TRUSTED | PTR_MAYBE_NULL
    if in_rcu_cs(env) and not reg.type & PTR_MAYBE_NULL:
        rcu_or_null = _listed(_SAFE_RCU_OR_NULL, reg, name, bid)
        if _listed(_SAFE_RCU, reg, name, bid):
            return flag | MEM_RCU
        if flag & MEM_RCU or rcu_or_null:
            flag |= MEM_RCU | PTR_MAYBE_NULL
            if rcu_or_null and flag & PTR_UNTRUSTED:
                flag &= ~PTR_UNTRUSTED
            return flag
        if flag & (MEM_PERCPU | MEM_USER):
            return flag
        return _clear_trusted(flag)
    return int(PTR_UNTRUSTED)


def mark_btf_ld_reg(
    env: Env, regs: Any, regno: int, reg_type: int, btf: Btf, btf_id: int, flag: int
) -> None:
    """The loaded register: an unknown scalar, or a typed pointer (with an id when it
    may be NULL, so that a NULL check can tell it apart)."""
    from .regs import mark_reg_known_zero, mark_reg_unknown

    if reg_type == RegType.SCALAR_VALUE:
        mark_reg_unknown(env, regs, regno)
        return
    mark_reg_known_zero(regs, regno)
    r = regs[regno]
    r.type = RegType.PTR_TO_BTF_ID | flag
    r.btf = btf
    r.btf_id = btf_id
    if flag & PTR_MAYBE_NULL:
        r.id = env.new_id()


# --- stores through BTF pointers ---------------------------------------------------------

BtfWriteAccess = Callable[[Env, RegState, int, int], None]
"""A program type's rule for stores through a BTF pointer: raises to refuse."""

_WRITE_ACCESS: dict[ProgType, BtfWriteAccess] = {}


def register_btf_write_access(prog_type: ProgType, fn: BtfWriteAccess) -> None:
    """Let a program type (struct_ops, tc) allow some stores (``ops->btf_struct_access``)."""
    _WRITE_ACCESS[prog_type] = fn


# --- the verifier side -------------------------------------------------------------------


def _type_name(btf: Btf, type_id: int) -> str:
    return btf.name_of(type_id)


def check_ptr_to_btf_access(
    env: Env, regs: Any, regno: int, off: int, size: int, write: bool, value_regno: int
) -> None:
    reg: RegState = regs[regno]
    btf: Btf | None = reg.btf
    if btf is None:
        raise env.eacces(f"R{regno} invalid mem access '{reg_type_str(reg.type)}'")
    tname = _type_name(btf, reg.btf_id)
    if not env.options.allow_ptr_leaks:
        raise env.error(
            errno.EPERM, f"'struct {tname}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN"
        )
    if not env.options.gpl and _is_kernel_btf(btf):
        raise env.einval(f"Cannot access kernel 'struct {tname}' from non-GPL compatible program")
    if off < 0:
        raise env.eacces(f"R{regno} is ptr_{tname} invalid negative access: off={off}")
    vo = reg.b.var_off
    if vo.mask or vo.value:
        raise env.eacces(
            f"R{regno} is ptr_{tname} invalid variable offset: off={off}, var_off={tnum.format(vo)}"
        )
    if reg.type & MEM_USER:
        raise env.eacces(f"R{regno} is ptr_{tname} access user memory: off={off}")
    if reg.type & MEM_PERCPU:
        raise env.eacces(f"R{regno} is ptr_{tname} access percpu memory: off={off}")
    if write and reg.type & PTR_UNTRUSTED:
        raise env.eacces("only read is supported")
    writer = _WRITE_ACCESS.get(env.prog_type)
    if write and writer is not None and not _is_alloc(reg.type):
        writer(env, reg, off, size)
        return
    if write and not _is_alloc(reg.type):
        raise env.eacces("only read is supported")
    acc = btf_struct_access(env, reg, off, size, write)
    flag = 0
    if acc.reg_type == RegType.PTR_TO_BTF_ID:
        flag = nested_flag(env, reg, acc)
    if not write and value_regno >= 0:
        mark_btf_ld_reg(env, regs, value_regno, acc.reg_type, btf, acc.btf_id, flag)


def _is_kernel_btf(btf: Btf) -> bool:
    from ..kernel.vmlinux import kernel_btf

    return btf is kernel_btf()


def check_ptr_to_map_access(
    env: Env, regs: Any, regno: int, off: int, size: int, write: bool, value_regno: int
) -> None:
    from ..btf import Kind
    from ..kernel.vmlinux import kernel_btf, map_struct

    reg: RegState = regs[regno]
    m = reg.map
    btf = kernel_btf()
    mtype = int(m.spec.type)
    tid = btf.find_by_name_kind(map_struct(mtype), Kind.STRUCT)
    if tid is None:
        raise env.error(ENOTSUPP, f"map_ptr access not supported for map type {mtype}")
    tname = btf.name_of(tid)
    if not env.options.allow_ptr_leaks:
        raise env.error(
            errno.EPERM, f"'struct {tname}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN"
        )
    if off < 0:
        raise env.eacces(f"R{regno} is {tname} invalid negative access: off={off}")
    if write:
        raise env.eacces(f"only read from {tname} is supported")
    map_reg = RegState()
    map_reg.type = RegType.PTR_TO_BTF_ID
    map_reg.btf = btf
    map_reg.btf_id = tid
    acc = btf_struct_access(env, map_reg, off, size, write)
    if value_regno >= 0:
        mark_btf_ld_reg(env, regs, value_regno, acc.reg_type, btf, acc.btf_id, acc.flag)


__all__ = [
    "BtfAccessError",
    "StructAccess",
    "VerifierError",
    "btf_struct_access",
    "btf_struct_walk",
    "check_ptr_to_btf_access",
    "check_ptr_to_map_access",
    "register_btf_write_access",
]
