"""The kernel objects the ``bpf_prog``, ``bpf_link`` and ``task`` iterators hand out.

A program of those targets gets a ``struct bpf_prog``, ``struct bpf_link`` or
``struct task_struct`` pointer and reads it by pybpf's kernel BTF, so each loaded
program, link and simulated task gets such an object (made on first use and kept with
it), filled with what pybpf knows: ids, types, names, reference counts.

pybpf's kernel keeps programs and maps by id but no links or tasks, so this module
keeps them per kernel: links register when they are made (:func:`register_link`; the
iterator links do), and every kernel starts with a small task table (:class:`TaskTable`:
``init``, ``kthreadd`` and the process running pybpf) to which tests may add tasks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from ..kernel.vmlinux import KObject, alloc_object

BPF_LINK_TYPE_ITER = 4
PF_KTHREAD = 0x00200000
TASK_INTERRUPTIBLE = 1

_LINKS: WeakKeyDictionary[Any, dict[int, Any]] = WeakKeyDictionary()
_TASKS: WeakKeyDictionary[Any, TaskTable] = WeakKeyDictionary()


# --- programs -----------------------------------------------------------------------------


def program_sleepable(prog: Any) -> bool:
    """Loaded with ``BPF_F_SLEEPABLE`` (what an ``iter.s/``, ``lsm.s/``... section asks
    for)."""
    env = getattr(getattr(prog, "verified", None), "env", None)
    if env is not None and getattr(getattr(env, "options", None), "sleepable", False):
        return True
    section = str(prog.info.get("section", "")) if hasattr(prog, "info") else ""
    return section.partition("/")[0].endswith(".s")


def prog_object(prog: Any) -> KObject:
    """``prog``'s ``struct bpf_prog`` (with its ``bpf_prog_aux``), current."""
    obj = prog.info.get("bpf_prog_object")
    if not isinstance(obj, KObject):
        aux = alloc_object("bpf_prog_aux", name="bpf_prog_aux", owner=prog)
        obj = alloc_object("bpf_prog", name="bpf_prog", owner=prog, aux=aux.address)
        aux.update(prog=obj.address)
        prog.info["bpf_prog_object"] = obj
        prog.info["bpf_prog_aux_object"] = aux
    aux = prog.info["bpf_prog_aux_object"]
    obj.update(type=int(prog.prog_type), expected_attach_type=int(prog.expected_attach_type or 0),
               len=len(prog.xlated), jited=1, gpl_compatible=1)  # fmt: skip
    aux.update(id=int(prog.id), used_map_cnt=len(prog.maps), sleepable=int(program_sleepable(prog)))
    aux.set("refcnt.counter", 1)
    name = (prog.name or "").encode()[:15]
    off = aux.info("name").byte_offset
    aux.region.buf[off : off + 16] = name.ljust(16, b"\0")
    return obj


# --- links --------------------------------------------------------------------------------


def register_link(kernel: Any, link: Any) -> None:
    """Make ``link`` (with its ``id``) visible to the ``bpf_link`` iterator."""
    _LINKS.setdefault(kernel, {})[int(link.id)] = link


def unregister_link(kernel: Any, link: Any) -> None:
    _LINKS.get(kernel, {}).pop(int(link.id), None)


def kernel_links(kernel: Any) -> dict[int, Any]:
    """The kernel's links by id."""
    return _LINKS.get(kernel, {})


def link_object(link: Any) -> KObject:
    """``link``'s ``struct bpf_link``."""
    obj = getattr(link, "kobject", None)
    if not isinstance(obj, KObject):
        obj = alloc_object("bpf_link", name="bpf_link", owner=link)
        link.kobject = obj
    prog = getattr(link, "prog", None)
    attach = getattr(prog, "expected_attach_type", None) if prog is not None else None
    # Links without a program (struct_ops) carry their own type and attach type.
    link_type = int(getattr(link, "link_type", BPF_LINK_TYPE_ITER))
    attach = getattr(link, "attach_type", attach)
    obj.update(id=int(link.id), type=link_type, attach_type=int(attach or 0),
               prog=prog_object(prog).address if prog is not None else 0)  # fmt: skip
    obj.set("refcnt.counter", 1)
    return obj


# --- tasks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskSpec:
    pid: int
    tgid: int
    comm: str
    kthread: bool = False


class TaskTable:
    """The simulated kernel's tasks by pid, each a ``struct task_struct``."""

    def __init__(self, specs: tuple[TaskSpec, ...] = ()) -> None:
        self.tasks: dict[int, KObject] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: TaskSpec) -> KObject:
        """A new task (a thread when ``tgid`` names another task's pid)."""
        task = alloc_object("task_struct", name=f"task {spec.pid}", pid=spec.pid, tgid=spec.tgid,
                            comm=spec.comm[:15], flags=PF_KTHREAD if spec.kthread else 0)  # fmt: skip
        task.update({"__state": TASK_INTERRUPTIBLE})
        task.set("usage.refs.counter", 1)
        leader = self.tasks.get(spec.tgid, task)
        task.update(group_leader=leader.address, real_parent=self.tasks.get(1, task).address,
                    parent=self.tasks.get(1, task).address)  # fmt: skip
        self.tasks[spec.pid] = task
        return task

    def by_pid(self) -> list[tuple[int, KObject]]:
        return sorted(self.tasks.items())


def _default_specs(kernel: Any) -> tuple[TaskSpec, ...]:
    comm = str(getattr(getattr(kernel, "trace", None), "comm", "") or "python")
    me = os.getpid()
    specs = [TaskSpec(1, 1, "init"), TaskSpec(2, 2, "kthreadd", kthread=True)]
    if me > 2:
        specs.append(TaskSpec(me, me, comm))
    return tuple(specs)


def kernel_tasks(kernel: Any) -> TaskTable:
    """``kernel``'s task table (made with the default tasks on first use)."""
    table = _TASKS.get(kernel)
    if table is None:
        table = _TASKS[kernel] = TaskTable(_default_specs(kernel))
    return table
