"""Maps of sockets: sockmap (array), sockhash (hash) and reuseport_sockarray.

A syscall-side update stores the socket a file descriptor names (4- or 8-byte values); a
lookup answers the socket's cookie, and only for 8-byte values (ENOSPC otherwise, since
the cookie would not fit).  Programs get the socket itself: lookups return its address,
and the redirect helpers ask :meth:`redirect_target`.

The kernel refuses sockets it cannot manage: not a socket (ENOTSOCK), a protocol without
sockmap support (EOPNOTSUPP), a TCP socket neither established nor listening, an unbound
UDP socket or an unconnected Unix stream socket (EOPNOTSUPP); a reuseport array wants a bound TCP/UDP socket of an SO_REUSEPORT group
(ENOTSUPP for other protocols, EINVAL without the group, EBUSY if another array has it).
Their odd errnos are kept: deleting an empty sockmap slot is EINVAL, not ENOENT.
"""

from __future__ import annotations

import errno
from bisect import bisect_right, insort
from collections.abc import Iterator
from typing import Any

from ..errors import BpfError
from ..memory import MEMORY
from .base import Map, index_next_key, to_bytes, u32_of
from .jhash import jhash
from .standins import (
    AF_INET,
    AF_INET6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    SOCK_DGRAM,
    SOCK_STREAM,
    TCP_ESTABLISHED,
    TCP_LISTEN,
    Socket,
)
from .types import (
    BPF_EXIST,
    BPF_NOEXIST,
    ENOTSUPP,
    MapFlag,
    MapSpec,
    MapType,
)

SOCK_CREATE_FLAG_MASK = int(MapFlag.NUMA_NODE | MapFlag.RDONLY | MapFlag.WRONLY)
MAX_BPF_STACK = 512
S32_MAX = 0x7FFFFFFF
SHTAB_BUCKET_SIZE = 16


def socket_from_value(m: Map, value: Any) -> Socket:
    """The socket a syscall value names: a Socket, or an fd (u32, or u64 for 8-byte
    values) through the map's ``resolve_fd``."""
    if isinstance(value, Socket):
        return value
    raw = to_bytes(value, m.value_size, "socket fd")
    fd = int.from_bytes(raw, "little")
    if m.value_size == 8 and fd > S32_MAX:
        raise BpfError(errno.EINVAL, f"fd {fd} is out of range")
    fd = int.from_bytes(raw[:4], "little", signed=True)
    if m.resolve_fd is None:
        raise BpfError(errno.EBADF, f"fd {fd}: no resolver to turn fds into sockets")
    target = m.resolve_fd(fd)
    if not isinstance(target, Socket):
        raise BpfError(errno.ENOTSOCK, f"fd {fd} is not a socket")
    return target


def _cookie(m: Map, sk: Socket | None) -> bytes:
    if m.value_size != 8:
        raise BpfError(errno.ENOSPC, "socket cookies are 8 bytes: create the map with "
                       "value_size 8 to read them")
    if sk is None:
        raise BpfError(errno.ENOENT, "no socket under this key")
    return (sk.cookie & ((1 << 64) - 1)).to_bytes(8, "little")


class _SockMapBase(Map):
    """What sockmap and sockhash share: creation flags, socket admission, redirects."""

    BTF_CHECK = True  # map_check_no_btf

    def _admit(self, value: Any) -> Socket:
        """sock_map_update_elem_sys up to the map: the socket, or the kernel's refusal."""
        sk = socket_from_value(self, value)
        if not sk.psock_capable:
            raise BpfError(errno.EOPNOTSUPP, f"{sk!r} cannot be put in a sockmap")
        if not sk.sockmap_state_ok:
            raise BpfError(errno.EOPNOTSUPP, "the socket's state keeps it out of a sockmap "
                           "(TCP must be established or listening, UDP bound, Unix stream "
                           "connected)")
        return sk

    def _sys_value(self, value: Any) -> Any:
        if value is None:
            raise BpfError(errno.EFAULT, "value is NULL")
        return value

    def socket_of(self, key: bytes) -> Socket | None:
        """The socket stored under ``key``, or None."""
        raise NotImplementedError

    def entries(self) -> Iterator[tuple[bytes, Socket | None]]:
        """(key, socket) in the order the kernel's sockmap iterator visits them: every
        slot of a sockmap, empty ones with None; a sockhash's elements bucket by bucket."""
        raise NotImplementedError

    def _store(self, key: bytes, sk: Socket, flags: int) -> int:
        raise NotImplementedError

    def _sys_lookup(self, key: bytes) -> bytes:
        return _cookie(self, self.socket_of(key))

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        sk = self._admit(value)
        err = self._store(key, sk, flags)
        if err:
            raise BpfError(err, _MESSAGES.get(err, "update failed"))

    # ----------------------------------------------------------- program side ---

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        sk = self.socket_of(bytes(key))
        return 0 if sk is None else sk.address

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        return -errno.EINVAL  # a program's value is a socket: see bpf_update_at

    def bpf_update_at(self, key: bytes, value_address: int, flags: int, cpu: int, pc: int) -> int:
        """A program passes the socket itself: the object at ``value_address``."""
        region = MEMORY.find(value_address, 1)
        sk = region.owner if region is not None and region.base == value_address else None
        if not isinstance(sk, Socket):
            return -errno.EINVAL
        return self.bpf_update_sock(key, sk, flags)

    def bpf_update_sock(self, key: bytes, sk: Socket, flags: int) -> int:
        """A program's ``bpf_map_update_elem``/``bpf_sock_map_update`` with a socket
        pointer: 0 or a negative errno."""
        if not sk.psock_capable or not sk.sockmap_state_ok:
            return -errno.EOPNOTSUPP
        return -self._store(bytes(key), sk, flags)

    def redirect_target(self, key: bytes) -> Socket | None:
        """The socket ``bpf_sk_redirect_map``/``_hash`` would redirect to, or None
        (empty, or a socket that cannot receive: a TCP listener, an unconnected
        non-TCP socket)."""
        sk = self.socket_of(bytes(key))
        if sk is None:
            return None
        if sk.is_tcp:
            return None if sk.state == TCP_LISTEN else sk
        return sk if sk.state == TCP_ESTABLISHED else None

    def __getitem__(self, key: Any) -> Any:
        """The socket under ``key`` (KeyError when there is none)."""
        self._need_read()
        sk = self.socket_of(self._need_key(key))
        if sk is None:
            raise KeyError(key)
        return sk

    def __contains__(self, key: object) -> bool:
        try:
            return self.socket_of(self._need_key(key)) is not None  # type: ignore[arg-type]
        except BpfError:
            return False


class SockMapMap(_SockMapBase):
    """``BPF_MAP_TYPE_SOCKMAP``: sockets by index."""

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        if (spec.max_entries == 0 or spec.key_size != 4 or spec.value_size not in (4, 8)
                or spec.flags & ~SOCK_CREATE_FLAG_MASK):
            raise BpfError(errno.EINVAL, "invalid sockmap attributes (4-byte keys, 4- or "
                           "8-byte values)")

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self._socks: dict[int, Socket] = {}

    def socket_of(self, key: bytes) -> Socket | None:
        return self._socks.get(u32_of(key))

    def entries(self) -> Iterator[tuple[bytes, Socket | None]]:
        for idx in range(self.max_entries):
            yield idx.to_bytes(4, "little"), self._socks.get(idx)

    def _store(self, key: bytes, sk: Socket, flags: int) -> int:
        if flags > BPF_EXIST:
            return errno.EINVAL
        idx = u32_of(key)
        if idx >= self.max_entries:
            return errno.E2BIG
        old = self._socks.get(idx)
        if old is not None and flags == BPF_NOEXIST:
            return errno.EEXIST
        if old is None and flags == BPF_EXIST:
            return errno.ENOENT
        self._socks[idx] = sk
        return 0

    def _sys_delete(self, key: bytes) -> None:
        err = -self.bpf_delete(key, self.cpu)
        if err:
            raise BpfError(err, "no socket in this slot")

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        idx = u32_of(key)
        if idx >= self.max_entries or self._socks.pop(idx, None) is None:
            return -errno.EINVAL
        return 0

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        return index_next_key(key, self.max_entries)

    def __len__(self) -> int:
        return len(self._socks)


class _ShtabElem:
    __slots__ = ("hash", "key", "sk")

    def __init__(self, key: bytes, h: int, sk: Socket) -> None:
        self.key = key
        self.hash = h
        self.sk = sk


class SockHashMap(_SockMapBase):
    """``BPF_MAP_TYPE_SOCKHASH``: sockets by arbitrary key, in a hash table seeded with 0
    (so its key order is the kernel's)."""

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        if (spec.max_entries == 0 or spec.key_size == 0 or spec.value_size not in (4, 8)
                or spec.flags & ~SOCK_CREATE_FLAG_MASK):
            raise BpfError(errno.EINVAL, "invalid sockhash attributes (4- or 8-byte values)")
        if spec.key_size > MAX_BPF_STACK:
            raise BpfError(errno.E2BIG, "sockhash keys are at most 512 bytes")
        n = 1 << (spec.max_entries - 1).bit_length()
        if n > 0xFFFFFFFF or n > 0xFFFFFFFF // SHTAB_BUCKET_SIZE:
            raise BpfError(errno.EINVAL, "too many sockhash buckets")

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self.n_buckets = 1 << (spec.max_entries - 1).bit_length()
        self._buckets: dict[int, list[_ShtabElem]] = {}
        self._nonempty: list[int] = []
        self.count = 0

    def _lookup_elem(self, key: bytes) -> _ShtabElem | None:
        h = jhash(key, 0)
        for e in self._buckets.get(h & (self.n_buckets - 1), ()):
            if e.hash == h and e.key == key:
                return e
        return None

    def socket_of(self, key: bytes) -> Socket | None:
        e = self._lookup_elem(key)
        return None if e is None else e.sk

    def entries(self) -> Iterator[tuple[bytes, Socket | None]]:
        for b in sorted(self._buckets):
            for e in list(self._buckets.get(b, ())):
                yield e.key, e.sk

    def _unlink(self, e: _ShtabElem) -> None:
        b = e.hash & (self.n_buckets - 1)
        bucket = self._buckets[b]
        bucket.remove(e)
        if not bucket:
            del self._buckets[b]
            del self._nonempty[bisect_right(self._nonempty, b) - 1]
        self.count -= 1

    def _store(self, key: bytes, sk: Socket, flags: int) -> int:
        if flags > BPF_EXIST:
            return errno.EINVAL
        old = self._lookup_elem(key)
        if old is not None and flags == BPF_NOEXIST:
            return errno.EEXIST
        if old is None and flags == BPF_EXIST:
            return errno.ENOENT
        if old is None and self.count >= self.max_entries:
            return errno.E2BIG
        h = jhash(key, 0)
        b = h & (self.n_buckets - 1)
        if old is not None:
            self._unlink(old)
        bucket = self._buckets.get(b)
        if bucket is None:
            bucket = self._buckets[b] = []
            insort(self._nonempty, b)
        bucket.insert(0, _ShtabElem(key, h, sk))
        self.count += 1
        return 0

    def _sys_delete(self, key: bytes) -> None:
        if self.bpf_delete(key, self.cpu):
            raise BpfError(errno.ENOENT, "no socket under this key")

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        e = self._lookup_elem(bytes(key))
        if e is None:
            return -errno.ENOENT
        self._unlink(e)
        return 0

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        start = 0
        if key is not None:
            e = self._lookup_elem(key)
            if e is not None:
                b = e.hash & (self.n_buckets - 1)
                bucket = self._buckets[b]
                i = bucket.index(e)
                if i + 1 < len(bucket):
                    return bucket[i + 1].key
                start = b + 1
        i = bisect_right(self._nonempty, start - 1)
        if i >= len(self._nonempty):
            raise BpfError(errno.ENOENT, "no more keys")
        return self._buckets[self._nonempty[i]][0].key

    def __len__(self) -> int:
        return self.count


class ReuseportSockArrayMap(Map):
    """``BPF_MAP_TYPE_REUSEPORT_SOCKARRAY``: SO_REUSEPORT sockets by index, for
    ``bpf_sk_select_reuseport``."""

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        if spec.value_size not in (4, 8):
            raise BpfError(errno.EINVAL, "reuseport array values are 4- or 8-byte socket fds")
        from .array import ArrayMap

        ArrayMap.validate(MapSpec(MapType.REUSEPORT_SOCKARRAY, spec.key_size, spec.value_size,
                                  spec.max_entries, spec.flags), num_cpus)

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self._socks: dict[int, Socket] = {}

    def _sys_value(self, value: Any) -> Any:
        if value is None:
            raise BpfError(errno.EFAULT, "value is NULL")
        return value

    def _sys_lookup(self, key: bytes) -> bytes:
        idx = u32_of(key)
        return _cookie(self, self._socks.get(idx) if idx < self.max_entries else None)

    def _check(self, sk: Socket, old: Socket | None, flags: int) -> int:
        if old is not None and flags == BPF_NOEXIST:
            return errno.EEXIST
        if old is None and flags == BPF_EXIST:
            return errno.ENOENT
        if sk.protocol not in (IPPROTO_UDP, IPPROTO_TCP) or sk.family not in (AF_INET, AF_INET6) \
                or sk.type not in (SOCK_STREAM, SOCK_DGRAM):
            return ENOTSUPP
        if not sk.reuseport:
            return errno.EINVAL
        if sk.user_data is not None:
            return errno.EBUSY
        return 0

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        if flags > BPF_EXIST:
            raise BpfError(errno.EINVAL, "reuseport array updates take BPF_ANY, BPF_NOEXIST "
                           "or BPF_EXIST")
        idx = u32_of(key)
        if idx >= self.max_entries:
            raise BpfError(errno.E2BIG, f"index {idx} is out of range")
        sk = socket_from_value(self, value)
        old = self._socks.get(idx)
        err = self._check(sk, old, flags)
        if err:
            raise BpfError(err, _MESSAGES.get(err, "the socket cannot join a reuseport array"))
        sk.user_data = (self, idx)
        self._socks[idx] = sk
        if old is not None:
            old.user_data = None

    def _sys_delete(self, key: bytes) -> None:
        err = -self.bpf_delete(key, self.cpu)
        if err:
            raise BpfError(err, _MESSAGES.get(err, "delete failed"))

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        idx = u32_of(key)
        if idx >= self.max_entries:
            return -errno.E2BIG
        sk = self._socks.pop(idx, None)
        if sk is None:
            return -errno.ENOENT
        sk.user_data = None
        return 0

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        return index_next_key(key, self.max_entries)

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        sk = self.socket(u32_of(bytes(key)))
        return 0 if sk is None else sk.address

    def __contains__(self, key: object) -> bool:
        try:
            return u32_of(self._need_key(key)) in self._socks  # type: ignore[arg-type]
        except BpfError:
            return False

    def socket(self, index: int) -> Socket | None:
        """The socket in slot ``index`` (what ``bpf_sk_select_reuseport`` picks)."""
        return self._socks.get(index)

    def __getitem__(self, key: Any) -> Any:
        self._need_read()
        sk = self.socket(u32_of(self._need_key(key)))
        if sk is None:
            raise KeyError(key)
        return sk

    def __len__(self) -> int:
        return len(self._socks)


_MESSAGES = {
    errno.EINVAL: "invalid flags, or the socket is not in an SO_REUSEPORT group",
    errno.E2BIG: "the map is full or the index is out of range",
    errno.EEXIST: "the key exists (BPF_NOEXIST)",
    errno.ENOENT: "no socket under this key (BPF_EXIST)",
    errno.EBUSY: "the socket is already in a reuseport array",
    ENOTSUPP: "only TCP and UDP sockets of IPv4/IPv6 can join a reuseport array",
}
