"""Instructions as text, in the kernel verifier log's syntax and in llvm-objdump's.

The kernel syntax is what ``kernel/bpf/disasm.c`` prints (``r1 = *(u64 *)(r10 -8)``,
``if r0 == 0x0 goto pc+1``, ``call bpf_map_lookup_elem#1``); the llvm syntax is what
``llvm-objdump -d`` prints for the same bytes (``*(u64 *)(r10 - 0x8) = r1``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum

from .helper_ids import helper_name
from .insn import Insn, lddw_value
from .opcodes import (
    ADDR_SPACE_CAST,
    TO_BE,
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
from .semantics import s64


class Syntax(Enum):
    KERNEL = "kernel"
    LLVM = "llvm"


ALU_OPS = {
    AluOp.ADD: "+=", AluOp.SUB: "-=", AluOp.MUL: "*=", AluOp.DIV: "/=", AluOp.OR: "|=",
    AluOp.AND: "&=", AluOp.LSH: "<<=", AluOp.RSH: ">>=", AluOp.MOD: "%=", AluOp.XOR: "^=",
    AluOp.MOV: "=", AluOp.ARSH: "s>>=",
}  # fmt: skip
SIGNED_ALU_OPS = {AluOp.DIV: "s/=", AluOp.MOD: "s%="}
JMP_OPS = {
    JmpOp.JEQ: "==", JmpOp.JGT: ">", JmpOp.JGE: ">=", JmpOp.JSET: "&", JmpOp.JNE: "!=",
    JmpOp.JSGT: "s>", JmpOp.JSGE: "s>=", JmpOp.JLT: "<", JmpOp.JLE: "<=",
    JmpOp.JSLT: "s<", JmpOp.JSLE: "s<=",
}  # fmt: skip
UNSIGNED_TYPES = {Size.W: "u32", Size.H: "u16", Size.B: "u8", Size.DW: "u64"}
SIGNED_TYPES = {Size.W: "s32", Size.H: "s16", Size.B: "s8", Size.DW: "s64"}
MOVSX_CASTS = {8: "(s8)", 16: "(s16)", 32: "(s32)"}
ATOMIC_NAMES = {AtomicOp.ADD: "add", AtomicOp.AND: "and", AtomicOp.OR: "or", AtomicOp.XOR: "xor"}

CallNamer = Callable[[Insn], str | None]
ImmNamer = Callable[[Insn, int], str | None]


def _hex(v: int) -> str:
    """llvm's signed hexadecimal: ``0x8``, ``-0x8``."""
    return f"-0x{-v:x}" if v < 0 else f"0x{v:x}"


def _kernel_mem(size: int, reg: int, off: int, signed: bool = False) -> str:
    ty = (SIGNED_TYPES if signed else UNSIGNED_TYPES)[Size(size)]
    return f"*({ty} *)(r{reg} {off:+d})"


def _llvm_mem(size: int, reg: int, off: int, signed: bool = False) -> str:
    ty = (SIGNED_TYPES if signed else UNSIGNED_TYPES)[Size(size)]
    sign = "-" if off < 0 else "+"
    return f"*({ty} *)(r{reg} {sign} 0x{abs(off):x})"


def kernel_text(
    insns: Sequence[Insn],
    i: int,
    call_name: CallNamer | None = None,
    imm_name: ImmNamer | None = None,
) -> str:
    """The kernel's text for slot ``i`` (without the ``(code)`` prefix)."""
    insn = insns[i]
    cls, op, code = insn.cls, insn.op, insn.code
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        r = "w" if cls == InsnClass.ALU else "r"
        if op == AluOp.END:
            if cls == InsnClass.ALU64:
                return f"r{insn.dst} = bswap{insn.imm} r{insn.dst}"
            order = "be" if insn.source == TO_BE else "le"
            return f"r{insn.dst} = {order}{insn.imm} r{insn.dst}"
        if op == AluOp.NEG:
            return f"{r}{insn.dst} = -{r}{insn.dst}"
        if cls == InsnClass.ALU64 and op == AluOp.MOV and insn.source and insn.off == ADDR_SPACE_CAST:
            imm = insn.imm & 0xFFFFFFFF
            return f"r{insn.dst} = addr_space_cast(r{insn.src}, {imm >> 16}, {imm & 0xFFFF})"
        signed = op in SIGNED_ALU_OPS and insn.off == 1
        sym = SIGNED_ALU_OPS[AluOp(op)] if signed else ALU_OPS.get(op, "?")  # type: ignore[call-overload]
        if insn.source == Source.X:
            cast = MOVSX_CASTS.get(insn.off, "") if op == AluOp.MOV else ""
            return f"{r}{insn.dst} {sym} {cast}{r}{insn.src}"
        return f"{r}{insn.dst} {sym} {insn.imm}"
    if cls == InsnClass.STX:
        if insn.mode == Mode.MEM:
            return f"{_kernel_mem(insn.size, insn.dst, insn.off)} = r{insn.src}"
        if insn.mode == Mode.ATOMIC:
            return _kernel_atomic(insn)
        return f"BUG_{code:02x}"
    if cls == InsnClass.ST:
        if insn.mode == Mode.MEM:
            return f"{_kernel_mem(insn.size, insn.dst, insn.off)} = {insn.imm}"
        if insn.mode == 0xC0:
            return "nospec"
        return f"BUG_st_{code:02x}"
    if cls == InsnClass.LDX:
        if insn.mode not in (Mode.MEM, Mode.MEMSX):
            return f"BUG_ldx_{code:02x}"
        signed = insn.mode == Mode.MEMSX
        return f"r{insn.dst} = {_kernel_mem(insn.size, insn.src, insn.off, signed)}"
    if cls == InsnClass.LD:
        ty = UNSIGNED_TYPES[Size(insn.size)]
        if insn.mode == Mode.ABS:
            return f"r0 = *({ty} *)skb[{insn.imm}]"
        if insn.mode == Mode.IND:
            return f"r0 = *({ty} *)skb[r{insn.src} + {insn.imm}]"
        if insn.mode == Mode.IMM and insn.size == Size.DW:
            value = lddw_value(insn, insns[i + 1]) if i + 1 < len(insns) else insn.imm & 0xFFFFFFFF
            named = imm_name(insn, value) if imm_name else None
            if named is None and insn.src:
                named = pseudo_lddw_text(insn.src, value)
            return f"r{insn.dst} = {named if named is not None else f'0x{value:x}'}"
        return f"BUG_ld_{code:02x}"
    # JMP / JMP32
    if op == JmpOp.CALL:
        if insn.source == Source.X:
            return f"callx r{insn.dst}"
        named = call_name(insn) if call_name else None
        if insn.src == PseudoCall.CALL:
            return f"call pc{named if named is not None else f'{insn.imm:+d}'}"
        if named is None:
            if insn.src == PseudoCall.HELPER:
                named = helper_name(insn.imm) or "unknown"
            elif insn.src == PseudoCall.KFUNC_CALL:
                named = "kernel-function"
            else:
                named = "unknown"
        return f"call {named}#{insn.imm}"
    if code == InsnClass.JMP | JmpOp.JA:
        return f"goto pc{insn.off:+d}"
    if code == InsnClass.JMP | JmpOp.JCOND and insn.src == 0:
        return f"may_goto pc{insn.off:+d}"
    if code == InsnClass.JMP32 | JmpOp.JA:
        return f"gotol pc{insn.imm:+d}"
    if code == InsnClass.JMP | JmpOp.EXIT:
        return "exit"
    r = "w" if cls == InsnClass.JMP32 else "r"
    sym = JMP_OPS.get(op, "?")  # type: ignore[call-overload]
    if insn.source == Source.X:
        return f"if {r}{insn.dst} {sym} {r}{insn.src} goto pc{insn.off:+d}"
    return f"if {r}{insn.dst} {sym} 0x{insn.imm & 0xFFFFFFFF:x} goto pc{insn.off:+d}"


def _kernel_atomic(insn: Insn) -> str:
    ty = UNSIGNED_TYPES[Size(insn.size)]
    where = f"(r{insn.dst} {insn.off:+d})"
    bits = "64" if insn.size == Size.DW else ""
    imm = insn.imm
    if imm in (AtomicOp.ADD, AtomicOp.AND, AtomicOp.OR, AtomicOp.XOR):
        return f"lock *({ty} *){where} {ALU_OPS[AluOp(imm)]} r{insn.src}"
    if imm in (AtomicOp.FETCH_ADD, AtomicOp.FETCH_AND, AtomicOp.FETCH_OR, AtomicOp.FETCH_XOR):
        name = ATOMIC_NAMES[AtomicOp(imm & ~1)]
        return f"r{insn.src} = atomic{bits}_fetch_{name}(({ty} *){where}, r{insn.src})"
    if imm == AtomicOp.CMPXCHG:
        return f"r0 = atomic{bits}_cmpxchg(({ty} *){where}, r0, r{insn.src})"
    if imm == AtomicOp.XCHG:
        return f"r{insn.src} = atomic{bits}_xchg(({ty} *){where}, r{insn.src})"
    if imm == AtomicOp.LOAD_ACQ:
        return f"r{insn.src} = load_acquire(({ty} *){where})"
    if imm == AtomicOp.STORE_REL:
        return f"store_release(({ty} *){where}, r{insn.src})"
    return f"BUG_{insn.code:02x}"


def llvm_text(insns: Sequence[Insn], i: int) -> str:
    """llvm-objdump's text for slot ``i`` (its ``--mattr=+alu32`` form: 32-bit registers for
    sub-word loads, stores and atomics)."""
    insn = insns[i]
    cls, op, code = insn.cls, insn.op, insn.code
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        r = "w" if cls == InsnClass.ALU else "r"
        if op == AluOp.END:
            if cls == InsnClass.ALU64:
                return f"r{insn.dst} = bswap{insn.imm} r{insn.dst}"
            order = "be" if insn.source == TO_BE else "le"
            return f"r{insn.dst} = {order}{insn.imm} r{insn.dst}"
        if op == AluOp.NEG:
            return f"{r}{insn.dst} = -{r}{insn.dst}"
        if cls == InsnClass.ALU64 and op == AluOp.MOV and insn.source and insn.off == ADDR_SPACE_CAST:
            imm = insn.imm & 0xFFFFFFFF
            return f"r{insn.dst} = addr_space_cast(r{insn.src}, {imm >> 16}, {imm & 0xFFFF})"
        signed = op in SIGNED_ALU_OPS and insn.off == 1
        sym = SIGNED_ALU_OPS[AluOp(op)] if signed else ALU_OPS.get(op, "?")  # type: ignore[call-overload]
        if insn.source == Source.X:
            cast = MOVSX_CASTS.get(insn.off, "") if op == AluOp.MOV else ""
            return f"{r}{insn.dst} {sym} {cast}{r}{insn.src}"
        return f"{r}{insn.dst} {sym} {_hex(insn.imm)}"
    if cls == InsnClass.STX:
        if insn.mode == Mode.MEM:
            r = "r" if insn.size == Size.DW else "w"
            return f"{_llvm_mem(insn.size, insn.dst, insn.off)} = {r}{insn.src}"
        if insn.mode == Mode.ATOMIC:
            return _llvm_atomic(insn)
        return "<unknown>"
    if cls == InsnClass.ST:
        if insn.mode == Mode.MEM:
            return f"{_llvm_mem(insn.size, insn.dst, insn.off)} = {_hex(insn.imm)}"
        return "<unknown>"
    if cls == InsnClass.LDX:
        if insn.mode not in (Mode.MEM, Mode.MEMSX):
            return "<unknown>"
        r = "w" if insn.mode == Mode.MEM and insn.size != Size.DW else "r"
        return f"{r}{insn.dst} = {_llvm_mem(insn.size, insn.src, insn.off, insn.mode == Mode.MEMSX)}"
    if cls == InsnClass.LD:
        ty = UNSIGNED_TYPES[Size(insn.size)]
        if insn.mode == Mode.ABS:
            return f"r0 = *({ty} *)skb[{_hex(insn.imm)}]"
        if insn.mode == Mode.IND:
            return f"r0 = *({ty} *)skb[r{insn.src}]"
        if insn.mode == Mode.IMM and insn.size == Size.DW:
            value = lddw_value(insn, insns[i + 1]) if i + 1 < len(insns) else insn.imm & 0xFFFFFFFF
            return f"r{insn.dst} = {_hex(s64(value))} ll"  # (llvm prints it signed)
        return "<unknown>"
    if op == JmpOp.CALL:
        if insn.source == Source.X:
            return f"callx r{insn.dst}"
        return f"call {_hex(insn.imm)}"
    if code == InsnClass.JMP | JmpOp.JA:
        return f"goto {'+' if insn.off >= 0 else '-'}0x{abs(insn.off):x}"
    if code == InsnClass.JMP | JmpOp.JCOND:
        return f"may_goto {'+' if insn.off >= 0 else '-'}0x{abs(insn.off):x}"
    if code == InsnClass.JMP32 | JmpOp.JA:
        return f"gotol {'+' if insn.imm >= 0 else '-'}0x{abs(insn.imm):x}"
    if code == InsnClass.JMP | JmpOp.EXIT:
        return "exit"
    r = "w" if cls == InsnClass.JMP32 else "r"
    sym = JMP_OPS.get(op, "?")  # type: ignore[call-overload]
    target = f"{'+' if insn.off >= 0 else '-'}0x{abs(insn.off):x}"
    if insn.source == Source.X:
        return f"if {r}{insn.dst} {sym} {r}{insn.src} goto {target}"
    return f"if {r}{insn.dst} {sym} {_hex(insn.imm)} goto {target}"


def _llvm_atomic(insn: Insn) -> str:
    ty = UNSIGNED_TYPES[Size(insn.size)]
    r = "r" if insn.size == Size.DW else "w"
    sign = "-" if insn.off < 0 else "+"
    where = f"r{insn.dst} {sign} 0x{abs(insn.off):x}"
    imm = insn.imm
    if imm in (AtomicOp.ADD, AtomicOp.AND, AtomicOp.OR, AtomicOp.XOR):
        return f"lock *({ty} *)({where}) {ALU_OPS[AluOp(imm)]} {r}{insn.src}"
    if imm in (AtomicOp.FETCH_ADD, AtomicOp.FETCH_AND, AtomicOp.FETCH_OR, AtomicOp.FETCH_XOR):
        name = ATOMIC_NAMES[AtomicOp(imm & ~1)]
        return f"{r}{insn.src} = atomic_fetch_{name}(({ty} *)({where}), {r}{insn.src})"
    if imm == AtomicOp.XCHG:
        fn = "xchg_64" if insn.size == Size.DW else "xchg32_32"
        return f"{r}{insn.src} = {fn}({where}, {r}{insn.src})"
    if imm == AtomicOp.CMPXCHG:
        fn = "cmpxchg_64" if insn.size == Size.DW else "cmpxchg32_32"
        return f"{r}0 = {fn}({where}, {r}0, {r}{insn.src})"
    if imm == AtomicOp.LOAD_ACQ:
        return f"{r}{insn.src} = load_acquire(({ty} *)({where}))"
    if imm == AtomicOp.STORE_REL:
        return f"store_release(({ty} *)({where}), {r}{insn.src})"
    return "<unknown>"


def disassemble(
    insns: Sequence[Insn],
    syntax: Syntax = Syntax.KERNEL,
    call_name: CallNamer | None = None,
    imm_name: ImmNamer | None = None,
) -> list[str]:
    """One line per instruction (a ``lddw`` pair is one line), numbered by slot.

    Kernel syntax: ``   3: (79) r1 = *(u64 *)(r10 -8)`` as ``bpftool prog dump xlated``
    prints it; llvm syntax: ``       3:\t79 1a f8 ff 00 00 00 00\tr1 = ...``.
    """
    lines = []
    i = 0
    width = len(str(max(len(insns) - 1, 0)))
    while i < len(insns):
        insn = insns[i]
        wide = insn.is_lddw and i + 1 < len(insns)
        if syntax is Syntax.KERNEL:
            text = kernel_text(insns, i, call_name, imm_name)
            lines.append(f"{i:>{width}}: ({insn.code:02x}) {text}")
        else:
            raw = insn.encode() + (insns[i + 1].encode() if wide else b"")
            hexbytes = " ".join(f"{b:02x}" for b in raw)
            lines.append(f"{i:>8}:\t{hexbytes}\t{llvm_text(insns, i)}")
        i += 2 if wide else 1
    return lines


def pseudo_lddw_text(src: int, value: int) -> str | None:
    """pybpf's text for a pseudo ``lddw`` before relocation (read back by the assembler).

    Modelled on bpftool's ``map[id:N][0]+off``: ``map[fd:3]``, ``map[idx:0][0]+8``,
    ``btf_id[12]``, ``func[pc+4]``.
    """
    lo = value & 0xFFFFFFFF
    lo_s = lo - (1 << 32) if lo & 0x80000000 else lo
    hi = value >> 32
    if src == PseudoLdImm64.MAP_FD:
        return f"map[fd:{lo_s}]"
    if src == PseudoLdImm64.MAP_IDX:
        return f"map[idx:{lo_s}]"
    if src == PseudoLdImm64.MAP_VALUE:
        return f"map[fd:{lo_s}][0]+{hi}"
    if src == PseudoLdImm64.MAP_IDX_VALUE:
        return f"map[idx:{lo_s}][0]+{hi}"
    if src == PseudoLdImm64.BTF_ID:
        hi_s = hi - (1 << 32) if hi & 0x80000000 else hi
        return f"btf_id[{lo_s}]" if not hi else f"btf_id[{lo_s},{hi_s}]"
    if src == PseudoLdImm64.FUNC:
        return f"func[pc{lo_s:+d}]" if not hi else f"func[pc{lo_s:+d},{hi}]"
    return None
