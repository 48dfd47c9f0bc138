"""Map vocabulary: type numbers, flags, specs, and the lookup3 hash."""

from __future__ import annotations

import errno
import struct

import pytest

from pybpf.errors import BpfError
from pybpf.maps import MapFlag, MapSpec, MapType, UpdateFlag, jhash, jhash2

UAPI_ORDER = [
    "UNSPEC", "HASH", "ARRAY", "PROG_ARRAY", "PERF_EVENT_ARRAY", "PERCPU_HASH",
    "PERCPU_ARRAY", "STACK_TRACE", "CGROUP_ARRAY", "LRU_HASH", "LRU_PERCPU_HASH", "LPM_TRIE",
    "ARRAY_OF_MAPS", "HASH_OF_MAPS", "DEVMAP", "SOCKMAP", "CPUMAP", "XSKMAP", "SOCKHASH",
    "CGROUP_STORAGE", "REUSEPORT_SOCKARRAY", "PERCPU_CGROUP_STORAGE", "QUEUE", "STACK",
    "SK_STORAGE", "DEVMAP_HASH", "STRUCT_OPS", "RINGBUF", "INODE_STORAGE", "TASK_STORAGE",
    "BLOOM_FILTER", "USER_RINGBUF", "CGRP_STORAGE", "ARENA",
]


def test_map_type_numbers_follow_the_uapi_enum() -> None:
    for number, name in enumerate(UAPI_ORDER):
        assert MapType[name] == number
        assert MapType(number).name == name
    assert MapType.CGROUP_STORAGE_DEPRECATED is MapType.CGROUP_STORAGE
    assert MapType.PERCPU_CGROUP_STORAGE_DEPRECATED is MapType.PERCPU_CGROUP_STORAGE


def test_map_type_names() -> None:
    assert MapType.LRU_PERCPU_HASH.case_name == "lru_percpu_hash"
    assert MapType.from_name("lru_percpu_hash") is MapType.LRU_PERCPU_HASH
    assert MapType.from_name("BPF_MAP_TYPE_RINGBUF") is MapType.RINGBUF
    with pytest.raises(BpfError) as exc:
        MapType.from_name("nope")
    assert exc.value.errno == errno.EINVAL


def test_flag_values() -> None:
    assert MapFlag.NO_PREALLOC == 1
    assert MapFlag.NO_COMMON_LRU == 2
    assert MapFlag.RDONLY == 8 and MapFlag.WRONLY == 16
    assert MapFlag.ZERO_SEED == 64
    assert MapFlag.RDONLY_PROG == 128 and MapFlag.WRONLY_PROG == 256
    assert MapFlag.MMAPABLE == 1024 and MapFlag.INNER_MAP == 4096
    assert MapFlag.TOKEN_FD == 1 << 16 and MapFlag.NO_USER_CONV == 1 << 18
    assert (UpdateFlag.ANY, UpdateFlag.NOEXIST, UpdateFlag.EXIST, UpdateFlag.F_LOCK) == (0, 1, 2, 4)


def test_spec_case_round_trip() -> None:
    case = {
        "type": "hash_of_maps", "key_size": 4, "value_size": 4, "max_entries": 8, "flags": 64,
        "inner": {"type": "array", "key_size": 4, "value_size": 16, "max_entries": 1,
                  "flags": 4096},
    }
    spec = MapSpec.from_case(case)
    assert spec.type is MapType.HASH_OF_MAPS
    assert spec.inner == MapSpec(MapType.ARRAY, 4, 16, 1, 4096)
    assert spec.to_case() == case
    assert MapSpec.from_case(spec.to_case()) == spec
    named = MapSpec(MapType.ARRAY, 4, 4, 1, name="rodata", map_extra=0)
    assert MapSpec.from_case(named.to_case()) == named
    assert MapSpec.from_case({"type": 2, "key_size": 4, "value_size": 4,
                              "max_entries": 1}).type is MapType.ARRAY


@pytest.mark.parametrize("bad", [
    {"key_size": 4},
    {"type": "array", "key_size": -1, "value_size": 4, "max_entries": 1},
    {"type": "array", "key_size": 1 << 32, "value_size": 4, "max_entries": 1},
    {"type": "array", "key_size": "4", "value_size": 4, "max_entries": 1},
    {"type": "whatever", "key_size": 4, "value_size": 4, "max_entries": 1},
    {"type": 99, "key_size": 4, "value_size": 4, "max_entries": 1},
    [1, 2],
])
def test_bad_specs_raise_einval(bad: object) -> None:
    with pytest.raises(BpfError) as exc:
        MapSpec.from_case(bad)  # type: ignore[arg-type]
    assert exc.value.errno == errno.EINVAL


def test_jhash_published_vectors() -> None:
    # Bob Jenkins' lookup3 driver values for hashlittle().
    assert jhash(b"", 0) == 0xDEADBEEF
    assert jhash(b"", 0xDEADBEEF) == 0xBD5B7DDE
    assert jhash(b"Four score and seven years ago", 0) == 0x17770551
    assert jhash(b"Four score and seven years ago", 1) == 0xCD628161


def test_jhash2_is_jhash_of_the_words() -> None:
    for n in range(0, 7):
        words = [(0x9E3779B9 * (i + 1)) & 0xFFFFFFFF for i in range(n)]
        data = struct.pack(f"<{n}I", *words)
        for seed in (0, 1, 0xFFFFFFFF):
            assert jhash2(words, seed) == jhash(data, seed)


def test_jhash_tail_lengths_differ() -> None:
    seen = {jhash(bytes(range(n))) for n in range(40)}
    assert len(seen) == 40
