"""What a load or store does when its one-region cache misses, shared by every tier.

Each memory instruction remembers the last plain region it touched (base, last valid
address for its size, buffer; generated code keeps the last valid offset instead); a hit
is a bounds compare and a ``struct`` call.  A miss comes here: find the region, remember
it if it is plain (context regions with computed fields are never cached, their accesses
always come here), and apply the memory model's rules, which raise a :class:`MemoryFault`
naming the instruction for any address outside every region.
"""

from __future__ import annotations

from typing import Any

from ..errors import MemoryFault
from ..memory import MEMORY

M64 = (1 << 64) - 1
NO_REGION: tuple[int, int, None] = (0, -1, None)
"""Generated code's cache (base, span, buf) that no address hits (no offset is in
``[0, -1]``)."""


def load_miss(addr: int, size: int, pc: int, cache: list[Any]) -> int:
    """The interpreter's miss: ``cache`` is its ``[base, last, buf]`` list."""
    region = MEMORY.find(addr, size)
    if region is not None and region.fields is None:
        cache[0], cache[1], cache[2] = region.base, region.end - size, region.buf
    return MEMORY.load(addr, size, pc)


def probe_load_miss(addr: int, size: int, pc: int, cache: list[Any]) -> int:
    """A probe load's miss (see :mod:`pybpf.verifier.probe`): a bad address reads 0."""
    try:
        return load_miss(addr, size, pc, cache)
    except MemoryFault:
        return 0


def store_miss(addr: int, size: int, value: int, pc: int, cache: list[Any]) -> None:
    """A store that missed its cache.  ``value`` is untruncated (the register's 64 bits
    or the signed immediate): a context field's setter sees it as the kernel's rewrite of
    that store would."""
    region = MEMORY.find(addr, size)
    if region is not None and region.fields is None and region.writable:
        cache[0], cache[1], cache[2] = region.base, region.end - size, region.buf
    elif region is not None and region.fields is not None and region.writable:
        hook = region.fields.get((addr - region.base, size))
        if hook is not None and hook[1] is not None:
            hook[1](value)
            return
    MEMORY.store(addr, size, value, pc)


def load_resolve(addr: int, size: int, pc: int) -> tuple[int, int, int, Any]:
    """Generated code's load miss: the value and the new cache (base, span, buf), the
    span being the last valid offset from the base (the interpreter's cache keeps the
    last valid address instead)."""
    addr &= M64
    cache: list[Any] = [1, 0, None]
    value = load_miss(addr, size, pc, cache)
    return value, cache[0], cache[1] - cache[0], cache[2]


def load_resolve_signed(addr: int, size: int, pc: int) -> tuple[int, int, int, Any]:
    """As :func:`load_resolve`, the value sign-extended from ``size`` bytes to 64 bits."""
    value, base, span, buf = load_resolve(addr, size, pc)
    bits = size * 8
    if value >> (bits - 1):
        value = (value - (1 << bits)) & M64
    return value, base, span, buf


def probe_load_resolve_signed(addr: int, size: int, pc: int) -> tuple[int, int, int, Any]:
    """As :func:`load_resolve_signed` for a sign-extending probe load: a bad address reads
    0 and leaves a cache no address hits.  (Generated code's unsigned probe loads miss
    through its field-aware path, which catches the fault itself.)"""
    try:
        return load_resolve_signed(addr, size, pc)
    except MemoryFault:
        return 0, *NO_REGION


def store_resolve(addr: int, size: int, value: int, pc: int) -> tuple[int, int, Any]:
    """Generated code's store miss: store, and return the new cache (base, span, buf)."""
    addr &= M64
    cache: list[Any] = [1, 0, None]
    store_miss(addr, size, value, pc, cache)
    return cache[0], cache[1] - cache[0], cache[2]
