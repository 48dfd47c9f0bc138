"""Struct_ops links: a map created with ``BPF_F_LINK`` is registered by creating a link
on it (not by its update), unregistered by detaching or closing the link, and a link
update swaps in another READY map of the same type.

The link is one of the kernel's links from creation until it is closed, so the
``bpf_link`` iterator shows it (a detached link too: detaching only unregisters the ops,
the link itself lives on until its last reference goes)."""

from __future__ import annotations

import errno
from typing import Any

from ..errors import BpfError
from ..kernel.progtypes import AttachType
from ..maps.struct_ops import BPF_F_LINK, StructOpsMap, StructOpsState

BPF_LINK_TYPE_STRUCT_OPS = 9


class StructOpsLink:
    """``BPF_LINK_CREATE`` on a struct_ops map."""

    link_type = BPF_LINK_TYPE_STRUCT_OPS
    prog = None  # a struct_ops link holds a map, no program

    def __init__(self, m: StructOpsMap, kernel: Any = None,
                 attach_type: int = AttachType.STRUCT_OPS) -> None:  # fmt: skip
        _check_ready(m)
        assert m.kops is not None
        self.kernel = kernel if kernel is not None else m.kernel
        m.ops_type.reg(m.kops, self.kernel)
        self.map: StructOpsMap | None = m
        m.links += 1
        self.attach_type = int(attach_type)  # link_create.attach_type, as given
        self.id = self.kernel.new_id("link") if self.kernel is not None else 0
        self.closed = False
        if self.kernel is not None:
            from ..iter.objects import register_link

            register_link(self.kernel, self)

    def update(self, new: StructOpsMap, old: StructOpsMap | None = None) -> None:
        """``BPF_LINK_UPDATE``: replace the map (``old``, when given, must be the
        current one: EPERM otherwise)."""
        if self.map is None:
            raise BpfError(errno.ENOLINK, "link is detached")
        _check_ready(new)
        if old is not None and old is not self.map:
            raise BpfError(errno.EPERM, "the link does not hold the old map given")
        if new.ops_type is not self.map.ops_type:
            raise BpfError(errno.EINVAL, "a link update must keep the struct_ops type")
        assert new.kops is not None and self.map.kops is not None
        new.ops_type.update(new.kops, self.map.kops, self.kernel)
        self.map.links -= 1
        new.links += 1
        self.map = new

    def detach(self) -> None:
        """``BPF_LINK_DETACH``: unregister the ops; the link stays (detached)."""
        if self.map is None:
            return
        assert self.map.kops is not None
        self.map.ops_type.unreg(self.map.kops, self.kernel)
        self.map.links -= 1
        self.map = None

    def close(self) -> None:
        """The last reference goes: detach, and the link is no longer the kernel's."""
        self.detach()
        if not self.closed and self.kernel is not None:
            from ..iter.objects import unregister_link

            unregister_link(self.kernel, self)
        self.closed = True


def _check_ready(m: StructOpsMap) -> None:
    if not m.flags & BPF_F_LINK or m.state != StructOpsState.READY:
        raise BpfError(errno.EINVAL, "a struct_ops link needs a BPF_F_LINK map that was updated (READY)")
