"""What only the jit tier has: native helpers, the code cache, callbacks into Python,
remembered context fields and the native repeat loop -- each checked against the
interpreter (the tier-wide tests in test_runtime.py and test_tiers_agree.py run here too)."""

from __future__ import annotations

import errno
import re
import time
from typing import Any

import pytest

from pybpf.errors import BpfError, MemoryFault, RuntimeFault
from pybpf.isa import assemble
from pybpf.kernel.helpers import HELPERS, Helper
from pybpf.kernel.state import Kernel
from pybpf.maps.types import MapSpec, MapType
from pybpf.program import load_program
from pybpf.vm.executable import Executable
from pybpf.vm.raw import run_raw
from pybpf.vm.tiers import Tier, available, make_runner, using

pytestmark = pytest.mark.skipif(Tier.JIT not in available(), reason="llvmlite is not installed")

PACKET = bytes(range(64))


def _on(tier: str, build: Any, *args: Any) -> Any:
    """``build(kernel)`` -> (program, maps); run it on ``tier``: result and map contents."""
    kernel = Kernel(seed=0)
    program, maps = build(kernel)
    with using(tier):
        try:
            res: Any = [program.run(data=PACKET, repeat=r).retval for r in args or (1,)]
        except BpfError as exc:
            res = (type(exc).__name__, str(exc))
    return res, [sorted(m.items()) for m in maps]


def _array_program(kernel: Kernel) -> tuple[Any, list[Any]]:
    arr = kernel.create_map(MapSpec(MapType.ARRAY, 4, 12, 4))
    src = """
        r6 = 0
        r8 = 0
    next:
        *(u32 *)(r10 - 4) = r6          ; key 0..5: 4 and 5 are out of range
        *(u64 *)(r10 - 16) = r6
        *(u32 *)(r10 - 8) = 7
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem
        r7 = r0                         ; 0, or -E2BIG past the end
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto missing
        r1 = *(u64 *)(r0 + 0)
        r1 += 100
        *(u64 *)(r0 + 0) = r1
        goto more
    missing:
        r8 += r7
    more:
        r6 += 1
        if r6 < 6 goto next
        r1 = map[idx:0]                 ; flags the array refuses: BPF_NOEXIST, then 8
        r2 = r10
        r2 += -4
        *(u32 *)(r10 - 4) = 0
        r3 = r10
        r3 += -16
        r4 = 1
        call bpf_map_update_elem
        r8 += r0
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 8
        call bpf_map_update_elem
        r8 += r0
        r0 = r8
        exit
    """
    return load_program(assemble(src), "xdp", maps=[arr], kernel=kernel), [arr]


def test_native_array_helpers_agree_with_the_interpreter_and_the_map() -> None:
    jit = _on("jit", _array_program, 1, 3)
    assert jit == _on("interp", _array_program, 1, 3)
    retvals, (items,) = jit
    err = (-(errno.E2BIG) * 2 - errno.EEXIST - errno.EINVAL) & 0xFFFFFFFF
    assert retvals == [err, err]
    assert [int.from_bytes(v[:8], "little") for _, v in items] == [0 + 100, 1 + 100, 2 + 100, 3 + 100]
    assert all(v[8:] == (7).to_bytes(4, "little") for _, v in items)


def test_array_lookup_with_a_key_outside_every_region_faults_as_the_interpreter() -> None:
    def build(kernel: Kernel) -> tuple[Any, list[Any]]:
        arr = kernel.create_map(MapSpec(MapType.ARRAY, 4, 8, 4))
        src = "r1 = map[idx:0]\nr2 = 16\ncall bpf_map_lookup_elem\nr0 = 1\nexit"
        return load_program(assemble(src), "xdp", maps=[arr], kernel=kernel, verify=False), [arr]

    got = _on("jit", build)
    assert got == _on("interp", build)
    assert got[0][0] == "MemoryFault"


def _hash_program(kernel: Kernel) -> tuple[Any, list[Any]]:
    h = kernel.create_map(MapSpec(MapType.HASH, 4, 8, 16))
    src = """
        *(u32 *)(r10 - 4) = 9
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto insert
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
        r0 = 1
        exit
    insert:
        *(u64 *)(r10 - 16) = 1
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem
        r0 = 2
        exit
    """
    return load_program(assemble(src), "xdp", maps=[h], kernel=kernel), [h]


def test_hash_helpers_through_python_and_the_native_repeat_loop() -> None:
    got = _on("jit", _hash_program, 1, 1000)
    assert got == _on("interp", _hash_program, 1, 1000)
    assert got[0] == [2, 1]
    assert got[1] == [[((9).to_bytes(4, "little"), (1001).to_bytes(8, "little"))]]


def test_a_context_field_is_read_again_after_a_helper_changes_it() -> None:
    """xdp_adjust_head moves ``data``: the remembered field must not survive the call."""

    def build(kernel: Kernel) -> tuple[Any, list[Any]]:
        src = """
            r6 = r1
            r7 = *(u32 *)(r6 + 0)
            r1 = r6
            r2 = 14
            call bpf_xdp_adjust_head
            r8 = *(u32 *)(r6 + 0)
            r0 = r8
            r0 -= r7
            exit
        """
        return load_program(assemble(src), "xdp", kernel=kernel, verify=False), []

    got = _on("jit", build, 1, 3, 5)
    # each run moves data 14 bytes on: the fourth finds too little packet left and fails
    assert got == _on("interp", build, 1, 3, 5) == ([14, 14, 0], [])


def test_same_program_compiles_once() -> None:
    from pybpf.vm.jit.engine import compile_executable

    insns = assemble("r0 = 12345\nr0 += r1\nexit")
    a, b = Executable(insns, "a"), Executable(insns, "b")
    assert compile_executable(a) is compile_executable(b)
    assert compile_executable(Executable(assemble("r0 = 12346\nexit"), "c")) is not compile_executable(a)


def test_an_exception_in_a_python_helper_is_a_clean_fault() -> None:
    def broken(env: Any, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        raise KeyError("oops")

    def refusing(env: Any, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        raise RuntimeFault(env.pc, "refused here", errno.EPERM)

    helpers = {**HELPERS, 9000: Helper(9000, "broken", broken), 9001: Helper(9001, "refusing", refusing)}
    runner = make_runner(Kernel(seed=0), "jit")
    for hid, text, err in ((9000, "insn 1: internal error in the jit tier: KeyError('oops')", errno.EFAULT),
                           (9001, "insn 1: refused here", errno.EPERM)):  # fmt: skip
        exe = Executable(assemble(f"r6 = 5\ncall {hid}\nr0 = 1\nexit"), "cb", helpers=helpers)
        with pytest.raises(RuntimeFault) as info:
            runner.run(exe)
        assert str(info.value) == text and info.value.errno == err
        assert runner.run(Executable(assemble("r0 = 3\nexit"), "after")) == 3  # the runner is usable


def test_faults_have_the_interpreters_text() -> None:
    programs = [
        "r1 = 0x1000\nr0 = *(u32 *)(r1 + 4)\nexit",  # outside every region
        "r0 = *(u64 *)(r10 + 0)\nexit",  # just past the frame
        "r2 = r10\nr2 += -4\nr0 = *(u64 *)(r2 + 0)\nexit",  # runs over the frame's end
        "r1 = 0\n*(u32 *)(r1 + 0) = 1\nexit",  # null store
        "r1 = 8\nlock *(u64 *)(r1 + 0) += r1\nexit",  # atomic outside memory
    ]
    for src in programs:
        outcomes = []
        for tier in ("interp", "jit"):
            with pytest.raises(MemoryFault) as info:
                run_raw(assemble(src), tier=tier)
            # frames are the runner's own: their addresses, and so the neighbours a wild
            # address is described by, differ between runners
            text = re.sub(r"0x[0-9a-f]+", "ADDR", str(info.value)).split(": ")
            outcomes.append((text[:2], info.value.pc, info.value.errno))
        assert outcomes[0] == outcomes[1], src


def test_frames_read_as_zeros_in_every_run_with_partial_zeroing() -> None:
    """A program that touches its frame only at constant r10 offsets has only that span
    zeroed per run; what it reads must still be zero at the start of every run."""
    src = "r0 = *(u64 *)(r10 - 16)\nr1 = 77\n*(u64 *)(r10 - 16) = r1\n*(u8 *)(r10 - 1) = r1\nexit"
    insns = assemble(src)
    from pybpf.vm.jit.codegen import Generator, entries_of

    exe = Executable(insns, "partial")
    assert Generator(exe, entries_of(exe)).stack_extent() == (512 - 16, 512)
    runner = make_runner(Kernel(seed=0), "jit")
    assert [runner.run(exe) for _ in range(3)] == [0, 0, 0]
    assert runner.run_repeat(exe, 0, 50)[0] == 0  # type: ignore[attr-defined]


def test_native_prandom_and_ktime_follow_the_kernels_state() -> None:
    """get_prandom_u32 steps the CPU's generator natively (the Python generator sees
    every draw), ktime_get_ns reads the fixed clock when the kernel has one."""
    src = """
        call bpf_get_prandom_u32
        r6 = r0
        call bpf_get_prandom_u32
        r6 ^= r0
        call bpf_ktime_get_ns
        r6 += r0
        r0 = r6
        exit
    """
    got = []
    for tier in ("interp", "jit"):
        kernel = Kernel(seed=3)
        kernel.fixed_time_ns = 12345
        runs = [run_raw(assemble(src), b"", kernel, tier) for _ in range(3)]
        got.append((runs, kernel.prandom[0].next_u32()))
    assert got[0] == got[1]
    kernel = Kernel(seed=0)
    before = time.monotonic_ns()
    now = run_raw(assemble("call bpf_ktime_get_ns\nexit"), b"", kernel, "jit")
    assert before <= now <= time.monotonic_ns()


def test_a_remembered_tail_call_target_follows_prog_array_updates() -> None:
    got = []
    for tier in ("interp", "jit"):
        k = Kernel(seed=0)
        jt = k.create_map(MapSpec(MapType.PROG_ARRAY, 4, 4, 2))
        a = load_program(assemble("r0 = 42\nexit"), "socket_filter", kernel=k)
        b = load_program(assemble("r0 = 43\nexit"), "socket_filter", kernel=k)
        src = "r2 = map[idx:0]\nr3 = 1\ncall bpf_tail_call\nr0 = 7\nexit"
        caller = load_program(assemble(src), "socket_filter", maps=[jt], kernel=k)
        with using(tier):
            seen = [caller.run(data=bytes(64), repeat=1).retval]
            jt.update(1, a)
            seen += [caller.run(data=bytes(64), repeat=r).retval for r in (1, 500)]
            jt.update(1, b)
            seen += [caller.run(data=bytes(64), repeat=r).retval for r in (1, 500)]
            jt.delete(1)
            seen.append(caller.run(data=bytes(64), repeat=500).retval)
        got.append(seen)
    assert got[0] == got[1] == [7, 42, 42, 43, 43, 7]
