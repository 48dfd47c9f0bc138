"""Iterator links: a loaded ``iter/<target>`` program bound to what it walks.

Creating the link is where a map-element program meets its map: the verifier recorded
the furthest byte the program reads through the key and reads or writes through the
value, and a map whose keys or values are shorter is refused (EACCES), as the kernel's
``bpf_iter_attach_map`` does.  A per-CPU map's value counts as every CPU's value.
The checks come in the kernel's order: the program must be an iterator (EINVAL), its
target known (ENOENT), a sleepable program needs a target that may reschedule (only
``task`` of pybpf's: not the socket targets either; EINVAL otherwise),
then the target's own checks (no map: EBADF; a map it cannot walk: EINVAL; too small:
EACCES).  Links register with their kernel, so that a ``bpf_link`` iterator lists them.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Any

from ..errors import BpfError
from ..kernel.iter_targets import IterTarget, iter_target
from ..kernel.progtypes import AttachType, ProgType
from .objects import program_sleepable, register_link, unregister_link
from .session import IterFile
from .targets import PERCPU_TYPES, check_elem_map, check_sock_map, percpu_value_size


@dataclass(frozen=True)
class AccessSizes:
    """The furthest offsets the verifier saw through the key and value buffers."""

    rdonly: int = 0
    rdwr: int = 0


def program_access_sizes(prog: Any) -> AccessSizes:
    env = getattr(getattr(prog, "verified", None), "env", None)
    if env is None:
        return AccessSizes()
    return AccessSizes(int(env.max_rdonly_access), int(env.max_rdwr_access))


def program_target(prog: Any) -> str:
    """The target a loaded program attaches to: what its section or its verification
    named (``bpf_map_elem`` for ``SEC("iter/bpf_map_elem")``)."""
    env = getattr(getattr(prog, "verified", None), "env", None)
    name = getattr(getattr(env, "options", None), "attach_btf_name", "") if env else ""
    if name:
        return str(name)
    section = str(prog.info.get("section", "")) if hasattr(prog, "info") else ""
    return section.partition("/")[2]


@dataclass(eq=False)
class IterLink:
    """``BPF_LINK_TYPE_ITER``: reading it (:meth:`open`) runs the program over the
    target's objects."""

    prog: Any
    target: IterTarget
    map: Any = None
    id: int = 0
    task_tid: int = 0
    """A task iterator over one thread (``iter_info.task.tid``)."""
    task_pid: int = 0
    """A task iterator over one process's threads (``iter_info.task.pid``)."""
    sessions: int = field(default=0, repr=False)

    @property
    def kernel(self) -> Any:
        return self.prog.kernel

    def open(self) -> IterFile:
        """A new iterator file (``BPF_ITER_CREATE``): each one walks from the start."""
        self.sessions += 1
        return IterFile(self, self.sessions)

    def read_all(self, chunk: int = 1 << 17) -> bytes:
        """Everything a reader gets from a fresh iterator file (``cat``)."""
        f = self.open()
        try:
            return f.read_all(chunk)
        finally:
            f.close()

    def close(self) -> None:
        """The last reference to the link goes: the ``bpf_link`` iterator no longer
        shows it."""
        unregister_link(self.kernel, self)


def create_iter_link(prog: Any, map: Any = None, target: str | None = None, *, tid: int = 0,
                     pid: int = 0) -> IterLink:  # fmt: skip
    """``BPF_LINK_CREATE`` for an iterator program (``map``: ``iter_info.map``; ``tid``
    or ``pid``: ``iter_info.task`` for the ``task`` target)."""
    if prog.prog_type != ProgType.TRACING or prog.expected_attach_type != AttachType.TRACE_ITER:
        raise BpfError(errno.EINVAL, f"program {prog.name or prog.id} is not an iterator "
                       "(SEC(\"iter/<target>\"))")  # fmt: skip
    name = target or program_target(prog)
    tinfo = iter_target(name) if name else None
    if tinfo is None:
        raise BpfError(errno.ENOENT, f"no iterator target {name!r}")
    if program_sleepable(prog) and not tinfo.resched:
        raise BpfError(errno.EINVAL, f"the {tinfo.name} iterator cannot run sleepable programs")
    if tinfo.name == "sockmap":
        _attach_sock_map(prog, map)
    elif tinfo.needs_map:
        _attach_map(prog, map)
    elif tinfo.name == "task" and tid and pid:
        raise BpfError(errno.EINVAL, "a task iterator takes a tid or a pid, not both")
    is_task = tinfo.name == "task"
    link = IterLink(prog, tinfo, map if tinfo.needs_map else None,
                    task_tid=tid if is_task else 0, task_pid=pid if is_task else 0)  # fmt: skip
    link.id = prog.kernel.new_id("link")
    register_link(prog.kernel, link)
    return link


def _attach_sock_map(prog: Any, m: Any) -> None:
    """``sock_map_iter_attach_target``: a sockmap or sockhash whose keys are as long as
    what the program reads through the key."""
    if m is None:
        raise BpfError(errno.EBADF, "a sockmap iterator needs a map")
    check_sock_map(m)
    acc = program_access_sizes(prog)
    if acc.rdonly > m.spec.key_size:
        raise BpfError(errno.EACCES, f"map {m.spec.name or m.id} is too small for the program: it "
                       f"reads {acc.rdonly} key bytes (key_size {m.spec.key_size})")  # fmt: skip


def _attach_map(prog: Any, m: Any) -> None:
    if m is None:
        raise BpfError(errno.EBADF, "a map element iterator needs a map")
    check_elem_map(m)
    acc = program_access_sizes(prog)
    key_size = m.spec.key_size
    value_size = percpu_value_size(m) if m.spec.type in PERCPU_TYPES else m.spec.value_size
    if acc.rdonly > key_size or acc.rdwr > value_size:
        raise BpfError(errno.EACCES, f"map {m.spec.name or m.id} is too small for the program: it "
                       f"reads {acc.rdonly} key bytes (key_size {key_size}) and uses "
                       f"{acc.rdwr} value bytes (value size {value_size})")  # fmt: skip
