"""Struct_ops links: a map created with ``BPF_F_LINK`` is registered by creating a link
on it (not by its update), unregistered by detaching or closing the link, and a link
update swaps in another READY map of the same type."""

from __future__ import annotations

import errno
from typing import Any

from ..errors import BpfError
from ..maps.struct_ops import BPF_F_LINK, StructOpsMap, StructOpsState


class StructOpsLink:
    """``BPF_LINK_CREATE`` on a struct_ops map."""

    def __init__(self, m: StructOpsMap, kernel: Any = None) -> None:
        _check_ready(m)
        assert m.kops is not None
        self.kernel = kernel if kernel is not None else m.kernel
        m.ops_type.reg(m.kops, self.kernel)
        self.map: StructOpsMap | None = m
        m.links += 1
        self.id = self.kernel.new_id("link") if self.kernel is not None else 0

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
        if self.map is None:
            return
        assert self.map.kops is not None
        self.map.ops_type.unreg(self.map.kops, self.kernel)
        self.map.links -= 1
        self.map = None

    close = detach


def _check_ready(m: StructOpsMap) -> None:
    if not m.flags & BPF_F_LINK or m.state != StructOpsState.READY:
        raise BpfError(errno.EINVAL, "a struct_ops link needs a BPF_F_LINK map that was updated (READY)")
