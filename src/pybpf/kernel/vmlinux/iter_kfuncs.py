"""What the numeric open-coded iterator's kfuncs do at run time (``bpf_iter_num_*``).

``struct bpf_iter_num`` is eight opaque bytes on the program's stack; the kernel keeps
two signed 32-bit numbers in them: the last value handed out and the end of the range
(exclusive).  ``_new`` refuses a reversed range (-EINVAL) and one longer than
``BPF_MAX_LOOPS`` (-E2BIG), leaving an iterator that yields nothing; ``_next`` returns
a pointer to the current value inside the iterator itself, or NULL once the range is
used up (and stays so); ``_destroy`` empties it.  The arithmetic wraps at 32 bits as
the kernel's does.
"""

from __future__ import annotations

import errno

from ...memory import MEMORY
from ..env import RunEnv
from .runtime import kfunc_impl

BPF_MAX_LOOPS = 8 * 1024 * 1024
_U32 = 0xFFFFFFFF


def _s32(v: int) -> int:
    v &= _U32
    return v - (1 << 32) if v >> 31 else v


def _set(env: RunEnv, it: int, cur: int, end: int) -> None:
    MEMORY.store(it, 4, cur & _U32, env.pc)
    MEMORY.store(it + 4, 4, end & _U32, env.pc)


def _ret_int(value: int) -> int:
    """An ``int`` return as the x86-64 kernel leaves it in the 64-bit register."""
    return value & _U32


@kfunc_impl("bpf_iter_num_new")
def _num_new(env: RunEnv, it: int, start: int, end: int, *_: int) -> int:
    start, end = _s32(start), _s32(end)
    if start > end:
        _set(env, it, 0, 0)
        return _ret_int(-errno.EINVAL)
    if end - start > BPF_MAX_LOOPS:
        _set(env, it, 0, 0)
        return _ret_int(-errno.E2BIG)
    _set(env, it, start - 1, end)
    return 0


@kfunc_impl("bpf_iter_num_next")
def _num_next(env: RunEnv, it: int, *_: int) -> int:
    cur = _s32(MEMORY.load(it, 4, env.pc))
    end = _s32(MEMORY.load(it + 4, 4, env.pc))
    if _s32(cur + 1) >= end:
        _set(env, it, 0, 0)
        return 0
    MEMORY.store(it, 4, (cur + 1) & _U32, env.pc)
    return it


@kfunc_impl("bpf_iter_num_destroy")
def _num_destroy(env: RunEnv, it: int, *_: int) -> int:
    _set(env, it, 0, 0)
    return 0
