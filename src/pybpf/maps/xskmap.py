"""The AF_XDP socket map: ``bpf_redirect_map`` targets that deliver frames to user space.

Slots hold AF_XDP sockets (:class:`~pybpf.maps.standins.XdpSocket`), stored by fd on
the syscall side.  Reading a slot through bpf() is not supported (EOPNOTSUPP); programs
may look a slot up (they get the socket) and redirect to it.  Any other kind of socket is
EOPNOTSUPP, deleting outside the array EINVAL, deleting an empty slot succeeds, and
storing the socket a slot already holds succeeds whatever the flags.
"""

from __future__ import annotations

import errno
from typing import Any

from ..errors import BpfError
from .base import Map, index_next_key, to_bytes, u32_of
from .standins import Socket, XdpSocket
from .types import BPF_EXIST, BPF_NOEXIST, MapFlag, MapSpec

XSK_CREATE_FLAG_MASK = int(MapFlag.NUMA_NODE | MapFlag.RDONLY | MapFlag.WRONLY)


class XskMap(Map):
    """``BPF_MAP_TYPE_XSKMAP``."""

    BTF_CHECK = True  # map_check_no_btf

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        if (spec.max_entries == 0 or spec.key_size != 4 or spec.value_size != 4
                or spec.flags & ~XSK_CREATE_FLAG_MASK):
            raise BpfError(errno.EINVAL, "invalid xskmap attributes (4-byte keys and fds)")

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self._socks: dict[int, XdpSocket] = {}

    def _sys_value(self, value: Any) -> Any:
        if value is None:
            raise BpfError(errno.EFAULT, "value is NULL")
        return value

    def _socket(self, value: Any) -> XdpSocket:
        target: object = value
        if not isinstance(value, Socket):
            fd = int.from_bytes(to_bytes(value, 4, "socket fd"), "little", signed=True)
            if self.resolve_fd is None:
                raise BpfError(errno.EBADF, f"fd {fd}: no resolver to turn fds into sockets")
            target = self.resolve_fd(fd)
            if not isinstance(target, Socket):
                raise BpfError(errno.ENOTSOCK, f"fd {fd} is not a socket")
        if not isinstance(target, XdpSocket):
            raise BpfError(errno.EOPNOTSUPP, "only AF_XDP sockets go in an xskmap")
        return target

    def _sys_lookup(self, key: bytes) -> bytes:
        raise BpfError(errno.EOPNOTSUPP, "xskmap slots cannot be read through bpf()")

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        if flags > BPF_EXIST:
            raise BpfError(errno.EINVAL, "invalid update flags")
        idx = u32_of(key)
        if idx >= self.max_entries:
            raise BpfError(errno.E2BIG, f"index {idx} is out of range")
        xs = self._socket(value)
        old = self._socks.get(idx)
        if old is xs:
            return
        if old is not None and flags == BPF_NOEXIST:
            raise BpfError(errno.EEXIST, "the slot holds a socket (BPF_NOEXIST)")
        if old is None and flags == BPF_EXIST:
            raise BpfError(errno.ENOENT, "the slot is empty (BPF_EXIST)")
        self._socks[idx] = xs

    def _sys_delete(self, key: bytes) -> None:
        if self.bpf_delete(key, self.cpu):
            raise BpfError(errno.EINVAL, "index out of range")

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        idx = u32_of(bytes(key))
        if idx >= self.max_entries:
            return -errno.EINVAL
        self._socks.pop(idx, None)
        return 0

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        return index_next_key(key, self.max_entries)

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        xs = self._socks.get(u32_of(bytes(key)))
        return 0 if xs is None else xs.address

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        return -errno.EINVAL

    def redirect_target(self, key: bytes) -> XdpSocket | None:
        """The socket ``bpf_redirect_map`` delivers to (None: the fallback)."""
        return self._socks.get(u32_of(bytes(key)))

    def __getitem__(self, key: Any) -> Any:
        self._need_read()
        xs = self._socks.get(u32_of(self._need_key(key)))
        if xs is None:
            raise KeyError(key)
        return xs

    def __contains__(self, key: object) -> bool:
        try:
            return u32_of(self._need_key(key)) in self._socks  # type: ignore[arg-type]
        except BpfError:
            return False

    def __len__(self) -> int:
        return len(self._socks)
