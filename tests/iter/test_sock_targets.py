"""The ``tcp``, ``udp`` and ``unix`` iterator targets on pybpf's own sockets: what each
walk visits and in what order, the context slots (socket, ``uid``, UDP ``bucket``), and
``meta->seq_num`` past the start token that the kernel counts but never shows (so the
first socket is number 0, and the final call repeats the last number)."""

from __future__ import annotations

from typing import Any

import pytest

from pybpf.iter import create_iter_link
from pybpf.iter.socks import add_unix_socket, udp_slot
from pybpf.kernel.helpers.sockets import IPPROTO_TCP, IPPROTO_UDP, add_socket, sockets
from pybpf.kernel.state import Kernel
from pybpf.kernel.vmlinux import offsetof

from .harness import _fmt
from .test_targets import _iter_prog

_PORT = {"tcp": ("sock_common", "skc_num"), "udp": ("sock_common", "skc_num"),
         "unix": ("sock", "sk_type")}  # fmt: skip


def _program(target: str) -> str:
    """Prints ``seq_num uid what [bucket]`` a call: ``what`` is the socket's port (its
    type for a Unix socket), 0 on the final call."""
    struct, member = _PORT[target]
    off = offsetof(struct, member) if struct == "sock_common" else offsetof("sock", member)
    bucket = "r2 = *(u32 *)(r7 + 24)\n" if target == "udp" else "r2 = 0\n"
    return (
        "r7 = r1\nr6 = *(u64 *)(r1 + 0)\nr8 = *(u64 *)(r6 + 16)\nr6 = *(u64 *)(r6 + 0)\n"
        "*(u64 *)(r10 - 64) = r8\nr2 = *(u32 *)(r7 + 16)\n*(u64 *)(r10 - 56) = r2\n"
        f"r3 = *(u64 *)(r7 + 8)\nr4 = 0\nif r3 == 0 goto store\nr4 = *(u16 *)(r3 + {off})\n"
        f"store:\n*(u64 *)(r10 - 48) = r4\n{bucket}*(u64 *)(r10 - 40) = r2\n"
        + _fmt("%llu %u %u %u\n", -32)
        + "r1 = r6\nr2 = r10\nr2 += -32\nr3 = 16\nr4 = r10\nr4 += -64\nr5 = 32\ncall 126\n"
        "r0 = 0\nexit\n"
    )


def _read(kernel: Any, target: str, chunk: int = 1 << 17) -> list[str]:
    link = create_iter_link(_iter_prog(kernel, target, _program(target)))
    f = link.open()
    try:
        return f.read_all(chunk).decode().splitlines()
    finally:
        f.close()


def test_tcp_walks_listeners_then_the_rest_skipping_closed_sockets() -> None:
    k = Kernel(num_cpus=1, seed=0)
    add_socket(k, IPPROTO_TCP, "10.0.0.1", 443, "10.0.0.2", 50000)
    add_socket(k, IPPROTO_TCP, "127.0.0.1", 8080)
    add_socket(k, IPPROTO_UDP, "127.0.0.1", 53)  # not TCP
    closed = add_socket(k, IPPROTO_TCP, "::1", 9000, "::1", 9001)
    closed.state = 7  # TCP_CLOSE: unhashed, skipped
    add_socket(k, IPPROTO_TCP, "::1", 8081)
    assert _read(k, "tcp") == ["0 0 8080 0", "1 0 8081 0", "2 0 443 0", "2 0 0 0"]


def test_udp_walks_by_bucket_and_passes_it() -> None:
    k = Kernel(num_cpus=1, seed=0)
    socks = [add_socket(k, IPPROTO_UDP, "0.0.0.0", port) for port in (5353, 53, 256 + 53)]
    add_socket(k, IPPROTO_UDP, "0.0.0.0", 0)  # unbound: not hashed
    add_socket(k, IPPROTO_TCP, "0.0.0.0", 80)
    by_slot = sorted(socks, key=udp_slot)
    want = [f"{n} 0 {s.local_port} {udp_slot(s)}" for n, s in enumerate(by_slot)]
    assert [udp_slot(s) for s in by_slot] == [53, 53, 233]
    assert _read(k, "udp") == [*want, "2 0 0 0"]


def test_unix_walks_in_creation_order_with_each_uid() -> None:
    k = Kernel(num_cpus=1, seed=0)
    add_unix_socket(k, "/run/a", uid=1000)
    add_unix_socket(k, type=2)
    assert _read(k, "unix") == ["0 1000 1 0", "1 0 2 0", "1 0 0 0"]


@pytest.mark.parametrize("target", ["tcp", "udp", "unix"])
def test_no_socket_final_call_sees_seq_num_minus_one(target: str) -> None:
    """Only the start token was walked: the kernel's decrement wraps ``seq_num``."""
    assert _read(Kernel(num_cpus=1, seed=0), target) == [f"{(1 << 64) - 1} 0 0 0"]


def test_a_socket_closed_between_reads_is_skipped() -> None:
    k = Kernel(num_cpus=1, seed=0)
    a, b, c = (add_socket(k, IPPROTO_TCP, "127.0.0.1", p) for p in (1, 2, 3))
    link = create_iter_link(_iter_prog(k, "tcp", _program("tcp")))
    f = link.open()
    try:
        first = f.read(1)  # one socket's line fills the request
        sockets(k).remove(b)
        rest = f.read_all()
    finally:
        f.close()
    assert (first + rest).decode().splitlines() == ["0 0 1 0", "1 0 3 0", "1 0 0 0"]
    del a, c


def test_each_walk_opens_again_from_the_start() -> None:
    k = Kernel(num_cpus=1, seed=0)
    add_unix_socket(k, "/run/a")
    link = create_iter_link(_iter_prog(k, "unix", _program("unix")))
    assert link.read_all() == link.read_all() == b"0 0 1 0\n0 0 0 0\n"
