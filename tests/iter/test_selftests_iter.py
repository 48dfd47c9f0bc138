"""The kernel's own map iterator selftests (Debian linux-source-6.12,
``progs/bpf_iter_bpf_*map*.c``), compiled at test time as their Makefile does: pybpf
verifies them as the kernel does (verdicts recorded in
``tests/data/iter/selftests_verdicts.json``; the running kernel is asked again where
bpf() and libbpf are available) and the iterators produce what
``prog_tests/bpf_iter.c`` checks: key and value sums over every element (every CPU's
value for per-CPU maps), the bytes ``bpf_seq_write`` emits, values changed in place,
maps too small refused at attach time, a sleepable program refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .selftests_build import (
    built_objects,
    check_pybpf_verdicts,
    check_running_kernel_verdicts,
    iter_link,
    open_object,
)

SOURCES = [
    "bpf_iter_bpf_hash_map.c", "bpf_iter_bpf_array_map.c", "bpf_iter_bpf_percpu_hash_map.c",
    "bpf_iter_bpf_percpu_array_map.c", "bpf_iter_bpf_map.c",
]  # fmt: skip
VERDICTS = Path(__file__).resolve().parents[1] / "data" / "iter" / "selftests_verdicts.json"
READ = 64  # the selftests read 64 bytes at a time

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return built_objects(tmp_path_factory.mktemp("iter-selftests"), SOURCES)


_open, _link = open_object, iter_link


def _key(a: int, b: int, c: int) -> bytes:
    return b"".join(v.to_bytes(4, "little", signed=True) for v in (a, b, c))


# --- verdicts ----------------------------------------------------------------------------


def test_pybpf_verdicts_are_the_kernels(objs: dict[str, Path]) -> None:
    check_pybpf_verdicts(objs, VERDICTS)


@pytest.mark.kernel
def test_recorded_verdicts_are_the_running_kernels(objs: dict[str, Path]) -> None:
    check_running_kernel_verdicts(objs, VERDICTS)


# --- what prog_tests/bpf_iter.c checks -------------------------------------------------------


def test_bpf_hash_map(objs: dict[str, Path]) -> None:
    from pybpf.errors import BpfError

    obj = _open(objs, "bpf_iter_bpf_hash_map")
    obj.bss["in_test_mode"] = 1
    obj.load()
    for small in ("hashmap2", "hashmap3"):
        with pytest.raises(BpfError) as exc:
            _link(obj, "dump_bpf_hash_map", obj.maps[small].map)
        assert exc.value.errno == 13
    m = obj.maps["hashmap1"].map
    want_a = want_b = want_val = 0
    for i in range(m.spec.max_entries):
        m.update(_key(i + 1, i + 2, i + 3), (i + 4).to_bytes(8, "little"))
        want_a, want_b, want_val = want_a + i + 1, want_b + i + 2, want_val + i + 4
    with pytest.raises(BpfError) as exc:
        _link(obj, "sleepable_dummy_dump", m)
    assert exc.value.errno == 22
    link = _link(obj, "dump_bpf_hash_map", m)
    assert link.read_all(READ) == b""
    assert (obj.bss["key_sum_a"], obj.bss["key_sum_b"], obj.bss["val_sum"]) == (want_a, want_b, want_val)


def test_bpf_hash_map_dump_as_bpftool_shows_it(objs: dict[str, Path]) -> None:
    """The program's comment: two elements, then ``cat`` of the pinned iterator."""
    obj = _open(objs, "bpf_iter_bpf_hash_map")
    obj.load()
    m = obj.maps["hashmap1"].map
    m.update(bytes.fromhex("000000010000000000000001"), bytes.fromhex("0000000100000001"))
    m.update(bytes.fromhex("000000010000000000000002"), bytes.fromhex("0000000100000002"))
    lines = _link(obj, "dump_bpf_hash_map", m).read_all().decode().splitlines()
    assert lines[0] == "map dump starts" and lines[-1] == "map dump ends"
    assert sorted(lines[1:-1]) == [f"{m.id}: (1000000 0 1000000) (100000001000000)",
                                   f"{m.id}: (1000000 0 2000000) (200000001000000)"]  # fmt: skip


def test_bpf_percpu_hash_map(objs: dict[str, Path]) -> None:
    obj = _open(objs, "bpf_iter_bpf_percpu_hash_map")
    ncpus = obj.kernel.num_cpus
    obj.rodata["num_cpus"] = ncpus
    obj.load()
    m = obj.maps["hashmap1"].map
    want_a = want_b = want_val = 0
    for i in range(m.spec.max_entries):
        value = b"".join((i + j).to_bytes(8, "little") for j in range(ncpus))
        m.update(_key(i + 1, i + 2, i + 3), value)
        want_a, want_b = want_a + i + 1, want_b + i + 2
        want_val += sum(i + j for j in range(ncpus))
    _link(obj, "dump_bpf_percpu_hash_map", m).read_all(READ)
    assert (obj.bss["key_sum_a"], obj.bss["key_sum_b"], obj.bss["val_sum"]) == (want_a, want_b, want_val)


def test_bpf_array_map(objs: dict[str, Path]) -> None:
    obj = _open(objs, "bpf_iter_bpf_array_map")
    obj.load()
    m = obj.maps["arraymap1"].map
    for i in range(m.spec.max_entries):
        m.update(i.to_bytes(4, "little"), (i + 4).to_bytes(8, "little"))
    out = _link(obj, "dump_bpf_array_map", m).read_all(READ)
    n = m.spec.max_entries
    assert out == b"".join(i.to_bytes(4, "little") + (i + 4).to_bytes(8, "little") for i in range(n))
    assert (obj.bss["key_sum"], obj.bss["val_sum"]) == (sum(range(n)), sum(i + 4 for i in range(n)))
    h = obj.maps["hashmap1"].map
    for i in range(n):
        assert m.lookup(i.to_bytes(4, "little")) == i.to_bytes(8, "little")
        assert h.lookup((i + 4).to_bytes(8, "little")) == i.to_bytes(4, "little")


def test_bpf_percpu_array_map(objs: dict[str, Path]) -> None:
    obj = _open(objs, "bpf_iter_bpf_percpu_array_map")
    ncpus = obj.kernel.num_cpus
    obj.rodata["num_cpus"] = ncpus
    obj.load()
    m = obj.maps["arraymap1"].map
    want_val = 0
    for i in range(m.spec.max_entries):
        m.update(i.to_bytes(4, "little"), b"".join((i + j).to_bytes(8, "little") for j in range(ncpus)))
        want_val += sum(i + j for j in range(ncpus))
    _link(obj, "dump_bpf_percpu_array_map", m).read_all(READ)
    assert (obj.bss["key_sum"], obj.bss["val_sum"]) == (sum(range(m.spec.max_entries)), want_val)


def test_bpf_map(objs: dict[str, Path]) -> None:
    obj = _open(objs, "bpf_iter_bpf_map")
    obj.load()
    from pybpf.iter import create_iter_link

    text = create_iter_link(obj.programs["dump_bpf_map"].program).read_all(16).decode()
    lines = text.splitlines()
    assert lines[0].split() == ["id", "refcnt", "usercnt", "locked_vm"]
    assert lines[-1].strip() == "%%% END %%%"
    ids = [int(line.split()[0]) for line in lines[1:-1]]
    assert ids == sorted(obj.kernel.maps)
