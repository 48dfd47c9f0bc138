"""pybpf's maps against Linux: recorded answers everywhere, the live kernel where bpf()
works.

The recorded data (tests/data/maps/*.json) comes from ``python tests/maps/difftool.py``
run as root on Linux; each case lists operations and the kernel's results.  Replaying
compares pybpf with those answers; the ``kernel`` tests run the same generators against
the running kernel, including fresh seeds that were never recorded.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import difftool
import pytest

from pybpf.maps import possible_cpus

DATA = Path(__file__).resolve().parent.parent / "data" / "maps"


def _load(name: str) -> list[dict[str, Any]]:
    with open(DATA / f"{name}.json") as f:
        cases: list[dict[str, Any]] = json.load(f)["cases"]
    return cases


def _first_difference(ops: list[dict[str, Any]], want: list[Any], got: list[Any],
                      offset: int = 1) -> str:
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            op = ops[i - offset] if i >= offset else "create"
            return f"result {i} ({op}):\n kernel {a}\n pybpf  {b}"
    return f"lengths differ: {len(want)} vs {len(got)}"


OPS = _load("ops")
CREATE = _load("create")
RINGBUF = _load("ringbuf")
FD = _load("fd")


@pytest.mark.parametrize("case", OPS, ids=[c["name"] for c in OPS])
def test_recorded_operations(case: dict[str, Any]) -> None:
    got = difftool.run_pybpf(case)
    assert got == case["kernel"], _first_difference(case["ops"], case["kernel"], got)


def test_recorded_creation() -> None:
    bad = []
    for case in CREATE:
        key = tuple(case["spec"][f] for f in ("type", "key_size", "value_size", "max_entries",
                                               "flags"))
        got = difftool.run_pybpf_create(case)
        if got != case["kernel"] and key not in difftool.PYBPF_MEMORY_LIMITED:
            bad.append(f"{case['name']}: kernel {case['kernel']} pybpf {got}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("case", RINGBUF, ids=[c["name"] for c in RINGBUF])
def test_recorded_ringbuf(case: dict[str, Any]) -> None:
    got = difftool.run_pybpf_ringbuf(case)
    assert got == case["kernel"], _first_difference(case["ops"], case["kernel"], got, 0)


@pytest.mark.parametrize("case", FD, ids=[c["name"] for c in FD])
def test_recorded_fd_maps(case: dict[str, Any]) -> None:
    got = difftool.run_pybpf_fd(case, case["ids"])
    assert got == case["kernel"], _first_difference(case["ops"], case["kernel"], got, 0)


def test_recorded_data_covers_every_required_type() -> None:
    types = {c["spec"]["type"] for c in OPS + RINGBUF + FD}
    assert types >= {"array", "percpu_array", "hash", "percpu_hash", "lru_hash",
                     "lru_percpu_hash", "prog_array", "array_of_maps", "hash_of_maps", "queue",
                     "stack", "ringbuf"}


# ------------------------------------------------------------------- live kernel ---

FRESH = difftool.corpus_specs()


def _live_cpus(opts: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """This machine's possible CPU count, and ``opts`` without CPU switching when some
    possible CPU cannot be run on."""
    ncpu = possible_cpus()
    if not set(range(ncpu)) <= os.sched_getaffinity(0):
        opts = dict(opts, cpu_switch=False)
    return ncpu, opts


@pytest.mark.kernel
@pytest.mark.parametrize("entry", FRESH, ids=[e[0] for e in FRESH])
def test_live_fresh_sequences(kernel: Any, entry: tuple[str, dict[str, Any], dict[str, Any]]) -> None:
    _, spec, opts = entry
    ncpu, opts = _live_cpus(opts)
    seed = int.from_bytes(os.urandom(4), "little")
    case = difftool.gen_case(spec, seed, 250, ncpu, **opts)
    want = difftool.run_kernel(case)
    got = difftool.run_pybpf(case)
    assert got == want, f"seed {seed}: " + _first_difference(case["ops"], want, got)


@pytest.mark.kernel
def test_live_recorded_operations(kernel: Any) -> None:
    if possible_cpus() != 2:
        pytest.skip("the recorded sequences assume two possible CPUs")
    for case in OPS[::3]:
        want = difftool.run_kernel(case)
        got = difftool.run_pybpf(case)
        assert got == want, case["name"] + ": " + _first_difference(case["ops"], want, got)


@pytest.mark.kernel
def test_live_creation(kernel: Any) -> None:
    bad = []
    for case in difftool.create_cases(possible_cpus()):
        key = tuple(case["spec"][f] for f in ("type", "key_size", "value_size", "max_entries",
                                               "flags"))
        want = difftool.run_kernel_create(case)
        if want == [{"create": errno.ENOMEM}]:
            continue  # the kernel could not find the memory today: says nothing of the rules
        got = difftool.run_pybpf_create(case)
        if got != want and key not in difftool.PYBPF_MEMORY_LIMITED:
            bad.append(f"{case['name']}: kernel {want} pybpf {got}")
    assert not bad, "\n".join(bad)


@pytest.mark.kernel
def test_live_ringbuf(kernel: Any) -> None:
    seed = int.from_bytes(os.urandom(4), "little")
    for size in (4096, 8192):
        case = difftool.ringbuf_case(seed, size, 150)
        want = difftool.run_kernel_ringbuf(case)
        got = difftool.run_pybpf_ringbuf(case)
        assert got == want, f"seed {seed}: " + _first_difference(case["ops"], want, got, 0)


@pytest.mark.kernel
def test_live_fd_maps(kernel: Any) -> None:
    for case in difftool.fd_cases():
        want, ids = difftool.run_kernel_fd(case)
        got = difftool.run_pybpf_fd(case, ids)
        assert got == want, case["name"] + ": " + _first_difference(case["ops"], want, got, 0)


@pytest.mark.kernel
def test_live_large_lru(kernel: Any) -> None:
    spec = {"type": "lru_hash", "key_size": 4, "value_size": 8, "max_entries": 300,
            "flags": difftool.ZS}
    ncpu, opts = _live_cpus({"key_space": 700, "batches": False, "cpu_switch": True})
    seed = int.from_bytes(os.urandom(4), "little")
    case = difftool.gen_case(spec, seed, 2500, ncpu, **opts)
    want = difftool.run_kernel(case)
    got = difftool.run_pybpf(case)
    assert got == want, f"seed {seed}: " + _first_difference(case["ops"], want, got)


@pytest.mark.kernel
def test_live_mmap_and_freeze_rules(kernel: Any) -> None:
    import errno
    import mmap

    from pybpf.errors import BpfError
    from pybpf.maps import MapSpec, MapType, create_map

    rw = mmap.PROT_READ | mmap.PROT_WRITE

    def k_mmap(fd: int, length: int, prot: int, offset: int = 0) -> tuple[int, Any]:
        try:
            return 0, mmap.mmap(fd, length, mmap.MAP_SHARED, prot, offset=offset)
        except OSError as exc:
            return exc.errno or 0, None

    def p_call(fn: Any, *args: Any) -> tuple[int, Any]:
        try:
            return 0, fn(*args)
        except BpfError as exc:
            return exc.errno, None

    results = []
    for flags in (1024, 1024 | 128, 1024 | 8, 0):
        err, fd = kernel.create_map(2, 4, 8, 4, flags)
        assert not err
        m = create_map(MapSpec(MapType.ARRAY, 4, 8, 4, flags), possible_cpus())
        ke, kmap = k_mmap(fd, 4096, rw)
        pe, pmap = p_call(m.mmap, True)
        results.append(("rw", flags, ke, pe))
        results.append(("freeze with mapping", flags, kernel.freeze(fd), p_call(m.freeze)[0]))
        if kmap is not None:
            kmap.close()
        if pmap is not None:
            pmap.close()
        results.append(("freeze", flags, kernel.freeze(fd), p_call(m.freeze)[0]))
        results.append(("freeze again", flags, kernel.freeze(fd), p_call(m.freeze)[0]))
        ke, kmap = k_mmap(fd, 4096, rw)
        results.append(("rw after freeze", flags, ke, p_call(m.mmap, True)[0]))
        ke, kmap = k_mmap(fd, 8192, mmap.PROT_READ)
        results.append(("too long", flags, ke, p_call(m.mmap, False, 0, 8192)[0]))
        os.close(fd)
    err, fd = kernel.create_map(27, 0, 0, 4096)
    rbm = create_map(MapSpec(MapType.RINGBUF, 0, 0, 4096), possible_cpus())
    results.append(("rb rw 2 pages", 0, k_mmap(fd, 8192, rw)[0], p_call(rbm.mmap, True, 0, 8192)[0]))
    ke, kmap = k_mmap(fd, 4096, rw)
    pe, pmap = p_call(rbm.mmap, True, 0, 4096)
    results.append(("rb cons page", 0, ke, pe))
    results.append(("rb freeze", 0, kernel.freeze(fd), p_call(rbm.freeze)[0]))
    os.close(fd)
    bad = [r for r in results if r[2] != r[3]]
    assert not bad, bad
    assert any(r[2] == errno.EBUSY for r in results)
