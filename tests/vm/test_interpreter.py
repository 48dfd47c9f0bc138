"""Frames, calls, tail calls, faults and the memory model, through the interpreter."""

from __future__ import annotations

import pytest

from pybpf.errors import MemoryFault, RuntimeFault
from pybpf.isa import assemble
from pybpf.kernel.state import Kernel
from pybpf.maps.types import MapSpec, MapType
from pybpf.program import load_program
from pybpf.vm.interpreter import run_raw


def test_stack_is_per_frame_and_callee_saved_registers_survive() -> None:
    prog = assemble(
        """
        r6 = 6
        *(u64 *)(r10 -8) = 11
        r1 = 1
        call f
        r1 = *(u64 *)(r10 -8)
        r0 += r1
        r0 += r6
        exit
    f:
        *(u64 *)(r10 -8) = 100
        r6 = 1000
        r0 = *(u64 *)(r10 -8)
        r0 += r1
        exit
        """
    )
    assert run_raw(prog) == 101 + 11 + 6


def test_nine_frames_is_too_deep() -> None:
    lines = ["call f1", "exit"]
    for i in range(1, 9):
        lines += [f"f{i}:", f"call f{i + 1}" if i < 8 else "r0 = 0", "exit"]
    lines += ["f9:", "r0 = 0", "exit"]
    with pytest.raises(RuntimeFault, match="too deep"):
        run_raw(assemble("\n".join(lines)))


def test_out_of_region_access_is_a_clean_fault_naming_the_insn() -> None:
    prog = assemble("r1 = r10\nr1 += 8\nr0 = *(u64 *)(r1 +0)\nexit")
    with pytest.raises(MemoryFault) as info:
        run_raw(prog)
    assert info.value.pc == 2
    assert "insn 2" in str(info.value)


def test_null_dereference_faults() -> None:
    with pytest.raises(MemoryFault):
        run_raw(assemble("r1 = 0\nr0 = *(u32 *)(r1 +0)\nexit"))


def test_runaway_loop_stops_with_budget() -> None:
    from pybpf.vm.executable import Executable
    from pybpf.vm.interpreter import Interpreter

    with pytest.raises(RuntimeFault, match="budget"):
        Interpreter(Kernel(seed=0)).run(Executable(assemble("top:\ngoto top\nexit")), budget=1000)


def _tail_call_setup(kernel: Kernel, n_targets: int) -> tuple[object, object]:
    jt = kernel.create_map(MapSpec(MapType.PROG_ARRAY, 4, 4, 8))
    return jt, None


def test_tail_call_replaces_program_and_falls_through_on_empty_slot() -> None:
    k = Kernel(seed=0)
    jt = k.create_map(MapSpec(MapType.PROG_ARRAY, 4, 4, 4))
    target = load_program(assemble("r0 = 42\nexit"), "socket_filter", kernel=k)
    jt.update(1, target)
    caller = load_program(
        assemble(
            """
            r6 = r1
            r1 = r6
            r2 = map[idx:0]
            r3 = 0
            call bpf_tail_call
            r1 = r6
            r2 = map[idx:0]
            r3 = 1
            call bpf_tail_call
            r0 = 7
            exit
            """
        ),
        "socket_filter",
        maps=[jt],
        kernel=k,
    )
    assert caller.run(data=bytes(64)).retval == 42


def test_tail_call_limit_is_33() -> None:
    k = Kernel(seed=0)
    jt = k.create_map(MapSpec(MapType.PROG_ARRAY, 4, 4, 1))
    counter = k.create_map(MapSpec(MapType.ARRAY, 4, 8, 1))
    prog = load_program(
        assemble(
            """
            r6 = r1
            *(u32 *)(r10 -4) = 0
            r2 = r10
            r2 += -4
            r1 = map[idx:1]
            call bpf_map_lookup_elem
            if r0 == 0 goto out
            r1 = 1
            lock *(u64 *)(r0 +0) += r1
            r1 = r6
            r2 = map[idx:0]
            r3 = 0
            call bpf_tail_call
        out:
            r0 = 0
            exit
            """
        ),
        "socket_filter",
        maps=[jt, counter],
        kernel=k,
    )
    jt.update(0, prog)
    prog.run(data=bytes(64))
    assert int.from_bytes(counter.lookup(0), "little") == 34  # the first run and 33 tail calls
