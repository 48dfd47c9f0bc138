"""Loads and stores: ``check_mem_access`` and the checks for each pointer type.

A memory access is allowed by the type of the pointer register: the stack within the
frame, a map value within ``value_size`` (for every value its variable offset may take),
the packet within the range a ``data_end`` comparison proved, the context at the fields
the program type allows, and so on; each refusal has the kernel's message.
"""

from __future__ import annotations

import errno

from ..isa.insn import Insn
from ..isa.opcodes import AtomicOp, InsnClass, Mode, Size
from ..isa.semantics import s32 as _s32
from ..kernel import ctx_access
from ..kernel.progtypes import ProgType
from ..kernel.regtypes import BASE_TYPE_MASK, RegType, base_type
from ..maps.types import MapFlag, MapType
from . import scalar as sc
from . import tnum
from .btf_ctx import mark_retval_read
from .buf_access import check_buf_mem_access
from .buf_access import check_buffer_access as check_buffer_access
from .env import BPF_MAX_VAR_OFF, Env
from .iter_ctx import attach_func_sig, mark_ctx_pointer
from .log import reg_type_str
from .regs import (
    CONST_PTR_TO_MAP,
    MEM_RDONLY,
    NOT_INIT,
    PTR_MAYBE_NULL,
    PTR_TO_ARENA,
    PTR_TO_BTF_ID,
    PTR_TO_BUF,
    PTR_TO_CTX,
    PTR_TO_FLOW_KEYS,
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    PTR_TO_MEM,
    PTR_TO_PACKET,
    PTR_TO_PACKET_META,
    PTR_TO_SOCK_COMMON,
    PTR_TO_SOCKET,
    PTR_TO_STACK,
    PTR_TO_TCP_SOCK,
    PTR_TO_TP_BUFFER,
    PTR_TO_XDP_SOCK,
    PTR_UNTRUSTED,
    SCALAR,
    Op,
    check_reg_arg,
    is_pointer_value,
    mark_reg_known_zero,
    mark_reg_unknown,
    type_is_pkt_pointer,
    type_is_sk_pointer,
)
from .stack import (
    check_stack_access_within_bounds,
    check_stack_read,
    check_stack_read_fixed_off,
    check_stack_write,
    check_stack_write_fixed_off,
    grow_stack_state,
)
from .state import BPF_REG_SIZE, DEF_NOT_SUBREG, MAX_BPF_STACK, RegState

S64_MIN = -(1 << 63)
MAX_PACKET_OFF = 0xFFFF
SIZE_BYTES = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}
_SIZE_BYTES = {int(k): v for k, v in SIZE_BYTES.items()}
_U64 = (1 << 64) - 1

FAST_PATHS = True
"""Take check_mem_access's inlined path for constant stack offsets; tests turn it off to
check that it agrees with the general path."""
_PKT = frozenset((PTR_TO_PACKET, PTR_TO_PACKET_META))
_RDONLY_PROG, _WRONLY_PROG = int(MapFlag.RDONLY_PROG), int(MapFlag.WRONLY_PROG)
_CTX_LIKE = frozenset((PTR_TO_CTX, PTR_TO_SOCKET, PTR_TO_SOCK_COMMON, PTR_TO_TCP_SOCK, PTR_TO_XDP_SOCK, PTR_TO_BTF_ID))
_LOAD_ACQ, _STORE_REL, _CMPXCHG = int(AtomicOp.LOAD_ACQ), int(AtomicOp.STORE_REL), int(AtomicOp.CMPXCHG)
_ATOMIC_OPS = frozenset(int(op) for op in (
    AtomicOp.ADD, AtomicOp.AND, AtomicOp.OR, AtomicOp.XOR, AtomicOp.FETCH_ADD, AtomicOp.FETCH_AND,
    AtomicOp.FETCH_OR, AtomicOp.FETCH_XOR, AtomicOp.XCHG, AtomicOp.CMPXCHG,
))  # fmt: skip
_ACQ_REL = frozenset((_LOAD_ACQ, _STORE_REL))
_NO_ATOMICS = frozenset((PTR_TO_CTX, PTR_TO_FLOW_KEYS, PTR_TO_ARENA))
_ATOMIC_SIZES = frozenset((int(Size.W), int(Size.DW)))
_SRC, _DST, _DST_NO_MARK = Op.SRC, Op.DST, Op.DST_NO_MARK
_DW, _MEMSX = int(Size.DW), int(Mode.MEMSX)


# --- alignment --------------------------------------------------------------------------


def _aligned(t: tnum.Tnum, size: int) -> bool:
    return tnum.is_aligned(t, size)


# what a misaligned access says it went through
_ALIGN_DESC = {
    PTR_TO_FLOW_KEYS: "flow keys ", PTR_TO_MAP_KEY: "key ", PTR_TO_MAP_VALUE: "value ",
    PTR_TO_CTX: "context ", PTR_TO_STACK: "stack ", PTR_TO_SOCKET: "sock ",
    PTR_TO_SOCK_COMMON: "sock_common ", PTR_TO_TCP_SOCK: "tcp_sock ", PTR_TO_XDP_SOCK: "xdp_sock ",
}  # fmt: skip


def check_ptr_alignment(env: Env, reg: RegState, off: int, size: int, strict_once: bool) -> None:
    if size == 1:  # (every branch below allows single bytes)
        return
    t = reg.type
    if t == PTR_TO_STACK:
        strict = True
    else:
        options = env.options
        strict = (options.strict_alignment and not options.any_alignment) or strict_once
        if not strict or t == PTR_TO_ARENA:
            return
    vo = reg.b.var_off
    if t in _PKT:
        ip_align = 2
        v, m = tnum.add_raw(vo.value, vo.mask, (ip_align + reg.off + off) & _U64, 0)
        if size and (v | m) & (size - 1):
            raise env.eacces(
                f"misaligned packet access off {ip_align}+{tnum.format(vo)}"
                f"+{reg.off}+{off} size {size}"
            )
        return
    v, m = tnum.add_raw(vo.value, vo.mask, (reg.off + off) & _U64, 0)
    if size and (v | m) & (size - 1):
        desc = _ALIGN_DESC.get(t, "")
        raise env.eacces(f"misaligned {desc}access off {tnum.format(vo)}+{reg.off}+{off} size {size}")


# --- bounded regions ----------------------------------------------------------------------


def __check_mem_access(env: Env, regno: int, off: int, size: int, mem_size: int, zero_ok: bool) -> None:
    size_ok = size > 0 or (size == 0 and zero_ok)
    if off >= 0 and size_ok and off + size <= mem_size:
        return
    reg = env.regs[regno]
    t = reg.type
    if t == RegType.PTR_TO_MAP_KEY:
        msg = f"invalid access to map key, key_size={mem_size} off={off} size={size}"
    elif t == RegType.PTR_TO_MAP_VALUE:
        msg = f"invalid access to map value, value_size={mem_size} off={off} size={size}"
    elif t in (RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META, RegType.PTR_TO_PACKET_END):
        msg = f"invalid access to packet, off={off} size={size}, R{regno}(id={reg.id},off={off},r={mem_size})"
    else:
        msg = f"invalid access to memory, mem_size={mem_size} off={off} size={size}"
    raise env.eacces(msg)


def check_mem_region_access(env: Env, regno: int, off: int, size: int, mem_size: int, zero_ok: bool) -> None:
    st = env.cur_state
    assert st is not None
    reg = st.frames[st.curframe].regs[regno]
    smin = reg.b.smin
    if smin < 0 and (smin == S64_MIN or off + smin != _s32(off + smin) or smin + off < 0):
        raise env.eacces(
            f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check."
        )
    try:
        __check_mem_access(env, regno, smin + off, size, mem_size, zero_ok)
    except Exception:
        raise env.eacces(f"R{regno} min value is outside of the allowed memory range") from None
    if reg.b.umax >= BPF_MAX_VAR_OFF:
        raise env.eacces(f"R{regno} unbounded memory access, make sure to bounds check any such access")
    try:
        __check_mem_access(env, regno, reg.b.umax + off, size, mem_size, zero_ok)
    except Exception:
        raise env.eacces(f"R{regno} max value is outside of the allowed memory range") from None


def map_can(m: object, write: bool) -> bool:
    flags = getattr(getattr(m, "spec", None), "flags", 0)
    if flags & _RDONLY_PROG:
        return not write
    if flags & _WRONLY_PROG:
        return write
    return True


def check_map_access_type(env: Env, regno: int, off: int, size: int, write: bool) -> None:
    st = env.cur_state
    assert st is not None
    m = st.frames[st.curframe].regs[regno].map
    if write and not map_can(m, True):
        raise env.eacces(f"write into map forbidden, value_size={m.spec.value_size} off={off} size={size}")
    if not write and not map_can(m, False):
        raise env.eacces(f"read from map forbidden, value_size={m.spec.value_size} off={off} size={size}")


def check_map_access(env: Env, regno: int, off: int, size: int, zero_ok: bool, helper: bool) -> None:
    st = env.cur_state
    assert st is not None
    reg = st.frames[st.curframe].regs[regno]
    check_mem_region_access(env, regno, off, size, reg.map.spec.value_size, zero_ok)
    if getattr(reg.map.spec, "btf", None) is not None:  # special fields: kptrs, locks, timers
        from .kptr import check_map_fields

        check_map_fields(env, reg, off, size, helper)


def map_is_rdonly(m: object) -> bool:
    spec = getattr(m, "spec", None)
    return bool(spec is not None and spec.flags & _RDONLY_PROG and getattr(m, "frozen", False))


def map_direct_read(env: Env, m: object, off: int, size: int, is_ldsx: bool) -> int:
    value = m.lookup(bytes(m.spec.key_size))  # type: ignore[attr-defined]
    raw = int.from_bytes(value[off : off + size], "little")
    if is_ldsx and size < 8 and raw >> (size * 8 - 1):
        raw -= 1 << (size * 8)
    return raw & ((1 << 64) - 1)


# program types that read the packet directly, and those that also write it
_PKT_READ_ONLY = frozenset((ProgType.LWT_IN, ProgType.LWT_OUT, ProgType.LWT_SEG6LOCAL, ProgType.SK_REUSEPORT,
                            ProgType.FLOW_DISSECTOR, ProgType.CGROUP_SKB))  # fmt: skip
_PKT_READ_WRITE = frozenset((ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.XDP, ProgType.LWT_XMIT,
                             ProgType.SK_SKB, ProgType.SK_MSG))  # fmt: skip
_CGROUP_SOCKOPT = ProgType.CGROUP_SOCKOPT


def may_access_direct_pkt_data(env: Env, write: bool, meta_pkt_access: bool | None = None) -> bool:
    pt = env.prog_type
    if pt in _PKT_READ_ONLY:
        if write:
            return False
        pt_rw = True
    else:
        pt_rw = pt in _PKT_READ_WRITE
    if pt_rw:
        if meta_pkt_access is not None:
            return meta_pkt_access
        env.seen_direct_write = True
        return True
    return pt == _CGROUP_SOCKOPT


def check_packet_access(env: Env, regno: int, off: int, size: int, zero_ok: bool) -> None:
    reg = env.regs[regno]
    if reg.b.smin < 0:
        raise env.eacces(
            f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check."
        )
    try:
        if reg.range < 0:
            raise env.einval("")
        __check_mem_access(env, regno, off, size, reg.range, zero_ok)
    except Exception:
        raise env.eacces(f"R{regno} offset is outside of the packet") from None
    env.max_pkt_offset = max(env.max_pkt_offset, off + reg.b.umax + size - 1)


def check_ptr_off_reg(env: Env, reg: RegState, regno: int, fixed_off_ok: bool = False) -> None:
    if reg.off < 0:
        raise env.eacces(f"negative offset {reg_type_str(reg.type)} ptr R{regno} off={reg.off} disallowed")
    if not fixed_off_ok and reg.off:
        raise env.eacces(
            f"dereference of modified {reg_type_str(reg.type)} ptr R{regno} off={reg.off} disallowed"
        )
    vo = reg.b.var_off
    if vo.mask != 0 or vo.value:
        raise env.eacces(f"variable {reg_type_str(reg.type)} access var_off={tnum.format(vo)} disallowed")


def check_ctx_access(env: Env, insn_idx: int, off: int, size: int, write: bool, is_ldsx: bool) -> ctx_access.CtxAccess:
    notes: list[str] = []
    acc = ctx_access.is_valid_access(
        env.prog_type, off, size, "write" if write else "read",
        attach_type=env.expected_attach_type, privileged=env.options.bpf_capable,
        func_sig=attach_func_sig(env), log=notes,
    )  # fmt: skip
    for line in notes:  # what btf_ctx_access says on the way
        env.verbose(line + "\n")
    if acc is None or (is_ldsx and base_type(acc.reg_type) != RegType.SCALAR_VALUE):
        raise env.eacces(f"invalid bpf_context access off={off} size={size}")
    env.aux[insn_idx].ctx_field_size = acc.ctx_field_size
    env.max_ctx_offset = max(env.max_ctx_offset, off + size)
    return acc


def check_sock_access(env: Env, insn_idx: int, regno: int, off: int, size: int, write: bool) -> None:
    reg = env.regs[regno]
    if reg.b.smin < 0:
        raise env.eacces(
            f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check."
        )
    ok = ctx_access.sock_access_ok(reg.type, off, size, "write" if write else "read")
    if not ok:
        raise env.eacces(f"R{regno} invalid {reg_type_str(reg.type)} access off={off} size={size}")


def _check_buffer_offset(env: Env, what: str, reg: RegState, regno: int, off: int, size: int) -> None:
    """Buffers are accessed at constant, non-negative offsets only."""
    if off < 0:
        raise env.eacces(f"R{regno} invalid {what} buffer access: off={off}, size={size}")
    vo = reg.b.var_off
    if vo.mask != 0 or vo.value:
        raise env.eacces(
            f"R{regno} invalid variable buffer offset: off={off}, var_off={tnum.format(vo)}"
        )


def check_tp_buffer_access(env: Env, reg: RegState, regno: int, off: int, size: int) -> None:
    """A writable raw tracepoint's buffer: its size is checked at attach time against the
    largest offset used, so only the shape of the access is checked here."""
    _check_buffer_offset(env, "tracepoint", reg, regno, off, size)
    env.max_tp_access = max(env.max_tp_access, off + size)


def check_mem_access(
    env: Env,
    insn_idx: int,
    regno: int,
    off: int,
    bpf_size: int,
    write: bool,
    value_regno: int,
    strict_once: bool = False,
    is_ldsx: bool = False,
) -> int:
    """Returns history flags from a stack spill/fill (0 otherwise)."""
    st = env.cur_state
    assert st is not None
    regs = st.frames[st.curframe].regs
    reg = regs[regno]
    size = _SIZE_BYTES[bpf_size]
    t = reg.type
    if t == PTR_TO_STACK and not reg.b.var_off.mask and FAST_PATHS:
        # the commonest access, a constant stack offset inside the frame: the checks of
        # check_ptr_alignment and check_stack_access_within_bounds where they pass, then
        # straight to the fixed-offset spill or fill (anything else: the general path)
        state = st.frames[reg.frameno]
        v = reg.b.var_off.value
        at = (v - _U64 - 1 if v >> 63 else v) + reg.off + off
        if (
            not at & (size - 1)
            and at >= -MAX_BPF_STACK
            and at + size <= 0
            and (write or at >= -len(state.stack) * BPF_REG_SIZE or env.options.allow_uninit_stack)
        ):
            if len(state.stack) * BPF_REG_SIZE < -at:
                grow_stack_state(env, state, -at)
            if write:
                return check_stack_write_fixed_off(env, state, at, size, value_regno, insn_idx)
            flags = check_stack_read_fixed_off(env, state, at, size, value_regno)
            if size < 8 and value_regno >= 0 and regs[value_regno].type == SCALAR:
                r = regs[value_regno]
                r.b = sc.coerce_to_size_sx(r.b, size) if is_ldsx else sc.coerce_to_size(r.b, size)
            return flags
    flags = 0
    check_ptr_alignment(env, reg, off, size, strict_once)
    off += reg.off
    # (the branches test disjoint types: the most common come first)
    if t == PTR_TO_STACK:
        check_stack_access_within_bounds(env, regno, off, size, write)
        if not write:
            flags = check_stack_read(env, regno, off, size, value_regno)
        else:
            flags = check_stack_write(env, regno, off, size, value_regno, insn_idx)
    elif t == PTR_TO_CTX:
        if write and value_regno >= 0 and is_pointer_value(env, value_regno):
            raise env.eacces(f"R{value_regno} leaks addr into ctx")
        check_ptr_off_reg(env, reg, regno)
        acc = check_ctx_access(env, insn_idx, off, size, write, is_ldsx)
        if not write and value_regno >= 0:
            if acc.reg_type == SCALAR:
                mark_reg_unknown(env, regs, value_regno)
                if acc.is_retval:
                    mark_retval_read(env, regs[value_regno])
            else:
                mark_reg_known_zero(regs, value_regno)
                if acc.reg_type & PTR_MAYBE_NULL:
                    regs[value_regno].id = env.new_id()
                regs[value_regno].subreg_def = 0
            regs[value_regno].type = acc.reg_type
            mark_ctx_pointer(regs[value_regno], acc)
    elif t == PTR_TO_MAP_VALUE:
        if write and value_regno >= 0 and is_pointer_value(env, value_regno):
            raise env.eacces(f"R{value_regno} leaks addr into map")
        check_map_access_type(env, regno, off, size, write)
        check_map_access(env, regno, off, size, False, False)
        kptr = None
        if getattr(reg.map.spec, "btf", None) is not None:
            from .kptr import check_map_kptr_access, kptr_at_access

            kptr = kptr_at_access(reg, off)
            if kptr is not None:
                check_map_kptr_access(env, regno, value_regno, insn_idx, kptr)
        if kptr is None and not write and value_regno >= 0:
            m = reg.map
            if reg.b.var_off.mask == 0 and map_is_rdonly(m) and m.spec.type == MapType.ARRAY:
                val = map_direct_read(env, m, off + reg.b.var_off.value, size, is_ldsx)
                regs[value_regno].mark_known(val)
            else:
                mark_reg_unknown(env, regs, value_regno)
    elif t == PTR_TO_MAP_KEY:
        if write:
            raise env.eacces(f"write to change key R{regno} not allowed")
        check_mem_region_access(env, regno, off, size, reg.map.spec.key_size, False)
        if value_regno >= 0:
            mark_reg_unknown(env, regs, value_regno)
    elif t & BASE_TYPE_MASK == PTR_TO_MEM:
        rdonly = bool(t & MEM_RDONLY)
        if t & PTR_MAYBE_NULL:
            raise env.eacces(f"R{regno} invalid mem access '{reg_type_str(t)}'")
        if write and rdonly:
            raise env.eacces(f"R{regno} cannot write into {reg_type_str(t)}")
        if write and value_regno >= 0 and is_pointer_value(env, value_regno):
            raise env.eacces(f"R{value_regno} leaks addr into mem")
        check_mem_region_access(env, regno, off, size, reg.mem_size, False)
        if value_regno >= 0 and (not write or rdonly):
            mark_reg_unknown(env, regs, value_regno)
    elif type_is_pkt_pointer(t):
        if write and not may_access_direct_pkt_data(env, True):
            raise env.eacces("cannot write into packet")
        if write and value_regno >= 0 and is_pointer_value(env, value_regno):
            raise env.eacces(f"R{value_regno} leaks addr into packet")
        check_packet_access(env, regno, off, size, False)
        if not write and value_regno >= 0:
            mark_reg_unknown(env, regs, value_regno)
    elif t == PTR_TO_FLOW_KEYS:
        if write and value_regno >= 0 and is_pointer_value(env, value_regno):
            raise env.eacces(f"R{value_regno} leaks addr into flow keys")
        if size < 0 or off < 0 or off + size > ctx_access.FLOW_KEYS_SIZE:
            raise env.eacces(f"invalid access to flow keys off={off} size={size}")
        if not write and value_regno >= 0:
            mark_reg_unknown(env, regs, value_regno)
    elif type_is_sk_pointer(t):
        if write:
            raise env.eacces(f"R{regno} cannot write into {reg_type_str(t)}")
        check_sock_access(env, insn_idx, regno, off, size, write)
        if value_regno >= 0:
            mark_reg_unknown(env, regs, value_regno)
    elif t == PTR_TO_TP_BUFFER:
        check_tp_buffer_access(env, reg, regno, off, size)
        if not write and value_regno >= 0:
            mark_reg_unknown(env, regs, value_regno)
    elif t & BASE_TYPE_MASK == PTR_TO_BTF_ID and not t & PTR_MAYBE_NULL:
        from .btf_access import check_ptr_to_btf_access

        check_ptr_to_btf_access(env, regs, regno, off, size, write, value_regno)
    elif t == CONST_PTR_TO_MAP:
        from .btf_access import check_ptr_to_map_access

        check_ptr_to_map_access(env, regs, regno, off, size, write, value_regno)
    elif t & BASE_TYPE_MASK == PTR_TO_BUF and not t & PTR_MAYBE_NULL:
        check_buf_mem_access(env, regs, regno, off, size, write, value_regno)
    elif t == PTR_TO_ARENA:
        if not write and value_regno >= 0:
            mark_reg_unknown(env, regs, value_regno)
    else:
        raise env.eacces(f"R{regno} invalid mem access '{reg_type_str(t)}'")
    if size < 8 and value_regno >= 0 and not write and regs[value_regno].type == SCALAR:
        r = regs[value_regno]
        r.b = sc.coerce_to_size_sx(r.b, size) if is_ldsx else sc.coerce_to_size(r.b, size)
    return flags


def check_load_mem(env: Env, insn: Insn, strict_once: bool, is_ldsx: bool) -> int:
    """(``insn`` is the instruction at env.insn_idx, as check_reg_arg assumes.)"""
    src, dst = insn.src, insn.dst
    st = env.cur_state
    assert st is not None
    regs = st.frames[st.curframe].regs
    sreg = regs[src] if src < 11 else None
    if (
        sreg is not None
        and dst < 10
        and sreg.type != NOT_INIT
        and (src == 10 or sreg.subreg_def == DEF_NOT_SUBREG)
    ):
        # check_reg_arg's reads and writes where nothing is wrong and nothing to zero-extend:
        # a load writes all 64 bits only when it is a DW or sign-extending one
        env.scratched_regs |= 1 << src | 1 << dst
        code = insn.code
        regs[dst].subreg_def = (
            DEF_NOT_SUBREG if code & 0x18 == _DW or code & 0xE0 == _MEMSX else env.insn_idx + 1
        )
        src_type = sreg.type
    else:
        check_reg_arg(env, src, _SRC)
        check_reg_arg(env, dst, _DST_NO_MARK)
        src_type = regs[src].type
    flags = check_mem_access(env, env.insn_idx, src, insn.off, insn.code & 0x18, False, dst, strict_once, is_ldsx)
    save_aux_ptr_type(env, src_type, allow_trust_mismatch=True)
    return flags


def check_store_reg(env: Env, insn: Insn, strict_once: bool) -> int:
    src, dst = insn.src, insn.dst
    st = env.cur_state
    assert st is not None
    regs = st.frames[st.curframe].regs
    sreg = regs[src] if src < 11 else None
    dreg = regs[dst] if dst < 11 else None
    if (
        sreg is not None
        and dreg is not None
        and sreg.type != NOT_INIT
        and dreg.type != NOT_INIT
        and (src == 10 or sreg.subreg_def == DEF_NOT_SUBREG)
        and (dst == 10 or dreg.subreg_def == DEF_NOT_SUBREG)
    ):
        # check_reg_arg's reads where nothing is wrong and nothing to zero-extend
        env.scratched_regs |= 1 << src | 1 << dst
        dst_type = dreg.type
    else:
        check_reg_arg(env, src, _SRC)
        check_reg_arg(env, dst, _SRC)
        dst_type = regs[dst].type
    flags = check_mem_access(env, env.insn_idx, dst, insn.off, insn.code & 0x18, True, src, strict_once)
    save_aux_ptr_type(env, dst_type)
    return flags


def save_aux_ptr_type(env: Env, t: int, allow_trust_mismatch: bool = False) -> None:
    """Remember the pointer type an access goes through.  A load seen through BTF pointers
    of differing trust on different paths is kept as untrusted: it becomes a probe load
    (:mod:`pybpf.verifier.probe`)."""
    aux = env.aux[env.insn_idx]
    prev = aux.ptr_type
    if not prev:
        aux.ptr_type = t
    elif prev != t and (_ctx_like(prev) or _ctx_like(t)):
        btf = PTR_TO_BTF_ID
        if allow_trust_mismatch and t & BASE_TYPE_MASK == btf and prev & BASE_TYPE_MASK == btf:
            aux.ptr_type = btf | PTR_UNTRUSTED
            return
        raise env.einval("same insn cannot be used with different pointers")


def _ctx_like(t: int) -> bool:
    return (t & BASE_TYPE_MASK) in _CTX_LIKE


def _atomic_ptr_type_ok(env: Env, regno: int) -> bool:
    t = env.regs[regno].type
    return not (
        t in _NO_ATOMICS or type_is_pkt_pointer(t) or type_is_sk_pointer(t)
    )  # fmt: skip


def check_atomic(env: Env, insn: Insn) -> int:
    imm = insn.imm
    if imm in _ACQ_REL:
        return check_atomic_load_store(env, insn)
    if imm not in _ATOMIC_OPS:
        raise env.einval(f"BPF_ATOMIC uses invalid atomic opcode {imm:02x}")
    if insn.code & 0x18 not in _ATOMIC_SIZES:
        raise env.einval("invalid atomic operand size")
    check_reg_arg(env, insn.src, _SRC)
    check_reg_arg(env, insn.dst, _SRC)
    if imm == _CMPXCHG:
        check_reg_arg(env, 0, _SRC)
        if is_pointer_value(env, 0):
            raise env.eacces("R0 leaks addr into mem")
    if is_pointer_value(env, insn.src):
        raise env.eacces(f"R{insn.src} leaks addr into mem")
    if not _atomic_ptr_type_ok(env, insn.dst):
        raise env.eacces(
            f"BPF_ATOMIC stores into R{insn.dst} {reg_type_str(env.regs[insn.dst].type)} is not allowed"
        )
    load_reg = -1
    if imm & 1:
        load_reg = 0 if imm == _CMPXCHG else insn.src
        check_reg_arg(env, load_reg, _DST)
    check_mem_access(env, env.insn_idx, insn.dst, insn.off, insn.size, False, -1, True)
    if load_reg >= 0:
        check_mem_access(env, env.insn_idx, insn.dst, insn.off, insn.size, False, load_reg, True)
    save_aux_ptr_type(env, env.regs[insn.dst].type)
    check_mem_access(env, env.insn_idx, insn.dst, insn.off, insn.size, True, -1, True)
    return 0


def check_atomic_load_store(env: Env, insn: Insn) -> int:
    if insn.imm == AtomicOp.LOAD_ACQ:
        check_reg_arg(env, insn.src, Op.SRC)
        check_reg_arg(env, insn.dst, Op.DST_NO_MARK)
        # load_acquire reads from src into dst... encoded with src as the pointer
        return check_mem_access(env, env.insn_idx, insn.src, insn.off, insn.size, False, insn.dst, True)
    check_reg_arg(env, insn.src, Op.SRC)
    check_reg_arg(env, insn.dst, Op.SRC)
    return check_mem_access(env, env.insn_idx, insn.dst, insn.off, insn.size, True, insn.src, True)


__all__ = ["InsnClass", "Mode", "errno"]
