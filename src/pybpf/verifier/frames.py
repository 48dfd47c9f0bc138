"""A new function frame's starting registers: all uninitialised but the frame pointer.

A leaf of the verifier's modules, shared by the driver (the entry frame), BPF-to-BPF
calls and callbacks.
"""

from __future__ import annotations

from ..kernel.regtypes import RegType
from .state import FuncState


def init_func_state(frame: FuncState, callsite: int, frameno: int, subprogno: int) -> None:
    """Reset ``frame`` for a call from ``callsite`` into subprogram ``subprogno``."""
    frame.callsite = callsite
    frame.frameno = frameno
    frame.subprogno = subprogno
    for r in frame.regs:
        r.mark_not_init()
    init_frame_pointer(frame, frameno)


def init_frame_pointer(frame: FuncState, frameno: int) -> None:
    """R10: a read-only pointer to the top of frame ``frameno``'s stack."""
    fp = frame.regs[10]
    fp.mark_known(0)
    fp.type = RegType.PTR_TO_STACK
    fp.frameno = frameno
