"""The numbers of the eBPF instruction set (include/uapi/linux/bpf.h and bpf_common.h).

An opcode byte is ``class | size | mode`` for loads and stores and ``class | op | source``
for arithmetic and jumps.  The enums below name every field value the kernel defines.
"""

from __future__ import annotations

from enum import IntEnum


class InsnClass(IntEnum):
    LD = 0x00
    LDX = 0x01
    ST = 0x02
    STX = 0x03
    ALU = 0x04
    JMP = 0x05
    JMP32 = 0x06
    ALU64 = 0x07


class Size(IntEnum):
    W = 0x00
    H = 0x08
    B = 0x10
    DW = 0x18

    @property
    def nbytes(self) -> int:
        return SIZE_BYTES[self]


SIZE_BYTES = {Size.W: 4, Size.H: 2, Size.B: 1, Size.DW: 8}
SIZE_OF_BYTES = {4: Size.W, 2: Size.H, 1: Size.B, 8: Size.DW}


class Mode(IntEnum):
    IMM = 0x00
    ABS = 0x20
    IND = 0x40
    MEM = 0x60
    MEMSX = 0x80
    ATOMIC = 0xC0


class Source(IntEnum):
    K = 0x00
    X = 0x08


class AluOp(IntEnum):
    ADD = 0x00
    SUB = 0x10
    MUL = 0x20
    DIV = 0x30
    OR = 0x40
    AND = 0x50
    LSH = 0x60
    RSH = 0x70
    NEG = 0x80
    MOD = 0x90
    XOR = 0xA0
    MOV = 0xB0
    ARSH = 0xC0
    END = 0xD0


class JmpOp(IntEnum):
    JA = 0x00
    JEQ = 0x10
    JGT = 0x20
    JGE = 0x30
    JSET = 0x40
    JNE = 0x50
    JSGT = 0x60
    JSGE = 0x70
    CALL = 0x80
    EXIT = 0x90
    JLT = 0xA0
    JLE = 0xB0
    JSLT = 0xC0
    JSLE = 0xD0
    JCOND = 0xE0


class AtomicOp(IntEnum):
    """The ``imm`` of a ``BPF_STX | BPF_ATOMIC`` instruction."""

    ADD = 0x00
    OR = 0x40
    AND = 0x50
    XOR = 0xA0
    FETCH_ADD = 0x01
    FETCH_OR = 0x41
    FETCH_AND = 0x51
    FETCH_XOR = 0xA1
    XCHG = 0xE1
    CMPXCHG = 0xF1
    LOAD_ACQ = 0x100
    STORE_REL = 0x110


ATOMIC_FETCH = 0x01


class PseudoLdImm64(IntEnum):
    """``src_reg`` of a 64-bit immediate load: what the immediate refers to."""

    IMM = 0
    MAP_FD = 1
    MAP_VALUE = 2
    BTF_ID = 3
    FUNC = 4
    MAP_IDX = 5
    MAP_IDX_VALUE = 6


class PseudoCall(IntEnum):
    """``src_reg`` of a call: a helper, a bpf-to-bpf call or a kernel function."""

    HELPER = 0
    CALL = 1
    KFUNC_CALL = 2


# The byte-swap direction lives in the source bit of BPF_END.
TO_LE = 0x00
TO_BE = 0x08

# BPF_JCOND's only condition so far: may_goto.
MAY_GOTO = 0

# off of ALU64 MOV X that marks addr_space_cast.
ADDR_SPACE_CAST = 1

# Frame-pointer register and the stack a frame has.
REG_FP = 10
MAX_REGS = 11
STACK_SIZE = 512
MAX_CALL_FRAMES = 8
MAX_TAIL_CALL_CNT = 33

OPCODE_LDDW = InsnClass.LD | Size.DW | Mode.IMM  # 0x18
OPCODE_CALL = InsnClass.JMP | JmpOp.CALL  # 0x85
OPCODE_CALLX = InsnClass.JMP | JmpOp.CALL | Source.X  # 0x8d
OPCODE_EXIT = InsnClass.JMP | JmpOp.EXIT  # 0x95
OPCODE_JA = InsnClass.JMP | JmpOp.JA  # 0x05
OPCODE_JA32 = InsnClass.JMP32 | JmpOp.JA  # 0x06


def insn_class(code: int) -> int:
    return code & 0x07


def insn_size(code: int) -> int:
    return code & 0x18


def insn_mode(code: int) -> int:
    return code & 0xE0


def insn_op(code: int) -> int:
    return code & 0xF0


def insn_src(code: int) -> int:
    return code & 0x08


def is_alu(code: int) -> bool:
    return code & 0x07 in (InsnClass.ALU, InsnClass.ALU64)


def is_jmp(code: int) -> bool:
    return code & 0x07 in (InsnClass.JMP, InsnClass.JMP32)
