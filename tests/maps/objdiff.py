"""Syscall-side operations on the maps that hold kernel objects, against the kernel.

A case names its objects by kind (see :mod:`kobjects`); values and keys refer to them as
``{"fd": name}`` and the runner of each side turns that into a real fd (kernel) or a
stand-in fd (pybpf).  What only the kernel can number (socket cookies, program ids) is
translated back into object names, so the two result lists compare directly.
"""

from __future__ import annotations

import os
import random
import struct
from typing import Any

import btfcases
from kobjects import KernelObjects, StandinObjects

from pybpf.errors import BpfError
from pybpf.maps import Map, MapSpec, MapType, create_map

NP = 1
Result = Any

SOCKS = ["tcp_listen", "tcp_est", "tcp_new", "udp", "unix_stream", "unix_dgram", "raw", "file",
         "badfd", "tcp_listen#2", "udp#2"]
REUSE = ["udp_reuse", "tcp_reuse_listen", "udp_reuse#2", "udp", "tcp_listen", "unix_stream",
         "raw", "file", "badfd"]


def _key(i: int, size: int = 4) -> dict[str, str]:
    return {"hex": i.to_bytes(size, "little").hex()}


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ops: list[dict[str, Any]] = []

    def pick(self, seq: list[Any]) -> Any:
        return self.rng.choice(seq)

    def add(self, op: str, **kw: Any) -> None:
        self.ops.append({"op": op, **kw})


def _array_ops(g: _Gen, n: int, nkeys: int, value: Any, flags: list[int],
               keysize: int = 4) -> None:
    for _ in range(n):
        r = g.rng.random()
        k = _key(g.rng.randrange(nkeys), keysize)
        if r < 0.45:
            g.add("update", key=k, value=value(), flags=g.pick(flags))
        elif r < 0.65:
            g.add("lookup", key=k)
        elif r < 0.85:
            g.add("delete", key=k)
        elif r < 0.95:
            g.add("next", key=None if g.rng.random() < 0.3 else k)
        else:
            g.add("walk")


def _case(name: str, spec: MapSpec, g: _Gen, btf: list[str | None] | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "spec": spec.to_case(), "ops": g.ops}
    if btf is not None:
        c["btf_names"] = btf
    return c


def cases() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for vs in (4, 8):
        g = _Gen(10 + vs)
        _array_ops(g, 70, 6, lambda g=g, vs=vs: {"fd": g.pick(SOCKS), "size": vs}, [0, 0, 1, 2, 3])
        out.append(_case(f"sockmap_v{vs}", MapSpec(MapType.SOCKMAP, 4, vs, 4), g))
        g = _Gen(20 + vs)
        _array_ops(g, 70, 6, lambda g=g, vs=vs: {"fd": g.pick(SOCKS), "size": vs},
                   [0, 0, 1, 2, 3], keysize=8)
        out.append(_case(f"sockhash_v{vs}", MapSpec(MapType.SOCKHASH, 8, vs, 3), g))
        g = _Gen(30 + vs)
        _array_ops(g, 60, 6, lambda g=g, vs=vs: {"fd": g.pick(REUSE), "size": vs}, [0, 0, 1, 2, 3])
        out.append(_case(f"reuseport_v{vs}", MapSpec(MapType.REUSEPORT_SOCKARRAY, 4, vs, 4), g))
    g = _Gen(40)
    _array_ops(g, 50, 6, lambda: {"fd": g.pick(["xdp", "xdp#2", "udp", "file", "badfd"]),
                                  "size": 4}, [0, 1, 2, 3])
    out.append(_case("xskmap", MapSpec(MapType.XSKMAP, 4, 4, 4), g))
    progs = [None, None, "xdp_prog_devmap", "xdp_prog_plain", "filter_prog", "badfd"]
    for vs in (4, 8):
        g = _Gen(50 + vs)
        _array_ops(g, 60, 6, lambda g=g, vs=vs: {"dev": [g.pick([0, 1, 1, 1, 9999]),
                                                        g.pick(progs) if vs == 8 else None],
                                                "size": vs}, [0, 0, 1, 2, 3])
        out.append(_case(f"devmap_v{vs}", MapSpec(MapType.DEVMAP, 4, vs, 4), g))
        g = _Gen(60 + vs)
        for _ in range(70):
            k = _key(g.pick([0, 1, 2, 3, 4, 5, 7, 8, 16, 1000]))
            r = g.rng.random()
            if r < 0.45:
                g.add("update", key=k, value={"dev": [g.pick([0, 1, 1, 1, 9999]),
                                                      g.pick(progs) if vs == 8 else None],
                                              "size": vs}, flags=g.pick([0, 0, 1, 2, 3]))
            elif r < 0.65:
                g.add("lookup", key=k)
            elif r < 0.8:
                g.add("delete", key=k)
            elif r < 0.93:
                g.add("next", key=None if g.rng.random() < 0.3 else k)
            else:
                g.add("walk")
        out.append(_case(f"devmap_hash_v{vs}", MapSpec(MapType.DEVMAP_HASH, 4, vs, 4), g))
    cprogs = [None, None, "xdp_prog_cpumap", "xdp_prog_devmap", "filter_prog"]
    for vs in (4, 8):
        g = _Gen(70 + vs)
        _array_ops(g, 50, 5, lambda g=g, vs=vs: {"cpu": [g.pick([0, 1, 64, 16384, 16385]),
                                                        g.pick(cprogs) if vs == 8 else None],
                                                "size": vs}, [0, 0, 1, 2, 3])
        out.append(_case(f"cpumap_v{vs}", MapSpec(MapType.CPUMAP, 4, vs, 4), g))
    g = _Gen(80)
    _array_ops(g, 50, 6, lambda: {"fd": g.pick(["perf", "perf_clock", "file", "badfd", "cgroup",
                                                "perf#2"]), "size": 4}, [0, 0, 1, 2])
    out.append(_case("perf_event_array", MapSpec(MapType.PERF_EVENT_ARRAY, 4, 4, 4), g))
    g = _Gen(81)
    _array_ops(g, 40, 6, lambda: {"fd": g.pick(["cgroup", "file", "perf", "badfd"]), "size": 4},
               [0, 0, 1, 2])
    out.append(_case("cgroup_array", MapSpec(MapType.CGROUP_ARRAY, 4, 4, 4), g))
    g = _Gen(82)
    _array_ops(g, 30, 6, lambda: {"hex": "00" * 64}, [0, 1, 2])
    out.append(_case("stack_trace", MapSpec(MapType.STACK_TRACE, 4, 64, 4), g))
    for ks, t in ((16, MapType.CGROUP_STORAGE), (8, MapType.CGROUP_STORAGE),
                  (8, MapType.PERCPU_CGROUP_STORAGE)):
        g = _Gen(83 + ks)
        _array_ops(g, 20, 3, lambda: {"hex": "11" * 8}, [0, 1, 2, 4], keysize=ks)
        out.append(_case(f"{t.case_name}_k{ks}", MapSpec(t, ks, 8, 0), g))
    owners = {
        MapType.SK_STORAGE: ["tcp_listen", "udp", "unix_stream", "file", "badfd", "pidfd"],
        MapType.TASK_STORAGE: ["pidfd", "file", "badfd", "tcp_listen"],
        MapType.CGRP_STORAGE: ["cgroup", "file", "badfd"],
        MapType.INODE_STORAGE: ["file", "cgroup", "badfd"],
    }
    for i, (t, names) in enumerate(owners.items()):
        g = _Gen(90 + i)
        for _ in range(70):
            k = {"fd": g.pick(names[:1] * 3 + names), "size": 4}
            r = g.rng.random()
            if r < 0.45:
                g.add("update", key=k,
                      value={"hex": bytes(g.rng.randrange(256) for _ in range(8)).hex()},
                      flags=g.pick([0, 0, 0, 1, 1, 2, 2, 3, 4]))
            elif r < 0.7:
                g.add("lookup", key=k)
            elif r < 0.9:
                g.add("delete", key=k)
            else:
                g.add("next", key=None if g.rng.random() < 0.5 else k)
        out.append(_case(t.case_name, MapSpec(t, 4, 8, 0, NP), g, ["u32", "val8"]))
    for t, spec in ((MapType.USER_RINGBUF, MapSpec(MapType.USER_RINGBUF, 0, 0, 4096)),
                    (MapType.ARENA, MapSpec(MapType.ARENA, 0, 0, 4, 1 << 10))):
        g = _Gen(99)
        g.add("lookup", key=None)
        g.add("update", key=None, value={"hex": ""}, flags=0)
        g.add("delete", key=None)
        g.add("next", key=None)
        out.append(_case(t.case_name, spec, g))
    return out


# ------------------------------------------------------------------------ runners ---


def _value_bytes(v: dict[str, Any], fd_of: Any) -> bytes:
    if "hex" in v:
        return bytes.fromhex(v["hex"])
    size = v["size"]
    if "fd" in v:
        return fd_of(v["fd"]).to_bytes(8, "little", signed=True)[:size]
    pair = v["dev"] if "dev" in v else v["cpu"]
    first, prog = pair
    fd = fd_of(prog) if prog is not None else 0
    return struct.pack("<Ii", first, fd)[:size]


def _key_bytes(k: dict[str, Any] | None, fd_of: Any) -> bytes | None:
    if k is None:
        return None
    if "hex" in k:
        return bytes.fromhex(k["hex"])
    return fd_of(k["fd"]).to_bytes(4, "little", signed=True)


def _translate(spec: MapSpec, value: bytes, cookies: dict[int, str],
               prog_ids: dict[int, str]) -> Any:
    t = spec.type
    if t in (MapType.SOCKMAP, MapType.SOCKHASH, MapType.REUSEPORT_SOCKARRAY) and len(value) == 8:
        c = int.from_bytes(value, "little")
        return {"cookie": cookies.get(c, hex(c))}
    if t in (MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP):
        first = int.from_bytes(value[:4], "little")
        if len(value) == 8:
            pid = int.from_bytes(value[4:8], "little")
            return [first, prog_ids.get(pid, pid) if pid else 0]
        return [first]
    return value.hex()


def run_pybpf(case: dict[str, Any], ncpu: int = 2) -> list[Result]:
    spec = MapSpec.from_case(case["spec"])
    if "btf_names" in case:
        spec = MapSpec(spec.type, spec.key_size, spec.value_size, spec.max_entries, spec.flags,
                       btf=btfcases.map_btf(*case["btf_names"]))
    objs = StandinObjects()
    m: Map = create_map(spec, ncpu)
    m.resolve_fd = objs.resolve
    out: list[Result] = []
    for op in case["ops"]:
        kind = op["op"]
        try:
            key = _key_bytes(op.get("key"), objs.fd)
            if kind == "update":
                m.update(key, _value_bytes(op["value"], objs.fd), op["flags"])
                out.append([0])
            elif kind == "lookup":
                out.append([0, _translate(spec, m.lookup(key), objs.cookies, objs.prog_ids)])
            elif kind == "delete":
                m.delete(key)
                out.append([0])
            elif kind == "next":
                out.append([0, m.get_next_key(key).hex()])
            else:
                keys: list[str] = []
                cur = None
                while len(keys) < 64:
                    try:
                        cur = m.get_next_key(cur)
                    except BpfError as exc:
                        keys.append(f"err{exc.errno}")
                        break
                    keys.append(cur.hex())
                out.append([0, keys])
        except BpfError as exc:
            out.append([exc.errno])
    m.close()
    return out


def run_kernel(case: dict[str, Any]) -> list[Result]:
    import kbpf

    from pybpf.oracle import btf_load, map_create

    spec = MapSpec.from_case(case["spec"])
    objs = KernelObjects()
    extra: dict[str, int] = {}
    btf_fd = None
    if "btf_names" in case:
        got = btf_load(btfcases.blob(), log_level=0)
        assert got.fd is not None
        btf_fd = got.fd
        kt, vt = case["btf_names"]
        extra = {"btf_fd": btf_fd, "btf_key_type_id": btfcases.type_id(kt),
                 "btf_value_type_id": btfcases.type_id(vt)}
    fd = map_create(spec.type, spec.key_size, spec.value_size, spec.max_entries, spec.flags,
                    **extra)
    from pybpf.maps import possible_cpus

    svs = spec.value_size
    if spec.type == MapType.PERCPU_CGROUP_STORAGE:
        svs = (spec.value_size + 7) // 8 * 8 * possible_cpus()
    out: list[Result] = []
    try:
        for op in case["ops"]:
            kind = op["op"]
            key = _key_bytes(op.get("key"), objs.fd)
            if kind == "update":
                val = _value_bytes(op["value"], objs.fd)
                if spec.type == MapType.PERCPU_CGROUP_STORAGE:
                    val = val.ljust(svs, b"\0")
                out.append([kbpf.update(fd, key, val, op["flags"])])
            elif kind == "lookup":
                e, v = kbpf.lookup(fd, key, max(svs, 1))
                out.append([e] if e else [0, _translate(spec, v[:svs], objs.cookies,
                                                        objs.prog_ids)])
            elif kind == "delete":
                out.append([kbpf.delete(fd, key)])
            elif kind == "next":
                e, k = kbpf.get_next_key(fd, key, spec.key_size)
                out.append([e] if e else [0, k.hex()])
            else:
                keys: list[str] = []
                cur = None
                while len(keys) < 64:
                    e, k = kbpf.get_next_key(fd, cur, spec.key_size)
                    if e:
                        keys.append(f"err{e}")
                        break
                    keys.append(k.hex())
                    cur = k
                out.append([0, keys])
    finally:
        os.close(fd)
        if btf_fd is not None:
            os.close(btf_fd)
        objs.close()
    return out
