"""BPF_BTF_LOAD against the running kernel."""

from __future__ import annotations

import errno
import struct

import pytest

from pybpf.oracle import Session, btf_load

from .conftest import needs_kernel

pytestmark = [pytest.mark.kernel, needs_kernel]

STRINGS = b"\0int\0"


def one_int_btf(nr_bits: int) -> bytes:
    """A BTF blob holding one INT type named ``int`` of 4 bytes and ``nr_bits`` bits."""
    types = struct.pack("<IIII", 1, 1 << 24, 4, nr_bits)
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(STRINGS))
    return header + types + STRINGS


def test_valid_btf_loads(session: Session) -> None:
    res = session.btf_load(one_int_btf(32))
    assert res.fd is not None and res.errno == 0
    assert "[1] INT int size=4 bits_offset=0 nr_bits=32" in res.log


def test_invalid_btf_reports_why() -> None:
    res = btf_load(one_int_btf(64))
    assert (res.fd, res.errno) == (None, errno.EINVAL)
    assert res.log.rstrip("\n").endswith("nr_bits exceeds type_size")


def test_bad_magic() -> None:
    res = btf_load(bytes(24))
    assert res.errno == errno.EINVAL
    assert res.log.endswith("Invalid magic")  # no trailing newline in this message
