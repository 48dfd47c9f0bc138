"""Helper-argument probes: what the verifier says about a call whose arguments are of the
prototype's types but one, predicted from :mod:`pybpf.kernel.protos`.

The prediction follows the verifier's ``check_func_arg`` for the few register kinds the
probe programs use, and only as far as those kinds make the answer certain; where the
kernel would go on to look at BTF, a spin lock or a timer in the map value, the outcome
is ``None`` (not compared).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pybpf.kernel.protos import (
    ArgType,
    HelperProto,
    arg_base,
    arg_is_release,
    arg_may_be_null,
    expected_types_str,
    reg_type_fits,
)
from pybpf.kernel.regtypes import RegType, TypeFlag, reg_type_str

STACK_BYTES = 64
"""The probe programs zero fp-64..fp-1 and pass fp-64 as their stack pointer."""
HASH_KEY, HASH_VALUE = 4, 8
"""The hash map every map argument gets."""
RO_VALUE = 64
"""The frozen read-only array map whose value the ``ro`` kind points to."""


class Kind(Enum):
    UNINIT = "uninit"
    ZERO = "zero"
    ONE = "one"
    EIGHT = "eight"
    FP = "fp"
    CTX = "ctx"
    MAP = "map"
    RO = "ro"


PROBE_KINDS = (Kind.UNINIT, Kind.ZERO, Kind.ONE, Kind.FP, Kind.CTX, Kind.RO)

_REG_TYPE = {
    Kind.ZERO: RegType.SCALAR_VALUE, Kind.ONE: RegType.SCALAR_VALUE,
    Kind.EIGHT: RegType.SCALAR_VALUE, Kind.FP: RegType.PTR_TO_STACK,
    Kind.CTX: RegType.PTR_TO_CTX, Kind.MAP: RegType.CONST_PTR_TO_MAP,
    Kind.RO: RegType.PTR_TO_MAP_VALUE,
}  # fmt: skip
_VALUE = {Kind.ZERO: 0, Kind.ONE: 1, Kind.EIGHT: 8}

OK = ""
"""The arguments passed (whatever the verifier said afterwards)."""


def good_kind(t: int) -> Kind | None:
    """A register kind that satisfies argument type ``t``, if the probes have one."""
    base = arg_base(t)
    if base == ArgType.DONTCARE:
        return Kind.UNINIT
    if base == ArgType.PTR_TO_CTX:
        return Kind.CTX
    if base in (ArgType.ANYTHING, ArgType.SCALAR):
        return Kind.ZERO
    if base == ArgType.CONST_MAP_PTR:
        return Kind.MAP
    if base in (ArgType.CONST_SIZE, ArgType.CONST_SIZE_OR_ZERO,
                ArgType.CONST_ALLOC_SIZE_OR_ZERO):  # fmt: skip
        return Kind.EIGHT
    if base in (ArgType.PTR_TO_MAP_KEY, ArgType.PTR_TO_MAP_VALUE, ArgType.PTR_TO_MEM,
                ArgType.PTR_TO_STACK):  # fmt: skip
        return Kind.FP
    if base == ArgType.PTR_TO_CONST_STR:
        return Kind.RO
    if base == ArgType.PTR_TO_DYNPTR and t & TypeFlag.MEM_UNINIT:
        return Kind.FP
    if arg_may_be_null(t):
        return Kind.ZERO
    return None


def probe_kinds(proto: HelperProto, probed: int, kind: Kind) -> tuple[Kind, ...]:
    """The five argument kinds of a probe: good ones around ``kind`` at ``probed``."""
    kinds = []
    for i in range(5):
        if i == probed:
            kinds.append(kind)
        else:
            kinds.append(good_kind(proto.arg(i)) or Kind.ZERO)
    return tuple(kinds)


@dataclass
class _Meta:
    map_seen: bool = False


class Unpredictable(Exception):
    pass


def _mem_access(regno: int, kind: Kind, size: int, write: bool, zero_ok: bool) -> str:
    """``check_helper_mem_access`` for the probe kinds."""
    if kind == Kind.FP:
        return OK if size <= STACK_BYTES else "unpredictable"
    if kind == Kind.RO:
        if write:
            return f"write into map forbidden, value_size={RO_VALUE} off=0 size={size}"
        return OK if size <= RO_VALUE else "unpredictable"
    if kind == Kind.ZERO and zero_ok and size == 0:
        return OK
    return f"R{regno} type={reg_type_str(_REG_TYPE[kind])} expected=fp"


def _check_arg(proto: HelperProto, i: int, kinds: tuple[Kind, ...], meta: _Meta) -> str:
    t = proto.arg(i)
    kind = kinds[i]
    regno = i + 1
    if t == ArgType.DONTCARE:
        return OK
    if kind == Kind.UNINIT:
        return f"R{regno} !read_ok"
    if t == ArgType.ANYTHING:
        return OK
    base = arg_base(t)
    if base == ArgType.PTR_TO_MAP_VALUE and not meta.map_seen:
        return "invalid map_ptr to access map->type"
    null = kind == Kind.ZERO
    if not (null and arg_may_be_null(t)) and not reg_type_fits(t, _REG_TYPE[kind]):
        actual = reg_type_str(_REG_TYPE[kind])
        return f"R{regno} type={actual} expected={expected_types_str(t)}"
    if arg_is_release(t):
        if base == ArgType.PTR_TO_DYNPTR:
            raise Unpredictable
        if not null:
            return f"R{regno} must be referenced when passed to release function"
    write = bool(t & TypeFlag.MEM_WRITE)
    if base == ArgType.CONST_MAP_PTR:
        meta.map_seen = True
    elif base == ArgType.PTR_TO_MAP_KEY:
        if not meta.map_seen:
            return "invalid map_ptr to access map->key"
        return _mem_access(regno, kind, HASH_KEY, False, False)
    elif base == ArgType.PTR_TO_MAP_VALUE:
        if arg_may_be_null(t) and null:
            return OK
        return _mem_access(regno, kind, HASH_VALUE, write, False)
    elif base == ArgType.PTR_TO_MEM:
        if t & TypeFlag.MEM_FIXED_SIZE:
            return _mem_access(regno, kind, proto.arg_size(i), write, False)
    elif base in (ArgType.CONST_SIZE, ArgType.CONST_SIZE_OR_ZERO):
        zero_ok = base == ArgType.CONST_SIZE_OR_ZERO
        value = _VALUE[kind]
        if value == 0 and not zero_ok:
            return f"R{regno} invalid zero-sized read: u64=[0,0]"
        prev_write = bool(proto.arg(i - 1) & TypeFlag.MEM_WRITE)
        return _mem_access(regno - 1, kinds[i - 1], value, prev_write, zero_ok)
    elif base == ArgType.PTR_TO_DYNPTR:
        if not (t & TypeFlag.MEM_UNINIT) or kind != Kind.FP:
            raise Unpredictable
    elif base in (ArgType.PTR_TO_SPIN_LOCK, ArgType.PTR_TO_TIMER, ArgType.KPTR_XCHG_DEST):
        raise Unpredictable
    return OK


def predict(proto: HelperProto, kinds: tuple[Kind, ...]) -> str | None:
    """The verifier's first complaint about the arguments (:data:`OK` if none), or
    None where the probes cannot tell."""
    meta = _Meta()
    try:
        for i in range(5):
            result = _check_arg(proto, i, kinds, meta)
            if result == "unpredictable":
                return None
            if result:
                return result
    except Unpredictable:
        return None
    return OK


_ARG_MESSAGES = ("write into map forbidden", "invalid map_ptr", "Expected an initialized",
                 "cannot release unowned", "arg ")  # fmt: skip


def is_argument_message(msg: str) -> bool:
    """Messages from the argument checks (as opposed to what the verifier says after
    the arguments passed: map compatibility, unreleased references, ...)."""
    if len(msg) > 2 and msg[0] == "R" and msg[1] in "12345" and msg[2] == " ":
        return True
    return msg.startswith(_ARG_MESSAGES)


def outcome(kernel_msg: str) -> str:
    """A kernel answer reduced to what :func:`predict` can say."""
    return kernel_msg if is_argument_message(kernel_msg) else OK


def probe_program(kinds: tuple[Kind, ...], func_id: int, map_fd: int, ro_fd: int) -> str:
    """The program text for one probe."""
    lines = ["r6 = r1", "call 7", "r0 = 0"]
    lines += [f"*(u64 *)(r10 - {off}) = r0" for off in range(8, STACK_BYTES + 1, 8)]
    for i, kind in enumerate(kinds):
        reg = f"r{i + 1}"
        match kind:
            case Kind.UNINIT:
                pass
            case Kind.ZERO | Kind.ONE | Kind.EIGHT:
                lines.append(f"{reg} = {_VALUE[kind]}")
            case Kind.FP:
                lines += [f"{reg} = r10", f"{reg} += -{STACK_BYTES}"]
            case Kind.CTX:
                lines.append(f"{reg} = r6")
            case Kind.MAP:
                lines.append(f"{reg} = map[fd:{map_fd}]")
            case Kind.RO:
                lines.append(f"{reg} = map[fd:{ro_fd}][0]+0")
    lines += [f"call {func_id}", "r0 = 0", "exit"]
    return "\n".join(lines)
