"""Frames, calls, tail calls, faults and the memory model, on every tier."""

from __future__ import annotations

import pytest

from pybpf.errors import MemoryFault, RuntimeFault
from pybpf.isa import assemble
from pybpf.kernel.state import Kernel
from pybpf.maps.types import MapSpec, MapType
from pybpf.program import load_program
from pybpf.vm.raw import run_raw


def test_stack_is_per_frame_and_callee_saved_registers_survive(tier: str) -> None:
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


def test_nine_frames_is_too_deep(tier: str) -> None:
    lines = ["call f1", "exit"]
    for i in range(1, 9):
        lines += [f"f{i}:", f"call f{i + 1}" if i < 8 else "r0 = 0", "exit"]
    lines += ["f9:", "r0 = 0", "exit"]
    with pytest.raises(RuntimeFault, match="too deep"):
        run_raw(assemble("\n".join(lines)))


def test_out_of_region_access_is_a_clean_fault_naming_the_insn(tier: str) -> None:
    prog = assemble("r1 = r10\nr1 += 8\nr0 = *(u64 *)(r1 +0)\nexit")
    with pytest.raises(MemoryFault) as info:
        run_raw(prog)
    assert info.value.pc == 2
    assert "insn 2" in str(info.value)


def test_null_dereference_faults(tier: str) -> None:
    with pytest.raises(MemoryFault):
        run_raw(assemble("r1 = 0\nr0 = *(u32 *)(r1 +0)\nexit"))


def test_runaway_loop_stops_with_budget(tier: str) -> None:
    with pytest.raises(RuntimeFault, match="budget") as info:
        run_raw(assemble("top:\ngoto top\nexit"), budget=1000)
    assert info.value.pc == 0


def test_tail_call_replaces_program_and_falls_through_on_empty_slot(tier: str) -> None:
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


def test_tail_call_limit_is_33(tier: str) -> None:
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


# --- register-file corner cases an unchecked program can reach --------------------------


def test_callee_sees_the_callers_registers_and_caller_sees_callee_r1_to_r5(tier: str) -> None:
    """One register file: r0 and r6..r9 reach the callee, r1..r5 come back changed."""
    prog = assemble(
        """
        r6 = 40
        r0 = 2
        call f
        r0 += r1
        r0 += r6
        exit
    f:
        r0 += r6
        r1 = 100
        r6 = 7
        exit
        """
    )
    assert run_raw(prog) == 42 + 100 + 40


def test_a_callees_frame_keeps_its_bytes_between_calls_in_one_run(tier: str) -> None:
    """Frames are zeroed once per run, not per call (the interpreter's model)."""
    prog = assemble(
        """
        call f
        call f
        exit
    f:
        r0 = *(u64 *)(r10 -8)
        r1 = r0
        r1 += 5
        *(u64 *)(r10 -8) = r1
        exit
        """
    )
    k = Kernel(seed=0)
    assert run_raw(prog, kernel=k) == 5
    assert run_raw(prog, kernel=k) == 5  # and a new run starts from zeros again


def test_stack_reads_of_every_width_alignment_and_sign(tier: str) -> None:
    prog = assemble(
        """
        r1 = 0x8182838485868788 ll
        *(u64 *)(r10 -16) = r1
        *(u64 *)(r10 -8) = r1
        r2 = r10
        r2 += -13
        r0 = *(u32 *)(r2 +0)
        r3 = *(s16 *)(r10 -11)
        r0 ^= r3
        r3 = *(s8 *)(r10 -1)
        r0 += r3
        r3 = *(u16 *)(r10 -6)
        r0 += r3
        *(u16 *)(r10 -3) = 0x1234
        r3 = *(u32 *)(r10 -4)
        r0 += r3
        exit
        """
    )
    assert run_raw(prog, tier="interp") == run_raw(prog)


def test_stack_pointer_passed_to_a_helper(tier: str) -> None:
    k = Kernel(seed=0)
    m = k.create_map(MapSpec(MapType.HASH, 4, 8, 4))
    m.update((7).to_bytes(4, "little"), (1234).to_bytes(8, "little"))
    prog = load_program(
        assemble(
            """
            *(u32 *)(r10 -4) = 7
            r2 = r10
            r2 += -4
            r1 = map[idx:0]
            call bpf_map_lookup_elem
            if r0 == 0 goto out
            r0 = *(u64 *)(r0 +0)
        out:
            exit
            """
        ),
        "socket_filter", maps=[m], kernel=k,
    )  # fmt: skip
    assert prog.run(data=bytes(64)).retval == 1234


# --- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pc", "reason"),
    [
        ("r0 = 0\ngoto +5\nexit", 7, "jumped out of the program"),
        ("r0 = 0\nif r0 == 0 goto -5\nexit", -3, "jumped out of the program"),
        ("r0 = 1", 1, "jumped out of the program"),
        ("r0 = 1\ngoto +1\nr1 = 5 ll\nexit", 3, "jumped into the middle of an lddw"),
    ],
)
def test_control_leaving_the_program_is_a_fault(tier: str, text: str, pc: int, reason: str) -> None:
    with pytest.raises(RuntimeFault) as info:
        run_raw(assemble(text))
    assert (info.value.pc, info.value.reason) == (pc, reason)


def test_write_to_read_only_memory_faults(tier: str) -> None:
    """The program's own code is a read-only region."""
    with pytest.raises(MemoryFault) as info:
        run_raw(assemble("r1 = func[pc+0]\n*(u64 *)(r1 +0) = 1\nr0 = 0\nexit"))
    assert info.value.pc == 2 and info.value.write


def test_budget_counts_conditional_back_edges(tier: str) -> None:
    prog = assemble("r1 = 0\nloop:\nr1 += 1\nif r1 != 0 goto loop\nr0 = r1\nexit")
    with pytest.raises(RuntimeFault, match="budget") as info:
        run_raw(prog, budget=50)
    assert info.value.pc == 2


def test_call_chain_of_eight_frames_is_allowed(tier: str) -> None:
    lines = ["call f1", "exit"]
    for i in range(1, 8):
        lines += [f"f{i}:", f"call f{i + 1}" if i < 7 else "r0 = 8", "exit"]
    assert run_raw(assemble("\n".join(lines))) == 8


# --- callbacks, packet loads, may_goto ------------------------------------------------------


def test_bpf_loop_calls_back_in_a_frame_of_its_own(tier: str) -> None:
    prog = assemble(
        """
        *(u64 *)(r10 -8) = 0
        r1 = 10
        r2 = func[pc+9]
        r3 = r10
        r3 += -8
        r4 = 0
        call bpf_loop
        r0 = *(u64 *)(r10 -8)
        exit
        r0 = 0
        exit
        *(u64 *)(r10 -8) = r1
        r3 = *(u64 *)(r2 +0)
        r3 += r1
        *(u64 *)(r2 +0) = r3
        r0 = 0
        exit
        """
    )
    assert run_raw(prog) == sum(range(10))


def test_ld_abs_out_of_range_ends_the_program_with_zero(tier: str) -> None:
    prog = load_program(
        assemble("r6 = r1\nr0 = *(u16 *)skb[12]\nr7 = r0\nr0 = *(u32 *)skb[4000]\nr0 = 5\nexit"),
        "socket_filter", verify=False,
    )  # fmt: skip
    assert prog.run(data=bytes(64)).retval == 0
    ok = load_program(assemble("r6 = r1\nr0 = *(u16 *)skb[2]\nexit"), "socket_filter", verify=False)
    assert ok.run(data=bytes(16) + b"\x12\x34" + bytes(46)).retval == 0x1234  # after the MAC header


def test_may_goto_takes_the_branch_once_the_allowance_is_spent(tier: str) -> None:
    prog = assemble("r0 = 0\nloop:\nmay_goto +2\nr0 += 1\ngoto loop\nexit")
    assert run_raw(prog) == 8 * 1024 * 1024 if tier != "interp" else True


# --- control flow the structurer must get right ----------------------------------------------


def test_irreducible_loop_runs_the_same_as_the_interpreter(tier: str) -> None:
    """Two entries into one loop: the generator falls back to a dispatch loop."""
    prog = assemble(
        """
        r0 = 0
        r1 = 0
        if r2 == 0 goto b
    a:
        r0 += 3
        r1 += 1
    b:
        r0 += 5
        if r1 < 10 goto a
        exit
        """
    )
    assert run_raw(prog) == run_raw(prog, tier="interp") == 10 * 8 + 5


def test_a_long_chain_of_checks_compiles_and_runs(tier: str) -> None:
    """Hundreds of 'if ... goto out' in a row nest too deep for naive structuring."""
    lines = ["r0 = 0", "r1 = 7"]
    for i in range(300):
        lines += [f"if r1 == {1000 + i} goto out", "r0 += 1"]
    lines += ["exit", "out:", "r0 = 99", "r2 = r0", "r0 += r2", "r0 += r2", "r0 += r2", "r0 += r2",
              "r0 += r2", "r0 += r2", "r0 += r2", "exit"]  # fmt: skip
    assert run_raw(assemble("\n".join(lines))) == 300


def test_nested_loops_leaving_through_several_levels(tier: str) -> None:
    prog = assemble(
        """
        r0 = 0
        r6 = 0
    outer:
        r7 = 0
    inner:
        r0 += r7
        if r0 > 500 goto done
        r7 += 1
        if r7 < 10 goto inner
        r6 += 1
        if r6 < 100 goto outer
        r0 += 1000000
    done:
        r0 *= 3
        exit
        """
    )
    assert run_raw(prog) == run_raw(prog, tier="interp")
