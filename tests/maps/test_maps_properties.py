"""Property tests: maps against simple reference models."""

from __future__ import annotations

import errno
from collections import deque

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.errors import BpfError
from pybpf.maps import MapFlag, MapSpec, MapType, create_map, jhash, jhash2
from pybpf.maps.hashtab import HashMap

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

keys = st.integers(0, 40)
op = st.one_of(
    st.tuples(st.just("update"), keys, st.integers(0, 2**64 - 1), st.sampled_from([0, 1, 2])),
    st.tuples(st.just("delete"), keys, st.just(0), st.just(0)),
    st.tuples(st.just("lookup"), keys, st.just(0), st.just(0)),
    st.tuples(st.just("take"), keys, st.just(0), st.just(0)),
)


def _err(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return 0, fn(*args)
    except BpfError as exc:
        return exc.errno, None


@SETTINGS
@given(st.integers(1, 12), st.sampled_from([0, MapFlag.NO_PREALLOC]), st.booleans(),
       st.lists(op, max_size=80))
def test_hash_behaves_like_a_bounded_dict(cap: int, prealloc: int, percpu: bool,
                                           ops: list[tuple[str, int, int, int]]) -> None:
    t = MapType.PERCPU_HASH if percpu else MapType.HASH
    m = create_map(MapSpec(t, 4, 8, cap, prealloc), 2)
    model: dict[int, int] = {}
    for kind, k, v, flags in ops:
        kb = k.to_bytes(4, "little")
        if kind == "update":
            if flags == 1 and k in model:
                want = errno.EEXIST
            elif flags == 2 and k not in model:
                want = errno.ENOENT
            elif k not in model and len(model) >= cap:
                want = errno.E2BIG
            else:
                want = 0
                model[k] = v
            assert _err(m.update, kb, v, flags)[0] == want
        elif kind == "delete":
            assert _err(m.delete, kb)[0] == (0 if model.pop(k, None) is not None else errno.ENOENT)
        elif kind == "lookup":
            e, got = _err(m.lookup, kb)
            if k in model:
                stride = 8 * (2 if percpu else 1)
                assert e == 0 and got == model[k].to_bytes(8, "little") * (stride // 8)
            else:
                assert e == errno.ENOENT
        else:
            e, _ = _err(m.lookup_and_delete, kb)
            assert e == (0 if model.pop(k, None) is not None else errno.ENOENT)
        assert len(m) == len(model)
    walked = list(m)
    assert len(walked) == len(set(walked)) == len(model)
    assert {int.from_bytes(x, "little") for x in walked} == set(model)
    m.close()


@SETTINGS
@given(st.integers(1, 64), st.lists(st.integers(0, 10_000), max_size=60), st.integers(1, 9))
def test_get_next_key_and_batches_visit_each_key_once(cap: int, ks: list[int], count: int) -> None:
    m = create_map(MapSpec(MapType.HASH, 4, 4, max(cap, len(ks)), MapFlag.ZERO_SEED), 2)
    for k in ks:
        m[k] = k
    walk = list(m)
    assert sorted(walk) == sorted({k.to_bytes(4, "little") for k in ks})
    got: list[bytes] = []
    token = None
    for _ in range(10_000):
        r = m.lookup_batch(token, count)
        got += r.keys
        if r.errno == errno.ENOSPC:
            count += 1  # grow the buffer, as a user would
            continue
        token = r.next_batch
        if r.errno == errno.ENOENT:
            break
    assert got == walk


@SETTINGS
@given(st.integers(1, 6), st.lists(st.tuples(st.integers(0, 8), st.integers(0, 255)),
                                   max_size=40))
def test_array_behaves_like_a_list(n: int, writes: list[tuple[int, int]]) -> None:
    m = create_map(MapSpec(MapType.ARRAY, 4, 1, n), 2)
    model = [0] * n
    for i, v in writes:
        e, _ = _err(m.update, i.to_bytes(4, "little"), bytes([v]))
        if i < n:
            assert e == 0
            model[i] = v
        else:
            assert e == errno.E2BIG
    assert [m[i][0] for i in range(n)] == model
    assert list(m) == [i.to_bytes(4, "little") for i in range(n)]


@SETTINGS
@given(st.sampled_from([MapType.QUEUE, MapType.STACK]), st.integers(1, 5),
       st.lists(st.tuples(st.sampled_from(["push", "push_exist", "pop", "peek"]),
                          st.integers(0, 255)), max_size=50))
def test_queue_and_stack_against_deque(t: MapType, cap: int,
                                       ops: list[tuple[str, int]]) -> None:
    m = create_map(MapSpec(t, 0, 1, cap), 2)
    model: deque[int] = deque()
    for kind, v in ops:
        if kind.startswith("push"):
            force = kind == "push_exist"
            e, _ = _err(m.update, None, bytes([v]), 2 if force else 0)
            if len(model) >= cap and not force:
                assert e == errno.E2BIG
                continue
            assert e == 0
            if len(model) >= cap:
                model.popleft()
            model.append(v)
        else:
            fn = m.lookup_and_delete if kind == "pop" else m.lookup
            e, got = _err(fn, None)
            if not model:
                assert e == errno.ENOENT
                continue
            want = model[-1] if t == MapType.STACK else model[0]
            assert got == bytes([want])
            if kind == "pop":
                if t == MapType.STACK:
                    model.pop()
                else:
                    model.popleft()
        assert len(m) == len(model)


@SETTINGS
@given(st.integers(1, 40), st.sampled_from([0, MapFlag.NO_COMMON_LRU]),
       st.lists(st.tuples(st.integers(0, 100), st.booleans(), st.integers(0, 1)), max_size=120))
def test_lru_never_fails_and_keeps_the_newest(cap: int, flags: int,
                                              ops: list[tuple[int, bool, int]]) -> None:
    m = create_map(MapSpec(MapType.LRU_HASH, 4, 8, cap, flags | MapFlag.ZERO_SEED), 2)
    assert isinstance(m, HashMap)
    for k, touch, cpu in ops:
        m.cpu = cpu
        kb = k.to_bytes(4, "little")
        if touch:
            m.bpf_lookup(kb, cpu)
        else:
            m.update(kb, k)
            assert kb in m
            assert m[kb] == k.to_bytes(8, "little")
        assert len(m) <= m.max_entries
        assert len(list(m)) == len(m)


@SETTINGS
@given(st.binary(max_size=64), st.integers(0, 2**32 - 1))
def test_jhash_word_and_byte_forms_agree(data: bytes, seed: int) -> None:
    n = len(data) // 4
    words = [int.from_bytes(data[i * 4 : i * 4 + 4], "little") for i in range(n)]
    assert jhash2(words, seed) == jhash(data[: n * 4], seed)
    assert 0 <= jhash(data, seed) < 2**32
