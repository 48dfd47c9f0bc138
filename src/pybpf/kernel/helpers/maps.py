"""Map helpers: lookup/update/delete, queue and stack, ring buffers, for-each."""

from __future__ import annotations

import errno

from ...errors import MemoryFault, RuntimeFault
from ...maps.base import Map, map_at
from ...maps.bloom import BloomFilterMap
from ...maps.ringbuf import RingBufMap, ringbuf_of
from ...memory import MEMORY
from ..env import RunEnv
from .registry import M64, helper, neg


def _map(env: RunEnv, address: int) -> Map:
    m = map_at(address)
    if m is None:
        raise RuntimeFault(env.pc, f"0x{address:x} is not a map")
    return m


def _key(env: RunEnv, m: Map, address: int) -> bytes:
    return MEMORY.read(address, m.spec.key_size, env.pc)


def _value(env: RunEnv, m: Map, address: int) -> bytes:
    return MEMORY.read(address, m.spec.value_size, env.pc)


def _ret(value: int) -> int:
    return value & M64


@helper("map_lookup_elem")
def map_lookup_elem(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    m = _map(env, r1)
    return m.bpf_lookup(_key(env, m, r2), env.cpu)


@helper("map_update_elem")
def map_update_elem(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    m = _map(env, r1)
    return _ret(m.bpf_update_at(_key(env, m, r2), r3, r4, env.cpu, env.pc))


@helper("map_delete_elem")
def map_delete_elem(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    m = _map(env, r1)
    return _ret(m.bpf_delete(_key(env, m, r2), env.cpu))


@helper("map_lookup_percpu_elem")
def map_lookup_percpu_elem(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    m = _map(env, r1)
    return m.bpf_lookup_percpu(_key(env, m, r2), r3 & 0xFFFFFFFF)


@helper("map_push_elem")
def map_push_elem(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    m = _map(env, r1)
    return _ret(m.bpf_push(_value(env, m, r2), r3, env.cpu))


def _pop_or_peek(env: RunEnv, r1: int, r2: int, peek: bool) -> int:
    m = _map(env, r1)
    if peek and isinstance(m, BloomFilterMap):
        # a bloom filter's peek tests the program's value: it reads r2, never writes it
        return _ret(m.bpf_peek_value(_value(env, m, r2), env.cpu))
    got = m.bpf_peek(env.cpu) if peek else m.bpf_pop(env.cpu)
    if isinstance(got, int):
        MEMORY.write(r2, bytes(m.spec.value_size), env.pc)
        return _ret(got)
    MEMORY.write(r2, got, env.pc)
    return 0


@helper("map_pop_elem")
def map_pop_elem(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _pop_or_peek(env, r1, r2, peek=False)


@helper("map_peek_elem")
def map_peek_elem(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _pop_or_peek(env, r1, r2, peek=True)


def _ringbuf(env: RunEnv, address: int) -> RingBufMap:
    m = _map(env, address)
    if not isinstance(m, RingBufMap):
        raise RuntimeFault(env.pc, f"map {m.spec.name or m.id} is not a ring buffer")
    return m


@helper("ringbuf_output")
def ringbuf_output(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    rb = _ringbuf(env, r1)
    size = r3 & 0xFFFFFFFF
    try:
        data = MEMORY.read(r2, size, env.pc)
    except MemoryFault:
        return neg(errno.EFAULT)
    return _ret(rb.output(data, r4))


@helper("ringbuf_reserve")
def ringbuf_reserve(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _ringbuf(env, r1).reserve(r2 & 0xFFFFFFFF, r3)


def _commit(env: RunEnv, sample: int, flags: int, discard: bool) -> int:
    rb = ringbuf_of(sample)
    if rb is None:
        raise RuntimeFault(env.pc, f"0x{sample:x} is not a ring buffer sample")
    rb.commit(sample, flags, discard)
    return 0


@helper("ringbuf_submit")
def ringbuf_submit(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _commit(env, r1, r2, discard=False)


@helper("ringbuf_discard")
def ringbuf_discard(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _commit(env, r1, r2, discard=True)


@helper("ringbuf_query")
def ringbuf_query(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _ret(_ringbuf(env, r1).query(r2))


@helper("for_each_map_elem")
def for_each_map_elem(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """Call the callback at r2 with (map, key, value, ctx) per element until it returns 1."""
    m = _map(env, r1)
    if r4:
        return neg(errno.EINVAL)
    call = env.call_function
    assert call is not None
    count = 0
    for key_addr, value_addr in m.for_each_elem(env.cpu):
        count += 1
        if call(r2, (r1, key_addr, value_addr, r3)) & M64 == 1:
            break
    return count


@helper("loop")
def loop(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """``bpf_loop(nr_loops, callback, ctx, flags)``: call back with (index, ctx)."""
    nr = r1 & 0xFFFFFFFF
    if r4:
        return neg(errno.EINVAL)
    if nr > 1 << 23:
        return neg(errno.E2BIG)
    call = env.call_function
    assert call is not None
    for i in range(nr):
        if call(r2, (i, r3)) & M64 == 1:
            return i + 1
    return nr
