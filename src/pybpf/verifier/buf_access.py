"""Loads and stores through ``PTR_TO_BUF``: buffers whose size the verifier does not know.

An iterator over map elements hands its program the element's key (read-only) and
value (writable) as such buffers: the program may be attached later to any map, so the
verifier cannot bound the accesses by a size.  Instead it accepts constant, non-negative
offsets only and remembers the furthest byte the program touches through each kind of
buffer (``max_rdonly_access`` for read-only ones, ``max_rdwr_access`` for writable
ones); creating the iterator link refuses a map whose keys or values are smaller.
"""

from __future__ import annotations

from typing import Any

from . import tnum
from .env import Env
from .log import reg_type_str
from .regs import MEM_RDONLY, mark_reg_unknown
from .state import RegState


def _buf_kind(reg: RegState) -> str:
    return "rdonly" if reg.type & MEM_RDONLY else "rdwr"


def check_buffer_access(
    env: Env, reg: RegState, regno: int, off: int, size: int, zero_size_allowed: bool, rdonly: bool
) -> None:
    """The shape of one access (``check_buffer_access``): a constant offset from the
    buffer's start, not below it; the furthest byte reached is recorded for the link."""
    if off < 0:
        raise env.eacces(f"R{regno} invalid {_buf_kind(reg)} buffer access: off={off}, size={size}")
    vo = reg.b.var_off
    if vo.mask != 0 or vo.value:
        raise env.eacces(
            f"R{regno} invalid variable buffer offset: off={off}, var_off={tnum.format(vo)}"
        )
    if rdonly:
        env.max_rdonly_access = max(env.max_rdonly_access, off + size)
    else:
        env.max_rdwr_access = max(env.max_rdwr_access, off + size)


def check_buf_mem_access(
    env: Env, regs: Any, regno: int, off: int, size: int, write: bool, value_regno: int
) -> None:
    """A load or store through a (non-NULL) buffer pointer: stores into a read-only
    buffer are refused, a load gives an unknown scalar."""
    reg = regs[regno]
    rdonly = bool(reg.type & MEM_RDONLY)
    if rdonly and write:
        raise env.eacces(f"R{regno} cannot write into {reg_type_str(reg.type)}")
    check_buffer_access(env, reg, regno, off, size, False, rdonly)
    if value_regno >= 0 and (rdonly or not write):
        mark_reg_unknown(env, regs, value_regno)
