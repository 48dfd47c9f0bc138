"""The map types beyond the base set: their runtime faces (what helpers call), the
Pythonic API, the stand-in objects, and the rule that a failed operation changes nothing.
The kernel comparisons are in test_maps_more_differential.py."""

from __future__ import annotations

import errno
import struct

import btfcases
import pytest

from pybpf.errors import BpfError
from pybpf.maps import (
    NETDEVS,
    BloomFilterMap,
    BtfKind,
    Cgroup,
    CgroupArrayMap,
    CgroupStorageMap,
    CpuMap,
    DevMap,
    DevMapHash,
    LpmTrieMap,
    MapFlag,
    MapSpec,
    MapType,
    NetDevice,
    PercpuCgroupStorageMap,
    PerfEvent,
    PerfEventArrayMap,
    SkStorageMap,
    Socket,
    SockHashMap,
    SockMapMap,
    SpecialField,
    StackTraceMap,
    Task,
    TaskStorageMap,
    UserRingBufMap,
    XdpSocket,
    XskMap,
    create_map,
    jhash,
    lpm_key,
)
from pybpf.maps.bloom import bitset_mask
from pybpf.maps.standins import TCP_LISTEN
from pybpf.memory import MEMORY

STORAGE_BTF = btfcases.map_btf("u32", "val8")


def _new(spec: MapSpec, ncpu: int = 2) -> object:
    return create_map(spec, ncpu)


# -------------------------------------------------------------------- bloom filter ---


def test_bloom_bitset_sizes() -> None:
    assert bitset_mask(1, 5) == 63  # 5 * 7 / 5 = 7 bits -> at least 64
    assert bitset_mask(100, 5) == 1023  # 700 -> 1024
    assert bitset_mask(1 << 30, 5) == 0xFFFFFFFF  # overflows 32 bits
    assert bitset_mask(300_000_000, 5) == (1 << 31) - 1  # 2.1e9 bits
    assert bitset_mask(306_783_379, 5) == 0xFFFFFFFF  # just past 2^31 bits


def test_bloom_push_and_peek() -> None:
    m = create_map(MapSpec(MapType.BLOOM_FILTER, 0, 4, 100, MapFlag.ZERO_SEED), 2)
    assert isinstance(m, BloomFilterMap)
    m.push(7)
    assert m.peek(7) and 7 in m
    assert not m.peek(8)
    assert m.bits_set == 5
    # the program side reads the value to test
    assert m.bpf_peek_value((7).to_bytes(4, "little"), 0) == 0
    assert m.bpf_peek_value((8).to_bytes(4, "little"), 0) == -errno.ENOENT
    assert m.bpf_push((9).to_bytes(4, "little"), 1, 0) == -errno.EINVAL
    assert m.bpf_pop(0) == -errno.EOPNOTSUPP
    for call, err in ((lambda: m.delete(None), errno.EOPNOTSUPP),
                      (lambda: m.get_next_key(None), errno.EOPNOTSUPP),
                      (lambda: m.update(None, 1, 2), errno.EINVAL),
                      (lambda: m.lookup(None), errno.EFAULT)):
        with pytest.raises(BpfError) as exc:
            call()
        assert exc.value.errno == err


def test_bloom_hash_is_the_kernels() -> None:
    m = create_map(MapSpec(MapType.BLOOM_FILTER, 0, 8, 10, MapFlag.ZERO_SEED, map_extra=3), 2)
    assert isinstance(m, BloomFilterMap)
    v = b"abcdefgh"
    m.push(v)
    want = {jhash(v, i) & m.bitset_mask for i in range(3)}
    assert m._bits == want


# ------------------------------------------------------------------------ LPM trie ---


def _ip(a: int, b: int, c: int, d: int, plen: int) -> bytes:
    return lpm_key(plen, bytes([a, b, c, d]))


def test_lpm_longest_match_and_postorder() -> None:
    m = create_map(MapSpec(MapType.LPM_TRIE, 8, 4, 16, MapFlag.NO_PREALLOC), 2)
    assert isinstance(m, LpmTrieMap)
    m[_ip(192, 168, 0, 0, 16)] = 1
    m[_ip(192, 168, 0, 0, 24)] = 2
    m[_ip(192, 168, 128, 0, 24)] = 3
    m[_ip(192, 168, 1, 0, 24)] = 5
    assert m[_ip(192, 168, 1, 77, 32)] == (5).to_bytes(4, "little")
    assert m[_ip(192, 168, 200, 1, 32)] == (1).to_bytes(4, "little")
    assert m.longest_match(32, bytes([192, 168, 0, 9])) == (_ip(192, 168, 0, 0, 24),
                                                              (2).to_bytes(4, "little"))
    with pytest.raises(KeyError):
        m[_ip(10, 0, 0, 1, 32)]
    # more specific prefixes come before the ones that contain them
    assert m.keys() == [_ip(192, 168, 0, 0, 24), _ip(192, 168, 1, 0, 24),
                        _ip(192, 168, 128, 0, 24), _ip(192, 168, 0, 0, 16)]
    assert (23, bytes([192, 168, 0, 0]), True) in list(m.nodes())
    assert len(m) == 4


def test_lpm_errors_leave_the_trie_alone() -> None:
    m = create_map(MapSpec(MapType.LPM_TRIE, 5, 1, 2, MapFlag.NO_PREALLOC), 2)
    assert isinstance(m, LpmTrieMap)
    m.update(lpm_key(4, b"\xf0"), b"\x01")
    m.update(lpm_key(8, b"\x0f"), b"\x02")
    before = list(m.nodes())
    for key, flags, err in ((lpm_key(3, b"\x00"), 0, errno.ENOSPC),
                            (lpm_key(4, b"\xf0"), 1, errno.EEXIST),
                            (lpm_key(5, b"\x00"), 2, errno.ENOENT),
                            (lpm_key(9, b"\x00"), 0, errno.EINVAL),
                            (lpm_key(1, b"\x00"), 3, errno.EINVAL)):
        with pytest.raises(BpfError) as exc:
            m.update(key, b"\x09", flags)
        assert exc.value.errno == err
    assert list(m.nodes()) == before
    with pytest.raises(BpfError) as exc:
        m.delete(lpm_key(5, b"\xf0"))
    assert exc.value.errno == errno.ENOENT


def test_lpm_program_pointers_survive_until_rcu() -> None:
    m = create_map(MapSpec(MapType.LPM_TRIE, 6, 8, 4, MapFlag.NO_PREALLOC), 2)
    assert isinstance(m, LpmTrieMap)
    key = lpm_key(16, b"\x0a\x01")
    assert m.bpf_update(key, b"A" * 8, 0, 0) == 0
    addr = m.bpf_lookup(lpm_key(16, b"\x0a\x01"), 0)
    assert addr and MEMORY.read(addr, 8, 0) == b"A" * 8
    assert m.bpf_update(key, b"B" * 8, 2, 0) == 0
    assert MEMORY.read(addr, 8, 0) == b"A" * 8  # the old value stays readable
    assert m.bpf_delete(key, 0) == 0
    assert m.bpf_lookup(key, 0) == 0
    m.synchronize_rcu()
    assert MEMORY.find(addr, 1) is None


# --------------------------------------------------------------------- stack trace ---


def test_stack_ids() -> None:
    m = create_map(MapSpec(MapType.STACK_TRACE, 4, 32, 2), 2)
    assert isinstance(m, StackTraceMap)
    a = m.get_stackid([0x10, 0x20, 0x30], 0)
    assert a >= 0 and m.get_stackid([0x10, 0x20, 0x30], 0) == a
    assert m.lookup(a) == struct.pack("<3Q", 0x10, 0x20, 0x30) + bytes(8)
    # skip drops the innermost frames
    b = m.get_stackid([0x99, 0x10, 0x20, 0x30], 1)
    assert b == a
    assert m.get_stackid([0x10], 1) == -errno.EFAULT
    assert m.get_stackid([0x10], 1 << 20) == -errno.EINVAL
    assert len(m) == 1


def test_stack_map_full_and_collisions() -> None:
    m = create_map(MapSpec(MapType.STACK_TRACE, 4, 8, 1), 2)
    assert isinstance(m, StackTraceMap)
    assert m.get_stackid([1], 0) == 0
    assert m.get_stackid([2], 0) == -errno.EEXIST  # one bucket, taken
    assert m.get_stackid([2], 1 << 10) == -errno.ENOMEM  # REUSE needs a free bucket
    m.delete(0)
    assert m.get_stackid([2], 0) == 0
    assert m.stack(0) == (2,)
    with pytest.raises(BpfError) as exc:
        m.delete(1)
    assert exc.value.errno == errno.E2BIG
    with pytest.raises(BpfError) as exc:
        m.update(0, bytes(8))
    assert exc.value.errno == errno.EINVAL


def test_stack_map_build_id_layout() -> None:
    m = create_map(MapSpec(MapType.STACK_TRACE, 4, 64, 4, MapFlag.STACK_BUILD_ID), 2)
    assert isinstance(m, StackTraceMap)
    sid = m.get_stackid([0xABC], 0)
    status, build_id, ip = struct.unpack_from("<i20sQ", m.lookup(sid))
    assert (status, build_id, ip) == (2, bytes(20), 0xABC)


# ---------------------------------------------------------------- perf event array ---


def test_perf_event_output_and_drain() -> None:
    m = create_map(MapSpec(MapType.PERF_EVENT_ARRAY, 4, 4, 2), 2)
    assert isinstance(m, PerfEventArrayMap)
    ev0, ev1 = PerfEvent(cpu=0), PerfEvent(cpu=1, capacity=32)
    m[0] = ev0
    m.update(1, ev1)
    assert m[0] is ev0 and len(m) == 2
    with pytest.raises(BpfError) as exc:
        m.lookup(0)
    assert exc.value.errno == 524  # ENOTSUPP: slots cannot be read back
    assert m.output(0xFFFFFFFF, 0, b"hello") == 0  # BPF_F_CURRENT_CPU
    assert m.output(1, 0, b"x") == -errno.EOPNOTSUPP  # event of another CPU
    assert m.output(1, 1, b"0123456789") == 0
    assert m.output(1, 1, b"0123456789") == -errno.ENOSPC and ev1.lost == 1
    assert m.output(5, 0, b"") == -errno.E2BIG
    m.delete(0)
    assert m.output(0, 0, b"") == -errno.ENOENT
    assert [r.data for r in ev0.drain()] == [b"hello"]
    assert [(r.cpu, r.data) for r in ev1] == [(1, b"0123456789")]
    m[0] = PerfEvent(cpu=-1, bpf_output=False, counter=42)
    assert m.output(0, 1, b"") == -errno.EINVAL
    assert m.read_value(0, 1) == (42, 0, 0)
    assert m.read_value(1 << 40, 1) == -errno.EINVAL
    with pytest.raises(BpfError) as exc:
        m.update(0, PerfEvent(), 1)
    assert exc.value.errno == errno.EINVAL


def test_cgroup_array_membership() -> None:
    m = create_map(MapSpec(MapType.CGROUP_ARRAY, 4, 4, 2), 2)
    assert isinstance(m, CgroupArrayMap)
    root = Cgroup(1, "/")
    child = Cgroup(7, "/a", root)
    m[0] = child
    assert m.under_cgroup(0, child) == 1 and m.under_cgroup(0, root) == 0
    assert m.under_cgroup(1, child) == -errno.EAGAIN
    assert m.under_cgroup(2, child) == -errno.E2BIG


# ------------------------------------------------------------------ cgroup storage ---


def test_cgroup_storage_attach_and_syscalls() -> None:
    m = create_map(MapSpec(MapType.CGROUP_STORAGE, 16, 8, 0), 2)
    assert isinstance(m, CgroupStorageMap)
    key = struct.pack("<QI4x", 5, 2)
    with pytest.raises(BpfError) as exc:
        m.update(key, bytes(8))
    assert exc.value.errno == errno.ENOENT
    addr = m.attach(5, 2)
    assert m.attach(5, 2) == addr
    m.attach(6, 2)
    assert m.storage_addr(5, 2, 1) == addr and m.storage_addr(5, 3, 0) == 0
    m.update(key, (77).to_bytes(8, "little"), 2)
    assert m[key] == (77).to_bytes(8, "little")
    assert MEMORY.read(m.storage_addr(5, 2, 0), 8, 0) == (77).to_bytes(8, "little")
    assert m.keys() == [struct.pack("<QI4x", 6, 2), key]  # newest first
    for flags in (1, 3):
        with pytest.raises(BpfError) as exc:
            m.update(key, bytes(8), flags)
        assert exc.value.errno == errno.EINVAL
    with pytest.raises(BpfError) as exc:
        m.delete(key)
    assert exc.value.errno == errno.EINVAL


def test_percpu_cgroup_storage_shared_key() -> None:
    m = create_map(MapSpec(MapType.PERCPU_CGROUP_STORAGE, 8, 4, 0), 2)
    assert isinstance(m, PercpuCgroupStorageMap)
    a = m.attach(9, 1)
    assert m.attach(9, 2) == a  # an 8-byte key shares storage across attach types
    assert m.storage_addr(9, 0, 1) == a + 8
    m.update(9, [1, 2])
    assert m[9] == [(1).to_bytes(4, "little"), (2).to_bytes(4, "little")]


# ------------------------------------------------------------------- local storage ---


def test_local_storage_needs_btf() -> None:
    for t in (MapType.SK_STORAGE, MapType.TASK_STORAGE, MapType.INODE_STORAGE,
              MapType.CGRP_STORAGE):
        with pytest.raises(BpfError) as exc:
            create_map(MapSpec(t, 4, 8, 0, MapFlag.NO_PREALLOC), 2)
        assert exc.value.errno == errno.EINVAL
        create_map(MapSpec(t, 4, 8, 0, MapFlag.NO_PREALLOC, btf=STORAGE_BTF), 2).close()


def test_sk_storage_program_and_python() -> None:
    m = create_map(MapSpec(MapType.SK_STORAGE, 4, 8, 0, MapFlag.NO_PREALLOC, btf=STORAGE_BTF), 2)
    assert isinstance(m, SkStorageMap)
    s1, s2 = Socket(), Socket()
    assert m.storage_get(s1, None, 0) == 0
    addr = m.storage_get(s1, b"\x05" * 8, 1)
    assert addr and MEMORY.read(addr, 8, 0) == b"\x05" * 8
    assert m.storage_get(s1, None, 1) == addr
    assert m.storage_get(s1, None, 2) == 0  # unknown flag
    m[s2] = b"\x07" * 8
    assert m[s2] == b"\x07" * 8 and s2 in m and len(m) == 2
    with pytest.raises(BpfError) as exc:
        m.update(s2, b"\x00" * 8, 1)
    assert exc.value.errno == errno.EEXIST
    assert m.storage_delete(s2) == 0 and m.storage_delete(s2) == -errno.ENOENT
    with pytest.raises(KeyError):
        m[s2]
    with pytest.raises(BpfError) as exc:
        m.get_next_key(None)
    assert exc.value.errno == 524


def test_task_storage_by_pidfd() -> None:
    m = create_map(MapSpec(MapType.TASK_STORAGE, 4, 8, 0, MapFlag.NO_PREALLOC,
                           btf=STORAGE_BTF), 2)
    assert isinstance(m, TaskStorageMap)
    task = Task(42)
    table = {3: task, 4: Socket()}
    m.resolve_fd = lambda fd: table[fd]
    m.update(3, b"\x01" * 8)
    assert m.lookup(3) == b"\x01" * 8 and m[task] == b"\x01" * 8
    with pytest.raises(BpfError) as exc:
        m.lookup(4)
    assert exc.value.errno == errno.EBADF


# ------------------------------------------------------------ sockets and redirects ---


def test_sockmap_python_and_redirect() -> None:
    m = create_map(MapSpec(MapType.SOCKMAP, 4, 8, 4), 2)
    assert isinstance(m, SockMapMap)
    est, lis = Socket(), Socket(state=TCP_LISTEN)
    m[0] = est
    m.update(1, lis)
    assert m[0] is est and m.lookup(1) == lis.cookie.to_bytes(8, "little")
    assert m.redirect_target(b"\0\0\0\0") is est
    assert m.redirect_target(b"\1\0\0\0") is None  # a listener cannot receive
    assert m.bpf_lookup(b"\0\0\0\0", 0) == est.address
    assert m.bpf_update_sock(b"\2\0\0\0", Socket(state=7), 0) == -errno.EOPNOTSUPP
    assert m.bpf_update_sock(b"\2\0\0\0", est, 1) == 0
    with pytest.raises(BpfError) as exc:
        m.delete(3)
    assert exc.value.errno == errno.EINVAL  # empty slot
    m4 = create_map(MapSpec(MapType.SOCKMAP, 4, 4, 1), 2)
    m4[0] = est
    assert 0 in m4 and 1 not in m4 and b"x" not in m4
    assert m4.items() == [((0).to_bytes(4, "little"), est)]
    with pytest.raises(BpfError) as exc:
        m4.lookup(0)
    assert exc.value.errno == errno.ENOSPC


def test_sockhash_order_is_seed_zero_jhash() -> None:
    m = create_map(MapSpec(MapType.SOCKHASH, 4, 8, 8), 2)
    assert isinstance(m, SockHashMap)
    for k in range(8):
        m[k] = Socket()
    # buckets in order; inside a bucket the newest key first
    want = sorted(range(8), key=lambda k: (jhash(k.to_bytes(4, "little"), 0) & 7, -k))
    assert [int.from_bytes(k, "little") for k in m] == want
    with pytest.raises(BpfError) as exc:
        m[8] = Socket()
    assert exc.value.errno == errno.E2BIG


def test_devmap_values_and_targets() -> None:
    m = create_map(MapSpec(MapType.DEVMAP, 4, 4, 4), 2)
    assert isinstance(m, DevMap)
    assert m.flags & MapFlag.RDONLY_PROG and m.info_flags == MapFlag.RDONLY_PROG
    m[1] = 1  # loopback
    addr = m.bpf_lookup((1).to_bytes(4, "little"), 0)
    assert MEMORY.read(addr, 4, 0) == (1).to_bytes(4, "little")
    target = m.redirect_target((1).to_bytes(4, "little"))
    assert target is not None and target.dev is NETDEVS.get(1)
    with pytest.raises(BpfError) as exc:
        m[2] = 77
    assert exc.value.errno == errno.EINVAL  # no such device
    dev = NETDEVS.add(NetDevice(77, "veth0"))
    try:
        m[2] = 77
        assert [e.dev for e in m.entries()] == [NETDEVS.get(1), dev]
        m[2] = 0  # ifindex 0 empties the slot
        assert len(m) == 1
    finally:
        NETDEVS.remove(77)


def test_devmap_hash_keys() -> None:
    m = create_map(MapSpec(MapType.DEVMAP_HASH, 4, 8, 2), 2)
    assert isinstance(m, DevMapHash)
    m[1000] = struct.pack("<Ii", 1, 0)
    m[3] = struct.pack("<Ii", 1, 0)
    assert [int.from_bytes(k, "little") for k in m] == [1000, 3]  # bucket = key & 1
    with pytest.raises(BpfError) as exc:
        m[5] = struct.pack("<Ii", 1, 0)
    assert exc.value.errno == errno.E2BIG


def test_cpumap_and_xskmap_targets() -> None:
    c = create_map(MapSpec(MapType.CPUMAP, 4, 4, 4), 2)
    assert isinstance(c, CpuMap)
    c[1] = 128
    target = c.redirect_target((1).to_bytes(4, "little"))
    assert target is not None and target.cpu == 1 and target.qsize == 128
    with pytest.raises(BpfError) as exc:
        c[3] = 128
    assert exc.value.errno == errno.ENODEV  # only two possible CPUs
    x = create_map(MapSpec(MapType.XSKMAP, 4, 4, 4), 2)
    assert isinstance(x, XskMap)
    xs = XdpSocket()
    x[0] = xs
    x.update(0, xs, 1)  # the same socket again: fine even with BPF_NOEXIST
    assert x.redirect_target(b"\0\0\0\0") is xs and x[0] is xs and 0 in x and 1 not in x
    with pytest.raises(BpfError) as exc:
        x[1] = Socket()
    assert exc.value.errno == errno.EOPNOTSUPP


# -------------------------------------------------------------- user ring buffer ---


def test_user_ringbuf_produce_and_drain() -> None:
    m = create_map(MapSpec(MapType.USER_RINGBUF, 0, 0, 4096), 2)
    assert isinstance(m, UserRingBufMap)
    m.produce(b"one")
    s = m.reserve(5)
    s.write(b"skip!")
    s.discard()
    m.produce(b"three")
    pending = m.reserve(4)
    seen: list[bytes] = []

    def cb(addr: int, size: int) -> int:
        seen.append(MEMORY.read(addr, size, 0))
        return 0

    assert m.drain(cb) == 2  # the discarded sample is skipped, the busy one waits
    assert seen == [b"one", b"three"]
    pending.write(b"last")
    pending.submit()
    assert m.consume() == [b"last"]
    assert m.drain(cb, 4) == -errno.EINVAL
    with pytest.raises(BpfError) as exc:
        m.reserve(4096)
    assert exc.value.errno == errno.E2BIG


def test_user_ringbuf_wraps_and_fills() -> None:
    m = create_map(MapSpec(MapType.USER_RINGBUF, 0, 0, 4096), 2)
    assert isinstance(m, UserRingBufMap)
    chunk = bytes(range(256)) * 6  # 1536 bytes: records wrap around the end
    for _ in range(5):
        m.produce(chunk)
        m.produce(chunk[::-1])
        assert m.consume() == [chunk, chunk[::-1]]
    m.produce(chunk)
    m.produce(chunk)
    with pytest.raises(BpfError) as exc:
        m.produce(chunk)
    assert exc.value.errno == errno.ENOSPC
    stop = m.drain(lambda addr, size: 1)  # a callback asking to stop after one
    assert stop == 1 and m.consume() == [chunk]
    with pytest.raises(BpfError) as exc:
        m.mmap(True, 0, 4096)
    assert exc.value.errno == errno.EPERM


# ---------------------------------------------------------------------- arena, BTF ---


def test_arena_creation_rules() -> None:
    m = create_map(MapSpec(MapType.ARENA, 0, 0, 16, MapFlag.MMAPABLE, map_extra=1 << 32), 2)
    assert m.max_entries == 16
    for spec, err in ((MapSpec(MapType.ARENA, 0, 0, 16), errno.EINVAL),
                      (MapSpec(MapType.ARENA, 0, 0, 16, MapFlag.MMAPABLE, map_extra=3),
                       errno.EINVAL),
                      (MapSpec(MapType.ARENA, 0, 0, (1 << 20) + 1, MapFlag.MMAPABLE), errno.E2BIG),
                      (MapSpec(MapType.ARENA, 0, 0, 2, MapFlag.MMAPABLE,
                               map_extra=(1 << 32) - 4096), errno.ERANGE)):
        with pytest.raises(BpfError) as exc:
            create_map(spec, 2)
        assert exc.value.errno == err


def test_btf_description_round_trip_and_fields() -> None:
    btf = btfcases.map_btf("cg_key", "val_nested_lock")
    assert btf.key.kind is BtfKind.STRUCT and len(btf.key.members) == 2
    assert btf.value.fields == ((SpecialField.SPIN_LOCK, 8),)
    spec = MapSpec(MapType.HASH, 16, 16, 4, btf=btf)
    again = MapSpec.from_case(spec.to_case())
    assert again == spec and again.btf_value_type_id == btf.value_type_id
    kptr = btfcases.map_btf("u32", "val_kptr")
    assert kptr.value.fields == ((SpecialField.KPTR_UNREF, 0),)
    with pytest.raises(BpfError) as exc:
        create_map(MapSpec(MapType.PERCPU_ARRAY, 4, 8, 1,
                           btf=btfcases.map_btf("u32", "val_lock")), 2)
    assert exc.value.errno == errno.EOPNOTSUPP
