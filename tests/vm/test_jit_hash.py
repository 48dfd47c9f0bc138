"""Native hash-map lookups: the map's mirror stays in step with its lists, and the jit's
lookup written in IR returns what the Python helper returns, for every hash type, key
size and CPU, without calling Python."""

from __future__ import annotations

import contextlib
import errno
import random
import struct
from typing import Any

import pytest

from pybpf.errors import BpfError
from pybpf.isa import assemble
from pybpf.kernel.state import Kernel
from pybpf.maps import create_map
from pybpf.maps.hashtab import HashMap
from pybpf.maps.jhash import jhash
from pybpf.maps.types import BPF_ANY, BPF_EXIST, BPF_NOEXIST, MapFlag, MapSpec, MapType
from pybpf.program import load_program
from pybpf.vm.tiers import Tier, available, using

from .test_jit_codegen import _ir

HASH_TYPES = (MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH)
needs_jit = pytest.mark.skipif(Tier.JIT not in available(), reason="llvmlite is not installed")


def _check_mirror(m: HashMap) -> None:
    """Every bucket of the mirror holds the map's elements in the map's order, each with
    the address ``bpf_lookup`` gives (and nothing else)."""
    native = m.native_index()
    assert native is not None
    seen = 0
    for b in range(m.n_buckets):
        chain = native.walk(b)
        elems = m._buckets.get(b, [])
        assert [(e.key, e.hash, m._value_addr(e)) for e in elems] == chain
        seen += len(chain)
    assert seen == len(m)


def _slots(m: HashMap) -> list[tuple[bytes, int]]:
    """Each key with its element's place (its value's offset from the map's first
    element slot, or 0 for a non-preallocated map)."""
    return [(k, m._index[k].off) for k in m.keys()]  # noqa: SIM118 (get_next_key order)


@pytest.mark.parametrize("mtype", HASH_TYPES)
@pytest.mark.parametrize("flags", [0, MapFlag.NO_PREALLOC, MapFlag.NO_COMMON_LRU])
def test_the_mirror_follows_every_change(mtype: MapType, flags: int) -> None:
    """The mirror matches the lists after every kind of change, and a mirrored map (with
    its free lists moved to native memory) behaves exactly as one never mirrored."""
    lru = mtype in (MapType.LRU_HASH, MapType.LRU_PERCPU_HASH)
    if (flags == MapFlag.NO_PREALLOC and lru) or (flags == MapFlag.NO_COMMON_LRU and not lru):
        pytest.skip("not a valid combination")
    rng = random.Random(f"{mtype}{flags}")
    m, twin = (create_map(MapSpec(mtype, 6, 8, 12, flags | MapFlag.ZERO_SEED), 2) for _ in range(2))
    assert isinstance(m, HashMap) and isinstance(twin, HashMap)
    stride = 16 if m.PERCPU else 8
    for step in range(400):
        if step == 30:
            m.native_index()  # built from what the map holds, then kept in step
        key = bytes([rng.randrange(20)]) + b"k" * 5
        op, cpu, flag = rng.randrange(6), rng.randrange(2), rng.choice([BPF_ANY, BPF_NOEXIST, BPF_EXIST])
        batch = rng.random() < 0.2
        for x in (m, twin):
            if op < 3:
                x.cpu = cpu
                with contextlib.suppress(BpfError):
                    x.update(key, bytes([step % 256]) * stride, flag)
            elif op == 3:
                x.bpf_update(key, bytes([step % 256]) * 8, BPF_ANY, cpu)
            elif op == 4:
                x.bpf_delete(key, cpu)
            elif batch:
                x.lookup_and_delete_batch(None, 3)
            else:
                x.bpf_lookup(key, 0)
            x.synchronize_rcu()
        if step >= 30 and step % 7 == 0:
            _check_mirror(m)
        assert m.items() == twin.items()
        assert _slots(m) == _slots(twin)
    _check_mirror(m)


def _lookup_program(kernel: Kernel, m: Any) -> Any:
    """Look up the key the packet starts with (copied to the stack); return the value's
    first 4 bytes (0xffff when absent)."""
    copy = "\n".join(f"r7 = *(u8 *)(r6 + {i})\n*(u8 *)(r10 - {64 - i}) = r7" for i in range(m.key_size))
    src = f"""
        r6 = *(u32 *)(r1 + 0)
        {copy}
        r1 = map[idx:0]
        r2 = r10
        r2 += -64
        call bpf_map_lookup_elem
        if r0 == 0 goto absent
        r0 = *(u32 *)(r0 + 0)
        exit
    absent:
        r0 = 0xffff
        exit
    """
    return load_program(assemble(src), "xdp", maps=[m], kernel=kernel, verify=False)


def _native_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any) -> int:
        raise AssertionError("the jit called a Python map helper")

    for name in ("bpf_lookup", "bpf_update", "bpf_delete"):
        monkeypatch.setattr(HashMap, name, refuse)


@needs_jit
@pytest.mark.parametrize("key_size", [1, 2, 3, 4, 5, 7, 8, 11, 12, 13, 16, 20, 24, 25, 36, 37, 64])
def test_native_lookup_hashes_every_key_size_as_the_map(key_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = Kernel(seed=0)
    m = kernel.create_map(MapSpec(MapType.HASH, key_size, 8, 64))
    rng = random.Random(key_size)
    keys = list({rng.randbytes(key_size) for _ in range(40)})
    for i, k in enumerate(keys):
        m.update(k, struct.pack("<Q", i + 1))
    absent = [k for k in (rng.randbytes(key_size) for _ in range(20)) if k not in keys]
    prog = _lookup_program(kernel, m)
    want = [i + 1 for i in range(len(keys))] + [0xFFFF] * len(absent)
    with using("interp"):
        assert [prog.run(data=k.ljust(64, b"\0")).retval for k in keys + absent] == want
    with using("jit"):
        prog.run(data=keys[0].ljust(64, b"\0"))  # compiled; the key's region is cached
        _native_only(monkeypatch)
        assert [prog.run(data=k.ljust(64, b"\0")).retval for k in keys + absent] == want
    assert jhash(keys[0], m.seed) == m._hash(keys[0])


@needs_jit
@pytest.mark.parametrize("mtype", HASH_TYPES)
def test_native_lookup_returns_pythons_address_and_sees_python_changes(mtype: MapType, monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = Kernel(seed=0)
    m = kernel.create_map(MapSpec(mtype, 4, 8, 8))
    assert isinstance(m, HashMap)
    src = """
        *(u32 *)(r10 - 4) = 7
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto absent
        r1 = 5
        lock *(u64 *)(r0 + 0) += r1
        r0 = 1
        exit
    absent:
        r0 = 0
        exit
    """
    prog = load_program(assemble(src), "raw_tracepoint", maps=[m], kernel=kernel)
    key = (7).to_bytes(4, "little")
    value = bytes(16) if m.PERCPU else bytes(8)
    with using("jit"):
        assert prog.run(ctx=bytes(8)).retval == 0  # compiled, the map's mirror built
        m.update(key, value)  # a Python change, seen natively
        _native_only(monkeypatch)
        assert prog.run(ctx=bytes(8), cpu=1, repeat=3).retval == 1
        monkeypatch.undo()
        assert m.lookup(key) == (struct.pack("<QQ", 0, 15) if m.PERCPU else struct.pack("<Q", 15))
        native = m.native_index()
        assert native is not None
        ((_, _, copy0),) = native.walk(m._hash(key))
        assert m.bpf_lookup(key, 1) == copy0 + (8 if m.PERCPU else 0)
        m.delete(key)
        _native_only(monkeypatch)
        assert prog.run(ctx=bytes(8)).retval == 0


@needs_jit
def test_lru_references_set_natively_decide_evictions_as_in_python() -> None:
    """Lookups protect elements from eviction by their reference bit: a native lookup
    sets the same bit, so the same elements survive on every tier."""

    def contents(tier: str) -> list[Any]:
        kernel = Kernel(seed=0)
        m = kernel.create_map(MapSpec(MapType.LRU_HASH, 4, 8, 16, MapFlag.NO_COMMON_LRU))
        src = """
            r6 = *(u32 *)(r1 + 0)
            r7 = *(u32 *)(r6 + 0)
            *(u32 *)(r10 - 4) = r7
            *(u64 *)(r10 - 16) = r7
            r1 = map[idx:0]
            r2 = r10
            r2 += -4
            call bpf_map_lookup_elem
            if r0 != 0 goto out
            r1 = map[idx:0]
            r2 = r10
            r2 += -4
            r3 = r10
            r3 += -16
            r4 = 0
            call bpf_map_update_elem
        out:
            r0 = 2
            exit
        """
        prog = load_program(assemble(src), "xdp", maps=[m], kernel=kernel, verify=False)
        rng = random.Random(5)
        with using(tier):
            for _ in range(300):
                k = rng.choice([rng.randrange(4), rng.randrange(100)])
                prog.run(data=k.to_bytes(4, "little").ljust(64, b"\0"))
        return sorted(m.items())

    assert contents("jit") == contents("interp")


@needs_jit
def test_native_percpu_array_helpers_use_the_runs_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    src = """
        *(u32 *)(r10 - 4) = 2
        *(u64 *)(r10 - 16) = 40
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem
        r6 = r0
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 2
        lock *(u64 *)(r0 + 0) += r1
    out:
        r0 = r6
        exit
    """

    def run(tier: str) -> tuple[list[int], list[Any]]:
        kernel = Kernel(seed=0)
        m = kernel.create_map(MapSpec(MapType.PERCPU_ARRAY, 4, 8, 4))
        prog = load_program(assemble(src), "raw_tracepoint", maps=[m], kernel=kernel)
        with using(tier):
            got = [prog.run(ctx=bytes(8), cpu=c).retval for c in (0, 1)]
            if tier == "jit":
                monkeypatch.setattr(type(m), "bpf_lookup", lambda *_: 1 / 0)
                monkeypatch.setattr(type(m), "bpf_update", lambda *_: 1 / 0)
            got += [prog.run(ctx=bytes(8), cpu=1, repeat=5).retval]
            monkeypatch.undo()
        return got, sorted(m.items())

    jit = run("jit")
    assert jit == run("interp")
    assert jit[1][2] == ((2).to_bytes(4, "little"), [struct.pack("<Q", 42)] * 2)


def _ops_program(kernel: Kernel, m: Any) -> Any:
    """Packet: op (0 lookup, 1 update, 2 delete), flags, then the key and an 8-byte value.
    Returns the helper's r0 (a lookup: the value's first 4 bytes, or 0xffff)."""
    ks = m.key_size
    copy = "\n".join(f"r7 = *(u8 *)(r6 + {2 + i})\n*(u8 *)(r10 - {64 - i}) = r7" for i in range(ks))
    src = f"""
        r6 = *(u32 *)(r1 + 0)
        {copy}
        r7 = *(u64 *)(r6 + {2 + ks})
        *(u64 *)(r10 - 128) = r7
        r8 = *(u8 *)(r6 + 0)
        r1 = map[idx:0]
        r2 = r10
        r2 += -64
        if r8 == 1 goto update
        if r8 == 2 goto delete
        call bpf_map_lookup_elem
        if r0 == 0 goto absent
        r0 = *(u32 *)(r0 + 0)
        exit
    absent:
        r0 = 0xffff
        exit
    update:
        r3 = r10
        r3 += -128
        r4 = *(u8 *)(r6 + 1)
        call bpf_map_update_elem
        exit
    delete:
        call bpf_map_delete_elem
        exit
    """
    return load_program(assemble(src), "xdp", maps=[m], kernel=kernel, verify=False)


@needs_jit
@pytest.mark.parametrize("mtype", [MapType.HASH, MapType.PERCPU_HASH])
@pytest.mark.parametrize("key_size", [4, 6])
def test_native_update_and_delete_agree_with_python(
    mtype: MapType, key_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random lookups, updates (every flag, a full map) and deletes: the same results,
    contents, element slots and iteration order on the jit (natively) as on the
    interpreter, with syscall-side changes in between."""
    rng = random.Random(f"{mtype}{key_size}")
    steps = []
    for _ in range(300):
        key = bytes([rng.randrange(24)]) + bytes(key_size - 1)
        steps.append((rng.choice([0, 1, 1, 1, 1, 2]), rng.choice([0, 0, 1, 2, 4, 5]), key, rng.randrange(1 << 64)))

    def run(tier: str) -> Any:
        kernel = Kernel(seed=0)
        m = kernel.create_map(MapSpec(mtype, key_size, 8, 10, MapFlag.ZERO_SEED))
        assert isinstance(m, HashMap)
        prog = _ops_program(kernel, m)
        out = []
        with using(tier):
            prog.run(data=bytes(64))  # compiled (jit), the mirror built
            if tier == "jit":
                _native_only(monkeypatch)
            for i, (op, flags, key, value) in enumerate(steps):
                data = bytes([op, flags]) + key + value.to_bytes(8, "little")
                out.append(prog.run(data=data.ljust(64, b"\0")).retval)
                if i % 50 == 49:  # the syscall side sees native changes, and vice versa
                    monkeypatch.undo()
                    out.append((m.items(), _slots(m), len(m)))
                    with contextlib.suppress(BpfError):
                        m.delete(m.keys()[0])
                    if tier == "jit":
                        _native_only(monkeypatch)
            monkeypatch.undo()
        return out, m.items(), _slots(m), m.lookup_batch(None, 100).keys

    jit = run("jit")
    assert jit == run("interp")
    codes = {r for r in jit[0] if isinstance(r, int)}
    for err in (errno.E2BIG, errno.EEXIST, errno.ENOENT, errno.EINVAL):  # every outcome was met
        assert -err & 0xFFFFFFFF in codes



@needs_jit
def test_a_full_journal_is_replayed_and_native_changes_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """One run making more changes than the journal holds: the map rebuilds its lists
    from the mirror, with the same result."""
    src = """
        r6 = 0
    next:
        r7 = r6
        r7 &= 7
        *(u32 *)(r10 - 4) = r7
        *(u64 *)(r10 - 16) = r6
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem
        r7 = r6
        r7 &= 3
        if r7 != 1 goto more
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        call bpf_map_delete_elem
    more:
        r6 += 1
        if r6 < 1500 goto next
        r0 = 2
        exit
    """

    def run(tier: str) -> Any:
        kernel = Kernel(seed=0)
        m = kernel.create_map(MapSpec(MapType.HASH, 4, 8, 16, MapFlag.ZERO_SEED))
        assert isinstance(m, HashMap)
        prog = load_program(assemble(src), "xdp", maps=[m], kernel=kernel)
        with using(tier):
            if tier == "jit":
                _native_only(monkeypatch)
            assert prog.run(data=bytes(64), repeat=2).retval == 2
            monkeypatch.undo()
        _check_mirror(m)  # the lists rebuilt from the mirror
        return m.items(), _slots(m)

    assert run("jit") == run("interp")


@needs_jit
def test_cpu_helpers_and_hash_of_maps_lookups_agree_with_the_interpreter() -> None:
    src = """
        call bpf_get_smp_processor_id
        r6 = r0
        call bpf_get_numa_node_id
        r6 <<= 8
        r6 |= r0
        *(u32 *)(r10 - 4) = 3
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = r0
        *(u32 *)(r10 - 8) = 1
        r2 = r10
        r2 += -8
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = *(u64 *)(r0 + 0)
        r6 += r1
    out:
        r0 = r6
        exit
    """

    def run(tier: str) -> list[int]:
        kernel = Kernel(seed=0)
        inner = kernel.create_map(MapSpec(MapType.ARRAY, 4, 8, 2))
        inner.update((1).to_bytes(4, "little"), (1000).to_bytes(8, "little"))
        outer = kernel.create_map(MapSpec(MapType.HASH_OF_MAPS, 4, 4, 4, inner=inner.spec))
        prog = load_program(assemble(src), "raw_tracepoint", maps=[outer], kernel=kernel, verify=False)
        with using(tier):
            got = [prog.run(ctx=bytes(8), cpu=1).retval]
            outer.update((3).to_bytes(4, "little"), inner)
            got += [prog.run(ctx=bytes(8), cpu=c).retval for c in (0, 1)]
            outer.delete((3).to_bytes(4, "little"))
            got += [prog.run(ctx=bytes(8), cpu=1).retval]
        return got

    assert run("jit") == run("interp") == [256, 1000, 1256, 256]


@needs_jit
def test_a_call_site_gets_the_fast_path_of_the_map_it_loads_only() -> None:
    kernel = Kernel(seed=0)
    a, b = (kernel.create_map(MapSpec(MapType.HASH, 4, 8, 4)) for _ in range(2))
    src = """
        *(u32 *)(r10 - 4) = 1
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        r1 = map[idx:1]
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        r1 = map[idx:0]
        if r0 == 0 goto other
        r1 = map[idx:1]
    other:
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        r0 = 0
        exit
    """
    prog = load_program(assemble(src), "xdp", maps=[a, b], kernel=kernel)
    ir = _ir(prog.executable)
    # two sites with a known map, one where r1 comes from either: four fast paths
    assert ir.count(f", {a.address}\n") + ir.count(f", {b.address}\n") == 4
