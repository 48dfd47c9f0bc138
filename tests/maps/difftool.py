"""Seeded map-operation sequences, run against pybpf and against the kernel.

A *case* is a map spec plus a list of operations (syscall-side element and batch
commands, program-side lookups/updates/deletes, CPU switches, full key walks).  Running a
case gives one result per operation: the errno and what came back.  The same case run on
pybpf and on the running kernel must give the same results; recorded kernel results
(tests/data/maps/*.json) let the comparison run where bpf() is refused.

``python tests/maps/difftool.py`` re-records the data (root, bpf() available).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

from pybpf.errors import BpfError
from pybpf.maps import Map, MapSpec, MapType, create_map
from pybpf.maps.types import round_up
from pybpf.memory import MEMORY

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "maps"
HASH_TYPES = (MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH)
ARRAY_TYPES = (MapType.ARRAY, MapType.PERCPU_ARRAY)
PERCPU_TYPES = (MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH, MapType.PERCPU_ARRAY)
PROG_OPS_TYPES = HASH_TYPES + ARRAY_TYPES

Result = Any


# ------------------------------------------------------------------- generation ---


def sys_value_size(spec: dict[str, Any], ncpu: int) -> int:
    t = MapType.from_name(spec["type"])
    if t in PERCPU_TYPES:
        return round_up(spec["value_size"], 8) * ncpu
    return int(spec["value_size"])


def n_buckets(spec: dict[str, Any], ncpu: int) -> int:
    m = spec["max_entries"]
    if spec["flags"] & 2:  # per-CPU LRU rounds max_entries to the CPU count
        m = -(-m // ncpu) * ncpu
    return 1 << (m - 1).bit_length()


def gen_case(spec: dict[str, Any], seed: int, n_ops: int, ncpu: int,
             key_space: int | None = None, prog_ops: bool = True,
             cpu_switch: bool = False, batches: bool = True) -> dict[str, Any]:
    """A random operation sequence for ``spec``, reproducible from ``seed``."""
    rng = random.Random(seed)
    t = MapType.from_name(spec["type"])
    ks, vs = spec["key_size"], spec["value_size"]
    svs = sys_value_size(spec, ncpu)
    space = key_space or max(4, spec["max_entries"] * 2)

    def key() -> str:
        if t in ARRAY_TYPES:
            return rng.randrange(spec["max_entries"] + 3).to_bytes(4, "little").hex()
        return rng.randrange(space).to_bytes(ks, "little").hex()

    def value(size: int) -> str:
        return bytes(rng.randrange(256) for _ in range(size)).hex()

    ops: list[dict[str, Any]] = []
    is_queue = t in (MapType.QUEUE, MapType.STACK)
    for _ in range(n_ops):
        r = rng.random()
        if is_queue:
            if r < 0.45:
                ops.append({"op": "update", "key": None, "value": value(vs),
                            "flags": rng.choice([0, 0, 0, 2, 2, 1, 3])})
            elif r < 0.65:
                ops.append({"op": "lookup", "key": None, "flags": 0})
            elif r < 0.9:
                ops.append({"op": "lookup_and_delete", "key": None,
                            "flags": rng.choice([0, 0, 0, 0, 4])})
            elif r < 0.95:
                ops.append({"op": "delete", "key": None})
            else:
                ops.append({"op": "get_next_key", "key": None})
            continue
        if cpu_switch and r < 0.06:
            ops.append({"op": "cpu", "cpu": rng.randrange(ncpu)})
        elif r < 0.34:
            flags = rng.choice([0, 0, 0, 0, 1, 1, 2, 2, 4, 8])
            ops.append({"op": "update", "key": key(), "value": value(svs), "flags": flags})
        elif r < 0.44:
            ops.append({"op": "lookup", "key": key(), "flags": rng.choice([0] * 9 + [4])})
        elif r < 0.54:
            ops.append({"op": "delete", "key": key()})
        elif r < 0.60:
            ops.append({"op": "get_next_key", "key": rng.choice([None, key(), key()])})
        elif r < 0.64:
            ops.append({"op": "lookup_and_delete", "key": key(), "flags": rng.choice([0, 0, 0, 4])})
        elif r < 0.80 and prog_ops:
            which = rng.random()
            if which < 0.5:
                ops.append({"op": "prog_lookup", "key": key()})
            elif which < 0.85:
                ops.append({"op": "prog_update", "key": key(), "value": value(vs),
                            "flags": rng.choice([0, 0, 0, 1, 2, 4])})
            else:
                ops.append({"op": "prog_delete", "key": key()})
        elif r < 0.86:
            ops.append({"op": "walk"})
        elif batches and r < 0.97:
            kind = rng.choice(["lookup_batch", "lookup_batch", "lookup_and_delete_batch",
                               "update_batch", "delete_batch"])
            if kind in ("lookup_batch", "lookup_and_delete_batch"):
                if t in HASH_TYPES:
                    tok_choices: list[str | None] = [
                        None, "last", "last",
                        rng.randrange(n_buckets(spec, ncpu) + 2).to_bytes(4, "little").hex()]
                else:
                    tok_choices = [None, "last", "last", key()]
                ops.append({"op": kind, "in_batch": rng.choice(tok_choices),
                            "count": rng.randrange(0, spec["max_entries"] + 3)})
            elif kind == "update_batch":
                n = rng.randrange(0, 5)
                ops.append({"op": kind, "keys": [key() for _ in range(n)],
                            "values": [value(svs) for _ in range(n)],
                            "elem_flags": rng.choice([0, 0, 0, 1, 4])})
            else:
                n = rng.randrange(0, 5)
                ops.append({"op": kind, "keys": [key() for _ in range(n)],
                            "elem_flags": rng.choice([0, 0, 0, 4])})
        else:
            ops.append({"op": "walk"})
    return {"spec": spec, "seed": seed, "num_cpus": ncpu, "ops": ops}


# ------------------------------------------------------------------------ pybpf ---


def _hx(b: bytes | None) -> str | None:
    return None if b is None else b.hex()


def _fromhex(s: str | None) -> bytes | None:
    return None if s is None else bytes.fromhex(s)


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _batch_result(err: int, count: int, keys: list[bytes], values: list[bytes],
                  nxt: bytes | None) -> dict[str, Any]:
    return {"errno": err, "count": count, "keys": [k.hex() for k in keys],
            "values": [v.hex() for v in values], "next": _hx(nxt)}


def run_pybpf(case: dict[str, Any]) -> list[Result]:
    spec = MapSpec.from_case(case["spec"])
    ncpu = case["num_cpus"]
    try:
        m = create_map(spec, ncpu)
    except BpfError as exc:
        return [{"create": exc.errno}]
    try:
        return [{"create": 0}] + [_pybpf_op(m, op, st) for st in [{"last": None}]
                                  for op in case["ops"]]
    finally:
        m.close()


def _pybpf_op(m: Map, op: dict[str, Any], st: dict[str, Any]) -> Result:
    kind = op["op"]
    ks, vs = m.key_size, m.value_size
    try:
        if kind == "cpu":
            m.cpu = op["cpu"]
            return 0
        if kind == "update":
            m.update(_fromhex(op["key"]), bytes.fromhex(op["value"]), op["flags"])
            return [0, None]
        if kind == "lookup":
            return [0, m.lookup(_fromhex(op["key"]), op.get("flags", 0)).hex()]
        if kind == "delete":
            m.delete(_fromhex(op["key"]))
            return [0, None]
        if kind == "get_next_key":
            return [0, m.get_next_key(_fromhex(op["key"])).hex()]
        if kind == "lookup_and_delete":
            return [0, m.lookup_and_delete(_fromhex(op["key"]), op.get("flags", 0)).hex()]
        if kind == "walk":
            keys: list[str] = []
            k: bytes | None = None
            while True:
                try:
                    k = m.get_next_key(k)
                except BpfError as exc:
                    return {"keys": keys, "errno": exc.errno}
                keys.append(k.hex())
        if kind == "prog_lookup":
            addr = m.bpf_lookup(bytes.fromhex(op["key"])[:ks], m.cpu)
            return 0 if addr == 0 else 1 + MEMORY.read(addr, 1)[0]
        if kind == "prog_update":
            return _s32(m.bpf_update(bytes.fromhex(op["key"])[:ks], bytes.fromhex(op["value"])[:vs],
                                     op["flags"], m.cpu))
        if kind == "prog_delete":
            return _s32(m.bpf_delete(bytes.fromhex(op["key"])[:ks], m.cpu))
        if kind in ("lookup_batch", "lookup_and_delete_batch"):
            tok = st["last"] if op["in_batch"] == "last" else _fromhex(op["in_batch"])
            fn = m.lookup_batch if kind == "lookup_batch" else m.lookup_and_delete_batch
            r = fn(tok, op["count"])
            if r.next_batch is not None:
                st["last"] = r.next_batch
            return _batch_result(r.errno, r.count, r.keys, r.values, r.next_batch)
        if kind == "update_batch":
            r = m.update_batch([bytes.fromhex(k) for k in op["keys"]],
                               [bytes.fromhex(v) for v in op["values"]], op["elem_flags"])
            return {"errno": r.errno, "count": r.count}
        if kind == "delete_batch":
            r = m.delete_batch([bytes.fromhex(k) for k in op["keys"]], op["elem_flags"])
            return {"errno": r.errno, "count": r.count}
        if kind == "freeze":
            m.freeze()
            return [0, None]
    except BpfError as exc:
        if kind in ("lookup_batch", "lookup_and_delete_batch", "update_batch", "delete_batch"):
            return {"errno": exc.errno, "raised": True}
        return [exc.errno, None]
    raise ValueError(f"unknown op {kind}")


# ----------------------------------------------------------------------- kernel ---


def run_kernel(case: dict[str, Any]) -> list[Result]:
    """Run ``case`` through bpf(); the caller has checked that bpf() works."""
    import kbpf

    spec = MapSpec.from_case(case["spec"])
    ncpu = case["num_cpus"]
    old_aff = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    err, fd = kbpf.create_map(int(spec.type), spec.key_size, spec.value_size, spec.max_entries,
                              spec.flags)
    if err:
        os.sched_setaffinity(0, old_aff)
        return [{"create": err}]
    prog_fd = -1
    try:
        if any(op["op"].startswith("prog_") for op in case["ops"]):
            perr, prog_fd, log = kbpf.load_socket_filter(
                kbpf.prog_ops_program(fd, spec.key_size, spec.value_size))
            if perr:
                raise RuntimeError(f"loading the helper program failed: {perr}\n{log}")
        st: dict[str, Any] = {"last": None, "cpu": 0}
        out: list[Result] = [{"create": 0}]
        for op in case["ops"]:
            out.append(_kernel_op(kbpf, fd, prog_fd, spec, ncpu, op, st))
        return out
    finally:
        if prog_fd >= 0:
            os.close(prog_fd)
        os.close(fd)
        os.sched_setaffinity(0, old_aff)


def _kernel_op(kbpf: Any, fd: int, prog_fd: int, spec: MapSpec, ncpu: int,
               op: dict[str, Any], st: dict[str, Any]) -> Result:
    kind = op["op"]
    ks = spec.key_size
    svs = sys_value_size(spec.to_case(), ncpu)
    is_hash = spec.type in HASH_TYPES
    if kind == "cpu":
        os.sched_setaffinity(0, {op["cpu"]})
        st["cpu"] = op["cpu"]
        return 0
    if kind == "update":
        return [kbpf.update(fd, _fromhex(op["key"]), bytes.fromhex(op["value"]), op["flags"]),
                None]
    if kind == "lookup":
        e, v = kbpf.lookup(fd, _fromhex(op["key"]), svs, op.get("flags", 0))
        return [e, None if e else v.hex()]
    if kind == "delete":
        return [kbpf.delete(fd, _fromhex(op["key"])), None]
    if kind == "get_next_key":
        e, k = kbpf.get_next_key(fd, _fromhex(op["key"]), ks)
        return [e, None if e else k.hex()]
    if kind == "lookup_and_delete":
        e, v = kbpf.lookup_and_delete(fd, _fromhex(op["key"]), svs, op.get("flags", 0))
        return [e, None if e else v.hex()]
    if kind == "walk":
        keys: list[str] = []
        k: bytes | None = None
        while True:
            e, nk = kbpf.get_next_key(fd, k, ks)
            if e:
                return {"keys": keys, "errno": e}
            keys.append(nk.hex())
            k = nk
    if kind.startswith("prog_"):
        code = {"prog_lookup": 0, "prog_update": 1, "prog_delete": 2}[kind]
        pkt = kbpf.prog_packet(code, op.get("flags", 0), bytes.fromhex(op["key"])[:8],
                               bytes.fromhex(op.get("value", "")))
        e, ret = kbpf.test_run(prog_fd, pkt)
        if e:
            raise RuntimeError(f"test_run failed: {e}")
        return ret if kind == "prog_lookup" else _s32(ret)
    if kind in ("lookup_batch", "lookup_and_delete_batch"):
        tok = st["last"] if op["in_batch"] == "last" else _fromhex(op["in_batch"])
        r = kbpf.lookup_batch(fd, tok, op["count"], ks, svs, 4 if is_hash else ks,
                              delete=kind == "lookup_and_delete_batch")
        if r.err and r.out_batch is None and r.count == op["count"]:
            # attr->batch.count untouched: the kernel failed before starting
            return {"errno": r.err, "raised": True}
        if r.out_batch is not None:
            st["last"] = r.out_batch
        return _batch_result(r.err, r.count, r.keys, r.values, r.out_batch)
    if kind == "update_batch":
        e, n = kbpf.update_batch(fd, [bytes.fromhex(x) for x in op["keys"]],
                                 [bytes.fromhex(x) for x in op["values"]], op["elem_flags"])
        if e and n == len(op["keys"]):
            return {"errno": e, "raised": True}
        return {"errno": e, "count": n}
    if kind == "delete_batch":
        e, n = kbpf.delete_batch(fd, [bytes.fromhex(x) for x in op["keys"]], op["elem_flags"])
        if e and n == len(op["keys"]):
            return {"errno": e, "raised": True}
        return {"errno": e, "count": n}
    if kind == "freeze":
        return [kbpf.freeze(fd), None]
    raise ValueError(kind)


# ------------------------------------------------------------------ fixed corpus ---

ZS = 64  # BPF_F_ZERO_SEED


def corpus_specs() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, spec, generation options) of the recorded cases."""
    def sp(t: str, k: int, v: int, m: int, f: int = 0) -> dict[str, Any]:
        return {"type": t, "key_size": k, "value_size": v, "max_entries": m, "flags": f}

    return [
        ("hash_zs", sp("hash", 4, 8, 16, ZS), {}),
        ("hash_zs_odd", sp("hash", 3, 5, 7, ZS), {"key_space": 24}),
        ("hash_zs_noprealloc", sp("hash", 8, 4, 12, ZS | 1), {}),
        ("hash_zs_k12", sp("hash", 12, 16, 10, ZS), {"prog_ops": False}),
        ("percpu_hash_zs", sp("percpu_hash", 4, 12, 10, ZS), {"cpu_switch": True}),
        ("percpu_hash_noprealloc", sp("percpu_hash", 4, 8, 6, ZS | 1), {}),
        ("lru_hash_small", sp("lru_hash", 4, 8, 8, ZS), {"key_space": 24}),
        ("lru_hash_med", sp("lru_hash", 4, 8, 40, ZS), {"key_space": 120}),
        ("lru_hash_cpus", sp("lru_hash", 4, 8, 16, ZS), {"key_space": 60, "cpu_switch": True}),
        ("lru_hash_nocommon", sp("lru_hash", 4, 8, 9, ZS | 2), {"key_space": 40,
                                                               "cpu_switch": True}),
        ("lru_percpu_hash", sp("lru_percpu_hash", 4, 4, 12, ZS), {"key_space": 40,
                                                                 "cpu_switch": True}),
        ("lru_percpu_nocommon", sp("lru_percpu_hash", 8, 16, 10, ZS | 2), {"key_space": 30,
                                                                         "cpu_switch": True}),
        ("array", sp("array", 4, 12, 6), {}),
        ("array_mmapable", sp("array", 4, 8, 5, 1024), {}),
        ("percpu_array", sp("percpu_array", 4, 4, 5), {"cpu_switch": True}),
        ("queue", sp("queue", 0, 8, 4), {}),
        ("stack", sp("stack", 0, 6, 3), {}),
        ("hash_rdonly", sp("hash", 4, 4, 8, ZS | 8), {}),
        ("hash_wronly", sp("hash", 4, 4, 8, ZS | 16), {}),
        ("array_rdonly_prog", sp("array", 4, 4, 4, 128), {"prog_ops": False}),
    ]


def corpus(n_ops: int = 220, ncpu: int = 2) -> list[dict[str, Any]]:
    cases = []
    for i, (name, spec, opts) in enumerate(corpus_specs()):
        for rep in range(2):
            seed = 1000 * i + rep
            c = gen_case(spec, seed, n_ops, ncpu, **opts)
            c["name"] = f"{name}#{rep}"
            cases.append(c)
    return cases


def freeze_cases(ncpu: int = 2) -> list[dict[str, Any]]:
    """Short sequences around BPF_MAP_FREEZE."""
    out = []
    for t, k, v, m in (("hash", 4, 4, 4), ("array", 4, 4, 2), ("queue", 0, 4, 2),
                       ("percpu_hash", 4, 4, 2)):
        spec = {"type": t, "key_size": k, "value_size": v, "max_entries": m, "flags": ZS * (t != "array" and t != "queue")}
        key = None if k == 0 else (1).to_bytes(k, "little").hex()
        val = bytes(sys_value_size(spec, ncpu)).hex()
        ops: list[dict[str, Any]] = [
            {"op": "update", "key": key, "value": val, "flags": 0},
            {"op": "freeze"},
            {"op": "update", "key": key, "value": val, "flags": 0},
            {"op": "lookup", "key": key, "flags": 0},
            {"op": "delete", "key": key},
            {"op": "lookup_and_delete", "key": key, "flags": 0},
            {"op": "freeze"},
        ]
        if k:
            ops += [
                {"op": "update_batch", "keys": [key], "values": [val], "elem_flags": 0},
                {"op": "delete_batch", "keys": [key], "elem_flags": 0},
                {"op": "lookup_batch", "in_batch": None, "count": 4},
                {"op": "lookup_and_delete_batch", "in_batch": None, "count": 4},
                {"op": "prog_update", "key": key, "value": "07" * v, "flags": 0},
                {"op": "lookup", "key": key, "flags": 0},
            ]
        out.append({"name": f"freeze_{t}", "spec": spec, "seed": 0, "num_cpus": ncpu, "ops": ops})
    return out


def create_cases(ncpu: int = 2) -> list[dict[str, Any]]:
    """Map creation attribute checks: one case per spec, no operations."""
    specs: list[tuple[str, int, int, int, int]] = []
    for t in ("hash", "percpu_hash", "lru_hash", "lru_percpu_hash", "hash_of_maps"):
        specs += [(t, 4, 4, 1, 0), (t, 0, 4, 1, 0), (t, 4, 0, 1, 0), (t, 4, 4, 0, 0),
                  (t, 4, 4, 1, 1), (t, 4, 4, 3, 2), (t, 4, 4, 1, 1 | 2), (t, 4, 4, 1, 8 | 16),
                  (t, 4, 4, 1, 128 | 256), (t, 4, 4, 1, 1024), (t, 4, 4, 1, 4),
                  (t, 4, 32768, 1, 1), (t, 4, 32769, 1, 1), (t, 4, 8, 1, 0),
                  (t, 4, 4194304 - 48 - 4, 1, 1), (t, 4, 4194304 - 48 - 5, 1, 1),
                  (t, 4, 4, 1 << 27, 1), (t, 4, 4, (1 << 27) + 1, 1), (t, 4, 4, 1 << 31, 1),
                  (t, 4, 4, 0xFFFFFFFF, 2 | 1), (t, 4, 4, 1, 64), (t, 4, 4, 1, 1 << 12),
                  (t, 4, 4, 1, 1 << 5), (t, 4, 4, 1, 1 << 9)]
    for t in ("array", "percpu_array", "prog_array", "array_of_maps"):
        specs += [(t, 4, 4, 1, 0), (t, 8, 4, 1, 0), (t, 4, 0, 1, 0), (t, 4, 4, 0, 0),
                  (t, 4, 8, 1, 0), (t, 4, 4, 1, 1), (t, 4, 4, 1, 1024), (t, 4, 4, 1, 1 << 12),
                  (t, 4, 4, 1, 1 << 11), (t, 4, 4, 1, 128), (t, 4, 4, 1, 256),
                  (t, 4, 4, 1, 128 | 256), (t, 4, 4, 1, 8), (t, 4, 4, 1, 16), (t, 4, 4, 1, 4),
                  (t, 4, 32768, 1, 0), (t, 4, 32769, 1, 0), (t, 4, 1 << 31, 1, 0),
                  (t, 4, 4, 1, 64), (t, 4, 4, 1, 2)]
    for t in ("queue", "stack"):
        specs += [(t, 0, 4, 1, 0), (t, 4, 4, 1, 0), (t, 0, 0, 1, 0), (t, 0, 4, 0, 0),
                  (t, 0, 4, 1, 1), (t, 0, 4, 1, 4), (t, 0, 4, 1, 8), (t, 0, 4, 1, 128 | 256),
                  (t, 0, 1 << 22, 1, 0), (t, 0, (1 << 22) + 1, 1, 0), (t, 0, 4, 1, 64)]
    specs += [("ringbuf", 0, 0, 4096, 0), ("ringbuf", 0, 0, 8192, 0), ("ringbuf", 0, 0, 12288, 0),
              ("ringbuf", 0, 0, 2048, 0), ("ringbuf", 4, 0, 4096, 0), ("ringbuf", 0, 4, 4096, 0),
              ("ringbuf", 0, 0, 4096, 1024), ("ringbuf", 0, 0, 4096, 8), ("ringbuf", 0, 0, 4096, 4),
              ("ringbuf", 0, 0, 0, 0), ("ringbuf", 0, 0, 4096, 128)]
    out = []
    for t, k, v, m, f in specs:
        spec = {"type": t, "key_size": k, "value_size": v, "max_entries": m, "flags": f}
        if t in ("hash_of_maps", "array_of_maps"):
            spec["inner"] = {"type": "array", "key_size": 4, "value_size": 4, "max_entries": 1,
                             "flags": 0}
        out.append({"name": f"create_{t}_{k}_{v}_{m}_{f:#x}", "spec": spec, "seed": 0,
                    "num_cpus": ncpu, "ops": []})
    return out


def run_kernel_create(case: dict[str, Any]) -> list[Result]:
    """Creation through bpf(); map-in-map cases first create their inner map."""
    import kbpf

    spec = MapSpec.from_case(case["spec"])
    inner_fd = 0
    if spec.inner is not None:
        i = spec.inner
        e, inner_fd = kbpf.create_map(int(i.type), i.key_size, i.value_size, i.max_entries, i.flags)
        assert not e
    try:
        err, fd = kbpf.create_map(int(spec.type), spec.key_size, spec.value_size,
                                  spec.max_entries, spec.flags, inner_fd)
        if err:
            return [{"create": err}]
        info = kbpf.map_info(fd)
        os.close(fd)
        return [{"create": 0, "max_entries": info["max_entries"]}]
    finally:
        if inner_fd:
            os.close(inner_fd)


# Kernel allocations pybpf refuses with ENOMEM although this kernel manages them.
PYBPF_MEMORY_LIMITED = {("array", 4, 1 << 31, 1, 0)}


def run_pybpf_create(case: dict[str, Any]) -> list[Result]:
    spec = MapSpec.from_case(case["spec"])
    try:
        m = create_map(spec, case["num_cpus"])
    except BpfError as exc:
        return [{"create": exc.errno}]
    n = m.max_entries
    m.close()
    return [{"create": 0, "max_entries": n}]


# ------------------------------------------------------------------ ring buffer ---


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def ringbuf_case(seed: int, size: int = 4096, n_ops: int = 120) -> dict[str, Any]:
    rng = random.Random(seed)
    ops: list[dict[str, Any]] = []
    for _ in range(n_ops):
        r = rng.random()
        if r < 0.35:
            n = rng.randrange(32)
            ops.append({"op": "output", "size": n,
                        "data": bytes(rng.randrange(256) for _ in range(32)).hex()})
        elif r < 0.55:
            ops.append({"op": "reserve20", "arg": rng.randrange(1 << 32)})
        elif r < 0.62:
            ops.append({"op": "reserve1000", "arg": rng.randrange(1 << 32)})
        elif r < 0.75:
            ops.append({"op": "query", "arg": rng.choice([0, 1, 2, 3, 4, 99])})
        elif r < 0.95:
            ops.append({"op": "consume", "limit": rng.choice([None, 1, 2, 5])})
        else:
            ops.append({"op": "raw"})
    ops.append({"op": "raw"})
    return {"name": f"ringbuf#{seed}", "spec": {"type": "ringbuf", "key_size": 0, "value_size": 0,
            "max_entries": size, "flags": 0}, "seed": seed, "num_cpus": 2, "ops": ops}


def run_pybpf_ringbuf(case: dict[str, Any]) -> list[Result]:
    from pybpf.maps.ringbuf import DATA_OFF, RingBufMap

    m = create_map(MapSpec.from_case(case["spec"]), case["num_cpus"])
    assert isinstance(m, RingBufMap)
    out: list[Result] = []
    try:
        for op in case["ops"]:
            kind = op["op"]
            if kind == "output":
                out.append(_s32(m.output(bytes.fromhex(op["data"])[: op["size"] & 31], 0)))
            elif kind == "query":
                out.append(m.query(op["arg"]) & 0xFFFFFFFF)
            elif kind in ("reserve20", "reserve1000"):
                addr = m.reserve(20 if kind == "reserve20" else 1000, 0)
                if not addr:
                    out.append(0)
                    continue
                MEMORY.write(addr, op["arg"].to_bytes(8, "little"))
                if op["arg"] & 1:
                    m.discard(addr, 0)
                    out.append(2)
                else:
                    m.submit(addr, 0)
                    out.append(1)
            elif kind == "consume":
                out.append([x.hex() for x in m.consume(op["limit"])])
            elif kind == "raw":
                out.append({"cons": m.consumer_pos, "prod": m.producer_pos,
                            "data": _digest(bytes(m.data.buf[DATA_OFF : DATA_OFF + m.size]))})
    finally:
        m.close()
    return out


def run_kernel_ringbuf(case: dict[str, Any]) -> list[Result]:
    import mmap
    import struct

    import kbpf

    size = case["spec"]["max_entries"]
    old_aff = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    err, fd = kbpf.create_map(27, 0, 0, size)
    assert not err
    perr, pfd, log = kbpf.load_socket_filter(kbpf.ringbuf_program(fd))
    if perr:
        raise RuntimeError(log)
    cons_map = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    ro = mmap.mmap(fd, 4096 + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=4096)
    out: list[Result] = []
    try:
        for op in case["ops"]:
            kind = op["op"]
            if kind in ("output", "query", "reserve20", "reserve1000"):
                code = ["output", "query", "reserve20", "reserve1000"].index(kind)
                arg = op["size"] if kind == "output" else op["arg"]
                data = bytes.fromhex(op.get("data", ""))
                e, ret = kbpf.test_run(pfd, kbpf.ringbuf_packet(code, arg, data))
                assert not e
                out.append(_s32(ret) if kind == "output" else ret)
            elif kind == "consume":
                got: list[str] = []
                cons = struct.unpack_from("<Q", cons_map, 0)[0]
                while True:
                    prod = struct.unpack_from("<Q", ro, 0)[0]
                    if cons >= prod:
                        break
                    at = 4096 + (cons & (size - 1))
                    hlen = struct.unpack_from("<I", ro, at)[0]
                    if hlen & (1 << 31):
                        break
                    n = hlen & ~((1 << 31) | (1 << 30))
                    cons += (n + 8 + 7) // 8 * 8
                    if not hlen & (1 << 30):
                        got.append(bytes(ro[at + 8 : at + 8 + n]).hex())
                    struct.pack_into("<Q", cons_map, 0, cons)
                    if op["limit"] is not None and len(got) >= op["limit"]:
                        break
                out.append(got)
            elif kind == "raw":
                out.append({"cons": struct.unpack_from("<Q", cons_map, 0)[0],
                            "prod": struct.unpack_from("<Q", ro, 0)[0],
                            "data": _digest(bytes(ro[4096 : 4096 + size]))})
    finally:
        cons_map.close()
        ro.close()
        os.close(pfd)
        os.close(fd)
        os.sched_setaffinity(0, old_aff)
    return out


# ------------------------------------------------------------ fd-valued maps ---
# Scripted sequences over array_of_maps, hash_of_maps and prog_array.  Objects are named
# symbolically ("inner0", "prog0", "bad"); each runner turns names into fds (kernel) or
# objects (pybpf).  Map and program ids are the kernel's, given to the pybpf objects.

INNERS = {
    "inner0": {"type": "array", "key_size": 4, "value_size": 4, "max_entries": 1, "flags": 0},
    "inner1": {"type": "array", "key_size": 4, "value_size": 4, "max_entries": 1, "flags": 0},
    "inner_big": {"type": "array", "key_size": 4, "value_size": 4, "max_entries": 3, "flags": 0},
    "inner_v8": {"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1, "flags": 0},
    "hinner": {"type": "hash", "key_size": 4, "value_size": 4, "max_entries": 4, "flags": 0},
    "tinner0": {"type": "array", "key_size": 4, "value_size": 4, "max_entries": 2,
                "flags": 4096},
    "tinner1": {"type": "array", "key_size": 4, "value_size": 4, "max_entries": 7,
                "flags": 4096},
}


def _k(i: int) -> str:
    return i.to_bytes(4, "little").hex()


def fd_cases() -> list[dict[str, Any]]:
    aom = {"type": "array_of_maps", "key_size": 4, "value_size": 4, "max_entries": 4,
           "flags": 0, "inner": INNERS["inner0"]}
    aom_t = dict(aom, inner=INNERS["tinner0"])
    hom = {"type": "hash_of_maps", "key_size": 4, "value_size": 4, "max_entries": 3,
           "flags": ZS, "inner": INNERS["inner0"]}
    pa = {"type": "prog_array", "key_size": 4, "value_size": 4, "max_entries": 4, "flags": 0}
    u = "update"
    common = [
        {"op": u, "key": _k(0), "obj": "inner0", "flags": 0},
        {"op": u, "key": _k(1), "obj": "inner1", "flags": 0},
        {"op": u, "key": _k(2), "obj": "inner_big", "flags": 0},
        {"op": u, "key": _k(2), "obj": "inner_v8", "flags": 0},
        {"op": u, "key": _k(2), "obj": "hinner", "flags": 0},
        {"op": u, "key": _k(2), "obj": "prog0", "flags": 0},
        {"op": u, "key": _k(2), "obj": "bad", "flags": 0},
        {"op": u, "key": _k(2), "obj": "inner0", "flags": 1},
        {"op": u, "key": _k(3), "obj": "inner0", "flags": 2},
        {"op": u, "key": _k(9), "obj": "inner0", "flags": 0},
        {"op": "lookup", "key": _k(0)}, {"op": "lookup", "key": _k(1)},
        {"op": "lookup", "key": _k(2)}, {"op": "lookup", "key": _k(9)},
        {"op": "get_next_key", "key": None}, {"op": "walk"},
        {"op": "lookup_batch", "in_batch": None, "count": 8},
        {"op": "lookup_batch", "in_batch": None, "count": 1},
        {"op": "lookup_and_delete", "key": _k(0)},
        {"op": "delete", "key": _k(1)}, {"op": "delete", "key": _k(1)},
        {"op": "delete", "key": _k(9)}, {"op": "lookup", "key": _k(1)},
        {"op": "update_batch", "keys": [_k(1), _k(3)], "objs": ["inner1", "inner0"]},
        {"op": "update_batch", "keys": [_k(2), _k(3)], "objs": ["inner1", "inner_v8"]},
        {"op": "lookup_batch", "in_batch": None, "count": 8},
        {"op": "delete_batch", "keys": [_k(1), _k(5)]},
        {"op": "lookup_and_delete_batch", "in_batch": None, "count": 8},
        {"op": "walk"},
    ]
    prog = [
        {"op": u, "key": _k(0), "obj": "prog0", "flags": 0},
        {"op": u, "key": _k(1), "obj": "prog1", "flags": 0},
        {"op": u, "key": _k(1), "obj": "prog0", "flags": 2},
        {"op": u, "key": _k(5), "obj": "prog0", "flags": 0},
        {"op": u, "key": _k(2), "obj": "inner0", "flags": 0},
        {"op": u, "key": _k(2), "obj": "bad", "flags": 0},
        {"op": "lookup", "key": _k(0)}, {"op": "lookup", "key": _k(1)},
        {"op": "lookup", "key": _k(2)}, {"op": "lookup", "key": _k(7)},
        {"op": "walk"}, {"op": "lookup_batch", "in_batch": None, "count": 4},
        {"op": "update_batch", "keys": [_k(2)], "objs": ["prog0"]},
        {"op": "delete", "key": _k(0)}, {"op": "delete", "key": _k(0)},
        {"op": "delete", "key": _k(4)}, {"op": "lookup_and_delete", "key": _k(1)},
        {"op": "lookup", "key": _k(0)},
    ]
    templ = [
        {"op": u, "key": _k(0), "obj": "tinner0", "flags": 0},
        {"op": u, "key": _k(1), "obj": "tinner1", "flags": 0},
        {"op": u, "key": _k(2), "obj": "inner0", "flags": 0},
        {"op": "lookup_batch", "in_batch": None, "count": 8},
    ]
    return [
        {"name": "array_of_maps", "spec": aom, "ops": common, "num_cpus": 2, "seed": 0},
        {"name": "hash_of_maps", "spec": hom, "ops": common, "num_cpus": 2, "seed": 0},
        {"name": "array_of_maps_inner_map_flag", "spec": aom_t, "ops": templ, "num_cpus": 2,
         "seed": 0},
        {"name": "prog_array", "spec": pa, "ops": prog, "num_cpus": 2, "seed": 0},
    ]


def _fd_result(kind: str, err: int, out: Any = None) -> Result:
    if kind in ("lookup_batch", "lookup_and_delete_batch"):
        return out if out is not None else {"errno": err, "raised": True}
    return [err, out]


def run_kernel_fd(case: dict[str, Any]) -> tuple[list[Result], dict[str, int]]:
    """Returns the results and the kernel ids of the named objects."""
    import kbpf

    spec = MapSpec.from_case(case["spec"])
    fds: dict[str, int] = {}
    ids: dict[str, int] = {}
    for name, isp in INNERS.items():
        t = MapSpec.from_case(isp)
        e, fd = kbpf.create_map(int(t.type), t.key_size, t.value_size, t.max_entries, t.flags)
        assert not e
        fds[name], ids[name] = fd, kbpf.map_info(fd)["id"]
    for name in ("prog0", "prog1"):
        e, fd, log = kbpf.load_socket_filter(kbpf.trivial_program())
        assert not e, log
        fds[name], ids[name] = fd, kbpf.prog_info_id(fd)
    fds["bad"] = 9999
    inner_fd = fds["inner0"] if spec.inner is None or spec.inner.max_entries == 1 else fds["tinner0"]
    if spec.inner is None:
        inner_fd = 0
    e, fd = kbpf.create_map(int(spec.type), spec.key_size, spec.value_size, spec.max_entries,
                            spec.flags, inner_fd)
    assert not e
    st: dict[str, Any] = {"last": None}
    out: list[Result] = []
    try:
        for op in case["ops"]:
            kind = op["op"]
            if kind == "update":
                out.append([kbpf.update(fd, bytes.fromhex(op["key"]),
                                        fds[op["obj"]].to_bytes(4, "little"), op["flags"]), None])
            elif kind == "update_batch":
                ks = [bytes.fromhex(k) for k in op["keys"]]
                vs = [fds[o].to_bytes(4, "little") for o in op["objs"]]
                e2, n = kbpf.update_batch(fd, ks, vs)
                out.append({"errno": e2, "raised": True} if e2 and n == len(ks)
                           else {"errno": e2, "count": n})
            elif kind == "delete_batch":
                ks = [bytes.fromhex(k) for k in op["keys"]]
                e2, n = kbpf.delete_batch(fd, ks)
                out.append({"errno": e2, "raised": True} if e2 and n == len(ks)
                           else {"errno": e2, "count": n})
            else:
                out.append(_kernel_op(kbpf, fd, -1, spec, case["num_cpus"], op, st))
    finally:
        os.close(fd)
        for name, f in fds.items():
            if name != "bad":
                os.close(f)
    return out, ids


class FakeProgram:
    """Stands for a loaded program in pybpf's prog_array (only ``id`` is used)."""

    def __init__(self, ident: int) -> None:
        self.id = ident


def run_pybpf_fd(case: dict[str, Any], ids: dict[str, int]) -> list[Result]:
    spec = MapSpec.from_case(case["spec"])
    objs: dict[str, Any] = {}
    for name, isp in INNERS.items():
        objs[name] = create_map(MapSpec.from_case(isp), case["num_cpus"])
        objs[name].id = ids[name]
    for name in ("prog0", "prog1"):
        objs[name] = FakeProgram(ids[name])
    fd_numbers = {name: 100 + i for i, name in enumerate(objs)}
    by_fd = {fd_numbers[n]: o for n, o in objs.items()}
    fd_numbers["bad"] = 9999

    def resolve(fd: int) -> object:
        if fd not in by_fd:
            raise BpfError(errno.EBADF, f"fd {fd} is not open")
        return by_fd[fd]

    m = create_map(spec, case["num_cpus"])
    m.resolve_fd = resolve
    st: dict[str, Any] = {"last": None}
    out: list[Result] = []
    try:
        for op in case["ops"]:
            kind = op["op"]
            if kind == "update":
                try:
                    m.update(bytes.fromhex(op["key"]), fd_numbers[op["obj"]], op["flags"])
                    out.append([0, None])
                except BpfError as exc:
                    out.append([exc.errno, None])
            elif kind == "update_batch":
                try:
                    r = m.update_batch([bytes.fromhex(k) for k in op["keys"]],
                                       [fd_numbers[o] for o in op["objs"]])
                    out.append({"errno": r.errno, "count": r.count})
                except BpfError as exc:
                    out.append({"errno": exc.errno, "raised": True})
            elif kind == "delete_batch":
                try:
                    r = m.delete_batch([bytes.fromhex(k) for k in op["keys"]])
                    out.append({"errno": r.errno, "count": r.count})
                except BpfError as exc:
                    out.append({"errno": exc.errno, "raised": True})
            else:
                out.append(_pybpf_op(m, op, st))
    finally:
        m.close()
        for o in objs.values():
            if isinstance(o, Map):
                o.close()
    return out


def all_cases() -> dict[str, list[dict[str, Any]]]:
    return {"ops": corpus() + freeze_cases(), "create": create_cases(),
            "ringbuf": [ringbuf_case(s) for s in range(4)] + [ringbuf_case(9, 8192, 200)],
            "fd": fd_cases()}


def record() -> None:  # pragma: no cover - needs root and bpf()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import kbpf

    ok, why = kbpf.available()
    if not ok:
        raise SystemExit(why)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    groups = all_cases()
    for case in groups["ops"]:
        case["kernel"] = run_kernel(case)
    for case in groups["create"]:
        case["kernel"] = run_kernel_create(case)
    for case in groups["ringbuf"]:
        case["kernel"] = run_kernel_ringbuf(case)
    for case in groups["fd"]:
        case["kernel"], case["ids"] = run_kernel_fd(case)
    kernel = os.uname().release
    for name, cases in groups.items():
        path = DATA_DIR / f"{name}.json"
        with open(path, "w") as f:
            json.dump({"kernel": kernel, "cases": cases}, f, indent=None, separators=(",", ":"))
            f.write("\n")
        print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":  # pragma: no cover
    record()
