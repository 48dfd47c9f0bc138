"""The ``bpf_prog``, ``bpf_link``, ``task``, ``sockmap`` and socket (``tcp``, ``udp``,
``unix``) iterator targets (the socket walks themselves: :mod:`.test_sock_targets`).

* Against the kernel (``targets_harness.CASES``, recorded in
  ``tests/data/iter/targets_kernel.json``): context slot types (nullable, trusted for
  tasks and TCP/UDP sockets, not Unix ones; the read-only sockmap key; the scalar uid and
  bucket slots), what the verifier refuses, sleepable programs (only ``task`` takes
  them), link creation on the wrong map, a key read longer than the map's keys, and the
  text of an empty sockmap and sockhash walk (every sockmap slot, NULL sockets
  included).
* On pybpf alone: what each walk visits and in what order (programs and links by id,
  tasks by pid, sockmap slots by index, sockhash elements by bucket), through the
  objects a program reads by pybpf's kernel BTF.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .harness import _SEQ, Case, _fmt, kernel_possible_cpus, normalize, run_kernel, run_pybpf
from .targets_harness import (
    CASES,
    DATA,
    SLEEPABLE_TARGETS,
    TASK_FILTERS,
    sleepable_kernel,
    sleepable_pybpf,
    task_filter_kernel,
    task_filter_pybpf,
)

RECORDED = json.loads(DATA.read_text())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_pybpf_gives_the_kernels_recorded_answer(case: Case) -> None:
    want = RECORDED["cases"][case.name]
    assert normalize(case, run_pybpf(case, RECORDED["possible_cpus"])) == normalize(case, want)


def test_every_case_is_recorded() -> None:
    assert {c.name for c in CASES} == set(RECORDED["cases"])


@pytest.mark.kernel
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_running_kernel_still_answers_so(case: Case) -> None:
    from pybpf.oracle import available, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    try:
        got = run_kernel(case)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    if kernel_possible_cpus() == RECORDED["possible_cpus"]:
        assert normalize(case, got) == normalize(case, RECORDED["cases"][case.name])
    assert normalize(case, got) == normalize(case, run_pybpf(case, kernel_possible_cpus()))


@pytest.mark.parametrize("name", list(TASK_FILTERS))
def test_task_filters_as_recorded(name: str) -> None:
    assert task_filter_pybpf(*TASK_FILTERS[name]) == RECORDED["task_filters"][name]


@pytest.mark.kernel
@pytest.mark.parametrize("name", list(TASK_FILTERS))
def test_task_filters_live(name: str) -> None:
    from pybpf.oracle import available, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    try:
        got = task_filter_kernel(*TASK_FILTERS[name])
    except RuntimeError as exc:
        pytest.skip(str(exc))
    assert got == task_filter_pybpf(*TASK_FILTERS[name])


@pytest.mark.parametrize("target", list(SLEEPABLE_TARGETS))
def test_sleepable_programs_as_recorded(target: str) -> None:
    """Only ``task`` (``BPF_ITER_RESCHED``) takes a sleepable program: EINVAL elsewhere."""
    assert sleepable_pybpf(target) == RECORDED["sleepable"][target]


@pytest.mark.kernel
@pytest.mark.parametrize("target", list(SLEEPABLE_TARGETS))
def test_sleepable_programs_live(target: str) -> None:
    from pybpf.oracle import available, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    try:
        got = sleepable_kernel(target)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    assert got == sleepable_pybpf(target)


# --- pybpf's walks ---------------------------------------------------------------------------


def _printf(fmt: str, loads: str, nargs: int) -> str:
    """Per object (r2, NULL-checked): ``loads`` put ``nargs`` u64 arguments at fp-64...,
    then ``bpf_seq_printf(fmt)``; at the end: ``done``."""
    return (
        _SEQ + "r2 = *(u64 *)(r1 + 8)\nif r2 == 0 goto end\n" + loads + _fmt(fmt, -32)
        + f"r1 = r6\nr2 = r10\nr2 += -32\nr3 = {len(_pad(fmt))}\nr4 = r10\nr4 += -64\n"
        f"r5 = {8 * nargs}\ncall 126\nr0 = 0\nexit\n"
        "end:\n" + _fmt("done\n", -16)
        + "r1 = r6\nr2 = r10\nr2 += -16\nr3 = 8\nr4 = 0\nr5 = 0\ncall 126\nr0 = 0\nexit\n"
    )  # fmt: skip


def _pad(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return raw + bytes(-len(raw) % 8)


def _iter_prog(kernel: Any, target: str, asm: str) -> Any:
    from pybpf.isa import assemble
    from pybpf.kernel.progtypes import AttachType, ProgType
    from pybpf.program import load_program
    from pybpf.verifier.env import Options

    return load_program(assemble(asm), ProgType.TRACING, kernel=kernel, name=f"it_{target}"[:15],
                        expected_attach_type=AttachType.TRACE_ITER,
                        options=Options(attach_btf_name="bpf_iter_" + target))  # fmt: skip


def _filler(kernel: Any, name: str) -> Any:
    from pybpf.isa import assemble
    from pybpf.kernel.progtypes import ProgType
    from pybpf.program import load_program

    return load_program(
        assemble("r0 = 0\nexit\n"), ProgType.SOCKET_FILTER, kernel=kernel, name=name
    )


def test_bpf_prog_lists_every_program_by_id() -> None:
    from pybpf.iter import create_iter_link
    from pybpf.kernel.state import Kernel
    from pybpf.kernel.vmlinux import offsetof

    kernel = Kernel(num_cpus=1, seed=0)
    a, b = _filler(kernel, "first"), _filler(kernel, "second")
    aux, aux_id, aux_name = offsetof("bpf_prog", "aux"), offsetof("bpf_prog_aux", "id"), offsetof(
        "bpf_prog_aux", "name")  # fmt: skip
    loads = (f"r3 = *(u64 *)(r2 + {aux})\nr4 = *(u32 *)(r3 + {aux_id})\n*(u64 *)(r10 - 64) = r4\n"
             "r4 = *(u32 *)(r2 + 4)\n*(u64 *)(r10 - 56) = r4\n"
             f"r3 += {aux_name}\n*(u64 *)(r10 - 48) = r3\n")  # fmt: skip
    it = _iter_prog(kernel, "bpf_prog", _printf("%u %u %s\n", loads, 3))
    text = create_iter_link(it).read_all().decode()
    assert text == f"{a.id} 1 first\n{b.id} 1 second\n{it.id} 26 it_bpf_prog\ndone\n"
    c = _filler(kernel, "third")
    assert create_iter_link(it).read_all().decode().splitlines()[-2] == f"{c.id} 1 third"


def test_bpf_link_lists_live_links_by_id() -> None:
    from pybpf.iter import create_iter_link
    from pybpf.kernel.state import Kernel
    from pybpf.kernel.vmlinux import offsetof

    kernel = Kernel(num_cpus=1, seed=0)
    lid, prog, aux, aux_id = (offsetof("bpf_link", "id"), offsetof("bpf_link", "prog"),
                              offsetof("bpf_prog", "aux"), offsetof("bpf_prog_aux", "id"))  # fmt: skip
    loads = (f"r4 = *(u32 *)(r2 + {lid})\n*(u64 *)(r10 - 64) = r4\n"
             f"r3 = *(u64 *)(r2 + {prog})\nr4 = 0\nif r3 == 0 goto +2\nr3 = *(u64 *)(r3 + {aux})\n"
             f"r4 = *(u32 *)(r3 + {aux_id})\n*(u64 *)(r10 - 56) = r4\n")  # fmt: skip
    it = _iter_prog(kernel, "bpf_link", _printf("link %u prog %u\n", loads, 2))
    other = _iter_prog(kernel, "bpf_prog", "r0 = 0\nexit\n")
    l1, l2 = create_iter_link(other), create_iter_link(it)
    assert (
        l2.read_all().decode() == f"link {l1.id} prog {other.id}\nlink {l2.id} prog {it.id}\ndone\n"
    )
    l1.close()
    assert l2.read_all().decode() == f"link {l2.id} prog {it.id}\ndone\n"


def test_task_lists_tasks_and_threads_by_pid() -> None:
    from pybpf.iter import TaskSpec, create_iter_link, kernel_tasks
    from pybpf.kernel.state import Kernel
    from pybpf.kernel.vmlinux import offsetof

    kernel = Kernel(num_cpus=1, seed=0)
    table = kernel_tasks(kernel)
    table.add(TaskSpec(4000000, 1, "init-thread"))
    pid, tgid, comm = offsetof("task_struct", "pid"), offsetof("task_struct", "tgid"), offsetof(
        "task_struct", "comm")  # fmt: skip
    loads = (f"r4 = *(s32 *)(r2 + {pid})\n*(u64 *)(r10 - 64) = r4\n"
             f"r4 = *(s32 *)(r2 + {tgid})\n*(u64 *)(r10 - 56) = r4\n"
             f"r2 += {comm}\n*(u64 *)(r10 - 48) = r2\n")  # fmt: skip
    it = _iter_prog(kernel, "task", _printf("%d %d %s\n", loads, 3))
    lines = create_iter_link(it).read_all().decode().splitlines()
    want = [f"{p} {t.get('tgid')} {t.get_str('comm')}" for p, t in table.by_pid()]
    assert lines == [*want, "done"]
    assert lines[:2] == ["1 1 init", "2 2 kthreadd"]
    assert lines[-2] == "4000000 1 init-thread"


def _sock_walk(map_type: str, key_size: int, entries: list[tuple[bytes, int]]) -> str:
    from pybpf.iter import create_iter_link
    from pybpf.kernel.state import Kernel
    from pybpf.maps.standins import Socket
    from pybpf.maps.types import MapSpec, MapType

    from .targets_harness import _SOCKMAP_PRINT

    kernel = Kernel(num_cpus=1, seed=0)
    m = kernel.create_map(MapSpec(MapType[map_type.upper()], key_size, 8, 4))
    for key, family in entries:
        m.update(key, Socket(family=family))
    it = _iter_prog(kernel, "sockmap", _SOCKMAP_PRINT)
    return create_iter_link(it, m).read_all().decode()


def test_task_filters_pick_a_thread_or_a_process() -> None:
    from pybpf.iter import TaskSpec, create_iter_link, kernel_tasks
    from pybpf.kernel.state import Kernel
    from pybpf.kernel.vmlinux import offsetof

    from .targets_harness import _task_pid_program

    kernel = Kernel(num_cpus=1, seed=0)
    tasks = kernel_tasks(kernel)
    tasks.add(TaskSpec(700, 700, "proc"))
    tasks.add(TaskSpec(650, 700, "early-thread"))
    tasks.add(TaskSpec(710, 700, "thread"))
    it = _iter_prog(kernel, "task", _task_pid_program(offsetof("task_struct", "pid")))
    assert create_iter_link(it, pid=700).read_all() == b"700\n650\n710\ndone\n"
    assert create_iter_link(it, tid=710).read_all() == b"710\ndone\n"
    assert create_iter_link(it, pid=710).read_all() == b"done\n"  # a thread is no process


def test_sockmap_walks_every_slot_with_its_socket() -> None:
    text = _sock_walk(
        "sockmap", 4, [((1).to_bytes(4, "little"), 2), ((3).to_bytes(4, "little"), 10)]
    )
    assert text == "0 0\n1 2\n2 0\n3 10\ndone\n"


def test_sockhash_walks_its_elements_by_bucket() -> None:
    from pybpf.maps.jhash import jhash

    keys = [k.to_bytes(8, "little") for k in (5, 6, 7)]
    text = _sock_walk("sockhash", 8, [(k, 10) for k in keys])
    order = sorted(keys, key=lambda k: jhash(k, 0) & 3)  # four buckets; one element each here
    if len({jhash(k, 0) & 3 for k in keys}) == len(keys):
        assert text == "".join(f"{int.from_bytes(k[:4], 'little')} 10\n" for k in order) + "done\n"
    assert sorted(text.splitlines()[:-1]) == ["5 10", "6 10", "7 10"]


def test_sockmap_link_refuses_other_maps_and_short_keys() -> None:
    from pybpf.errors import BpfError
    from pybpf.iter import create_iter_link
    from pybpf.kernel.state import Kernel
    from pybpf.maps.types import MapSpec, MapType

    kernel = Kernel(num_cpus=1, seed=0)
    it = _iter_prog(kernel, "sockmap", "r2 = *(u64 *)(r1 + 16)\nif r2 == 0 goto +1\n"
                    "r0 = *(u64 *)(r2 + 0)\nr0 = 0\nexit\n")  # fmt: skip
    for spec, err in (
        (MapSpec(MapType.SOCKMAP, 4, 4, 2), 13),
        (MapSpec(MapType.ARRAY, 4, 4, 2), 22),
    ):
        with pytest.raises(BpfError) as exc:
            create_iter_link(it, kernel.create_map(spec))
        assert exc.value.errno == err
    create_iter_link(it, kernel.create_map(MapSpec(MapType.SOCKHASH, 8, 4, 2)))
