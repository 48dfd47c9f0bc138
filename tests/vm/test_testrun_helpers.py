"""Test runs of cgroup_skb and lwt_* programs, the socket, checksum, head-room, string and
fib helpers, and the types without a test run: pybpf against the kernel's recorded
answers (``tests/vm/testrun_cases.py``), against the running kernel where bpf() works,
and socket lookups that find a socket of the simulated kernel."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from pybpf.isa import assemble
from pybpf.kernel.helpers.sockets import IPPROTO_TCP, IPPROTO_UDP, add_socket, sockets
from pybpf.kernel.state import Kernel
from pybpf.oracle import available, unavailable_reason
from pybpf.program import load_program

from .testrun_cases import CASES, DATA, Case, on_kernel, on_pybpf

RECORDED = json.loads(DATA.read_text())["cases"]
needs_kernel = pytest.mark.skipif(not available(), reason=f"bpf() unavailable: {unavailable_reason()}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_recorded(case: Case) -> None:
    assert on_pybpf(case) == RECORDED[case.name]


@pytest.mark.kernel
@needs_kernel
def test_live() -> None:
    differ = {c.name: (on_kernel(c), on_pybpf(c)) for c in CASES}
    assert {k: v for k, v in differ.items() if v[0] != v[1]} == {}


def _tuple_store(addr4: bytes, dport: int) -> str:
    """A bpf_sock_tuple for ipv4 at r10-16: saddr 0, daddr ``addr4``, sport 0, dport."""
    daddr = int.from_bytes(addr4, "little")
    ports = int.from_bytes(b"\0\0" + dport.to_bytes(2, "big"), "little")
    return (f"r1 = 0\n*(u64 *)(r10 - 16) = r1\n*(u32 *)(r10 - 8) = r1\n"
            f"r1 = {daddr}\n*(u32 *)(r10 - 12) = r1\nr1 = {ports}\n*(u32 *)(r10 - 8) = r1\n")  # fmt: skip


def _lookup_prog(helper: int, field_off: int, addr4: bytes, port: int, netns: int = -1) -> str:
    """Look the tuple up, read one u32 of struct bpf_sock, release; 0xffff if none."""
    return (f"r9 = r1\n{_tuple_store(addr4, port)}r1 = r9\nr2 = r10\nr2 += -16\nr3 = 12\n"
            f"r4 = {netns} ll\nr5 = 0\n"
            f"call {helper}\nif r0 == 0 goto +5\nr6 = *(u32 *)(r0 + {field_off})\nr1 = r0\n"
            "call 86\nr0 = r6\nexit\nr0 = 0xffff\nexit")  # fmt: skip


FIELDS = {"family": 4, "type": 8, "protocol": 12, "src_port": 44, "state": 72}


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    yield k
    sockets(k).clear()


def _run(kernel: Kernel, src: str) -> int:
    prog = load_program(assemble(src), "sched_cls", kernel=kernel)
    return prog.run(bytes(64)).retval


def test_lookup_finds_a_listening_socket(kernel: Kernel) -> None:
    add_socket(kernel, IPPROTO_TCP, "127.0.0.1", 4242)
    got = {f: _run(kernel, _lookup_prog(84, off, b"\x7f\0\0\x01", 4242)) for f, off in FIELDS.items()}
    assert got == {"family": 2, "type": 1, "protocol": 6, "src_port": 4242, "state": 10}
    assert _run(kernel, _lookup_prog(84, 4, b"\x7f\0\0\x01", 4243)) == 0xFFFF  # other port
    assert _run(kernel, _lookup_prog(85, 4, b"\x7f\0\0\x01", 4242)) == 0xFFFF  # udp lookup


def test_wildcard_udp_socket_matches_any_local_address(kernel: Kernel) -> None:
    add_socket(kernel, IPPROTO_UDP, "0.0.0.0", 5353)
    assert _run(kernel, _lookup_prog(85, 12, b"\x0a\0\0\x02", 5353)) == IPPROTO_UDP
    assert _run(kernel, _lookup_prog(84, 12, b"\x0a\0\0\x02", 5353)) == 0xFFFF


@pytest.mark.slow
@pytest.mark.kernel
@needs_kernel
def test_lookups_of_real_sockets_match_the_kernel(kernel: Kernel) -> None:
    """A TCP listener and an unbound-address UDP socket opened on this machine, and the
    same two on the simulated kernel: lookups by helper, namespace id and destination
    find the same sockets, with the same bpf_sock fields."""
    from pybpf.oracle.progs import prog_load, prog_test_run

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:  # fmt: skip
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        port = tcp.getsockname()[1]
        udp.bind(("0.0.0.0", port))
        add_socket(kernel, IPPROTO_TCP, "127.0.0.1", port)
        add_socket(kernel, IPPROTO_UDP, "0.0.0.0", port)
        got, want = {}, {}
        for helper in (84, 85, 99):
            for netns in (-1, 0, 1, 0xFFFFFFFF, 0x80000000, 1 << 32):
                for dst in (b"\x7f\0\0\x01", b"\x0a\0\0\x05"):
                    for name, off in FIELDS.items():
                        if helper == 99 and name in ("type", "protocol"):
                            continue  # not readable through a sock_common
                        src = _lookup_prog(helper, off, dst, port, netns)
                        lr = prog_load(3, assemble(src), log_level=1)
                        assert lr.fd is not None, lr.log
                        key = (helper, netns, dst.hex(), name)
                        want[key] = prog_test_run(lr.fd, bytes(64)).retval
                        got[key] = _run(kernel, src)
        assert {k: v for k, v in got.items() if want[k] != v} == {}


@pytest.mark.parametrize(("attach", "want"), [("TRACE_FENTRY", 0), ("TRACE_FEXIT", 0),
                                              ("MODIFY_RETURN", 0x20021)])  # fmt: skip
def test_tracing_runs_call_the_test_functions_not_the_program(attach: str, want: int) -> None:
    """From net/bpf/test_run.c (this kernel refuses tracing loads, so no live check):
    the program is attached to nothing, so r0 = 7 never reaches retval."""
    from pybpf.errors import BpfError
    from pybpf.kernel.progtypes import AttachType
    from pybpf.vm.testrun import test_run

    prog = load_program(assemble("r0 = 7\nexit"), "tracing", verify=False,
                        expected_attach_type=AttachType[attach])  # fmt: skip
    assert prog.run(bytes(64)).retval == want
    with pytest.raises(BpfError) as exc:
        test_run(prog, bytes(64), flags=1)
    assert exc.value.errno == 22
