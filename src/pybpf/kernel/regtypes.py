"""The kernel's register types: a base type plus flag bits (``enum bpf_reg_type`` and
``enum bpf_type_flag`` in include/linux/bpf.h), shared by the context rules, the helper
prototypes and the verifier."""

from __future__ import annotations

from enum import IntEnum, IntFlag

BASE_TYPE_BITS = 8
BASE_TYPE_MASK = (1 << BASE_TYPE_BITS) - 1


class RegType(IntEnum):
    """The base types; combine with :class:`TypeFlag` bits as plain ints."""

    NOT_INIT = 0
    SCALAR_VALUE = 1
    PTR_TO_CTX = 2
    CONST_PTR_TO_MAP = 3
    PTR_TO_MAP_VALUE = 4
    PTR_TO_MAP_KEY = 5
    PTR_TO_STACK = 6
    PTR_TO_PACKET_META = 7
    PTR_TO_PACKET = 8
    PTR_TO_PACKET_END = 9
    PTR_TO_FLOW_KEYS = 10
    PTR_TO_SOCKET = 11
    PTR_TO_SOCK_COMMON = 12
    PTR_TO_TCP_SOCK = 13
    PTR_TO_TP_BUFFER = 14
    PTR_TO_XDP_SOCK = 15
    PTR_TO_BTF_ID = 16
    PTR_TO_MEM = 17
    PTR_TO_ARENA = 18
    PTR_TO_BUF = 19
    PTR_TO_FUNC = 20
    CONST_PTR_TO_DYNPTR = 21


class TypeFlag(IntFlag):
    PTR_MAYBE_NULL = 1 << (0 + BASE_TYPE_BITS)
    MEM_RDONLY = 1 << (1 + BASE_TYPE_BITS)
    MEM_RINGBUF = 1 << (2 + BASE_TYPE_BITS)
    MEM_USER = 1 << (3 + BASE_TYPE_BITS)
    MEM_PERCPU = 1 << (4 + BASE_TYPE_BITS)
    OBJ_RELEASE = 1 << (5 + BASE_TYPE_BITS)
    PTR_UNTRUSTED = 1 << (6 + BASE_TYPE_BITS)
    MEM_UNINIT = 1 << (7 + BASE_TYPE_BITS)
    DYNPTR_TYPE_LOCAL = 1 << (8 + BASE_TYPE_BITS)
    DYNPTR_TYPE_RINGBUF = 1 << (9 + BASE_TYPE_BITS)
    MEM_FIXED_SIZE = 1 << (10 + BASE_TYPE_BITS)
    MEM_ALLOC = 1 << (11 + BASE_TYPE_BITS)
    PTR_TRUSTED = 1 << (12 + BASE_TYPE_BITS)
    MEM_RCU = 1 << (13 + BASE_TYPE_BITS)
    NON_OWN_REF = 1 << (14 + BASE_TYPE_BITS)
    DYNPTR_TYPE_SKB = 1 << (15 + BASE_TYPE_BITS)
    DYNPTR_TYPE_XDP = 1 << (16 + BASE_TYPE_BITS)
    MEM_ALIGNED = 1 << (17 + BASE_TYPE_BITS)
    MEM_WRITE = 1 << (18 + BASE_TYPE_BITS)


PTR_MAYBE_NULL = TypeFlag.PTR_MAYBE_NULL
MEM_RDONLY = TypeFlag.MEM_RDONLY

PTR_TO_MAP_VALUE_OR_NULL = PTR_MAYBE_NULL | RegType.PTR_TO_MAP_VALUE
PTR_TO_SOCKET_OR_NULL = PTR_MAYBE_NULL | RegType.PTR_TO_SOCKET
PTR_TO_SOCK_COMMON_OR_NULL = PTR_MAYBE_NULL | RegType.PTR_TO_SOCK_COMMON
PTR_TO_TCP_SOCK_OR_NULL = PTR_MAYBE_NULL | RegType.PTR_TO_TCP_SOCK
PTR_TO_BTF_ID_OR_NULL = PTR_MAYBE_NULL | RegType.PTR_TO_BTF_ID


def base_type(t: int) -> int:
    return t & BASE_TYPE_MASK


def type_flag(t: int) -> int:
    return t & ~BASE_TYPE_MASK


def type_may_be_null(t: int) -> bool:
    return bool(t & PTR_MAYBE_NULL)
