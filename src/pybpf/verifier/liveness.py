"""Which registers may still be read before they are written, at every instruction.

A backward dataflow over the control-flow graph, computed once before verification (as
Linux 6.13+ does in ``compute_live_registers``): state pruning ignores registers that are
dead where two states meet.  The level-2 log prints the result as "Live regs before insn".
"""

from __future__ import annotations

from ..btf import FuncProto
from ..isa.insn import Insn
from ..isa.opcodes import AluOp, AtomicOp, InsnClass, JmpOp, Mode, PseudoCall, Source
from ..kernel.vmlinux import kernel_btf, kfunc_by_id
from .calls import helper_proto
from .cfg import scanned
from .env import Env
from .insn_log import call_text, ldimm_text
from .kfunc import kfunc_allowed

ALL_CALLER_SAVED = 0b111111  # r0..r5
R0 = 1
_LD, _LDX, _ST, _ALU, _JMP, _JMP32, _ALU64 = 0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x07
_STX_MEM = 0x63  # class STX, mode MEM (any size)
# operations as plain ints: an enum member costs a class attribute look-up at each use
_MOV, _END, _NEG = 0xB0, 0xD0, 0x80
_EXIT, _CALLOP, _JA, _JCOND = 0x90, 0x80, 0x00, 0xE0
_LDDW = 0x18


def _call_use(env: Env, insn: Insn) -> int:
    src = insn.src
    if src == PseudoCall.HELPER:
        # the prototype the call will be checked against (one remembered look-up);
        # a helper the program may not call keeps the conservative r1-r5 (refused later)
        proto = helper_proto(env, insn.imm)[0]
        if proto is None:
            return ALL_CALLER_SAVED & ~R0
        use = 0
        for i, arg in enumerate(proto.arg_types[:5], start=1):
            if arg == 0:
                break
            use |= 1 << i
        return use
    if src == PseudoCall.KFUNC_CALL and insn.off == 0:
        # a kfunc reads as many argument registers as its BTF prototype has parameters;
        # one the program may not call keeps the conservative r1-r5 (refused later)
        desc = kfunc_by_id().get(insn.imm & 0xFFFFFFFF)
        if desc is not None and kfunc_allowed(desc, env.prog_type):
            fproto = kernel_btf()[desc.proto_id]
            if isinstance(fproto, FuncProto):
                return ((1 << (len(fproto.params) + 1)) - 1) & ~R0
    return ALL_CALLER_SAVED & ~R0


def use_def(env: Env, idx: int) -> tuple[int, int]:
    insn = env.insns[idx]
    cls, op, mode = insn.cls, insn.op, insn.mode
    src, dst = 1 << insn.src, 1 << insn.dst
    use, define = 0xFFFF, 0
    if cls == InsnClass.LD:
        if mode == Mode.IMM and insn.size == 0x18:
            return 0, dst
        return use, define
    if cls == InsnClass.LDX:
        return src, dst
    if cls == InsnClass.ST:
        return dst, 0
    if cls == InsnClass.STX:
        if mode == Mode.MEM:
            return dst | src, 0
        if mode == Mode.ATOMIC:
            if insn.imm == AtomicOp.CMPXCHG:
                return R0 | dst | src, R0
            if insn.imm == AtomicOp.LOAD_ACQ:
                return src, dst
            if insn.imm & 1:
                return dst | src, src
            return dst | src, 0
        return use, define
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        if op == AluOp.MOV:
            return (src if insn.source == Source.X else 0), dst
        if op in (AluOp.END, AluOp.NEG):
            return dst, dst
        return (dst | src if insn.source == Source.X else dst), dst
    # JMP / JMP32
    if op == JmpOp.EXIT:
        return R0, 0
    if op == JmpOp.CALL:
        return _call_use(env, insn), ALL_CALLER_SAVED
    if op in (JmpOp.JA, JmpOp.JCOND):
        return 0, 0
    return (dst | src if insn.source == Source.X else dst), 0


# What each opcode reads and writes, as flags on its dst and src fields (the common
# instructions); the others are decided in the sweep (jumps, calls, exits, lddw) or by
# use_def (atomics, legacy loads, unknown opcodes, the second halves of lddw).
_U_DST, _U_SRC, _D_DST = 1, 2, 4
_F_JUMP, _F_EXIT, _F_CALL, _F_LDDW, _F_OTHER = 8, 16, 32, 64, 128


def _opcode_flags(code: int) -> int:
    cls = code & 0x07
    op = code & 0xF0
    x = bool(code & 0x08)
    if cls in (_ALU, _ALU64):
        if op == _MOV:
            return _D_DST | (_U_SRC if x else 0)
        if op in (_END, _NEG):
            return _D_DST | _U_DST
        return _D_DST | _U_DST | (_U_SRC if x else 0)
    if cls == _LDX:
        return _U_SRC | _D_DST
    if cls == _ST:
        return _U_DST
    if code & 0xE7 == _STX_MEM:
        return _U_DST | _U_SRC
    if cls in (_JMP, _JMP32):
        if op == _EXIT:
            return _F_EXIT
        if op == _CALLOP:
            return _F_CALL
        if op in (_JA, _JCOND):
            return _F_JUMP
        return _F_JUMP | _U_DST | (_U_SRC if x else 0)
    if code == _LDDW:
        return _F_LDDW
    return _F_OTHER


_FLAGS = tuple(_opcode_flags(c) for c in range(256))
_UNUSED: list[int] = []  # (stands for the lists a straight sweep without a log never fills)


def compute_live_registers(env: Env) -> None:
    """A backward sweep from the last instruction reads each one's fields once (uses and
    definitions; the successors are ``check_cfg``'s table) and computes what is live
    before it from what is live after; only a program with a jump backwards needs more
    sweeps to reach the fixed point."""
    insns = env.insns
    n = len(insns)
    scanned(env)
    succ = env.insn_succ
    backwards = env.cfg_backwards
    log2 = bool(env.log.level & 2)
    record = backwards or log2  # keep what further sweeps or the log need
    use = [0] * n if backwards else _UNUSED
    define = [0] * n if backwards else _UNUSED
    live_in = [0] * (n + 2)  # (two past the end: what falls or skips out of the program)
    order: list[int] = [] if record else _UNUSED  # the instructions (not the second halves of lddw), last first
    aux = env.aux
    flags = _FLAGS
    i = n - 1
    while i >= 0:
        insn = insns[i]
        code = insn.code
        f = flags[code]
        if f < _F_JUMP:  # reads and writes dst and src only, and falls through
            u = (1 << insn.dst if f & _U_DST else 0) | (1 << insn.src if f & _U_SRC else 0)
            d = 1 << insn.dst if f & _D_DST else 0
            out = live_in[i + 1]
        elif f & (_F_JUMP | _F_EXIT | _F_CALL):
            if f & _F_EXIT:
                u, d = R0, 0
            elif f & _F_CALL:
                u, d = _call_use(env, insn), ALL_CALLER_SAVED
            else:
                u = (1 << insn.dst if f & _U_DST else 0) | (1 << insn.src if f & _U_SRC else 0)
                d = 0
            out = 0
            for t in succ[i]:
                if 0 <= t < n:
                    out |= live_in[t]
        elif f == _F_LDDW:
            u, d = 0, 1 << insn.dst
            out = live_in[i + 2]
        elif code == 0 and i and insns[i - 1].code == _LDDW:
            i -= 1  # the second half of an lddw
            continue
        else:
            u, d = use_def(env, i)
            out = live_in[i + 1]
        v = ((out & ~d) | u) & 0xFFFF
        live_in[i] = v
        if v & 0x7FF:
            aux[i].live_regs_before = v & 0x7FF
        if record:
            if backwards:
                use[i] = u
                define[i] = d
            order.append(i)
        i -= 1
    while backwards:  # more sweeps, until nothing changes
        backwards = False
        for i in order:
            out = 0
            for t in succ[i]:
                if 0 <= t < n:
                    out |= live_in[t]
            new_in = ((out & ~define[i]) | use[i]) & 0xFFFF
            if new_in != live_in[i]:
                live_in[i] = new_in
                backwards = True
                if new_in & 0x7FF:
                    aux[i].live_regs_before = new_in & 0x7FF
    if log2:
        env.verbose("Live regs before insn:\n")
        from ..isa.disasm import kernel_text

        for i in reversed(order):
            mask = "".join(str(r) if live_in[i] >> r & 1 else "." for r in range(10))
            text = kernel_text(env.insns, i, call_name=call_text, imm_name=_imm_namer(env))
            env.verbose(f"    {i:3d}: {mask} ({env.insns[i].code:02x}) {text}\n")


def _imm_namer(env: Env):  # type: ignore[no-untyped-def]
    return lambda insn, value: ldimm_text(env, insn, value)
