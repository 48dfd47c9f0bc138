"""``tcp_congestion_ops`` as a struct_ops type: the rules of the kernel's ``bpf_tcp_ca``
(the name and flags members, the mandatory operations) and the list of congestion
controls a kernel has, into which a map update registers."""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass
from typing import Any

from ..errors import BpfError
from ..maps.struct_ops import KernelOps, OpsMember
from .registry import BtfOpsType, NamedOpsList, register_type, subsystem_state

TCP_CA_NAME_MAX = 16
TCP_CONG_MASK = 0x1F
"""The ``flags`` bits a congestion control may set (6.18: non-restricted, needs ECN,
needs AccECN, ECT(1) negotiation, no RFC 3168 fallback)."""
TCP_CONG_NEEDS_ECN = 0x2
BUILTIN_ALGORITHMS = ("reno", "cubic")
"""Congestion controls built into pybpf's kernel (Python references in
:mod:`pybpf.struct_ops.tcp`): a BPF one may not take their names."""
MANDATORY = ("ssthresh", "undo_cwnd")


def obj_name(raw: bytes) -> str:
    """``bpf_obj_name_cpy``: a NUL-terminated name of ``[A-Za-z0-9_.]``; EINVAL
    otherwise, and for an empty name."""
    end = raw.find(b"\0")
    if end < 0:
        raise BpfError(errno.EINVAL, "name is not NUL-terminated")
    name = raw[:end]
    if not name:
        raise BpfError(errno.EINVAL, "name is empty")
    if not all(chr(c).isascii() and (chr(c).isalnum() or chr(c) in "_.") for c in name):
        raise BpfError(errno.EINVAL, f"name {name!r} has a character other than [A-Za-z0-9_.]")
    return name.decode()


@dataclass
class TcpCongestionControls(NamedOpsList):
    """The kernel's list of congestion controls (``tcp_cong_list``)."""

    builtin = BUILTIN_ALGORITHMS
    what = "congestion control"


def tcp_congestion_controls(kernel: Any) -> TcpCongestionControls:
    state: TcpCongestionControls = subsystem_state(kernel, "tcp_ca", TcpCongestionControls)
    return state


class TcpCongestionOps(BtfOpsType):
    def __init__(self) -> None:
        super().__init__("tcp_congestion_ops")

    def init_member(self, member: OpsMember, udata: bytes, kops: KernelOps) -> bool:
        raw = udata[member.offset : member.offset + member.size]
        if member.name == "flags":
            flags = struct.unpack("<I", raw)[0]
            if flags & ~TCP_CONG_MASK:
                raise BpfError(errno.EINVAL, f"tcp_congestion_ops flags {flags:#x} outside {TCP_CONG_MASK:#x}")
            kops.data["flags"] = flags
            return True
        if member.name == "name":
            kops.data["name"] = obj_name(raw)
            return True
        return False

    def validate(self, kops: KernelOps) -> None:
        """``tcp_validate_congestion_control``."""
        for op in MANDATORY:
            if op not in kops.programs:
                raise BpfError(errno.EINVAL, f"{kops.name} does not implement required {op}")
        if "cong_avoid" not in kops.programs and "cong_control" not in kops.programs:
            raise BpfError(errno.EINVAL, f"{kops.name} implements neither cong_avoid nor cong_control")

    def reg(self, kops: KernelOps, kernel: Any) -> None:
        tcp_congestion_controls(kernel).add(kops)

    def unreg(self, kops: KernelOps, kernel: Any) -> None:
        tcp_congestion_controls(kernel).remove(kops)

    def update(self, new: KernelOps, old: KernelOps, kernel: Any) -> None:
        """``tcp_update_congestion_control``: same name, swapped in place."""
        cc = tcp_congestion_controls(kernel)
        if cc.registered.get(old.name) is not old:
            raise BpfError(errno.ENOENT, f"congestion control {old.name} is not registered")
        if new.name != old.name:
            raise BpfError(errno.EINVAL, "a link update must keep the congestion control's name")
        cc.registered[new.name] = new


TCP_CONGESTION_OPS = register_type(TcpCongestionOps())
