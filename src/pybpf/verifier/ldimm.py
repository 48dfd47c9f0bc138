"""64-bit immediate loads and the legacy packet loads.

``resolve_pseudo_ldimm64`` runs before anything else is checked: it finds the map every
``BPF_PSEUDO_MAP_*`` load names (by fd, or by index into the ``fd_array``), checks the
direct-value offsets, and rejects unknown opcodes.  ``check_ld_imm`` then types the
destination register; ``check_ld_abs`` checks ``LD_ABS``/``LD_IND``.
"""

from __future__ import annotations

import errno
from typing import Any

from ..errors import BpfError
from ..isa.insn import KNOWN_OPCODES, Insn, lddw_value
from ..isa.opcodes import OPCODE_LDDW, InsnClass, Mode, PseudoLdImm64
from ..kernel.progtypes import ProgType
from ..kernel.regtypes import RegType
from ..maps.types import MapType
from . import scalar as sc
from .cfg import scanned
from .env import BPF_MAX_VAR_OFF, Env
from .pending import push_stack
from .regs import BPF_REG_FP, Op, check_reg_arg, mark_reg_known_zero, mark_reg_unknown
from .state import DEF_NOT_SUBREG

MAX_USED_MAPS = 64


def _map_from_fd(env: Env, fd: int) -> Any:
    from ..maps.base import Map

    obj = env.kernel._fds.get(fd) if env.kernel is not None and fd >= 0 else None
    if not isinstance(obj, Map):
        raise env.error(errno.EBADF, f"fd {fd} is not pointing to valid bpf_map")
    return obj


def _add_used_map(env: Env, m: object) -> int:
    for i, used in enumerate(env.used_maps):
        if used is m:
            return i
    if len(env.used_maps) >= MAX_USED_MAPS:
        raise env.error(errno.E2BIG, f"The total number of maps per program has reached the limit of {MAX_USED_MAPS}")
    env.used_maps = (*env.used_maps, m)
    return len(env.used_maps) - 1


_LDX_MODES = (int(Mode.MEM), int(Mode.MEMSX))


def resolve_pseudo_ldimm64(env: Env) -> None:
    """In program order, every slot but those with a known opcode that is neither an
    ``lddw`` nor a load from memory (``cfg.scan`` lists the others, usually few) and the
    second halves of the ``lddw``."""
    insns = env.insns
    n = len(insns)
    known = KNOWN_OPCODES
    ldx, ldx_modes, lddw = int(InsnClass.LDX), _LDX_MODES, OPCODE_LDDW
    scanned(env)
    second = -1  # the second half of the last lddw: no instruction of its own
    for i in env.cfg_unplain:
        if i == second:
            continue
        insn = insns[i]
        code = insn.code
        if code & 0x07 == ldx and (code & 0xE0 not in ldx_modes or insn.imm != 0):
            raise env.einval("BPF_LDX uses reserved fields")
        if code == lddw:
            nxt = insns[i + 1] if i + 1 < n else None
            if nxt is None or nxt.code != 0 or nxt.dst or nxt.src or nxt.off:
                raise env.einval("invalid bpf_ld_imm64 insn")
            second = i + 1
            src = insn.src
            if not src:  # a plain constant: nothing to resolve
                continue
            if src in (PseudoLdImm64.BTF_ID, PseudoLdImm64.FUNC):
                if src == PseudoLdImm64.BTF_ID:
                    raise env.einval("kernel BTF is not available for BPF_PSEUDO_BTF_ID loads")
                continue
            if src in (PseudoLdImm64.MAP_FD, PseudoLdImm64.MAP_IDX) and nxt.imm != 0:
                raise env.einval("unrecognized bpf_ld_imm64 insn")
            if src not in (PseudoLdImm64.MAP_FD, PseudoLdImm64.MAP_IDX,
                           PseudoLdImm64.MAP_VALUE, PseudoLdImm64.MAP_IDX_VALUE):  # fmt: skip
                raise env.einval("unrecognized bpf_ld_imm64 insn")
            if src in (PseudoLdImm64.MAP_IDX, PseudoLdImm64.MAP_IDX_VALUE):
                idx = insn.imm
                m = env.maps[idx] if 0 <= idx < len(env.maps) else None
                if m is None:
                    raise env.error(errno.EBADF, "fd -1 is not pointing to valid bpf_map")
            else:
                m = _map_from_fd(env, insn.imm)
            env.aux[i].map_index = _add_used_map(env, m)
            check_map_prog_compatibility(env, m)
            if src in (PseudoLdImm64.MAP_VALUE, PseudoLdImm64.MAP_IDX_VALUE):
                off = nxt.imm & 0xFFFFFFFF
                if off >= BPF_MAX_VAR_OFF:
                    raise env.einval(f"direct value offset of {off} is not allowed")
                if m.spec.type not in (MapType.ARRAY, MapType.ARENA):
                    raise env.einval("no direct value access support for this map type")
                try:
                    m.direct_value_addr(off)
                except BpfError as exc:
                    raise env.error(
                        exc.errno,
                        f"invalid access to map value pointer, value_size={m.spec.value_size} off={off}",
                    ) from None
                env.aux[i].map_off = off
            continue
        if code not in known:
            raise env.einval(f"unknown opcode {code:02x}")


def check_map_prog_compatibility(env: Env, m: Any) -> None:
    if m.spec.type == MapType.STRUCT_OPS:
        raise env.einval("bpf_struct_ops map cannot be used in prog")


def map_address(m: object, insn: Insn, second: Insn) -> int:
    """The value the kernel's log shows for a resolved map load (the map or value address)."""
    if insn.src in (PseudoLdImm64.MAP_VALUE, PseudoLdImm64.MAP_IDX_VALUE):
        return m.direct_value_addr(second.imm & 0xFFFFFFFF)  # type: ignore[attr-defined,no-any-return]
    return m.address  # type: ignore[attr-defined,no-any-return]


def check_ld_imm(env: Env, insn: Insn) -> None:
    # The common case first: a plain 64-bit constant (code 0x18, src 0, off 0) into a
    # writable register becomes a known scalar in one step; the state it leaves is the
    # one the generic path below builds (a full-width def, not precise).
    dst_no = insn.dst
    if insn.code == 0x18 and not insn.src and not insn.off and dst_no < BPF_REG_FP:
        env.scratched_regs |= 1 << dst_no
        st = env.cur_state
        assert st is not None
        reg = st.frames[st.curframe].regs[dst_no]
        reg.mark_unknown()
        hi = env.insns[env.insn_idx + 1].imm & 0xFFFFFFFF
        reg.b = sc.known((hi << 32) | (insn.imm & 0xFFFFFFFF))
        reg.subreg_def = DEF_NOT_SUBREG
        return
    if insn.size != 0x18:
        raise env.einval("invalid BPF_LD_IMM insn")
    if insn.off != 0:
        raise env.einval("BPF_LD_IMM64 uses reserved fields")
    check_reg_arg(env, insn.dst, Op.DST)
    regs = env.regs
    dst = regs[insn.dst]
    if insn.src == 0:
        dst.type = RegType.SCALAR_VALUE
        dst.mark_known(lddw_value(insn, env.insns[env.insn_idx + 1]))
        return
    mark_reg_known_zero(regs, insn.dst)
    if insn.src == PseudoLdImm64.FUNC:
        from .calls import check_pseudo_func

        check_pseudo_func(env, insn, dst)
        return
    aux = env.aux[env.insn_idx]
    m = env.used_maps[aux.map_index]
    dst.map = m
    if insn.src in (PseudoLdImm64.MAP_VALUE, PseudoLdImm64.MAP_IDX_VALUE):
        if m.spec.type == MapType.ARENA:
            mark_reg_unknown(env, regs, insn.dst)
            return
        dst.type = RegType.PTR_TO_MAP_VALUE
        dst.off = aux.map_off
    else:
        dst.type = RegType.CONST_PTR_TO_MAP


def check_ld_abs(env: Env, insn: Insn) -> None:
    from .mem import check_ptr_off_reg
    from .refs import check_resource_leak
    from .regs import mark_reg_not_init

    state = env.state
    regs = env.regs
    if env.prog_type not in (ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT):
        raise env.einval("BPF_LD_[ABS|IND] instructions not allowed for this program type")
    for i in range(state.curframe, 0, -1):
        if state.frames[i].in_callback_fn:
            raise env.einval("cannot use BPF_LD_[ABS|IND] within callback")
    if insn.dst != 0 or insn.off != 0 or insn.size == 0x18 or (insn.mode == Mode.ABS and insn.src != 0):
        raise env.einval("BPF_LD_[ABS|IND] uses reserved fields")
    check_reg_arg(env, 6, Op.SRC)
    check_resource_leak(env, False, True, "BPF_LD_[ABS|IND]")
    if regs[6].type != RegType.PTR_TO_CTX:
        raise env.einval("at the time of BPF_LD_ABS|IND R6 != pointer to skb")
    if insn.mode == Mode.IND:
        check_reg_arg(env, insn.src, Op.SRC)
    check_ptr_off_reg(env, regs[6], 6)
    for r in range(6):
        mark_reg_not_init(regs, r)
        check_reg_arg(env, r, Op.DST_NO_MARK)
    mark_reg_unknown(env, regs, 0)
    regs[0].subreg_def = env.insn_idx + 1
    if state.curframe:
        from .calls import prepare_func_exit

        env.mark_reg_scratched(0)
        push_stack(env, env.insn_idx + 1, env.insn_idx, False)
        mark_reg_known_zero(regs, 0)
        regs[0].type = RegType.SCALAR_VALUE
        env.insn_idx = prepare_func_exit(env) - 1


__all__ = ["lddw_value"]
