"""What the open-coded iterators' kfuncs do at run time (``bpf_iter_num_*``, ``bpf_iter_bits_*``).

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

from ...errors import BpfError
from ...memory import MEMORY, Region, RegionKind
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


# --- bpf_iter_bits: the set bits of a copied array of u64 words ----------------------------
#
# 16 bytes: the words themselves when there is one (``bits_copy``), else the address of a
# copy pybpf allocates; then the number of bits and the last bit handed out (both s32).

BITS_ITER_NR_WORDS_MAX = 511
_BITS_COPIES: dict[int, Region] = {}  # iterator address -> the copy of its words


def _bits_reset(env: RunEnv, it: int) -> None:
    MEMORY.store(it, 8, 0, env.pc)
    MEMORY.store(it + 8, 4, 0, env.pc)
    MEMORY.store(it + 12, 4, _U32, env.pc)


@kfunc_impl("bpf_iter_bits_new")
def _bits_new(env: RunEnv, it: int, ptr: int, nr_words: int, *_: int) -> int:
    _bits_reset(env, it)
    nr_words &= _U32
    if not ptr or not nr_words:
        return _ret_int(-errno.EINVAL)
    if nr_words > BITS_ITER_NR_WORDS_MAX:
        return _ret_int(-errno.E2BIG)
    try:
        data = MEMORY.read(ptr, nr_words * 8, env.pc)
    except BpfError:
        return _ret_int(-errno.EFAULT)
    if nr_words == 1:
        MEMORY.store(it, 8, int.from_bytes(data, "little"), env.pc)
    else:
        region = MEMORY.add(Region(len(data), RegionKind.MEM, "bpf_iter_bits copy", data=data))
        _BITS_COPIES[it] = region
        MEMORY.store(it, 8, region.base, env.pc)
    MEMORY.store(it + 8, 4, nr_words * 64, env.pc)
    return 0


@kfunc_impl("bpf_iter_bits_next")
def _bits_next(env: RunEnv, it: int, *_: int) -> int:
    nr_bits = _s32(MEMORY.load(it + 8, 4, env.pc))
    bit = _s32(MEMORY.load(it + 12, 4, env.pc))
    if not nr_bits or bit >= nr_bits:
        return 0
    words = MEMORY.load(it, 8, env.pc)
    value = (
        words
        if nr_bits == 64
        else int.from_bytes(MEMORY.read(words, nr_bits // 8, env.pc), "little")
    )
    rest = value >> (bit + 1)
    bit = nr_bits if not rest else bit + 1 + ((rest & -rest).bit_length() - 1)
    MEMORY.store(it + 12, 4, bit & _U32, env.pc)
    return 0 if bit >= nr_bits else it + 12


@kfunc_impl("bpf_iter_bits_destroy")
def _bits_destroy(env: RunEnv, it: int, *_: int) -> int:
    region = _BITS_COPIES.pop(it, None)
    if region is not None and _s32(MEMORY.load(it + 8, 4, env.pc)) > 64:
        MEMORY.remove(region)
    return 0
