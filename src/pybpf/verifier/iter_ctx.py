"""The context of an iterator program: which target it attaches to, and what a load
from each context slot gives (``btf_ctx_access`` with the target's ``ctx_arg_info``).

``iter/<target>`` programs are tracing programs attached to ``bpf_iter_<target>``; the
loader names that function in :attr:`Options.attach_btf_name` (the kernel gets it as
``attach_btf_id``).  A pointer slot loads as a BTF pointer into pybpf's kernel BTF, so
that later loads through it are walked over the struct's members.
"""

from __future__ import annotations

from ..kernel.ctx_access import BtfFuncSig, CtxAccess
from ..kernel.iter_targets import iter_target
from ..kernel.progtypes import AttachType, ProgType
from ..kernel.regtypes import RegType, base_type
from .env import Env
from .state import RegState


def attach_func_sig(env: Env) -> BtfFuncSig | None:
    """The signature a tracing program's context follows, where pybpf knows it (the
    iterator targets, struct_ops members, and the BTF-typed targets of :mod:`.btf_ctx`);
    None leaves every slot a scalar."""
    if env.prog_type == ProgType.STRUCT_OPS:
        from .struct_ops_ctx import struct_ops_func_sig

        return struct_ops_func_sig(env)
    if env.prog_type != ProgType.TRACING or env.expected_attach_type != AttachType.TRACE_ITER:
        from .btf_ctx import env_func_sig

        return env_func_sig(env)
    name = getattr(env.options, "attach_btf_name", "")
    target = iter_target(name) if name else None
    return target.signature() if target is not None else None


def mark_ctx_pointer(reg: RegState, acc: CtxAccess) -> None:
    """Give a pointer loaded from the context its BTF type (``reg->btf``/``btf_id``)."""
    if base_type(acc.reg_type) != RegType.PTR_TO_BTF_ID or not acc.btf_type:
        return
    from ..kernel.vmlinux import kernel_btf, struct_id

    reg.btf = kernel_btf()
    reg.btf_id = acc.btf_id or struct_id(acc.btf_type)
