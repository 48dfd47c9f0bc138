"""The program after verification: the rewrites the kernel applies once it accepts.

``fixup_program`` turns a verified program into its *xlated* form, following the order
and the instruction-level effects of Linux 6.18's passes after ``do_check``:

1. dead code: privileged loads turn never-taken conditional jumps into plain jumps,
   delete instructions no path reached and delete ``goto +0``; unprivileged loads
   overwrite unreached instructions with ``goto -1`` instead;
2. the context prologue (``skb`` un-cloning before direct packet writes in tc, lwt-xmit
   and sk_skb programs);
3. ``do_misc_fixups``: division and modulo guards, ``LD_ABS``/``LD_IND`` as helper
   calls, ``may_goto`` counters, tail calls as ``BPF_TAIL_CALL``, inlined map lookups
   (array, per-cpu array, array/hash of maps, hash, LRU hash, per-cpu hash), inlined
   ``bpf_jiffies64``, ``bpf_get_smp_processor_id``, ``bpf_kptr_xchg`` and the tracing
   argument helpers;
4. 32-bit ``cmpxchg`` results zero-extended, and map loads resolved to addresses.

Where the kernel's rewrite depends on its own memory (structure offsets inside a map,
the address of ``jiffies``), the instructions have the kernel's shape and count with the
constants below, which are those of 6.18 on x86-64.  Calls into kernel functions that are
not helpers carry an ``imm`` from :data:`KERNEL_FUNCS` (named by :func:`xlated_text`);
helper calls keep their helper id (the kernel stores a function address there).

What stays pybpf's own: context accesses are not converted (pybpf's runtime serves the
UAPI context layout directly), ``BPF_F_TEST_RND_HI32`` randomisation and the JIT's
constant blinding are not applied, and ``bpf_fastcall`` spill/fill removal is not done.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import replace

from ..isa.insn import Insn
from ..isa.opcodes import (
    AluOp,
    AtomicOp,
    InsnClass,
    JmpOp,
    Mode,
    PseudoCall,
    PseudoLdImm64,
    Size,
    Source,
)
from ..kernel.progtypes import AttachType, ProgType
from ..maps.types import MapFlag, MapType
from .env import Env, VerifierError
from .patch import ORIGINAL, PatchRangeError, Program, ToOriginalTarget

BPF_REG_AX = 11
BPF_TAIL_CALL = 0xF0
BPF_MAX_LOOPS = 8 * 1024 * 1024
BPF_MAX_TIMED_LOOPS = 0xFFFF
MAX_BPF_STACK = 512

# 6.18 x86-64 layout constants the inlined sequences use.
ARRAY_VALUE_OFF = 312  # offsetof(struct bpf_array, value) (also pptrs)
HTAB_ELEM_KEY_OFF = 48  # offsetof(struct htab_elem, key)
HTAB_ELEM_LRU_REF_OFF = 20  # offsetof(struct htab_elem, lru_node.ref)
CLONED_OFF = 126  # byte of struct sk_buff holding the 'cloned' bit
CLONED_MASK = 1
TC_ACT_SHOT = 2
SK_DROP = 0

#: Kernel functions (not helpers) that rewritten programs call directly, by ``imm``.
KERNEL_FUNCS = {
    -1: "__htab_map_lookup_elem",
    -2: "bpf_skb_load_helper_8_no_cache",
    -3: "bpf_skb_load_helper_16_no_cache",
    -4: "bpf_skb_load_helper_32_no_cache",
    -5: "arch_bpf_timed_may_goto",
}
_FUNC_IDS = {name: imm for imm, name in KERNEL_FUNCS.items()}

MAP_HELPERS = {1, 2, 3, 87, 88, 89, 51, 164, 195}  # lookup update delete push pop peek redirect_map for_each lookup_percpu
H_LOOKUP, H_TAIL_CALL, H_JIFFIES64, H_SMP_ID, H_KPTR_XCHG = 1, 12, 118, 8, 194
H_GET_FUNC_ARG, H_GET_FUNC_RET, H_GET_FUNC_ARG_CNT, H_GET_FUNC_IP = 183, 184, 185, 173
H_SKB_PULL_DATA = 39
STORAGE_GET = {107, 145, 156, 210}  # sk, inode, task, cgrp storage get


# --- instruction builders -------------------------------------------------------------------


def alu64_imm(op: int, dst: int, imm: int) -> Insn:
    return Insn(InsnClass.ALU64 | op | Source.K, dst, 0, 0, imm)


def alu32_imm(op: int, dst: int, imm: int) -> Insn:
    return Insn(InsnClass.ALU | op | Source.K, dst, 0, 0, imm)


def alu64_reg(op: int, dst: int, src: int) -> Insn:
    return Insn(InsnClass.ALU64 | op | Source.X, dst, src)


def alu32_reg(op: int, dst: int, src: int) -> Insn:
    return Insn(InsnClass.ALU | op | Source.X, dst, src)


def jmp_imm(op: int, dst: int, imm: int, off: int, cls: int = InsnClass.JMP) -> Insn:
    return Insn(cls | op | Source.K, dst, 0, off, imm)


def ja(off: int) -> Insn:
    return Insn(InsnClass.JMP | JmpOp.JA, 0, 0, off, 0)


def ldx(size: int, dst: int, src: int, off: int) -> Insn:
    return Insn(InsnClass.LDX | Mode.MEM | size, dst, src, off)


def stx(size: int, dst: int, src: int, off: int) -> Insn:
    return Insn(InsnClass.STX | Mode.MEM | size, dst, src, off)


def st(size: int, dst: int, off: int, imm: int) -> Insn:
    return Insn(InsnClass.ST | Mode.MEM | size, dst, 0, off, imm)


def call(imm: int) -> Insn:
    return Insn(InsnClass.JMP | JmpOp.CALL, 0, 0, 0, imm)


def kcall(name: str) -> Insn:
    return call(_FUNC_IDS[name])


def exit_insn() -> Insn:
    return Insn(InsnClass.JMP | JmpOp.EXIT)


def ld_imm64(dst: int, value: int) -> list[Insn]:
    value &= (1 << 64) - 1
    lo, hi = value & 0xFFFFFFFF, value >> 32
    return [Insn(0x18, dst, 0, 0, _s32(lo)), Insn(0, 0, 0, 0, _s32(hi))]


def mov64_percpu(dst: int, src: int) -> Insn:
    """``dst = &per_cpu(src)`` (the kernel's BPF_MOV64_PERCPU_REG)."""
    return Insn(InsnClass.ALU64 | AluOp.MOV | Source.X, dst, src, 0, 1)


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


# --- dead code ------------------------------------------------------------------------------


def _is_cond_jump(insn: Insn) -> bool:
    code = insn.code
    cls, op = code & 0x07, code & 0xF0
    if cls == InsnClass.JMP32:
        return op != JmpOp.JA
    if cls != InsnClass.JMP:
        return False
    return op not in (JmpOp.JA, JmpOp.EXIT, JmpOp.CALL)


def _slots_with(prog: Program, codes: frozenset[int]) -> list[int]:
    """The slots whose opcode is one of ``codes``, in order (one C-speed sweep)."""
    return [i for i, insn in enumerate(prog.insns) if insn.code in codes]


_JUMP_CODES = frozenset(c for c in range(256) if c & 0x07 in (InsnClass.JMP, InsnClass.JMP32))
_NOP_CODES = frozenset({InsnClass.JMP | JmpOp.JA, InsnClass.JMP | JmpOp.JCOND})


def hard_wire_dead_branches(prog: Program) -> None:
    """A conditional jump one of whose ways no path took becomes unconditional."""
    insns, auxs = prog.insns, prog.auxs
    for i in _slots_with(prog, _JUMP_CODES):
        insn = insns[i]
        if not _is_cond_jump(insn):
            continue
        if not auxs[i + 1].seen:
            prog.set_insn(i, ja(insn.off))
        elif not auxs[i + 1 + insn.off].seen:
            prog.set_insn(i, ja(0))


def remove_dead_code(prog: Program) -> None:
    """Every run of instructions no path reached goes (one pass for all of them)."""
    dead = [i for i, a in enumerate(prog.auxs) if not a.seen]
    if not dead:
        return
    start = prev = dead[0]
    for i in dead[1:]:
        if i != prev + 1:
            prog.remove_at(start, prev + 1 - start)
            start = i
        prev = i
    prog.remove_at(start, prev + 1 - start)
    prog.commit()


def remove_nops(prog: Program) -> None:
    """``goto +0`` goes.  Removing one cannot make another: a jump is a nop when it goes
    to the instruction after it, and removing nops before a jump only moves targets
    that were before it; so every nop is found in the program as it is, and all go in
    one pass."""
    for i in _slots_with(prog, _NOP_CODES):
        if prog.is_nop(i):
            prog.remove_at(i, 1)
    prog.commit()


def sanitize_dead_code(prog: Program) -> None:
    """Unreached instructions become traps that jump to themselves."""
    for i in range(len(prog)):
        a = prog.aux(i)
        if not a.seen:
            prog.set_insn(i, ja(-1))
            a.zext_dst = False


# --- the context prologue ---------------------------------------------------------------------


def _unclone_prologue(drop_verdict: int) -> list[Insn | object]:
    """Before a direct packet write: make a cloned skb private (``bpf_skb_pull_data``)."""
    return [
        ldx(Size.B, 6, 1, CLONED_OFF),
        alu32_imm(AluOp.AND, 6, CLONED_MASK),
        jmp_imm(JmpOp.JEQ, 6, 0, 7),
        alu64_reg(AluOp.MOV, 6, 1),
        alu64_reg(AluOp.XOR, 2, 2),
        call(H_SKB_PULL_DATA),
        jmp_imm(JmpOp.JEQ, 0, 0, 2),
        alu32_imm(AluOp.MOV, 0, drop_verdict),
        exit_insn(),
        alu64_reg(AluOp.MOV, 1, 6),
        ORIGINAL,
    ]


def add_prologue(env: Env, prog: Program) -> None:
    if not env.seen_direct_write:
        return
    pt = env.prog_type
    if pt in (ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.LWT_XMIT):
        seq = _unclone_prologue(TC_ACT_SHOT)
    elif pt == ProgType.SK_SKB:
        seq = _unclone_prologue(SK_DROP)
    else:
        return
    # jumps back to the first instruction skip the prologue
    prog.patch(0, seq, entry=len(seq) - 1)


# --- do_misc_fixups ---------------------------------------------------------------------------


def _div_mod_guard(insn: Insn) -> list[Insn]:
    """Division by zero gives 0, modulo by zero keeps the dividend, and signed division
    of the minimum by -1 cannot trap."""
    is64 = insn.cls == InsnClass.ALU64
    alu = InsnClass.ALU64 if is64 else InsnClass.ALU
    jcls = InsnClass.JMP if is64 else InsnClass.JMP32
    isdiv = insn.op == AluOp.DIV
    signed = insn.off == 1
    dst, src = insn.dst, insn.src
    if signed and isdiv:
        return [
            alu64_reg(AluOp.MOV, BPF_REG_AX, src),
            Insn(alu | AluOp.ADD | Source.K, BPF_REG_AX, 0, 0, 1),
            Insn(jcls | JmpOp.JGT | Source.K, BPF_REG_AX, 0, 4, 1),
            Insn(jcls | JmpOp.JEQ | Source.K, BPF_REG_AX, 0, 1, 0),
            Insn(alu | AluOp.MOV | Source.K, dst, 0, 0, 0),
            Insn(alu | AluOp.NEG | Source.K, dst, 0, 0, 0),
            ja(1),
            insn,
        ]
    if signed:
        seq = [
            alu64_reg(AluOp.MOV, BPF_REG_AX, src),
            Insn(alu | AluOp.ADD | Source.K, BPF_REG_AX, 0, 0, 1),
            Insn(jcls | JmpOp.JGT | Source.K, BPF_REG_AX, 0, 3, 1),
            Insn(jcls | JmpOp.JEQ | Source.K, BPF_REG_AX, 0, 3 + (0 if is64 else 1), 1),
            alu32_imm(AluOp.MOV, dst, 0),
            ja(1),
            insn,
            ja(1),
            alu32_reg(AluOp.MOV, dst, dst),
        ]
        return seq[:-2] if is64 else seq
    if isdiv:
        return [
            Insn(jcls | JmpOp.JNE | Source.K, src, 0, 2, 0),
            alu32_reg(AluOp.XOR, dst, dst),
            ja(1),
            insn,
        ]
    seq = [
        Insn(jcls | JmpOp.JEQ | Source.K, src, 0, 1 + (0 if is64 else 1), 0),
        insn,
        ja(1),
        alu32_reg(AluOp.MOV, dst, dst),
    ]
    return seq[:-2] if is64 else seq


def _gen_ld_abs(insn: Insn) -> list[Insn]:
    """``LD_ABS``/``LD_IND`` as a call to the skb load helper (R6 holds the context)."""
    seq: list[Insn] = []
    if insn.mode == Mode.ABS:
        seq.append(alu64_imm(AluOp.MOV, 2, insn.imm))
    else:
        seq.append(alu64_reg(AluOp.MOV, 2, insn.src))
        if insn.imm:
            seq.append(alu64_imm(AluOp.ADD, 2, insn.imm))
    seq.append(alu64_reg(AluOp.MOV, 1, 6))
    name = {Size.B: "bpf_skb_load_helper_8_no_cache", Size.H: "bpf_skb_load_helper_16_no_cache",
            Size.W: "bpf_skb_load_helper_32_no_cache"}[Size(insn.size)]  # fmt: skip
    seq.append(kcall(name))
    seq.append(jmp_imm(JmpOp.JSGE, 0, 0, 2))
    seq.append(alu32_reg(AluOp.XOR, 0, 0))
    seq.append(exit_insn())
    return seq


def _round_up(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _index_mask(max_entries: int) -> int:
    bits = (max_entries - 1).bit_length() if max_entries > 1 else 0
    return (1 << bits) - 1


def _scale(elem_size: int) -> Insn:
    if elem_size & (elem_size - 1) == 0:
        return alu64_imm(AluOp.LSH, 0, elem_size.bit_length() - 1)
    return alu64_imm(AluOp.MUL, 0, elem_size)


def gen_map_lookup(env: Env, m: object) -> list[Insn] | None:
    """The inline form of ``bpf_map_lookup_elem`` for maps that have one (None: call)."""
    spec = m.spec  # type: ignore[attr-defined]
    mt = spec.type
    bypass = env.options.bypass_spec_v1
    if mt in (MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.ARRAY_OF_MAPS):
        if mt != MapType.ARRAY_OF_MAPS and spec.flags & MapFlag.INNER_MAP:
            return None
        percpu = mt == MapType.PERCPU_ARRAY
        elem = 8 if percpu else _round_up(spec.value_size, 8)
        tail: list[Insn]
        if mt == MapType.ARRAY:
            tail = [_scale(elem), alu64_reg(AluOp.ADD, 0, 1)]
        elif percpu:
            tail = [alu64_imm(AluOp.LSH, 0, 3), alu64_reg(AluOp.ADD, 0, 1), ldx(Size.DW, 0, 0, 0), mov64_percpu(0, 0)]
        else:
            tail = [_scale(elem), alu64_reg(AluOp.ADD, 0, 1), ldx(Size.DW, 0, 0, 0), jmp_imm(JmpOp.JEQ, 0, 0, 1)]
        skip = len(tail) + 1
        seq = [alu64_imm(AluOp.ADD, 1, ARRAY_VALUE_OFF), ldx(Size.W, 0, 2, 0)]
        if bypass:
            seq.append(jmp_imm(JmpOp.JGE, 0, spec.max_entries, skip))
        else:
            seq.append(jmp_imm(JmpOp.JGE, 0, spec.max_entries, skip + 1))
            seq.append(alu32_imm(AluOp.AND, 0, _index_mask(spec.max_entries)))
        return [*seq, *tail, ja(1), alu64_imm(AluOp.MOV, 0, 0)]
    value_off = HTAB_ELEM_KEY_OFF + _round_up(spec.key_size, 8)
    lookup = kcall("__htab_map_lookup_elem")
    if mt == MapType.HASH:
        return [lookup, jmp_imm(JmpOp.JEQ, 0, 0, 1), alu64_imm(AluOp.ADD, 0, value_off)]
    if mt == MapType.LRU_HASH:
        return [
            lookup,
            jmp_imm(JmpOp.JEQ, 0, 0, 4),
            ldx(Size.B, 1, 0, HTAB_ELEM_LRU_REF_OFF),
            jmp_imm(JmpOp.JNE, 1, 0, 1),
            st(Size.B, 0, HTAB_ELEM_LRU_REF_OFF, 1),
            alu64_imm(AluOp.ADD, 0, value_off),
        ]
    if mt == MapType.PERCPU_HASH:
        return [
            lookup,
            jmp_imm(JmpOp.JEQ, 0, 0, 3),
            alu64_imm(AluOp.ADD, 0, value_off),
            ldx(Size.DW, 0, 0, 0),
            mov64_percpu(0, 0),
        ]
    if mt == MapType.HASH_OF_MAPS:
        return [lookup, jmp_imm(JmpOp.JEQ, 0, 0, 2), alu64_imm(AluOp.ADD, 0, value_off), ldx(Size.DW, 0, 0, 0)]
    return None


def _may_goto(insn: Insn, stack_depth: int) -> list[Insn | object]:
    """``may_goto`` as a loop budget kept in two extra stack slots (count, start time)."""
    slot = -stack_depth - 16
    return [
        ldx(Size.DW, BPF_REG_AX, 10, slot),
        ToOriginalTarget(jmp_imm(JmpOp.JEQ, BPF_REG_AX, 0, 0)),
        alu64_imm(AluOp.SUB, BPF_REG_AX, 1),
        jmp_imm(JmpOp.JNE, BPF_REG_AX, 0, 2),
        alu64_imm(AluOp.MOV, BPF_REG_AX, slot),
        kcall("arch_bpf_timed_may_goto"),
        stx(Size.DW, 10, BPF_REG_AX, slot),
    ]


def _helper_inline(env: Env, prog: Program, i: int, insn: Insn) -> list[Insn | object] | None:
    imm = insn.imm
    aux = prog.aux(i)
    if imm == H_TAIL_CALL:
        key_known = aux.map_key_state not in (0, -1)
        poke = env.options.bpf_capable and key_known and not aux.map_poisoned
        env.tail_call_pokes += int(poke)
        tail = Insn(InsnClass.JMP | BPF_TAIL_CALL, 0, 0, 0, env.tail_call_pokes if poke else 0)
        if poke or env.options.bypass_spec_v1 or aux.map_ptr is None:
            return [tail]
        # unprivileged: bound the index before speculation can use it
        m = aux.map_ptr.spec
        return [jmp_imm(JmpOp.JGE, 3, m.max_entries, 2), alu32_imm(AluOp.AND, 3, _index_mask(m.max_entries)), tail]
    if imm in STORAGE_GET:
        return [alu64_imm(AluOp.MOV, 5, 0x820), ORIGINAL]  # GFP_ATOMIC
    if imm in MAP_HELPERS:
        if imm == H_LOOKUP and aux.map_ptr is not None and not aux.map_poisoned:
            return list(gen_map_lookup(env, aux.map_ptr) or ()) or None
        return None
    if imm == H_JIFFIES64:
        return [*ld_imm64(0, JIFFIES_ADDR), ldx(Size.DW, 0, 0, 0)]
    if imm == H_SMP_ID:
        return [alu32_imm(AluOp.MOV, 0, PCPU_CPU_NUMBER), mov64_percpu(0, 0), ldx(Size.W, 0, 0, 0)]
    if imm == H_KPTR_XCHG:
        return [alu64_reg(AluOp.MOV, 0, 2), Insn(InsnClass.STX | Mode.ATOMIC | Size.DW, 1, 0, 0, AtomicOp.XCHG)]
    if env.prog_type == ProgType.TRACING:
        if imm == H_GET_FUNC_ARG:
            return [
                ldx(Size.DW, 0, 1, -8),
                Insn(InsnClass.JMP32 | JmpOp.JGE | Source.X, 2, 0, 6),
                alu64_imm(AluOp.LSH, 2, 3),
                alu64_reg(AluOp.ADD, 2, 1),
                ldx(Size.DW, 0, 2, 0),
                stx(Size.DW, 3, 0, 0),
                alu64_imm(AluOp.MOV, 0, 0),
                ja(1),
                alu64_imm(AluOp.MOV, 0, -errno.EINVAL),
            ]
        if imm == H_GET_FUNC_RET:
            if env.expected_attach_type in (AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN):
                return [
                    ldx(Size.DW, 0, 1, -8),
                    alu64_imm(AluOp.LSH, 0, 3),
                    alu64_reg(AluOp.ADD, 0, 1),
                    ldx(Size.DW, 3, 0, 0),
                    stx(Size.DW, 2, 3, 0),
                    alu64_imm(AluOp.MOV, 0, 0),
                ]
            return [alu64_imm(AluOp.MOV, 0, -errno.EOPNOTSUPP)]
        if imm == H_GET_FUNC_ARG_CNT:
            return [ldx(Size.DW, 0, 1, -8)]
        if imm == H_GET_FUNC_IP:
            return [ldx(Size.DW, 0, 1, -16)]
    return None


# what misc_fixups may rewrite: division and modulo, LD_ABS/LD_IND, may_goto, calls
_MISC_CODES = frozenset(
    c for c in range(256)
    if (c & 0x07 in (InsnClass.ALU, InsnClass.ALU64) and c & 0xF0 in (AluOp.DIV, AluOp.MOD))
    or (c & 0x07 == InsnClass.LD and c & 0xE0 in (Mode.ABS, Mode.IND))
    or c in (InsnClass.JMP | JmpOp.JCOND, InsnClass.JMP | JmpOp.CALL)
)
JIFFIES_ADDR = 0xFFFFFFFF82E05900  # placeholder address of 'jiffies' (the value is the kernel's secret)
PCPU_CPU_NUMBER = 0x2_E240  # placeholder per-cpu offset of the cpu number


def misc_fixups(env: Env, prog: Program) -> None:
    """Rewrite instructions the JIT and the interpreter should not see as they are."""
    ids = prog.subprog_ids
    cur_sub = 0
    stack_depth = env.subprogs[ids[0]].stack_depth if ids else 0
    extra = 0
    extras: dict[int, int] = {}
    insns = prog.insns
    ends = [*prog.start_slots[1:], len(insns)]  # where each function ends (exclusive)

    def end_function() -> None:
        """The function ``cur_sub`` is done: its loop budget adds stack."""
        nonlocal cur_sub, stack_depth, extra
        if extra:
            extras[cur_sub] = extra
            env.subprogs[ids[cur_sub]].stack_depth += extra
        cur_sub += 1
        stack_depth = env.subprogs[ids[cur_sub]].stack_depth if cur_sub < len(ids) else 0
        extra = 0

    for i in _slots_with(prog, _MISC_CODES):
        while cur_sub < len(ends) and i >= ends[cur_sub]:
            end_function()
        insn = insns[i]
        new: list[Insn | object] | None = None
        cls, op = insn.cls, insn.op
        if cls in (InsnClass.ALU, InsnClass.ALU64) and op in (AluOp.DIV, AluOp.MOD):
            if insn.source == Source.K and insn.off == 1 and insn.imm == -1:
                if op == AluOp.DIV:
                    new = [Insn(cls | AluOp.NEG | Source.K, insn.dst)]
                else:
                    new = [alu32_imm(AluOp.MOV, insn.dst, 0)]
            elif insn.source == Source.X:
                new = list(_div_mod_guard(insn))
        elif cls == InsnClass.LD and insn.mode in (Mode.ABS, Mode.IND):
            new = list(_gen_ld_abs(insn))
        elif insn.code == (InsnClass.JMP | JmpOp.JCOND) and insn.src == 0:
            extra = 16
            new = _may_goto(insn, stack_depth)
        elif insn.code == (InsnClass.JMP | JmpOp.CALL):
            if insn.src == PseudoCall.KFUNC_CALL:
                if insn.imm == 0:
                    env.verbose("invalid kernel function call not eliminated in verifier pass\n")
                    raise VerifierError(errno.EINVAL, "invalid kernel function call not eliminated in verifier pass")
            elif insn.src == PseudoCall.HELPER:
                new = _helper_inline(env, prog, i, insn)
        if new is not None:
            prog.replace_at(i, new)
    while cur_sub < len(ends):
        end_function()
    prog.commit()
    starts = prog.starts()
    for sub, ext in sorted(extras.items()):
        # the subprogram starts by setting its loop budget (and the timed variant's clock)
        start = starts[sub]
        depth = env.subprogs[ids[sub]].stack_depth
        init: list[Insn | object]
        if ext == 16:
            init = [st(Size.DW, 10, -depth, BPF_MAX_TIMED_LOOPS), st(Size.DW, 10, -depth + 8, 0)]
        else:
            init = [st(Size.DW, 10, -depth, BPF_MAX_LOOPS)]
        # jumps to the old first instruction skip the initialisation, calls do not
        prog.replace_at(start, [*init, ORIGINAL], entry=len(init))
    prog.commit()


def zext_cmpxchg(prog: Program) -> None:
    """A 32-bit ``cmpxchg`` leaves R0's upper half as the architecture does: clear it
    when the program reads all 64 bits afterwards."""
    insns, auxs = prog.insns, prog.auxs
    for i in _slots_with(prog, _CMPXCHG32_CODES):
        if insns[i].imm == AtomicOp.CMPXCHG and auxs[i].zext_dst:
            prog.replace_at(i, [ORIGINAL, Insn(InsnClass.ALU | AluOp.MOV | Source.X, 0, 0, 0, 1)])
    prog.commit()


_CMPXCHG32_CODES = frozenset({InsnClass.STX | Mode.ATOMIC | Size.W})
_LDDW_CODES = frozenset({0x18})
_MAP_SRCS = frozenset(
    {PseudoLdImm64.MAP_FD, PseudoLdImm64.MAP_IDX, PseudoLdImm64.MAP_VALUE, PseudoLdImm64.MAP_IDX_VALUE}
)
_PSEUDO_FUNC = int(PseudoLdImm64.FUNC)


def resolve_map_loads(env: Env, prog: Program) -> None:
    """Map loads carry the map's (or the value's) address and lose their pseudo source."""
    from .ldimm import map_address

    insns, auxs = prog.insns, prog.auxs
    for i in _slots_with(prog, _LDDW_CODES):  # (a second half's code is 0, never lddw)
        insn = insns[i]
        src = insn.src
        if not src or src == _PSEUDO_FUNC:  # a constant, a callback's address
            continue
        a = auxs[i]
        if src in _MAP_SRCS and a.map_index >= 0:
            m = env.used_maps[a.map_index]
            lo, hi = ld_imm64(insn.dst, map_address(m, insn, insns[i + 1]))
            prog.set_insn(i, lo)
            prog.set_insn(i + 1, hi)
        else:
            prog.set_insn(i, replace(insn, src=0))


def fixup_program(env: Env) -> list[Insn]:
    """The xlated program of an accepted ``env`` (raises VerifierError where the kernel
    fails a load after verification)."""
    # the notes are moved, not copied; control transfers are among the slots cfg.scan listed
    transfers = env.cfg_special if env.cfg_insns is env.insns else None
    prog = Program(env.insns, env.aux, [sp.start for sp in env.subprogs], transfers)
    if env.options.bpf_capable:
        hard_wire_dead_branches(prog)
        remove_dead_code(prog)
        remove_nops(prog)
    else:
        sanitize_dead_code(prog)
    add_prologue(env, prog)
    misc_fixups(env, prog)
    zext_cmpxchg(prog)
    resolve_map_loads(env, prog)
    starts = prog.starts()
    try:
        insns = prog.finish()
    except PatchRangeError as exc:
        env.verbose(f"insn {exc.orig_idx} cannot be patched due to 16-bit range\n")
        raise VerifierError(errno.ENOMEM, "") from None
    if len(starts) > 1:
        number_subprog_calls(insns, starts)
    return insns


def number_subprog_calls(insns: list[Insn], starts: list[int]) -> None:
    """With several subprograms the JIT compiles each alone; calls then name their callee
    by index (``imm``) and keep the relative target in ``off``, as the kernel leaves them."""
    for i, insn in enumerate(insns):
        if insn.code == (InsnClass.JMP | JmpOp.CALL) and insn.src == PseudoCall.CALL:
            target = i + insn.imm + 1
            insns[i] = replace(insn, off=insn.imm, imm=starts.index(target) if target in starts else -1)


def xlated_text(insns: Sequence[Insn]) -> str:
    """The rewritten program as ``bpftool prog dump xlated`` lays it out."""
    from ..isa.disasm import kernel_text

    def call_name(insn: Insn) -> str | None:
        if insn.src == 0 and insn.imm in KERNEL_FUNCS:
            return KERNEL_FUNCS[insn.imm]
        return None

    lines = []
    i = 0
    while i < len(insns):
        insn = insns[i]
        if insn.code == (InsnClass.JMP | BPF_TAIL_CALL):
            text = "call bpf_tail_call#12"
        else:
            text = kernel_text(insns, i, call_name=call_name)
        lines.append(f"{i:4d}: ({insn.code:02x}) {text}")
        i += 2 if insn.is_lddw else 1
    return "\n".join(lines) + ("\n" if lines else "")


def fixups_matter(env: Env) -> bool:
    """Whether the fix-ups of an accepted program can change what the load reports, so
    that they must run before ``verify`` answers: ``may_goto`` adds stack (shown in the
    statistics), a kfunc call left with no id fails the load (``check_cfg`` and
    ``add_subprogs`` note both in ``env.eager_fixups``), and a program long enough for its
    patches to push a jump beyond 16 bits may fail with ENOMEM.  Otherwise the xlated
    program is made when it is first asked for."""
    return env.eager_fixups or len(env.insns) > MAX_UNPATCHED_LEN


# no patch sequence is longer than 12 instructions (plus the 11 of the context prologue):
# below this length no patched jump can need more than 16 bits
MAX_UNPATCHED_LEN = 2048
