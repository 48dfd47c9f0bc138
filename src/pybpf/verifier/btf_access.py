"""Accesses through BTF-typed kernel pointers and through a map pointer.

Both need kernel BTF (the layout of the struct behind the pointer); until pybpf carries
kernel BTF, such accesses are refused with the kernel's message for a type it cannot
walk.
"""

from __future__ import annotations

from typing import Any

from .env import Env
from .log import reg_type_str


def check_ptr_to_btf_access(
    env: Env, regs: Any, regno: int, off: int, size: int, write: bool, value_regno: int
) -> None:
    raise env.eacces(f"R{regno} invalid mem access '{reg_type_str(regs[regno].type)}'")


def check_ptr_to_map_access(
    env: Env, regs: Any, regno: int, off: int, size: int, write: bool, value_regno: int
) -> None:
    if write:
        raise env.eacces("only read from bpf_array is supported")
    raise env.eacces("map_ptr access not supported without kernel BTF")
