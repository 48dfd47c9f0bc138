"""Global (non-static) functions: verified once on their own, trusted at every call.

A global function's BTF prototype is its contract. A call only checks that the caller's
registers fit the prototype, and the result is an unknown scalar; after the main program,
each global function that some verified code called is verified separately with its
arguments as the prototype describes them (scalars, the context, nullable memory of the
pointee's size).
"""

from __future__ import annotations

import enum
import errno
from dataclasses import dataclass
from typing import Any

from ..btf import Kind
from ..btf.resolve import resolve_size
from ..errors import BpfError
from ..kernel.progtypes import ProgType
from ..kernel.regtypes import RegType, TypeFlag, type_may_be_null
from .env import Env
from .func_info import skip_modifiers
from .state import RegState

MAX_ARGS = 5


class ArgKind(enum.Enum):
    SCALAR = "scalar"
    CTX = "ctx"
    MEM = "mem"
    ARENA = "arena"
    TRUSTED = "trusted"  # __arg_trusted: a trusted pointer to the kernel struct of that name


@dataclass(frozen=True)
class SubprogArg:
    """One argument of a global function, as the verifier treats it."""

    kind: ArgKind
    mem_size: int = 0
    nullable: bool = False
    btf_id: int = 0  # TRUSTED: the struct in the kernel's BTF


_P = ProgType
_CTX_NAMES: dict[ProgType, tuple[str, ...]] = {
    _P.SOCKET_FILTER: ("__sk_buff", "sk_buff"), _P.SCHED_CLS: ("__sk_buff", "sk_buff"),
    _P.SCHED_ACT: ("__sk_buff", "sk_buff"), _P.CGROUP_SKB: ("__sk_buff", "sk_buff"),
    _P.LWT_IN: ("__sk_buff", "sk_buff"), _P.LWT_OUT: ("__sk_buff", "sk_buff"),
    _P.LWT_XMIT: ("__sk_buff", "sk_buff"), _P.LWT_SEG6LOCAL: ("__sk_buff", "sk_buff"),
    _P.SK_SKB: ("__sk_buff", "sk_buff"), _P.FLOW_DISSECTOR: ("__sk_buff", "sk_buff"),
    _P.XDP: ("xdp_md", "xdp_buff"), _P.CGROUP_SOCK: ("bpf_sock", "sock"),
    _P.CGROUP_SOCK_ADDR: ("bpf_sock_addr",), _P.SOCK_OPS: ("bpf_sock_ops",),
    _P.SK_MSG: ("sk_msg_md",), _P.KPROBE: ("pt_regs",), _P.PERF_EVENT: ("bpf_perf_event_data",),
    _P.RAW_TRACEPOINT: ("bpf_raw_tracepoint_args",), _P.CGROUP_DEVICE: ("bpf_cgroup_dev_ctx",),
    _P.CGROUP_SYSCTL: ("bpf_sysctl",), _P.CGROUP_SOCKOPT: ("bpf_sockopt",),
    _P.SK_REUSEPORT: ("sk_reuseport_md",), _P.SK_LOOKUP: ("bpf_sk_lookup",),
    _P.NETFILTER: ("bpf_nf_ctx",),
}  # fmt: skip


def _is_ctx_ptr(btf: Any, ptr_id: int, prog_type: ProgType) -> bool:
    t = btf[ptr_id].type
    if prog_type == ProgType.KPROBE:
        while t and btf.kind(t) in (Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG):
            t = btf[t].type
        if t and btf.kind(t) == Kind.TYPEDEF and btf.name_of(t) == "bpf_user_pt_regs_t":
            return True
    t = skip_modifiers(btf, t)
    if not t or btf.kind(t) not in (Kind.STRUCT, Kind.UNION):
        return False
    return btf.name_of(t) in _CTX_NAMES.get(prog_type, ())


def _arg_tags(btf: Any, func_id: int, arg: int) -> list[str]:
    tags = []
    for tid, t in btf.items():
        if t.kind == Kind.DECL_TAG and t.type == func_id and t.component_idx == arg and t.name.startswith("arg:"):
            tags.append((tid, t.name[4:]))
    return [name for _, name in sorted(tags)]


def prepare_func_args(env: Env, subprog: int) -> tuple[SubprogArg, ...]:
    """The arguments of global function ``subprog`` from its BTF prototype; rejects
    prototypes the kernel does not support, with its message."""
    cached: tuple[SubprogArg, ...] | None = env.global_args.get(subprog)
    if cached is not None:
        return cached
    btf = env.prog_btf
    fid = env.func_info[subprog].type_id
    fn = btf[fid]
    name = fn.name
    proto = btf[fn.type]
    params = proto.params
    if len(params) > MAX_ARGS:
        raise env.einval(f"Global function {name}() with {len(params)} > {MAX_ARGS} args. Buggy compiler.")
    ret = skip_modifiers(btf, proto.return_type)
    if not ret or btf.kind(ret) not in (Kind.INT, Kind.ENUM, Kind.ENUM64):
        raise env.einval(f"Global function {name}() doesn't return scalar. Only those are supported.")
    args: list[SubprogArg] = []
    for i, param in enumerate(params):
        tags = _arg_tags(btf, fid, i)
        known = {"ctx", "trusted", "nonnull", "nullable", "arena"}
        if any(tag not in known for tag in tags):
            raise env.error(errno.EOPNOTSUPP, f"arg#{i} has unsupported set of tags")
        t = skip_modifiers(btf, param.type)
        if t and btf.kind(t) == Kind.PTR:
            if "ctx" in tags or _is_ctx_ptr(btf, t, env.prog_type):
                if set(tags) - {"ctx"}:
                    raise env.einval(f"arg#{i} has invalid combination of tags")
                args.append(SubprogArg(ArgKind.CTX))
                continue
            if "trusted" in tags:
                if "nonnull" in tags:
                    raise env.einval(f"arg#{i} has invalid combination of tags")
                args.append(SubprogArg(ArgKind.TRUSTED, nullable="nullable" in tags,
                                       btf_id=_kernel_struct(env, btf, t, i)))  # fmt: skip
                continue
            if "arena" in tags:
                if set(tags) - {"arena"}:
                    raise env.einval(f"arg#{i} arena cannot be combined with any other tags")
                args.append(SubprogArg(ArgKind.ARENA))
                continue
            if "nullable" in tags:
                raise env.einval(f"arg#{i} has invalid combination of tags")
            pointee = skip_modifiers(btf, btf[t].type)
            try:
                size = resolve_size(btf, pointee)
            except (BpfError, KeyError, IndexError):
                kind = btf.kind(pointee).name.lower() if pointee else "void"
                raise env.einval(
                    f"arg#{i} reference type('{kind} {btf.name_of(pointee) if pointee else ''}') "
                    "size cannot be determined: -22"
                ) from None
            args.append(SubprogArg(ArgKind.MEM, size, "nonnull" not in tags))
            continue
        if tags:
            raise env.einval(f"arg#{i} has pointer tag, but is not a pointer type")
        if t and btf.kind(t) in (Kind.INT, Kind.ENUM, Kind.ENUM64):
            args.append(SubprogArg(ArgKind.SCALAR))
            continue
        kind = btf.kind(t).name.lower() if t else "void"
        raise env.einval(f"Arg#{i} type {kind} in {name}() is not supported yet.")
    result = tuple(args)
    env.global_args = {**env.global_args, subprog: result}
    return result


def _kernel_struct(env: Env, btf: Any, ptr: int, arg: int) -> int:
    """The kernel struct an ``__arg_trusted`` pointer names (a ``___flavor`` suffix is
    ignored, as in CO-RE)."""
    from ..kernel.vmlinux import kernel_btf

    t = skip_modifiers(btf, btf[ptr].type)
    if not t or btf.kind(t) != Kind.STRUCT:
        raise env.einval(f"arg#{arg} has type that is not a struct")
    name = btf.name_of(t)
    base = name.split("___")[0] if "___" in name else name
    tid = kernel_btf().find_by_name_kind(base, Kind.STRUCT)
    if tid is None:
        raise env.einval(f"failed to find kernel BTF type ID of '{name}': -3")
    return int(tid)


def _check_trusted_arg(env: Env, reg: RegState, regno: int, arg: SubprogArg) -> None:
    from ..kernel.regtypes import base_type
    from ..kernel.vmlinux import kernel_btf
    from .log import reg_type_str
    from .regs import register_is_null

    if arg.nullable and register_is_null(reg):
        return
    t = reg.type
    trusted = bool(t & (TypeFlag.PTR_TRUSTED | TypeFlag.MEM_RCU | TypeFlag.MEM_ALLOC)) or reg.ref_obj_id
    if base_type(t) != RegType.PTR_TO_BTF_ID or t & TypeFlag.PTR_UNTRUSTED or not trusted:
        raise env.eacces(f"R{regno} type={reg_type_str(t)} expected=ptr_, trusted_ptr_, rcu_ptr_")
    if type_may_be_null(t) and not arg.nullable:
        raise env.eacces(f"R{regno} type={reg_type_str(t)} expected=ptr_, trusted_ptr_, rcu_ptr_")
    kbtf = kernel_btf()
    got = reg.btf.name_of(reg.btf_id) if reg.btf is not None else ""
    want = kbtf.name_of(arg.btf_id)
    if got != want or reg.off:
        raise env.eacces(f"R{regno} is of type {got} but {want} is expected")


def _check_mem_arg(env: Env, reg: RegState, regno: int, size: int) -> None:
    from .helper_mem import check_helper_mem_access
    from .jmp import mark_ptr_not_null_reg
    from .regs import register_is_null

    if register_is_null(reg):
        return
    saved = reg.copy() if type_may_be_null(reg.type) else None
    if saved is not None:
        mark_ptr_not_null_reg(reg)
    try:
        check_helper_mem_access(env, regno, size, False, True, None)
        check_helper_mem_access(env, regno, size, True, True, None)
    finally:
        if saved is not None:
            reg.assign(saved)


def check_call_args(env: Env, subprog: int, regs: list[RegState]) -> None:
    """The caller's R1-R5 against the prototype (``btf_check_func_arg_match``)."""
    from .calls import _check_func_arg_reg_off

    for i, arg in enumerate(prepare_func_args(env, subprog)):
        regno = i + 1
        reg = regs[regno]
        if arg.kind == ArgKind.SCALAR:
            if reg.type != RegType.SCALAR_VALUE:
                raise env.einval(f"R{regno} is not a scalar")
        elif arg.kind == ArgKind.CTX:
            _check_func_arg_reg_off(env, reg, regno, 0)
            if reg.type != RegType.PTR_TO_CTX:
                raise env.einval(f"arg#{i} expects pointer to ctx")
        elif arg.kind == ArgKind.MEM:
            _check_func_arg_reg_off(env, reg, regno, 0)
            _check_mem_arg(env, reg, regno, arg.mem_size)
            if not arg.nullable and type_may_be_null(reg.type):
                raise env.einval(f"arg#{i} is expected to be non-NULL")
        elif arg.kind == ArgKind.TRUSTED:
            _check_trusted_arg(env, reg, regno, arg)
        elif reg.type not in (RegType.PTR_TO_ARENA, RegType.SCALAR_VALUE):
            raise env.einval(f"R{regno} is not a pointer to arena or scalar.")


def mark_changes_pkt_data(env: Env) -> None:
    """Which subprograms may move packet data: those calling a helper that does (tail
    calls included) or a subprogram that does (the kernel finds this in check_cfg)."""
    from bisect import bisect_right

    from ..isa.opcodes import PseudoCall
    from .calls import PKT_CHANGING, TAIL_CALL

    starts = [sp.start for sp in env.subprogs]
    owner = [bisect_right(starts, i) - 1 for i in range(len(env.insns))]
    calls: list[tuple[int, int]] = []
    for i, insn in enumerate(env.insns):
        if insn.code != 0x85:
            continue
        if insn.src == 0 and (insn.imm in PKT_CHANGING or insn.imm == TAIL_CALL):
            env.subprogs[owner[i]].changes_pkt_data = True
        elif insn.src == PseudoCall.CALL:
            target = i + insn.imm + 1
            if 0 <= target < len(env.insns):
                calls.append((owner[i], owner[target]))
    changed = True
    while changed:
        changed = False
        for caller, callee in calls:
            if env.subprogs[callee].changes_pkt_data and not env.subprogs[caller].changes_pkt_data:
                env.subprogs[caller].changes_pkt_data = changed = True


def call_global(env: Env, subprog: int) -> int:
    """A call of a global function: check the arguments, then R0 is an unknown scalar."""
    from .calls import clear_all_pkt_pointers
    from .regs import Op, check_reg_arg, mark_reg_not_init, mark_reg_unknown
    from .state import DEF_NOT_SUBREG

    state = env.state
    caller = state.cur
    name = env.subprogs[subprog].name
    mark = env.log.end_pos
    try:
        check_call_args(env, subprog, caller.regs)
        err = None
    except Exception as exc:  # VerifierError: the message is in the log already
        from .env import VerifierError

        if not isinstance(exc, VerifierError):
            raise
        err = exc
    if state.active_lock is not None:
        env.log.reset(mark)
        raise env.einval("global function calls are not allowed while holding a lock,\nuse static function instead")
    if getattr(state, "active_preempt_lock", 0):
        env.log.reset(mark)
        raise env.einval(
            "global function calls are not allowed with preemption disabled,\nuse static function instead"
        )
    if err is not None:
        raise env.error(err.errno, f"Caller passes invalid args into func#{subprog} ('{name}')")
    env.verbose(f"Func#{subprog} ('{name}') is global and assumed valid.\n")
    if not env.global_called:
        mark_changes_pkt_data(env)
    if env.subprogs[subprog].changes_pkt_data:
        clear_all_pkt_pointers(env)
    env.global_called = env.global_called | {subprog}
    for r in range(6):
        mark_reg_not_init(caller.regs, r)
        check_reg_arg(env, r, Op.DST_NO_MARK)
    mark_reg_unknown(env, caller.regs, 0)
    caller.regs[0].subreg_def = DEF_NOT_SUBREG
    return env.insn_idx + 1


def init_global_args(env: Env, subprog: int, regs: list[RegState]) -> None:
    """R1-R5 at the entry of a global function verified on its own."""
    from .regs import mark_reg_known_zero, mark_reg_unknown

    env.verbose(f"Validating {env.subprogs[subprog].name}() func#{subprog}...\n")
    for i, arg in enumerate(prepare_func_args(env, subprog)):
        regno = i + 1
        reg = regs[regno]
        if arg.kind == ArgKind.CTX:
            reg.type = RegType.PTR_TO_CTX
            mark_reg_known_zero(regs, regno)
            reg.type = RegType.PTR_TO_CTX
        elif arg.kind == ArgKind.MEM:
            mark_reg_known_zero(regs, regno)
            reg.type = RegType.PTR_TO_MEM | (TypeFlag.PTR_MAYBE_NULL if arg.nullable else 0)
            reg.mem_size = arg.mem_size
            reg.id = env.new_id()
        elif arg.kind == ArgKind.TRUSTED:
            from ..kernel.vmlinux import kernel_btf

            mark_reg_known_zero(regs, regno)
            reg.type = RegType.PTR_TO_BTF_ID | TypeFlag.PTR_TRUSTED
            if arg.nullable:
                reg.type |= TypeFlag.PTR_MAYBE_NULL
            reg.btf, reg.btf_id = kernel_btf(), arg.btf_id
            reg.id = env.new_id()
        else:
            mark_reg_unknown(env, regs, regno)


def do_check_subprogs(env: Env) -> None:
    """Verify every global function verified code called, until none is left."""
    if not env.func_info:
        return
    from .core import do_check_common

    verified: set[int] = set()
    again = True
    while again:
        again = False
        for i in range(1, len(env.subprogs)):
            if not env.subprogs[i].is_global or i not in env.global_called or i in verified:
                continue
            env.explored_states.clear()
            do_check_common(env, i)
            if env.level:
                env.verbose(f"Func#{i} ('{env.subprogs[i].name}') is safe for any args that match its prototype\n")
            verified.add(i)
            again = True
