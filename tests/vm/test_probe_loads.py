"""Probe loads (the kernel's ``BPF_PROBE_MEM``): a load through a plain or untrusted BTF
pointer reads 0 at a bad address, on every tier; every other load still faults."""

from __future__ import annotations

from typing import Any

import pytest

from pybpf.errors import MemoryFault
from pybpf.isa import assemble
from pybpf.iter import create_iter_link
from pybpf.kernel.progtypes import AttachType, ProgType
from pybpf.kernel.state import Kernel
from pybpf.kernel.vmlinux import offsetof
from pybpf.maps.types import MapSpec, MapType
from pybpf.program import Program, load_program
from pybpf.verifier.env import Options


def _iter_prog(kernel: Kernel, target: str, asm: str) -> Program:
    return load_program(assemble(asm), ProgType.TRACING, kernel=kernel, name="probe_it",
                        expected_attach_type=AttachType.TRACE_ITER,
                        options=Options(attach_btf_name="bpf_iter_" + target))  # fmt: skip


def _print_u64(loads: str) -> str:
    """A task iterator body: ``loads`` leave a number in r4, printed as ``%llu\\n``."""
    return (
        "r6 = *(u64 *)(r1 + 0)\nr6 = *(u64 *)(r6 + 0)\n"  # the seq_file
        "r7 = *(u64 *)(r1 + 8)\nif r7 == 0 goto out\n"  # the task (trusted, may be NULL)
        + loads
        + "*(u64 *)(r10 - 8) = r4\n"
        "r1 = 0x0a756c6c25 ll\n*(u64 *)(r10 - 16) = r1\n"  # "%llu\n"
        "r1 = r6\nr2 = r10\nr2 += -16\nr3 = 8\nr4 = r10\nr4 += -8\nr5 = 8\ncall 126\n"
        "out:\nr0 = 0\nexit\n"
    )


@pytest.mark.parametrize("load", ["u64", "u8", "s32", "s16"])
def test_reads_through_a_null_btf_pointer_give_0(tier: str, load: str) -> None:
    kernel = Kernel(num_cpus=1, seed=0)
    mm = offsetof("task_struct", "mm")
    it = _iter_prog(
        kernel, "task", _print_u64(f"r3 = *(u64 *)(r7 + {mm})\nr4 = *({load} *)(r3 + 8)\n")
    )
    # the trusted task's load is plain; the walked mm pointer's load is a probe load
    assert it.executable.probe_loads == {5}
    lines = create_iter_link(it).read_all().decode().splitlines()
    assert lines and set(lines) == {"0"}


def test_probe_loads_at_good_addresses_read_the_object(tier: str) -> None:
    kernel = Kernel(num_cpus=1, seed=0)
    aux, aux_id = offsetof("bpf_prog", "aux"), offsetof("bpf_prog_aux", "id")
    other = load_program(assemble("r0 = 0\nexit\n"), ProgType.SOCKET_FILTER, kernel=kernel)
    asm = (
        "r6 = *(u64 *)(r1 + 0)\nr6 = *(u64 *)(r6 + 0)\nr7 = *(u64 *)(r1 + 8)\nif r7 == 0 goto out\n"
        f"r3 = *(u64 *)(r7 + {aux})\nr4 = *(u32 *)(r3 + {aux_id})\n*(u64 *)(r10 - 8) = r4\n"
        "r1 = 0x0a756c6c25 ll\n*(u64 *)(r10 - 16) = r1\n"
        "r1 = r6\nr2 = r10\nr2 += -16\nr3 = 8\nr4 = r10\nr4 += -8\nr5 = 8\ncall 126\n"
        "out:\nr0 = 0\nexit\n"
    )
    it = _iter_prog(kernel, "bpf_prog", asm)
    # the iterator's program pointer is not trusted: both walks are probe loads
    assert it.executable.probe_loads == {4, 5}
    assert create_iter_link(it).read_all().decode() == f"{other.id}\n{it.id}\n"


def _unverified(asm: str, kernel: Kernel, maps: list[Any] | None = None) -> Program:
    return load_program(
        assemble(asm), "socket_filter", kernel=kernel, maps=maps or [], verify=False
    )


def test_only_marked_loads_are_forgiving(tier: str) -> None:
    kernel = Kernel(seed=0)
    arr = kernel.create_map(MapSpec(MapType.ARRAY, 4, 8, 1))
    arr.update((0).to_bytes(4, "little"), (0x1122334455).to_bytes(8, "little"))
    # a map value read in bounds, then 8 bytes past the value's end
    asm = "r1 = map[idx:0][0]+0\nr0 = *(u64 *)(r1 + 0)\nr2 = *(u64 *)(r1 + 4096)\nr0 += r2\nexit\n"
    plain = _unverified(asm, kernel, [arr])
    with pytest.raises(MemoryFault) as info:
        plain.run(data=bytes(64))
    assert info.value.pc == 3
    marked = _unverified(asm, kernel, [arr])
    marked.executable.probe_loads = frozenset({2, 3})
    assert marked.run(data=bytes(64)).retval == 0x1122334455 & 0xFFFFFFFF
    null = _unverified("r1 = 0\nr0 = *(u32 *)(r1 + 16)\nr0 += 7\nexit\n", kernel)
    null.executable.probe_loads = frozenset({1})
    assert null.run(data=bytes(64)).retval == 7


@pytest.mark.kernel
def test_the_kernel_reads_0_through_a_null_mm() -> None:
    """The behaviour copied: the running kernel's task iterator, reading through each
    task's ``mm`` (NULL for kernel threads) with no NULL check, prints 0 for them."""
    from pybpf.oracle import available, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    from pybpf.btf import Kind, load_vmlinux
    from pybpf.btf.types import Struct

    from ..iter.harness import Case, run_kernel

    btf = load_vmlinux()
    found = btf.find_by_name_kind("task_struct", Kind.STRUCT)
    assert found is not None
    task = btf[found]
    assert isinstance(task, Struct)
    mm = next(m.offset for m in task.members if m.name == "mm") // 8
    case = Case(name="probe", target="task", read_size=1 << 16,
                asm=_print_u64(f"r3 = *(u64 *)(r7 + {mm})\nr4 = *(s32 *)(r3 + 0)\n"))  # fmt: skip
    try:
        got = run_kernel(case)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    assert got["accepted"], got["message"]
    assert "0" in got["output"].split()


def _mixed_trust(pid: int, wakee: int) -> str:
    """One load reached through the trusted task on one path and through the task's plain
    ``last_wakee`` pointer (NULL for pybpf's tasks) on the other."""
    return _print_u64(
        f"r4 = *(u32 *)(r7 + {pid})\nif r4 > 100 goto +1\nr7 = *(u64 *)(r7 + {wakee})\n"
        f"r4 = *(u32 *)(r7 + {pid})\n"
    )


def test_a_load_through_trusted_and_plain_pointers_is_a_probe_load(tier: str) -> None:
    kernel = Kernel(num_cpus=1, seed=0)
    pid = offsetof("task_struct", "pid")
    it = _iter_prog(kernel, "task", _mixed_trust(pid, offsetof("task_struct", "last_wakee")))
    assert it.executable.probe_loads == {7}
    from pybpf.iter.objects import kernel_tasks

    pids = sorted(kernel_tasks(kernel).tasks)
    want = [str(p) if p > 100 else "0" for p in pids]  # the small pids read a NULL last_wakee
    assert "0" in want and create_iter_link(it).read_all().decode().splitlines() == want


@pytest.mark.kernel
def test_the_kernel_accepts_a_load_through_mixed_trust() -> None:
    from pybpf.oracle import available, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    from pybpf.btf import Kind, load_vmlinux
    from pybpf.btf.types import Struct

    from ..iter.harness import Case, run_kernel

    btf = load_vmlinux()
    found = btf.find_by_name_kind("task_struct", Kind.STRUCT)
    assert found is not None
    task = btf[found]
    assert isinstance(task, Struct)
    off = {m.name: m.offset // 8 for m in task.members}
    case = Case(
        name="mixed",
        target="task",
        read_size=1 << 16,
        asm=_mixed_trust(off["pid"], off["last_wakee"]),
    )
    try:
        got = run_kernel(case)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    assert got["accepted"], got["message"]


def test_struct_ops_reads_through_a_null_member_pointer_give_0(tier: str) -> None:
    from pybpf.struct_ops import load_struct_ops_program
    from pybpf.struct_ops.call import OpsCaller
    from pybpf.struct_ops.tcp.sock import TcpSock

    kernel = Kernel(seed=0)
    sk_socket = offsetof("sock", "sk_socket")  # NULL in pybpf's tcp sockets
    asm = f"r1 = *(u64 *)(r1 + 0)\nr2 = *(u64 *)(r1 + {sk_socket})\nr0 = *(u16 *)(r2 + 0)\nr0 += 9\nexit"
    prog = load_struct_ops_program(assemble(asm), "tcp_congestion_ops", "ssthresh", kernel=kernel)
    assert prog.executable.probe_loads == {2}  # the trusted socket's own load stays plain
    assert OpsCaller({"ssthresh": prog}, kernel)("ssthresh", TcpSock().address) == 9
