"""Calls: helpers by prototype, bpf-to-bpf functions, callbacks, program exit.

``check_helper_call`` checks each argument register against the helper's prototype
(``check_func_arg``), the map/helper pairing, and sets R0 from the return type;
``check_func_call`` opens a new frame for a static subprogram; ``prepare_func_exit``
returns to the caller; ``check_return_code`` enforces the program type's return range.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any

from ..isa.helper_ids import HELPER_NAMES, helper_name
from ..isa.insn import Insn
from ..kernel import protos as P
from ..kernel.func_proto import func_proto, helper_allowed
from ..kernel.progtypes import AttachType, ProgType
from ..kernel.regtypes import RegType
from ..maps.types import MapFlag, MapType
from . import bounds as bx
from .btf_access import in_sleepable
from .env import MAX_CALL_FRAMES, Env
from .frames import init_func_state
from .helper_mem import check_helper_mem_access, check_mem_size_reg
from .insn_log import print_verifier_state_line
from .log import reg_type_str
from .mem import (
    check_mem_access,
    check_ptr_alignment,
    check_ptr_off_reg,
    may_access_direct_pkt_data,
)
from .precision import mark_chain_precision
from .refs import acquire_reference_state, check_resource_leak, release_reference
from .regs import (
    MEM_ALLOC,
    MEM_PERCPU,
    MEM_RDONLY,
    MEM_RINGBUF,
    NOT_INIT,
    PTR_MAYBE_NULL,
    PTR_TO_ARENA,
    PTR_TO_BTF_ID,
    PTR_TO_BUF,
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    PTR_TO_MEM,
    PTR_TO_PACKET,
    PTR_TO_PACKET_META,
    PTR_TO_SOCK_COMMON,
    PTR_TO_SOCKET,
    PTR_TO_STACK,
    PTR_TO_TCP_SOCK,
    SCALAR,
    Op,
    check_reg_arg,
    is_pointer_value,
    mark_reg_known_zero,
    mark_reg_not_init,
    mark_reg_unknown,
    register_is_null,
)
from .state import BPF_REG_SIZE, DEF_NOT_SUBREG, FuncState, RegState, Slot

H = {name: i for i, name in enumerate(("",))}  # placeholder to keep names local

# Argument and return types as plain ints (an enum member read off its class costs
# several times a module global, and these are compared for every helper argument).
_A, _R = P.ArgType, P.RetType
A_DONTCARE, A_ANYTHING = int(_A.DONTCARE), int(_A.ANYTHING)
A_CONST_MAP_PTR, A_PTR_TO_MAP_KEY = int(_A.CONST_MAP_PTR), int(_A.PTR_TO_MAP_KEY)
A_PTR_TO_MAP_VALUE, A_PTR_TO_MEM = int(_A.PTR_TO_MAP_VALUE), int(_A.PTR_TO_MEM)
A_CONST_SIZE, A_CONST_SIZE_OR_ZERO = int(_A.CONST_SIZE), int(_A.CONST_SIZE_OR_ZERO)
A_CONST_ALLOC_SIZE_OR_ZERO = int(_A.CONST_ALLOC_SIZE_OR_ZERO)
A_PTR_TO_BTF_ID_SOCK_COMMON = int(_A.PTR_TO_BTF_ID_SOCK_COMMON)
A_PTR_TO_FUNC, A_PTR_TO_CONST_STR = int(_A.PTR_TO_FUNC), int(_A.PTR_TO_CONST_STR)
A_KPTR_XCHG_DEST, A_PTR_TO_DYNPTR = int(_A.KPTR_XCHG_DEST), int(_A.PTR_TO_DYNPTR)
_A_NEEDS_BTF_MAPS = frozenset(
    int(a) for a in (_A.PTR_TO_SPIN_LOCK, _A.PTR_TO_TIMER, _A.PTR_TO_DYNPTR, _A.PTR_TO_PERCPU_BTF_ID)
)
R_INTEGER, R_VOID, R_PTR_TO_MAP_VALUE = int(_R.INTEGER), int(_R.VOID), int(_R.PTR_TO_MAP_VALUE)
R_PTR_TO_SOCKET, R_PTR_TO_SOCK_COMMON = int(_R.PTR_TO_SOCKET), int(_R.PTR_TO_SOCK_COMMON)
R_PTR_TO_TCP_SOCK, R_PTR_TO_MEM = int(_R.PTR_TO_TCP_SOCK), int(_R.PTR_TO_MEM)
R_PTR_TO_BTF_ID, R_PTR_TO_MEM_OR_BTF_ID = int(_R.PTR_TO_BTF_ID), int(_R.PTR_TO_MEM_OR_BTF_ID)
_R_BTF_IDS = frozenset((R_PTR_TO_BTF_ID, R_PTR_TO_MEM_OR_BTF_ID))
_A_SIZES = frozenset((A_CONST_SIZE, A_CONST_SIZE_OR_ZERO))
_ARRAYS = frozenset((MapType.ARRAY, MapType.PERCPU_ARRAY))
_SOCK_MAP_TYPES = frozenset((MapType.SOCKMAP, MapType.SOCKHASH))
_STRUCT_OPS, _LSM, _LSM_CGROUP = ProgType.STRUCT_OPS, ProgType.LSM, AttachType.LSM_CGROUP
_PKT = frozenset((PTR_TO_PACKET, PTR_TO_PACKET_META))
_PROG_ARRAY, _BLOOM_FILTER = MapType.PROG_ARRAY, MapType.BLOOM_FILTER
_ZERO_SLOT, _SPILL_SLOT = Slot.ZERO, Slot.SPILL


def _hid(name: str) -> int:
    from ..isa.helper_ids import HELPER_IDS

    return HELPER_IDS[name]


TAIL_CALL = _hid("tail_call")
MAP_LOOKUP = _hid("map_lookup_elem")
MAP_UPDATE = _hid("map_update_elem")
MAP_DELETE = _hid("map_delete_elem")
MAP_PUSH = _hid("map_push_elem")
MAP_POP = _hid("map_pop_elem")
MAP_PEEK = _hid("map_peek_elem")
FOR_EACH = _hid("for_each_map_elem")
LOOP = _hid("loop")
FIND_VMA = _hid("find_vma")
CALLBACK_HELPERS = (FOR_EACH, LOOP, FIND_VMA, _hid("user_ringbuf_drain"), _hid("timer_set_callback"))
REDIRECT_MAP = _hid("redirect_map")
LOOKUP_PERCPU = _hid("map_lookup_percpu_elem")
GET_SMP_ID = _hid("get_smp_processor_id")
KPTR_XCHG = _hid("kptr_xchg")
RINGBUF_RESERVE = _hid("ringbuf_reserve")
GET_LOCAL_STORAGE = _hid("get_local_storage")

PKT_CHANGING = {
    _hid(n) for n in (
        "skb_store_bytes", "skb_change_proto", "skb_vlan_push",
        "skb_vlan_pop", "skb_change_tail", "skb_change_head", "skb_adjust_room",
        "skb_pull_data", "l3_csum_replace", "l4_csum_replace", "xdp_adjust_head",
        "xdp_adjust_meta", "xdp_adjust_tail", "clone_redirect", "msg_pull_data",
        "msg_push_data", "msg_pop_data", "lwt_push_encap", "lwt_seg6_store_bytes",
        "lwt_seg6_adjust_srh", "lwt_seg6_action", "store_hdr_opt",
        # the program reached through a tail call may move the packet as well
        "tail_call",
    )
}  # fmt: skip
ACQUIRE = {_hid(n) for n in ("sk_lookup_tcp", "sk_lookup_udp", "skc_lookup_tcp", "ringbuf_reserve", "kptr_xchg")}
PTR_CAST = {
    _hid(n) for n in (
        "tcp_sock", "sk_fullsock", "skc_to_tcp_sock", "skc_to_tcp6_sock", "skc_to_udp6_sock",
        "skc_to_mptcp_sock", "skc_to_tcp_timewait_sock", "skc_to_tcp_request_sock",
    )
}  # fmt: skip
STR_FUNCS = {_hid(n) for n in ("get_stack", "get_task_stack", "probe_read_str", "probe_read_kernel_str", "probe_read_user_str")}


@dataclass(slots=True)
class CallMeta:
    """What the arguments of one call established (``bpf_call_arg_meta``)."""

    func_id: int = 0
    map: Any = None
    map_uid: int = 0
    raw_mode: bool = False
    pkt_access: bool = False
    release_regno: int = 0
    regno: int = 0
    access_size: int = 0
    mem_size: int = 0
    msize_max_value: int = 0
    ref_obj_id: int = 0
    subprogno: int = -1
    const_map_key: int = -1
    kptr_field: Any = None  # the kptr bpf_kptr_xchg's destination points to


def constant_map_key(env: Env, key: RegState, key_size: int) -> int:
    """The array index a key pointer names when the stack holds a known constant
    there (``get_constant_map_key``), else -1.  Relying on a spilled constant makes
    that slot precise."""
    from .precision import Backtrack, mark_chain_precision_batch

    if not env.options.bpf_capable or key.type != PTR_TO_STACK or key.b.var_off.mask:
        return -1
    state = env.func(key)
    value = key.b.var_off.value
    value = value - (1 << 64) if value >> 63 else value
    slot = -(key.off + value) - 1
    spi, off = slot // BPF_REG_SIZE, slot % BPF_REG_SIZE
    stype = state.stack[spi].slot_type
    zero = 0
    i = off
    while i >= 0 and stype[i] == _ZERO_SLOT:
        zero += 1
        i -= 1
    if zero >= key_size:
        return 0
    spilled = state.stack[spi].spilled_ptr
    if stype[BPF_REG_SIZE - 1] != _SPILL_SLOT or spilled.type != SCALAR:
        return -1
    spill = 0
    i = off
    while i >= 0 and stype[i] == _SPILL_SLOT:
        spill += 1
        i -= 1
    if spill != key_size or spilled.b.var_off.mask:
        return -1
    bt = Backtrack(env.state.curframe)
    bt.set_slot(key.frameno, spi)
    mark_chain_precision_batch(env, bt)
    return int(spilled.b.var_off.value)


def _fname(func_id: int) -> str:
    return helper_name(func_id) or "unknown"


# everything func_proto's answer depends on -> the prototype and its checked arguments
# (shared across programs; the GPL test follows the look-up with its own message and the
# kernel configuration is the reference one, so neither is part of the key)
_PROTOS: dict[tuple[Any, ...], tuple[P.HelperProto | None, tuple[int, ...]]] = {}
_PROTOS_MAX = 1 << 16


def helper_proto(env: Env, func_id: int) -> tuple[P.HelperProto | None, tuple[int, ...]]:
    """The prototype this program gets for ``func_id`` and the arguments it checks
    (those not ``DONTCARE``), remembered under every input of the look-up: the program's
    type, attach type, privileges, sleepability and attach target (for struct_ops, the
    struct and member).  Register liveness asks the same question."""
    opts = env.options
    prog_type = env.prog_type
    target: str | None = opts.attach_btf_name or None
    member: str | None = None
    if prog_type == _STRUCT_OPS:
        from .struct_ops_ctx import attach_member

        at = attach_member(env)
        target, member = at if at is not None else (None, None)
    attach = env.expected_attach_type
    key = (prog_type, attach, opts.bpf_capable, opts.sleepable, target, member, func_id)
    found = _PROTOS.get(key)
    if found is None:
        fn = func_proto(prog_type, func_id, attach, privileged=opts.bpf_capable,
                        sleepable=opts.sleepable, attach_btf_name=target, struct_ops_member=member)  # fmt: skip
        args = () if fn is None else tuple(i for i in range(5) if fn.arg(i) != A_DONTCARE)
        found = (fn, args)
        if fn is not None:  # (made-up ids, which liveness asks about too, are not kept)
            if len(_PROTOS) >= _PROTOS_MAX:  # a corpus of many attach targets: start again
                _PROTOS.clear()
            _PROTOS[key] = found
    return found


_N_HELPERS = min(212, len(HELPER_NAMES))


def check_helper_call(env: Env, insn: Insn) -> int:
    func_id = insn.imm
    idx = env.insn_idx
    if not 0 < func_id < _N_HELPERS:  # (helper_name's known ids, without making the name)
        raise env.einval(f"invalid func {_fname(func_id)}#{func_id}")
    fn, args = helper_proto(env, func_id)
    if fn is None:
        raise env.einval(f"program of this type cannot use helper {_fname(func_id)}#{func_id}")
    if not env.options.gpl and fn.gpl_only:
        raise env.einval("cannot call GPL-restricted function from non-GPL compatible program")
    if fn.allowed is not None and not helper_allowed(fn, env.prog_type, env.expected_attach_type,
                                                     sleepable=env.options.sleepable,
                                                     attach_btf_name=env.options.attach_btf_name):  # fmt: skip
        raise env.einval("helper call is not allowed in probe")  # the attach target decides
    if fn.might_sleep and not in_sleepable(env):
        raise env.einval("helper call might sleep in a non-sleepable prog")
    meta = CallMeta(func_id=func_id, pkt_access=fn.pkt_access)
    for i in args:
        check_func_arg(env, i, meta, fn)
    _record_func_map(env, meta, func_id)
    if func_id == TAIL_CALL:
        _record_func_key(env, meta)
    for i in range(meta.access_size):
        check_mem_access(env, idx, meta.regno, i, 0x10, True, -1)
    regs = env.regs
    if meta.release_regno:
        ok = False
        if meta.ref_obj_id:
            ok = release_reference(env, meta.ref_obj_id)
        elif register_is_null(regs[meta.release_regno]):
            ok = True
        if not ok:
            raise env.einval(f"func {_fname(func_id)}#{func_id} reference has not been acquired before")
    if func_id == TAIL_CALL:
        check_resource_leak(env, False, True, "tail_call")
    elif func_id == GET_LOCAL_STORAGE:
        # the helper cannot fail, so it takes no flags
        if not register_is_null(regs[2]):
            raise env.einval("get_local_storage() doesn't support non-zero flags")
        mark_chain_precision(env, 2)
    elif func_id in CALLBACK_HELPERS:
        if func_id == LOOP:
            mark_chain_precision(env, 1)
        from .callbacks import push_callback_call

        next_idx = push_callback_call(env, insn, meta)
        if next_idx is not None:
            return next_idx
    # the caller-saved registers are clobbered (check_reg_arg(DST_NO_MARK) on each: a
    # helper call writes no 64-bit value, so each is marked as a sub-register write)
    written = idx + 1
    for r in range(6):
        reg = regs[r]
        reg.mark_not_init()
        reg.subreg_def = written
    env.scratched_regs |= 0x3F
    regs[0].subreg_def = DEF_NOT_SUBREG
    r0 = regs[0]
    ret = int(fn.ret_type)
    ret_base = ret & 0xFF
    ret_flag = ret & ~0xFF
    if ret_base == R_INTEGER:
        mark_reg_unknown(env, regs, 0)
    elif ret_base == R_VOID:
        r0.type = NOT_INIT
    elif ret_base == R_PTR_TO_MAP_VALUE:
        mark_reg_known_zero(regs, 0)
        if meta.map is None:
            raise env.einval("kernel subsystem misconfigured verifier")
        if (
            func_id == MAP_LOOKUP
            and meta.map.spec.type in _ARRAYS
            and 0 <= meta.const_map_key < meta.map.spec.max_entries
        ):
            # a constant in-range index into an array always finds an element
            ret_flag &= ~PTR_MAYBE_NULL
        r0.map = meta.map
        r0.map_uid = meta.map_uid
        r0.type = PTR_TO_MAP_VALUE | ret_flag
    elif ret_base == R_PTR_TO_SOCKET:
        mark_reg_known_zero(regs, 0)
        r0.type = PTR_TO_SOCKET | ret_flag
    elif ret_base == R_PTR_TO_SOCK_COMMON:
        mark_reg_known_zero(regs, 0)
        r0.type = PTR_TO_SOCK_COMMON | ret_flag
    elif ret_base == R_PTR_TO_TCP_SOCK:
        mark_reg_known_zero(regs, 0)
        r0.type = PTR_TO_TCP_SOCK | ret_flag
    elif ret_base == R_PTR_TO_MEM:
        mark_reg_known_zero(regs, 0)
        r0.type = PTR_TO_MEM | ret_flag
        r0.mem_size = meta.mem_size
    elif ret_base in _R_BTF_IDS:
        mark_reg_known_zero(regs, 0)
        r0.type = PTR_TO_BTF_ID | (ret_flag & ~MEM_RDONLY)
        r0.btf, r0.btf_id = _ret_btf(fn.ret_btf_id)
        if func_id == KPTR_XCHG and meta.kptr_field is not None:
            kf = meta.kptr_field
            r0.btf, r0.btf_id = kf.btf, kf.btf_id
            if not kf.kernel:
                r0.type |= MEM_ALLOC | (MEM_PERCPU if kf.kind.value == "percpu_kptr" else 0)
    else:
        raise env.einval(f"unknown return type {ret_base} of func {_fname(func_id)}#{func_id}")
    if r0.type & PTR_MAYBE_NULL:
        r0.id = env.new_id()
    if func_id in PTR_CAST:
        r0.ref_obj_id = meta.ref_obj_id
    elif func_id in ACQUIRE or (
        func_id == MAP_LOOKUP and meta.map is not None and meta.map.spec.type in _SOCK_MAP_TYPES
    ):
        ident = acquire_reference_state(env, idx)
        r0.id = ident
        r0.ref_obj_id = ident
    _refine_retval(env, r0, fn.ret_type, func_id, meta)
    check_map_func_compatibility(env, meta.map, func_id)
    if func_id in PKT_CHANGING:
        clear_all_pkt_pointers(env)
    return idx + 1


def _ret_btf(name: str | None) -> tuple[Any, int]:
    """The kernel BTF and the struct id a helper's typed return points to (none if
    pybpf's kernel does not declare that struct)."""
    from ..btf import Kind
    from ..kernel.vmlinux import kernel_btf

    if name is None:
        return None, 0
    btf = kernel_btf()
    tid = btf.find_by_name_kind(name, Kind.STRUCT)
    return (btf, tid) if tid is not None else (None, 0)


def _refine_retval(env: Env, r0: RegState, ret_type: int, func_id: int, meta: CallMeta) -> None:
    if ret_type != R_INTEGER:
        return
    if func_id in STR_FUNCS:
        r0.b = bx.refine_range(r0.b, smin=-4095, smax=meta.msize_max_value)
    elif func_id == GET_SMP_ID:
        n = env.kernel.num_cpus if env.kernel is not None else 2
        r0.b = bx.refine_range(r0.b, smin=0, smax=n - 1, umin=0, umax=n - 1)


def clear_all_pkt_pointers(env: Env) -> None:
    from .jmp import all_regs
    from .refs import mark_reg_invalid
    from .regs import reg_is_pkt_pointer_any

    for reg in all_regs(env.state):
        if reg_is_pkt_pointer_any(reg):
            mark_reg_invalid(env, reg)


# helpers whose map the instruction's aux data records, and those that write to it
_MAP_FUNCS = frozenset((TAIL_CALL, MAP_LOOKUP, MAP_UPDATE, MAP_DELETE, MAP_PUSH, MAP_POP, MAP_PEEK,
                        FOR_EACH, REDIRECT_MAP, LOOKUP_PERCPU))  # fmt: skip
_MAP_WRITERS = frozenset((MAP_DELETE, MAP_UPDATE, MAP_PUSH, MAP_POP))
_RDONLY_PROG = int(MapFlag.RDONLY_PROG)


def _record_func_map(env: Env, meta: CallMeta, func_id: int) -> None:
    if func_id not in _MAP_FUNCS:
        return
    m = meta.map
    if m is None:
        raise env.einval("kernel subsystem misconfigured verifier")
    if m.spec.flags & _RDONLY_PROG and func_id in _MAP_WRITERS:
        raise env.eacces("write into map forbidden")
    aux = env.aux[env.insn_idx]
    if aux.map_ptr is None:
        aux.map_ptr = m
    elif aux.map_ptr is not m and aux.map_ptr != m:
        # (inner-map templates compare equal when they stand for the same inner map)
        aux.map_poisoned = True


def _record_func_key(env: Env, meta: CallMeta) -> None:
    from .precision import mark_chain_precision
    from .regs import is_reg_const

    m = meta.map
    if m is None or m.spec.type != _PROG_ARRAY:
        raise env.einval("expected prog array map for tail call")
    reg = env.regs[3]
    aux = env.aux[env.insn_idx]
    val = reg.b.var_off.value
    if not (is_reg_const(reg, False) and val < m.spec.max_entries):
        aux.map_key_state = -1
        return
    mark_chain_precision(env, 3)
    if aux.map_key_state == 0:
        aux.map_key_state = val + 1
    elif aux.map_key_state != -1 and aux.map_key_state != val + 1:
        aux.map_key_state = -1


def check_func_arg(env: Env, arg: int, meta: CallMeta, fn: P.HelperProto) -> None:
    regno = arg + 1
    arg_type = fn.arg(arg)
    if arg_type == A_DONTCARE:
        return
    check_reg_arg(env, regno, Op.SRC)
    st = env.cur_state
    assert st is not None
    reg = st.frames[st.curframe].regs[regno]
    if arg_type == A_ANYTHING:
        if is_pointer_value(env, regno):
            raise env.eacces(f"R{regno} leaks addr into helper function")
        return
    if (reg.type & 0xFF) in _PKT and not may_access_direct_pkt_data(env, False, meta.pkt_access):
        raise env.eacces("helper access to the packet is not allowed")
    base = arg_type & 0xFF
    if base == A_PTR_TO_MAP_VALUE:
        if meta.map is None:
            raise env.eacces("invalid map_ptr to access map->type")
        mt = meta.map.spec.type
        if mt in _SOCK_MAP_TYPES:
            if arg_type == A_PTR_TO_MAP_VALUE:
                arg_type = A_PTR_TO_BTF_ID_SOCK_COMMON
                base = arg_type & 0xFF
            else:
                raise env.einval("invalid arg_type for sockmap/sockhash")
        elif mt == _BLOOM_FILTER and meta.func_id == MAP_PEEK:
            arg_type = A_PTR_TO_MAP_VALUE
    if arg_type & P.MAYBE_NULL and register_is_null(reg):
        mark_chain_precision(env, regno)
    else:
        _check_reg_type(env, regno, arg_type, fn, meta)
        if meta.func_id == KPTR_XCHG and regno == 2 and reg.type & 0xFF == PTR_TO_BTF_ID:
            _check_kptr_xchg_value(env, reg, regno, meta)
        _check_func_arg_reg_off(env, reg, regno, arg_type)
    if arg_type & P.RELEASE:
        if not reg.ref_obj_id and not register_is_null(reg):
            raise env.einval(f"R{regno} must be referenced when passed to release function")
        meta.release_regno = regno
    if reg.ref_obj_id and base != A_KPTR_XCHG_DEST:
        if meta.ref_obj_id:
            raise env.error(errno.EFAULT, f"verifier internal error: more than one arg with ref_obj_id R{regno} {reg.ref_obj_id} {meta.ref_obj_id}")
        meta.ref_obj_id = reg.ref_obj_id
    write = bool(arg_type & P.WRITE)
    if base == A_CONST_MAP_PTR:
        if meta.map is not None and (meta.map is not reg.map or meta.map_uid != reg.map_uid):
            raise env.einval(
                f"timer pointer in R1 map_uid={meta.map_uid} doesn't match map pointer in R2 map_uid={reg.map_uid}"
            )
        meta.map = reg.map
        meta.map_uid = reg.map_uid
    elif base == A_PTR_TO_MAP_KEY:
        if meta.map is None:
            raise env.eacces("invalid map_ptr to access map->key")
        check_helper_mem_access(env, regno, meta.map.spec.key_size, False, False, None)
        if meta.map.spec.type in _ARRAYS:
            meta.const_map_key = constant_map_key(env, reg, meta.map.spec.key_size)
    elif base == A_PTR_TO_MAP_VALUE:
        if arg_type & P.MAYBE_NULL and register_is_null(reg):
            return
        if meta.map is None:
            raise env.eacces("invalid map_ptr to access map->value")
        meta.raw_mode = bool(arg_type & P.UNINIT)
        check_helper_mem_access(env, regno, meta.map.spec.value_size, write, False, meta)
    elif base == A_PTR_TO_FUNC:
        meta.subprogno = reg.btf_id  # the subprogram a PTR_TO_FUNC names
    elif base == A_PTR_TO_MEM:
        meta.raw_mode = bool(arg_type & P.UNINIT)
        if arg_type & P.FIXED:
            size = fn.arg_size(arg)
            check_helper_mem_access(env, regno, size, write, False, meta)
            if arg_type & P.ALIGNED:
                check_ptr_alignment(env, reg, 0, size, True)
    elif base in _A_SIZES:
        prev_write = bool(fn.arg(arg - 1) & P.WRITE)
        check_mem_size_reg(env, reg, regno, prev_write, base == A_CONST_SIZE_OR_ZERO, meta)
    elif base == A_CONST_ALLOC_SIZE_OR_ZERO:
        if reg.b.var_off.mask != 0:
            raise env.eacces(f"R{regno} is not a known constant'")
        meta.mem_size = reg.b.var_off.value
        mark_chain_precision(env, regno)
    elif base == A_PTR_TO_CONST_STR:
        _check_reg_const_str(env, reg, regno)
    elif base == A_KPTR_XCHG_DEST:
        from .kptr import process_kptr_func

        meta.kptr_field = process_kptr_func(env, regno)
    elif base in _A_NEEDS_BTF_MAPS:
        raise env.einval(f"{_fname(meta.func_id)}: this argument kind needs BTF-described maps (not supported yet)")


def _check_kptr_xchg_value(env: Env, reg: RegState, regno: int, meta: CallMeta) -> None:
    """The pointer ``bpf_kptr_xchg`` stores: not possibly NULL (NULL itself is fine), and
    of exactly the kptr's type."""
    from .kptr import map_kptr_match_type

    if reg.type & PTR_MAYBE_NULL:
        raise env.eacces(f"Possibly NULL pointer passed to helper arg{regno}")
    if meta.kptr_field is not None:
        map_kptr_match_type(env, meta.kptr_field, reg, regno)


# (arg_type, reg_type) -> whether the register passes the argument's type check: a pure
# function of two ints, and the flag arithmetic behind it is slow on enum values
_FITS: dict[tuple[int, int], bool] = {}
_MEM_ARG_TYPES = P.COMPATIBLE_REG_TYPES[P.ArgType.PTR_TO_MEM]


def _check_reg_type(env: Env, regno: int, arg_type: int, fn: P.HelperProto, meta: CallMeta) -> None:
    st = env.cur_state
    assert st is not None
    reg = st.frames[st.curframe].regs[regno]
    t = reg.type
    types = P.compatible_reg_types(arg_type)
    if types is None:
        raise env.error(errno.EFAULT, f"verifier internal error: unsupported arg type {arg_type}")
    key = (arg_type, t)
    fits = _FITS.get(key)
    if fits is None:
        fits = _FITS[key] = P.reg_type_fits(arg_type, t)
    if fits:
        if t & 0xFF == PTR_TO_BTF_ID and types == _MEM_ARG_TYPES and not arg_type & P.RDONLY:
            raise env.eacces(
                f"{_fname(meta.func_id)}() may write into memory pointed by R{regno} type={reg_type_str(t)}"
            )
        return
    expected = ", ".join(reg_type_str(t) for t in types)
    raise env.eacces(f"R{regno} type={reg_type_str(reg.type)} expected={expected}")


# register types passed to a helper argument at any fixed or variable offset
_ANY_OFF_TYPES = frozenset((
    PTR_TO_STACK, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE, PTR_TO_MEM,
    PTR_TO_MEM | MEM_RDONLY, PTR_TO_MEM | MEM_RINGBUF, PTR_TO_BUF, PTR_TO_BUF | MEM_RDONLY,
    PTR_TO_ARENA, SCALAR,
))  # fmt: skip


def _check_func_arg_reg_off(env: Env, reg: RegState, regno: int, arg_type: int) -> None:
    t = reg.type
    if arg_type & P.RELEASE:
        if arg_type & 0xFF == A_PTR_TO_DYNPTR and t == PTR_TO_STACK:
            return
        if reg.off:
            raise env.einval(f"R{regno} must have zero offset when passed to release func or trusted arg to kfunc")
        check_ptr_off_reg(env, reg, regno)
        return
    if t in _ANY_OFF_TYPES:
        return
    fixed_ok = t & 0xFF == PTR_TO_BTF_ID
    check_ptr_off_reg(env, reg, regno, fixed_ok)


def _check_reg_const_str(env: Env, reg: RegState, regno: int) -> None:
    from .mem import check_map_access, map_is_rdonly

    if reg.type != RegType.PTR_TO_MAP_VALUE:
        raise env.einval("")
    m = reg.map
    if not map_is_rdonly(m):
        raise env.eacces(f"R{regno} does not point to a readonly map'")
    if reg.b.var_off.mask != 0:
        raise env.eacces(f"R{regno} is not a constant address'")
    if m.spec.type != MapType.ARRAY:
        raise env.eacces("no direct value access support for this map type")
    check_map_access(env, regno, reg.off, m.spec.value_size - reg.off, False, True)
    off = reg.off + reg.b.var_off.value
    value = m.lookup(bytes(m.spec.key_size))
    if b"\0" not in value[off:]:
        raise env.einval("string is not zero-terminated")


_COMPAT: dict[int, set[int]] = {
    MapType.PROG_ARRAY: {TAIL_CALL},
    MapType.PERF_EVENT_ARRAY: {_hid(n) for n in ("perf_event_read", "perf_event_output", "skb_output",
                                                 "perf_event_read_value", "xdp_output")},
    MapType.RINGBUF: {_hid(n) for n in ("ringbuf_output", "ringbuf_reserve", "ringbuf_query",
                                        "ringbuf_reserve_dynptr", "ringbuf_submit_dynptr",
                                        "ringbuf_discard_dynptr")},
    MapType.USER_RINGBUF: {_hid("user_ringbuf_drain")},
    MapType.STACK_TRACE: {_hid("get_stackid")},
    MapType.CGROUP_ARRAY: {_hid("skb_under_cgroup"), _hid("current_task_under_cgroup")},
    MapType.CGROUP_STORAGE: {_hid("get_local_storage")},
    MapType.PERCPU_CGROUP_STORAGE: {_hid("get_local_storage")},
    MapType.DEVMAP: {REDIRECT_MAP, MAP_LOOKUP},
    MapType.DEVMAP_HASH: {REDIRECT_MAP, MAP_LOOKUP},
    MapType.CPUMAP: {REDIRECT_MAP},
    MapType.XSKMAP: {REDIRECT_MAP, MAP_LOOKUP},
    MapType.ARRAY_OF_MAPS: {MAP_LOOKUP},
    MapType.HASH_OF_MAPS: {MAP_LOOKUP},
    MapType.QUEUE: {MAP_PEEK, MAP_POP, MAP_PUSH},
    MapType.STACK: {MAP_PEEK, MAP_POP, MAP_PUSH},
    MapType.BLOOM_FILTER: {MAP_PEEK, MAP_PUSH},
    MapType.SOCKMAP: {_hid(n) for n in ("sk_redirect_map", "sock_map_update", "msg_redirect_map",
                                        "sk_select_reuseport")} | {MAP_LOOKUP},
    MapType.SOCKHASH: {_hid(n) for n in ("sk_redirect_hash", "sock_hash_update", "msg_redirect_hash",
                                         "sk_select_reuseport")} | {MAP_LOOKUP},
    MapType.REUSEPORT_SOCKARRAY: {_hid("sk_select_reuseport")},
    **{mt: {_hid(f"{kind}_storage_get"), _hid(f"{kind}_storage_delete"), KPTR_XCHG}
       for mt, kind in ((MapType.SK_STORAGE, "sk"), (MapType.INODE_STORAGE, "inode"),
                        (MapType.TASK_STORAGE, "task"), (MapType.CGRP_STORAGE, "cgrp"))},
}  # fmt: skip
# Socket maps also take plain update/delete, but only where ``_may_update_sockmap`` says so.
_SOCK_MAPS = (MapType.SOCKMAP, MapType.SOCKHASH)
_FUNC_MAPS: dict[int, set[int]] = {
    TAIL_CALL: {MapType.PROG_ARRAY},
    **{f: {MapType.PERF_EVENT_ARRAY} for f in _COMPAT[MapType.PERF_EVENT_ARRAY]},
    **{f: {MapType.RINGBUF} for f in _COMPAT[MapType.RINGBUF]},
    _hid("user_ringbuf_drain"): {MapType.USER_RINGBUF},
    _hid("get_stackid"): {MapType.STACK_TRACE},
    _hid("current_task_under_cgroup"): {MapType.CGROUP_ARRAY},
    _hid("skb_under_cgroup"): {MapType.CGROUP_ARRAY},
    REDIRECT_MAP: {MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP},
    _hid("get_local_storage"): {MapType.CGROUP_STORAGE, MapType.PERCPU_CGROUP_STORAGE},
    MAP_POP: {MapType.QUEUE, MapType.STACK},
    MAP_PEEK: {MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER},
    MAP_PUSH: {MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER},
    LOOKUP_PERCPU: {MapType.PERCPU_ARRAY, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH},
    **{_hid(n): {MapType.SOCKMAP} for n in ("sk_redirect_map", "msg_redirect_map", "sock_map_update")},
    **{_hid(n): {MapType.SOCKHASH} for n in ("sk_redirect_hash", "msg_redirect_hash", "sock_hash_update")},
    _hid("sk_select_reuseport"): {MapType.REUSEPORT_SOCKARRAY, *_SOCK_MAPS},
    **{_hid(f"{kind}_storage_{op}"): {mt}
       for mt, kind in ((MapType.SK_STORAGE, "sk"), (MapType.INODE_STORAGE, "inode"),
                        (MapType.TASK_STORAGE, "task"), (MapType.CGRP_STORAGE, "cgrp"))
       for op in ("get", "delete")},
}  # fmt: skip

# Program types that can never hold a locked socket, so they may change a socket map
# with the generic update/delete helpers.
_SOCKMAP_WRITERS = {
    ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.XDP,
    ProgType.SK_REUSEPORT, ProgType.FLOW_DISSECTOR, ProgType.SK_LOOKUP,
}  # fmt: skip


def _may_update_sockmap(env: Env, func_id: int) -> bool:
    """Whether ``bpf_map_update_elem``/``bpf_map_delete_elem`` may touch a socket map here."""
    if func_id not in (MAP_UPDATE, MAP_DELETE):
        return False
    pt = env.prog_type
    if (
        pt in _SOCKMAP_WRITERS
        or (pt == ProgType.TRACING and env.expected_attach_type == AttachType.TRACE_ITER)
        # sock_ops adds sockets only through bpf_sock_map_update, which checks the event
        or (pt == ProgType.SOCK_OPS and func_id == MAP_DELETE)
    ):
        return True
    env.verbose("cannot update sockmap in this context\n")
    return False


def check_map_func_compatibility(env: Env, m: Any, func_id: int) -> None:
    if m is None:
        return
    mt = m.spec.type
    allowed = _COMPAT.get(mt)
    bad = allowed is not None and func_id not in allowed
    if bad and mt in _SOCK_MAPS and _may_update_sockmap(env, func_id):
        bad = False
    need = _FUNC_MAPS.get(func_id)
    if need is not None and mt not in need:
        bad = True
    if func_id == TAIL_CALL and not bad and len(env.subprogs) > 1:
        pass  # the JIT allows tail calls beside bpf-to-bpf calls on x86-64
    if bad:
        raise env.einval(f"cannot pass map_type {int(mt)} into func {_fname(func_id)}#{func_id}")


# --- bpf-to-bpf calls -----------------------------------------------------------------------


def _find_subprog(env: Env, start: int) -> int:
    for i, sp in enumerate(env.subprogs):
        if sp.start == start:
            return i
    return -1


def check_func_call(env: Env, insn: Insn) -> int:
    idx = env.insn_idx
    target = idx + insn.imm + 1
    sub = _find_subprog(env, target)
    if sub < 0:
        raise env.error(errno.EFAULT, f"verifier bug. No program starts at insn {target}")
    if env.subprogs[sub].is_global:
        from .global_funcs import call_global

        return call_global(env, sub)
    state = env.state
    caller = state.cur
    if state.curframe + 1 >= MAX_CALL_FRAMES:
        raise env.error(errno.E2BIG, f"the call stack of {state.curframe + 2} frames is too deep")
    callee = FuncState()
    init_func_state(callee, idx, state.curframe + 1, sub)
    for r in range(1, 6):
        callee.regs[r].assign(caller.regs[r])
    state.frames.append(callee)
    state.curframe += 1
    for r in range(6):
        mark_reg_not_init(caller.regs, r)
        env.mark_reg_scratched(r)
    env.stack_live.reset_callchain()
    if env.level:
        env.verbose("caller:\n")
        print_verifier_state_line(env, caller, True)
        env.verbose("callee:\n")
        print_verifier_state_line(env, callee, True)
    return env.subprogs[sub].start


def prepare_func_exit(env: Env) -> int:
    from .precision import mark_chain_precision

    state = env.state
    callee = state.cur
    r0 = callee.regs[0]
    if r0.type == PTR_TO_STACK:
        raise env.einval("cannot return stack pointer to the caller")
    caller = state.frames[state.curframe - 1]
    if callee.in_callback_fn:
        if r0.type != SCALAR:
            raise env.eacces("R0 not a scalar value")
        mark_chain_precision(env, 0)
        lo, hi = callee.callback_ret_range
        if not (lo <= r0.b.smin and r0.b.smax <= hi):
            raise env.einval(_invalid_scalar_text(r0, lo, hi, "At callback return", "R0"))
        next_idx = callee.callsite
    else:
        caller.regs[0].assign(r0)
        next_idx = callee.callsite + 1
    if env.level:
        env.verbose("returning from callee:\n")
        print_verifier_state_line(env, callee, True)
        env.verbose(f"to caller at {next_idx}:\n")
        print_verifier_state_line(env, caller, True)
    state.frames.pop()
    state.curframe -= 1
    if callee.in_callback_fn:
        # the next iteration starts from the call again: scalars the callback changed
        # and nothing needed exactly are widened, so the iterations converge
        from .loops import find_prev_entry, widen_imprecise_scalars

        prev = find_prev_entry(env, state, next_idx)
        if prev is not None:
            widen_imprecise_scalars(env, prev, state)
    return next_idx


def check_kfunc_call(env: Env, insn: Insn) -> int:
    if insn.imm == 0 and insn.off == 0:
        # an invalid call the kernel tolerates if dead-code removal drops it (checked
        # again after verification)
        return env.insn_idx + 1
    from .kfunc import check_kfunc_call as check

    return check(env, insn)


def check_pseudo_func(env: Env, insn: Insn, dst: RegState) -> None:
    """A ``BPF_PSEUDO_FUNC`` load: a pointer to a static subprogram (named by btf_id)."""
    sub = _find_subprog(env, env.insn_idx + insn.imm + 1)
    if not env.func_info:
        raise env.einval("missing btf func_info")
    if env.subprogs[sub].is_global:
        raise env.einval("callback function not static")
    dst.type = RegType.PTR_TO_FUNC
    dst.btf_id = sub


# --- program exit ---------------------------------------------------------------------------


def _invalid_scalar_text(reg: RegState, lo: int, hi: int, ctx: str, name: str) -> str:
    parts = [f"{ctx} the register {name} has"]
    unknown = True
    if reg.b.smin > -(1 << 63):
        parts.append(f" smin={reg.b.smin}")
        unknown = False
    if reg.b.smax < (1 << 63) - 1:
        parts.append(f" smax={reg.b.smax}")
        unknown = False
    if unknown:
        parts.append(" unknown scalar value")
    parts.append(f" should have been in [{lo}, {hi}]")
    return "".join(parts)


def return_range(env: Env) -> tuple[int, int] | None:
    """The values a program of this type may return (None: anything)."""
    pt, at = env.prog_type, env.expected_attach_type
    if pt == ProgType.CGROUP_SOCK_ADDR:
        if at in (AttachType.CGROUP_UDP4_RECVMSG, AttachType.CGROUP_UDP6_RECVMSG,
                  AttachType.CGROUP_UNIX_RECVMSG, AttachType.CGROUP_INET4_GETPEERNAME,
                  AttachType.CGROUP_INET6_GETPEERNAME, AttachType.CGROUP_UNIX_GETPEERNAME,
                  AttachType.CGROUP_INET4_GETSOCKNAME, AttachType.CGROUP_INET6_GETSOCKNAME,
                  AttachType.CGROUP_UNIX_GETSOCKNAME):  # fmt: skip
            return (1, 1)
        if at in (AttachType.CGROUP_INET4_BIND, AttachType.CGROUP_INET6_BIND):
            return (0, 3)
        return (0, 1)
    if pt == ProgType.CGROUP_SKB:
        return (0, 3) if at == AttachType.CGROUP_INET_EGRESS else (0, 1)
    if pt in (ProgType.CGROUP_SOCK, ProgType.SOCK_OPS, ProgType.CGROUP_DEVICE,
              ProgType.CGROUP_SYSCTL, ProgType.CGROUP_SOCKOPT):  # fmt: skip
        return (0, 1)
    if pt == ProgType.RAW_TRACEPOINT:
        return None
    if pt == ProgType.LSM:
        from .btf_ctx import lsm_return_range

        return lsm_return_range(env)
    if pt == ProgType.TRACING:
        if at in (AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT):
            return (0, 0)
        if at == AttachType.TRACE_ITER:
            return (0, 1)
        return None
    if pt == ProgType.KPROBE:
        return (0, 1) if at == AttachType.TRACE_KPROBE_SESSION else None
    if pt == ProgType.SK_LOOKUP:
        return (0, 1)
    if pt == ProgType.NETFILTER:
        return (0, 1)
    return None


_RANGES: dict[tuple[ProgType, AttachType | None], tuple[int, int] | None] = {}


def _return_range_of(env: Env) -> tuple[int, int] | None:
    """``return_range``, remembered per program type and attach point (all it depends on,
    except for LSM hooks, which are asked each time)."""
    key = (env.prog_type, env.expected_attach_type)
    try:
        return _RANGES[key]
    except KeyError:
        rng = return_range(env)
        if env.prog_type != _LSM:
            _RANGES[key] = rng
        return rng


def check_return_code(env: Env, regno: int, name: str) -> None:
    st = env.cur_state
    assert st is not None
    is_subprog = st.frames[0].subprogno != 0
    if not is_subprog and env.prog_type == _STRUCT_OPS:
        from .struct_ops_ctx import skip_return_check

        if skip_return_check(env):
            return
    check_reg_arg(env, regno, Op.SRC)
    reg = st.frames[st.curframe].regs[regno]
    if reg.type != SCALAR and not env.options.allow_ptr_leaks:  # is_pointer_value
        raise env.eacces(f"R{regno} leaks addr as return value")
    if is_subprog:
        if reg.type != SCALAR:
            raise env.einval(
                f"At subprogram exit the register R{regno} is not a scalar value ({reg_type_str(reg.type)})"
            )
        return
    rng = _return_range_of(env)
    if rng is None:
        return
    if reg.type != SCALAR:
        raise env.einval(f"At program exit the register R{regno} is not a known value ({reg_type_str(reg.type)})")
    mark_chain_precision(env, regno)
    lo, hi = rng
    if env.prog_type == _LSM and env.expected_attach_type != _LSM_CGROUP:
        smin, smax = reg.b.s32_min, reg.b.s32_max  # an LSM hook returns an int: 32 bits count
    else:
        smin, smax = reg.b.smin, reg.b.smax
    if not (lo <= smin and smax <= hi):
        raise env.einval(_invalid_scalar_text(reg, lo, hi, "At program exit", name))


__all__ = ["MAX_CALL_FRAMES", "H"]
