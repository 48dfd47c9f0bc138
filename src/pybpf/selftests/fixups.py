"""The maps behind test_verifier's ``fixup_*`` lists, as case-file map specs.

test_verifier creates one map per fixup kind a test uses and writes its fd into the
``imm`` of each listed instruction.  A case file names maps by index instead
(``BPF_PSEUDO_MAP_IDX``), so each kind becomes one entry of the case's ``maps``, in the
order test_verifier numbers them, with the sizes and flags it creates them with.  Kinds
whose map needs BTF (a spin lock, a timer, kptrs, socket storage) cannot be written as a
case file and make the test a skip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MapSpec = dict[str, Any]

_NO_PREALLOC = 1 << 0  # test_verifier creates every hash map without preallocation
_RDONLY_PROG = 1 << 7
_WRONLY_PROG = 1 << 8


@dataclass(frozen=True, slots=True)
class FixupKind:
    field: str
    """The ``struct bpf_test`` member listing the instructions to patch."""
    spec: MapSpec | None
    """The map, or None when it cannot be expressed (``skip`` says why)."""
    skip: str | None = None
    note: str | None = None
    """What the case file leaves out even though the verdict does not depend on it."""
    runs_faithful: bool = True
    """False when running the program would differ from test_verifier's runs."""


@dataclass(frozen=True, slots=True)
class Sizes:
    """Sizes test_verifier's maps are made of, taken from its own source."""

    test_val: int
    """``sizeof(struct test_val)``."""
    other_val: int
    """``sizeof(struct other_val)``."""
    cgroup_storage_key: int
    """``sizeof(struct bpf_cgroup_storage_key)``."""
    test_data_len: int
    """``TEST_DATA_LEN``: the value size of the cgroup storages."""
    test_val_init: bytes
    """The value test_verifier writes at key 0 of its arrays (``update_map``)."""


def _map(kind: str, key: int, value: int, entries: int, flags: int = 0, **extra: Any) -> MapSpec:
    spec: MapSpec = {
        "type": kind, "key_size": key, "value_size": value, "max_entries": entries, "flags": flags,
    }  # fmt: skip
    spec.update(extra)
    return spec


_PROG_ARRAY_NOTE = (
    "test_verifier fills the prog array with three programs of the test's type (returning "
    "42, tail-calling again then returning 41, returning 24); the case's array is empty"
)


def fixup_kinds(sizes: Sizes) -> tuple[FixupKind, ...]:
    """Every map fixup kind, in test_verifier's map numbering order."""
    init = sizes.test_val_init.hex()
    btf_reason: Callable[[str], str] = lambda what: (  # noqa: E731
        f"map btf: the {what} map needs BTF for its value type, which a case file cannot carry"
    )
    return (
        FixupKind("fixup_map_hash_8b", _map("hash", 8, 8, 1, _NO_PREALLOC)),
        FixupKind("fixup_map_hash_48b", _map("hash", 8, sizes.test_val, 1, _NO_PREALLOC)),
        FixupKind("fixup_map_hash_16b", _map("hash", 8, sizes.other_val, 1, _NO_PREALLOC)),
        FixupKind("fixup_map_array_48b", _map("array", 4, sizes.test_val, 1, map_init=init)),
        FixupKind(
            "fixup_prog1",
            _map("prog_array", 4, 4, 4),
            note=_PROG_ARRAY_NOTE + " (keys 0, 1, 2)",
            runs_faithful=False,
        ),
        FixupKind(
            "fixup_prog2",
            _map("prog_array", 4, 4, 8),
            note=_PROG_ARRAY_NOTE + " (keys 7, 1, 2)",
            runs_faithful=False,
        ),
        FixupKind("fixup_map_in_map", _map("array_of_maps", 4, 4, 1, inner=_map("array", 4, 4, 1))),
        FixupKind(
            "fixup_cgroup_storage",
            _map("cgroup_storage", sizes.cgroup_storage_key, sizes.test_data_len, 0),
        ),
        FixupKind(
            "fixup_percpu_cgroup_storage",
            _map("percpu_cgroup_storage", sizes.cgroup_storage_key, sizes.test_data_len, 0),
        ),
        FixupKind("fixup_map_sockmap", _map("sockmap", 4, 4, 1)),
        FixupKind("fixup_map_sockhash", _map("sockhash", 4, 4, 1)),
        FixupKind("fixup_map_xskmap", _map("xskmap", 4, 4, 1)),
        FixupKind("fixup_map_stacktrace", _map("stack_trace", 4, 8, 1)),
        FixupKind("fixup_map_spin_lock", None, skip=btf_reason("spin_lock")),
        FixupKind(
            "fixup_map_array_ro", _map("array", 4, sizes.test_val, 1, _RDONLY_PROG, map_init=init)
        ),
        FixupKind(
            "fixup_map_array_wo", _map("array", 4, sizes.test_val, 1, _WRONLY_PROG, map_init=init)
        ),
        FixupKind("fixup_map_array_small", _map("array", 4, 1, 1, map_init=init[:2])),
        FixupKind("fixup_sk_storage_map", None, skip=btf_reason("sk_storage")),
        FixupKind("fixup_map_event_output", _map("perf_event_array", 4, 4, 1)),
        FixupKind("fixup_map_reuseport_array", _map("reuseport_sockarray", 4, 8, 1)),
        FixupKind("fixup_map_ringbuf", _map("ringbuf", 0, 0, 4096)),
        FixupKind("fixup_map_timer", None, skip=btf_reason("timer")),
        FixupKind("fixup_map_kptr", None, skip=btf_reason("kptr")),
    )
