"""The context of BTF-typed tracing programs: ``tp_btf``, ``fentry``/``fexit``/``fmod_ret``
and LSM programs read their target's arguments from an array of u64, and what each slot
holds comes from the target's prototype in the kernel BTF.

The loader names the target in :attr:`Options.attach_btf_name` as the section does
(``cgroup_mkdir`` for ``tp_btf/cgroup_mkdir``); the kernel BTF object is found the way
libbpf finds it: the typedef ``btf_trace_<event>`` for a BTF tracepoint (a pointer to a
prototype whose first parameter, the tracepoint's data, is not the program's), the
function ``bpf_lsm_<hook>`` for an LSM program, the function itself otherwise.
:func:`target_func_sig` turns the prototype into the :class:`BtfFuncSig` that
:func:`pybpf.kernel.ctx_access.is_valid_access` applies ``btf_ctx_access``'s rules to.
A target pybpf's kernel does not declare leaves every slot an untyped u64.
"""

from __future__ import annotations

from functools import cache

from ..btf import (
    Btf,
    Enum,
    Enum64,
    Func,
    FuncProto,
    Int,
    Kind,
    Ptr,
    Struct,
    Typedef,
    TypeTag,
    Union,
)
from ..btf.resolve import skip_modifiers
from ..kernel.ctx_access import BtfArg, BtfArgKind, BtfFuncSig
from ..kernel.progtypes import AttachType, ProgType
from .bounds import refine_range
from .env import Env
from .state import RegState

TP_PREFIX = "btf_trace_"
LSM_PREFIX = "bpf_lsm_"

UNTRUSTED_LSM_HOOKS = frozenset({
    "bpf_map_free", "bpf_prog_free", "file_alloc_security", "file_free_security",
    "sk_alloc_security", "sk_free_security", "task_free",
})  # fmt: skip
"""LSM hooks whose arguments are not trusted pointers: they run while the object is
being built or torn down (the kernel's ``untrusted_lsm_hooks``)."""

RAW_TP_NULL_ARGS: dict[str, tuple[frozenset[int], frozenset[int]]] = {
    "kfree_skb": (frozenset({3}), frozenset()),
}
"""Tracepoints (of those pybpf declares) with arguments the kernel knows may be NULL,
or may hold an error code: ``event -> (nullable, error)`` argument indexes (the
kernel's ``raw_tp_null_args``)."""

_TRACING_ATTACH = (AttachType.TRACE_RAW_TP, AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT,
                   AttachType.MODIFY_RETURN)  # fmt: skip


def target_type_name(
    prog_type: int, attach_type: int | None, target: str
) -> tuple[str, Kind] | None:
    """The kernel BTF type (name, kind) a program's attach target is, as libbpf looks
    it up; None for programs that do not attach to a BTF-typed target."""
    if not target:
        return None
    if prog_type == ProgType.LSM:
        return LSM_PREFIX + target, Kind.FUNC
    if prog_type != ProgType.TRACING or attach_type not in _TRACING_ATTACH:
        return None
    if attach_type == AttachType.TRACE_RAW_TP:
        return TP_PREFIX + target, Kind.TYPEDEF
    return target, Kind.FUNC


def _kind_str(t: object) -> str:
    kind = getattr(t, "kind", Kind.UNKN)
    return "UNKNOWN" if kind == Kind.UNKN else Kind(kind).name


def _slots(btf: Btf, type_id: int) -> int:
    """``get_ctx_arg_idx``'s count: a pointer is one slot, anything else its size
    rounded up to u64s (void: none)."""
    if type_id == 0:
        return 0
    t = btf[skip_modifiers(btf, type_id)]
    if isinstance(t, Ptr):
        return 1
    size = getattr(t, "size", 0)
    return -(-int(size) // 8)


def btf_arg(btf: Btf, type_id: int, name: str = "") -> BtfArg:
    """How ``btf_ctx_access`` sees a parameter (or return value) of type ``type_id``."""
    slots = _slots(btf, type_id)
    t = btf[skip_modifiers(btf, type_id)] if type_id else None
    if t is None:
        return BtfArg(BtfArgKind.OTHER, slots=0, type_str="UNKNOWN")
    if isinstance(t, (Int, Enum, Enum64)) and getattr(t, "size", 8) <= 8:
        return BtfArg(BtfArgKind.SCALAR, slots=slots, type_str=_kind_str(t))
    if isinstance(t, (Struct, Union)):  # 6.18 reads a union by value too (6.12: structs only)
        return BtfArg(BtfArgKind.SCALAR, slots=slots, type_str=_kind_str(t))
    if not isinstance(t, Ptr):
        return BtfArg(
            BtfArgKind.OTHER,
            slots=slots,
            type_str=_kind_str(t),
            type_name=getattr(t, "name", "") or "",
        )
    under = skip_modifiers(btf, t.type)
    if under == 0:  # ``const void *`` too, since 6.16 (6.12: "type UNKNOWN is not a struct")
        return BtfArg(BtfArgKind.VOID_PTR)
    target = btf[under]
    if isinstance(target, Int):
        return BtfArg(BtfArgKind.INT_PTR)
    first = btf[t.type]
    tag = first.name if isinstance(first, TypeTag) and first.name in ("user", "percpu") else None
    if not isinstance(target, (Struct, Union)):
        return BtfArg(BtfArgKind.NOT_STRUCT_PTR, tag=tag, type_str=_kind_str(target))
    return BtfArg(BtfArgKind.STRUCT_PTR, struct=target.name, nullable=name.endswith("__nullable"), tag=tag,
                  btf_id=under, type_str=_kind_str(target))  # fmt: skip


def _proto(btf: Btf, type_id: int) -> FuncProto | None:
    t = btf[type_id]
    if isinstance(t, Func):
        t = btf[t.type]
    elif isinstance(t, Typedef):
        ptr = btf[t.type]
        t = btf[ptr.type] if isinstance(ptr, Ptr) else ptr
    return t if isinstance(t, FuncProto) else None


@cache
def target_func_sig(prog_type: int, attach_type: int | None, target: str) -> BtfFuncSig | None:
    """The signature of ``target`` as the context of a program of this type, or None
    where pybpf's kernel has no BTF prototype for it."""
    from ..kernel.vmlinux import kernel_btf

    found = target_type_name(prog_type, attach_type, target)
    if found is None:
        return None
    btf = kernel_btf()
    tid = btf.find_by_name_kind(*found)
    proto = _proto(btf, tid) if tid is not None else None
    if proto is None:
        return None
    params = list(proto.params)
    slots = tuple(_slots(btf, p.type) for p in params)
    if attach_type == AttachType.TRACE_RAW_TP and prog_type == ProgType.TRACING:
        params = params[1:]  # the tracepoint's own data pointer
    args = tuple(btf_arg(btf, p.type, p.name or "") for p in params)
    ret = btf_arg(btf, proto.return_type) if proto.return_type else None
    name = found[0] if found[1] == Kind.FUNC else target
    nullable, err = (
        RAW_TP_NULL_ARGS.get(target, (frozenset(), frozenset()))
        if found[1] == Kind.TYPEDEF
        else (frozenset(), frozenset())
    )
    return BtfFuncSig(name, args, ret, nullable_args=nullable, err_args=err, proto_slots=slots,
                      args_trusted=prog_type == ProgType.LSM and target not in UNTRUSTED_LSM_HOOKS)  # fmt: skip


def env_func_sig(env: Env) -> BtfFuncSig | None:
    """The signature of the program's attach target, or None (untyped slots)."""
    return target_func_sig(
        int(env.prog_type), env.expected_attach_type, getattr(env.options, "attach_btf_name", "")
    )


# --- LSM programs: which hooks they may attach to and what they may return -----------------

DISABLED_LSM_HOOKS = frozenset({
    "vm_enough_memory", "inode_need_killpriv", "inode_getsecurity", "inode_listsecurity",
    "inode_copy_up_xattr", "getselfattr", "getprocattr", "setprocattr", "key_getsecurity",
    "audit_rule_match", "xfrm_decode_session", "ismaclabel",
})  # fmt: skip
"""Hooks BPF LSM programs may not attach to: their return values or output buffers do
not fit the BPF LSM's model (the kernel's ``bpf_lsm_disabled_hooks``)."""

BOOL_LSM_HOOKS = frozenset({"xfrm_state_pol_flow_match", "audit_rule_known", "inode_xattr_skipcap"})
"""Hooks that answer 0 or 1 rather than 0 or an error (``bool_lsm_hooks``)."""

MAX_ERRNO = 4095


def check_lsm_attach(env: Env) -> None:
    """``bpf_lsm_verify_prog``: an LSM program needs a GPL-compatible license and a hook
    that is not disabled (checked before the program is walked)."""
    if env.prog_type != ProgType.LSM:
        return
    if not env.options.gpl:
        raise env.einval("LSM programs must have a GPL compatible license")
    hook = getattr(env.options, "attach_btf_name", "")
    if hook in DISABLED_LSM_HOOKS:
        from ..kernel.vmlinux import kernel_btf

        fid = kernel_btf().find_by_name_kind(LSM_PREFIX + hook, Kind.FUNC) or 0
        raise env.einval(f"attach_btf_id {fid} points to disabled hook {LSM_PREFIX}{hook}")


def lsm_return_range(env: Env) -> tuple[int, int] | None:
    """The values an LSM program may return (None: any): 0 or 1 for a ``lsm_cgroup``
    program (only 1 on a void hook, which it must not change), and for a plain one
    what the hook returns, 0 or 1 for the boolean hooks and 0 or a negative errno
    otherwise; anything on void hooks and on hooks pybpf's kernel does not declare."""
    sig = env_func_sig(env)
    if env.expected_attach_type == AttachType.LSM_CGROUP:
        return (1, 1) if sig is not None and sig.ret is None else (0, 1)
    if sig is None or sig.ret is None:
        return None
    return (0, 1) if env.options.attach_btf_name in BOOL_LSM_HOOKS else (-MAX_ERRNO, 0)


def mark_retval_read(env: Env, reg: RegState) -> None:
    """A load of an LSM hook's return-value slot (``is_retval``): the scalar is within
    what the hook may return, as the kernel marks it (``__mark_reg_s32_range``)."""
    if env.prog_type != ProgType.LSM or env.expected_attach_type != AttachType.LSM_MAC:
        return
    rng = lsm_return_range(env)
    if rng is not None:
        reg.b = refine_range(reg.b, smin=rng[0], smax=rng[1])
