"""The eBPF instruction set: encoding, the kernel's structural rules, text in and out."""

from __future__ import annotations

from .asm_c import assemble_c
from .asm_conformance import assemble_conformance
from .disasm import Syntax, disassemble, kernel_text, llvm_text
from .helper_ids import HELPER_NAMES, helper_id, helper_name
from .insn import (
    KNOWN_OPCODES,
    Insn,
    check_program,
    decode,
    decode_hex,
    encode,
    encode_hex,
    lddw,
    lddw_value,
    reserved_fields_error,
)
from .opcodes import (
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

__all__ = [
    "HELPER_NAMES",
    "KNOWN_OPCODES",
    "AluOp",
    "AtomicOp",
    "Insn",
    "InsnClass",
    "JmpOp",
    "Mode",
    "PseudoCall",
    "PseudoLdImm64",
    "Size",
    "Source",
    "Syntax",
    "assemble",
    "assemble_c",
    "assemble_conformance",
    "check_program",
    "decode",
    "decode_hex",
    "disassemble",
    "encode",
    "encode_hex",
    "helper_id",
    "helper_name",
    "kernel_text",
    "lddw",
    "lddw_value",
    "llvm_text",
    "reserved_fields_error",
]

_CONFORMANCE_HINT = (
    "mov", "add", "sub", "lddw", "ldx", "stx", "st", "ja", "jeq", "jne", "lock", "call",
    "neg", "be", "le", "exit",
)  # fmt: skip


def assemble(text: str, syntax: str = "auto") -> list[Insn]:
    """Instructions from text in ``conformance`` or ``c`` (kernel/llvm) syntax.

    ``auto`` picks the conformance syntax when registers are written ``%rN``.
    """
    if syntax == "auto":
        syntax = "conformance" if "%r" in text else "c"
    if syntax == "conformance":
        return assemble_conformance(text)
    if syntax in ("c", "kernel", "llvm"):
        return assemble_c(text)
    raise ValueError(f"unknown syntax {syntax!r}")
