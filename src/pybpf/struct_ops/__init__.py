"""struct_ops: BPF programs implementing a kernel subsystem's ops struct.

* :mod:`.registry` the types pybpf's kernel has (``tcp_congestion_ops`` and pybpf's
  own ``pybpf_cache_ops``), built from the kernel BTF;
* :mod:`.prog` loading a program for one ops member; :mod:`.call` calling it;
* :func:`create_map` a ``BPF_MAP_TYPE_STRUCT_OPS`` map of a type (see
  :mod:`pybpf.maps.struct_ops` for the update/lookup/delete rules);
* :mod:`.tcp` the TCP congestion-control subsystem: a simulated bottleneck link with
  connections driven by the registered ops, and reference algorithms.
"""

from __future__ import annotations

from typing import Any

from ..kernel.state import Kernel, default_kernel
from ..maps.struct_ops import (
    BPF_F_LINK,
    KernelOps,
    StructOpsMap,
    StructOpsState,
    create_struct_ops_map,
)
from .prog import load_struct_ops_program
from .registry import ops_type, ops_type_by_value_id, struct_ops_types


def create_map(ops: str, *, kernel: Kernel | None = None, name: str = "", flags: int = 0,
               **kw: Any) -> StructOpsMap:  # fmt: skip
    """A struct_ops map for the type ``ops`` (``btf_vmlinux_value_type_id`` of
    ``bpf_struct_ops_<ops>``)."""
    k = kernel or default_kernel()
    return create_struct_ops_map(ops_type(ops), k, name=name, flags=flags, num_cpus=k.num_cpus, **kw)


def create_map_by_value_id(value_type_id: int, *, kernel: Kernel | None = None, **kw: Any) -> StructOpsMap:
    k = kernel or default_kernel()
    if not value_type_id:
        from ..errors import BpfError

        raise BpfError(22, "struct_ops maps need btf_vmlinux_value_type_id")
    return create_struct_ops_map(ops_type_by_value_id(value_type_id), k, num_cpus=k.num_cpus, **kw)


__all__ = [
    "BPF_F_LINK",
    "KernelOps",
    "StructOpsMap",
    "StructOpsState",
    "create_map",
    "create_map_by_value_id",
    "load_struct_ops_program",
    "ops_type",
    "struct_ops_types",
]
