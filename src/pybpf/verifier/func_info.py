"""The program's BTF function records (``func_info``), checked as BPF_PROG_LOAD checks them.

With func_info every subprogram has a BTF FUNC: its name, its linkage (global functions
are verified on their own, against their prototype) and whether it returns an integer
(needed for LD_ABS and tail calls in subprograms). Without it, subprograms may use
neither.
"""

from __future__ import annotations

import errno
from typing import Any

from ..btf import Kind
from ..btf.kinds import FuncLinkage
from .cfg import check_abnormal_return
from .env import Env

_MODIFIERS = frozenset({Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG})


def skip_modifiers(btf: Any, type_id: int) -> int:
    """The type under typedefs and qualifiers."""
    for _ in range(32):
        if type_id == 0 or btf.kind(type_id) not in _MODIFIERS:
            return type_id
        type_id = btf[type_id].type
    return type_id


def returns_scalar(btf: Any, func_id: int) -> bool:
    """Whether the FUNC ``func_id`` returns an integer (up to 16 bytes) or an enum."""
    proto = btf[btf[func_id].type]
    ret = skip_modifiers(btf, proto.return_type)
    if ret == 0:
        return False
    kind = btf.kind(ret)
    if kind == Kind.INT:
        return bool(btf[ret].size <= 16)
    return kind in (Kind.ENUM, Kind.ENUM64)


def _func_proto_ok(btf: Any, type_id: int) -> bool:
    try:
        return bool(btf.kind(type_id) == Kind.FUNC and btf.kind(btf[type_id].type) == Kind.FUNC_PROTO)
    except (KeyError, IndexError, ValueError):
        return False


def check_btf_func_early(env: Env) -> None:
    """The records on their own, before subprograms are known: the first at 0, strictly
    ascending, each naming a FUNC with a prototype."""
    if not env.func_info:
        return
    btf = env.prog_btf
    prev = 0
    for i, rec in enumerate(env.func_info):
        if i == 0 and rec.insn_off:
            raise env.error(errno.EINVAL, f"nonzero insn_off {rec.insn_off} for the first func info record", False)
        if i and rec.insn_off <= prev:
            raise env.error(
                errno.EINVAL,
                f"same or smaller insn offset ({rec.insn_off}) than previous func info record ({prev})",
                False,
            )
        if btf is None or not _func_proto_ok(btf, rec.type_id):
            raise env.error(errno.EINVAL, f"invalid type id {rec.type_id} in func info", False)
        prev = rec.insn_off


def check_btf_func(env: Env) -> None:
    """Check func_info against the subprograms and record names and linkage.

    Records are instruction indexes (as BPF_PROG_LOAD takes them). Without records,
    subprograms must not use LD_ABS or tail calls.
    """
    records = env.func_info
    if not records:
        check_abnormal_return(env)
        return
    btf = env.prog_btf
    if len(records) != len(env.subprogs):
        raise env.einval("number of funcs in func_info doesn't match number of subprogs")
    for i, (rec, sp) in enumerate(zip(records, env.subprogs, strict=True)):
        if sp.start != rec.insn_off:
            raise env.einval("func_info BTF section doesn't match subprog layout in BPF program")
        fn = btf[rec.type_id]
        sp.name = fn.name
        sp.is_global = fn.linkage == FuncLinkage.GLOBAL
        scalar = returns_scalar(btf, rec.type_id)
        if i and not scalar and sp.has_ld_abs:
            raise env.einval("LD_ABS is only allowed in functions that return 'int'.")
        if i and not scalar and sp.has_tail_call:
            raise env.einval("tail_call is only allowed in functions that return 'int'.")
