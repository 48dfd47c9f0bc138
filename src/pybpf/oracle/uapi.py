"""The kernel's numbers for bpf(): commands, map, program and attach types, flags.

The values are the ABI of ``include/uapi/linux/bpf.h`` as of Linux 6.18 (the running
kernel's BTF adds ``TRACE_UPROBE_SESSION`` and ``PROG_STREAM_READ_BY_FD`` to what 6.12's
header lists).  Member names drop the kernel's ``BPF_``/``BPF_PROG_TYPE_``/... prefix so
that the lower-case name is the one case files use (``ProgType.SOCKET_FILTER`` is
``socket_filter``).  Map, program and attach types and the map and element flags are
pybpf's own enums (``maps.types``, ``kernel.progtypes``), re-exported here: they carry the
UAPI values, so one vocabulary serves the simulation and the real kernel.
"""

from __future__ import annotations

import errno
from enum import IntEnum, IntFlag
from typing import TypeVar

from ..errors import BpfError
from ..kernel.progtypes import AttachType as AttachType
from ..kernel.progtypes import ProgType as ProgType
from ..maps.types import MapFlag as MapFlag
from ..maps.types import MapType as MapType
from ..maps.types import UpdateFlag

ElemFlag = UpdateFlag
"""The element commands' ``flags`` under the name the oracle's callers use."""


class Cmd(IntEnum):
    """The first argument of bpf()."""

    MAP_CREATE = 0
    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    MAP_GET_NEXT_KEY = 4
    PROG_LOAD = 5
    OBJ_PIN = 6
    OBJ_GET = 7
    PROG_ATTACH = 8
    PROG_DETACH = 9
    PROG_TEST_RUN = 10
    PROG_GET_NEXT_ID = 11
    MAP_GET_NEXT_ID = 12
    PROG_GET_FD_BY_ID = 13
    MAP_GET_FD_BY_ID = 14
    OBJ_GET_INFO_BY_FD = 15
    PROG_QUERY = 16
    RAW_TRACEPOINT_OPEN = 17
    BTF_LOAD = 18
    BTF_GET_FD_BY_ID = 19
    TASK_FD_QUERY = 20
    MAP_LOOKUP_AND_DELETE_ELEM = 21
    MAP_FREEZE = 22
    BTF_GET_NEXT_ID = 23
    MAP_LOOKUP_BATCH = 24
    MAP_LOOKUP_AND_DELETE_BATCH = 25
    MAP_UPDATE_BATCH = 26
    MAP_DELETE_BATCH = 27
    LINK_CREATE = 28
    LINK_UPDATE = 29
    LINK_GET_FD_BY_ID = 30
    LINK_GET_NEXT_ID = 31
    ENABLE_STATS = 32
    ITER_CREATE = 33
    LINK_DETACH = 34
    PROG_BIND_MAP = 35
    TOKEN_CREATE = 36
    PROG_STREAM_READ_BY_FD = 37


class ProgFlag(IntFlag):
    """``prog_flags`` of BPF_PROG_LOAD."""

    STRICT_ALIGNMENT = 1 << 0
    ANY_ALIGNMENT = 1 << 1
    TEST_RND_HI32 = 1 << 2
    TEST_STATE_FREQ = 1 << 3
    SLEEPABLE = 1 << 4
    XDP_HAS_FRAGS = 1 << 5
    XDP_DEV_BOUND_ONLY = 1 << 6
    TEST_REG_INVARIANTS = 1 << 7
    TOKEN_FD = 1 << 16


class TestRunFlag(IntFlag):
    """``flags`` of BPF_PROG_TEST_RUN."""

    __test__ = False  # not a pytest class, despite the name

    RUN_ON_CPU = 1 << 0
    XDP_LIVE_FRAMES = 1 << 1
    SKB_CHECKSUM_COMPLETE = 1 << 2


class LogLevel(IntFlag):
    """The verifier's ``log_level`` bits (BTF_LOAD takes the same)."""

    NONE = 0
    LEVEL1 = 1
    LEVEL2 = 2
    STATS = 4
    FIXED = 8


BPF_OBJ_NAME_LEN = 16
"""Bytes of a map or program name, the terminating NUL included."""

PSEUDO_MAP_FD = 1
PSEUDO_MAP_VALUE = 2
PSEUDO_BTF_ID = 3
PSEUDO_FUNC = 4
PSEUDO_MAP_IDX = 5
PSEUDO_MAP_IDX_VALUE = 6

PERCPU_MAP_TYPES = frozenset(
    {
        MapType.PERCPU_HASH,
        MapType.PERCPU_ARRAY,
        MapType.LRU_PERCPU_HASH,
        MapType.PERCPU_CGROUP_STORAGE,
    }
)
"""Map types whose syscall value holds one 8-byte-aligned slot per possible CPU."""

_E = TypeVar("_E", MapType, ProgType, AttachType)


def _by_name(enum: type[_E], what: str, name: str | int) -> _E:
    if isinstance(name, int):
        try:
            return enum(name)
        except ValueError:
            raise BpfError(errno.EINVAL, f"unknown {what} {name}") from None
    try:
        return enum[name.strip().upper()]
    except KeyError:
        raise BpfError(errno.EINVAL, f"unknown {what} {name!r}") from None


def map_type_by_name(name: str | int) -> MapType:
    """``hash`` -> ``MapType.HASH``; a number is taken as is (EINVAL if unknown)."""
    return _by_name(MapType, "map type", name)


def prog_type_by_name(name: str | int) -> ProgType:
    """``socket_filter`` -> ``ProgType.SOCKET_FILTER``; a number is taken as is."""
    return _by_name(ProgType, "program type", name)


def attach_type_by_name(name: str | int) -> AttachType:
    """``trace_iter`` -> ``AttachType.TRACE_ITER``; a number is taken as is."""
    return _by_name(AttachType, "attach type", name)
