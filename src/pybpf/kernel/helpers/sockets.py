"""Socket helpers: lookups by tuple, the full, tcp and listener views of a socket, release.

The simulated kernel has no network stack of its own: a lookup finds a socket only when
one was registered on the kernel with :func:`add_socket` (as a test would open one on a
real machine); otherwise it returns NULL, which is what the kernel answers for the
tuples the selftests build, and the program takes its fallback path.  A socket is a
``struct bpf_sock`` region, so the fields a program reads after a successful lookup are
real bytes; the skb test run's dummy socket (:mod:`pybpf.kernel.skb`) is one as well.
References need no counting here: the verifier already pairs every acquire with a
release, and nothing frees a simulated socket.
"""

from __future__ import annotations

import ipaddress
import struct
import weakref
from dataclasses import dataclass, field

from ...errors import MemoryFault
from ...memory import MEMORY, Region, RegionKind
from ..context import BPF_SOCK
from ..env import RunEnv
from ..state import Kernel
from .registry import helper

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
IPPROTO_TCP, IPPROTO_UDP = 6, 17
SOCK_STREAM, SOCK_DGRAM = 1, 2
TCP_ESTABLISHED, TCP_TIME_WAIT, TCP_CLOSE, TCP_LISTEN, TCP_NEW_SYN_RECV = 1, 6, 7, 10, 12
TUPLE_V4, TUPLE_V6 = 12, 36  # sizeof the ipv4 and ipv6 halves of struct bpf_sock_tuple
S32_MAX = 0x7FFFFFFF


@dataclass(eq=False)
class SimSocket:
    """A socket of the simulated kernel: local and remote ends, and its bpf_sock view.

    Addresses are bytes in network order (4 or 16), ports host numbers.  ``remote_port``
    0 with an unspecified remote address is a listening (TCP) or unconnected (UDP)
    socket.
    """

    family: int
    protocol: int
    local: bytes
    local_port: int
    remote: bytes
    remote_port: int = 0
    state: int = TCP_CLOSE
    region: Region = field(init=False)

    def __post_init__(self) -> None:
        self.region = Region(BPF_SOCK.size, RegionKind.KERNEL, "bpf_sock", owner=self)
        buf, off = self.region.buf, BPF_SOCK.offset
        sock_type = SOCK_STREAM if self.protocol == IPPROTO_TCP else SOCK_DGRAM
        struct.pack_into("<IIII", buf, off("family"), self.family, sock_type, self.protocol, 0)
        struct.pack_into("<I", buf, off("state"), self.state)
        struct.pack_into("<I", buf, off("src_port"), self.local_port)
        struct.pack_into(">H", buf, off("dst_port"), self.remote_port)
        struct.pack_into("<i", buf, off("rx_queue_mapping"), -1)
        ip = "src_ip4" if self.family == AF_INET else "src_ip6"
        buf[off(ip) : off(ip) + len(self.local)] = self.local
        ip = "dst_ip4" if self.family == AF_INET else "dst_ip6"
        buf[off(ip) : off(ip) + len(self.remote)] = self.remote
        MEMORY.add(self.region)

    @property
    def address(self) -> int:
        return self.region.base

    @property
    def listening(self) -> bool:
        return self.remote_port == 0 and not any(self.remote)

    def matches(self, saddr: bytes, sport: int, daddr: bytes, dport: int) -> bool:
        """Whether a packet from saddr:sport to daddr:dport belongs to this socket."""
        if self.local_port != dport or (any(self.local) and self.local != daddr):
            return False
        if self.listening:
            return self.protocol == IPPROTO_UDP or self.state == TCP_LISTEN
        return self.remote == saddr and self.remote_port == sport


_SOCKETS: weakref.WeakKeyDictionary[Kernel, list[SimSocket]] = weakref.WeakKeyDictionary()


def sockets(kernel: Kernel) -> list[SimSocket]:
    """The sockets open on ``kernel`` (the list itself: add and remove freely)."""
    return _SOCKETS.setdefault(kernel, [])


def add_socket(kernel: Kernel, protocol: int, local: str, local_port: int,
               remote: str = "", remote_port: int = 0) -> SimSocket:  # fmt: skip
    """Open a socket on ``kernel``: a TCP socket without a remote end listens."""
    ip_local = ipaddress.ip_address(local)
    family = AF_INET if ip_local.version == 4 else AF_INET6
    ip_remote = ipaddress.ip_address(remote) if remote else None
    remote_bytes = ip_remote.packed if ip_remote else bytes(len(ip_local.packed))
    if protocol == IPPROTO_TCP:
        state = TCP_ESTABLISHED if remote_port else TCP_LISTEN
    else:
        state = TCP_ESTABLISHED if remote_port else TCP_CLOSE
    sock = SimSocket(family, protocol, ip_local.packed, local_port, remote_bytes, remote_port, state)
    sockets(kernel).append(sock)
    return sock


def socket_at(addr: int) -> SimSocket | None:
    region = MEMORY.region_at(addr)
    owner = region.owner if region is not None else None
    return owner if isinstance(owner, SimSocket) else None


def _lookup(env: RunEnv, tuple_addr: int, size: int, proto: int, netns: int, flags: int) -> int:
    """The socket a tuple names, as an address; 0 (NULL) when none or when the
    arguments are refused (the kernel returns NULL for every bad argument)."""
    size &= 0xFFFFFFFF
    if size not in (TUPLE_V4, TUPLE_V6):
        return 0
    if flags or not ((netns & 0xFFFFFFFF) >= 0x80000000 or netns <= S32_MAX):
        return 0
    if (netns & 0xFFFFFFFF) < 0x80000000:
        return 0  # a namespace by id: the simulated kernel has no other namespace
    try:
        raw = MEMORY.read(tuple_addr, size, env.pc)
    except MemoryFault:
        return 0
    n = 4 if size == TUPLE_V4 else 16
    saddr, daddr = raw[:n], raw[n : 2 * n]
    sport, dport = struct.unpack_from(">HH", raw, 2 * n)
    family = AF_INET if n == 4 else AF_INET6
    candidates = [s for s in sockets(env.kernel) if s.family == family and s.protocol == proto]
    # connected sockets before listening/unbound ones, as the kernel's hash tables do
    for want_listening in (False, True):
        for sock in candidates:
            if sock.listening == want_listening and sock.matches(saddr, sport, daddr, dport):
                return sock.address
    return 0


@helper("skc_lookup_tcp")  # the same answer: every simulated socket is a full one
@helper("sk_lookup_tcp")
def sk_lookup_tcp(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _lookup(env, r2, r3, IPPROTO_TCP, r4, r5)


@helper("sk_lookup_udp")
def sk_lookup_udp(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _lookup(env, r2, r3, IPPROTO_UDP, r4, r5)


@helper("sk_release")
def sk_release(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return 0


def _field(addr: int, name: str) -> int:
    f = BPF_SOCK.field(name)
    region = MEMORY.region_at(addr)
    if region is None:
        return 0
    start = addr - region.base + f.offset
    return int.from_bytes(region.buf[start : start + f.size], "little")


@helper("sk_fullsock")
def sk_fullsock(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    # every simulated socket (and the test run's dummy) is a full socket
    return r1


def _sock_kind(sk: int) -> tuple[int, int, int, int]:
    """(family, type, protocol, state) of the socket at ``sk``: from the object that
    owns the memory (a simulated socket, or a kernel object made for one, such as the
    ``tcp_sock`` the socket iterators hand out), else from its ``struct bpf_sock``."""
    region = MEMORY.region_at(sk)
    owner = getattr(region, "owner", None)
    owner = getattr(owner, "owner", owner)  # a KObject made for a socket
    if isinstance(owner, SimSocket):
        stype = SOCK_STREAM if owner.protocol == IPPROTO_TCP else SOCK_DGRAM
        return owner.family, stype, owner.protocol, owner.state
    if owner is not None and all(hasattr(owner, a) for a in ("family", "type", "protocol", "state")):
        return int(owner.family), int(owner.type), int(owner.protocol), int(owner.state)
    return _field(sk, "family"), _field(sk, "type"), _field(sk, "protocol"), _field(sk, "state")


def _full(state: int) -> bool:
    return state not in (TCP_TIME_WAIT, TCP_NEW_SYN_RECV)


def _tcp_or_null(sk: int) -> int:
    if not sk:
        return 0
    _, _, proto, state = _sock_kind(sk)
    return sk if proto == IPPROTO_TCP and _full(state) else 0


@helper("tcp_sock")
def tcp_sock(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _tcp_or_null(r1)


@helper("skc_to_tcp_sock")
def skc_to_tcp_sock(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _tcp_or_null(r1)


@helper("get_listener_sock")
def get_listener_sock(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return r1 if r1 and _field(r1, "state") == TCP_LISTEN else 0


@helper("skc_to_tcp6_sock")
def skc_to_tcp6_sock(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return r1 if _tcp_or_null(r1) and _sock_kind(r1)[0] == AF_INET6 else 0


@helper("skc_to_udp6_sock")
def skc_to_udp6_sock(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    if not r1:
        return 0
    family, stype, proto, state = _sock_kind(r1)
    ok = _full(state) and proto == IPPROTO_UDP and stype == SOCK_DGRAM and family == AF_INET6
    return r1 if ok else 0


def _tcp_in_state(sk: int, want: int) -> int:
    if not sk:
        return 0
    _, _, proto, state = _sock_kind(sk)
    return sk if proto == IPPROTO_TCP and state == want else 0


@helper("skc_to_tcp_timewait_sock")
def skc_to_tcp_timewait_sock(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _tcp_in_state(r1, TCP_TIME_WAIT)


@helper("skc_to_tcp_request_sock")
def skc_to_tcp_request_sock(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _tcp_in_state(r1, TCP_NEW_SYN_RECV)


@helper("skc_to_unix_sock")
def skc_to_unix_sock(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    if not r1:
        return 0
    family, _, _, state = _sock_kind(r1)
    return r1 if family == AF_UNIX and _full(state) else 0
