"""Storage helpers: the cgroup storage of a run, and socket local storage.

A test run gets a fresh, zeroed cgroup storage for each cgroup-storage map its program
uses, as the kernel allocates one per ``BPF_PROG_TEST_RUN`` (not the storage of any
attached cgroup); :func:`test_run_storages` sets them up around the runs and
``bpf_get_local_storage`` hands the program this CPU's copy.  Socket storage lives on
the socket: the skb test run's dummy socket, or a simulated one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ...errors import MemoryFault, RuntimeFault
from ...maps.base import Map, map_at
from ...maps.cgroup_storage import CgroupStorageMap
from ...maps.local_storage import SkStorageMap
from ...memory import MEMORY, Region
from ..env import RunEnv
from .registry import helper

TEST_RUN_CGROUP = 0
"""The cgroup id a test run's storage hangs on: no real cgroup has id 0."""


def _attach_type(program: Any) -> int:
    at = getattr(program, "expected_attach_type", None)
    return int(at) if at is not None else 0


@contextmanager
def test_run_storages(program: Any, maps: Sequence[Map]) -> Iterator[None]:
    """Fresh cgroup storages of ``program``'s maps for the duration of one test run."""
    at = _attach_type(program)
    made = []
    for m in maps:
        if isinstance(m, CgroupStorageMap) and m.storage_addr(TEST_RUN_CGROUP, at, 0) == 0:
            m.attach(TEST_RUN_CGROUP, at)
            made.append(m)
    try:
        yield
    finally:
        for m in made:
            m.detach(TEST_RUN_CGROUP, at)


test_run_storages.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


@helper("get_local_storage")
def get_local_storage(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    m = map_at(r1)
    if not isinstance(m, CgroupStorageMap):
        raise RuntimeFault(env.pc, f"0x{r1:x} is not a cgroup storage map")
    addr = m.storage_addr(TEST_RUN_CGROUP, _attach_type(env.program), env.cpu)
    if addr == 0:
        raise RuntimeFault(env.pc, "bpf_get_local_storage outside a test run (no cgroup storage)")
    return addr


def _sk_storage(env: RunEnv, r1: int, r2: int) -> tuple[SkStorageMap, Region | None]:
    """The socket storage map in r1 and the region of the socket r2 points to."""
    m = map_at(r1)
    if not isinstance(m, SkStorageMap):
        raise RuntimeFault(env.pc, f"0x{r1:x} is not a socket storage map")
    return m, (MEMORY.region_at(r2) if r2 else None)


@helper("sk_storage_get")
def sk_storage_get(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    m, region = _sk_storage(env, r1, r2)
    if region is None or region.base != r2:
        return 0
    init = None
    if r3:
        try:
            init = MEMORY.read(r3, m.value_size, env.pc)
        except MemoryFault:
            return 0
    addr = m.storage_get(region, init, r4)
    forget = getattr(region.owner, "storage_maps", None)
    if addr and forget is not None and m not in forget:
        forget.append(m)  # the socket's storage goes when the socket does
    return addr


@helper("sk_storage_delete")
def sk_storage_delete(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    m, region = _sk_storage(env, r1, r2)
    return m.storage_delete(region) & ((1 << 64) - 1)
