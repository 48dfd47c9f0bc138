"""Loading ``BPF_PROG_TYPE_STRUCT_OPS`` programs: each is attached, through the kernel
BTF, to one member of one ops struct (``attach_btf_id`` the struct, the expected attach
type the member's index), and its kfunc calls are bound to the subsystem's functions."""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import BpfError
from ..isa.insn import Insn
from ..isa.opcodes import InsnClass, JmpOp, PseudoCall
from ..kernel.helpers import HELPERS, Helper
from ..kernel.progtypes import ProgType
from ..kernel.vmlinux import kfunc_by_id
from ..maps.types import ENOTSUPP
from ..program import Program, load_program
from ..vm.executable import Executable
from .registry import BtfOpsType, ops_type, ops_type_by_id

KFUNC_HELPER_BASE = 0x100000
"""Kfunc calls run as calls of helper ``KFUNC_HELPER_BASE + BTF id`` (the slots the
program loader uses too); the subsystem's implementations fill them for its programs."""


def check_attach(ops: BtfOpsType, member_index: int) -> str:
    """``check_struct_ops_btf_id``: the member must exist and be a function pointer."""
    members = ops.layout.members
    if not 0 <= member_index < len(members):
        raise BpfError(errno.EINVAL, f"attach to invalid member idx {member_index} of struct {ops.name}")
    m = members[member_index]
    if not m.is_func:
        raise BpfError(errno.EINVAL, f"attach to invalid member {m.name}(@idx {member_index}) of struct {ops.name}")
    return m.name


def kfunc_impls(ops: BtfOpsType) -> Mapping[str, Any]:
    if ops.name == "tcp_congestion_ops":
        from .tcp.kfuncs import TCP_CA_KFUNCS

        return TCP_CA_KFUNCS
    return getattr(ops, "kfuncs", {})


def subsystem_helpers(ops: BtfOpsType) -> dict[int, Helper]:
    """Helpers the subsystem adds for its programs (``get_func_proto``)."""
    if ops.name == "tcp_congestion_ops":
        from .tcp.helpers import tcp_ca_helpers

        return tcp_ca_helpers()
    return dict(getattr(ops, "helpers", {}))


def bind_kfuncs(insns: Sequence[Insn], ops: BtfOpsType) -> tuple[list[Insn], dict[int, Helper]]:
    """Kfunc calls become calls of private helper ids with the subsystem's implementation;
    a kfunc the subsystem does not offer is refused as the kernel refuses it."""
    impls = kfunc_impls(ops)
    out = list(insns)
    helpers: dict[int, Helper] = {}
    for i, insn in enumerate(out):
        if not (insn.cls == InsnClass.JMP and insn.op == JmpOp.CALL):
            continue
        if insn.src == PseudoCall.KFUNC_CALL:
            btf_id = insn.imm
        elif insn.src == 0 and insn.imm >= KFUNC_HELPER_BASE:
            btf_id = insn.imm - KFUNC_HELPER_BASE  # already turned into a helper slot at load
        else:
            continue
        desc = kfunc_by_id().get(btf_id)
        if desc is None:
            raise BpfError(errno.EINVAL, f"kernel btf_id {insn.imm} is not a function")
        fn = impls.get(desc.name)
        if fn is None:
            raise BpfError(errno.EACCES, f"calling kernel function {desc.name} is not allowed")
        hid = KFUNC_HELPER_BASE + btf_id
        helpers[hid] = Helper(hid, desc.name, fn)
        out[i] = dataclasses.replace(insn, src=0, imm=hid)
    return out, helpers


def load_struct_ops_program(
    insns: Sequence[Insn],
    ops: str | BtfOpsType,
    member: str | int,
    *,
    kernel: Any = None,
    maps: Sequence[Any] = (),
    name: str = "",
    verify: bool = True,
    log_level: int = 0,
) -> Program:
    """``BPF_PROG_LOAD`` of a struct_ops program for ``ops.member``.

    ``verify`` runs pybpf's verifier with the member's context; ``False`` loads without
    it (the runtime still faults cleanly outside every region).
    """
    t = ops if isinstance(ops, BtfOpsType) else ops_type(ops)
    index = t.member_index(member) if isinstance(member, str) else member
    mname = check_attach(t, index)
    verified = None
    if verify:
        from .verify import verify_struct_ops

        verified = verify_struct_ops(list(insns), t, mname, maps=maps, kernel=kernel, log_level=log_level)
    prog = load_program(insns, ProgType.STRUCT_OPS, maps=maps, kernel=kernel, name=name, verify=False)
    prog.verified = verified
    xlated, helpers = bind_kfuncs(prog.xlated, t)
    helpers.update(subsystem_helpers(t))
    if helpers:
        prog.xlated = xlated
        prog.executable = Executable(xlated, prog.name, prog.prog_type, {**HELPERS, **helpers}, owner=prog)
    if verified is not None:
        from ..verifier.probe import probe_loads

        prog.executable.probe_loads = probe_loads(verified.env)
    prog.info.update(attach_btf_id=t.type_id, expected_attach_type=index,
                     struct_ops=t.name, struct_ops_member=mname)  # fmt: skip
    return prog


def attach_target(prog: Program) -> tuple[BtfOpsType, str] | None:
    t = ops_type_by_id(prog.info.get("attach_btf_id", -1))
    if t is None:
        return None
    return t, str(prog.info.get("struct_ops_member", ""))


__all__ = ["ENOTSUPP", "KFUNC_HELPER_BASE", "bind_kfuncs", "check_attach", "load_struct_ops_program"]
