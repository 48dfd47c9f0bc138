"""The running kernel's BTF: opened lazily and quickly, looked up by name, round trip."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pybpf.btf import Kind, Struct, encode
from pybpf.btf.files import VMLINUX, load_vmlinux
from pybpf.btf.parse import parse
from pybpf.btf.resolve import find_member, member_location, resolve_size

pytestmark = pytest.mark.skipif(not os.path.exists(VMLINUX), reason="no /sys/kernel/btf/vmlinux")


def test_lazy_parse_is_fast() -> None:
    raw = Path(VMLINUX).read_bytes()
    start = time.perf_counter()
    btf = parse(raw, lazy=True)
    elapsed = time.perf_counter() - start
    assert len(btf) > 1000
    assert elapsed < 5.0, f"parsing vmlinux lazily took {elapsed:.2f} s"


def test_lookups() -> None:
    btf = load_vmlinux()
    assert load_vmlinux() is btf  # cached per process
    task = btf.find_by_name_kind("task_struct", Kind.STRUCT)
    assert task is not None
    t = btf[task]
    assert isinstance(t, Struct) and t.size == resolve_size(btf, task)
    pid = find_member(btf, task, "pid")
    assert pid is not None
    loc = member_location(btf, pid.member)
    assert (loc.byte_size, loc.signed) == (4, True)
    assert btf.find_by_name_kind("no_such_type_anywhere", Kind.STRUCT) is None


@pytest.mark.slow
def test_full_decode_encodes_to_the_same_bytes() -> None:
    raw = Path(VMLINUX).read_bytes()
    btf = parse(raw)
    assert encode(btf) == raw
