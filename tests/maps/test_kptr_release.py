"""Referenced kptrs at run time: programs acquire a kernel object, move it into a map
with bpf_kptr_xchg and out again; user space and programs overwrite and delete elements;
the map is freed at the end.  Whatever the sequence, every reference taken is given
back exactly once (the object's refcount returns to where it started)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pybpf.kernel.helpers  # noqa: F401  (registers kfuncs and bpf_kptr_xchg)
from pybpf.btf import Btf, Int, Member, Ptr, Struct, TypeTag
from pybpf.isa.asm_c import assemble_c
from pybpf.kernel.vmlinux import kfunc
from pybpf.kernel.vmlinux.runtime import LEDGER, get_ref
from pybpf.kernel.vmlinux.runtime import test_object as shared_object
from pybpf.maps import MapSpec, create_map, describe_map_btf
from pybpf.maps.standins import Task
from pybpf.maps.types import MapFlag, MapType
from pybpf.memory import MEMORY
from pybpf.program import load_program

KEYS = 3


def value_btf() -> tuple[Btf, int, int]:
    """``{u64 a; struct prog_test_ref_kfunc __kptr *p; u64 b}`` and a u32 key."""
    b = Btf()
    u32 = b.add(Int(name="unsigned int", size=4, bits=32))
    u64 = b.add(Int(name="unsigned long long", size=8, bits=64))
    obj = b.add(Struct(name="prog_test_ref_kfunc", size=0))
    ptr = b.add(Ptr(type=b.add(TypeTag(name="kptr", type=obj))))
    members = (Member(name="a", type=u64, offset=0), Member(name="p", type=ptr, offset=64),
               Member(name="b", type=u64, offset=128))  # fmt: skip
    return b, u32, b.add(Struct(name="val", size=24, members=members))


# r6 = the kptr map's value for the key that args[0] names
_VALUE = """
r1 = map[idx:1]
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
call bpf_map_lookup_elem
if r0 == 0 goto out
r1 = *(u32 *)(r0 + 0)
*(u32 *)(r10 - 8) = r1
r1 = map[idx:0]
r2 = r10
r2 += -8
call bpf_map_lookup_elem
if r0 == 0 goto out
r6 = r0
"""
_KEY = """
r1 = map[idx:1]
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
call bpf_map_lookup_elem
if r0 == 0 goto out
r1 = *(u32 *)(r0 + 0)
*(u32 *)(r10 - 8) = r1
"""
_OUT = "out:\nr0 = 0\nexit\n"


def _programs() -> dict[str, str]:
    acq = kfunc("bpf_kfunc_call_test_acquire").func_id  # type: ignore[union-attr]
    rel = kfunc("bpf_kfunc_call_test_release").func_id  # type: ignore[union-attr]
    release_r0 = f"if r0 == 0 goto out\nr1 = r0\ncall kernel-function#{rel}\n"
    return {
        "xchg_in": _VALUE
        + f"*(u64 *)(r10 - 16) = 0\nr1 = r10\nr1 += -16\ncall kernel-function#{acq}\n"
        "if r0 == 0 goto out\nr2 = r0\nr1 = r6\nr1 += 8\ncall bpf_kptr_xchg\n" + release_r0 + _OUT,
        "xchg_out": _VALUE + "r2 = 0\nr1 = r6\nr1 += 8\ncall bpf_kptr_xchg\n" + release_r0 + _OUT,
        "prog_update": _KEY
        + "*(u64 *)(r10 - 32) = 0\n*(u64 *)(r10 - 24) = 0\n*(u64 *)(r10 - 16) = 0\n"
        "r1 = map[idx:0]\nr2 = r10\nr2 += -8\nr3 = r10\nr3 += -32\nr4 = 0\ncall bpf_map_update_elem\n"
        + _OUT,
        "prog_delete": _KEY
        + "r1 = map[idx:0]\nr2 = r10\nr2 += -8\ncall bpf_map_delete_elem\n"
        + _OUT,
    }


@contextmanager
def _setup(
    map_type: MapType, max_entries: int = KEYS, flags: int = 0
) -> Iterator[tuple[object, object, dict[str, object]]]:
    btf, kid, vid = value_btf()
    spec = MapSpec(
        map_type, 4, 24, max_entries, flags, "kptrs", btf=describe_map_btf(btf, kid, vid)
    )
    m = create_map(spec)
    args = create_map(MapSpec(MapType.ARRAY, 4, 4, 1, 0, "args"))
    # verified once (test_programs_verify); each example only loads them on its maps
    progs: dict[str, object] = {
        name: load_program(assemble_c(text), "sched_cls", maps=[m, args], verify=False)
        for name, text in _programs().items()
    }
    try:
        yield m, args, progs
    finally:
        m.close()
        args.close()


def _key(k: int) -> bytes:
    return k.to_bytes(4, "little")


def _apply(op: str, k: int, m: object, args: object, progs: dict[str, object]) -> None:
    from pybpf.errors import BpfError

    if op in progs:
        args.update(_key(0), _key(k))  # type: ignore[attr-defined]
        progs[op].run(bytes(64))  # type: ignore[attr-defined]
        return
    try:
        if op == "update":
            m.update(_key(k), bytes(24))  # type: ignore[attr-defined]
        elif op == "delete":
            m.delete(_key(k))  # type: ignore[attr-defined]
    except BpfError:
        pass  # arrays cannot delete; a missing hash key is fine


OPS = st.lists(st.tuples(st.sampled_from(["xchg_in", "xchg_out", "prog_update", "prog_delete", "update", "delete"]),
                         st.integers(0, KEYS - 1)), max_size=25)  # fmt: skip


# LRU maps get one element fewer than there are keys, so that updates evict
MAPS = [(MapType.HASH, KEYS, 0), (MapType.ARRAY, KEYS, 0), (MapType.LRU_HASH, KEYS - 1, 0),
        (MapType.LRU_HASH, KEYS - 1, int(MapFlag.NO_COMMON_LRU)),
        (MapType.PERCPU_HASH, KEYS, 0), (MapType.LRU_PERCPU_HASH, KEYS - 1, 0)]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("map_type", "max_entries", "flags"), MAPS)
@settings(max_examples=20, deadline=None)
@given(ops=OPS)
def test_every_reference_is_released_exactly_once(
    map_type: MapType, max_entries: int, flags: int, ops: list[tuple[str, int]]
) -> None:
    obj = shared_object()
    start = obj["cnt.refs.counter"]
    LEDGER.clear()
    with _setup(map_type, max_entries, flags) as (m, args, progs):
        for op, k in ops:
            _apply(op, k, m, args, progs)
            held = sum(LEDGER.outstanding().values())
            assert obj["cnt.refs.counter"] == start + held  # the count follows the ledger
    assert LEDGER.outstanding() == {}, (map_type, ops)
    assert obj["cnt.refs.counter"] == start


def test_programs_verify() -> None:
    btf, kid, vid = value_btf()
    m = create_map(
        MapSpec(MapType.HASH, 4, 24, KEYS, 0, "kptrs", btf=describe_map_btf(btf, kid, vid))
    )
    args = create_map(MapSpec(MapType.ARRAY, 4, 4, 1, 0, "args"))
    for text in _programs().values():
        verified = load_program(assemble_c(text), "sched_cls", maps=[m, args]).verified
        assert verified is not None and verified.accepted


def test_user_update_of_an_array_releases_the_held_object() -> None:
    obj = shared_object()
    start = obj["cnt.refs.counter"]
    LEDGER.clear()
    with _setup(MapType.ARRAY) as (m, args, progs):
        _apply("xchg_in", 1, m, args, progs)
        assert obj["cnt.refs.counter"] == start + 1
        assert m.lookup(_key(1))[8:16] == bytes(8)  # type: ignore[attr-defined]  # user space never sees the pointer
        m.update(_key(1), bytes(24))  # type: ignore[attr-defined]
        assert obj["cnt.refs.counter"] == start
    assert LEDGER.outstanding() == {}


def _value_count(m: object) -> int:
    return int(getattr(m, "num_cpus", 1)) if "PERCPU" in m.spec.type.name else 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("map_type", [MapType.LRU_HASH, MapType.LRU_PERCPU_HASH])
@pytest.mark.parametrize("flags", [0, int(MapFlag.NO_COMMON_LRU)])
def test_lru_eviction_releases_the_evicted_object_once(map_type: MapType, flags: int) -> None:
    """An element evicted to make room gives back the object it held, once; the
    elements that stay keep theirs."""
    obj = shared_object()
    start = obj["cnt.refs.counter"]
    LEDGER.clear()
    with _setup(map_type, 4, flags) as (m, args, progs):
        value = bytes(24 * _value_count(m))
        placed: set[int] = set()  # keys whose element was given the object

        def check() -> set[int]:
            kept = {k for k in placed if _key(k) in m}  # type: ignore[operator]
            assert LEDGER.released[obj.address] == len(placed) - len(kept)
            assert sum(LEDGER.outstanding().values()) == len(kept)
            assert obj["cnt.refs.counter"] == start + len(kept)
            return kept

        for k in range(4):
            m.update(_key(k), value)  # type: ignore[attr-defined]
            _apply("xchg_in", k, m, args, progs)
            placed.add(k)
            check()
        kept = check()
        assert kept
        new = 100
        while check() == kept:
            m.update(_key(new), value)  # type: ignore[attr-defined]
            new += 1
            assert new < 200, "no eviction"
    assert LEDGER.outstanding() == {}
    assert obj["cnt.refs.counter"] == start


@pytest.mark.parametrize("map_type", [MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH])
def test_percpu_hash_in_place_update_releases_the_held_object(map_type: MapType) -> None:
    obj = shared_object()
    start = obj["cnt.refs.counter"]
    LEDGER.clear()
    with _setup(map_type) as (m, args, progs):
        _apply("update", 0, m, args, progs)
        _apply("xchg_in", 0, m, args, progs)
        assert obj["cnt.refs.counter"] == start + 1
        _apply("update", 0, m, args, progs)  # the key exists: its values are overwritten
        assert obj["cnt.refs.counter"] == start
    assert LEDGER.outstanding() == {}


# --- local storage: a value gives back its object when replaced, deleted or freed ---


def _task_storage() -> object:
    btf, kid, vid = value_btf()
    return create_map(MapSpec(MapType.TASK_STORAGE, 4, 24, 0, int(MapFlag.NO_PREALLOC), "ts",
                              btf=describe_map_btf(btf, kid, vid)))  # fmt: skip


def _stash(m: object, task: Task) -> None:
    """What a program's bpf_kptr_xchg into the task's storage leaves behind."""
    obj = shared_object()
    addr = m.storage_get(task, None, 1)  # type: ignore[attr-defined]
    assert addr and get_ref(obj.address) == obj.address
    MEMORY.store(addr + 8, 8, obj.address)


@pytest.mark.parametrize(
    "how", ["sys_delete", "helper_delete", "replace", "owner_gone", "map_free"]
)
def test_local_storage_releases_the_held_object(how: str) -> None:
    obj = shared_object()
    start = obj["cnt.refs.counter"]
    LEDGER.clear()
    m = _task_storage()
    task, other = Task(7), Task(8)
    _stash(m, task)
    _stash(m, other)
    assert obj["cnt.refs.counter"] == start + 2
    assert m[task][8:16] == bytes(8)  # type: ignore[index]  # user space never sees it
    if how == "sys_delete":
        m.delete(task)  # type: ignore[attr-defined]
    elif how == "helper_delete":
        assert m.storage_delete(task) == 0  # type: ignore[attr-defined]
    elif how == "replace":
        m.update(task, bytes(range(24)))  # type: ignore[attr-defined]
        assert m[task][8:16] == bytes(8)  # type: ignore[index]  # never taken from user space
    elif how == "owner_gone":
        m.forget(task)  # type: ignore[attr-defined]
    if how != "map_free":
        assert LEDGER.released[obj.address] == 1
        assert obj["cnt.refs.counter"] == start + 1
    m.close()  # type: ignore[attr-defined]
    assert LEDGER.outstanding() == {}
    assert obj["cnt.refs.counter"] == start
