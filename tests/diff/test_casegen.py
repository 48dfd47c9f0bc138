"""The case generator: reproducible, well-formed, and covering what it promises."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pybpf.case import Case
from pybpf.casegen import Category, GenConfig, generate, generate_case
from pybpf.isa import AluOp, AtomicOp, Insn, InsnClass, JmpOp, Mode, Size, check_program, decode_hex
from pybpf.isa.helper_ids import HELPER_IDS

from .harness import pybpf_outcome

SEED = 99


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    return generate(SEED, 720)


def _insns(corpus: list[dict[str, Any]]) -> Iterator[Insn]:
    for case in corpus:
        insns = decode_hex(str(case["insns"]))
        i = 0
        while i < len(insns):
            yield insns[i]
            i += 2 if insns[i].is_lddw else 1


def test_reproducible() -> None:
    a = generate(7, 12)
    assert a == generate(7, 12)
    assert generate(7, 4, start=5) == a[5:9]
    assert generate_case(7, 3) == a[3]
    assert generate(8, 12) != a


def test_cases_are_well_formed(corpus: list[dict[str, Any]]) -> None:
    for case in corpus:
        parsed = Case.from_json(json.loads(json.dumps(case)))
        check_program(parsed.insns)
        assert parsed.run is not None and 14 <= len(parsed.run.data) <= 3712
        meta = case["meta"]
        assert isinstance(meta, dict) and meta["seed"] == SEED and meta["category"] in set(Category)
        frame = parsed.run.data
        if frame[12:14] == b"\x08\x00":
            assert len(frame) >= 34
        if frame[12:14] == b"\x86\xdd":
            assert len(frame) >= 54


def test_inputs_are_runnable(corpus: list[dict[str, Any]]) -> None:
    """Packets and contexts are ones a test run takes (a short ctx only costs ENOSPC)."""
    for case in corpus[:150]:
        out = pybpf_outcome(case)
        assert out["accepted"] and out["run"]["errno"] in (0, 28), (case["name"], out["run"])


def test_every_category_and_program_type(corpus: list[dict[str, Any]]) -> None:
    assert {c["meta"]["category"] for c in corpus} == {str(c) for c in Category}
    assert {c["prog_type"] for c in corpus} == {"socket_filter", "sched_cls", "sched_act", "xdp"}
    maps = [m for c in corpus for m in c["maps"]]
    assert {m["type"] for m in maps} == {"array", "hash", "percpu_array", "percpu_hash", "lru_hash",
                                         "lru_percpu_hash"}  # fmt: skip
    assert any(m.get("freeze") and m["flags"] & 0x80 for m in maps)
    assert any(c["run"]["ctx"] for c in corpus)
    assert any(c["run"]["repeat"] > 1 for c in corpus)


def test_config_restricts_types_and_categories() -> None:
    cfg = GenConfig(prog_types=("xdp",), categories=(Category.PACKET,))
    cases = generate(3, 10, config=cfg)
    assert {c["prog_type"] for c in cases} == {"xdp"}
    assert {c["meta"]["category"] for c in cases} == {"packet"}


def test_instruction_coverage(corpus: list[dict[str, Any]]) -> None:
    seen: set[tuple[int, ...]] = set()
    for i in _insns(corpus):
        cls = i.cls
        if cls in (InsnClass.ALU, InsnClass.ALU64):
            if i.op == AluOp.END:
                seen.add((i.code, i.imm))
            else:
                seen.add((i.code, i.off))
        elif cls == InsnClass.STX and i.mode == Mode.ATOMIC:
            seen.add((i.code, i.imm))
        elif cls in (InsnClass.JMP, InsnClass.JMP32) and i.op == JmpOp.CALL:
            seen.add((i.code, i.src, i.imm if i.src == 0 else 0))
        elif i.is_lddw:
            seen.add((i.code, i.src))
        else:
            seen.add((i.code,))
    want: set[tuple[int, ...]] = set()
    for cls in (InsnClass.ALU, InsnClass.ALU64):
        for op in AluOp:
            if op in (AluOp.NEG, AluOp.END):
                continue
            for src in (0x00, 0x08):
                want.add((cls | op | src, 0))
        for op in (AluOp.DIV, AluOp.MOD):
            want |= {(cls | op, 1), (cls | op | 0x08, 1)}  # signed division and modulo
        want.add((cls | AluOp.NEG, 0))
    want |= {(InsnClass.ALU64 | AluOp.MOV | 0x08, off) for off in (8, 16, 32)}  # movsx
    want |= {(InsnClass.ALU | AluOp.MOV | 0x08, off) for off in (8, 16)}
    for bits in (16, 32, 64):
        want |= {(0xD4, bits), (0xDC, bits), (0xD7, bits)}  # le, be, bswap
    for cls in (InsnClass.JMP, InsnClass.JMP32):
        for jop in (JmpOp.JEQ, JmpOp.JNE, JmpOp.JGT, JmpOp.JGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSET,
                    JmpOp.JSGT, JmpOp.JSGE, JmpOp.JSLT, JmpOp.JSLE):  # fmt: skip
            want |= {(cls | jop,), (cls | jop | 0x08,)}
    want |= {(0x05,), (0x06,), (0x95,), (0xE5,)}  # ja, ja32 (gotol), exit, may_goto
    for size in (Size.B, Size.H, Size.W, Size.DW):
        want |= {(InsnClass.LDX | Mode.MEM | size,), (InsnClass.STX | Mode.MEM | size,),
                 (InsnClass.ST | Mode.MEM | size,)}  # fmt: skip
    for size in (Size.B, Size.H, Size.W):
        want |= {(InsnClass.LDX | Mode.MEMSX | size,), (InsnClass.LD | Mode.ABS | size,),
                 (InsnClass.LD | Mode.IND | size,)}  # fmt: skip
    for size in (Size.W, Size.DW):
        want |= {(InsnClass.STX | Mode.ATOMIC | size, int(op)) for op in AtomicOp
                 if op not in (AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL)}  # fmt: skip
    want |= {(0x18, 0), (0x18, 5), (0x18, 6), (0x85, 1, 0)}  # lddw: constant, map, map value
    helpers = ("map_lookup_elem", "map_update_elem", "map_delete_elem", "ktime_get_ns",
               "get_prandom_u32", "get_smp_processor_id", "skb_load_bytes", "skb_store_bytes",
               "xdp_adjust_head", "xdp_adjust_tail", "xdp_adjust_meta", "map_lookup_percpu_elem")  # fmt: skip
    want |= {(0x85, 0, HELPER_IDS[name]) for name in helpers}
    assert want - seen == set()
