"""The iterator targets' attach functions: ``bpf_iter_<target>`` for each target pybpf
runs.  An ``iter/<target>`` program names one of these as its attach BTF id, and the
function's parameters are the slots of the program's context.

The context structs themselves (``bpf_iter_meta``, ``bpf_iter__bpf_map_elem`` ...) are
declared with the BPF subsystem's objects in :mod:`.bpf`.
"""

from __future__ import annotations

from ...iter_targets import iter_func_decls

DECLS = iter_func_decls()
