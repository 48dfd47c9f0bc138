"""What native code asks Python for: slow memory paths, helpers, tail calls, faults.

Each operation is a closure made at compile time with its instruction's fixed facts (pc,
size, cache slot); at run time native code calls the runner's one C-ABI callback with the
operation's number and up to six 64-bit arguments.  An operation that raises leaves its
exception with the runner and native code unwinds to its caller (see ``runner``), so every
fault is the interpreter's own exception, with the interpreter's text.
"""

from __future__ import annotations

import ctypes
import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...errors import RuntimeFault
from ...isa.semantics import alu64, endian, sign_extend
from ...memory import MEMORY
from ..slowpath import load_miss, probe_load_miss, store_miss
from . import layout

if TYPE_CHECKING:
    from .runner import JitRunner

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1

Op = Callable[..., int]
"""``op(runner, a, b, c, d, e, f) -> int`` (the result is masked to 64 bits by the caller)."""

CacheArray = Any
"""A ctypes ``c_uint64`` array of (base, last) pairs, one pair per cached access."""


def _fill(cache: CacheArray, slot: int, got: list[Any]) -> None:
    if got[2] is not None:
        cache[2 * slot], cache[2 * slot + 1] = got[0], got[1]


def load(
    cache: CacheArray, fields: CacheArray, slot: int, size: int, signed: bool, pc: int, probe: bool = False
) -> Op:
    """A load that missed its region cache.  A load from a special region (a context with
    computed fields) is remembered in ``fields`` (address, value, epoch): native code
    reuses the value until the next call into Python.  A ``probe`` load (the kernel's
    ``BPF_PROBE_MEM``) reads 0 at a bad address."""
    bits = size * 8
    miss = probe_load_miss if probe else load_miss

    def load_op(runner: JitRunner, addr: int, *_: int) -> int:
        got: list[Any] = [1, 0, None]
        value = miss(addr, size, pc, got)
        _fill(cache, slot, got)
        if signed:
            value = sign_extend(value, bits) & M64
        if got[2] is None:
            region = MEMORY.find(addr, size)
            if region is not None and region.fields is not None:
                # loads are pure: the epoch stays as it is
                fields[3 * slot], fields[3 * slot + 1] = addr, value
                fields[3 * slot + 2] = runner.state[layout.EPOCH]
        return value

    return load_op


def store(cache: CacheArray, slot: int, size: int, pc: int) -> Op:
    def store_op(runner: JitRunner, addr: int, value: int, *_: int) -> int:
        got: list[Any] = [1, 0, None]
        store_miss(addr, size, value, pc, got)  # the register's 64 bits, as the interpreter
        _fill(cache, slot, got)
        return 0

    return store_op


def store_imm(cache: CacheArray, slot: int, size: int, imm: int, pc: int) -> Op:
    """``st``: context fields' hooks see the signed immediate, as in the interpreter."""

    def store_imm_op(runner: JitRunner, addr: int, *_: int) -> int:
        got: list[Any] = [1, 0, None]
        store_miss(addr, size, imm, pc, got)
        _fill(cache, slot, got)
        return 0

    return store_imm_op


def atomic(cache: CacheArray, slot: int, size: int, code: int, pc: int) -> Op:
    """The interpreter's atomic semantics through the memory model (a miss, an unaligned
    address or a special region); returns the old value."""
    mask = (1 << (size * 8)) - 1
    alu = {0x00: 0x00, 0x40: 0x40, 0x50: 0x50, 0xA0: 0xA0}.get(code & ~1)

    def atomic_op(runner: JitRunner, addr: int, src: int, r0: int, *_: int) -> int:
        old = MEMORY.load(addr, size, pc)
        if code == 0x100:  # load-acquire
            new = None
        elif code == 0x110:  # store-release
            MEMORY.store(addr, size, src, pc)
            return 0
        elif code == 0xE1:  # xchg
            new = src
        elif code == 0xF1:  # cmpxchg
            new = src if old == r0 & mask else None
        else:
            assert alu is not None
            new = alu64(alu, old, src) & mask
        if new is not None:
            MEMORY.store(addr, size, new, pc)
        region = MEMORY.find(addr, size)
        if region is not None and region.fields is None and region.writable and addr % size == 0:
            cache[2 * slot], cache[2 * slot + 1] = region.base, region.end - size
        return old

    return atomic_op


def fill(cache: CacheArray, slot: int, size: int) -> Op:
    """Remember the plain region holding ``[addr, addr+size)`` (never faults: the Python
    helper that runs next checks the access)."""

    def fill_op(runner: JitRunner, addr: int, *_: int) -> int:
        region = MEMORY.find(addr, size)
        if region is not None and region.fields is None:
            cache[2 * slot], cache[2 * slot + 1] = region.base, region.end - size
        return 0

    return fill_op


def fault(pc: int, reason: str, err: int = errno.EFAULT) -> Op:
    def fault_op(runner: JitRunner, *_: int) -> int:
        raise RuntimeFault(pc, reason, err)

    return fault_op


def budget(pc: int) -> Op:
    return fault(pc, "instruction budget exhausted (a loop that does not end?)", errno.ELOOP)


def too_deep(pc: int) -> Op:
    def too_deep_op(runner: JitRunner, depth: int, *_: int) -> int:
        raise RuntimeFault(pc, f"the call stack of {depth + 1} frames is too deep", errno.E2BIG)

    return too_deep_op


CTX_SAFE_HELPERS = frozenset({
    "map_lookup_elem", "map_update_elem", "map_delete_elem", "map_lookup_percpu_elem",
    "map_push_elem", "map_pop_elem", "map_peek_elem", "ktime_get_ns", "ktime_get_boot_ns",
    "ktime_get_coarse_ns", "get_prandom_u32", "get_smp_processor_id", "trace_printk",
    "ringbuf_output", "ringbuf_reserve", "ringbuf_submit", "ringbuf_discard", "ringbuf_query",
})  # fmt: skip
"""Helpers that cannot change what a context field's getter returns (they touch maps,
clocks and buffers, never the packet or the context): remembered fields stay valid."""


def helper(fn: Callable[..., int], pc: int) -> Op:
    def helper_op(runner: JitRunner, r1: int, r2: int, r3: int, r4: int, r5: int, *_: int) -> int:
        env = runner.env
        env.pc = pc
        return fn(env, r1, r2, r3, r4, r5) & M64

    return helper_op


def callx(helpers: Any, pc: int) -> Op:
    def callx_op(runner: JitRunner, reg: int, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        found = helpers.get(reg)
        if found is None:
            raise RuntimeFault(pc, f"callx to unknown helper #{reg}", errno.ENOTSUP)
        env = runner.env
        env.pc = pc
        return found.fn(env, r1, r2, r3, r4, r5) & M64  # type: ignore[no-any-return]

    return callx_op


def tail_call(pc: int, remember: CacheArray, slot: int) -> Op:
    """The native entry of the program a tail call reaches, or 0 (fall through).  A
    target found is remembered for the call site (map, index, epoch, runner, entry):
    native code reuses it until Python next runs, counting the 33 itself."""

    def tail_call_op(runner: JitRunner, r2: int, r3: int, *_: int) -> int:
        from ...maps.base import map_at

        prog_array = map_at(r2)
        if prog_array is None:
            raise RuntimeFault(pc, "bpf_tail_call: r2 is not a map")
        index = r3 & M32
        state = runner.state
        if index >= prog_array.spec.max_entries or state[layout.TAIL_CALLS] >= 33:
            return 0
        target = prog_array.get_program(index)  # type: ignore[attr-defined]
        if target is None:
            return 0
        state[layout.TAIL_CALLS] += 1
        entry = runner.entry_address(getattr(target, "executable", target))
        base = 5 * slot
        remember[base], remember[base + 1], remember[base + 2] = r2, index, state[layout.EPOCH]
        remember[base + 3], remember[base + 4] = state[layout.TOKEN], entry
        return entry

    return tail_call_op


class PacketExit(Exception):
    """A legacy packet load out of range: the run ends with r0 = 0."""


def ld_pkt(size: int, imm: int, indirect: bool, pc: int) -> Op:
    def ld_pkt_op(runner: JitRunner, base: int, *_: int) -> int:
        skb = runner.env.ctx
        if skb is None or not hasattr(skb, "load_bytes_relative"):
            raise RuntimeFault(pc, "LD_ABS/LD_IND needs an skb context")
        offset = ((base & M32) + imm) if indirect else imm
        data = skb.load_bytes_relative(sign_extend(offset & M32, 32), size)
        if data is None:
            raise PacketExit
        return int.from_bytes(data, "big")

    return ld_pkt_op


def endian_op(bits: int, to_big: bool, uncond: bool) -> Op:
    """Byte swaps of widths native code does not special-case."""

    def endian_fn(runner: JitRunner, value: int, *_: int) -> int:
        return endian(value, bits, to_big, uncond) & M64

    return endian_fn


def new_cache(slots: int) -> CacheArray:
    """Caches that no address hits (base 1 > last 0)."""
    cache = (ctypes.c_uint64 * max(2 * slots, 2))()
    reset_cache(cache)
    return cache


_MISS = (1).to_bytes(8, "little") + bytes(8)
"""One cache pair no address hits: base 1, last 0."""


def reset_cache(cache: CacheArray) -> None:
    pairs = len(cache) // 2
    ctypes.memmove(cache, _MISS * pairs, 16 * pairs)
