"""Iterator programs of the ``bpf_prog``, ``bpf_link``, ``task``, ``sockmap`` and socket
(``tcp``, ``udp``, ``unix``) targets, run on pybpf and on the running kernel (the machinery of :mod:`.harness`).

The programs only read members that sit at the same offsets in pybpf's kernel BTF and
the kernel's (``bpf_prog.type``, ``bpf_link.id``, ``task_struct.thread_info.flags``,
``sock_common.skc_family``), so that the verifier's answers can be compared without
CO-RE; what they print does not depend on the kernel's own programs, links and tasks
(only the final call prints), except for the sockmap, whose slots both sides fill alike.
``python -m tests.iter.targets_harness`` writes ``tests/data/iter/targets_kernel.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from .harness import _SEQ, Case, MapCase, _fmt, kernel_possible_cpus, run_kernel

DATA = Path(__file__).resolve().parents[1] / "data" / "iter" / "targets_kernel.json"

_DONE = (
    _fmt("done\n", -16)
    + "r1 = r6\nr2 = r10\nr2 += -16\nr3 = 8\nr4 = 0\nr5 = 0\ncall 126\nr0 = 0\nexit\n"
)


def _read_then_done(load: str) -> str:
    """Per object: ``load`` through r2 (the object, NULL-checked); at the end: done."""
    return (_SEQ + "r2 = *(u64 *)(r1 + 8)\nif r2 == 0 goto end\n" + load
            + "r0 = 0\nexit\nend:\n" + _DONE)  # fmt: skip


# per slot: "<index> <sk is NULL ? 0 : family>\n"; at the end: done
_SOCKMAP_PRINT = (
    _SEQ + "r7 = *(u64 *)(r1 + 16)\nr8 = *(u64 *)(r1 + 24)\nif r7 == 0 goto end\n"
    "r3 = *(u32 *)(r7 + 0)\n*(u64 *)(r10 - 32) = r3\nr3 = 0\n"
    "if r8 == 0 goto nosk\nr3 = *(u16 *)(r8 + 16)\nnosk:\n*(u64 *)(r10 - 24) = r3\n"
    + _fmt("%u %u\n", -16)
    + "r1 = r6\nr2 = r10\nr2 += -16\nr3 = 8\nr4 = r10\nr4 += -32\nr5 = 16\ncall 126\n"
    "r0 = 0\nexit\nend:\n" + _DONE
)

SOCKMAP3 = MapCase("sockmap", 4, 4, 3)
SOCKHASH = MapCase("sockhash", 8, 4, 4)
HASH = MapCase("hash", 4, 4, 4)

CASES: tuple[Case, ...] = (
    Case("prog_read_type", _read_then_done("r0 = *(u32 *)(r2 + 4)\n"), target="bpf_prog"),
    Case("prog_unchecked", "r2 = *(u64 *)(r1 + 8)\nr0 = *(u32 *)(r2 + 4)\nr0 = 0\nexit\n",
         target="bpf_prog"),
    Case("prog_write", "r2 = *(u64 *)(r1 + 8)\nif r2 == 0 goto +1\n*(u32 *)(r2 + 4) = 1\nr0 = 0\nexit\n",
         target="bpf_prog"),
    Case("prog_ctx_narrow", "r2 = *(u32 *)(r1 + 8)\nr0 = 0\nexit\n", target="bpf_prog"),
    Case("prog_ctx_past_args", "r2 = *(u64 *)(r1 + 16)\nr0 = 0\nexit\n", target="bpf_prog"),
    Case("prog_ctx_write", "*(u64 *)(r1 + 8) = 0\nr0 = 0\nexit\n", target="bpf_prog"),
    Case("prog_past_struct", _read_then_done("r0 = *(u64 *)(r2 + 4096)\n"), target="bpf_prog"),
    Case("link_read_id", _read_then_done("r0 = *(u32 *)(r2 + 8)\n"), target="bpf_link"),
    Case("link_unchecked", "r2 = *(u64 *)(r1 + 8)\nr0 = *(u32 *)(r2 + 8)\nr0 = 0\nexit\n",
         target="bpf_link"),
    Case("link_ctx_past_args", "r2 = *(u64 *)(r1 + 16)\nr0 = 0\nexit\n", target="bpf_link"),
    Case("task_read_flags", _read_then_done("r0 = *(u64 *)(r2 + 0)\n"), target="task"),
    Case("task_unchecked", "r2 = *(u64 *)(r1 + 8)\nr0 = *(u64 *)(r2 + 0)\nr0 = 0\nexit\n",
         target="task"),
    Case("task_write", "r2 = *(u64 *)(r1 + 8)\nif r2 == 0 goto +1\n*(u64 *)(r2 + 0) = 1\nr0 = 0\nexit\n",
         target="task"),
    Case("task_ctx_narrow", "r2 = *(u16 *)(r1 + 8)\nr0 = 0\nexit\n", target="task"),
    Case("task_ptr_arith_unchecked",
         "r2 = *(u64 *)(r1 + 8)\nr2 += 8\nr0 = 0\nexit\n", target="task"),
    Case("sockmap_print_empty", _SOCKMAP_PRINT, SOCKMAP3, target="sockmap"),
    Case("sockhash_print_empty", _SOCKMAP_PRINT, SOCKHASH, target="sockmap"),
    Case("sockmap_key_8_too_small",
         "r2 = *(u64 *)(r1 + 16)\nif r2 == 0 goto +1\nr0 = *(u64 *)(r2 + 0)\nr0 = 0\nexit\n",
         SOCKMAP3, target="sockmap"),
    Case("sockhash_key_8_fits",
         "r2 = *(u64 *)(r1 + 16)\nif r2 == 0 goto +1\nr0 = *(u64 *)(r2 + 0)\nr0 = 0\nexit\n",
         SOCKHASH, target="sockmap"),
    Case("sockmap_key_write",
         "r2 = *(u64 *)(r1 + 16)\nif r2 == 0 goto +1\n*(u32 *)(r2 + 0) = 1\nr0 = 0\nexit\n",
         SOCKMAP3, target="sockmap"),
    Case("sockmap_key_unchecked", "r2 = *(u64 *)(r1 + 16)\nr0 = *(u32 *)(r2 + 0)\nr0 = 0\nexit\n",
         SOCKMAP3, target="sockmap"),
    Case("sockmap_sk_unchecked", "r2 = *(u64 *)(r1 + 24)\nr0 = *(u16 *)(r2 + 16)\nr0 = 0\nexit\n",
         SOCKMAP3, target="sockmap"),
    Case("sockmap_sk_write",
         "r2 = *(u64 *)(r1 + 24)\nif r2 == 0 goto +1\n*(u16 *)(r2 + 16) = 1\nr0 = 0\nexit\n",
         SOCKMAP3, target="sockmap"),
    Case("sockmap_ctx_past_args", "r2 = *(u64 *)(r1 + 32)\nr0 = 0\nexit\n", SOCKMAP3,
         target="sockmap"),
    Case("sockmap_on_hash_map", "r0 = 0\nexit\n", HASH, target="sockmap"),
    Case("sockmap_no_map", "r0 = 0\nexit\n", None, target="sockmap"),
    Case("sockmap_map_read",
         "r2 = *(u64 *)(r1 + 8)\nr0 = *(u32 *)(r2 + 0)\nr0 = 0\nexit\n", SOCKMAP3, target="sockmap"),
    # the socket targets: the object at ctx+8 (sock_common's skc_family at 16 on both
    # sides), scalar uid (and UDP bucket) slots after it
    *(Case(f"{t}_read_family", _read_then_done("r0 = *(u16 *)(r2 + 16)\n"), target=t)
      for t in ("tcp", "udp", "unix")),
    *(Case(f"{t}_unchecked", "r2 = *(u64 *)(r1 + 8)\nr0 = *(u16 *)(r2 + 16)\nr0 = 0\nexit\n",
           target=t) for t in ("tcp", "udp", "unix")),
    Case("tcp_write",
         "r2 = *(u64 *)(r1 + 8)\nif r2 == 0 goto +1\n*(u16 *)(r2 + 16) = 1\nr0 = 0\nexit\n",
         target="tcp"),
    Case("unix_write",
         "r2 = *(u64 *)(r1 + 8)\nif r2 == 0 goto +1\n*(u16 *)(r2 + 16) = 1\nr0 = 0\nexit\n",
         target="unix"),
    Case("tcp_uid_narrow", "r2 = *(u32 *)(r1 + 16)\nr0 = 0\nexit\n", target="tcp"),
    Case("tcp_uid_wide", "r2 = *(u64 *)(r1 + 16)\nr2 += 1\nr0 = 0\nexit\n", target="tcp"),
    Case("tcp_ctx_past_args", "r2 = *(u64 *)(r1 + 24)\nr0 = 0\nexit\n", target="tcp"),
    Case("udp_bucket", "r2 = *(u32 *)(r1 + 24)\nr0 = 0\nexit\n", target="udp"),
    Case("udp_ctx_past_args", "r2 = *(u64 *)(r1 + 32)\nr0 = 0\nexit\n", target="udp"),
    Case("unix_ctx_past_args", "r2 = *(u64 *)(r1 + 24)\nr0 = 0\nexit\n", target="unix"),
    Case("unix_ctx_write", "*(u64 *)(r1 + 16) = 0\nr0 = 0\nexit\n", target="unix"),
)  # fmt: skip


# --- task iterators restricted to a thread or a process (iter_info.task) -------------------

TASK_FILTERS: dict[str, tuple[int, int]] = {
    "tid_2": (2, 0),
    "pid_2": (0, 2),
    "tid_missing": (0x3FFFFFF0, 0),
    "pid_missing": (0, 0x3FFFFFF0),
    "tid_and_pid": (1, 1),
}
"""(tid, pid): kthreadd is pid 2 in every kernel and has no other thread (pid 1 is not
compared: the init of the VM the answers were recorded on does not show as a plain
task)."""


def _task_pid_program(pid_offset: int) -> str:
    """Per task: its pid; at the end: done."""
    return (_SEQ + "r2 = *(u64 *)(r1 + 8)\nif r2 == 0 goto end\n"
            f"r3 = *(s32 *)(r2 + {pid_offset})\n*(u64 *)(r10 - 24) = r3\n" + _fmt("%d\n", -16)
            + "r1 = r6\nr2 = r10\nr2 += -16\nr3 = 8\nr4 = r10\nr4 += -24\nr5 = 8\ncall 126\n"
            "r0 = 0\nexit\nend:\n" + _DONE)  # fmt: skip


def task_filter_pybpf(tid: int, pid: int) -> dict[str, Any]:
    from pybpf.errors import BpfError
    from pybpf.isa import assemble
    from pybpf.iter import create_iter_link
    from pybpf.kernel.progtypes import AttachType, ProgType
    from pybpf.kernel.state import Kernel
    from pybpf.kernel.vmlinux import offsetof
    from pybpf.program import load_program
    from pybpf.verifier.env import Options

    kernel = Kernel(num_cpus=1, seed=0)
    prog = load_program(assemble(_task_pid_program(offsetof("task_struct", "pid"))),
                        ProgType.TRACING, kernel=kernel, expected_attach_type=AttachType.TRACE_ITER,
                        options=Options(attach_btf_name="bpf_iter_task"))  # fmt: skip
    try:
        link = create_iter_link(prog, tid=tid, pid=pid)
    except BpfError as exc:
        return {"link_errno": exc.errno, "output": None}
    return {"link_errno": 0, "output": link.read_all().decode()}


def task_filter_kernel(tid: int, pid: int) -> dict[str, Any]:
    import ctypes

    from pybpf.btf import Kind, load_vmlinux
    from pybpf.btf.resolve import find_member
    from pybpf.isa import assemble
    from pybpf.kernel.progtypes import AttachType, ProgType
    from pybpf.oracle import log_message
    from pybpf.oracle.progs import prog_load
    from pybpf.oracle.syscall import close, sys_bpf
    from pybpf.oracle.uapi import Cmd

    from .harness import _IterCreateAttr, _LinkCreateAttr, _vmlinux_func

    btf = load_vmlinux()
    task = btf.find_by_name_kind("task_struct", Kind.STRUCT)
    member = find_member(btf, int(task or 0), "pid")
    if member is None:
        raise RuntimeError("the running kernel's task_struct has no pid")
    res = prog_load(ProgType.TRACING, assemble(_task_pid_program(member.bit_offset // 8)), "GPL",
                    int(AttachType.TRACE_ITER), attach_btf_id=_vmlinux_func("bpf_iter_task"))  # fmt: skip
    if res.fd is None:
        raise RuntimeError(f"the kernel refused the task program: {log_message(res.log)}")
    try:
        info = (ctypes.c_uint32 * 4)(tid, pid, 0, 0)
        attr = _LinkCreateAttr(
            res.fd, 0, int(AttachType.TRACE_ITER), 0, ctypes.addressof(info), 16, 0
        )
        link_fd = sys_bpf(Cmd.LINK_CREATE, attr)
        if link_fd < 0:
            return {"link_errno": -link_fd, "output": None}
        try:
            it = sys_bpf(Cmd.ITER_CREATE, _IterCreateAttr(link_fd, 0))
            chunks = []
            while data := os.read(it, 4096):
                chunks.append(data)
            os.close(it)
        finally:
            close(link_fd)
    finally:
        close(res.fd)
    return {"link_errno": 0, "output": b"".join(chunks).decode()}


# --- sleepable programs: only targets that may reschedule take them --------------------

SLEEPABLE_TARGETS: dict[str, MapCase | None] = {
    "bpf_prog": None, "bpf_link": None, "task": None, "bpf_map": None, "sockmap": SOCKMAP3,
    "tcp": None, "udp": None, "unix": None,
}  # fmt: skip
BPF_F_SLEEPABLE = 1 << 4


def sleepable_pybpf(target: str) -> int | None:
    """The link's errno for a sleepable ``r0 = 0`` program of ``target`` (None: the load
    failed)."""
    from pybpf.errors import BpfError
    from pybpf.isa import assemble
    from pybpf.iter import create_iter_link
    from pybpf.kernel.progtypes import AttachType, ProgType
    from pybpf.kernel.state import Kernel
    from pybpf.maps.types import MapSpec, MapType
    from pybpf.program import ProgramRejected, load_program
    from pybpf.verifier.env import Options

    kernel = Kernel(num_cpus=1, seed=0)
    try:
        prog = load_program(assemble("r0 = 0\nexit\n"), ProgType.TRACING, kernel=kernel,
                            expected_attach_type=AttachType.TRACE_ITER,
                            options=Options(attach_btf_name="bpf_iter_" + target, sleepable=True))  # fmt: skip
    except ProgramRejected:
        return None
    mc = SLEEPABLE_TARGETS[target]
    m = None
    if mc is not None:
        m = kernel.create_map(MapSpec(MapType[mc.type.upper()], mc.key_size, mc.value_size,
                                      mc.max_entries))  # fmt: skip
    try:
        create_iter_link(prog, m)
    except BpfError as exc:
        return exc.errno
    return 0


def sleepable_kernel(target: str) -> int | None:
    import ctypes

    from pybpf.isa import assemble
    from pybpf.kernel.progtypes import AttachType, ProgType
    from pybpf.maps.types import MapType
    from pybpf.oracle.maps import map_create
    from pybpf.oracle.progs import prog_load
    from pybpf.oracle.syscall import close, sys_bpf
    from pybpf.oracle.uapi import Cmd

    from .harness import _LinkCreateAttr, _vmlinux_func

    res = prog_load(ProgType.TRACING, assemble("r0 = 0\nexit\n"), "GPL", int(AttachType.TRACE_ITER),
                    prog_flags=BPF_F_SLEEPABLE, attach_btf_id=_vmlinux_func("bpf_iter_" + target))  # fmt: skip
    if res.fd is None:
        return None
    fds = [res.fd]
    try:
        mc = SLEEPABLE_TARGETS[target]
        map_fd = 0
        if mc is not None:
            map_fd = map_create(
                MapType[mc.type.upper()], mc.key_size, mc.value_size, mc.max_entries
            )
            fds.append(map_fd)
        info = (ctypes.c_uint32 * 4)(map_fd, 0, 0, 0)
        attr = _LinkCreateAttr(
            res.fd, 0, int(AttachType.TRACE_ITER), 0, ctypes.addressof(info), 16, 0
        )
        link_fd = sys_bpf(Cmd.LINK_CREATE, attr)
        if link_fd < 0:
            return -link_fd
        close(link_fd)
        return 0
    finally:
        for fd in reversed(fds):
            close(fd)


def record() -> dict[str, Any]:
    return {"kernel": os.uname().release, "possible_cpus": kernel_possible_cpus(),
            "cases": {c.name: run_kernel(c) for c in CASES},
            "task_filters": {n: task_filter_kernel(*f) for n, f in TASK_FILTERS.items()},
            "sleepable": {t: sleepable_kernel(t) for t in SLEEPABLE_TARGETS}}  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    rec = record()
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n")
    print(f"{len(rec['cases'])} cases written to {DATA}", file=sys.stderr)
