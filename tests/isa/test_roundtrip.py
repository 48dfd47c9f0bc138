"""decode -> text -> encode is the identity, in both syntaxes, for every valid instruction."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.isa import Insn, Syntax, assemble, assemble_c, decode, disassemble, encode, kernel_text

from .strategies import valid_insn


def _flatten(parts: list[list[Insn]]) -> list[Insn]:
    return [i for p in parts for i in p] + [Insn(0x95)]


@settings(max_examples=1000, deadline=None)
@given(st.lists(valid_insn(), min_size=1, max_size=8))
def test_kernel_syntax_round_trip(parts: list[list[Insn]]) -> None:
    insns = _flatten(parts)
    for i in insns:  # kfunc calls carry an offset the kernel's text does not show
        if i.code == 0x85 and i.src == 2 and i.off:
            return
    text = "\n".join(disassemble(insns, Syntax.KERNEL))
    assert assemble_c(text) == insns, text


@settings(max_examples=1000, deadline=None)
@given(st.lists(valid_insn(), min_size=1, max_size=8))
def test_llvm_syntax_round_trip(parts: list[list[Insn]]) -> None:
    insns = _flatten(parts)
    # llvm's syntax has no pseudo lddw, call flavour or may_goto target beyond what we print
    for i in insns:
        # pybpf's own notations (pseudo sources, call kinds) are kernel syntax only, and
        # llvm writes LD_IND without its immediate
        if (i.is_lddw and i.src) or (i.code == 0x85 and i.src):
            return
        if i.code & 0xE7 == 0x40 and i.imm:
            return
    text = "\n".join(disassemble(insns, Syntax.LLVM))
    assert assemble_c(text) == insns, text


@settings(max_examples=500, deadline=None)
@given(st.binary(min_size=8, max_size=8))
def test_encode_decode_identity(raw: bytes) -> None:
    assert encode(decode(raw)) == raw


def test_kernel_text_examples() -> None:
    insns = assemble(
        """
        r1 = *(u64 *)(r10 -8)
        if r0 == 0x0 goto pc+1
        call bpf_map_lookup_elem#1
        r0 = 0x1122334455667788
        exit
        """
    )
    assert [kernel_text(insns, i) for i in (0, 1, 2, 3)] == [
        "r1 = *(u64 *)(r10 -8)",
        "if r0 == 0x0 goto pc+1",
        "call bpf_map_lookup_elem#1",
        "r0 = 0x1122334455667788",
    ]


def test_labels_and_helper_names() -> None:
    insns = assemble(
        """
        r0 = 0
    top:
        r0 += 1
        if r0 < 10 goto top
        call bpf_ktime_get_ns
        call sub
        exit
    sub:
        r0 = 1
        exit
        """
    )
    assert insns[2].off == -2
    assert insns[3].imm == 5 and insns[3].src == 0
    assert insns[4].src == 1 and insns[4].imm == 1
