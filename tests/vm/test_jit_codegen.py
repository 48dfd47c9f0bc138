"""The jit's generated IR: every module passes LLVM's verifier (compiles skip it unless
``PYBPF_JIT_VERIFY=1``), and the shape that keeps compiles cheap -- straight-line code in
one block with registers as SSA values -- holds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pybpf.conformance import _decode_raw, parse
from pybpf.isa import Insn, assemble, assemble_conformance
from pybpf.kernel.state import Kernel
from pybpf.maps.types import MapSpec, MapType
from pybpf.program import load_program
from pybpf.vm.executable import Executable
from pybpf.vm.tiers import Tier, available

pytestmark = pytest.mark.skipif(Tier.JIT not in available(), reason="llvmlite is not installed")

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "bpf_conformance"


def _ir(exe: Executable) -> str:
    from pybpf.vm.jit.codegen import Generator, entries_of

    return Generator(exe, entries_of(exe)).generate().ir


def _verify(ir: str) -> None:
    import llvmlite.binding as llvm

    from pybpf.vm.jit.engine import _target_machine

    _target_machine()  # initialises LLVM's native target
    llvm.parse_assembly(ir).verify()


def _conformance_programs() -> list[tuple[str, list[Insn]]]:
    out = []
    for directory in (CONFORMANCE, CONFORMANCE / "negative"):
        for path in sorted(directory.glob("*.data")):
            case = parse(path)
            if case is None:
                continue
            try:
                insns = _decode_raw(case.raw) if case.raw else assemble_conformance(case.asm or "")
            except Exception:
                continue
            if insns:
                out.append((path.stem, insns))
    return out


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="bpf_conformance data not present")
def test_every_conformance_program_verifies() -> None:
    """Programs as they come (unchecked: jumps out of range, into an lddw, unknown
    opcodes) -- the IR of each is a valid LLVM module."""
    programs = _conformance_programs()
    assert len(programs) > 300
    bad = []
    for name, insns in programs:
        try:
            _verify(_ir(Executable(insns, name)))
        except RuntimeError as exc:
            bad.append((name, str(exc).splitlines()[:3]))
    assert bad == []


MAP_PROGRAM = """
    r6 = r1
    *(u32 *)(r10 - 4) = 1
    *(u64 *)(r10 - 16) = 7
    r1 = map[idx:0]
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 0
    call bpf_map_update_elem
    r1 = map[idx:1]
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 0
    call bpf_map_update_elem
    r1 = map[idx:0]
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    r1 = map[idx:1]
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r7 = *(u64 *)(r0 + 0)
    call bpf_ktime_get_ns
    call bpf_get_prandom_u32
    r1 = r6
    r2 = map[idx:2]
    r3 = 0
    call bpf_tail_call
out:
    r0 = 2
    exit
"""


def test_helper_programs_verify() -> None:
    """The helpers written in IR (array and hash maps, time, random numbers, tail calls)."""
    kernel = Kernel(seed=0)
    maps: list[Any] = [
        kernel.create_map(MapSpec(MapType.ARRAY, 4, 8, 4)),
        kernel.create_map(MapSpec(MapType.HASH, 4, 8, 16)),
        kernel.create_map(MapSpec(MapType.PROG_ARRAY, 4, 4, 2)),
    ]
    program = load_program(assemble(MAP_PROGRAM), "xdp", maps=maps, kernel=kernel, name="maps", verify=False)
    _verify(_ir(program.executable))


def test_straight_line_code_keeps_registers_in_ssa_values() -> None:
    """ALU code without branches is one block: no register is loaded from its alloca,
    and frame accesses through r10 need no check."""
    src = "\n".join(
        ["r1 = 5", "r2 = r1", "*(u64 *)(r10 - 8) = r2"]
        + [f"r{1 + i % 4} += r{1 + (i + 1) % 4}" for i in range(40)]
        + ["w3 <<= 3", "r4 = *(u64 *)(r10 - 8)", "r0 = r4", "r0 ^= r3", "exit"]
    )
    ir = _ir(Executable(assemble(src), "straight"))
    body = ir.split("define void @f0", 1)[1].split("define i64 @repeat", 1)[0]
    assert re.findall(r"load i64, ptr %r\d+", body) == []
    assert re.findall(r"^(\w+):$", body, re.M) == ["entry", "bail"]
    assert "call i64 %cb" not in body
