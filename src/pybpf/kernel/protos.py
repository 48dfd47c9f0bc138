"""Helper prototypes: what the verifier knows about each ``bpf_*`` helper.

The kernel describes a helper with a ``struct bpf_func_proto``: the return type, up to
five argument types (a base type from ``enum bpf_arg_type`` plus :class:`TypeFlag`
bits), and a few booleans (GPL only, packet access, may sleep, fastcall).  The verifier
checks every argument register against the argument type and prints
``R2 type=scalar expected=fp, pkt, ...`` from :data:`COMPATIBLE_REG_TYPES` when it does
not fit, so the types here are the kernel's exactly (Linux 6.18, checked against the
running kernel by ``tests/kernel``).

Several helpers have more than one prototype: the kernel hands a program type the
variant that fits its context (``bpf_perf_event_output`` takes the ctx of a kprobe, a
tracepoint, a raw tracepoint, an skb or an xdp buffer).  :data:`PROTOS` holds the
default variant of each helper id, :data:`VARIANTS` all of them by ``(id, variant)``;
:func:`pybpf.kernel.func_proto.func_proto` picks the one a program gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ..isa.helper_ids import HELPER_NAMES
from .regtypes import BASE_TYPE_MASK, RegType, TypeFlag, reg_type_str

MAYBE_NULL = int(TypeFlag.PTR_MAYBE_NULL)
RDONLY = int(TypeFlag.MEM_RDONLY)
RINGBUF = int(TypeFlag.MEM_RINGBUF)
UNINIT = int(TypeFlag.MEM_UNINIT)
WRITE = int(TypeFlag.MEM_WRITE)
FIXED = int(TypeFlag.MEM_FIXED_SIZE)
ALIGNED = int(TypeFlag.MEM_ALIGNED)
RELEASE = int(TypeFlag.OBJ_RELEASE)
TRUSTED = int(TypeFlag.PTR_TRUSTED)
DYNPTR_LOCAL = int(TypeFlag.DYNPTR_TYPE_LOCAL)
DYNPTR_RINGBUF = int(TypeFlag.DYNPTR_TYPE_RINGBUF)


class ArgType(IntEnum):
    """``enum bpf_arg_type`` without the ``ARG_`` prefix: base types, then the
    composites the kernel names (base type plus :class:`TypeFlag` bits)."""

    DONTCARE = 0
    CONST_MAP_PTR = 1
    PTR_TO_MAP_KEY = 2
    PTR_TO_MAP_VALUE = 3
    PTR_TO_MEM = 4
    PTR_TO_ARENA = 5
    CONST_SIZE = 6
    CONST_SIZE_OR_ZERO = 7
    PTR_TO_CTX = 8
    ANYTHING = 9
    SCALAR = 10
    PTR_TO_SPIN_LOCK = 11
    PTR_TO_SOCK_COMMON = 12
    PTR_TO_SOCKET = 13
    PTR_TO_BTF_ID = 14
    PTR_TO_RINGBUF_MEM = 15
    CONST_ALLOC_SIZE_OR_ZERO = 16
    PTR_TO_BTF_ID_SOCK_COMMON = 17
    PTR_TO_PERCPU_BTF_ID = 18
    PTR_TO_FUNC = 19
    PTR_TO_STACK = 20
    PTR_TO_CONST_STR = 21
    PTR_TO_TIMER = 22
    KPTR_XCHG_DEST = 23
    PTR_TO_DYNPTR = 24

    PTR_TO_MAP_VALUE_OR_NULL = MAYBE_NULL | 3
    PTR_TO_MEM_OR_NULL = MAYBE_NULL | 4
    PTR_TO_CTX_OR_NULL = MAYBE_NULL | 8
    PTR_TO_SOCKET_OR_NULL = MAYBE_NULL | 13
    PTR_TO_STACK_OR_NULL = MAYBE_NULL | 20
    PTR_TO_BTF_ID_OR_NULL = MAYBE_NULL | 14
    PTR_TO_UNINIT_MEM = UNINIT | WRITE | 4
    PTR_TO_FIXED_SIZE_MEM = FIXED | 4


class RetType(IntEnum):
    """``enum bpf_return_type`` without the ``RET_`` prefix."""

    INTEGER = 0
    VOID = 1
    PTR_TO_MAP_VALUE = 2
    PTR_TO_SOCKET = 3
    PTR_TO_TCP_SOCK = 4
    PTR_TO_SOCK_COMMON = 5
    PTR_TO_MEM = 6
    PTR_TO_MEM_OR_BTF_ID = 7
    PTR_TO_BTF_ID = 8

    PTR_TO_MAP_VALUE_OR_NULL = MAYBE_NULL | 2
    PTR_TO_SOCKET_OR_NULL = MAYBE_NULL | 3
    PTR_TO_TCP_SOCK_OR_NULL = MAYBE_NULL | 4
    PTR_TO_SOCK_COMMON_OR_NULL = MAYBE_NULL | 5
    PTR_TO_RINGBUF_MEM_OR_NULL = MAYBE_NULL | RINGBUF | 6
    PTR_TO_DYNPTR_MEM_OR_NULL = MAYBE_NULL | 6
    PTR_TO_BTF_ID_OR_NULL = MAYBE_NULL | 8
    PTR_TO_BTF_ID_TRUSTED = TRUSTED | 8


A = ArgType
R = RetType

BTF_ID_POISON = "<poison>"
"""``arg_btf_id``/``ret_btf_id`` that the verifier fills in per call (``BPF_PTR_POISON``:
``bpf_spin_lock`` and ``bpf_kptr_xchg`` take their type from the map value)."""


def arg_base(t: int) -> int:
    return t & BASE_TYPE_MASK


def arg_flags(t: int) -> int:
    return t & ~BASE_TYPE_MASK


def arg_may_be_null(t: int) -> bool:
    return bool(t & MAYBE_NULL)


def arg_is_release(t: int) -> bool:
    return bool(t & RELEASE)


def arg_is_mem_size(t: int) -> bool:
    """Arguments that give the size of the memory the previous argument points to."""
    return arg_base(t) in (ArgType.CONST_SIZE, ArgType.CONST_SIZE_OR_ZERO)


_FLAG_NAMES: tuple[tuple[TypeFlag, str], ...] = tuple((f, f.name or "") for f in TypeFlag)


def arg_type_name(t: int) -> str:
    """``ARG_PTR_TO_MEM|MEM_RDONLY`` style spelling (for messages and tests)."""
    try:
        return "ARG_" + ArgType(t).name
    except ValueError:
        pass
    base = ArgType(arg_base(t)).name
    flags = [name for flag, name in _FLAG_NAMES if t & flag]
    return "|".join(["ARG_" + base, *flags])


def ret_type_name(t: int) -> str:
    try:
        return "RET_" + RetType(t).name
    except ValueError:
        pass
    base = RetType(arg_base(t)).name
    flags = [name for flag, name in _FLAG_NAMES if t & flag]
    return "|".join(["RET_" + base, *flags])


# ---------------------------------------------------------------------------------------
# Register types each argument type accepts (``compatible_reg_types`` in verifier.c), in
# the kernel's order: the order of the ``expected=`` list in the verifier's message.

_BTF = RegType.PTR_TO_BTF_ID
_MEM_TYPES = (
    RegType.PTR_TO_STACK, RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META,
    RegType.PTR_TO_MAP_KEY, RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM,
    RegType.PTR_TO_MEM | RINGBUF, RegType.PTR_TO_BUF, _BTF | TRUSTED,
)  # fmt: skip
_SOCK_TYPES = (
    RegType.PTR_TO_SOCK_COMMON, RegType.PTR_TO_SOCKET, RegType.PTR_TO_TCP_SOCK,
    RegType.PTR_TO_XDP_SOCK,
)  # fmt: skip
_SCALAR_TYPES = (RegType.SCALAR_VALUE,)
_MEM_RCU = int(TypeFlag.MEM_RCU)
_MEM_PERCPU = int(TypeFlag.MEM_PERCPU)
_MEM_ALLOC = int(TypeFlag.MEM_ALLOC)

COMPATIBLE_REG_TYPES: dict[int, tuple[int, ...]] = {
    ArgType.PTR_TO_MAP_KEY: _MEM_TYPES,
    ArgType.PTR_TO_MAP_VALUE: _MEM_TYPES,
    ArgType.CONST_SIZE: _SCALAR_TYPES,
    ArgType.CONST_SIZE_OR_ZERO: _SCALAR_TYPES,
    ArgType.CONST_ALLOC_SIZE_OR_ZERO: _SCALAR_TYPES,
    ArgType.SCALAR: _SCALAR_TYPES,
    ArgType.CONST_MAP_PTR: (RegType.CONST_PTR_TO_MAP,),
    ArgType.PTR_TO_CTX: (RegType.PTR_TO_CTX,),
    ArgType.PTR_TO_SOCK_COMMON: _SOCK_TYPES,
    ArgType.PTR_TO_BTF_ID_SOCK_COMMON: (*_SOCK_TYPES, _BTF, _BTF | TRUSTED),
    ArgType.PTR_TO_SOCKET: (RegType.PTR_TO_SOCKET,),
    ArgType.PTR_TO_BTF_ID: (_BTF, _BTF | TRUSTED, _BTF | _MEM_RCU),
    ArgType.PTR_TO_SPIN_LOCK: (RegType.PTR_TO_MAP_VALUE, _BTF | _MEM_ALLOC),
    ArgType.PTR_TO_MEM: _MEM_TYPES,
    ArgType.PTR_TO_RINGBUF_MEM: (RegType.PTR_TO_MEM | RINGBUF,),
    ArgType.PTR_TO_PERCPU_BTF_ID: (
        _BTF | _MEM_PERCPU, _BTF | _MEM_PERCPU | _MEM_RCU, _BTF | _MEM_PERCPU | TRUSTED,
    ),
    ArgType.PTR_TO_FUNC: (RegType.PTR_TO_FUNC,),
    ArgType.PTR_TO_STACK: (RegType.PTR_TO_STACK,),
    ArgType.PTR_TO_CONST_STR: (RegType.PTR_TO_MAP_VALUE,),
    ArgType.PTR_TO_TIMER: (RegType.PTR_TO_MAP_VALUE,),
    ArgType.KPTR_XCHG_DEST: (RegType.PTR_TO_MAP_VALUE, _BTF | _MEM_ALLOC),
    ArgType.PTR_TO_DYNPTR: (RegType.PTR_TO_STACK, RegType.CONST_PTR_TO_DYNPTR),
}  # fmt: skip
"""Base argument type -> the register types it accepts (``DONTCARE``, ``ANYTHING``
and ``PTR_TO_ARENA`` have no entry: the verifier does not type-check them this way).
``ARG_PTR_TO_BTF_ID_SOCK_COMMON`` without its own btf id means ``struct sock_common``."""

BTF_ID_SOCK_COMMON_DEFAULT = "sock_common"


def compatible_reg_types(arg_type: int) -> tuple[int, ...] | None:
    return COMPATIBLE_REG_TYPES.get(arg_base(arg_type))


def expected_types_str(arg_type: int) -> str:
    """The ``expected=`` part of ``R1 type=ctx expected=fp, pkt, ...``."""
    types = compatible_reg_types(arg_type) or ()
    return ", ".join(reg_type_str(t) for t in types)


def reg_type_fits(arg_type: int, reg_type: int) -> bool:
    """Whether a register of ``reg_type`` passes the type check for ``arg_type``
    (the flag folding of ``check_reg_type``: a read-only or nullable argument also
    takes the plain type; memory arguments ignore the dynptr flavour)."""
    types = compatible_reg_types(arg_type)
    if types is None:
        return False
    t = reg_type
    if arg_type & RDONLY:
        t &= ~RDONLY
    if arg_type & MAYBE_NULL:
        t &= ~MAYBE_NULL
    if arg_base(arg_type) == ArgType.PTR_TO_MEM:
        t &= ~(TypeFlag.DYNPTR_TYPE_LOCAL | TypeFlag.DYNPTR_TYPE_RINGBUF
               | TypeFlag.DYNPTR_TYPE_SKB | TypeFlag.DYNPTR_TYPE_XDP)  # fmt: skip
    return t in types


# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HelperProto:
    """One ``struct bpf_func_proto``.

    ``arg_types`` stops at the last argument that is not ``DONTCARE``.  ``arg_sizes``
    (for ``MEM_FIXED_SIZE`` arguments) and ``arg_btf_ids`` (the struct an
    ``ARG_PTR_TO_BTF_ID`` argument must point to, by BTF type name) run parallel to it,
    0 / None where the kernel has nothing.  ``allowed`` names the extra predicate some
    helpers carry (``helper call is not allowed in probe`` when it fails): see
    :func:`pybpf.kernel.func_proto.helper_allowed`.
    """

    func_id: int
    ret_type: int
    arg_types: tuple[int, ...] = ()
    gpl_only: bool = False
    pkt_access: bool = False
    might_sleep: bool = False
    allow_fastcall: bool = False
    arg_sizes: tuple[int, ...] = ()
    arg_btf_ids: tuple[str | None, ...] = ()
    ret_btf_id: str | None = None
    allowed: str | None = None
    variant: str = ""

    @property
    def name(self) -> str:
        """``bpf_map_lookup_elem``: the name the verifier log uses."""
        return "bpf_" + HELPER_NAMES[self.func_id]

    @property
    def nargs(self) -> int:
        return len(self.arg_types)

    def arg(self, i: int) -> int:
        """Type of argument ``i`` (0-based; ``DONTCARE`` past the last one)."""
        return self.arg_types[i] if i < len(self.arg_types) else ArgType.DONTCARE

    def arg_size(self, i: int) -> int:
        return self.arg_sizes[i] if i < len(self.arg_sizes) else 0

    def arg_btf_id(self, i: int) -> str | None:
        return self.arg_btf_ids[i] if i < len(self.arg_btf_ids) else None

    @property
    def releases(self) -> int | None:
        """Index of the argument the helper releases (``OBJ_RELEASE``), if any."""
        for i, t in enumerate(self.arg_types):
            if t & RELEASE:
                return i
        return None

    def describe(self) -> str:
        args = ", ".join(arg_type_name(t) for t in self.arg_types)
        return f"{ret_type_name(self.ret_type)} {self.name}({args})"


def _p(
    name: str,
    ret: int,
    *args: int,
    gpl: bool = False,
    pkt: bool = False,
    sleep: bool = False,
    fastcall: bool = False,
    sizes: dict[int, int] | None = None,
    btf: dict[int, str] | None = None,
    ret_btf: str | None = None,
    allowed: str | None = None,
    variant: str = "",
) -> HelperProto:
    """A prototype; ``sizes``/``btf`` are keyed by 1-based argument number."""
    func_id = HELPER_NAMES.index(name)
    n = len(args)
    arg_sizes = tuple((sizes or {}).get(i + 1, 0) for i in range(n)) if sizes else ()
    arg_btf = tuple((btf or {}).get(i + 1) for i in range(n)) if btf else ()
    return HelperProto(func_id, ret, tuple(int(a) for a in args), gpl, pkt, sleep, fastcall,
                       arg_sizes, arg_btf, ret_btf, allowed, variant)  # fmt: skip


_CTX = A.PTR_TO_CTX
_ANY = A.ANYTHING
_MAP = A.CONST_MAP_PTR
_KEY = A.PTR_TO_MAP_KEY
_MEM = A.PTR_TO_MEM
_RO_MEM = A.PTR_TO_MEM | RDONLY
_RO_MEM_OR_NULL = A.PTR_TO_MEM | MAYBE_NULL | RDONLY
_UNINIT_MEM = A.PTR_TO_UNINIT_MEM
_SIZE = A.CONST_SIZE
_SIZE0 = A.CONST_SIZE_OR_ZERO
_OUT_U64 = A.PTR_TO_FIXED_SIZE_MEM | UNINIT | WRITE | ALIGNED
_INT = R.INTEGER
_VOID = R.VOID

_TASK = "task_struct"
_SOCK_COMMON = "sock_common"
_SEQ_FILE = "seq_file"

# The event-output shape: (ctx, map, flags, data, size).
_OUTPUT = (_CTX, _MAP, _ANY, _RO_MEM, _SIZE0)
_LOOKUP = (_CTX, _RO_MEM, _SIZE0, _ANY, _ANY)

# fmt: off
ALL_PROTOS: tuple[HelperProto, ...] = (
    # --- maps --------------------------------------------------------------------------
    _p("map_lookup_elem", R.PTR_TO_MAP_VALUE_OR_NULL, _MAP, _KEY, pkt=True),
    _p("map_update_elem", _INT, _MAP, _KEY, A.PTR_TO_MAP_VALUE, _ANY, pkt=True),
    _p("map_delete_elem", _INT, _MAP, _KEY, pkt=True),
    _p("map_push_elem", _INT, _MAP, A.PTR_TO_MAP_VALUE, _ANY, pkt=True),
    _p("map_pop_elem", _INT, _MAP, A.PTR_TO_MAP_VALUE | UNINIT | WRITE),
    _p("map_peek_elem", _INT, _MAP, A.PTR_TO_MAP_VALUE | UNINIT | WRITE),
    _p("map_lookup_percpu_elem", R.PTR_TO_MAP_VALUE_OR_NULL, _MAP, _KEY, _ANY, pkt=True),
    _p("for_each_map_elem", _INT, _MAP, A.PTR_TO_FUNC, A.PTR_TO_STACK_OR_NULL, _ANY),
    _p("tail_call", _VOID, _CTX, _MAP, _ANY),
    _p("get_local_storage", R.PTR_TO_MAP_VALUE, _MAP, _ANY),
    # --- time, cpu, random -------------------------------------------------------------
    _p("ktime_get_ns", _INT),
    _p("ktime_get_boot_ns", _INT),
    _p("ktime_get_coarse_ns", _INT),
    _p("ktime_get_tai_ns", _INT),
    _p("jiffies64", _INT),
    _p("get_prandom_u32", _INT),
    _p("get_smp_processor_id", _INT, variant="raw"),
    _p("get_smp_processor_id", _INT, fastcall=True),
    _p("get_numa_node_id", _INT),
    # --- current task ------------------------------------------------------------------
    _p("get_current_pid_tgid", _INT),
    _p("get_current_uid_gid", _INT),
    _p("get_current_comm", _INT, _UNINIT_MEM, _SIZE),
    _p("get_current_task", _INT, gpl=True),
    _p("get_current_task_btf", R.PTR_TO_BTF_ID_TRUSTED, gpl=True, ret_btf=_TASK),
    _p("task_pt_regs", R.PTR_TO_BTF_ID, A.PTR_TO_BTF_ID, gpl=True, btf={1: _TASK},
       ret_btf="pt_regs"),
    _p("get_ns_current_pid_tgid", _INT, _ANY, _ANY, _UNINIT_MEM, _SIZE),
    _p("get_current_cgroup_id", _INT),
    _p("get_current_ancestor_cgroup_id", _INT, _ANY),
    _p("current_task_under_cgroup", _INT, _MAP, _ANY),
    _p("get_cgroup_classid", _INT, variant="current"),
    _p("send_signal", _INT, _ANY),
    _p("send_signal_thread", _INT, _ANY),
    _p("get_task_stack", _INT, A.PTR_TO_BTF_ID, _UNINIT_MEM, _SIZE0, _ANY, btf={1: _TASK}),
    _p("get_task_stack", _INT, A.PTR_TO_BTF_ID, _UNINIT_MEM, _SIZE0, _ANY, btf={1: _TASK},
       sleep=True, variant="sleepable"),
    _p("find_vma", _INT, A.PTR_TO_BTF_ID, _ANY, A.PTR_TO_FUNC, A.PTR_TO_STACK_OR_NULL, _ANY,
       btf={1: _TASK}),
    _p("copy_from_user", _INT, _UNINIT_MEM, _SIZE0, _ANY, sleep=True),
    _p("copy_from_user_task", _INT, _UNINIT_MEM, _SIZE0, _ANY, A.PTR_TO_BTF_ID, _ANY, gpl=True,
       sleep=True, btf={4: _TASK}),
    # --- memory reads ------------------------------------------------------------------
    _p("probe_read", _INT, _UNINIT_MEM, _SIZE0, _ANY, gpl=True),
    _p("probe_read_str", _INT, _UNINIT_MEM, _SIZE0, _ANY, gpl=True),
    _p("probe_read_user", _INT, _UNINIT_MEM, _SIZE0, _ANY, gpl=True),
    _p("probe_read_kernel", _INT, _UNINIT_MEM, _SIZE0, _ANY, gpl=True),
    _p("probe_read_user_str", _INT, _UNINIT_MEM, _SIZE0, _ANY, gpl=True),
    _p("probe_read_kernel_str", _INT, _UNINIT_MEM, _SIZE0, _ANY, gpl=True),
    _p("probe_write_user", _INT, _ANY, _RO_MEM, _SIZE, gpl=True),
    _p("per_cpu_ptr", R.PTR_TO_MEM_OR_BTF_ID | MAYBE_NULL | RDONLY, A.PTR_TO_PERCPU_BTF_ID, _ANY),
    _p("this_cpu_ptr", R.PTR_TO_MEM_OR_BTF_ID | RDONLY, A.PTR_TO_PERCPU_BTF_ID),
    # --- strings and printing ----------------------------------------------------------
    _p("trace_printk", _INT, _RO_MEM, _SIZE, gpl=True),
    _p("trace_vprintk", _INT, _RO_MEM, _SIZE, _RO_MEM_OR_NULL, _SIZE0, gpl=True),
    _p("snprintf", _INT, A.PTR_TO_MEM_OR_NULL | WRITE, _SIZE0, A.PTR_TO_CONST_STR, _RO_MEM_OR_NULL,
       _SIZE0, gpl=True),
    _p("snprintf_btf", _INT, _MEM | WRITE, _SIZE, _RO_MEM, _SIZE, _ANY),
    _p("seq_printf", _INT, A.PTR_TO_BTF_ID, _RO_MEM, _SIZE, _RO_MEM_OR_NULL, _SIZE0, gpl=True,
       btf={1: _SEQ_FILE}),
    _p("seq_write", _INT, A.PTR_TO_BTF_ID, _RO_MEM, _SIZE0, gpl=True, btf={1: _SEQ_FILE}),
    _p("seq_printf_btf", _INT, A.PTR_TO_BTF_ID, _RO_MEM, _SIZE0, _ANY, gpl=True, btf={1: _SEQ_FILE}),
    _p("strncmp", _INT, _RO_MEM, _SIZE, A.PTR_TO_CONST_STR),
    _p("strtol", _INT, _RO_MEM, _SIZE, _ANY, _OUT_U64, sizes={4: 8}),
    _p("strtoul", _INT, _RO_MEM, _SIZE, _ANY, _OUT_U64, sizes={4: 8}),
    _p("d_path", _INT, A.PTR_TO_BTF_ID, _MEM | WRITE, _SIZE0, btf={1: "path"}, allowed="d_path"),
    # --- ring buffer, dynptr, spin lock, timer, callbacks, kptr ---------------------------
    _p("ringbuf_output", _INT, _MAP, _RO_MEM, _SIZE0, _ANY),
    _p("ringbuf_reserve", R.PTR_TO_RINGBUF_MEM_OR_NULL, _MAP, A.CONST_ALLOC_SIZE_OR_ZERO, _ANY),
    _p("ringbuf_submit", _VOID, A.PTR_TO_RINGBUF_MEM | RELEASE, _ANY),
    _p("ringbuf_discard", _VOID, A.PTR_TO_RINGBUF_MEM | RELEASE, _ANY),
    _p("ringbuf_query", _INT, _MAP, _ANY),
    _p("ringbuf_reserve_dynptr", _INT, _MAP, _ANY, _ANY,
       A.PTR_TO_DYNPTR | DYNPTR_RINGBUF | UNINIT | WRITE),
    _p("ringbuf_submit_dynptr", _VOID, A.PTR_TO_DYNPTR | DYNPTR_RINGBUF | RELEASE, _ANY),
    _p("ringbuf_discard_dynptr", _VOID, A.PTR_TO_DYNPTR | DYNPTR_RINGBUF | RELEASE, _ANY),
    _p("user_ringbuf_drain", _INT, _MAP, A.PTR_TO_FUNC, A.PTR_TO_STACK_OR_NULL, _ANY),
    _p("dynptr_from_mem", _INT, _UNINIT_MEM, _SIZE0, _ANY,
       A.PTR_TO_DYNPTR | DYNPTR_LOCAL | UNINIT | WRITE),
    _p("dynptr_read", _INT, _UNINIT_MEM, _SIZE0, A.PTR_TO_DYNPTR | RDONLY, _ANY, _ANY),
    _p("dynptr_write", _INT, A.PTR_TO_DYNPTR | RDONLY, _ANY, _RO_MEM, _SIZE0, _ANY),
    _p("dynptr_data", R.PTR_TO_DYNPTR_MEM_OR_NULL, A.PTR_TO_DYNPTR | RDONLY, _ANY,
       A.CONST_ALLOC_SIZE_OR_ZERO),
    _p("spin_lock", _VOID, A.PTR_TO_SPIN_LOCK, btf={1: BTF_ID_POISON}),
    _p("spin_unlock", _VOID, A.PTR_TO_SPIN_LOCK, btf={1: BTF_ID_POISON}),
    _p("timer_init", _INT, A.PTR_TO_TIMER, _MAP, _ANY, gpl=True),
    _p("timer_set_callback", _INT, A.PTR_TO_TIMER, A.PTR_TO_FUNC, gpl=True),
    _p("timer_start", _INT, A.PTR_TO_TIMER, _ANY, _ANY, gpl=True),
    _p("timer_cancel", _INT, A.PTR_TO_TIMER, gpl=True),
    _p("loop", _INT, _ANY, A.PTR_TO_FUNC, A.PTR_TO_STACK_OR_NULL, _ANY),
    _p("kptr_xchg", R.PTR_TO_BTF_ID_OR_NULL, A.KPTR_XCHG_DEST, A.PTR_TO_BTF_ID_OR_NULL | RELEASE,
       btf={2: BTF_ID_POISON}, ret_btf=BTF_ID_POISON),
    # --- local storage -----------------------------------------------------------------
    _p("task_storage_get", R.PTR_TO_MAP_VALUE_OR_NULL, _MAP, A.PTR_TO_BTF_ID_OR_NULL,
       A.PTR_TO_MAP_VALUE_OR_NULL, _ANY, btf={2: _TASK}),
    _p("task_storage_get", R.PTR_TO_MAP_VALUE_OR_NULL, _MAP, A.PTR_TO_BTF_ID_OR_NULL,
       A.PTR_TO_MAP_VALUE_OR_NULL, _ANY, btf={2: _TASK}, variant="recur"),
    _p("task_storage_delete", _INT, _MAP, A.PTR_TO_BTF_ID_OR_NULL, btf={2: _TASK}),
    _p("task_storage_delete", _INT, _MAP, A.PTR_TO_BTF_ID_OR_NULL, btf={2: _TASK}, variant="recur"),
    _p("cgrp_storage_get", R.PTR_TO_MAP_VALUE_OR_NULL, _MAP, A.PTR_TO_BTF_ID_OR_NULL,
       A.PTR_TO_MAP_VALUE_OR_NULL, _ANY, btf={2: "cgroup"}),
    _p("cgrp_storage_delete", _INT, _MAP, A.PTR_TO_BTF_ID_OR_NULL, btf={2: "cgroup"}),
    _p("inode_storage_get", R.PTR_TO_MAP_VALUE_OR_NULL, _MAP, A.PTR_TO_BTF_ID_OR_NULL,
       A.PTR_TO_MAP_VALUE_OR_NULL, _ANY, btf={2: "inode"}),
    _p("inode_storage_delete", _INT, _MAP, A.PTR_TO_BTF_ID_OR_NULL, btf={2: "inode"}),
    _p("sk_storage_get", R.PTR_TO_MAP_VALUE_OR_NULL, _MAP, A.PTR_TO_BTF_ID_SOCK_COMMON,
       A.PTR_TO_MAP_VALUE_OR_NULL, _ANY),
    _p("sk_storage_get", R.PTR_TO_MAP_VALUE_OR_NULL, _MAP, _CTX, A.PTR_TO_MAP_VALUE_OR_NULL, _ANY,
       variant="cg_sock"),
    _p("sk_storage_get", R.PTR_TO_MAP_VALUE_OR_NULL, _MAP, A.PTR_TO_BTF_ID_OR_NULL,
       A.PTR_TO_MAP_VALUE_OR_NULL, _ANY, btf={2: _SOCK_COMMON}, allowed="sk_storage_tracing",
       variant="tracing"),
    _p("sk_storage_delete", _INT, _MAP, A.PTR_TO_BTF_ID_SOCK_COMMON),
    _p("sk_storage_delete", _INT, _MAP, A.PTR_TO_BTF_ID_OR_NULL, btf={2: _SOCK_COMMON},
       allowed="sk_storage_tracing", variant="tracing"),
    # --- perf events and stacks --------------------------------------------------------
    _p("perf_event_read", _INT, _MAP, _ANY, gpl=True),
    _p("perf_event_read_value", _INT, _MAP, _ANY, _UNINIT_MEM, _SIZE, gpl=True),
    _p("perf_prog_read_value", _INT, _CTX, _UNINIT_MEM, _SIZE, gpl=True),
    _p("read_branch_records", _INT, _CTX, A.PTR_TO_MEM_OR_NULL | WRITE, _SIZE0, _ANY, gpl=True),
    _p("get_branch_snapshot", _INT, _UNINIT_MEM, _SIZE0, gpl=True),
    _p("perf_event_output", _INT, *_OUTPUT, gpl=True, variant="kprobe"),
    _p("perf_event_output", _INT, *_OUTPUT, gpl=True, variant="tp"),
    _p("perf_event_output", _INT, *_OUTPUT, gpl=True, variant="raw_tp"),
    _p("perf_event_output", _INT, *_OUTPUT, gpl=True, variant="skb"),
    _p("perf_event_output", _INT, *_OUTPUT, gpl=True, variant="xdp"),
    _p("perf_event_output", _INT, *_OUTPUT, gpl=True),
    _p("skb_output", _INT, A.PTR_TO_BTF_ID, _MAP, _ANY, _RO_MEM, _SIZE0, gpl=True, btf={1: "sk_buff"}),
    _p("xdp_output", _INT, A.PTR_TO_BTF_ID, _MAP, _ANY, _RO_MEM, _SIZE0, gpl=True, btf={1: "xdp_buff"}),
    _p("get_stackid", _INT, _CTX, _MAP, _ANY, gpl=True),
    _p("get_stackid", _INT, _CTX, _MAP, _ANY, gpl=True, variant="tp"),
    _p("get_stackid", _INT, _CTX, _MAP, _ANY, gpl=True, variant="raw_tp"),
    _p("get_stackid", _INT, _CTX, _MAP, _ANY, variant="pe"),
    _p("get_stack", _INT, _CTX, _UNINIT_MEM, _SIZE0, _ANY, gpl=True),
    _p("get_stack", _INT, _CTX, _UNINIT_MEM, _SIZE0, _ANY, gpl=True, sleep=True, variant="sleepable"),
    _p("get_stack", _INT, _CTX, _UNINIT_MEM, _SIZE0, _ANY, gpl=True, variant="tp"),
    _p("get_stack", _INT, _CTX, _UNINIT_MEM, _SIZE0, _ANY, gpl=True, variant="raw_tp"),
    _p("get_stack", _INT, _CTX, _UNINIT_MEM, _SIZE0, _ANY, gpl=True, variant="pe"),
    # --- tracing context ---------------------------------------------------------------
    _p("override_return", _INT, _CTX, _ANY, gpl=True),
    _p("get_func_ip", _INT, _CTX, gpl=True),
    _p("get_func_ip", _INT, _CTX, gpl=True, variant="kprobe"),
    _p("get_func_ip", _INT, _CTX, variant="kprobe_multi"),
    _p("get_func_ip", _INT, _CTX, variant="uprobe_multi"),
    _p("get_attach_cookie", _INT, _CTX),
    _p("get_attach_cookie", _INT, _CTX, variant="trace"),
    _p("get_attach_cookie", _INT, _CTX, variant="kprobe_multi"),
    _p("get_attach_cookie", _INT, _CTX, variant="uprobe_multi"),
    _p("get_attach_cookie", _INT, _CTX, variant="pe"),
    _p("get_attach_cookie", _INT, _CTX, variant="lsm"),
    _p("get_func_arg", _INT, _CTX, _ANY, _OUT_U64, sizes={3: 8}),
    _p("get_func_ret", _INT, _CTX, _OUT_U64, sizes={2: 8}),
    _p("get_func_arg_cnt", _INT, _CTX),
    # --- skb -----------------------------------------------------------------------------
    _p("skb_store_bytes", _INT, _CTX, _ANY, _RO_MEM, _SIZE, _ANY),
    _p("skb_load_bytes", _INT, _CTX, _ANY, _UNINIT_MEM, _SIZE),
    _p("skb_load_bytes", _INT, _CTX, _ANY, _UNINIT_MEM, _SIZE, variant="flow_dissector"),
    _p("skb_load_bytes", _INT, _CTX, _ANY, _UNINIT_MEM, _SIZE, variant="sk_reuseport"),
    _p("skb_load_bytes_relative", _INT, _CTX, _ANY, _UNINIT_MEM, _SIZE, _ANY),
    _p("skb_load_bytes_relative", _INT, _CTX, _ANY, _UNINIT_MEM, _SIZE, _ANY, variant="sk_reuseport"),
    _p("skb_pull_data", _INT, _CTX, _ANY),
    _p("skb_pull_data", _INT, _CTX, _ANY, variant="sk_skb"),
    _p("l3_csum_replace", _INT, _CTX, _ANY, _ANY, _ANY, _ANY),
    _p("l4_csum_replace", _INT, _CTX, _ANY, _ANY, _ANY, _ANY),
    _p("csum_diff", _INT, _RO_MEM_OR_NULL, _SIZE0, _RO_MEM_OR_NULL, _SIZE0, _ANY, pkt=True),
    _p("csum_update", _INT, _CTX, _ANY),
    _p("csum_level", _INT, _CTX, _ANY),
    _p("clone_redirect", _INT, _CTX, _ANY, _ANY),
    _p("redirect", _INT, _ANY, _ANY),
    _p("redirect", _INT, _ANY, _ANY, variant="xdp"),
    _p("redirect_neigh", _INT, _ANY, _RO_MEM_OR_NULL, _SIZE0, _ANY),
    _p("redirect_peer", _INT, _ANY, _ANY),
    _p("get_cgroup_classid", _INT, _CTX),
    _p("skb_cgroup_classid", _INT, _CTX),
    _p("get_route_realm", _INT, _CTX),
    _p("get_hash_recalc", _INT, _CTX),
    _p("set_hash_invalid", _INT, _CTX),
    _p("set_hash", _INT, _CTX, _ANY),
    _p("skb_vlan_push", _INT, _CTX, _ANY, _ANY),
    _p("skb_vlan_pop", _INT, _CTX),
    _p("skb_change_proto", _INT, _CTX, _ANY, _ANY),
    _p("skb_change_type", _INT, _CTX, _ANY),
    _p("skb_adjust_room", _INT, _CTX, _ANY, _ANY, _ANY),
    _p("skb_adjust_room", _INT, _CTX, _ANY, _ANY, _ANY, variant="sk_skb"),
    _p("skb_change_tail", _INT, _CTX, _ANY, _ANY),
    _p("skb_change_tail", _INT, _CTX, _ANY, _ANY, variant="sk_skb"),
    _p("skb_change_head", _INT, _CTX, _ANY, _ANY),
    _p("skb_change_head", _INT, _CTX, _ANY, _ANY, variant="sk_skb"),
    _p("skb_get_tunnel_key", _INT, _CTX, _UNINIT_MEM, _SIZE, _ANY),
    _p("skb_set_tunnel_key", _INT, _CTX, _RO_MEM, _SIZE, _ANY),
    _p("skb_get_tunnel_opt", _INT, _CTX, _UNINIT_MEM, _SIZE),
    _p("skb_set_tunnel_opt", _INT, _CTX, _RO_MEM, _SIZE),
    _p("skb_under_cgroup", _INT, _CTX, _MAP, _ANY),
    _p("skb_cgroup_id", _INT, _CTX),
    _p("skb_ancestor_cgroup_id", _INT, _CTX, _ANY),
    _p("sk_cgroup_id", _INT, A.PTR_TO_BTF_ID_SOCK_COMMON),
    _p("sk_ancestor_cgroup_id", _INT, A.PTR_TO_BTF_ID_SOCK_COMMON, _ANY),
    _p("skb_get_xfrm_state", _INT, _CTX, _ANY, _UNINIT_MEM, _SIZE, _ANY),
    _p("skb_ecn_set_ce", _INT, _CTX),
    _p("skb_set_tstamp", _INT, _CTX, _ANY, _ANY),
    _p("fib_lookup", _INT, _CTX, _MEM | WRITE, _SIZE, _ANY, gpl=True),
    _p("fib_lookup", _INT, _CTX, _MEM | WRITE, _SIZE, _ANY, gpl=True, variant="xdp"),
    _p("check_mtu", _INT, _CTX, _ANY, A.PTR_TO_FIXED_SIZE_MEM | WRITE | ALIGNED, _ANY, _ANY,
       gpl=True, sizes={3: 4}),
    _p("check_mtu", _INT, _CTX, _ANY, A.PTR_TO_FIXED_SIZE_MEM | WRITE | ALIGNED, _ANY, _ANY,
       gpl=True, sizes={3: 4}, variant="xdp"),
    _p("get_socket_cookie", _INT, _CTX),
    _p("get_socket_cookie", _INT, _CTX, variant="sock_addr"),
    _p("get_socket_cookie", _INT, _CTX, variant="sock"),
    _p("get_socket_cookie", _INT, _CTX, variant="sock_ops"),
    _p("get_socket_cookie", _INT, A.PTR_TO_BTF_ID_SOCK_COMMON | MAYBE_NULL, variant="ptr"),
    _p("get_socket_uid", _INT, _CTX),
    _p("get_netns_cookie", _INT, A.PTR_TO_CTX_OR_NULL),
    _p("get_netns_cookie", _INT, A.PTR_TO_CTX_OR_NULL, variant="sock"),
    _p("get_netns_cookie", _INT, A.PTR_TO_CTX_OR_NULL, variant="sock_addr"),
    _p("get_netns_cookie", _INT, A.PTR_TO_CTX_OR_NULL, variant="sock_ops"),
    _p("get_netns_cookie", _INT, A.PTR_TO_CTX_OR_NULL, variant="sk_msg"),
    _p("get_netns_cookie", _INT, A.PTR_TO_CTX_OR_NULL, variant="sockopt"),
    # --- sockets -----------------------------------------------------------------------
    _p("sk_lookup_tcp", R.PTR_TO_SOCKET_OR_NULL, *_LOOKUP, pkt=True),
    _p("sk_lookup_udp", R.PTR_TO_SOCKET_OR_NULL, *_LOOKUP, pkt=True),
    _p("skc_lookup_tcp", R.PTR_TO_SOCK_COMMON_OR_NULL, *_LOOKUP, pkt=True),
    _p("sk_lookup_tcp", R.PTR_TO_SOCKET_OR_NULL, *_LOOKUP, pkt=True, variant="tc"),
    _p("sk_lookup_udp", R.PTR_TO_SOCKET_OR_NULL, *_LOOKUP, pkt=True, variant="tc"),
    _p("skc_lookup_tcp", R.PTR_TO_SOCK_COMMON_OR_NULL, *_LOOKUP, pkt=True, variant="tc"),
    _p("sk_lookup_tcp", R.PTR_TO_SOCKET_OR_NULL, *_LOOKUP, pkt=True, variant="xdp"),
    _p("sk_lookup_udp", R.PTR_TO_SOCKET_OR_NULL, *_LOOKUP, pkt=True, variant="xdp"),
    _p("skc_lookup_tcp", R.PTR_TO_SOCK_COMMON_OR_NULL, *_LOOKUP, pkt=True, variant="xdp"),
    _p("sk_lookup_tcp", R.PTR_TO_SOCKET_OR_NULL, *_LOOKUP, variant="sock_addr"),
    _p("sk_lookup_udp", R.PTR_TO_SOCKET_OR_NULL, *_LOOKUP, variant="sock_addr"),
    _p("skc_lookup_tcp", R.PTR_TO_SOCK_COMMON_OR_NULL, *_LOOKUP, variant="sock_addr"),
    _p("sk_release", _INT, A.PTR_TO_BTF_ID_SOCK_COMMON | RELEASE),
    _p("sk_fullsock", R.PTR_TO_SOCKET_OR_NULL, A.PTR_TO_SOCK_COMMON),
    _p("tcp_sock", R.PTR_TO_TCP_SOCK_OR_NULL, A.PTR_TO_SOCK_COMMON),
    _p("get_listener_sock", R.PTR_TO_SOCKET_OR_NULL, A.PTR_TO_SOCK_COMMON),
    _p("sk_assign", _INT, _CTX, A.PTR_TO_BTF_ID_SOCK_COMMON, _ANY),
    _p("sk_assign", _INT, _CTX, A.PTR_TO_SOCKET_OR_NULL, _ANY, variant="sk_lookup"),
    _p("tcp_check_syncookie", _INT, A.PTR_TO_BTF_ID_SOCK_COMMON, _RO_MEM, _SIZE, _RO_MEM, _SIZE,
       gpl=True, pkt=True),
    _p("tcp_gen_syncookie", _INT, A.PTR_TO_BTF_ID_SOCK_COMMON, _RO_MEM, _SIZE, _RO_MEM, _SIZE,
       gpl=True, pkt=True),
    _p("tcp_raw_gen_syncookie_ipv4", _INT, A.PTR_TO_FIXED_SIZE_MEM, _MEM, _SIZE0, gpl=True,
       pkt=True, sizes={1: 20}),
    _p("tcp_raw_gen_syncookie_ipv6", _INT, A.PTR_TO_FIXED_SIZE_MEM, _MEM, _SIZE0, gpl=True,
       pkt=True, sizes={1: 40}),
    _p("tcp_raw_check_syncookie_ipv4", _INT, A.PTR_TO_FIXED_SIZE_MEM, A.PTR_TO_FIXED_SIZE_MEM,
       gpl=True, pkt=True, sizes={1: 20, 2: 20}),
    _p("tcp_raw_check_syncookie_ipv6", _INT, A.PTR_TO_FIXED_SIZE_MEM, A.PTR_TO_FIXED_SIZE_MEM,
       gpl=True, pkt=True, sizes={1: 40, 2: 20}),
    _p("tcp_send_ack", _INT, A.PTR_TO_BTF_ID, _ANY, btf={1: "tcp_sock"}),
    _p("skc_to_tcp6_sock", R.PTR_TO_BTF_ID_OR_NULL, A.PTR_TO_BTF_ID_SOCK_COMMON,
       ret_btf="tcp6_sock"),
    _p("skc_to_tcp_sock", R.PTR_TO_BTF_ID_OR_NULL, A.PTR_TO_BTF_ID_SOCK_COMMON, ret_btf="tcp_sock"),
    _p("skc_to_tcp_timewait_sock", R.PTR_TO_BTF_ID_OR_NULL, A.PTR_TO_BTF_ID_SOCK_COMMON,
       ret_btf="tcp_timewait_sock"),
    _p("skc_to_tcp_request_sock", R.PTR_TO_BTF_ID_OR_NULL, A.PTR_TO_BTF_ID_SOCK_COMMON,
       ret_btf="tcp_request_sock"),
    _p("skc_to_udp6_sock", R.PTR_TO_BTF_ID_OR_NULL, A.PTR_TO_BTF_ID_SOCK_COMMON,
       ret_btf="udp6_sock"),
    _p("skc_to_unix_sock", R.PTR_TO_BTF_ID_OR_NULL, A.PTR_TO_BTF_ID_SOCK_COMMON,
       ret_btf="unix_sock"),
    _p("skc_to_mptcp_sock", R.PTR_TO_BTF_ID_OR_NULL, A.PTR_TO_SOCK_COMMON, ret_btf="mptcp_sock"),
    _p("sock_from_file", R.PTR_TO_BTF_ID_OR_NULL, A.PTR_TO_BTF_ID, btf={1: "file"},
       ret_btf="socket"),
    _p("setsockopt", _INT, A.PTR_TO_BTF_ID_SOCK_COMMON, _ANY, _ANY, _RO_MEM, _SIZE),
    _p("getsockopt", _INT, A.PTR_TO_BTF_ID_SOCK_COMMON, _ANY, _ANY, _UNINIT_MEM, _SIZE),
    _p("setsockopt", _INT, A.PTR_TO_BTF_ID_SOCK_COMMON, _ANY, _ANY, _RO_MEM, _SIZE, variant="unlocked"),
    _p("getsockopt", _INT, A.PTR_TO_BTF_ID_SOCK_COMMON, _ANY, _ANY, _UNINIT_MEM, _SIZE,
       variant="unlocked"),
    _p("setsockopt", _INT, _CTX, _ANY, _ANY, _RO_MEM, _SIZE, variant="sock_addr"),
    _p("getsockopt", _INT, _CTX, _ANY, _ANY, _UNINIT_MEM, _SIZE, variant="sock_addr"),
    _p("setsockopt", _INT, _CTX, _ANY, _ANY, _RO_MEM, _SIZE, variant="sock_ops"),
    _p("getsockopt", _INT, _CTX, _ANY, _ANY, _UNINIT_MEM, _SIZE, variant="sock_ops"),
    _p("sock_ops_cb_flags_set", _INT, _CTX, _ANY),
    _p("load_hdr_opt", _INT, _CTX, _MEM | WRITE, _SIZE, _ANY),
    _p("store_hdr_opt", _INT, _CTX, _RO_MEM, _SIZE, _ANY),
    _p("reserve_hdr_opt", _INT, _CTX, _ANY, _ANY),
    _p("bind", _INT, _CTX, _RO_MEM, _SIZE),
    _p("sock_map_update", _INT, _CTX, _MAP, _KEY, _ANY, pkt=True),
    _p("sock_hash_update", _INT, _CTX, _MAP, _KEY, _ANY, pkt=True),
    _p("sk_redirect_map", _INT, _CTX, _MAP, _ANY, _ANY),
    _p("sk_redirect_hash", _INT, _CTX, _MAP, _KEY, _ANY),
    _p("msg_redirect_map", _INT, _CTX, _MAP, _ANY, _ANY),
    _p("msg_redirect_hash", _INT, _CTX, _MAP, _KEY, _ANY),
    _p("msg_apply_bytes", _INT, _CTX, _ANY),
    _p("msg_cork_bytes", _INT, _CTX, _ANY),
    _p("msg_pull_data", _INT, _CTX, _ANY, _ANY, _ANY),
    _p("msg_push_data", _INT, _CTX, _ANY, _ANY, _ANY),
    _p("msg_pop_data", _INT, _CTX, _ANY, _ANY, _ANY),
    _p("sk_select_reuseport", _INT, _CTX, _MAP, _KEY, _ANY),
    # --- xdp -----------------------------------------------------------------------------
    _p("xdp_adjust_head", _INT, _CTX, _ANY),
    _p("xdp_adjust_tail", _INT, _CTX, _ANY),
    _p("xdp_adjust_meta", _INT, _CTX, _ANY),
    _p("redirect_map", _INT, _MAP, _ANY, _ANY),
    _p("xdp_get_buff_len", _INT, _CTX),
    _p("xdp_get_buff_len", _INT, A.PTR_TO_BTF_ID, btf={1: "xdp_buff"}, variant="trace"),
    _p("xdp_load_bytes", _INT, _CTX, _ANY, _UNINIT_MEM, _SIZE),
    _p("xdp_store_bytes", _INT, _CTX, _ANY, _RO_MEM, _SIZE),
    # --- lwt ---------------------------------------------------------------------------
    _p("lwt_push_encap", _INT, _CTX, _ANY, _RO_MEM, _SIZE, variant="in"),
    _p("lwt_push_encap", _INT, _CTX, _ANY, _RO_MEM, _SIZE),
    _p("lwt_seg6_store_bytes", _INT, _CTX, _ANY, _RO_MEM, _SIZE),
    _p("lwt_seg6_action", _INT, _CTX, _ANY, _RO_MEM, _SIZE),
    _p("lwt_seg6_adjust_srh", _INT, _CTX, _ANY, _ANY),
    # --- cgroup hooks ------------------------------------------------------------------
    _p("get_retval", _INT),
    _p("set_retval", _INT, _ANY),
    _p("sysctl_get_name", _INT, _CTX, _MEM | WRITE, _SIZE, _ANY),
    _p("sysctl_get_current_value", _INT, _CTX, _UNINIT_MEM, _SIZE),
    _p("sysctl_get_new_value", _INT, _CTX, _UNINIT_MEM, _SIZE),
    _p("sysctl_set_new_value", _INT, _CTX, _RO_MEM, _SIZE),
    # --- lirc --------------------------------------------------------------------------
    _p("rc_repeat", _INT, _CTX, gpl=True),
    _p("rc_keydown", _INT, _CTX, _ANY, _ANY, _ANY, gpl=True),
    _p("rc_pointer_rel", _INT, _CTX, _ANY, _ANY, gpl=True),
    # --- lsm -----------------------------------------------------------------------------
    _p("bprm_opts_set", _INT, A.PTR_TO_BTF_ID, _ANY, btf={1: "linux_binprm"}),
    _p("ima_inode_hash", _INT, A.PTR_TO_BTF_ID, _UNINIT_MEM, _SIZE, sleep=True, btf={1: "inode"},
       allowed="ima"),
    _p("ima_file_hash", _INT, A.PTR_TO_BTF_ID, _UNINIT_MEM, _SIZE, sleep=True, btf={1: "file"},
       allowed="ima"),
    # --- syscall programs --------------------------------------------------------------
    _p("sys_bpf", _INT, _ANY, _RO_MEM, _SIZE, sleep=True),
    _p("sys_close", _INT, _ANY, sleep=True),
    _p("btf_find_by_name_kind", _INT, _RO_MEM, _SIZE, _ANY, _ANY, sleep=True),
    _p("kallsyms_lookup_name", _INT, _MEM, _SIZE0, _ANY, _OUT_U64, sizes={4: 8}),
)
# fmt: on
"""Every prototype, variants included (the kernel's ``bpf_*_proto`` structures)."""

VARIANTS: dict[tuple[int, str], HelperProto] = {(p.func_id, p.variant): p for p in ALL_PROTOS}
"""``(helper id, variant)`` -> prototype; the default variant is ``""``."""

PROTOS: dict[int, HelperProto] = {}
for _proto in ALL_PROTOS:
    if _proto.variant == "" or _proto.func_id not in PROTOS:
        PROTOS[_proto.func_id] = _proto
del _proto
"""Helper id -> its default prototype (the one most program types get)."""


def proto(func_id: int, variant: str = "") -> HelperProto:
    """The prototype ``variant`` of helper ``func_id`` (KeyError if there is none)."""
    return VARIANTS[(func_id, variant)]


def helper_variants(func_id: int) -> tuple[HelperProto, ...]:
    return tuple(p for p in ALL_PROTOS if p.func_id == func_id)


CHANGES_PKT_DATA: frozenset[int] = frozenset(
    HELPER_NAMES.index(n)
    for n in (
        "clone_redirect", "l3_csum_replace", "l4_csum_replace", "lwt_push_encap",
        "lwt_seg6_action", "lwt_seg6_adjust_srh", "lwt_seg6_store_bytes", "msg_pop_data",
        "msg_pull_data", "msg_push_data", "skb_adjust_room", "skb_change_head",
        "skb_change_proto", "skb_change_tail", "skb_pull_data", "skb_store_bytes",
        "skb_vlan_pop", "skb_vlan_push", "store_hdr_opt", "xdp_adjust_head",
        "xdp_adjust_meta", "xdp_adjust_tail", "tail_call",
    )
)  # fmt: skip
"""Helpers after which the verifier forgets what it knew about packet pointers
(``bpf_helper_changes_pkt_data``; a tail-called program may call any of them)."""
