"""The struct_ops types pybpf's kernel has, by name and by value type id, and the
per-kernel state of the subsystems they register with."""

from __future__ import annotations

import errno
import weakref
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import BpfError
from ..kernel.vmlinux import struct_id
from ..maps.struct_ops import KernelOps, StructOpsType
from ..maps.types import ENOTSUPP
from .layout import value_layout


class BtfOpsType(StructOpsType):
    """A struct_ops type whose layout and ids come from pybpf's kernel BTF."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.type_id = struct_id(name)
        self.value_type_id = struct_id(f"bpf_struct_ops_{name}")
        self.layout = value_layout(name)

    def member_index(self, member: str) -> int:
        for m in self.layout.members:
            if m.name == member:
                return m.index
        raise BpfError(errno.EINVAL, f"struct {self.name} has no member {member}")


@dataclass
class NamedOpsList:
    """A subsystem's list of ops registered by name (``tcp_cong_list`` and the like):
    the built-in names are taken, and a name is registered once."""

    builtin: ClassVar[tuple[str, ...]] = ()
    what: ClassVar[str] = "ops"
    registered: dict[str, KernelOps] = field(default_factory=dict)

    def names(self) -> list[str]:
        return [*self.builtin, *self.registered]

    def find(self, name: str) -> KernelOps | None:
        return self.registered.get(name)

    def add(self, kops: KernelOps) -> None:
        if kops.name in self.builtin or kops.name in self.registered:
            raise BpfError(errno.EEXIST, f"{self.what} {kops.name} is already registered")
        self.registered[kops.name] = kops

    def remove(self, kops: KernelOps) -> None:
        if self.registered.get(kops.name) is kops:
            del self.registered[kops.name]


_TYPES: dict[str, BtfOpsType] = {}


def register_type(t: BtfOpsType) -> BtfOpsType:
    _TYPES[t.name] = t
    return t


def struct_ops_types() -> dict[str, BtfOpsType]:
    from . import tcp_ca  # noqa: F401  (types register on import)
    from .cache import ops  # noqa: F401

    return dict(_TYPES)


def ops_type(name: str) -> BtfOpsType:
    t = struct_ops_types().get(name)
    if t is None:
        raise BpfError(ENOTSUPP, f"pybpf's kernel has no struct_ops type {name}")
    return t


def ops_type_by_value_id(value_type_id: int) -> BtfOpsType | None:
    return next((t for t in struct_ops_types().values() if t.value_type_id == value_type_id), None)


def ops_type_by_id(type_id: int) -> BtfOpsType | None:
    return next((t for t in struct_ops_types().values() if t.type_id == type_id), None)


_SUBSYSTEMS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def subsystem_state(kernel: Any, name: str, factory: Any) -> Any:
    """The state one subsystem keeps in ``kernel`` (made by ``factory()`` on first use)."""
    per = _SUBSYSTEMS.setdefault(kernel, {})
    if name not in per:
        per[name] = factory()
    return per[name]
