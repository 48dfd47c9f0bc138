"""Kernel stand-in objects are as large as their structure in pybpf's kernel BTF, so a
program reading through a BTF pointer reaches every member the verifier lets it read:
``struct sock``'s ``sk_protocol`` and ``sk_type`` lie past byte 256 and read what the
socket is, and its last pointer member reads 0."""

from __future__ import annotations

import pytest

from pybpf.kernel.state import Kernel
from pybpf.kernel.vmlinux import offsetof, sizeof
from pybpf.maps.standins import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    SOCK_DGRAM,
    SOCK_STREAM,
    Cgroup,
    Inode,
    Socket,
    Task,
    XdpSocket,
)
from pybpf.maps.types import MapSpec, MapType
from pybpf.memory import MEMORY

from .harness import _SEQ, _fmt
from .test_targets import _iter_prog


def _region_size(obj: object) -> int:
    region = MEMORY.find(obj.address, 1)  # type: ignore[attr-defined]
    assert region is not None
    return int(region.size)


@pytest.mark.parametrize(
    ("obj", "struct"),
    [
        (Socket(AF_INET, SOCK_STREAM), "tcp_sock"),
        (Socket(AF_INET6, SOCK_STREAM), "tcp6_sock"),
        (Socket(AF_INET, SOCK_DGRAM), "inet_sock"),
        (Socket(AF_UNIX, SOCK_STREAM), "unix_sock"),
        (XdpSocket(), "sock"),
        (Task(7), "task_struct"),
        (Cgroup(1), "cgroup"),
        (Inode(3), "inode"),
    ],
)
def test_objects_are_their_btf_struct_size(obj: object, struct: str) -> None:
    assert _region_size(obj) == sizeof(struct)


def test_sockmap_iterator_reads_sock_members_past_256_bytes() -> None:
    from pybpf.iter import create_iter_link

    proto, stype = offsetof("sock", "sk_protocol"), offsetof("sock", "sk_type")
    last = offsetof("sock", "sk_timer") + offsetof("timer_list", "function")  # its last u64
    assert min(proto, stype, last) >= 256  # the old stand-in size
    prog = (
        _SEQ + "r8 = *(u64 *)(r1 + 24)\nif r8 == 0 goto out\n"
        f"r3 = *(u16 *)(r8 + {proto})\n*(u64 *)(r10 - 48) = r3\n"
        f"r3 = *(u16 *)(r8 + {stype})\n*(u64 *)(r10 - 40) = r3\n"
        f"r3 = *(u64 *)(r8 + {last})\n*(u64 *)(r10 - 32) = r3\n"
        + _fmt("%u %u %u\n", -24)
        + "r1 = r6\nr2 = r10\nr2 += -24\nr3 = 16\nr4 = r10\nr4 += -48\nr5 = 24\ncall 126\n"
        "out:\nr0 = 0\nexit\n"
    )
    kernel = Kernel(num_cpus=1, seed=0)
    m = kernel.create_map(MapSpec(MapType.SOCKMAP, 4, 8, 3))
    m.update((0).to_bytes(4, "little"), Socket(AF_INET, SOCK_STREAM))
    m.update((2).to_bytes(4, "little"), Socket(AF_INET6, SOCK_DGRAM, bound=True))
    it = _iter_prog(kernel, "sockmap", prog)
    assert create_iter_link(it, m).read_all().decode() == "6 1 0\n17 2 0\n"
