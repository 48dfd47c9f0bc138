"""Pass 1: each record on its own (the kernel's ``check_meta``), in blob order.

Every check returns how many bytes follow the 12-byte record header, or raises
:class:`Rejected`; the log lines match the kernel's, including the line printed for
every type that passes.
"""

from __future__ import annotations

import errno

from ..kinds import KIND_MAX, MAX_TYPE, Kind
from .env import ENOTSUPP, Env, Rejected, to_s32

_INFO_MASK = 0x9F00FFFF
_INT_MASK = 0x0FFFFFFF


def _fail(env: Env, type_id: int, msg: str, details: bool = True, err: int = errno.EINVAL) -> Rejected:
    env.log_type(type_id, msg, details)
    return Rejected(err)


def _meta_short(env: Env, type_id: int, left: int, needed: int) -> Rejected:
    return _fail(env, type_id, f"meta_left:{left} meta_needed:{needed}", details=False)


def _valid_id(type_id: int) -> bool:
    return type_id <= MAX_TYPE


def _check_int(env: Env, tid: int, left: int) -> int:
    if left < 4:
        raise _meta_short(env, tid, left, 4)
    if env.vlen(tid):
        raise _fail(env, tid, "vlen != 0")
    if env.kflag(tid):
        raise _fail(env, tid, "Invalid btf_info kind_flag")
    data = env.word(tid, 0)
    if data & ~_INT_MASK & 0xFFFFFFFF:
        raise _fail(env, tid, f"Invalid int_data:{data:x}", details=False)
    nr_bits = (data & 0xFF) + ((data >> 16) & 0xFF)
    if nr_bits > 128:
        raise _fail(env, tid, "nr_bits exceeds 128")
    if (nr_bits >> 3) + (1 if nr_bits & 7 else 0) > env.size_type(tid):
        raise _fail(env, tid, "nr_bits exceeds type_size")
    enc = (data >> 24) & 0xF
    if enc not in (0, 1, 2, 4):
        raise _fail(env, tid, "Unsupported encoding", err=ENOTSUPP)
    env.log_type(tid)
    return 4


def _check_ref(env: Env, tid: int, left: int) -> int:
    """PTR, TYPEDEF, VOLATILE, CONST, RESTRICT and TYPE_TAG."""
    kind = env.kind(tid)
    if env.vlen(tid):
        raise _fail(env, tid, "vlen != 0")
    if env.kflag(tid) and kind != Kind.TYPE_TAG:
        raise _fail(env, tid, "Invalid btf_info kind_flag")
    if not _valid_id(env.size_type(tid)):
        raise _fail(env, tid, "Invalid type_id")
    name_off = env.name_off(tid)
    if kind == Kind.TYPEDEF:
        if not name_off or not env.valid_identifier(name_off):
            raise _fail(env, tid, "Invalid name")
    elif kind == Kind.TYPE_TAG:
        if not env.string_at(name_off):
            raise _fail(env, tid, "Invalid name")
    elif name_off:
        raise _fail(env, tid, "Invalid name")
    env.log_type(tid)
    return 0


def _check_fwd(env: Env, tid: int, left: int) -> int:
    if env.vlen(tid):
        raise _fail(env, tid, "vlen != 0")
    if env.size_type(tid):
        raise _fail(env, tid, "type != 0")
    name_off = env.name_off(tid)
    if not name_off or not env.valid_identifier(name_off):
        raise _fail(env, tid, "Invalid name")
    env.log_type(tid)
    return 0


def _check_array(env: Env, tid: int, left: int) -> int:
    if left < 12:
        raise _meta_short(env, tid, left, 12)
    if env.name_off(tid):
        raise _fail(env, tid, "Invalid name")
    if env.vlen(tid):
        raise _fail(env, tid, "vlen != 0")
    if env.kflag(tid):
        raise _fail(env, tid, "Invalid btf_info kind_flag")
    if env.size_type(tid):
        raise _fail(env, tid, "size != 0")
    elem, index = env.word(tid, 0), env.word(tid, 1)
    if not elem or not _valid_id(elem):
        raise _fail(env, tid, "Invalid elem")
    if not index or not _valid_id(index):
        raise _fail(env, tid, "Invalid index")
    env.log_type(tid)
    return 12


def _check_struct(env: Env, tid: int, left: int) -> int:
    vlen = env.vlen(tid)
    needed = vlen * 12
    if left < needed:
        raise _meta_short(env, tid, left, needed)
    name_off = env.name_off(tid)
    if name_off and not env.valid_identifier(name_off):
        raise _fail(env, tid, "Invalid name")
    env.log_type(tid)
    is_union = env.kind(tid) == Kind.UNION
    kflag = env.kflag(tid)
    size = env.size_type(tid)
    last = 0
    for i in range(vlen):
        m_name, m_type, m_off = env.member(tid, i)

        def bad(msg: str, i: int = i) -> Rejected:
            env.log_member(tid, env.member(tid, i), msg)
            return Rejected(errno.EINVAL)

        if not env.name_offset_valid(m_name):
            raise bad(f"Invalid member name_offset:{m_name}")
        if m_name and not env.valid_identifier(m_name):
            raise bad("Invalid name")
        if not m_type or not _valid_id(m_type):
            raise bad("Invalid type_id")
        bit_off = m_off & 0xFFFFFF if kflag else m_off
        if is_union and bit_off:
            raise bad("Invalid member bits_offset")
        if last > bit_off:
            raise bad("Invalid member bits_offset")
        if (bit_off >> 3) + (1 if bit_off & 7 else 0) > size:
            raise bad("Member bits_offset exceeds its struct size")
        env.log_member(tid, (m_name, m_type, m_off))
        last = bit_off
    return needed


def _check_enum(env: Env, tid: int, left: int) -> int:
    vlen = env.vlen(tid)
    wide = env.kind(tid) == Kind.ENUM64
    needed = vlen * (12 if wide else 8)
    if left < needed:
        raise _meta_short(env, tid, left, needed)
    size = env.size_type(tid)
    if size > 8 or size == 0 or size & (size - 1):
        raise _fail(env, tid, "Unexpected size")
    name_off = env.name_off(tid)
    if name_off and not env.valid_identifier(name_off):
        raise _fail(env, tid, "Invalid name")
    env.log_type(tid)
    signed = env.kflag(tid)
    for i in range(vlen):
        v_name, val = env.enum64_value(tid, i) if wide else env.enum_value(tid, i)
        if not env.name_offset_valid(v_name):
            env.log(f"\tInvalid name_offset:{v_name}")
            raise Rejected(errno.EINVAL)
        if not v_name or not env.valid_identifier(v_name):
            raise _fail(env, tid, "Invalid name")
        if signed and wide:
            shown = val - (1 << 64) if val >> 63 else val
        elif signed:
            shown = to_s32(val)
        else:
            shown = val
        env.log(f"\t{env.name_for_log(v_name)} val={shown}\n")
    return needed


def _check_func_proto(env: Env, tid: int, left: int) -> int:
    needed = env.vlen(tid) * 8
    if left < needed:
        raise _meta_short(env, tid, left, needed)
    if env.name_off(tid):
        raise _fail(env, tid, "Invalid name")
    if env.kflag(tid):
        raise _fail(env, tid, "Invalid btf_info kind_flag")
    env.log_type(tid)
    return needed


def _check_func(env: Env, tid: int, left: int) -> int:
    name_off = env.name_off(tid)
    if not name_off or not env.valid_identifier(name_off):
        raise _fail(env, tid, "Invalid name")
    if env.vlen(tid) > 1:
        raise _fail(env, tid, "Invalid func linkage")
    if env.kflag(tid):
        raise _fail(env, tid, "Invalid btf_info kind_flag")
    env.log_type(tid)
    return 0


def _check_var(env: Env, tid: int, left: int) -> int:
    if left < 4:
        raise _meta_short(env, tid, left, 4)
    if env.vlen(tid):
        raise _fail(env, tid, "vlen != 0")
    if env.kflag(tid):
        raise _fail(env, tid, "Invalid btf_info kind_flag")
    name_off = env.name_off(tid)
    if not name_off or not env.valid_identifier(name_off):
        raise _fail(env, tid, "Invalid name")
    vtype = env.size_type(tid)
    if not vtype or not _valid_id(vtype):
        raise _fail(env, tid, "Invalid type_id")
    if env.word(tid, 0) not in (0, 1):
        raise _fail(env, tid, "Linkage not supported")
    env.log_type(tid)
    return 4


def _check_datasec(env: Env, tid: int, left: int) -> int:
    vlen = env.vlen(tid)
    needed = vlen * 12
    if left < needed:
        raise _meta_short(env, tid, left, needed)
    size = env.size_type(tid)
    if not size:
        raise _fail(env, tid, "size == 0")
    if env.kflag(tid):
        raise _fail(env, tid, "Invalid btf_info kind_flag")
    name_off = env.name_off(tid)
    if not name_off or not env.valid_section_name(name_off):
        raise _fail(env, tid, "Invalid name")
    env.log_type(tid)
    last_end = 0
    total = 0
    for i in range(vlen):
        vtype, off, vsize = env.secinfo(tid, i)

        def bad(msg: str, i: int = i) -> Rejected:
            env.log_vsi(tid, i, msg)
            return Rejected(errno.EINVAL)

        if not vtype or not _valid_id(vtype):
            raise bad("Invalid type_id")
        if off < last_end or off >= size:
            raise bad("Invalid offset")
        if not vsize or vsize > size:
            raise bad("Invalid size")
        last_end = off + vsize
        if last_end > size:
            raise bad("Invalid offset+size")
        env.log_vsi(tid, i)
        total += vsize
    if size < total:
        raise _fail(env, tid, "Invalid btf_info size")
    return needed


def _check_float(env: Env, tid: int, left: int) -> int:
    if env.vlen(tid):
        raise _fail(env, tid, "vlen != 0")
    if env.kflag(tid):
        raise _fail(env, tid, "Invalid btf_info kind_flag")
    if env.size_type(tid) not in (2, 4, 8, 12, 16):
        raise _fail(env, tid, "Invalid type_size")
    env.log_type(tid)
    return 0


def _check_decl_tag(env: Env, tid: int, left: int) -> int:
    if left < 4:
        raise _meta_short(env, tid, left, 4)
    if not env.string_at(env.name_off(tid)):
        raise _fail(env, tid, "Invalid value")
    if env.vlen(tid):
        raise _fail(env, tid, "vlen != 0")
    if to_s32(env.word(tid, 0)) < -1:
        raise _fail(env, tid, "Invalid component_idx")
    env.log_type(tid)
    return 4


_CHECKS = {
    Kind.INT: _check_int,
    Kind.PTR: _check_ref,
    Kind.ARRAY: _check_array,
    Kind.STRUCT: _check_struct,
    Kind.UNION: _check_struct,
    Kind.ENUM: _check_enum,
    Kind.FWD: _check_fwd,
    Kind.TYPEDEF: _check_ref,
    Kind.VOLATILE: _check_ref,
    Kind.CONST: _check_ref,
    Kind.RESTRICT: _check_ref,
    Kind.FUNC: _check_func,
    Kind.FUNC_PROTO: _check_func_proto,
    Kind.VAR: _check_var,
    Kind.DATASEC: _check_datasec,
    Kind.FLOAT: _check_float,
    Kind.DECL_TAG: _check_decl_tag,
    Kind.TYPE_TAG: _check_ref,
    Kind.ENUM64: _check_enum,
}


def check_all_metas(env: Env, start: int, length: int) -> None:
    """Walk the type section record by record, adding each checked type to ``env``."""
    env.load_types(start, length)
    pos = 0
    end = length
    env.log_type_id = 1
    while pos < end:
        left = end - pos
        tid = env.log_type_id
        if left < 12:
            env.log(f"[{tid}] meta_left:{left} meta_needed:12")
            raise Rejected(errno.EINVAL)
        env.offsets.append(pos // 4)
        info = env.info(tid)
        if info & ~_INFO_MASK & 0xFFFFFFFF:
            env.log(f"[{tid}] Invalid btf_info:{info:x}")
            raise Rejected(errno.EINVAL)
        kind = (info >> 24) & 0x1F
        if kind > KIND_MAX or kind == 0:
            env.log(f"[{tid}] Invalid kind:{kind}")
            raise Rejected(errno.EINVAL)
        name_off = env.name_off(tid)
        if not env.name_offset_valid(name_off):
            env.log(f"[{tid}] Invalid name_offset:{name_off}")
            raise Rejected(errno.EINVAL)
        env.kinds.append(kind)
        extra = _CHECKS[Kind(kind)](env, tid, left - 12)
        pos += 12 + extra
        env.log_type_id += 1
