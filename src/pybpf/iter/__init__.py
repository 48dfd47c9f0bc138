"""BPF iterators: ``iter/<target>`` programs, their links and the text they produce.

* :func:`create_iter_link` binds a loaded iterator program to its target (for
  ``bpf_map_elem``, a map; too small a map is refused as the kernel refuses it);
* :meth:`IterLink.open` gives an :class:`IterFile` whose :meth:`~IterFile.read` is the
  kernel's ``bpf_seq_read``; :meth:`IterLink.read_all` is what ``cat`` of a pinned
  iterator prints;
* :mod:`.pins` keeps iterators pinned in pybpf's state directory for the command line.

Targets: ``bpf_map_elem`` (hash, array, per-CPU and LRU hash maps), ``bpf_map``,
``bpf_prog``, ``bpf_link``, ``task`` (the tasks of :func:`kernel_tasks`), ``sockmap``
(sockmap and sockhash), and ``tcp``, ``udp`` and ``unix`` (the kernel's sockets:
:func:`~pybpf.kernel.helpers.sockets.add_socket`, :func:`add_unix_socket`).
"""

from __future__ import annotations

from .link import AccessSizes, IterLink, create_iter_link, program_access_sizes
from .objects import TaskSpec, TaskTable, kernel_links, kernel_tasks, register_link
from .session import IterFile
from .socks import UnixSocket, add_unix_socket, unix_sockets
from .targets import ELEM_MAP_TYPES

__all__ = [
    "ELEM_MAP_TYPES",
    "AccessSizes",
    "IterFile",
    "IterLink",
    "TaskSpec",
    "TaskTable",
    "UnixSocket",
    "add_unix_socket",
    "create_iter_link",
    "kernel_links",
    "kernel_tasks",
    "program_access_sizes",
    "register_link",
    "unix_sockets",
]
