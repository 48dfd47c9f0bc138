"""The ``pybpf_cache_ops`` type: a name, a mandatory ``score``, and the policies a
kernel has registered (the built-in ``lru`` and ``lfu`` names are taken)."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any

from ...errors import BpfError
from ...maps.struct_ops import KernelOps, OpsMember
from ...verifier.struct_ops_ctx import WRITABLE_FIELDS
from ..registry import BtfOpsType, NamedOpsList, register_type, subsystem_state
from ..tcp_ca import obj_name

BUILTIN_POLICIES = ("lru", "lfu")

WRITABLE_FIELDS["pybpf_cache_ops"] = {"pybpf_cache_entry": ("score", "data")}


@dataclass
class CachePolicies(NamedOpsList):
    builtin = BUILTIN_POLICIES
    what = "cache policy"


def cache_policies(kernel: Any) -> CachePolicies:
    state: CachePolicies = subsystem_state(kernel, "cache", CachePolicies)
    return state


class CacheOps(BtfOpsType):
    def __init__(self) -> None:
        super().__init__("pybpf_cache_ops")

    def init_member(self, member: OpsMember, udata: bytes, kops: KernelOps) -> bool:
        if member.name == "name":
            kops.data["name"] = obj_name(udata[member.offset : member.offset + member.size])
            return True
        return False

    def validate(self, kops: KernelOps) -> None:
        if "score" not in kops.programs:
            raise BpfError(errno.EINVAL, f"cache policy {kops.name} does not implement required score")

    def reg(self, kops: KernelOps, kernel: Any) -> None:
        cache_policies(kernel).add(kops)

    def unreg(self, kops: KernelOps, kernel: Any) -> None:
        cache_policies(kernel).remove(kops)


CACHE_OPS = register_type(CacheOps())
