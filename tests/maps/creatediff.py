"""Creation rules of the map types beyond the base set, against the kernel.

Each case is a map spec, optionally described by BTF from :mod:`btfcases` (the names of
the key and value types), and the kernel's answer: the errno of ``BPF_MAP_CREATE`` and,
on success, the max_entries and map_flags the kernel reports.  ``cases()`` enumerates
attribute combinations around each type's limits; recorded answers live in
tests/data/maps/create_more.json.
"""

from __future__ import annotations

import os
from typing import Any

import btfcases

from pybpf.errors import BpfError
from pybpf.maps import MapSpec, MapType, create_map

NP = 1  # BPF_F_NO_PREALLOC
NUMA = 4
RDONLY, WRONLY = 8, 16
RDONLY_PROG, WRONLY_PROG = 128, 256
ZERO_SEED = 64
STACK_BUILD_ID = 32
CLONE = 1 << 9
MMAPABLE = 1 << 10
PRESERVE = 1 << 11
INNER_MAP = 1 << 12
SEGV = 1 << 17
NO_USER_CONV = 1 << 18

Spec = tuple[str, int, int, int, int, int]  # type, key, value, max_entries, flags, map_extra


def _plain() -> list[Spec]:
    s: list[Spec] = []
    common_flags = (NP, NUMA, RDONLY, WRONLY, RDONLY | WRONLY, RDONLY_PROG, WRONLY_PROG,
                    RDONLY_PROG | WRONLY_PROG, ZERO_SEED, MMAPABLE, PRESERVE, INNER_MAP, CLONE,
                    STACK_BUILD_ID, 2, SEGV)
    for t in ("perf_event_array", "cgroup_array"):
        s += [(t, 4, 4, 4, 0, 0), (t, 4, 8, 4, 0, 0), (t, 8, 4, 4, 0, 0), (t, 4, 4, 0, 0, 0),
              (t, 4, 0, 4, 0, 0), (t, 4, 4, 1 << 20, 0, 0)]
        s += [(t, 4, 4, 4, f, 0) for f in common_flags]
        s += [(t, 4, 4, 4, 0, 1)]
    t = "stack_trace"
    s += [(t, 4, 8, 4, 0, 0), (t, 4, 16, 4, 0, 0), (t, 4, 12, 4, 0, 0), (t, 4, 0, 4, 0, 0),
          (t, 4, 4, 4, 0, 0), (t, 8, 8, 4, 0, 0), (t, 4, 8, 0, 0, 0), (t, 4, 127 * 8, 4, 0, 0),
          (t, 4, 128 * 8, 4, 0, 0), (t, 4, 32, 4, STACK_BUILD_ID, 0),
          (t, 4, 40, 4, STACK_BUILD_ID, 0), (t, 4, 127 * 32, 4, STACK_BUILD_ID, 0),
          (t, 4, 128 * 32, 4, STACK_BUILD_ID, 0), (t, 4, 8, (1 << 31) + 1, 0, 0)]
    s += [(t, 4, 8, 4, f, 0) for f in common_flags]
    t = "lpm_trie"
    s += [(t, 8, 8, 4, NP, 0), (t, 8, 8, 4, 0, 0), (t, 4, 8, 4, NP, 0), (t, 5, 8, 4, NP, 0),
          (t, 260, 8, 4, NP, 0), (t, 261, 8, 4, NP, 0), (t, 8, 0, 4, NP, 0), (t, 8, 8, 0, NP, 0),
          (t, 8, 4194024, 4, NP, 0), (t, 8, 4194025, 4, NP, 0), (t, 8, 8, 4, NP, 1),
          (t, 20, 1, 0xFFFFFFFF, NP, 0)]
    s += [(t, 8, 8, 4, NP | f, 0) for f in common_flags]
    t = "bloom_filter"
    s += [(t, 0, 8, 4, 0, 0), (t, 4, 8, 4, 0, 0), (t, 0, 0, 4, 0, 0), (t, 0, 8, 0, 0, 0),
          (t, 0, 1 << 22, 4, 0, 0), (t, 0, (1 << 22) + 1, 4, 0, 0), (t, 0, (1 << 22) + 1, 0, 0, 0),
          (t, 0, 8, 4, 0, 15), (t, 0, 8, 4, 0, 16), (t, 0, 8, 4, 0, 1 << 40),
          (t, 0, 8, 0xFFFFFFFF, 0, 0)]
    s += [(t, 0, 8, 4, f, 0) for f in common_flags]
    for t in ("devmap", "devmap_hash"):
        s += [(t, 4, 4, 4, 0, 0), (t, 4, 8, 4, 0, 0), (t, 4, 12, 4, 0, 0), (t, 4, 0, 4, 0, 0),
              (t, 8, 4, 4, 0, 0), (t, 4, 4, 0, 0, 0), (t, 4, 4, 1 << 20, 0, 0)]
        s += [(t, 4, 8, 4, f, 0) for f in common_flags]
    # a devmap of 2^31 slots may or may not find 16 GiB of pointers; the hash refuses it
    s += [("devmap_hash", 4, 4, (1 << 31) + 1, 0, 0)]
    t = "cpumap"
    s += [(t, 4, 4, 2, 0, 0), (t, 4, 8, 2, 0, 0), (t, 4, 12, 2, 0, 0), (t, 4, 0, 2, 0, 0),
          (t, 8, 4, 2, 0, 0), (t, 4, 4, 0, 0, 0), (t, 4, 4, 64, 0, 0), (t, 4, 4, 1 << 20, 0, 0)]
    s += [(t, 4, 8, 2, f, 0) for f in common_flags]
    t = "xskmap"
    s += [(t, 4, 4, 4, 0, 0), (t, 4, 8, 4, 0, 0), (t, 8, 4, 4, 0, 0), (t, 4, 4, 0, 0, 0)]
    s += [(t, 4, 4, 4, f, 0) for f in common_flags]
    for t in ("sockmap", "sockhash"):
        s += [(t, 4, 4, 4, 0, 0), (t, 4, 8, 4, 0, 0), (t, 4, 12, 4, 0, 0), (t, 4, 0, 4, 0, 0),
              (t, 8, 4, 4, 0, 0), (t, 0, 4, 4, 0, 0), (t, 4, 4, 0, 0, 0), (t, 512, 8, 4, 0, 0),
              (t, 513, 8, 4, 0, 0)]
        s += [(t, 4, 8, 4, f, 0) for f in common_flags]
    s += [("sockhash", 4, 8, 1 << 27, 0, 0), ("sockhash", 4, 8, (1 << 27) + 1, 0, 0),
          ("sockhash", 4, 8, (1 << 31) + 1, 0, 0)]
    t = "reuseport_sockarray"
    s += [(t, 4, 4, 4, 0, 0), (t, 4, 8, 4, 0, 0), (t, 4, 12, 4, 0, 0), (t, 8, 8, 4, 0, 0),
          (t, 4, 8, 0, 0, 0)]
    s += [(t, 4, 8, 4, f, 0) for f in common_flags]
    for t in ("cgroup_storage", "percpu_cgroup_storage"):
        s += [(t, 8, 8, 0, 0, 0), (t, 16, 8, 0, 0, 0), (t, 12, 8, 0, 0, 0), (t, 4, 8, 0, 0, 0),
              (t, 8, 0, 0, 0, 0), (t, 8, 8, 1, 0, 0), (t, 8, 32768, 0, 0, 0),
              (t, 8, 32769, 0, 0, 0), (t, 8, 65407, 0, 0, 0), (t, 8, 65408, 0, 0, 0)]
        s += [(t, 8, 8, 0, f, 0) for f in common_flags]
    for t in ("sk_storage", "inode_storage", "task_storage", "cgrp_storage"):
        s += [(t, 4, 8, 0, NP, 0), (t, 4, 8, 0, 0, 0)]  # no BTF: refused
    t = "user_ringbuf"
    s += [(t, 0, 0, 4096, 0, 0), (t, 0, 0, 8192, 0, 0), (t, 0, 0, 12288, 0, 0),
          (t, 0, 0, 2048, 0, 0), (t, 4, 0, 4096, 0, 0), (t, 0, 4, 4096, 0, 0),
          (t, 0, 0, 0, 0, 0)]
    s += [(t, 0, 0, 4096, f, 0) for f in common_flags]
    t = "arena"
    s += [(t, 0, 0, 4, MMAPABLE, 0), (t, 0, 0, 4, 0, 0), (t, 4, 0, 4, MMAPABLE, 0),
          (t, 0, 4, 4, MMAPABLE, 0), (t, 0, 0, 0, MMAPABLE, 0), (t, 0, 0, 1 << 20, MMAPABLE, 0),
          (t, 0, 0, (1 << 20) + 1, MMAPABLE, 0), (t, 0, 0, 4, MMAPABLE, 4096),
          (t, 0, 0, 4, MMAPABLE, 100), (t, 0, 0, 4, MMAPABLE, (1 << 32) - 4096),
          (t, 0, 0, 4, MMAPABLE, (1 << 32) - 8192), (t, 0, 0, 4, MMAPABLE, 1 << 32),
          (t, 0, 0, 1 << 20, MMAPABLE, 4096), (t, 0, 0, 4, MMAPABLE | SEGV, 0),
          (t, 0, 0, 4, MMAPABLE | NO_USER_CONV, 0), (t, 0, 0, 4, MMAPABLE | SEGV | NO_USER_CONV, 0)]
    s += [(t, 0, 0, 4, MMAPABLE | f, 0) for f in common_flags]
    # map_extra on a type that takes none
    s += [("sockmap", 4, 4, 4, 0, 1), ("devmap", 4, 4, 4, 0, 4096)]
    return s


def _btf() -> list[tuple[Spec, str | None, str]]:
    """(spec, key type, value type) combinations: sizes, key rules, special fields."""
    out: list[tuple[Spec, str | None, str]] = []

    def add(spec: Spec, *kv: tuple[str | None, str]) -> None:
        out.extend((spec, k, v) for k, v in kv)

    add(("hash", 4, 8, 4, 0, 0), ("u32", "val8"), ("u32", "u64"), (None, "val8"),
        ("u64", "val8"), ("u32", "val4"), ("typedef_u32", "val8"), ("fwd", "val8"),
        ("u32", "fwd"), ("u32", "val_lock"), ("u32", "ptr_u32"), ("u16x2", "u8x8"),
        ("int24", "val8"), ("u32", "val_kptr"), ("u32", "val_nested_lock"))
    add(("hash", 4, 16, 4, 0, 0), ("u32", "val_timer"), ("u32", "val_nested_lock"))
    add(("hash", 4, 8, 4, RDONLY_PROG, 0), ("u32", "val_lock"), ("u32", "val8"))
    add(("hash", 4, 8, 4, WRONLY_PROG, 0), ("u32", "val_lock"))
    add(("percpu_hash", 4, 8, 4, 0, 0), ("u32", "val8"), ("u32", "val_lock"), ("u32", "val_kptr"))
    add(("lru_hash", 4, 16, 4, 0, 0), ("u32", "val_timer"))
    add(("lru_hash", 4, 8, 4, 0, 0), ("u32", "val_lock"))
    add(("array", 4, 8, 4, 0, 0), ("u32", "val8"), ("s32", "val8"), ("u64", "val8"),
        ("int24", "val8"), ("int_off", "val8"), ("u16x2", "val8"), ("typedef_u32", "val8"),
        ("u32", "val_lock"), (None, "val8"), ("u32", "val_kptr"))
    add(("array", 4, 4, 1, 0, 0), (None, "datasec"), (None, "val4"), ("u32", "datasec"))
    add(("array", 4, 4, 2, 0, 0), (None, "datasec"))
    add(("array", 4, 16, 1, 0, 0), ("u32", "val_timer"))
    add(("percpu_array", 4, 4, 1, 0, 0), (None, "datasec"))
    add(("percpu_array", 4, 8, 4, 0, 0), ("u32", "val8"), ("u32", "val_lock"))
    add(("percpu_array", 4, 16, 4, 0, 0), ("u32", "val_timer"))
    add(("prog_array", 4, 4, 4, 0, 0), ("u32", "u32"), (None, "u32"))
    add(("perf_event_array", 4, 4, 4, 0, 0), ("u32", "u32"), (None, "u32"))
    add(("cgroup_array", 4, 4, 4, 0, 0), ("u32", "u32"))
    add(("queue", 0, 8, 4, 0, 0), (None, "val8"), ("u32", "val8"))
    add(("stack", 0, 8, 4, 0, 0), (None, "val_lock"))
    add(("stack_trace", 4, 64, 4, 0, 0), ("u32", "u64x8"), (None, "u64x8"))
    add(("lpm_trie", 8, 8, 4, NP, 0), ("lpm_key", "val8"), ("u64", "val8"), ("u8x8", "val8"),
        (None, "val8"), ("lpm_key", "val_lock"))
    add(("bloom_filter", 0, 8, 4, 0, 0), (None, "val8"), (None, "val_lock"), ("u32", "val8"))
    add(("devmap", 4, 8, 4, 0, 0), ("u32", "u64"), (None, "u64"))
    add(("devmap_hash", 4, 4, 4, 0, 0), ("u32", "u32"))
    add(("cpumap", 4, 8, 2, 0, 0), ("u32", "u64"))
    add(("xskmap", 4, 4, 4, 0, 0), ("u32", "u32"), (None, "u32"))
    add(("sockmap", 4, 8, 4, 0, 0), ("u32", "u64"), (None, "u64"), ("u32", "val_lock"))
    add(("sockhash", 4, 8, 4, 0, 0), ("u32", "u64"), (None, "u64"))
    add(("reuseport_sockarray", 4, 8, 4, 0, 0), ("u32", "u64"), (None, "u64"))
    for t in ("cgroup_storage", "percpu_cgroup_storage"):
        add((t, 16, 8, 0, 0, 0), ("cg_key", "val8"), ("cg_key_swapped", "val8"),
            ("cg_key_three", "val8"), ("u64", "val8"), (None, "val8"), ("cg_key", "val_lock"))
        add((t, 8, 8, 0, 0, 0), ("u64", "val8"), ("u8x8", "val8"), ("cg_key", "val8"),
            (None, "val8"), ("u64", "val_timer"))
    for t in ("sk_storage", "inode_storage", "task_storage", "cgrp_storage"):
        add((t, 4, 8, 0, NP, 0), ("u32", "val8"), ("s32", "val8"), ("typedef_u32", "val8"),
            ("int24", "val8"), ("u16x2", "val8"), (None, "val8"), ("u32", "val_lock"),
            ("u32", "val_kptr"), ("u32", "fwd"), ("u32", "u64"), ("u64", "val8"))
        add((t, 4, 16, 0, NP, 0), ("u32", "val_timer"))
        add((t, 4, 8, 0, NP | CLONE, 0), ("u32", "val8"))
        add((t, 4, 8, 0, NP | RDONLY_PROG, 0), ("u32", "val8"), ("u32", "val_lock"))
        add((t, 4, 8, 0, 0, 0), ("u32", "val8"))
        add((t, 4, 8, 1, NP, 0), ("u32", "val8"))
        add((t, 8, 8, 0, NP, 0), ("u64", "val8"))
        add((t, 4, 0, 0, NP, 0), ("u32", "val8"))
        add((t, 4, 65407, 0, NP, 0), ("u32", "val8"))
        add((t, 4, 65408, 0, NP, 0), ("u32", "val8"))
    add(("arena", 0, 0, 4, MMAPABLE, 0), (None, "val8"))
    add(("ringbuf", 0, 0, 4096, 0, 0), (None, "val8"))
    return out


INNER: list[tuple[Spec, str | None, str | None]] = [
    (("perf_event_array", 4, 4, 4, 0, 0), None, None), (("cgroup_array", 4, 4, 4, 0, 0), None, None),
    (("stack_trace", 4, 8, 4, 0, 0), None, None), (("lpm_trie", 8, 8, 4, NP, 0), None, None),
    (("bloom_filter", 0, 8, 4, 0, 0), None, None), (("devmap", 4, 4, 4, 0, 0), None, None),
    (("devmap_hash", 4, 8, 4, 0, 0), None, None), (("cpumap", 4, 4, 2, 0, 0), None, None),
    (("xskmap", 4, 4, 4, 0, 0), None, None), (("sockmap", 4, 4, 4, 0, 0), None, None),
    (("sockhash", 4, 8, 4, 0, 0), None, None),
    (("reuseport_sockarray", 4, 8, 4, 0, 0), None, None),
    (("cgroup_storage", 8, 8, 0, 0, 0), None, None),
    (("percpu_cgroup_storage", 16, 8, 0, 0, 0), None, None),
    (("sk_storage", 4, 8, 0, NP, 0), "u32", "val8"), (("task_storage", 4, 8, 0, NP, 0), "u32", "val8"),
    (("inode_storage", 4, 8, 0, NP, 0), "u32", "val8"), (("cgrp_storage", 4, 8, 0, NP, 0), "u32", "val8"),
    (("user_ringbuf", 0, 0, 4096, 0, 0), None, None), (("ringbuf", 0, 0, 4096, 0, 0), None, None),
    (("arena", 0, 0, 4, MMAPABLE, 0), None, None), (("queue", 0, 8, 4, 0, 0), None, None),
    (("hash", 4, 8, 4, RDONLY, 0), None, None), (("array", 4, 8, 4, WRONLY, 0), None, None),
    (("devmap", 4, 4, 4, RDONLY, 0), None, None),
]
"""Inner maps of every type, as templates of an array_of_maps and a hash_of_maps."""


def cases() -> list[dict[str, Any]]:
    """Every creation case (spec in case form; BTF ones name their library types)."""
    out: list[dict[str, Any]] = []
    for t, k, v, m, f, x in _plain():
        spec = MapSpec(MapType.from_name(t), k, v, m, f, map_extra=x)
        out.append({"name": f"{t}_{k}_{v}_{m}_{f:#x}_{x:#x}", "spec": spec.to_case()})
    for (t, k, v, m, f, x), kt, vt in _btf():
        spec = MapSpec(MapType.from_name(t), k, v, m, f, map_extra=x,
                       btf=btfcases.map_btf(kt, vt))
        out.append({"name": f"btf_{t}_{k}_{v}_{m}_{f:#x}_{kt}_{vt}", "spec": spec.to_case(),
                    "btf_names": [kt, vt]})
    for (t, k, v, m, f, x), kt, vt in INNER:
        btf = btfcases.map_btf(kt, vt) if vt is not None else None
        inner = MapSpec(MapType.from_name(t), k, v, m, f, map_extra=x, btf=btf)
        for outer in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
            spec = MapSpec(outer, 4, 4, 2, inner=inner)
            c = {"name": f"inner_{outer.case_name}_{t}_{f:#x}", "spec": spec.to_case()}
            if vt is not None:
                c["inner_btf_names"] = [kt, vt]
            out.append(c)
    unique: dict[str, dict[str, Any]] = {}
    for c in out:
        unique.setdefault(c["name"], c)
    return list(unique.values())


def run_pybpf(case: dict[str, Any], ncpu: int) -> dict[str, Any]:
    try:
        spec = MapSpec.from_case(case["spec"])
        m = create_map(spec, ncpu)
    except BpfError as exc:
        return {"create": exc.errno}
    out = {"create": 0, "max_entries": m.max_entries, "flags": m.info_flags}
    m.close()
    return out


_btf_fd: list[int] = []


def _kernel_btf_fd() -> int:
    if not _btf_fd:
        from pybpf.oracle import btf_load

        got = btf_load(btfcases.blob(), log_level=0)
        assert got.fd is not None, got.log
        _btf_fd.append(got.fd)
    return _btf_fd[0]


def run_kernel(case: dict[str, Any]) -> dict[str, Any]:
    from pybpf.oracle import OracleError, map_create, map_get_info

    spec = MapSpec.from_case(case["spec"])
    extra: dict[str, int] = {}
    if "btf_names" in case:
        kt, vt = case["btf_names"]
        extra = {"btf_fd": _kernel_btf_fd(), "btf_key_type_id": btfcases.type_id(kt),
                 "btf_value_type_id": btfcases.type_id(vt)}
    inner_fd = 0
    if spec.inner is not None:
        i = spec.inner
        iextra: dict[str, int] = {}
        if "inner_btf_names" in case:
            kt, vt = case["inner_btf_names"]
            iextra = {"btf_fd": _kernel_btf_fd(), "btf_key_type_id": btfcases.type_id(kt),
                      "btf_value_type_id": btfcases.type_id(vt)}
        inner_fd = map_create(i.type, i.key_size, i.value_size, i.max_entries, i.flags,
                              map_extra=i.map_extra, **iextra)
    try:
        fd = map_create(spec.type, spec.key_size, spec.value_size, spec.max_entries, spec.flags,
                        map_extra=spec.map_extra, inner_map_fd=inner_fd, **extra)
    except OracleError as exc:
        return {"create": exc.errno}
    finally:
        if inner_fd:
            os.close(inner_fd)
    info = map_get_info(fd)
    os.close(fd)
    return {"create": 0, "max_entries": info.max_entries, "flags": info.flags}
