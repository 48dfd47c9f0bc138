"""BPF iterators: ``iter/<target>`` programs, their links and the text they produce.

* :func:`create_iter_link` binds a loaded iterator program to its target (for
  ``bpf_map_elem``, a map; too small a map is refused as the kernel refuses it);
* :meth:`IterLink.open` gives an :class:`IterFile` whose :meth:`~IterFile.read` is the
  kernel's ``bpf_seq_read``; :meth:`IterLink.read_all` is what ``cat`` of a pinned
  iterator prints;
* :mod:`.pins` keeps iterators pinned in pybpf's state directory for the command line.

Targets: ``bpf_map_elem`` (hash, array, per-CPU and LRU hash maps) and ``bpf_map``.
"""

from __future__ import annotations

from .link import AccessSizes, IterLink, create_iter_link, program_access_sizes
from .session import IterFile
from .targets import ELEM_MAP_TYPES

__all__ = [
    "ELEM_MAP_TYPES",
    "AccessSizes",
    "IterFile",
    "IterLink",
    "create_iter_link",
    "program_access_sizes",
]
