"""Memory handed to helpers: a pointer plus a size, checked for every byte it may cover
(``check_helper_mem_access``, ``check_stack_range_initialized``, ``check_mem_size_reg``)."""

from __future__ import annotations

from typing import Any

from ..isa.semantics import s64 as _s64
from ..kernel.regtypes import BASE_TYPE_MASK, RegType
from . import tnum
from .env import Env
from .log import reg_type_str
from .mem import (
    check_buffer_access,
    check_map_access,
    check_map_access_type,
    check_mem_access,
    check_mem_region_access,
    check_packet_access,
)
from .regs import (
    MEM_RDONLY,
    PTR_TO_BTF_ID,
    PTR_TO_BUF,
    PTR_TO_CTX,
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    PTR_TO_MEM,
    PTR_TO_PACKET,
    PTR_TO_PACKET_META,
    PTR_TO_STACK,
    SCALAR,
    register_is_null,
)
from .stack import check_stack_access_within_bounds
from .state import BPF_REG_SIZE, Slot

BPF_MAX_VAR_SIZ = 1 << 29
_PKT = frozenset((PTR_TO_PACKET, PTR_TO_PACKET_META))


def check_stack_range_initialized(
    env: Env, regno: int, off: int, access_size: int, zero_size_allowed: bool,
    direct: bool, meta: Any, write: bool = False,
) -> None:  # fmt: skip
    st = env.cur_state
    assert st is not None
    reg = st.frames[st.curframe].regs[regno]
    state = st.frames[reg.frameno]
    extra = "" if direct else " indirect"
    if access_size == 0 and not zero_size_allowed:
        raise env.eacces("invalid zero-sized read")
    clobber = write and not direct
    check_stack_access_within_bounds(env, regno, off, access_size, write)
    vo = reg.b.var_off
    if vo.mask == 0:
        min_off = max_off = _s64(vo.value) + off
    else:
        if not env.options.bypass_spec_v1:
            raise env.eacces(
                f"R{regno}{extra} variable offset stack access prohibited for !root, var_off={tnum.format(vo)}"
            )
        if meta is not None and meta.raw_mode:
            meta = None
        min_off = reg.b.smin + off
        max_off = reg.b.smax + off
    if meta is not None and meta.raw_mode:
        for i in range(min_off, max_off + access_size):
            stack_off = -i - 1
            if state.allocated_stack <= stack_off:
                continue
            if state.stack[stack_off // BPF_REG_SIZE].slot_type[stack_off % BPF_REG_SIZE] == Slot.DYNPTR:
                raise env.eacces(f"potential write to dynptr at off={i} disallowed")
        meta.access_size = access_size
        meta.regno = regno
        return
    # the slots read, marked live once at the end (or before an error: marking each
    # byte as it is read would record the same)
    read_mask = 0
    allow_uninit = env.options.allow_uninit_stack
    allocated = len(state.stack) * BPF_REG_SIZE
    for i in range(min_off, max_off + access_size):
        slot_idx = -i - 1
        spi = slot_idx // BPF_REG_SIZE
        if allocated <= slot_idx:
            _mark_read(env, reg.frameno, read_mask)
            raise env.error(14, "verifier bug: allocated_stack too small", newline=False)
        slot = state.stack[spi]
        stype = slot.slot_type
        j = slot_idx % BPF_REG_SIZE
        t = stype[j]
        if t == _MISC:
            read_mask |= 1 << spi
            continue
        if t == _ZERO or (t == _INVALID and allow_uninit):
            if clobber:
                stype[j] = _MISC
            read_mask |= 1 << spi
            continue
        if stype[BPF_REG_SIZE - 1] == _SPILL and (slot.spilled_ptr.type == SCALAR or env.options.allow_ptr_leaks):
            if clobber:
                slot.spilled_ptr.mark_unknown(precise=not env.options.bpf_capable)
                for k in range(BPF_REG_SIZE):
                    if stype[k] != _INVALID:
                        stype[k] = _MISC
            read_mask |= 1 << spi
            continue
        _mark_read(env, reg.frameno, read_mask)
        if vo.mask == 0:
            raise env.eacces(
                f"invalid{extra} read from stack R{regno} off {min_off}+{i - min_off} size {access_size}"
            )
        raise env.eacces(
            f"invalid{extra} read from stack R{regno} var_off {tnum.format(vo)}+{i - min_off} size {access_size}"
        )
    _mark_read(env, reg.frameno, read_mask)


_INVALID, _SPILL, _MISC, _ZERO = Slot.INVALID, Slot.SPILL, Slot.MISC, Slot.ZERO


def _mark_read(env: Env, frameno: int, mask: int) -> None:
    if mask:
        env.stack_live.mark_read(frameno, env.insn_idx, mask)


def check_helper_mem_access(
    env: Env, regno: int, access_size: int, write: bool, zero_size_allowed: bool, meta: Any
) -> None:
    st = env.cur_state
    assert st is not None
    regs = st.frames[st.curframe].regs
    reg = regs[regno]
    bt = reg.type & BASE_TYPE_MASK
    if bt == PTR_TO_STACK:
        check_stack_range_initialized(env, regno, reg.off, access_size, zero_size_allowed, False, meta, write)
        return
    if bt in _PKT:
        check_packet_access(env, regno, reg.off, access_size, zero_size_allowed)
        return
    if bt == PTR_TO_MAP_KEY:
        if write:
            raise env.eacces(f"R{regno} cannot write into {reg_type_str(reg.type)}")
        check_mem_region_access(env, regno, reg.off, access_size, reg.map.spec.key_size, False)
        return
    if bt == PTR_TO_MAP_VALUE:
        check_map_access_type(env, regno, reg.off, access_size, write)
        check_map_access(env, regno, reg.off, access_size, zero_size_allowed, True)
        return
    if bt == PTR_TO_MEM:
        if reg.type & MEM_RDONLY and write:
            raise env.eacces(f"R{regno} cannot write into {reg_type_str(reg.type)}")
        check_mem_region_access(env, regno, reg.off, access_size, reg.mem_size, zero_size_allowed)
        return
    if bt == PTR_TO_BUF:
        rdonly = bool(reg.type & MEM_RDONLY)
        if rdonly and write:
            raise env.eacces(f"R{regno} cannot write into {reg_type_str(reg.type)}")
        check_buffer_access(env, reg, regno, reg.off, access_size, zero_size_allowed, rdonly)
        return
    if bt == PTR_TO_BTF_ID:
        from .btf_access import check_ptr_to_btf_access

        check_ptr_to_btf_access(env, regs, regno, reg.off, access_size, False, -1)
        return
    if bt == PTR_TO_CTX and not _has_ctx_conversion(env):
        if access_size == 0:
            if zero_size_allowed:
                return
            raise env.eacces("")
        check_mem_access(env, env.insn_idx, regno, access_size - 1, 0x10, write, -1)
        return
    if zero_size_allowed and access_size == 0 and register_is_null(reg):
        return
    raise env.eacces(f"R{regno} type={reg_type_str(reg.type)} expected={reg_type_str(RegType.PTR_TO_STACK)}")


def _has_ctx_conversion(env: Env) -> bool:
    """Program types whose context is converted (the context is not plain memory)."""
    from ..kernel import ctx_access

    return ctx_access.has_ctx_conversion(env.prog_type)


def check_mem_size_reg(env: Env, reg: Any, regno: int, write: bool, zero_size_allowed: bool, meta: Any) -> None:
    from .precision import mark_chain_precision

    if meta is not None:
        meta.msize_max_value = reg.b.umax
    if reg.b.var_off.mask != 0:
        meta = None
    if reg.b.smin < 0:
        raise env.eacces(f"R{regno} min value is negative, either use unsigned or 'var &= const'")
    if reg.b.umin == 0 and not zero_size_allowed:
        raise env.eacces(f"R{regno} invalid zero-sized read: u64=[{reg.b.umin},{reg.b.umax}]")
    if reg.b.umax >= BPF_MAX_VAR_SIZ:
        raise env.eacces(f"R{regno} unbounded memory access, use 'var &= const' or 'if (var < const)'")
    check_helper_mem_access(env, regno - 1, reg.b.umax, write, zero_size_allowed, meta)
    mark_chain_precision(env, regno)

