"""The ``tcp``, ``udp`` and ``unix`` iterator targets on pybpf's own sockets: what each
walk visits and in what order, the context slots (socket, ``uid``, UDP ``bucket``), and
``meta->seq_num`` past the start token that the kernel counts but never shows (so the
first socket is number 0, the final call repeats the last number, and the final call of
a walk with no socket sees 2**64-1: the running kernel's answers for UDP, recorded in
``tests/data/iter/udp_seq_num_kernel.json`` by ``python -m tests.iter.test_sock_targets``
and asked again where bpf() works and this network namespace has no UDP socket)."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from pybpf.iter import create_iter_link
from pybpf.iter.socks import add_unix_socket, udp_slot
from pybpf.kernel.helpers.sockets import IPPROTO_TCP, IPPROTO_UDP, add_socket, sockets
from pybpf.kernel.state import Kernel
from pybpf.kernel.vmlinux import offsetof

from .harness import _SEQ, Case, _fmt, run_kernel
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


def _read(kernel: Any, target: str, chunk: int = 1 << 17, asm: str | None = None) -> list[str]:
    link = create_iter_link(_iter_prog(kernel, target, asm or _program(target)))
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


# --- meta->seq_num against the running kernel (UDP) --------------------------------------

SEQ_NUM_DATA = Path(__file__).resolve().parents[1] / "data" / "iter" / "udp_seq_num_kernel.json"
SEQ_NUM_PROGRAM = (
    _SEQ + "r3 = *(u64 *)(r1 + 0)\nr3 = *(u64 *)(r3 + 16)\n*(u64 *)(r10 - 40) = r3\n"
    "r3 = *(u64 *)(r1 + 8)\nr4 = 0\nif r3 == 0 goto store\nr4 = 1\n"
    "store:\n*(u64 *)(r10 - 32) = r4\n" + _fmt("%llu %u\n", -16)
    + "r1 = r6\nr2 = r10\nr2 += -16\nr3 = 16\nr4 = r10\nr4 += -40\nr5 = 16\ncall 126\n"
    "r0 = 0\nexit\n"
)  # fmt: skip
"""Prints ``seq_num has-socket`` on every call, the final one (no socket) included:
nothing it prints depends on the sockets' addresses or the hash's seed."""
WALKS = {"none": (0, 4096), "one": (1, 4096), "two": (2, 4096), "two_byte_reads": (2, 1)}
"""name: (UDP sockets open during the walk, bytes a read() asks for)."""


def _udp_in_use() -> int:
    """UDP sockets of this network namespace (the iterator would walk them too)."""
    lines = 0
    for name in ("udp", "udp6"):
        try:
            with open(f"/proc/net/{name}") as f:
                lines += len(f.readlines()[1:])
        except OSError:
            pass
    return lines


def seq_nums_kernel(name: str) -> list[str]:
    """The running kernel's output for walk ``name``, over sockets opened for it."""
    n, chunk = WALKS[name]
    opened = []
    try:
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1"))[:n]:
            s = socket.socket(family, socket.SOCK_DGRAM)
            opened.append(s)
            s.bind((host, 0))
        rec = run_kernel(Case(name, SEQ_NUM_PROGRAM, target="udp", read_size=chunk))
    finally:
        for s in opened:
            s.close()
    if rec["output"] is None:
        raise RuntimeError(f"the kernel refused the walk: {rec}")
    return str(rec["output"]).splitlines()


def seq_nums_pybpf(name: str) -> list[str]:
    n, chunk = WALKS[name]
    k = Kernel(num_cpus=1, seed=0)
    for port in (5353, 53)[:n]:
        add_socket(k, IPPROTO_UDP, "127.0.0.1", port)
    return _read(k, "udp", chunk, SEQ_NUM_PROGRAM)


def test_udp_seq_nums_are_the_recorded_kernels() -> None:
    recorded = json.loads(SEQ_NUM_DATA.read_text())["walks"]
    assert set(recorded) == set(WALKS)
    assert recorded["none"] == [f"{(1 << 64) - 1} 0"]
    for name in WALKS:
        assert seq_nums_pybpf(name) == recorded[name], name


@pytest.mark.kernel
def test_recorded_udp_seq_nums_are_the_running_kernels() -> None:
    from pybpf.oracle import available, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    recorded = json.loads(SEQ_NUM_DATA.read_text())["walks"]
    for name in WALKS:
        if _udp_in_use():
            pytest.skip("UDP sockets are open in this network namespace")
        got = seq_nums_kernel(name)
        if _udp_in_use():
            pytest.skip("a UDP socket was opened during the walk")
        assert got == recorded[name], name


def record() -> dict[str, Any]:
    if _udp_in_use():
        raise SystemExit("close this network namespace's UDP sockets first (ss -uan)")
    return {"kernel": os.uname().release, "walks": {n: seq_nums_kernel(n) for n in WALKS}}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    rec = record()
    SEQ_NUM_DATA.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n")
    print(json.dumps(rec["walks"]), file=sys.stderr)
