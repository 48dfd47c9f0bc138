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


_BASE_NAMES: dict[int, str] = {
    RegType.NOT_INIT: "?",
    RegType.SCALAR_VALUE: "scalar",
    RegType.PTR_TO_CTX: "ctx",
    RegType.CONST_PTR_TO_MAP: "map_ptr",
    RegType.PTR_TO_MAP_VALUE: "map_value",
    RegType.PTR_TO_STACK: "fp",
    RegType.PTR_TO_PACKET: "pkt",
    RegType.PTR_TO_PACKET_META: "pkt_meta",
    RegType.PTR_TO_PACKET_END: "pkt_end",
    RegType.PTR_TO_FLOW_KEYS: "flow_keys",
    RegType.PTR_TO_SOCKET: "sock",
    RegType.PTR_TO_SOCK_COMMON: "sock_common",
    RegType.PTR_TO_TCP_SOCK: "tcp_sock",
    RegType.PTR_TO_TP_BUFFER: "tp_buffer",
    RegType.PTR_TO_XDP_SOCK: "xdp_sock",
    RegType.PTR_TO_BTF_ID: "ptr_",
    RegType.PTR_TO_MEM: "mem",
    RegType.PTR_TO_ARENA: "arena",
    RegType.PTR_TO_BUF: "buf",
    RegType.PTR_TO_FUNC: "func",
    RegType.PTR_TO_MAP_KEY: "map_key",
    RegType.CONST_PTR_TO_DYNPTR: "dynptr_ptr",
}

# The flag prefixes, in the order the verifier log writes them.
_PREFIX_FLAGS: tuple[tuple[TypeFlag, str], ...] = (
    (TypeFlag.MEM_RDONLY, "rdonly_"),
    (TypeFlag.MEM_RINGBUF, "ringbuf_"),
    (TypeFlag.MEM_USER, "user_"),
    (TypeFlag.MEM_PERCPU, "percpu_"),
    (TypeFlag.MEM_RCU, "rcu_"),
    (TypeFlag.PTR_UNTRUSTED, "untrusted_"),
    (TypeFlag.PTR_TRUSTED, "trusted_"),
)


def reg_type_str(t: int, btf_name: str = "") -> str:
    """A register type as the verifier log spells it: ``fp``, ``map_value_or_null``,
    ``trusted_ptr_task_struct``, ``rdonly_ringbuf_mem``, ...

    ``btf_name`` is appended to ``ptr_`` types the way the log's register dumps do;
    the ``expected=`` lists of helper argument errors leave it empty (``trusted_ptr_``).
    """
    base = base_type(t)
    name = _BASE_NAMES.get(base, "?")
    prefix = "".join(text for flag, text in _PREFIX_FLAGS if t & flag)
    postfix = ""
    if t & PTR_MAYBE_NULL:
        postfix = "or_null_" if base == RegType.PTR_TO_BTF_ID else "_or_null"
    if base == RegType.PTR_TO_BTF_ID:
        return f"{prefix}{name}{postfix}{btf_name}"
    return f"{prefix}{name}{postfix}"
