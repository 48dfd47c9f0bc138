"""Stand-ins for the kernel objects that some maps hold: perf events, cgroups, sockets,
AF_XDP sockets, network devices, tasks and inodes.

pybpf has no perf subsystem, no network stack and no processes, yet maps of these objects
must behave as the kernel's: refuse what the kernel refuses, hand programs what the kernel
hands them.  Each stand-in carries exactly the properties those rules read (a socket's
family, type, protocol and TCP state; a perf event's CPU and whether it is a BPF-output
event; ...) and nothing else.  A syscall-side update names one by file descriptor, which
the map turns into the object through its ``resolve_fd`` hook (the simulated kernel's fd
table); Python callers may pass the object itself.

Objects a program can get a pointer to (sockets from a sockmap lookup, AF_XDP sockets,
tasks, cgroups, inodes) own a region of kind ``KERNEL`` whose address stands for the
kernel structure.  The region is as large as that structure in pybpf's kernel BTF (a TCP
socket is a ``struct tcp_sock``, other IPv4/IPv6 sockets an ``inet_sock``, ...), so a
program may read any member its BTF pointer allows; bytes nobody wrote read 0.
"""

from __future__ import annotations

import errno
import itertools
import socket as _socket
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

from ..errors import BpfError
from ..memory import Region, RegionKind, allocate, release
from .types import round_up

AF_UNIX = _socket.AF_UNIX
AF_INET = _socket.AF_INET
AF_INET6 = _socket.AF_INET6
AF_XDP = 44
SOCK_STREAM = _socket.SOCK_STREAM
SOCK_DGRAM = _socket.SOCK_DGRAM
SOCK_RAW = _socket.SOCK_RAW
IPPROTO_TCP = 6
IPPROTO_UDP = 17

# TCP states (include/net/tcp_states.h)
TCP_ESTABLISHED = 1
TCP_SYN_SENT = 2
TCP_CLOSE = 7
TCP_LISTEN = 10

# Program types and attach types the redirect maps check programs against.
BPF_PROG_TYPE_XDP = 6
BPF_XDP_DEVMAP = 33
BPF_XDP_CPUMAP = 35

KERNEL_OBJECT_SIZE = 256
"""An object's size when pybpf's kernel BTF has none of its structures."""

_cookies = itertools.count(0x1000)


@cache
def object_size(structs: tuple[str, ...]) -> int:
    """The size of the first of ``structs`` that pybpf's kernel BTF has."""
    from ..kernel.vmlinux import sizeof

    for name in structs:
        try:
            return sizeof(name)
        except BpfError:
            continue
    return KERNEL_OBJECT_SIZE


class KernelObject:
    """Something the kernel owns that a program may hold a pointer to."""

    _region: Region | None = None
    BTF_STRUCTS: tuple[str, ...] = ()
    """The kernel structures this object is, most specific first."""

    def btf_structs(self) -> tuple[str, ...]:
        return self.BTF_STRUCTS

    @property
    def address(self) -> int:
        """The address a BPF register holds for this object (allocated on first use)."""
        if self._region is None:
            self._region = allocate(object_size(self.btf_structs()), RegionKind.KERNEL,
                                    type(self).__name__.lower(), writable=False, owner=self)
        return self._region.base

    def release(self) -> None:
        """Give the object's region back (the object must no longer be reachable)."""
        if self._region is not None:
            release(self._region)
            self._region = None


# ------------------------------------------------------------------ perf events ---


@dataclass(frozen=True)
class PerfRecord:
    """One ``bpf_perf_event_output`` sample as a reader of the event sees it: the raw
    bytes the program gave, and the CPU it was written on."""

    cpu: int
    data: bytes


PERF_RECORD_HEADER = 8  # struct perf_event_header
PERF_RAW_SIZE_FIELD = 4  # the u32 size in front of raw sample data


class PerfEvent:
    """A perf event opened with ``perf_event_open``: what a perf_event_array slot holds.

    ``bpf_output`` says the event is ``PERF_TYPE_SOFTWARE``/``PERF_COUNT_SW_BPF_OUTPUT``
    (the only kind ``bpf_perf_event_output`` writes to); ``cpu`` is the CPU it was opened
    on (-1: it follows a task, and counts as being on whatever CPU runs).  ``capacity``
    is the size of its ring buffer: a record that does not fit is lost, as in the kernel,
    and counted in ``lost``.  ``counter``/``enabled``/``running`` are what
    ``bpf_perf_event_read_value`` reports.  Readers call :meth:`drain`.
    """

    def __init__(self, cpu: int = -1, bpf_output: bool = True, capacity: int = 64 << 10,
                 counter: int = 0, readable: bool = True) -> None:
        self.cpu = cpu
        self.bpf_output = bpf_output
        self.capacity = capacity
        self.counter = counter
        self.enabled = 0
        self.running = 0
        self.readable = readable  # perf_event_read_local works (not an inherited event)
        self.lost = 0
        self._records: deque[PerfRecord] = deque()
        self._used = 0

    @staticmethod
    def record_size(data_len: int) -> int:
        """Bytes a raw sample takes in the perf ring (header, size field, data, padded)."""
        return round_up(PERF_RECORD_HEADER + PERF_RAW_SIZE_FIELD + data_len, 8)

    def on_cpu(self, cpu: int) -> bool:
        return self.cpu in (-1, cpu)

    def write(self, data: bytes, cpu: int) -> int:
        """Append one sample; 0, or -ENOSPC when the ring is full (the sample is lost)."""
        size = self.record_size(len(data))
        if self._used + size > self.capacity:
            self.lost += 1
            return -errno.ENOSPC
        self._used += size
        self._records.append(PerfRecord(cpu, bytes(data)))
        return 0

    def drain(self) -> list[PerfRecord]:
        """Every record written since the last drain, oldest first (frees the ring)."""
        out = list(self._records)
        self._records.clear()
        self._used = 0
        return out

    def __iter__(self) -> Iterator[PerfRecord]:
        """Consume records one by one."""
        while self._records:
            rec = self._records.popleft()
            self._used -= self.record_size(len(rec.data))
            yield rec

    def __len__(self) -> int:
        return len(self._records)


# --------------------------------------------------------------------- cgroups ---


class Cgroup(KernelObject):
    """A cgroup (v2): its inode id is what cgroup storage keys and ``bpf_get_current_
    cgroup_id`` use; ``parent`` lets ``bpf_skb_under_cgroup`` walk ancestors."""

    BTF_STRUCTS = ("cgroup",)

    def __init__(self, cgroup_id: int, path: str = "", parent: Cgroup | None = None) -> None:
        self.id = cgroup_id
        self.path = path
        self.parent = parent

    def is_descendant_of(self, other: Cgroup) -> bool:
        node: Cgroup | None = self
        while node is not None:
            if node is other:
                return True
            node = node.parent
        return False

    def __repr__(self) -> str:
        return f"<Cgroup {self.id} {self.path!r}>"


# --------------------------------------------------------------------- sockets ---


class Socket(KernelObject):
    """A socket: what sockmap, sockhash, reuseport arrays and socket storage hold.

    ``state`` is the TCP state for TCP sockets (``TCP_ESTABLISHED``, ``TCP_LISTEN``,
    ...) and ``TCP_ESTABLISHED`` for connected sockets of other kinds; ``bound`` says a
    UDP socket has a port (it is in the UDP hash table, which a sockmap requires);
    ``reuseport`` says it was bound with SO_REUSEPORT (it then belongs to a reuseport
    group, which a reuseport array requires); ``cookie`` is the socket cookie a sockmap
    lookup returns (unique per socket, made up if not given).
    """

    def __init__(self, family: int = AF_INET, type: int = SOCK_STREAM, protocol: int = 0,
                 state: int = TCP_ESTABLISHED, reuseport: bool = False,
                 cookie: int | None = None, bound: bool = False) -> None:
        if protocol == 0 and family in (AF_INET, AF_INET6):
            protocol = IPPROTO_TCP if type == SOCK_STREAM else IPPROTO_UDP
        self.family = family
        self.type = type
        self.protocol = protocol
        self.state = state
        self.reuseport = reuseport
        self.bound = bound or reuseport or state == TCP_ESTABLISHED
        self.cookie = cookie if cookie is not None else next(_cookies)
        self.user_data: object = None  # the reuseport array slot that holds it, if any

    def btf_structs(self) -> tuple[str, ...]:
        if self.is_tcp:
            tcp = ("tcp_sock", "inet_sock", "sock")
            return ("tcp6_sock", *tcp) if self.family == AF_INET6 else tcp
        if self.family in (AF_INET, AF_INET6):
            return ("inet_sock", "sock")
        if self.family == AF_UNIX:
            return ("unix_sock", "sock")
        if self.family == AF_XDP:
            return ("xdp_sock", "sock")
        return ("sock",)

    @property
    def is_tcp(self) -> bool:
        return self.type == SOCK_STREAM and self.protocol == IPPROTO_TCP and self.family in (
            AF_INET, AF_INET6)

    @property
    def is_udp(self) -> bool:
        return self.type == SOCK_DGRAM and self.protocol == IPPROTO_UDP

    @property
    def sockmap_state_ok(self) -> bool:
        """Whether its state lets it into a sockmap: TCP established or listening, Unix
        stream connected, UDP bound or connected; others in any state."""
        if self.is_tcp:
            return self.state in (TCP_ESTABLISHED, TCP_LISTEN)
        if self.family == AF_UNIX and self.type == SOCK_STREAM:
            return self.state == TCP_ESTABLISHED
        if self.is_udp:
            return self.bound
        return True

    @property
    def psock_capable(self) -> bool:
        """Whether the protocol can be put in a sockmap (it has psock_update_sk_prot):
        TCP, UDP and Unix sockets can; raw and others cannot."""
        if self.family == AF_UNIX:
            return self.type in (SOCK_STREAM, SOCK_DGRAM)
        if self.family in (AF_INET, AF_INET6):
            return self.protocol in (IPPROTO_TCP, IPPROTO_UDP)
        return False

    def __repr__(self) -> str:
        return f"<Socket family={self.family} type={self.type} proto={self.protocol} " \
               f"state={self.state} cookie={self.cookie}>"


class XdpSocket(Socket):
    """An AF_XDP socket bound to a device queue: what an xskmap slot holds."""

    def __init__(self, ifindex: int = 1, queue_id: int = 0, cookie: int | None = None) -> None:
        super().__init__(AF_XDP, SOCK_RAW, 0, TCP_CLOSE, cookie=cookie)
        self.ifindex = ifindex
        self.queue_id = queue_id
        self.received: list[bytes] = []  # frames redirected to it

    def __repr__(self) -> str:
        return f"<XdpSocket ifindex={self.ifindex} queue={self.queue_id}>"


# --------------------------------------------------------------- net devices ---


class NetDevice:
    """A network device, named by ifindex in devmap values and redirect targets.
    ``transmitted`` collects frames redirected out of it (the runtime appends)."""

    def __init__(self, ifindex: int, name: str = "") -> None:
        self.ifindex = ifindex
        self.name = name or f"if{ifindex}"
        self.transmitted: list[bytes] = []

    def __repr__(self) -> str:
        return f"<NetDevice {self.ifindex} {self.name}>"


class NetDeviceTable:
    """The devices of the (one) network namespace, by ifindex.  ``dev_get_by_index``
    failing is why a devmap update with an unknown ifindex is refused."""

    def __init__(self) -> None:
        self._devices: dict[int, NetDevice] = {}
        self.add(NetDevice(1, "lo"))

    def add(self, dev: NetDevice) -> NetDevice:
        self._devices[dev.ifindex] = dev
        return dev

    def remove(self, ifindex: int) -> None:
        self._devices.pop(ifindex, None)

    def get(self, ifindex: int) -> NetDevice | None:
        return self._devices.get(ifindex)

    def __iter__(self) -> Iterator[NetDevice]:
        return iter(sorted(self._devices.values(), key=lambda d: d.ifindex))


NETDEVS = NetDeviceTable()
"""The default device table (loopback only); a map's ``resolve_ifindex`` may point
elsewhere."""

IfindexResolver = Callable[[int], "NetDevice | None"]


# ------------------------------------------------------------- tasks, inodes ---


class Task(KernelObject):
    """A task (thread); its storage map key on the syscall side is a pidfd."""

    BTF_STRUCTS = ("task_struct",)

    def __init__(self, pid: int, tgid: int | None = None, comm: str = "") -> None:
        self.pid = pid
        self.tgid = tgid if tgid is not None else pid
        self.comm = comm

    def __repr__(self) -> str:
        return f"<Task {self.pid}>"


class Inode(KernelObject):
    """An inode; its storage map key on the syscall side is an open file's fd."""

    BTF_STRUCTS = ("inode",)

    def __init__(self, ino: int) -> None:
        self.ino = ino

    def __repr__(self) -> str:
        return f"<Inode {self.ino}>"


def not_a(kind: str, obj: object) -> BpfError:
    """The error for an fd that names something other than what the map wants."""
    return BpfError(errno.EINVAL, f"{obj!r} is not {kind}")
