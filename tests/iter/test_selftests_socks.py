"""The kernel's selftests programs for the ``tcp``, ``udp`` and ``unix`` iterators
(Debian linux-source-6.12 ``progs/bpf_iter_tcp4.c``, ``bpf_iter_tcp6.c``,
``bpf_iter_udp4.c``, ``bpf_iter_udp6.c``, ``bpf_iter_unix.c``, and the socket-option
changers ``bpf_iter_setsockopt.c`` and ``bpf_iter_setsockopt_unix.c``), compiled at
test time.

pybpf's verdicts are the kernel's (recorded in
``tests/data/iter/selftests_socks_verdicts.json`` by
``python -m tests.iter.test_selftests_socks``; asked again where bpf() and libbpf are
available), and run over the model's sockets each program prints its ``/proc/net``
style table: the header, then one line per socket of its family with the socket's
addresses, ports, state, uid and inode.  Where the running kernel can run them, its
own output (over this machine's sockets) has the same header and line format.

The 6.12 TCP programs read two ``inet_connection_sock`` members that later kernels
dropped (``icsk_timeout``, ``icsk_keepalive_timer``), so they do not compile against
the running kernel's ``vmlinux.h``; they are built through a two-line wrapper that
names the members that replaced them (``icsk_retransmit_timer.expires``, the socket's
``sk_timer``), as the kernel's own later copies of these programs read them.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from ..elf.test_selftests_progs import build_selftests
from .selftests_build import (
    built_objects,
    check_pybpf_verdicts,
    check_running_kernel_verdicts,
    kernel_verdicts,
    open_object,
)

SOURCES = ["bpf_iter_tcp4.c", "bpf_iter_tcp6.c", "bpf_iter_udp4.c", "bpf_iter_udp6.c",
           "bpf_iter_unix.c", "bpf_iter_setsockopt.c", "bpf_iter_setsockopt_unix.c"]  # fmt: skip
PROGRAMS = {"bpf_iter_tcp4": "dump_tcp4", "bpf_iter_tcp6": "dump_tcp6",
            "bpf_iter_udp4": "dump_udp4", "bpf_iter_udp6": "dump_udp6",
            "bpf_iter_unix": "dump_unix"}  # fmt: skip
"""The programs run here (the setsockopt ones are only loaded: pybpf's kernel has no
socket options to change)."""
LOADED = {**PROGRAMS, "bpf_iter_setsockopt": "change_tcp_cc",
          "bpf_iter_setsockopt_unix": "change_sndbuf"}  # fmt: skip
VERDICTS = Path(__file__).resolve().parents[1] / "data" / "iter" / "selftests_socks_verdicts.json"
_RENAMED = {"icsk_timeout": "icsk_retransmit_timer.expires",
            "icsk_keepalive_timer": "icsk_inet.sk.sk_timer"}  # fmt: skip

pytestmark = pytest.mark.slow


def _sources(tmp: Path) -> list[str]:
    """The sources to build: the TCP ones through their wrapper (see the docstring)."""
    out = []
    for src in SOURCES:
        if "tcp" not in src:
            out.append(src)
            continue
        wrapper = tmp / "wrapped" / src
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        defines = "".join(f"#define {old} {new}\n" for old, new in _RENAMED.items())
        wrapper.write_text(f'{defines}#include "progs/{src}"\n')
        out.append(str(wrapper))
    return out


def build(tmp: Path) -> list[Path]:
    return build_selftests(tmp, _sources(tmp))


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("iter-sock-selftests")
    return built_objects(tmp, _sources(tmp))


# --- verdicts ----------------------------------------------------------------------------


def test_every_program_is_recorded_accepted() -> None:
    recorded = json.loads(VERDICTS.read_text())
    assert {s: set(p) for s, p in recorded.items()} == {s: {p} for s, p in LOADED.items()}
    assert all(v["accepted"] for progs in recorded.values() for v in progs.values())


def test_pybpf_verdicts_are_the_kernels(objs: dict[str, Path]) -> None:
    check_pybpf_verdicts(objs, VERDICTS)


@pytest.mark.kernel
def test_recorded_verdicts_are_the_running_kernels(objs: dict[str, Path]) -> None:
    check_running_kernel_verdicts(objs, VERDICTS)


# --- running over the model's sockets ----------------------------------------------------

_HEX = "[0-9A-F]"
_INET = rf"({_HEX}{{8}}|{_HEX}{{32}}):({_HEX}{{4}})"
_LINE = {
    "tcp": re.compile(rf" *(\d+): {_INET} {_INET} ({_HEX}{{2}}) {_HEX}{{8}}:{_HEX}{{8}} "
                      rf"{_HEX}{{2}}:{_HEX}{{8}} {_HEX}{{8}} +(\d+) +-?\d+ (\d+) (\d+) "
                      r"[0-9a-f]{16} \d+ \d+ \d+ \d+ -?\d+"),
    "udp": re.compile(rf" *(\d+): {_INET} {_INET} ({_HEX}{{2}}) {_HEX}{{8}}:{_HEX}{{8}} "
                      rf"{_HEX}{{2}}:{_HEX}{{8}} {_HEX}{{8}} +(\d+) +-?\d+ (\d+) (\d+) "
                      r"[0-9a-f]{16} \d+"),
    "unix": re.compile(rf"[0-9a-f]{{16}}: ({_HEX}{{8}}) {_HEX}{{8}} ({_HEX}{{8}}) ({_HEX}{{4}}) "
                       rf"({_HEX}{{2}}) +(\d+)( .*)?"),
}  # fmt: skip
"""One socket's line, as the programs print it (``%pK`` as 16 hex digits)."""
_TCP_MINI = re.compile(rf" *(\d+): {_INET} {_INET} ({_HEX}{{2}}) {_HEX}{{8}}:{_HEX}{{8}} "
                       rf"{_HEX}{{2}}:{_HEX}{{8}} {_HEX}{{8}} +(\d+) +-?\d+ \d+ -?\d+ [0-9a-f]{{16}}")  # fmt: skip
"""A time-wait or request socket's shorter line (uid, inode, 0, refcount, ``%pK``): the
kernel's own TCP walk shows them; pybpf's model has only full sockets."""


def _addr(packed: bytes) -> str:
    """An address as the programs print it: each 32-bit word as the CPU reads it."""
    words = [int.from_bytes(packed[i : i + 4], "little") for i in range(0, len(packed), 4)]
    return "".join(f"{w:08X}" for w in words)


def _open_sockets(kernel: Any) -> dict[str, list[Any]]:
    from pybpf.iter.socks import add_unix_socket
    from pybpf.kernel.helpers.sockets import IPPROTO_TCP, IPPROTO_UDP, add_socket

    tcp = [add_socket(kernel, IPPROTO_TCP, "10.0.0.1", 443, "10.0.0.2", 50000),
           add_socket(kernel, IPPROTO_TCP, "127.0.0.1", 8080),
           add_socket(kernel, IPPROTO_TCP, "::1", 8081),
           add_socket(kernel, IPPROTO_TCP, "fd00::1", 22, "fd00::2", 40000)]  # fmt: skip
    udp = [add_socket(kernel, IPPROTO_UDP, "0.0.0.0", 5353),
           add_socket(kernel, IPPROTO_UDP, "127.0.0.1", 53),
           add_socket(kernel, IPPROTO_UDP, "fe80::1", 547, "fe80::2", 546)]  # fmt: skip
    unix = [add_unix_socket(kernel, "/run/pybpf.sock", state=10, uid=1000),
            add_unix_socket(kernel, b"\0abstract\0name", type=2),
            add_unix_socket(kernel, type=5, state=1)]  # fmt: skip
    return {"tcp": tcp, "udp": udp, "unix": unix}


def _run(objs: dict[str, Path], stem: str) -> tuple[list[str], dict[str, list[Any]], Any]:
    from pybpf.iter import create_iter_link

    obj = open_object(objs, stem)
    obj.load()
    socks = _open_sockets(obj.kernel)
    text = create_iter_link(obj.programs[PROGRAMS[stem]].program).read_all().decode("latin-1")
    return text.splitlines(), socks, obj.kernel


@pytest.mark.parametrize("stem", ["bpf_iter_tcp4", "bpf_iter_tcp6"])
def test_tcp_lists_its_familys_sockets_listeners_first(objs: dict[str, Path], stem: str) -> None:
    from pybpf.iter.socks import sock_objects
    from pybpf.kernel.helpers.sockets import AF_INET, AF_INET6, TCP_LISTEN

    lines, socks, kernel = _run(objs, stem)
    family = AF_INET if stem.endswith("4") else AF_INET6
    assert lines[0].startswith("  sl  local_address ") and lines[0].endswith("uid  timeout inode")
    walk = [s for s in socks["tcp"] if s.state == TCP_LISTEN]
    walk += [s for s in socks["tcp"] if s.state != TCP_LISTEN]
    want = [(n, s) for n, s in enumerate(walk) if s.family == family]
    assert len(lines) == 1 + len(want)
    for line, (n, sk) in zip(lines[1:], want, strict=True):
        m = _LINE["tcp"].fullmatch(line)
        assert m, line
        got = (int(m[1]), m[2], int(m[3], 16), m[4], int(m[5], 16), int(m[6], 16), int(m[7]))
        assert got == (n, _addr(sk.local), sk.local_port, _addr(sk.remote), sk.remote_port,
                       sk.state, 0)  # fmt: skip
        assert int(m[8]) == sock_objects(kernel, sk).inode and m[9] == "1"


@pytest.mark.parametrize("stem", ["bpf_iter_udp4", "bpf_iter_udp6"])
def test_udp_lists_its_familys_sockets_by_bucket(objs: dict[str, Path], stem: str) -> None:
    from pybpf.iter.socks import udp_slot
    from pybpf.kernel.helpers.sockets import AF_INET, AF_INET6

    lines, socks, _ = _run(objs, stem)
    family = AF_INET if stem.endswith("4") else AF_INET6
    assert lines[0].startswith("  sl  local_address ") and lines[0].endswith("ref pointer drops")
    want = sorted((s for s in socks["udp"] if s.family == family), key=udp_slot)
    assert len(lines) == 1 + len(want)
    for line, sk in zip(lines[1:], want, strict=True):
        m = _LINE["udp"].fullmatch(line)
        assert m, line
        got = (int(m[1]), m[2], int(m[3], 16), m[4], int(m[5], 16), int(m[6], 16), int(m[7]))
        assert got == (udp_slot(sk), _addr(sk.local), sk.local_port, _addr(sk.remote),
                       sk.remote_port, sk.state, 0)  # fmt: skip


def test_unix_lists_every_socket_with_its_name(objs: dict[str, Path]) -> None:
    lines, socks, _ = _run(objs, "bpf_iter_unix")
    assert lines[0] == "Num               RefCount Protocol Flags    Type St    Inode Path"
    assert len(lines) == 1 + len(socks["unix"])
    fields = []
    for line in lines[1:]:
        m = _LINE["unix"].fullmatch(line)
        assert m, line
        fields.append((m[1], m[2], int(m[3], 16), m[4], m[6] or ""))
    assert fields == [("00000001", "00010000", 1, "01", " /run/pybpf.sock"),  # listening
                      ("00000001", "00000000", 2, "01", " @abstract@name"),  # NULs as @
                      ("00000001", "00000000", 5, "03", "")]  # fmt: skip


def test_no_sockets_prints_nothing(objs: dict[str, Path]) -> None:
    """Only the final call runs (its socket NULL): the programs print nothing."""
    from pybpf.iter import create_iter_link

    for stem, prog in PROGRAMS.items():
        obj = open_object(objs, stem)
        obj.load()
        assert create_iter_link(obj.programs[prog].program).read_all() == b"", stem


# --- the running kernel's output has the same shape --------------------------------------


def _kernel_output(path: Path, prog: str) -> str:
    """What the running kernel's iterator prints (its own sockets), through libbpf."""
    import os

    from pybpf.kernel.progtypes import AttachType
    from pybpf.oracle.syscall import close, sys_bpf
    from pybpf.oracle.uapi import Cmd

    from ..elf import libbpf_ref
    from .harness import _IterCreateAttr, _LinkCreateAttr

    lib = libbpf_ref.libbpf()
    obj = lib.bpf_object__open_file(str(path).encode(), None)
    try:
        if lib.bpf_object__load(obj) != 0:
            raise RuntimeError(f"libbpf could not load {path.name}")
        fd = next(lib.bpf_program__fd(p) for p in libbpf_ref._programs(lib, obj)
                  if lib.bpf_program__name(p).decode() == prog)  # fmt: skip
        attr = _LinkCreateAttr(fd, 0, int(AttachType.TRACE_ITER), 0, 0, 0, 0)
        link = sys_bpf(Cmd.LINK_CREATE, attr)
        if link < 0:
            raise RuntimeError(f"link_create: errno {-link}")
        try:
            it = sys_bpf(Cmd.ITER_CREATE, _IterCreateAttr(link, 0))
            chunks = []
            while data := os.read(it, 1 << 16):
                chunks.append(data)
            os.close(it)
        finally:
            close(link)
        return b"".join(chunks).decode("latin-1")
    finally:
        lib.bpf_object__close(obj)


@pytest.mark.kernel
@pytest.mark.parametrize("stem", list(PROGRAMS))
def test_the_running_kernel_prints_the_same_format(objs: dict[str, Path], stem: str) -> None:
    from pybpf.oracle import available, unavailable_reason

    from ..elf import libbpf_ref

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    if libbpf_ref.libbpf() is None:
        pytest.skip("libbpf.so.1 is not available")
    if stem not in objs:
        pytest.skip(f"{stem}.c did not compile")
    try:
        text = _kernel_output(objs[stem], PROGRAMS[stem])
    except (RuntimeError, OSError) as exc:
        pytest.skip(str(exc))
    mine, _, _ = _run(objs, stem)
    lines = text.splitlines()
    if not lines:
        pytest.skip("the machine has no such socket")
    assert lines[0] == mine[0]
    kind = re.sub(r"bpf_iter_|[46]$", "", stem)
    pattern = _LINE[kind]
    for line in lines[1:]:
        assert pattern.fullmatch(line) or (kind == "tcp" and _TCP_MINI.fullmatch(line)), line


def record() -> dict[str, Any]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return {p.stem: kernel_verdicts(p) for p in build(Path(tmp))}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    VERDICTS.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    print(f"written {VERDICTS}", file=sys.stderr)
