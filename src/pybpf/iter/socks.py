"""The sockets the ``tcp``, ``udp`` and ``unix`` iterators walk, as kernel objects.

pybpf's kernel has no network stack: its TCP and UDP sockets are the ones opened on it
with :func:`pybpf.kernel.helpers.sockets.add_socket` (the same ones the socket lookup
helpers find), and this module keeps its Unix sockets (:func:`add_unix_socket`).  A
program of these targets reads a socket through the kernel BTF (``struct tcp_sock``,
``udp_sock``, ``unix_sock`` and their IPv6 kinds), so each socket gets such an object,
made on first use and refreshed before every call, holding what the model knows:
family, state, type and protocol, addresses and ports, a reference, an inode (through
``sk_socket``, numbered per kernel in the order the iterators first meet them), a Unix
socket's bound name.  Queues are empty and no timer is pending; a TCP socket's
congestion window and retransmission timeout are the kernel's initial ones.  A TCP
socket in ``TCP_TIME_WAIT`` or ``TCP_NEW_SYN_RECV`` is still laid out as a full socket
(the kernel's are the smaller ``tcp_timewait_sock`` and ``tcp_request_sock``).

The walks follow the kernel's order where the model can: TCP listening sockets before
the others (the kernel's listening hash, then its established hash), UDP sockets by
hash slot (the model hashes the local port alone into 256 slots; the kernel also mixes
in the address and a per-namespace random value), Unix sockets in the order they were
made.  Unhashed sockets are not shown (a TCP socket in ``TCP_CLOSE``, an unbound UDP
socket).  Every socket belongs to uid 0 unless it says otherwise (a Unix socket's
``uid``).  Each walk opens with the kernel's start token, which counts in
``meta->seq_num`` but is not shown: a program sees its first socket as number 0, the
final call repeats the last socket's number, and the final call of a walk that met no
socket sees 2**64-1 (the running 6.18 kernel's answers for UDP, recorded in the tests).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from ..kernel.helpers.core import HZ
from ..kernel.helpers.sockets import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    IPPROTO_TCP,
    IPPROTO_UDP,
    SOCK_DGRAM,
    SOCK_STREAM,
    TCP_CLOSE,
    TCP_LISTEN,
    SimSocket,
    sockets,
)
from ..kernel.vmlinux import KObject, alloc_object, sizeof

TCP_INFINITE_SSTHRESH = 0x7FFFFFFF
TCP_INIT_CWND = 10
TCP_TIMEOUT_INIT = HZ
"""The initial retransmission timeout: one second."""
UDP_HASH_SLOTS = 256
"""The model's UDP hash table (the kernel's smallest)."""
FIRST_INODE = 10_000
SEQ_START_TOKEN = object()
"""The first "object" of a socket walk (``SEQ_START_TOKEN``): never shown."""


@dataclass(eq=False)
class UnixSocket:
    """A Unix socket: its type, state (``TCP_LISTEN``, ``TCP_ESTABLISHED`` or
    ``TCP_CLOSE``), bound name (empty: unbound; starting with a NUL byte: abstract) and
    owner."""

    type: int = SOCK_STREAM
    state: int = TCP_CLOSE
    path: bytes = b""
    uid: int = 0
    family: int = field(default=AF_UNIX, init=False)
    protocol: int = field(default=0, init=False)


_UNIX: weakref.WeakKeyDictionary[Any, list[UnixSocket]] = weakref.WeakKeyDictionary()


def unix_sockets(kernel: Any) -> list[UnixSocket]:
    """``kernel``'s Unix sockets (the list itself: add and remove freely)."""
    return _UNIX.setdefault(kernel, [])


def add_unix_socket(kernel: Any, path: bytes | str = b"", type: int = SOCK_STREAM,
                    state: int = TCP_CLOSE, uid: int = 0) -> UnixSocket:  # fmt: skip
    """Open a Unix socket on ``kernel`` (bound to ``path`` when it is not empty)."""
    raw = path.encode() if isinstance(path, str) else bytes(path)
    sock = UnixSocket(type, state, raw, uid)
    unix_sockets(kernel).append(sock)
    return sock


# --- the kernel objects -----------------------------------------------------------------


@dataclass(eq=False)
class SockObjects:
    """The kernel objects made for one socket: the socket itself, the ``socket_alloc``
    its ``sk_socket`` points into, and a Unix socket's ``unix_address``.  They live as
    long as the process (a program may have kept their addresses)."""

    sk: KObject
    socket: KObject
    inode: int
    address: KObject | None = None


_OBJECTS: weakref.WeakKeyDictionary[Any, SockObjects] = weakref.WeakKeyDictionary()
_INODES: weakref.WeakKeyDictionary[Any, count[int]] = weakref.WeakKeyDictionary()


def _struct_of(sock: Any) -> str:
    if isinstance(sock, UnixSocket):
        return "unix_sock"
    v6 = "6" if sock.family == AF_INET6 else ""
    return f"tcp{v6}_sock" if sock.protocol == IPPROTO_TCP else f"udp{v6}_sock"


def sock_objects(kernel: Any, sock: Any) -> SockObjects:
    """``sock``'s kernel objects, current (made on first use)."""
    objs = _OBJECTS.get(sock)
    if objs is None:
        inode = next(_INODES.setdefault(kernel, count(FIRST_INODE)))
        sk = alloc_object(_struct_of(sock), name=_struct_of(sock), owner=sock)
        alloc = alloc_object("socket_alloc", name="socket_alloc", owner=sock)
        objs = _OBJECTS[sock] = SockObjects(sk, alloc, inode)
    _fill(objs, sock)
    return objs


def _be16(port: int) -> int:
    return int.from_bytes((port & 0xFFFF).to_bytes(2, "big"), "little")


def _fill_common(objs: SockObjects, family: int, stype: int, proto: int, state: int) -> None:
    objs.socket.update({"socket.type": stype, "socket.sk": objs.sk.address,
                        "vfs_inode.i_ino": objs.inode})  # fmt: skip
    objs.sk.cast("sock").update({
        "__sk_common.skc_family": family, "__sk_common.skc_state": state,
        "__sk_common.skc_refcnt.refs.counter": 1, "sk_wmem_alloc.refs.counter": 1,
        "sk_type": stype, "sk_protocol": proto, "sk_socket": objs.socket.address,
    })  # fmt: skip


def _fill(objs: SockObjects, sock: Any) -> None:
    if isinstance(sock, UnixSocket):
        _fill_unix(objs, sock)
    else:
        _fill_inet(objs, sock)


def _fill_inet(objs: SockObjects, sock: SimSocket) -> None:
    stype = SOCK_STREAM if sock.protocol == IPPROTO_TCP else SOCK_DGRAM
    _fill_common(objs, sock.family, stype, sock.protocol, sock.state)
    common = objs.sk.cast("sock_common")
    common.update(skc_num=sock.local_port, skc_dport=_be16(sock.remote_port))
    if sock.family == AF_INET:
        common.update(skc_rcv_saddr=int.from_bytes(sock.local, "little"),
                      skc_daddr=int.from_bytes(sock.remote, "little"))  # fmt: skip
    else:
        common.update({"skc_v6_rcv_saddr.in6_u.u6_addr8": sock.local,
                       "skc_v6_daddr.in6_u.u6_addr8": sock.remote})  # fmt: skip
    inet = objs.sk.cast("inet_sock")
    inet.update(inet_sport=_be16(sock.local_port))
    if sock.family == AF_INET:
        inet.update(inet_saddr=int.from_bytes(sock.local, "little"))
    if sock.protocol == IPPROTO_TCP:
        objs.sk.cast("tcp_sock").update({"snd_cwnd": TCP_INIT_CWND,
                                         "snd_ssthresh": TCP_INFINITE_SSTHRESH,
                                         "inet_conn.icsk_rto": TCP_TIMEOUT_INIT})  # fmt: skip


def _fill_unix(objs: SockObjects, sock: UnixSocket) -> None:
    _fill_common(objs, AF_UNIX, sock.type, 0, sock.state)
    if sock.path and objs.address is None:
        name_size = sizeof("sockaddr_un")
        addr = alloc_object("unix_address", extra=name_size, name="unix_address", owner=sock)
        base = addr.address - addr.region.base + sizeof("unix_address")
        path = sock.path[: name_size - 2]
        name = AF_UNIX.to_bytes(2, "little") + path
        addr.region.buf[base : base + len(name)] = name
        # a path name counts its terminating NUL, an abstract name is what was given
        length = 2 + len(path) + (0 if path.startswith(b"\0") else 1)
        addr.update({"refcnt.refs.counter": 1, "len": length})
        objs.address = addr
    objs.sk.cast("unix_sock").update(addr=objs.address.address if objs.address else 0)


# --- the walks --------------------------------------------------------------------------


def sock_uid(sock: Any) -> int:
    return int(getattr(sock, "uid", 0))


def udp_slot(sock: SimSocket) -> int:
    return sock.local_port % UDP_HASH_SLOTS


def _tcp_table(kernel: Any) -> list[Any]:
    tcp = [s for s in sockets(kernel) if s.protocol == IPPROTO_TCP and s.state != TCP_CLOSE]
    return [s for s in tcp if s.state == TCP_LISTEN] + [s for s in tcp if s.state != TCP_LISTEN]


def _udp_table(kernel: Any) -> list[Any]:
    udp = [s for s in sockets(kernel) if s.protocol == IPPROTO_UDP and s.local_port]
    return sorted(udp, key=udp_slot)  # stable: creation order within a slot


class SockWalk:
    """A socket target's seq operations: the start token, then the sockets of the
    table in its order.  The order is fixed when the walk starts; a socket closed
    before the walk reaches it is left out, one closed after it is skipped when shown
    (:meth:`closed`)."""

    token = True
    """``meta->seq_num`` counts the start token (the program sees one less)."""

    def __init__(self, kernel: Any, table: Callable[[Any], list[Any]], udp: bool = False) -> None:
        self.kernel = kernel
        self.table = table
        self.udp = udp
        self._order: list[Any] = []
        self._pos = -1
        self._current: Any = None
        self._started = False

    def close(self) -> None:
        pass

    def start(self) -> Any:
        if not self._started:
            self._started = True
            self._order = list(self.table(self.kernel))
            self._current = SEQ_START_TOKEN
        return self._current

    def closed(self, obj: Any) -> bool:
        """Closed since the walk reached it (the kernel skips an unhashed socket)."""
        return obj not in self.table(self.kernel)

    def next(self) -> Any:
        alive = self.table(self.kernel)
        self._pos += 1
        while self._pos < len(self._order) and self._order[self._pos] not in alive:
            self._pos += 1
        self._current = self._order[self._pos] if self._pos < len(self._order) else None
        return self._current

    def context(self, obj: Any) -> tuple[int, ...]:
        """(socket, uid[, bucket]): all 0 on the final call."""
        if obj is None:
            return (0, 0, 0)
        sk = sock_objects(self.kernel, obj).sk.address
        return (sk, sock_uid(obj), udp_slot(obj)) if self.udp else (sk, sock_uid(obj))


def tcp_walk(kernel: Any) -> SockWalk:
    return SockWalk(kernel, _tcp_table)


def udp_walk(kernel: Any) -> SockWalk:
    return SockWalk(kernel, _udp_table, udp=True)


def unix_walk(kernel: Any) -> SockWalk:
    return SockWalk(kernel, unix_sockets)
