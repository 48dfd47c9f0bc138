"""Seeded operation sequences on bloom filters and LPM tries, run on pybpf and the kernel.

Bloom filters are created with ``BPF_F_ZERO_SEED`` so that the bit set is the same on
both sides: every peek, false positives included, must agree.  LPM tries get updates
(all flags), deletes, longest-prefix lookups, ``get_next_key`` from NULL, from present
and absent keys, whole walks and generic batch lookups, with keys drawn around a few
shared prefixes so that intermediate nodes come and go.
"""

from __future__ import annotations

import os
import random
from typing import Any

from pybpf.errors import BpfError
from pybpf.maps import BloomFilterMap, LpmTrieMap, MapSpec, MapType, create_map

ZERO_SEED = 64
NP = 1

Result = Any


# ------------------------------------------------------------------- bloom filter ---


def bloom_case(seed: int, value_size: int, max_entries: int, nr_hash: int,
               n_ops: int = 200) -> dict[str, Any]:
    rng = random.Random(seed)
    spec = MapSpec(MapType.BLOOM_FILTER, 0, value_size, max_entries, ZERO_SEED,
                   map_extra=nr_hash)
    pool = [bytes(rng.randrange(256) for _ in range(value_size)) for _ in range(40)]
    ops: list[dict[str, Any]] = []
    for _ in range(n_ops):
        r = rng.random()
        v = rng.choice(pool) if rng.random() < 0.7 else \
            bytes(rng.randrange(256) for _ in range(value_size))
        if r < 0.35:
            ops.append({"op": "push", "value": v.hex(),
                        "flags": rng.choice([0, 0, 0, 0, 1, 2, 4])})
        elif r < 0.95:
            ops.append({"op": "peek", "value": v.hex()})
        else:
            ops.append({"op": rng.choice(["delete", "next", "lookup_and_delete"])})
    return {"name": f"bloom_v{value_size}_m{max_entries}_h{nr_hash}_s{seed}",
            "spec": spec.to_case(), "ops": ops}


def run_bloom_pybpf(case: dict[str, Any]) -> list[Result]:
    m = create_map(MapSpec.from_case(case["spec"]), 2)
    assert isinstance(m, BloomFilterMap)
    out: list[Result] = []
    for op in case["ops"]:
        try:
            if op["op"] == "push":
                m.update(None, bytes.fromhex(op["value"]), op["flags"])
            elif op["op"] == "peek":
                m.lookup(None, 0, bytes.fromhex(op["value"]))
            elif op["op"] == "delete":
                m.delete(None)
            elif op["op"] == "next":
                m.get_next_key(None)
            else:
                m.lookup_and_delete(None)
            out.append(0)
        except BpfError as exc:
            out.append(exc.errno)
    m.close()
    return out


def run_bloom_kernel(case: dict[str, Any]) -> list[Result]:
    import kbpf

    spec = MapSpec.from_case(case["spec"])
    err, fd = kbpf.create_map(int(spec.type), 0, spec.value_size, spec.max_entries, spec.flags,
                              map_extra=spec.map_extra)
    assert not err, err
    out: list[Result] = []
    try:
        for op in case["ops"]:
            if op["op"] == "push":
                out.append(kbpf.update(fd, None, bytes.fromhex(op["value"]), op["flags"]))
            elif op["op"] == "peek":
                out.append(kbpf.lookup_in(fd, None, bytes.fromhex(op["value"])))
            elif op["op"] == "delete":
                out.append(kbpf.delete(fd, None))
            elif op["op"] == "next":
                out.append(kbpf.get_next_key(fd, None, 0)[0])
            else:
                out.append(kbpf.lookup_and_delete(fd, None, spec.value_size)[0])
    finally:
        os.close(fd)
    return out


def bloom_cases() -> list[dict[str, Any]]:
    out = []
    for i, (vs, me, nh) in enumerate([(4, 3, 0), (8, 1, 1), (5, 7, 3), (16, 20, 15), (1, 2, 2),
                                      (12, 5, 5), (64, 9, 7), (3, 30, 0)]):
        out.append(bloom_case(1000 + i, vs, me, nh))
    return out


# ----------------------------------------------------------------------- LPM trie ---


def lpm_case(seed: int, data_size: int, value_size: int, max_entries: int,
             n_ops: int = 220) -> dict[str, Any]:
    rng = random.Random(seed)
    spec = MapSpec(MapType.LPM_TRIE, 4 + data_size, value_size, max_entries, NP)
    max_prefix = data_size * 8
    bases = [rng.getrandbits(max_prefix) for _ in range(3)]

    def key() -> str:
        base = rng.choice(bases)
        cut = rng.randrange(max_prefix + 1)
        if cut < max_prefix:
            base ^= rng.getrandbits(max_prefix - cut)  # vary the bits after the cut
        plen = rng.randrange(max_prefix + 1) if rng.random() < 0.93 else \
            max_prefix + rng.randrange(1, 4)
        if rng.random() < 0.05:
            plen = rng.choice([0, max_prefix, 0xFFFFFFFF])
        return (plen.to_bytes(4, "little") + base.to_bytes(data_size, "big")).hex()

    keys: list[str] = []

    def some_key() -> str:
        if keys and rng.random() < 0.6:
            return rng.choice(keys)
        k = key()
        keys.append(k)
        return k

    ops: list[dict[str, Any]] = []
    for _ in range(n_ops):
        r = rng.random()
        if r < 0.42:
            ops.append({"op": "update", "key": some_key(),
                        "value": bytes(rng.randrange(256) for _ in range(value_size)).hex(),
                        "flags": rng.choice([0, 0, 0, 1, 1, 2, 2, 3, 4])})
        elif r < 0.60:
            ops.append({"op": "delete", "key": some_key()})
        elif r < 0.80:
            ops.append({"op": "lookup", "key": some_key()})
        elif r < 0.92:
            ops.append({"op": "next", "key": None if rng.random() < 0.2 else some_key()})
        elif r < 0.97:
            ops.append({"op": "walk"})
        else:
            ops.append({"op": "batch", "count": rng.choice([1, 2, 3, 5])})
    return {"name": f"lpm_d{data_size}_v{value_size}_m{max_entries}_s{seed}",
            "spec": spec.to_case(), "ops": ops}


def _hex(b: bytes | None) -> str | None:
    return None if b is None else bytes(b).hex()


def run_lpm_pybpf(case: dict[str, Any]) -> list[Result]:
    spec = MapSpec.from_case(case["spec"])
    m = create_map(spec, 2)
    assert isinstance(m, LpmTrieMap)
    out: list[Result] = []
    for op in case["ops"]:
        kind = op["op"]
        key = None if op.get("key") is None else bytes.fromhex(op["key"])
        try:
            if kind == "update":
                m.update(key, bytes.fromhex(op["value"]), op["flags"])
                out.append([0])
            elif kind == "delete":
                m.delete(key)
                out.append([0])
            elif kind == "lookup":
                out.append([0, m.lookup(key).hex()])
            elif kind == "next":
                out.append([0, m.get_next_key(key).hex()])
            elif kind == "walk":
                out.append([0, [k.hex() for k in m]])
            else:
                out.append(_pybpf_batches(m, op["count"]))
        except BpfError as exc:
            out.append([exc.errno])
    m.close()
    return out


def _pybpf_batches(m: LpmTrieMap, count: int) -> list[Any]:
    res: list[Any] = []
    token: bytes | None = None
    for _ in range(64):
        try:
            got = m.lookup_batch(token, count)
        except BpfError as exc:
            res.append([exc.errno])
            break
        res.append([got.errno, got.count, [k.hex() for k in got.keys],
                    [v.hex() for v in got.values]])
        if got.errno or got.next_batch is None:
            break
        token = got.next_batch
    return res


def run_lpm_kernel(case: dict[str, Any]) -> list[Result]:
    import kbpf

    spec = MapSpec.from_case(case["spec"])
    ks, vs = spec.key_size, spec.value_size
    err, fd = kbpf.create_map(int(spec.type), ks, vs, spec.max_entries, spec.flags)
    assert not err, err
    out: list[Result] = []
    try:
        for op in case["ops"]:
            kind = op["op"]
            key = None if op.get("key") is None else bytes.fromhex(op["key"])
            if kind == "update":
                out.append([kbpf.update(fd, key, bytes.fromhex(op["value"]), op["flags"])])
            elif kind == "delete":
                out.append([kbpf.delete(fd, key)])
            elif kind == "lookup":
                e, v = kbpf.lookup(fd, key, vs)
                out.append([e] if e else [0, v.hex()])
            elif kind == "next":
                e, k = kbpf.get_next_key(fd, key, ks)
                out.append([e] if e else [0, k.hex()])
            elif kind == "walk":
                walked: list[str] = []
                cur: bytes | None = None
                while len(walked) < 10_000:
                    e, k = kbpf.get_next_key(fd, cur, ks)
                    if e:
                        break
                    walked.append(k.hex())
                    cur = k
                out.append([0, walked])
            else:
                res: list[Any] = []
                token: bytes | None = None
                for _ in range(64):
                    got = kbpf.lookup_batch(fd, token, op["count"], ks, vs, ks)
                    if got.err and got.err != 2 and not got.count:
                        res.append([got.err])
                        break
                    res.append([got.err, got.count, [k.hex() for k in got.keys],
                                 [v.hex() for v in got.values]])
                    if got.err or got.out_batch is None:
                        break
                    token = got.out_batch
                out.append(res)
    finally:
        os.close(fd)
    return out


def lpm_cases() -> list[dict[str, Any]]:
    out = []
    for i, (d, v, me) in enumerate([(1, 4, 6), (2, 8, 10), (4, 8, 12), (4, 1, 40), (8, 3, 16),
                                    (16, 8, 24), (3, 5, 8), (4, 16, 200)]):
        out.append(lpm_case(2000 + i, d, v, me))
    return out
