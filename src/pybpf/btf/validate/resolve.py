"""Pass 2: follow every reference (the kernel's resolve walk) and check members.

The walk is an explicit depth-first stack of at most 32 types.  A type that still has
to be followed is pushed and the walk resumes from the top; when a type's references
are settled it is popped with the id and size it resolves to.  Loops and chains that
are too deep are reported on the type the walk started from.  Function prototypes
are checked after their argument and return types have been resolved.
"""

from __future__ import annotations

import contextlib
import errno

from ..kinds import Kind
from .env import (
    MAX_RESOLVE_DEPTH,
    Env,
    Phase,
    Rejected,
    ResolveMode,
    Vertex,
    Visit,
    to_s32,
    u32_sub,
)

_U32 = 0xFFFFFFFF
Member = tuple[int, int, int]


# -- the walk's stack ------------------------------------------------------------------
def _is_sink(env: Env, type_id: int) -> bool:
    mode = env.mode
    if mode is ResolveMode.TBD:
        return not env.needs_resolve(type_id)
    if mode is ResolveMode.PTR:
        return not env.is_modifier(type_id) and not env.is_ptr(type_id)
    return not env.is_modifier(type_id) and not env.is_array(type_id) and not env.is_struct(type_id)


def _push(env: Env, type_id: int) -> None:
    if len(env.stack) == MAX_RESOLVE_DEPTH:
        raise Rejected(errno.E2BIG)
    if env.visit[type_id] != Visit.NOT_VISITED:
        raise Rejected(errno.EEXIST)
    env.visit[type_id] = Visit.VISITED
    env.stack.append(Vertex(type_id))
    if env.mode is ResolveMode.TBD:
        if env.is_ptr(type_id):
            env.mode = ResolveMode.PTR
        elif env.is_struct(type_id) or env.is_array(type_id):
            env.mode = ResolveMode.STRUCT_OR_ARRAY


def _pop_resolved(env: Env, resolved_id: int, size: int) -> None:
    v = env.stack.pop()
    env.resolved_ids[v.type_id] = resolved_id
    env.resolved_sizes[v.type_id] = size & _U32
    env.visit[v.type_id] = Visit.RESOLVED


def _pending(env: Env, type_id: int) -> bool:
    """True when ``type_id`` must be walked before the current type can settle."""
    return not _is_sink(env, type_id) and not env.is_resolved(type_id)


def _fail(env: Env, type_id: int, msg: str) -> Rejected:
    env.log_type(type_id, msg)
    return Rejected(errno.EINVAL)


# -- member checks (by the member type's kind) -------------------------------------------
def _member_fail(env: Env, sid: int, m: Member, msg: str) -> Rejected:
    env.log_member(sid, m, msg)
    return Rejected(errno.EINVAL)


def _roundup_bytes(bits: int) -> int:
    return (bits >> 3) + (1 if bits & 7 else 0)


def _check_member(env: Env, sid: int, m: Member, mtype: int) -> None:
    kind = env.kind(mtype)
    size = env.size_type(sid)
    off = m[2]
    if kind == Kind.INT:
        data = env.word(mtype, 0)
        int_off = (data >> 16) & 0xFF
        if _U32 - off < int_off:
            raise _member_fail(env, sid, m, "bits_offset exceeds U32_MAX")
        off += int_off
        copy_bits = (data & 0xFF) + (off & 7)
        if copy_bits > 128:
            raise _member_fail(env, sid, m, "nr_copy_bits exceeds 128")
        if size < off >> 3 or size - (off >> 3) < _roundup_bytes(copy_bits):
            raise _member_fail(env, sid, m, "Member exceeds struct_size")
    elif kind in (Kind.PTR, Kind.ARRAY, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64):
        if off & 7:
            raise _member_fail(env, sid, m, "Member is not byte aligned")
        if kind == Kind.PTR:
            need = 8
        elif kind == Kind.ARRAY:
            got = env.id_size(m[1])
            need = got[1] if got else 0
        else:
            need = env.size_type(mtype)
        if u32_sub(size, off >> 3) < need:
            raise _member_fail(env, sid, m, "Member exceeds struct_size")
    elif env.is_modifier(mtype):
        _check_modifier_member(env, sid, m, kflag=False)
    elif kind == Kind.FLOAT:
        fsize = env.size_type(mtype)
        align_bits = min(8, fsize) * 8
        if align_bits and off % align_bits:
            raise _member_fail(env, sid, m, "Member is not properly aligned")
        if off // 8 + fsize > size:
            raise _member_fail(env, sid, m, "Member exceeds struct_size")
    else:
        env.log_type(sid, "Unsupported check_member", details=False)
        raise Rejected(errno.EINVAL)


def _check_kflag_member(env: Env, sid: int, m: Member, mtype: int) -> None:
    kind = env.kind(mtype)
    size = env.size_type(sid)
    nr_bits = m[2] >> 24
    bit_off = m[2] & 0xFFFFFF
    if kind == Kind.INT:
        if not env.int_is_regular(mtype):
            raise _member_fail(env, sid, m, "Invalid member base type")
        int_bits = env.word(mtype, 0) & 0xFF
        if not nr_bits:
            if bit_off & 7:
                raise _member_fail(env, sid, m, "Invalid member offset")
            nr_bits = int_bits
        elif nr_bits > int_bits:
            raise _member_fail(env, sid, m, "Invalid member bitfield_size")
        copy_bits = nr_bits + (bit_off & 7)
        if copy_bits > 128:
            raise _member_fail(env, sid, m, "nr_copy_bits exceeds 128")
        if size < bit_off >> 3 or size - (bit_off >> 3) < _roundup_bytes(copy_bits):
            raise _member_fail(env, sid, m, "Member exceeds struct_size")
    elif kind in (Kind.ENUM, Kind.ENUM64):
        if not nr_bits:
            if bit_off & 7:
                raise _member_fail(env, sid, m, "Member is not byte aligned")
            nr_bits = 32
        elif nr_bits > 32:
            raise _member_fail(env, sid, m, "Invalid member bitfield_size")
        if size < _roundup_bytes(bit_off + nr_bits):
            raise _member_fail(env, sid, m, "Member exceeds struct_size")
    elif env.is_modifier(mtype):
        _check_modifier_member(env, sid, m, kflag=True)
    elif kind in (Kind.PTR, Kind.ARRAY, Kind.STRUCT, Kind.UNION, Kind.FLOAT):
        if nr_bits:
            raise _member_fail(env, sid, m, "Invalid member bitfield_size")
        _check_member(env, sid, m, mtype)
    else:
        env.log_type(sid, "Unsupported check_kflag_member", details=False)
        raise Rejected(errno.EINVAL)


def _check_modifier_member(env: Env, sid: int, m: Member, kflag: bool) -> None:
    got = env.id_size(m[1])
    if got is None:
        raise _member_fail(env, sid, m, "Invalid member")
    resolved: Member = (m[0], got[0], m[2])
    if kflag:
        _check_kflag_member(env, sid, resolved, got[0])
    else:
        _check_member(env, sid, resolved, got[0])


def _member_check(env: Env, sid: int, m: Member) -> None:
    if env.kflag(sid):
        _check_kflag_member(env, sid, m, m[1])
    else:
        _check_member(env, sid, m, m[1])


# -- one step of the walk, by the kind of the type on top --------------------------------
def _resolve_modifier_or_ptr(env: Env, v: Vertex) -> None:
    tid = v.type_id
    nxt = env.size_type(tid)
    if not env.exists(nxt) or env.is_resolve_source_only(nxt):
        raise _fail(env, tid, "Invalid type_id")
    if _pending(env, nxt):
        _push(env, nxt)
        return
    if env.is_ptr(tid) and env.is_modifier(nxt):
        rid = env.resolved_ids[nxt]
        if env.is_ptr(rid) and _pending(env, rid):
            _push(env, rid)
            return
    got = env.id_size(nxt)
    if got is None:
        if env.is_resolved(nxt):
            nxt = env.resolved_ids[nxt]
        if not (nxt == 0 or env.is_fwd(nxt) or env.is_func_proto(nxt)):
            raise _fail(env, tid, "Invalid type_id")
    else:
        nxt = got[0]
    _pop_resolved(env, nxt, 0)


def _resolve_var(env: Env, v: Vertex) -> None:
    tid = v.type_id
    nxt = env.size_type(tid)
    if not env.exists(nxt) or env.is_resolve_source_only(nxt):
        raise _fail(env, tid, "Invalid type_id")
    if _pending(env, nxt):
        _push(env, nxt)
        return
    if env.is_modifier(nxt):
        rid = env.resolved_ids[nxt]
        if env.is_ptr(rid) and _pending(env, rid):
            _push(env, rid)
            return
    got = env.id_size(nxt)
    if got is None:
        raise _fail(env, tid, "Invalid type_id")
    _pop_resolved(env, got[0], 0)


def _resolve_array(env: Env, v: Vertex) -> None:
    tid = v.type_id
    index = env.word(tid, 1)
    if env.nosize_or_null(index) or env.is_resolve_source_only(index):
        raise _fail(env, tid, "Invalid index")
    if _pending(env, index):
        _push(env, index)
        return
    got = env.id_size(index)
    if got is None or not env.is_int(got[0]) or not env.int_is_regular(got[0]):
        raise _fail(env, tid, "Invalid index")
    elem = env.word(tid, 0)
    if env.nosize_or_null(elem) or env.is_resolve_source_only(elem):
        raise _fail(env, tid, "Invalid elem")
    if _pending(env, elem):
        _push(env, elem)
        return
    got = env.id_size(elem)
    if got is None:
        raise _fail(env, tid, "Invalid elem")
    elem_id, elem_size = got
    if env.is_int(elem_id) and not env.int_is_regular(elem_id):
        raise _fail(env, tid, "Invalid array of int")
    nelems = env.word(tid, 2)
    if nelems and elem_size > _U32 // nelems:
        raise _fail(env, tid, "Array size overflows U32_MAX")
    _pop_resolved(env, elem_id, elem_size * nelems)


def _resolve_struct(env: Env, v: Vertex) -> None:
    sid = v.type_id
    if v.next_member:
        last = env.member(sid, v.next_member - 1)
        if not env.is_resolved(last[1]):
            raise Rejected(errno.EINVAL)
        _member_check(env, sid, last)
    for i in range(v.next_member, env.vlen(sid)):
        m = env.member(sid, i)
        mtype = m[1]
        if env.nosize_or_null(mtype) or env.is_resolve_source_only(mtype):
            raise _member_fail(env, sid, m, "Invalid member")
        if _pending(env, mtype):
            v.next_member = i + 1
            _push(env, mtype)
            return
        _member_check(env, sid, m)
    _pop_resolved(env, 0, 0)


def _func_check(env: Env, tid: int) -> None:
    proto = env.size_type(tid)
    if not env.exists(proto) or not env.is_func_proto(proto):
        raise _fail(env, tid, "Invalid type_id")
    for i in range(env.vlen(proto)):
        name_off, ptype = env.param(proto, i)
        if not name_off and ptype:
            raise _fail(env, tid, f"Invalid arg#{i + 1}")


def _resolve_func(env: Env, v: Vertex) -> None:
    _func_check(env, v.type_id)
    _pop_resolved(env, env.size_type(v.type_id), 0)


def _resolve_datasec(env: Env, v: Vertex) -> None:
    sid = v.type_id
    env.mode = ResolveMode.TBD
    for i in range(v.next_member, env.vlen(sid)):
        vsi_type, _, vsi_size = env.secinfo(sid, i)
        if not env.exists(vsi_type) or not env.is_var(vsi_type):
            env.log_vsi(sid, i, "Not a VAR kind member")
            raise Rejected(errno.EINVAL)
        if _pending(env, vsi_type):
            v.next_member = i + 1
            _push(env, vsi_type)
            return
        got = env.id_size(env.size_type(vsi_type))
        if got is None:
            env.log_vsi(sid, i, "Invalid type")
            raise Rejected(errno.EINVAL)
        if vsi_size < got[1]:
            env.log_vsi(sid, i, "Invalid size")
            raise Rejected(errno.EINVAL)
    _pop_resolved(env, 0, 0)


def _resolve_decl_tag(env: Env, v: Vertex) -> None:
    tid = v.type_id
    nxt = env.size_type(tid)
    targets = (Kind.FUNC, Kind.STRUCT, Kind.UNION, Kind.VAR, Kind.TYPEDEF)
    if not env.exists(nxt) or nxt == 0 or env.kind(nxt) not in targets:
        raise _fail(env, tid, "Invalid type_id")
    if _pending(env, nxt):
        _push(env, nxt)
        return
    idx = to_s32(env.word(tid, 0))
    if idx != -1:
        if env.is_var(nxt) or env.is_typedef(nxt):
            raise _fail(env, tid, "Invalid component_idx")
        vlen = env.vlen(nxt) if env.is_struct(nxt) else env.vlen(env.size_type(nxt))
        if idx & _U32 >= vlen:
            raise _fail(env, tid, "Invalid component_idx")
    _pop_resolved(env, nxt, 0)


def _resolve_step(env: Env, v: Vertex) -> None:
    kind = env.kind(v.type_id)
    if env.is_modifier(v.type_id) or kind == Kind.PTR:
        _resolve_modifier_or_ptr(env, v)
    elif kind == Kind.VAR:
        _resolve_var(env, v)
    elif kind == Kind.ARRAY:
        _resolve_array(env, v)
    elif kind in (Kind.STRUCT, Kind.UNION):
        _resolve_struct(env, v)
    elif kind == Kind.FUNC:
        _resolve_func(env, v)
    elif kind == Kind.DATASEC:
        _resolve_datasec(env, v)
    elif kind == Kind.DECL_TAG:
        _resolve_decl_tag(env, v)
    else:
        env.log_type(v.type_id, "Unsupported resolve", details=False)
        raise Rejected(errno.EINVAL)


def _resolve_valid(env: Env, tid: int) -> bool:
    if not env.is_resolved(tid):
        return False
    rid, rsize = env.resolved_ids[tid], env.resolved_sizes[tid]
    if env.is_struct(tid) or env.is_datasec(tid):
        return not rid and not rsize
    if env.is_decl_tag(tid) or env.is_func(tid):
        return bool(rid) and not rsize
    if env.is_modifier(tid) or env.is_ptr(tid) or env.is_var(tid):
        return env.exists(rid) and not env.is_modifier(rid) and not env.is_var(rid) and not env.is_datasec(rid)
    if env.is_array(tid):
        got = env.id_size(env.word(tid, 0))
        return (got is not None and not env.is_modifier(got[0])
                and (env.word(tid, 2) * got[1]) & _U32 == rsize)  # fmt: skip
    return False


def resolve_type(env: Env, tid: int) -> None:
    """Walk from ``tid`` until it and everything it needs are resolved."""
    saved = env.log_type_id
    env.mode = ResolveMode.TBD
    with contextlib.suppress(Rejected):
        _push(env, tid)
    err = 0
    while env.stack:
        v = env.stack[-1]
        env.log_type_id = v.type_id
        try:
            _resolve_step(env, v)
        except Rejected as exc:
            err = exc.err
            break
    env.log_type_id = tid
    if err == errno.E2BIG:
        env.log_type(tid, f"Exceeded max resolving depth:{MAX_RESOLVE_DEPTH}")
    elif err == errno.EEXIST:
        env.log_type(tid, "Loop detected")
    if not err and not _resolve_valid(env, tid):
        env.log_type(tid, "Invalid resolve state")
        err = errno.EINVAL
    env.log_type_id = saved
    if err:
        raise Rejected(err)


def _func_proto_check(env: Env, tid: int) -> None:
    ret = env.size_type(tid)
    if ret:
        if not env.exists(ret) or env.is_resolve_source_only(ret):
            raise _fail(env, tid, "Invalid return type")
        if env.needs_resolve(ret) and not env.is_resolved(ret):
            resolve_type(env, ret)
        if env.id_size(ret) is None:
            raise _fail(env, tid, "Invalid return type")
    n = env.vlen(tid)
    if not n:
        return
    last_name, last_type = env.param(tid, n - 1)
    if not last_type:
        if last_name:
            raise _fail(env, tid, f"Invalid arg#{n}")
        n -= 1
    for i in range(n):
        name_off, at = env.param(tid, i)
        if not env.exists(at) or env.is_resolve_source_only(at):
            raise _fail(env, tid, f"Invalid arg#{i + 1}")
        if name_off and (not env.name_offset_valid(name_off) or not env.valid_identifier(name_off)):
            raise _fail(env, tid, f"Invalid arg#{i + 1}")
        if env.needs_resolve(at) and not env.is_resolved(at):
            resolve_type(env, at)
        if env.id_size(at) is None:
            raise _fail(env, tid, f"Invalid arg#{i + 1}")


def check_all_types(env: Env) -> None:
    n = env.nr_types
    env.visit = [Visit.NOT_VISITED] * n
    env.resolved_ids = [0] * n
    env.resolved_sizes = [0] * n
    env.phase = Phase.CHECK_TYPE
    for tid in range(1, n):
        env.log_type_id = tid
        if env.needs_resolve(tid) and not env.is_resolved(tid):
            resolve_type(env, tid)
        if env.is_func_proto(tid):
            _func_proto_check(env, tid)


def check_type_tags(env: Env) -> None:
    """Type tags must come first in a chain of modifiers (before const, typedef, ...)."""
    good = 0
    for tid in range(1, env.nr_types):
        if not env.is_modifier(tid):
            continue
        in_tags = env.is_type_tag(tid)
        cur = tid
        budget = 32
        while env.is_modifier(cur):
            if budget == 0:
                env.log("Max chain length or cycle detected")
                raise Rejected(errno.ELOOP)
            budget -= 1
            if env.is_type_tag(cur):
                if not in_tags:
                    env.log("Type tags don't precede modifiers")
                    raise Rejected(errno.EINVAL)
            else:
                in_tags = False
            if cur <= good:
                break
            cur = env.size_type(cur)
            if not env.exists(cur):
                raise Rejected(errno.EINVAL)
        good = tid
