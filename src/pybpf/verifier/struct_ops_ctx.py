"""The verifier's rules for struct_ops programs: the context is the ops member's
argument list (typed by the member's stub prototype in the kernel BTF), writes through
a ``tcp_sock`` go only to the fields ``bpf_tcp_ca`` permits, and the return value
follows the member's prototype (a void member's r0 is not looked at).

The loader names the member in :attr:`Options.attach_btf_name` as ``ops:member``
(the kernel gets the struct as ``attach_btf_id`` and the member's index as the
expected attach type)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from ..btf import Func, FuncProto, Int, Ptr, Struct
from ..btf.resolve import skip_modifiers
from ..isa.insn import Insn
from ..kernel.ctx_access import BtfArg, BtfArgKind, BtfFuncSig
from ..kernel.progtypes import ProgType
from ..kernel.vmlinux import kernel_btf, offsetof, sizeof, struct_ops_stub
from .btf_access import register_btf_write_access
from .env import Env
from .state import RegState


def _arg(type_id: int, name: str) -> BtfArg:
    btf = kernel_btf()
    t = btf[skip_modifiers(btf, type_id)]
    if not isinstance(t, Ptr):
        return BtfArg(BtfArgKind.SCALAR)
    target = btf[skip_modifiers(btf, t.type)]
    if isinstance(target, Struct):
        return BtfArg(BtfArgKind.STRUCT_PTR, struct=target.name, nullable=name.endswith("__nullable"))
    if isinstance(target, Int):
        return BtfArg(BtfArgKind.INT_PTR)
    return BtfArg(BtfArgKind.VOID_PTR)


@cache
def member_func_sig(ops: str, member: str) -> BtfFuncSig:
    """The member's prototype as the context's arguments."""
    btf = kernel_btf()
    f = btf[struct_ops_stub(ops, member)]
    assert isinstance(f, Func)
    proto = btf[f.type]
    assert isinstance(proto, FuncProto)
    args = tuple(_arg(p.type, p.name) for p in proto.params)
    ret = _arg(proto.return_type, "") if proto.return_type else None
    return BtfFuncSig(f"{ops}.{member}", args, ret)


def returns_void(ops: str, member: str) -> bool:
    return member_func_sig(ops, member).ret is None


@cache
def _tcp_writable() -> tuple[tuple[int, int, str], ...]:
    """(start, end, name) of every ``tcp_sock`` span a congestion control may write."""
    spans = []
    for path in ("snd_cwnd", "snd_cwnd_cnt", "snd_cwnd_stamp", "snd_ssthresh", "ecn_flags", "app_limited"):
        o = offsetof("tcp_sock", path)
        from ..kernel.vmlinux import field_info

        spans.append((o, o + field_info("tcp_sock", path).byte_size, path))
    for path in ("inet_conn.icsk_ca_priv", "inet_conn.icsk_ack.pending",
                 "inet_conn.icsk_inet.sk.sk_pacing_rate", "inet_conn.icsk_inet.sk.sk_pacing_status"):  # fmt: skip
        try:
            from ..kernel.vmlinux import field_info

            o = offsetof("tcp_sock", path)
            spans.append((o, o + field_info("tcp_sock", path).byte_size, path.rsplit(".", 1)[-1]))
        except Exception:  # a field pybpf's tcp_sock does not declare cannot be written
            continue
    return tuple(sorted(spans))


def tcp_ca_write_check(struct_name: str, off: int, size: int) -> str | None:
    """None when a ``tcp_congestion_ops`` program may write ``size`` bytes at ``off``
    of ``struct_name``; else the kernel's message for the refusal."""
    if struct_name != "tcp_sock":
        return "only read is supported"
    for start, end, _ in _tcp_writable():
        if start <= off < end and (off == start or _ == "icsk_ca_priv"):
            if off + size > end:
                return (f"write access at off {off} with size {size} beyond the member of "
                        f"tcp_sock ended at {end}")  # fmt: skip
            return None
    return f"no write support to tcp_sock at off {off}"


def tcp_sock_size() -> int:
    return sizeof("tcp_sock")


def attach_member(env: Env) -> tuple[str, str] | None:
    """(ops, member) of a struct_ops program being verified, or None."""
    if env.prog_type != ProgType.STRUCT_OPS:
        return None
    ops, sep, member = getattr(env.options, "attach_btf_name", "").partition(":")
    return (ops, member) if sep and ops and member else None


def struct_ops_func_sig(env: Env) -> BtfFuncSig | None:
    at = attach_member(env)
    if at is None:
        return None
    try:
        return member_func_sig(*at)
    except Exception:  # no stub for the member: every slot reads as a scalar
        return None


def skip_return_check(env: Env) -> bool:
    """A void member's program exits with whatever r0 holds: the kernel does not look."""
    at = attach_member(env)
    return at is not None and returns_void(*at)




def struct_ops_btf_write(env: Env, reg: RegState, off: int, size: int) -> None:
    """The struct_ops type's ``btf_struct_access``: which stores through a typed
    pointer it permits."""
    at = attach_member(env)
    tname = reg.btf.name_of(reg.btf_id) if reg.btf is not None else ""
    if at is not None and at[0] == "tcp_congestion_ops":
        msg = tcp_ca_write_check(tname, off, size)
    elif at is not None:
        msg = _own_type_write_check(at[0], tname, off, size)
    else:
        msg = "only read is supported"
    if msg is not None:
        raise env.eacces(msg)


def _own_type_write_check(ops: str, tname: str, off: int, size: int) -> str | None:
    from ..kernel.vmlinux import field_info

    writable = WRITABLE_FIELDS.get(ops, {}).get(tname, ())
    for path in writable:
        info = field_info(tname, path)
        if info.byte_offset <= off and off + size <= info.byte_offset + info.byte_size:
            return None
    return f"no write support to {tname} at off {off}"


WRITABLE_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {}
"""For struct_ops types of pybpf's own: the fields of each struct their programs may
write (``ops -> struct -> fields``)."""


def verify_member_program(insns: Sequence[Insn], ops: str, member: str, *, maps: Sequence[Any] = (),
                          kernel: Any = None, log_level: int = 0) -> Any:  # fmt: skip
    """Verify a program for ``ops.member`` (the verifier's main loop with the member's
    context; typed-pointer accesses go through :mod:`.btf_access`)."""
    from .core import verify
    from .env import Options

    opts = Options(log_level=log_level, attach_btf_name=f"{ops}:{member}")
    return verify(list(insns), ProgType.STRUCT_OPS, maps=maps, kernel=kernel, options=opts)


register_btf_write_access(ProgType.STRUCT_OPS, struct_ops_btf_write)
