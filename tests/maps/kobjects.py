"""Named kernel objects for the differential tests of maps that hold objects.

A test case names the objects it uses by *kind* ("tcp_listen", "udp_reuse", "perf",
"cgroup", ...).  :class:`KernelObjects` opens real ones (sockets, perf events, a cgroup
directory, a pidfd, XDP programs) and hands out their fds; :class:`StandinObjects` makes
pybpf's stand-ins for the same kinds and an fd table that resolves them.  Values that
only the kernel can know (socket cookies, program ids) are translated back to object
names by both sides, so results compare as names.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import socket
import struct
from typing import Any

from pybpf.errors import BpfError
from pybpf.maps import Cgroup, Inode, PerfEvent, Socket, Task, XdpSocket
from pybpf.maps.standins import (
    AF_INET,
    AF_UNIX,
    IPPROTO_TCP,
    SOCK_DGRAM,
    SOCK_RAW,
    SOCK_STREAM,
    TCP_CLOSE,
    TCP_ESTABLISHED,
    TCP_LISTEN,
)

SO_COOKIE = 57
AF_XDP = 44
BAD_FD = 999_999

# perf_event_attr for PERF_TYPE_SOFTWARE / PERF_COUNT_SW_BPF_OUTPUT
PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_BPF_OUTPUT = 10
PERF_COUNT_SW_CPU_CLOCK = 0
PERF_SAMPLE_RAW = 1 << 10
SYS_PERF_EVENT_OPEN = 298  # x86-64

KINDS = (
    "tcp_listen", "tcp_est", "tcp_new", "udp", "udp_reuse", "tcp_reuse_listen",
    "unix_stream", "unix_dgram", "raw", "file", "perf", "perf_clock", "cgroup", "pidfd",
    "xdp", "xdp_prog_devmap", "xdp_prog_cpumap", "xdp_prog_plain", "filter_prog", "badfd",
)

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _perf_open(config: int, cpu: int) -> int:
    attr = bytearray(128)
    # type, size, config, sample_period, sample_type
    struct.pack_into("<IIQQQ", attr, 0, PERF_TYPE_SOFTWARE, 128, config, 1, PERF_SAMPLE_RAW)
    buf = (ctypes.c_char * 128).from_buffer(attr)
    ctypes.set_errno(0)
    fd = _libc.syscall(SYS_PERF_EVENT_OPEN, ctypes.byref(buf), -1, cpu, -1, 0)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "perf_event_open")
    return int(fd)


def _xdp_prog(attach_type: int) -> int:
    from pybpf.oracle import prog_load

    insns = struct.pack("<BBhi", 0xB7, 0, 0, 2) + struct.pack("<BBhi", 0x95, 0, 0, 0)
    got = prog_load(6, insns, expected_attach_type=attach_type, log_level=0)
    if got.fd is None:
        raise OSError(got.errno, "prog_load")
    return got.fd


def _filter_prog() -> int:
    from pybpf.oracle import prog_load

    insns = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)
    got = prog_load(1, insns, log_level=0)
    if got.fd is None:
        raise OSError(got.errno, "prog_load")
    return got.fd


def cgroup2_root() -> str:
    """Where cgroup v2 is mounted (``/sys/fs/cgroup`` on most systems)."""
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] == "cgroup2":
                    return parts[1]
    except OSError:
        pass
    return "/sys/fs/cgroup"


class KernelObjects:
    """Real objects, opened on demand; ``close()`` releases them all."""

    def __init__(self) -> None:
        self._fds: dict[str, int] = {}
        self._keep: list[Any] = []
        self.cookies: dict[int, str] = {}
        self.prog_ids: dict[int, str] = {}

    def fd(self, name: str) -> int:
        if name not in self._fds:
            self._fds[name] = self._open(name)
        return self._fds[name]

    def _sock(self, s: socket.socket, name: str) -> int:
        self._keep.append(s)
        cookie = struct.unpack("<Q", s.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8))[0]
        self.cookies[cookie] = name
        return s.fileno()

    def _open(self, name: str) -> int:
        kind = name.split("#")[0]
        if kind == "tcp_listen":
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            s.listen(4)
            return self._sock(s, name)
        if kind == "tcp_reuse_listen":
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(("127.0.0.1", 0))
            s.listen(4)
            return self._sock(s, name)
        if kind == "tcp_est":
            srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            c = socket.create_connection(srv.getsockname())
            peer, _ = srv.accept()
            self._keep += [srv, peer]
            return self._sock(c, name)
        if kind == "tcp_new":
            return self._sock(socket.socket(socket.AF_INET, socket.SOCK_STREAM), name)
        if kind == "udp":
            return self._sock(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), name)
        if kind == "udp_reuse":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(("127.0.0.1", 0))
            return self._sock(s, name)
        if kind == "unix_stream":
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            self._keep.append(b)
            return self._sock(a, name)
        if kind == "unix_dgram":
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._keep.append(b)
            return self._sock(a, name)
        if kind == "raw":
            return self._sock(socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
                              name)
        if kind == "file":
            return os.open("/proc/self/stat", os.O_RDONLY)
        if kind == "perf":
            return _perf_open(PERF_COUNT_SW_BPF_OUTPUT, 0)
        if kind == "perf_clock":
            return _perf_open(PERF_COUNT_SW_CPU_CLOCK, 0)
        if kind == "cgroup":
            return os.open(cgroup2_root(), os.O_RDONLY | os.O_DIRECTORY)
        if kind == "pidfd":
            return os.pidfd_open(os.getpid())
        if kind == "xdp":
            return self._sock(socket.socket(AF_XDP, socket.SOCK_RAW, 0), name)
        if kind in ("xdp_prog_devmap", "xdp_prog_cpumap", "xdp_prog_plain", "filter_prog"):
            fd = (_filter_prog() if kind == "filter_prog" else
                  _xdp_prog({"xdp_prog_devmap": 33, "xdp_prog_cpumap": 35,
                             "xdp_prog_plain": 0}[kind]))
            from pybpf.oracle import prog_get_info

            self.prog_ids[prog_get_info(fd).id] = name
            return fd
        if kind == "badfd":
            return BAD_FD
        raise ValueError(f"unknown object kind {kind!r}")

    def close(self) -> None:
        for name, fd in self._fds.items():
            if name.split("#")[0] in ("tcp_listen", "tcp_reuse_listen", "tcp_est", "tcp_new",
                                      "udp", "udp_reuse", "unix_stream", "unix_dgram", "raw",
                                      "xdp", "badfd"):
                continue
            with contextlib.suppress(OSError):
                os.close(fd)
        for s in self._keep:
            s.close()
        self._fds.clear()
        self._keep.clear()


class _Prog:
    """A loaded program as the maps see one: type, attach type, id."""

    def __init__(self, prog_type: int, attach: int, ident: int) -> None:
        self.prog_type = prog_type
        self.expected_attach_type = attach
        self.id = ident


class StandinObjects:
    """pybpf stand-ins for the same kinds, with a private fd table."""

    def __init__(self) -> None:
        self._objs: dict[str, Any] = {}
        self._by_fd: dict[int, Any] = {}
        self._fds: dict[str, int] = {}
        self.cookies: dict[int, str] = {}
        self.prog_ids: dict[int, str] = {}
        self._next_fd = 100

    def fd(self, name: str) -> int:
        if name not in self._fds:
            if name.split("#")[0] == "badfd":
                self._fds[name] = BAD_FD
            else:
                obj = self.obj(name)
                fd = self._next_fd
                self._next_fd += 1
                self._fds[name] = fd
                self._by_fd[fd] = obj
        return self._fds[name]

    def obj(self, name: str) -> Any:
        if name not in self._objs:
            self._objs[name] = self._make(name)
        return self._objs[name]

    def _make(self, name: str) -> Any:
        kind = name.split("#")[0]
        sock = {
            "tcp_listen": lambda: Socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, TCP_LISTEN),
            "tcp_reuse_listen": lambda: Socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, TCP_LISTEN,
                                               reuseport=True),
            "tcp_est": lambda: Socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, TCP_ESTABLISHED),
            "tcp_new": lambda: Socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, TCP_CLOSE),
            "udp": lambda: Socket(AF_INET, SOCK_DGRAM, 0, TCP_CLOSE),  # not bound
            "udp_reuse": lambda: Socket(AF_INET, SOCK_DGRAM, 0, TCP_CLOSE, reuseport=True),
            "unix_stream": lambda: Socket(AF_UNIX, SOCK_STREAM, 0, TCP_ESTABLISHED),
            "unix_dgram": lambda: Socket(AF_UNIX, SOCK_DGRAM, 0, TCP_ESTABLISHED),
            "raw": lambda: Socket(AF_INET, SOCK_RAW, 1, TCP_CLOSE),
            "xdp": lambda: XdpSocket(),
        }
        if kind in sock:
            s = sock[kind]()
            self.cookies[s.cookie] = name
            return s
        if kind == "file":
            return Inode(1234)
        if kind == "perf":
            return PerfEvent(cpu=0)
        if kind == "perf_clock":
            return PerfEvent(cpu=0, bpf_output=False)
        if kind == "cgroup":
            return Cgroup(1, "/")
        if kind == "pidfd":
            return Task(os.getpid())
        if kind.startswith("xdp_prog") or kind == "filter_prog":
            ident = 50_000 + len(self.prog_ids)
            p = _Prog(1 if kind == "filter_prog" else 6,
                      {"xdp_prog_devmap": 33, "xdp_prog_cpumap": 35}.get(kind, 0), ident)
            self.prog_ids[ident] = name
            return p
        raise ValueError(f"unknown object kind {kind!r}")

    def resolve(self, fd: int) -> object:
        obj = self._by_fd.get(fd)
        if obj is None:
            raise BpfError(errno.EBADF, f"fd {fd} is not open")
        return obj
