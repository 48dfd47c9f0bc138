"""Verifying a struct_ops program with its member's context (see
:mod:`pybpf.verifier.struct_ops_ctx` for the rules)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..isa.insn import Insn
from .registry import BtfOpsType


def verify_struct_ops(insns: Sequence[Insn], ops: BtfOpsType, member: str, *, maps: Sequence[Any] = (),
                      kernel: Any = None, log_level: int = 0) -> Any:  # fmt: skip
    """Run the verifier; raise ``ProgramRejected`` with its verdict when it refuses."""
    from ..program import ProgramRejected
    from ..verifier.struct_ops_ctx import verify_member_program

    res = verify_member_program(list(insns), ops.name, member, maps=maps, kernel=kernel, log_level=log_level)
    if not res.accepted:
        raise ProgramRejected(res)
    return res
