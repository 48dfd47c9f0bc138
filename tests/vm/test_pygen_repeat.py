"""The python tier's generated ``REPEAT`` loop and memory fast paths: ``repeat`` runs give
the interpreter's results run for run (frames zeroed, caches emptied when regions go,
packet loads out of range returning 0, faults raised), and the fast paths of loads and
stores (locals in loops, dirty addresses, byte indexing) read and write what the
interpreter does."""

from __future__ import annotations

import pytest

from pybpf.errors import BpfError
from pybpf.isa import Insn, assemble, lddw
from pybpf.kernel.state import Kernel
from pybpf.maps.types import MapFlag, MapSpec, MapType
from pybpf.program import load_program
from pybpf.vm.executable import Executable
from pybpf.vm.pygen.module import generate
from pybpf.vm.raw import run_raw
from pybpf.vm.testrun import test_run as run_test
from pybpf.vm.tiers import make_runner

TIERS = ("interp", "python")
PACKET = bytes(range(64))
M64 = (1 << 64) - 1

STACK_COUNTER = """
        r0 = *(u64 *)(r10 - 8)
        r0 += 1
        *(u64 *)(r10 - 8) = r0
        exit
"""
"""Reads a slot a run has not written: 1 on every run when each starts with a zeroed frame."""

REINSERT = """
        *(u32 *)(r10 - 4) = 7
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        r6 = 1
        if r0 == 0 goto put
        r6 = *(u64 *)(r0 + 0)
        r6 += 1
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        call bpf_map_delete_elem
put:
        *(u64 *)(r10 - 16) = r6
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem
        r0 = r6
        exit
"""
"""Each run reads the element the last run made, deletes it and makes a new one (in a map
that allocates elements: regions come and go between runs)."""

LD_ABS_PAST_END = """
        r6 = r1
        r0 = *(u8 *)skb[1000]
        r0 = 5
        exit
"""

NULL_LOAD = """
        r2 = 0
        r0 = *(u64 *)(r2 + 16)
        exit
"""


def _both(insns: list[Insn], memory: bytes) -> bool:
    """Whether both tiers return the same r0 and leave the same bytes in memory."""
    seen = []
    for tier in TIERS:
        out = bytearray()
        seen.append((run_raw(insns, memory, Kernel(seed=0), tier, out=out), bytes(out)))
    return seen[0] == seen[1]


def _runs(source: str, prog_type: str, repeat: int, maps: tuple[MapSpec, ...] = ()) -> list[int]:
    """retval of ``repeat`` runs on each tier, then of one more run (state carried over)."""
    out = []
    for tier in TIERS:
        kernel = Kernel(seed=0)
        made = [kernel.create_map(spec) for spec in maps]
        prog = load_program(assemble(source), prog_type, maps=made, kernel=kernel)
        out.append(run_test(prog, PACKET, repeat=repeat, tier=tier).retval)
        out.append(run_test(prog, PACKET, tier=tier).retval)
    return out


def test_every_run_of_a_repeat_starts_with_a_zeroed_frame() -> None:
    assert _runs(STACK_COUNTER, "xdp", 50) == [1, 1, 1, 1]


def test_runs_of_a_repeat_see_the_map_changes_of_the_runs_before() -> None:
    maps = (MapSpec(MapType.HASH, 4, 8, 4, flags=MapFlag.NO_PREALLOC),)
    assert _runs(REINSERT, "xdp", 30, maps) == [30, 31, 30, 31]


SELF_TAIL_CALL = """
        r6 = r1
        *(u32 *)(r10 - 4) = 0
        r2 = r10
        r2 += -4
        r1 = map[idx:1]
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
        r1 = r6
        r2 = map[idx:0]
        r3 = 0
        call bpf_tail_call
out:
        r0 = 0
        exit
"""


def test_every_run_of_a_repeat_gets_its_own_33_tail_calls() -> None:
    counts = []
    for tier in TIERS:
        kernel = Kernel(seed=0)
        jt = kernel.create_map(MapSpec(MapType.PROG_ARRAY, 4, 4, 1))
        counter = kernel.create_map(MapSpec(MapType.ARRAY, 4, 8, 1))
        prog = load_program(
            assemble(SELF_TAIL_CALL), "socket_filter", maps=[jt, counter], kernel=kernel
        )
        jt.update(0, prog)
        run_test(prog, PACKET, repeat=5, tier=tier)
        value = counter.lookup(0)
        assert value is not None
        counts.append(int.from_bytes(value, "little"))
    assert counts == [5 * 34, 5 * 34]


def test_a_packet_load_out_of_range_returns_zero_on_every_run() -> None:
    assert _runs(LD_ABS_PAST_END, "socket_filter", 20) == [0, 0, 0, 0]


def test_a_fault_in_a_repeat_is_raised_as_the_interpreter_raises_it() -> None:
    insns = assemble(NULL_LOAD)
    errors = []
    for tier in TIERS:
        exe = load_program(insns, "xdp", kernel=Kernel(seed=0), verify=False)
        with pytest.raises(BpfError) as info:
            run_test(exe, PACKET, repeat=10, tier=tier)
        errors.append(info.value.message)
    assert errors[0] == errors[1] and "insn 1" in errors[0]


def test_the_repeat_loop_resets_only_what_the_code_can_change() -> None:
    """No frame, no helper: nothing per run; a frame: zero it; a helper: the full start."""
    plain = generate(Executable(assemble("r0 = 2\nexit"), "plain")).source
    framed = generate(Executable(assemble(STACK_COUNTER), "framed")).source
    calls = generate(Executable(assemble("call bpf_ktime_get_ns\nexit"), "calls")).source
    loops = [s[s.index("def REPEAT") :] for s in (plain, framed, calls)]
    assert "BEGIN()" not in loops[0] and "START()" not in loops[0]
    assert "START()" in loops[1] and "BEGIN()" not in loops[1]
    assert "BEGIN()" in loops[2]


LOOP_LOADS = """
        r6 = r1
        r7 = 0
        r0 = 0
loop:
        r2 = r6
        r2 += r7
        r3 = *(u8 *)(r2 + 0)
        r4 = *(u16 *)(r2 + 1)
        r5 = *(s16 *)(r2 + 3)
        *(u8 *)(r2 + 40) = r3
        *(u16 *)(r2 + 41) = r4
        r0 += r3
        r0 += r4
        r0 ^= r5
        r7 += 1
        if r7 < 20 goto loop
        r1 = *(u64 *)(r6 + 40)
        r0 += r1
        r1 = r6
        r1 += -1
        r1 += 1
        r1 = *(u8 *)(r1 + 2)
        r0 += r1
        exit
"""


def test_loads_and_stores_in_a_loop_use_locals_and_give_the_interpreters_results() -> None:
    insns = list(assemble(LOOP_LOADS))
    source = generate(Executable(insns, "loop_loads")).source
    loop = source[source.index("while True:") :]
    assert "lU2(" in loop and "lS2(" in loop and "lP2(" in loop  # struct functions as locals
    assert "global" not in loop and "c4b <=" not in loop  # the caches as locals
    assert _both(insns, bytes((i * 37 + 11) & 0xFF for i in range(64)))


def test_an_address_register_left_dirty_is_not_masked_before_a_load() -> None:
    """``r2 = r1 + r7`` may exceed 64 bits in Python: the load's cache check takes it as is
    (only its congruent address in [0, 2**64) can hit), so no mask is drawn for it."""
    insns = list(assemble(LOOP_LOADS))
    source = generate(Executable(insns, "loop_loads")).source
    loop = source[source.index("while True:") : source.index("def REPEAT")]
    assert "r2 &= 0xffffffffffffffff" not in loop


def test_a_wrapping_address_reaches_the_same_byte() -> None:
    """An address computed as base + 2**64 - 1 + 1 (wrapping) is the base on every tier."""
    source = """
        r2 = r1
        r3 = -1
        r2 += r3
        r2 += 2
        r0 = *(u8 *)(r2 - 1)
        *(u8 *)(r2 + 3) = r0
        r0 = *(u32 *)(r1 + 4)
        exit
    """
    insns = list(assemble(source))
    assert _both(insns, bytes(range(1, 17)))


def test_a_running_sum_in_a_loop_is_not_masked_each_round() -> None:
    """checksum's ``r0 += r6`` over loaded halves: a sum of clean values grows by under
    2**64 a round, so it stays dirty (masked once, where the fold shifts it)."""
    source = """
        r6 = r1
        r0 = -1
        r7 = 0
loop:
        r2 = r6
        r2 += r7
        r3 = *(u64 *)(r2 + 0)
        r0 += r3
        r0 -= 5
        r7 += 8
        if r7 < 64 goto loop
        r0 >>= 3
        exit
    """
    insns = list(assemble(source))
    code = generate(Executable(insns, "sum"))
    loop = code.source[code.source.index("while True:") : code.source.index("continue")]
    sums = [line.strip() for line in loop.splitlines() if line.strip().startswith("r0 =")]
    assert sums == ["r0 = (r0 + r3) - 0x5"]
    assert _both(insns, bytes([0xFF] * 64))


SWAPS = [
    ("u16", "be16"),
    ("u32", "be32"),
    ("u64", "be64"),
    ("u16", "bswap16"),
    ("u32", "bswap32"),
    ("u64", "bswap64"),
    ("u32", "be16"),  # a narrower swap: not fused, still right
    ("u16", "le16"),
]


@pytest.mark.parametrize(("size", "swap"), SWAPS)
def test_a_load_and_its_byte_swap_read_big_endian(size: str, swap: str) -> None:
    source = f"""
        r6 = r1
        r7 = 0
        r0 = 0
loop:
        r2 = r6
        r2 += r7
        r3 = *({size} *)(r2 + 1)
        r3 = {swap} r3
        r0 ^= r3
        r0 <<= 1
        r7 += 3
        if r7 < 30 goto loop
        exit
    """
    insns = list(assemble(source))
    fused = swap.startswith(("be", "bswap")) and swap.endswith(size[1:])
    assert (f"B{int(size[1:]) // 8}(" in generate(Executable(insns, "swap")).source) == fused
    assert _both(insns, bytes((i * 91 + 7) & 0xFF for i in range(48)))


def test_a_byte_swapped_context_field_is_swapped_on_its_getter_path() -> None:
    """xdp's ``data`` is computed on access: the fused load's field path swaps it too
    (swapped back, the difference is the packet's length, whatever the addresses)."""
    source = """
        r2 = *(u32 *)(r1 + 0)
        r2 = be32 r2
        r2 = be32 r2
        r3 = *(u32 *)(r1 + 4)
        r3 = be32 r3
        r3 = be32 r3
        r0 = r3
        r0 -= r2
        r0 &= 0xffff
        exit
    """
    got = []
    for tier in TIERS:
        prog = load_program(assemble(source), "xdp", kernel=Kernel(seed=0), verify=False)
        got.append(
            [
                run_test(prog, PACKET, tier=tier).retval,
                run_test(prog, PACKET, repeat=3, tier=tier).retval,
            ]
        )
    assert got == [[len(PACKET)] * 2] * 2


EDGES = [0, 1, 5, (1 << 63), M64 - 6, M64 - 5, M64 - 4, M64 - 1, M64]


@pytest.mark.parametrize("op", [">", ">=", "<", "<="])
def test_order_tests_of_a_value_past_64_bits_are_unmasked_and_right(op: str) -> None:
    """``r2 + 5 op r3`` (r2 loaded: the sum may pass 2**64 in Python) compares without a
    mask, and agrees with the interpreter on both sides of the wrap."""
    source = f"""
        r2 = *(u64 *)(r1 + 0)
        r3 = *(u64 *)(r1 + 8)
        r0 = 0
        r4 = r2
        r4 += 5
        if r4 {op} r3 goto one
        r0 |= 2
one:
        r4 = r2
        r4 += 5
        if r4 {op} 4 goto two
        r0 |= 4
two:
        exit
    """
    insns = list(assemble(source))
    assert "t := " in generate(Executable(insns, "order")).source
    for a in EDGES:
        for b in EDGES:
            assert _both(insns, a.to_bytes(8, "little") + b.to_bytes(8, "little")), (a, b)


ATOMICS_IN_A_LOOP = """
        r6 = r1
        r7 = 0
loop:
        r2 = r6
        r2 += r7
        r3 = r7
        r3 += 3
        lock *(u64 *)(r2 + 0) += r3
        lock *(u32 *)(r2 + 8) |= r3
        lock *(u32 *)(r2 + 12) ^= r3
        r4 = r3
        r4 = atomic_fetch_add((u64 *)(r2 + 16), r4)
        r0 = r4
        r7 += 8
        if r7 < 64 goto loop
        exit
"""


def test_atomics_on_a_plain_region_go_through_its_cache_and_agree() -> None:
    insns = list(assemble(ATOMICS_IN_A_LOOP))
    source = generate(Executable(insns, "atomics")).source
    assert "ATR(" in source and "lP8(" in source  # the cache path, in the loop
    assert _both(insns, bytes((i * 53 + 1) & 0xFF for i in range(96)))


def test_an_atomic_on_read_only_code_faults_on_both_tiers_every_time() -> None:
    """A function's address points at read-only code: the load succeeds, the store
    faults, and the region is never cached (the second run faults the same way)."""
    first, second = lddw(2, 0, src=4)
    second_insns = assemble("r1 = 1\nlock *(u64 *)(r2 + 0) += r1\nr0 = 0\nexit")
    insns = [Insn(first.code, 2, 4, 0, 3), second, *second_insns]
    errors = []
    exe = Executable(insns, "ro")
    for tier in TIERS:
        runner = make_runner(Kernel(seed=0), tier)
        for _ in range(2):
            with pytest.raises(BpfError) as info:
                runner.run(exe)
            errors.append(info.value.message)
    assert len(set(errors)) == 1 and "read-only" in errors[0]
