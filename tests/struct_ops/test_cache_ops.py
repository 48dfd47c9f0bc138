"""pybpf_cache_ops, pybpf's own struct_ops type: the same mechanism for another
subsystem (a cache's eviction policy)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from pybpf.errors import BpfError
from pybpf.isa import assemble
from pybpf.kernel.state import Kernel
from pybpf.kernel.vmlinux import offsetof
from pybpf.program import ProgramRejected
from pybpf.struct_ops import create_map, load_struct_ops_program, ops_type
from pybpf.struct_ops.cache.ops import cache_policies
from pybpf.struct_ops.cache.sim import BpfCachePolicy, Lfu, Lru, simulate, zipf_keys
from pybpf.struct_ops.loader import open_struct_ops

EXAMPLES = Path(__file__).parents[2] / "examples" / "struct_ops"


def test_bpf_lfu_evicts_as_the_python_lfu() -> None:
    k = Kernel(seed=1)
    _, ops = open_struct_ops(str(EXAMPLES / "cache_lfu.bpf.o"), kernel=k)
    assert cache_policies(k).names() == ["lru", "lfu", "bpf_lfu"]
    assert ops[0].map.kops is not None
    keys = zipf_keys(600, 150, 0.9)
    bpf = simulate(BpfCachePolicy(ops[0].map.kops, k), keys, 20)
    assert bpf.evictions == simulate(Lfu(), keys, 20).evictions
    assert bpf.hit_ratio != simulate(Lru(), keys, 20).hit_ratio


def _value(t: object, name: bytes, **fds: int) -> bytes:
    lay = t.layout  # type: ignore[attr-defined]
    v = bytearray(lay.value_size)
    off = {m.name: lay.data_offset + m.offset for m in lay.members}
    v[off["name"] : off["name"] + len(name)] = name
    for m, fd in fds.items():
        struct.pack_into("<Q", v, off[m], fd)
    return bytes(v)


def test_registration_rules() -> None:
    k = Kernel(seed=1)
    t = ops_type("pybpf_cache_ops")
    score = load_struct_ops_program(assemble("r0 = 1\nexit"), t, "score", kernel=k)
    hit = load_struct_ops_program(assemble("exit"), t, "on_hit", kernel=k)
    for name, fds, err in ((b"mine", {"on_hit": hit.fd}, 22), (b"lru", {"score": score.fd}, 17),
                           (b"mine", {"score": hit.fd}, 22), (b"", {"score": score.fd}, 22)):  # fmt: skip
        m = create_map("pybpf_cache_ops", kernel=k)
        with pytest.raises(BpfError) as e:
            m.update(0, _value(t, name, **fds))
        assert e.value.errno == err and m.lookup(0) == bytes(len(m.lookup(0)))
    m = create_map("pybpf_cache_ops", kernel=k)
    m.update(0, _value(t, b"mine", score=score.fd))
    assert cache_policies(k).names() == ["lru", "lfu", "mine"]
    m.delete(0)
    assert cache_policies(k).names() == ["lru", "lfu"]


def test_writes_only_to_the_policy_fields() -> None:
    k = Kernel(seed=1)
    key = offsetof("pybpf_cache_entry", "key")
    sc = offsetof("pybpf_cache_entry", "score")
    ok = f"r1 = *(u64 *)(r1 + 0)\nr2 = 7\n*(u64 *)(r1 + {sc}) = r2\nr0 = 0\nexit"
    assert load_struct_ops_program(assemble(ok), "pybpf_cache_ops", "score", kernel=k).verified is not None
    bad = ok.replace(f"+ {sc})", f"+ {key})")
    with pytest.raises(ProgramRejected) as e:
        load_struct_ops_program(assemble(bad), "pybpf_cache_ops", "score", kernel=k)
    assert e.value.message == f"no write support to pybpf_cache_entry at off {key}"
