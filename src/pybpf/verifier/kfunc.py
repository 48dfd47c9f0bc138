"""Calls of kernel functions (kfuncs): ``check_kfunc_call`` and its argument checks.

A kfunc call names a FUNC of the kernel BTF by id.  Its prototype says what each
argument register must hold: a scalar (a ``__k`` one a known constant), a pointer to
a kernel struct (the same struct, or one that begins with it), memory of the pointee's
size (or of the size the next ``__sz`` argument gives), the program's context.  The
flags the kernel registered with the function add the rest: ``KF_ACQUIRE`` returns a
reference the program must give back to a ``KF_RELEASE`` function, ``KF_RET_NULL``
returns a pointer to check against NULL, ``KF_TRUSTED_ARGS``/``KF_RCU`` want pointers
the verifier can vouch for.  Which program types may call which set of kfuncs follows
the kernel's registrations (:data:`KSET_HOOKS`).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from ..btf import Btf, FuncProto, Int, Kind, Param, Ptr, Struct, Union, Void
from ..btf import Enum as BtfEnum
from ..btf import Enum64 as BtfEnum64
from ..btf.types import is_modifier
from ..isa.insn import Insn
from ..kernel.progtypes import ProgType
from ..kernel.regtypes import RegType, TypeFlag, base_type, type_flag
from ..kernel.vmlinux import KfuncDesc, KfuncFlag, kernel_btf, kfunc_by_id
from .btf_access import (
    TRUSTED_MODIFIERS,
    BtfAccessError,
    Walk,
    btf_struct_walk,
    has_unsafe_modifiers,
    in_sleepable,
    is_rcu_reg,
    is_trusted_reg,
)
from .env import Env
from .iters import is_iter_arg, next_ret_flag, process_iter_arg, process_iter_next_call
from .log import reg_type_str
from .regs import mark_reg_known_zero, mark_reg_not_init, mark_reg_unknown, register_is_null

ENOTSUPP = 524
CALLER_SAVED = (0, 1, 2, 3, 4, 5)
MAX_ARGS = 5
P = ProgType

_TRACING_HOOK = (P.TRACING, P.TRACEPOINT, P.PERF_EVENT, P.LSM)
_CGROUP_HOOK = (P.CGROUP_SKB, P.CGROUP_SOCK, P.CGROUP_DEVICE, P.CGROUP_SOCK_ADDR,
                P.CGROUP_SOCKOPT, P.CGROUP_SYSCTL)  # fmt: skip

KSET_HOOKS: dict[str, frozenset[ProgType] | None] = {
    "common": None,  # every program type
    "map_iter": None,
    "testmod_common": None,
    "generic": frozenset(
        (*_TRACING_HOOK, P.SCHED_CLS, P.XDP, P.STRUCT_OPS, P.SYSCALL, *_CGROUP_HOOK)
    ),
    "test_sk": frozenset((P.SCHED_CLS, *_TRACING_HOOK, P.SYSCALL)),
    "testmod": frozenset((P.SCHED_CLS, *_TRACING_HOOK, P.SYSCALL, P.STRUCT_OPS)),
    "tcp_ca": frozenset((P.STRUCT_OPS,)),
    "key_sig": frozenset(_TRACING_HOOK),
}
"""Which program types may call each kfunc set (the kernel's ``register_btf_kfunc_id_set``
calls, through its prog-type-to-hook mapping); None: all of them."""


def register_kset(kset: str, prog_types: frozenset[ProgType] | None) -> None:
    """Let a subsystem (iterators, struct_ops) declare which program types its set serves."""
    KSET_HOOKS[kset] = prog_types


def kfunc_allowed(desc: KfuncDesc, prog_type: ProgType) -> bool:
    hooks = KSET_HOOKS.get(desc.kset, frozenset())
    return hooks is None or prog_type in hooks


# the context struct each program type's kfunc arguments may name
_CTX_STRUCTS: dict[ProgType, tuple[str, ...]] = {
    P.SOCKET_FILTER: ("__sk_buff", "sk_buff"), P.SCHED_CLS: ("__sk_buff", "sk_buff"),
    P.SCHED_ACT: ("__sk_buff", "sk_buff"), P.CGROUP_SKB: ("__sk_buff", "sk_buff"),
    P.XDP: ("xdp_md", "xdp_buff"), P.SYSCALL: (),
}  # fmt: skip


@dataclass
class KfuncMeta:
    """What the arguments of one kfunc call established (``bpf_kfunc_call_arg_meta``)."""

    desc: KfuncDesc
    proto: FuncProto
    ref_obj_id: int = 0
    release_regno: int = 0
    r0_size: int = 0
    r0_rdonly: bool = False
    arg_constant: int | None = None
    iter_spi: int = -1  # the iterator argument's first stack slot and frame
    iter_frameno: int = 0

    @property
    def name(self) -> str:
        return self.desc.name

    def has(self, flag: KfuncFlag) -> bool:
        return bool(self.desc.flags & flag)

    @property
    def trusted_args(self) -> bool:
        """Release functions want trusted arguments as ``KF_TRUSTED_ARGS`` ones do."""
        return self.has(KfuncFlag.TRUSTED_ARGS) or self.has(KfuncFlag.RELEASE)


# --- BTF helpers ---------------------------------------------------------------------------


def _skip(btf: Btf, tid: int) -> int:
    for _ in range(32):
        t = btf[tid]
        if not is_modifier(t):
            return tid
        tid = t.type  # type: ignore[union-attr]
    return tid


def _is_scalar(t: object) -> bool:
    return isinstance(t, Int | BtfEnum | BtfEnum64)


def _kind_word(t: object) -> str:
    return {Struct: "STRUCT", Union: "UNION", Int: "INT", Ptr: "PTR", Void: "UNKN", BtfEnum: "ENUM",
            BtfEnum64: "ENUM64"}.get(type(t), type(t).__name__.upper())  # fmt: skip


def _suffix(p: Param, suffix: str) -> bool:
    return p.name.endswith(suffix) and len(p.name) > len(suffix)


def _is_scalar_struct(btf: Btf, t: object, depth: int = 0) -> bool:
    """A struct made (recursively) of scalars and arrays of scalars."""
    if not isinstance(t, Struct) or depth > 3:
        return False
    from ..btf import Array

    for m in t.members:
        mt = btf[_skip(btf, m.type)]
        if isinstance(mt, Array):
            mt = btf[_skip(btf, mt.type)]
        if _is_scalar(mt):
            continue
        if not _is_scalar_struct(btf, mt, depth + 1):
            return False
    return True


def _types_match(btf: Btf, reg_id: int, off: int, want_id: int, strict: bool) -> bool:
    """``btf_struct_ids_match``: the same struct, or (not strict) one found at ``off``
    by walking into first members."""
    reg_id = _skip(btf, reg_id)
    if off == 0 and reg_id == want_id:
        return True
    if strict:
        return False
    tid = reg_id
    for _ in range(32):
        try:
            step = btf_struct_walk(btf, tid, off, 1, 0, True)
        except BtfAccessError:
            return False
        if step.kind != Walk.STRUCT:
            return False
        if _skip(btf, step.next_id) == want_id:
            return True
        tid, off = step.next_id, 0
    return False


# --- the pre-pass: is every kfunc the program names a kernel function? --------------------


def add_kfunc_call(env: Env, insn: Insn) -> None:
    """What ``add_kfunc_call`` refuses before the program is walked."""
    if insn.imm == 0:
        return  # left for dead-code removal, refused later if still there
    if not env.options.gpl:
        raise env.einval("cannot call kernel function from non-GPL compatible program")
    if insn.off:
        raise env.einval("failed to find BTF for kernel function")
    func_id = insn.imm & 0xFFFFFFFF
    btf = kernel_btf()
    t = btf.get(func_id)
    from ..btf import Func

    if not isinstance(t, Func):
        raise env.einval(f"kernel btf_id {func_id} is not a function")
    if not isinstance(btf.get(t.type), FuncProto):
        raise env.einval(f"kernel function btf_id {func_id} does not have a valid func_proto")
    if func_id not in kfunc_by_id():
        raise env.einval(f"cannot find address for kernel function {t.name}")


# --- the call ------------------------------------------------------------------------------


def check_kfunc_call(env: Env, insn: Insn) -> int:
    idx = env.insn_idx
    if insn.imm == 0:
        return idx + 1
    btf = kernel_btf()
    desc = kfunc_by_id().get(insn.imm & 0xFFFFFFFF)
    if desc is None:
        raise env.einval(f"kernel btf_id {insn.imm & 0xFFFFFFFF} is not a function")
    if not kfunc_allowed(desc, env.prog_type):
        raise env.eacces(f"calling kernel function {desc.name} is not allowed")
    proto = btf[desc.proto_id]
    assert isinstance(proto, FuncProto)
    meta = KfuncMeta(desc, proto)
    if meta.has(KfuncFlag.DESTRUCTIVE) and not env.options.bpf_capable:
        raise env.eacces("destructive kfunc calls require CAP_SYS_BOOT capability")
    sleepable = meta.has(KfuncFlag.SLEEPABLE)
    if sleepable and not in_sleepable(env):
        raise env.eacces(f"program must be sleepable to call sleepable kfunc {desc.name}")
    check_kfunc_args(env, meta, btf)
    _rcu_and_preempt(env, meta, sleepable)
    regs = env.regs
    if meta.release_regno:
        from .refs import release_reference

        if not release_reference(env, regs[meta.release_regno].ref_obj_id):
            raise env.einval(
                f"kfunc {desc.name}#{desc.func_id} reference has not been acquired before"
            )
    for r in CALLER_SAVED:
        mark_reg_not_init(regs, r)
        env.mark_reg_scratched(r)
    _set_return(env, meta, btf, idx)
    if meta.has(KfuncFlag.ITER_NEXT):
        process_iter_next_call(env, idx, meta)
    return idx + 1


def _rcu_and_preempt(env: Env, meta: KfuncMeta, sleepable: bool) -> None:
    st = env.state
    name = meta.name
    rcu_lock = name == "bpf_rcu_read_lock"
    rcu_unlock = name == "bpf_rcu_read_unlock"
    if st.active_rcu_lock:
        if rcu_lock:
            raise env.einval(f"nested rcu read lock (kernel function {name})")
        if rcu_unlock:
            from .jmp import all_regs

            for reg in all_regs(st):
                if reg.type & TypeFlag.MEM_RCU:
                    reg.type &= ~(TypeFlag.MEM_RCU | TypeFlag.PTR_MAYBE_NULL)
                    reg.type |= TypeFlag.PTR_UNTRUSTED
            st.active_rcu_lock = False
        elif sleepable:
            raise env.eacces(f"kernel func {name} is sleepable within rcu_read_lock region")
    elif rcu_lock:
        st.active_rcu_lock = True
    elif rcu_unlock:
        raise env.einval(f"unmatched rcu read unlock (kernel function {name})")
    disable, enable = name == "bpf_preempt_disable", name == "bpf_preempt_enable"
    if st.active_preempt_lock:
        if disable:
            st.active_preempt_lock += 1
        elif enable:
            st.active_preempt_lock -= 1
        elif sleepable:
            raise env.eacces(f"kernel func {name} is sleepable within non-preemptible region")
    elif disable:
        st.active_preempt_lock += 1
    elif enable:
        raise env.einval(f"unmatched attempt to enable preemption (kernel function {name})")


def check_kfunc_args(env: Env, meta: KfuncMeta, btf: Btf) -> None:
    from .precision import mark_chain_precision

    params = meta.proto.params
    if len(params) > MAX_ARGS:
        raise env.einval(f"Function {meta.name} has {len(params)} > {MAX_ARGS} args")
    regs = env.regs
    release = meta.has(KfuncFlag.RELEASE)
    trusted = meta.trusted_args
    rcu = meta.has(KfuncFlag.RCU)
    i = 0
    while i < len(params):
        p = params[i]
        regno = i + 1
        reg = regs[regno]
        t = btf[_skip(btf, p.type)]
        if _suffix(p, "__ign"):
            i += 1
            continue
        if _is_scalar(t):
            if reg.type != RegType.SCALAR_VALUE:
                raise env.einval(f"R{regno} is not a scalar")
            if _suffix(p, "__k"):
                if reg.b.var_off.mask:
                    raise env.einval(f"R{regno} must be a known constant")
                mark_chain_precision(env, regno)
                meta.arg_constant = reg.b.var_off.value
            elif p.name in ("rdonly_buf_size", "rdwr_buf_size"):
                if meta.r0_size:
                    raise env.einval("2 or more rdonly/rdwr_buf_size parameters for kfunc")
                if reg.b.var_off.mask:
                    raise env.einval(f"R{regno} is not a const")
                meta.r0_size = reg.b.var_off.value
                meta.r0_rdonly = p.name == "rdonly_buf_size"
                if meta.r0_size > 0xFFFFFFFF:
                    raise env.einval(f"R{regno} rdonly/rdwr_buf_size exceeds u32 max")
                mark_chain_precision(env, regno)
            i += 1
            continue
        if not isinstance(t, Ptr):
            raise env.einval(f"Unrecognized arg#{i} type {_kind_word(t)}")
        nullable = _suffix(p, "__nullable")
        if (
            (trusted or rcu)
            and (register_is_null(reg) or reg.type & TypeFlag.PTR_MAYBE_NULL)
            and not nullable
        ):
            raise env.eacces(f"Possibly NULL pointer passed to trusted arg{i}")
        if reg.ref_obj_id:
            if release and meta.ref_obj_id:
                raise env.error(
                    errno.EFAULT,
                    f"verifier internal error: more than one arg with ref_obj_id R{regno} "
                    f"{reg.ref_obj_id} {meta.ref_obj_id}",
                )
            meta.ref_obj_id = reg.ref_obj_id
            if release:
                meta.release_regno = regno
        ref_id = _skip(btf, t.type)
        ref_t = btf[ref_id]
        ref_name = getattr(ref_t, "name", "")
        if not _is_ctx_arg(env, ref_t) and is_iter_arg(meta, i, p.name):
            process_iter_arg(env, meta, btf, regno, env.insn_idx)
            i += 1
            continue
        i = _check_ptr_arg(env, meta, btf, params, i, reg, ref_id, ref_t, ref_name, nullable)
    if release and not meta.release_regno:
        raise env.einval(f"release kernel function {meta.name} expects refcounted PTR_TO_BTF_ID")


def _is_ctx_arg(env: Env, ref_t: object) -> bool:
    names = _CTX_STRUCTS.get(env.prog_type, ())
    return isinstance(ref_t, Struct) and ref_t.name in names


def _check_ptr_arg(
    env: Env, meta: KfuncMeta, btf: Btf, params: tuple[Param, ...], i: int, reg: object,
    ref_id: int, ref_t: object, ref_name: str, nullable: bool,
) -> int:  # fmt: skip
    """Check pointer argument ``i``; returns the index of the next argument."""
    from .calls import _check_func_arg_reg_off
    from .helper_mem import check_helper_mem_access, check_mem_size_reg
    from .jmp import mark_ptr_not_null_reg
    from .state import RegState

    assert isinstance(reg, RegState)
    regno = i + 1
    regs = env.regs
    trusted = meta.trusted_args
    rcu = meta.has(KfuncFlag.RCU)
    bt = base_type(reg.type)
    if meta.name == "bpf_cast_to_kern_ctx" or _is_ctx_arg(env, ref_t):
        if reg.type != RegType.PTR_TO_CTX:
            raise env.einval(f"arg#{i} expected pointer to ctx, but got {reg_type_str(reg.type)}")
        _check_func_arg_reg_off(env, reg, regno, 0)
        return i + 1
    if nullable and register_is_null(reg):
        return i + 1
    socket_like = bt in (RegType.PTR_TO_SOCKET, RegType.PTR_TO_SOCK_COMMON, RegType.PTR_TO_TCP_SOCK,
                         RegType.PTR_TO_XDP_SOCK)  # fmt: skip
    if bt == RegType.PTR_TO_BTF_ID or socket_like:
        if not isinstance(ref_t, Struct | Union):
            raise env.einval(
                f"kernel function {meta.name} args#{i} pointer type {_kind_word(ref_t)} {ref_name} is not supported"
            )
        if (trusted or rcu) and not is_trusted_reg(reg):
            if not rcu:
                raise env.einval(f"R{regno} must be referenced or trusted")
            if not is_rcu_reg(reg):
                raise env.einval(f"R{regno} must be a rcu pointer")
        arg_type = (
            int(TypeFlag.OBJ_RELEASE) if meta.has(KfuncFlag.RELEASE) and reg.ref_obj_id else 0
        )
        _check_func_arg_reg_off(env, reg, regno, arg_type)
        if (
            bt != RegType.PTR_TO_BTF_ID or (has_unsafe_modifiers(reg.type) and not is_rcu_reg(reg))
        ) and not socket_like:
            expected = reg_type_str(bt | (type_flag(reg.type) & TRUSTED_MODIFIERS))
            raise env.einval(f"arg#{i} is {reg_type_str(reg.type)} expected {expected} or socket")
        _check_btf_id_arg(env, meta, btf, reg, ref_id, ref_t, ref_name, i)
        return i + 1
    size_next = i + 1 < len(params) and (
        _suffix(params[i + 1], "__sz") or _suffix(params[i + 1], "__szk")
    )
    if (
        not _is_scalar(ref_t)
        and not _is_scalar_struct(btf, ref_t)
        and (not size_next or not isinstance(ref_t, Void))
    ):
        prefix = "void, " if size_next else ""
        raise env.einval(
            f"arg#{i} pointer type {_kind_word(ref_t)} {ref_name} must point to {prefix}scalar, or struct with scalar"
        )
    _check_func_arg_reg_off(env, reg, regno, 0)
    saved = reg.copy()
    if reg.type & TypeFlag.PTR_MAYBE_NULL:
        mark_ptr_not_null_reg(reg)
    try:
        if size_next:
            size_reg = regs[regno + 1]
            if not (register_is_null(reg) and _suffix(params[i], "__opt")):
                try:
                    check_mem_size_reg(env, size_reg, regno + 1, False, True, None)
                    check_mem_size_reg(env, size_reg, regno + 1, True, True, None)
                except Exception:
                    env.verbose(
                        f"arg#{i} arg#{i + 1} memory, len pair leads to invalid memory access\n"
                    )
                    raise
            if _suffix(params[i + 1], "__szk"):
                if size_reg.b.var_off.mask:
                    raise env.einval(f"R{regno + 1} must be a known constant")
                meta.arg_constant = size_reg.b.var_off.value
            return i + 2
        if register_is_null(saved):
            return i + 1
        from ..btf import resolve_size

        size = resolve_size(btf, ref_id)
        check_helper_mem_access(env, regno, size, False, True, None)
        check_helper_mem_access(env, regno, size, True, True, None)
        return i + 1
    finally:
        reg.assign(saved)


def _check_btf_id_arg(
    env: Env,
    meta: KfuncMeta,
    btf: Btf,
    reg: object,
    ref_id: int,
    ref_t: object,
    ref_name: str,
    i: int,
) -> None:
    from .state import RegState

    assert isinstance(reg, RegState)
    if base_type(reg.type) == RegType.PTR_TO_BTF_ID:
        reg_btf = reg.btf
        reg_id = reg.btf_id
    else:
        reg_btf = btf
        found = btf.find_by_name_kind(_SOCK_NAMES[base_type(reg.type)], Kind.STRUCT)
        reg_id = found or 0
    strict = meta.has(KfuncFlag.RELEASE) and bool(reg.ref_obj_id)
    reg_id = _skip(reg_btf, reg_id) if reg_btf is not None else 0
    reg_t = reg_btf[reg_id] if reg_btf is not None else None
    reg_name = getattr(reg_t, "name", "")
    same = reg_btf is btf and _types_match(btf, reg_id, reg.off, ref_id, strict)
    projection = (ref_name, reg_name) in (("__sk_buff", "sk_buff"), ("xdp_md", "xdp_buff"))
    if not same and not projection:
        raise env.einval(
            f"kernel function {meta.name} args#{i} expected pointer to {_kind_word(ref_t)} {ref_name} "
            f"but R{i + 1} has a pointer to {_kind_word(reg_t)} {reg_name}"
        )


_OBJ_ACQUIRERS = ("bpf_obj_new_impl", "bpf_percpu_obj_new_impl", "bpf_refcount_acquire_impl")

_SOCK_NAMES: dict[int, str] = {
    RegType.PTR_TO_SOCKET: "sock",
    RegType.PTR_TO_SOCK_COMMON: "sock_common",
    RegType.PTR_TO_TCP_SOCK: "tcp_sock",
    RegType.PTR_TO_XDP_SOCK: "xdp_sock",
}


def _set_return(env: Env, meta: KfuncMeta, btf: Btf, idx: int) -> None:
    from .refs import acquire_reference_state

    regs = env.regs
    rt = btf[_skip(btf, meta.proto.return_type)]
    acquire = meta.has(KfuncFlag.ACQUIRE)
    returns_struct_ptr = isinstance(rt, Ptr) and isinstance(btf[_skip(btf, rt.type)], Struct)
    if acquire and not returns_struct_ptr and meta.name not in _OBJ_ACQUIRERS:
        raise env.einval("acquire kernel function does not return PTR_TO_BTF_ID")
    r0 = regs[0]
    if _is_scalar(rt):
        mark_reg_unknown(env, regs, 0)
        return
    if not isinstance(rt, Ptr):
        return  # void
    pid = _skip(btf, rt.type)
    pt = btf[pid]
    if meta.name in _SPECIAL_RET:
        _SPECIAL_RET[meta.name](env, meta, btf)
    elif isinstance(pt, Void):
        mark_reg_unknown(env, regs, 0)
        return
    elif not isinstance(pt, Struct | Union):
        if not meta.r0_size:
            from ..btf import resolve_size

            try:
                meta.r0_size = resolve_size(btf, pid)
                meta.r0_rdonly = True
            except Exception:
                meta.r0_size = 0
        if not meta.r0_size:
            raise env.einval(
                f"kernel function {meta.name} returns pointer type {_kind_word(pt)} "
                f"{getattr(pt, 'name', '')} is not supported"
            )
        mark_reg_known_zero(regs, 0)
        r0.type = RegType.PTR_TO_MEM | (TypeFlag.MEM_RDONLY if meta.r0_rdonly else 0)
        r0.mem_size = meta.r0_size
        if meta.ref_obj_id:
            r0.ref_obj_id = meta.ref_obj_id
    else:
        mark_reg_known_zero(regs, 0)
        r0.btf = btf
        r0.type = RegType.PTR_TO_BTF_ID
        r0.btf_id = pid
        if meta.has(KfuncFlag.ITER_NEXT):
            r0.type |= next_ret_flag(env, meta)
    if meta.has(KfuncFlag.RET_NULL):
        r0.type |= TypeFlag.PTR_MAYBE_NULL
        r0.id = env.new_id()
    if acquire:
        ident = acquire_reference_state(env, idx)
        if meta.has(KfuncFlag.RET_NULL):
            r0.id = ident
        r0.ref_obj_id = ident


_SKB_TYPES = (P.SOCKET_FILTER, P.SCHED_CLS, P.SCHED_ACT, P.CGROUP_SKB, P.LWT_IN, P.LWT_OUT,
              P.LWT_XMIT, P.LWT_SEG6LOCAL, P.SK_SKB)  # fmt: skip
KERN_CTX: dict[ProgType, str] = {
    **dict.fromkeys(_SKB_TYPES, "sk_buff"), P.XDP: "xdp_buff", P.CGROUP_SOCK: "sock",
    P.KPROBE: "pt_regs", P.NETFILTER: "bpf_nf_ctx",
}  # fmt: skip
"""The kernel's own context struct behind each program type's context (what
``bpf_cast_to_kern_ctx`` returns a trusted pointer to)."""


def _ret_cast_to_kern_ctx(env: Env, meta: KfuncMeta, btf: Btf) -> None:
    name = KERN_CTX.get(env.prog_type)
    tid = btf.find_by_name_kind(name, Kind.STRUCT) if name else None
    if tid is None:
        raise env.einval("kern ctx type id 0 is not a struct")
    regs = env.regs
    mark_reg_known_zero(regs, 0)
    regs[0].type = RegType.PTR_TO_BTF_ID | TypeFlag.PTR_TRUSTED
    regs[0].btf = btf
    regs[0].btf_id = tid


def _ret_rdonly_cast(env: Env, meta: KfuncMeta, btf: Btf) -> None:
    tid = meta.arg_constant or 0
    t = btf.get(tid)
    if not isinstance(t, Struct | Union):
        raise env.einval("kfunc bpf_rdonly_cast type ID argument must be of a struct")
    regs = env.regs
    mark_reg_known_zero(regs, 0)
    regs[0].type = RegType.PTR_TO_BTF_ID | TypeFlag.PTR_UNTRUSTED
    regs[0].btf = btf
    regs[0].btf_id = tid


def _unsupported(env: Env, meta: KfuncMeta, btf: Btf) -> None:
    raise env.einval(f"kernel function {meta.name}: pybpf does not model this kfunc's return yet")


_SPECIAL_RET = {
    "bpf_cast_to_kern_ctx": _ret_cast_to_kern_ctx,
    "bpf_rdonly_cast": _ret_rdonly_cast,
    "bpf_obj_new_impl": _unsupported,
    "bpf_percpu_obj_new_impl": _unsupported,
    "bpf_refcount_acquire_impl": _unsupported,
    "bpf_list_pop_front": _unsupported,
    "bpf_list_pop_back": _unsupported,
    "bpf_rbtree_remove": _unsupported,
    "bpf_rbtree_first": _unsupported,
    "bpf_dynptr_slice": _unsupported,
    "bpf_dynptr_slice_rdwr": _unsupported,
}
