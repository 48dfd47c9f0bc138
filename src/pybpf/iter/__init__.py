"""BPF iterators: ``iter/<target>`` programs, their links and the text they produce.

* :func:`create_iter_link` binds a loaded iterator program to its target (for
  ``bpf_map_elem``, a map; too small a map is refused as the kernel refuses it);
* :meth:`IterLink.open` gives an :class:`IterFile` whose :meth:`~IterFile.read` is the
  kernel's ``bpf_seq_read``; :meth:`IterLink.read_all` is what ``cat`` of a pinned
  iterator prints;
* :mod:`.pins` keeps iterators pinned in pybpf's state directory for the command line.

Targets: ``bpf_map_elem`` (hash, array, per-CPU and LRU hash maps), ``bpf_map``,
``bpf_prog``, ``bpf_link``, ``task`` (the tasks of :func:`kernel_tasks`) and ``sockmap``
(sockmap and sockhash).
"""

from __future__ import annotations

from .link import AccessSizes, IterLink, create_iter_link, program_access_sizes
from .objects import TaskSpec, TaskTable, kernel_links, kernel_tasks, register_link
from .session import IterFile
from .targets import ELEM_MAP_TYPES

__all__ = [
    "ELEM_MAP_TYPES",
    "AccessSizes",
    "IterFile",
    "IterLink",
    "TaskSpec",
    "TaskTable",
    "create_iter_link",
    "kernel_links",
    "kernel_tasks",
    "program_access_sizes",
    "register_link",
]
