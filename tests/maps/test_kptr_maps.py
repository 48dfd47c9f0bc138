"""Maps with kptrs in their values: which map types take them, malformed tags, freeze and
mmap refused, user space never seeing the pointers, and objects released when the value
holding them is overwritten, deleted or freed with the map.

Creation answers are compared with the running kernel (recorded in
tests/data/maps/kptr_maps_kernel.json; regenerate with
``python -m tests.maps.test_kptr_maps`` where bpf() works).
"""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from pybpf.btf import Btf, Const, Int, Member, Ptr, Struct, TypeTag, Volatile, encode
from pybpf.errors import BpfError
from pybpf.maps import MapSpec, create_map, describe_map_btf
from pybpf.maps.types import MapFlag, MapType

DATA = Path(__file__).resolve().parent.parent / "data" / "maps" / "kptr_maps_kernel.json"
ENOTSUPP = 524


def chain_btf(chain: tuple[str, ...], extra_u64: int = 1) -> tuple[Btf, int, int]:
    """A value ``{u64 a; <chain> p; u64 ...}``; ``chain`` from the member's type down:
    ``ptr``, ``const``, ``volatile``, ``tag:NAME``, ``struct:NAME``, ``int``."""
    b = Btf()
    u32 = b.add(Int(name="unsigned int", size=4, bits=32))
    u64 = b.add(Int(name="unsigned long long", size=8, bits=64))
    tid = 0
    for step in reversed(chain):
        kind, _, name = step.partition(":")
        if kind == "struct":
            tid = b.add(Struct(name=name, size=0))
        elif kind == "int":
            tid = b.add(Int(name="int", size=4, bits=32))
        elif kind == "tag":
            tid = b.add(TypeTag(name=name, type=tid))
        elif kind == "const":
            tid = b.add(Const(type=tid))
        elif kind == "volatile":
            tid = b.add(Volatile(type=tid))
        elif kind == "ptr":
            tid = b.add(Ptr(type=tid))
    members = [Member(name="a", type=u64, offset=0), Member(name="p", type=tid, offset=64)]
    members += [Member(name=f"x{i}", type=u64, offset=128 + 64 * i) for i in range(extra_u64)]
    val = b.add(Struct(name="val", size=16 + 8 * extra_u64, members=tuple(members)))
    return b, u32, val


@dataclass(frozen=True)
class CreateCase:
    name: str
    map_type: MapType
    chain: tuple[str, ...]
    flags: int = 0
    key_size: int = 4
    then: str = ""  # "freeze" or "mmap" after creation


REF_TASK = ("ptr", "tag:kptr", "struct:task_struct")
UNREF_TASK = ("ptr", "tag:kptr_untrusted", "struct:task_struct")
CASES: tuple[CreateCase, ...] = (
    *(
        CreateCase(f"ref_task_{t.name.lower()}", t, REF_TASK)
        for t in (
            MapType.HASH,
            MapType.ARRAY,
            MapType.LRU_HASH,
            MapType.PERCPU_ARRAY,
            MapType.PERCPU_HASH,
            MapType.LRU_PERCPU_HASH,
        )
    ),
    CreateCase("unref_task_array", MapType.ARRAY, UNREF_TASK),
    CreateCase("unref_task_queue", MapType.QUEUE, UNREF_TASK, key_size=0),
    CreateCase("unref_task_bloom", MapType.BLOOM_FILTER, UNREF_TASK, key_size=0),
    CreateCase("two_tags", MapType.ARRAY, ("ptr", "tag:kptr", "tag:kptr", "struct:task_struct")),
    CreateCase("unknown_tag", MapType.ARRAY, ("ptr", "tag:foo", "struct:task_struct")),
    CreateCase("kptr_to_int", MapType.ARRAY, ("ptr", "tag:kptr_untrusted", "int")),
    CreateCase(
        "volatile_ptr",
        MapType.ARRAY,
        ("volatile", "ptr", "tag:kptr_untrusted", "struct:task_struct"),
    ),
    CreateCase(
        "const_ptr", MapType.ARRAY, ("const", "ptr", "tag:kptr_untrusted", "struct:task_struct")
    ),
    CreateCase("ref_no_dtor", MapType.ARRAY, ("ptr", "tag:kptr", "struct:sock")),
    CreateCase("unref_sock", MapType.ARRAY, ("ptr", "tag:kptr_untrusted", "struct:sock")),
    CreateCase("ref_local_type", MapType.ARRAY, ("ptr", "tag:kptr", "struct:pybpf_local_obj")),
    CreateCase("ref_cgroup", MapType.ARRAY, ("ptr", "tag:kptr", "struct:cgroup")),
    CreateCase("ref_test_obj", MapType.ARRAY, ("ptr", "tag:kptr", "struct:prog_test_ref_kfunc")),
    CreateCase("rdonly_prog", MapType.ARRAY, REF_TASK, flags=MapFlag.RDONLY_PROG),
    CreateCase("wronly_prog", MapType.HASH, REF_TASK, flags=MapFlag.WRONLY_PROG),
    CreateCase("mmapable_array", MapType.ARRAY, UNREF_TASK, flags=MapFlag.MMAPABLE),
    CreateCase("freeze_array", MapType.ARRAY, UNREF_TASK, then="freeze"),
    CreateCase("freeze_hash", MapType.HASH, REF_TASK, then="freeze"),
    CreateCase("freeze_plain_ptr", MapType.ARRAY, ("ptr", "struct:task_struct"), then="freeze"),
)


def pybpf_create(case: CreateCase) -> int:
    b, kid, vid = chain_btf(case.chain)
    key_id = kid if case.key_size else 0
    spec = MapSpec(
        case.map_type, case.key_size, 24, 4, case.flags, "m", btf=describe_map_btf(b, key_id, vid)
    )
    try:
        m = create_map(spec)
    except BpfError as exc:
        return exc.errno
    try:
        if case.then == "freeze":
            m.freeze()
    except BpfError as exc:
        return exc.errno
    finally:
        m.close()
    return 0


def kernel_create(case: CreateCase) -> int:
    from pybpf import oracle

    b, kid, vid = chain_btf(case.chain)
    res = oracle.btf_load(encode(b))
    if res.fd is None:
        return -res.errno  # BTF refused at load: negative to tell apart
    fds = [res.fd]
    try:
        key_id = kid if case.key_size else 0
        try:
            fd = oracle.map_create(case.map_type, case.key_size, 24, 4, case.flags, name="m", btf_fd=res.fd,
                                   btf_key_type_id=key_id, btf_value_type_id=vid)  # fmt: skip
        except oracle.OracleError as exc:
            return exc.errno
        fds.append(fd)
        if case.then == "freeze":
            return oracle.map_freeze(fd)
        return 0
    finally:
        for fd in fds:
            oracle.close(fd)


# The kernel refuses a referenced kptr to a kernel struct it cannot release when the BTF
# is loaded (it parses every struct holding a kptr); pybpf's BTF checks know no kernel
# types, so pybpf refuses at map creation, with the same errno (kernel answers for a
# refused BTF load are recorded negative).
BTF_LOAD_STAGE = frozenset({"ref_no_dtor"})


def same(name: str, mine: int, kernel: int) -> bool:
    return mine == (abs(kernel) if name in BTF_LOAD_STAGE else kernel)


def _recorded() -> dict[str, int]:
    return json.loads(DATA.read_text()) if DATA.exists() else {}


def test_creation_answers_are_the_kernels_recorded() -> None:
    rec = _recorded()
    if not rec:
        pytest.skip("no recorded kernel answers")
    bad = [
        (c.name, pybpf_create(c), rec[c.name])
        for c in CASES
        if c.name in rec and not same(c.name, pybpf_create(c), rec[c.name])
    ]
    assert not bad, bad


@pytest.mark.kernel
def test_creation_answers_are_the_live_kernels() -> None:
    from pybpf import oracle

    if not oracle.available():
        pytest.skip(oracle.unavailable_reason())
    bad = []
    for c in CASES:
        k, mine = kernel_create(c), pybpf_create(c)
        if not same(c.name, mine, k):
            bad.append((c.name, mine, k))
    assert not bad, bad


def test_tag_after_modifier_is_refused_at_btf_load() -> None:
    from pybpf.btf.validate import BtfRejected, check

    b, _, _ = chain_btf(("ptr", "const", "tag:kptr", "struct:task_struct"))
    with pytest.raises(BtfRejected) as ei:
        check(encode(b))
    assert ei.value.errno == errno.EINVAL and "Type tags don't precede modifiers" in str(
        ei.value.log
    )


# --- what a value holds ------------------------------------------------------------------


def _obj_map(map_type: MapType) -> tuple[object, object]:
    from pybpf.kernel.vmlinux import alloc_object

    b, kid, vid = chain_btf(REF_TASK)
    m = create_map(MapSpec(map_type, 4, 24, 4, 0, "m", btf=describe_map_btf(b, kid, vid)))
    obj = alloc_object("prog_test_ref_kfunc")
    return m, obj


def test_user_space_never_reads_nor_writes_a_kptr() -> None:
    b, kid, vid = chain_btf(UNREF_TASK)
    m = create_map(MapSpec(MapType.ARRAY, 4, 24, 4, 0, "m", btf=describe_map_btf(b, kid, vid)))
    key = (0).to_bytes(4, "little")
    m.update(
        key, (1).to_bytes(8, "little") + (0xDEAD).to_bytes(8, "little") + (3).to_bytes(8, "little")
    )
    value = m.lookup(key)
    assert (
        value[:8] == (1).to_bytes(8, "little")
        and value[8:16] == bytes(8)
        and value[16:] == (3).to_bytes(8, "little")
    )


def test_special_field_maps_refuse_freeze_and_mmap() -> None:
    b, kid, vid = chain_btf(UNREF_TASK)
    m = create_map(MapSpec(MapType.ARRAY, 4, 24, 4, 0, "m", btf=describe_map_btf(b, kid, vid)))
    with pytest.raises(BpfError) as ei:
        m.freeze()
    assert ei.value.errno == ENOTSUPP
    with pytest.raises(BpfError) as ei:
        m.mmap()
    assert ei.value.errno == ENOTSUPP


def test_inner_map_template_carries_its_kptrs() -> None:
    from pybpf.maps.kptr import map_kptrs

    b, kid, vid = chain_btf(REF_TASK)
    inner = MapSpec(MapType.ARRAY, 4, 24, 4, 0, "inner", btf=describe_map_btf(b, kid, vid))
    outer = create_map(MapSpec(MapType.ARRAY_OF_MAPS, 4, 4, 2, 0, "outer", inner=inner))
    assert [f.offset for f in map_kptrs(outer.spec.inner)] == [8]


if __name__ == "__main__":
    DATA.write_text(
        json.dumps({c.name: kernel_create(c) for c in CASES}, indent=1, sort_keys=True) + "\n"
    )


def test_batch_lookup_hides_kptrs_too() -> None:
    from pybpf.kernel.vmlinux import alloc_object

    b, kid, vid = chain_btf(UNREF_TASK)
    m = create_map(MapSpec(MapType.HASH, 4, 24, 4, 0, "m", btf=describe_map_btf(b, kid, vid)))
    m.update((1).to_bytes(4, "little"), bytes(24))
    # a program stored a pointer there (written straight into the element's memory here)
    from pybpf.memory import MEMORY

    task = alloc_object("task_struct")
    MEMORY.store(m.bpf_lookup((1).to_bytes(4, "little"), 0) + 8, 8, task.address)
    res = m.lookup_batch(None, 4)
    assert res.values == [bytes(24)]
    assert m.lookup((1).to_bytes(4, "little")) == bytes(24)
