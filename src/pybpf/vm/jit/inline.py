"""Helpers written in IR: array map lookup and update on the map's own value buffer,
hash map lookup on the map's native mirror of its table.

A call site tests r1 against the addresses of the array and hash maps the program loads
(known when it is compiled: ``lddw`` immediates hold map addresses); a match runs the
helper natively on ``values_region`` -- the buffer the Python side reads and writes --
or on the hash map's mirror (:mod:`pybpf.maps.hashindex`, kept in step by the map), and
anything else (another map, a key or value outside the cached region, a CPU the map does
not have) takes the Python helper, so results never differ.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...isa.insn import Insn, lddw_value
from ...isa.opcodes import STACK_SIZE, InsnClass, Mode
from ...kernel.helpers import Helper
from ...maps.array import ArrayMap, PercpuArrayMap
from ...maps.base import map_at
from ...maps.hashtab import HashMap, HashOfMapsMap, LruHashMap, LruPercpuHashMap, PercpuHashMap
from ...maps.types import BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST
from . import hashlookup, hashwrite, layout, ops
from .hashlookup import HashFacts

if TYPE_CHECKING:
    from .codegen import Generator

M64 = (1 << 64) - 1
LOOKUP, UPDATE, DELETE = 1, 2, 3


@dataclass(frozen=True)
class ArrayFacts:
    """What native code needs of one array map (fixed for the map's life)."""

    address: int
    values: int
    elem_size: int
    value_size: int
    max_entries: int
    num_cpus: int
    cpu_stride: int
    """Bytes between two CPUs' copies of a per-CPU array (0 for a plain one)."""
    kptrs: bool
    """Values hold kptrs: an update releases and clears them, which Python does."""


def _writes_r1(insn: Insn) -> bool:
    """Whether an instruction other than a jump may change r1."""
    if insn.cls in (InsnClass.ALU, InsnClass.ALU64, InsnClass.LDX, InsnClass.LD):
        return bool(insn.dst == 1)
    return bool(insn.cls == InsnClass.STX and insn.mode == Mode.ATOMIC)  # fetch forms write a register


HASH_TYPES = (HashMap, PercpuHashMap, LruHashMap, LruPercpuHashMap, HashOfMapsMap)


def _maps(gen: Generator) -> tuple[list[ArrayFacts], list[HashFacts]]:
    """The array and hash maps whose addresses the program loads."""
    arrays: dict[int, ArrayFacts] = {}
    hashes: dict[int, HashFacts] = {}
    insns = gen.insns
    for pc, insn in enumerate(insns[:-1]):
        if not insn.is_lddw or (pc > 0 and insns[pc - 1].is_lddw) or insn.src == 4:
            continue
        addr = lddw_value(insn, insns[pc + 1])
        m = map_at(addr) if addr else None
        if m is None or addr != m.address:
            continue
        if type(m) in (ArrayMap, PercpuArrayMap):
            assert isinstance(m, ArrayMap)
            arrays[addr] = ArrayFacts(addr, m.values_region.base, m.elem_size, m.value_size, m.max_entries,
                                      m.num_cpus, m.max_entries * m.elem_size if m.PERCPU else 0,
                                      bool(m.kptr_fields))  # fmt: skip
        elif type(m) in HASH_TYPES and isinstance(m, HashMap) and m.key_size <= hashlookup.MAX_NATIVE_KEY:
            index = m.native_index()
            if index is not None:
                hashes[addr] = HashFacts(addr, index.heads.base, index.mask, m.seed, m.key_size,
                                         m.value_stride, m.num_cpus, m.PERCPU, m.LRU,
                                         hashwrite.write_facts(m))  # fmt: skip
    return list(arrays.values()), list(hashes.values())


class InlineHelpers:
    def __init__(self, gen: Generator) -> None:
        from ...kernel.helpers import maps as helper_maps

        self.gen = gen
        self.arrays, self.hashes = _maps(gen)
        self._targets_in: frozenset[int] | None = None
        self.fns = {LOOKUP: helper_maps.map_lookup_elem, UPDATE: helper_maps.map_update_elem,
                    DELETE: helper_maps.map_delete_elem}  # fmt: skip

    def slots_needed(self) -> int:
        """Cache pairs the inline paths use: two per map at each lookup, update or
        delete site (key and value)."""
        if not self.arrays and not self.hashes:
            return 0
        sites = sum(1 for i in self.gen.insns if i.code == 0x85 and i.src == 0 and i.imm in self.fns)
        return sites * 2 * (len(self.arrays) + len(self.hashes))

    def maps_key(self) -> tuple[tuple[int, ...], ...]:
        """The facts compiled in (part of the code cache's key)."""
        return tuple((a.address, a.values, a.elem_size, a.value_size, a.max_entries, a.num_cpus, a.cpu_stride,
                      int(a.kptrs)) for a in self.arrays) + tuple(h.key() for h in self.hashes)  # fmt: skip

    def _targets(self, helper_id: int) -> list[ArrayFacts | HashFacts]:
        if helper_id == LOOKUP:
            return [*self.arrays, *self.hashes]
        writable = [h for h in self.hashes if h.writes is not None]
        if helper_id == UPDATE:
            return [*(a for a in self.arrays if not a.kptrs), *writable]
        return [*self.arrays, *writable]

    def emit(self, pc: int, helper_id: int, helper: Helper) -> bool:
        from ...kernel.helpers import core

        if helper.fn is core.ktime_get_ns or helper.fn is core.ktime_get_coarse_ns:
            self.ktime(pc, helper)
            return True
        if helper.fn is core.get_prandom_u32:
            self.prandom(pc, helper)
            return True
        if helper.fn is core.get_smp_processor_id or helper.fn is core.get_numa_node_id:
            g = self.gen
            cpu = g.t()
            g.emit(f"{cpu} = load i64, ptr {g.slot_ptr(layout.CPU)}")
            g.put(0, cpu if helper.fn is core.get_smp_processor_id else "0")
            return True
        if helper_id not in self.fns or helper.fn is not self.fns[helper_id]:
            return False
        targets = self._targets(helper_id)
        known = self.site_map(pc)
        if known is not None:  # only that map's fast path: the others could not match
            targets = [f for f in targets if f.address == known]
        if not targets:
            return False
        g = self.gen
        done, generic = g.label(), g.label()
        r1 = g.get(1)
        cpu = g.t()
        g.emit(f"{cpu} = load i64, ptr {g.slot_ptr(layout.CPU)}")
        for facts in targets:
            eq, cpu_ok, both, here, nxt = g.t(), g.t(), g.t(), g.label(), g.label()
            g.emit(f"{eq} = icmp eq i64 {r1}, {facts.address}")
            g.emit(f"{cpu_ok} = icmp ult i64 {cpu}, {facts.num_cpus}")
            g.emit(f"{both} = and i1 {eq}, {cpu_ok}")
            g.emit(f"br i1 {both}, label %{here}, label %{nxt}")
            g.block(here)
            if isinstance(facts, HashFacts):
                self.hash_helper(facts, helper_id, cpu, generic, done)
            elif helper_id == DELETE:  # arrays have no delete (the key is still read)
                self._checked(g.get(2), 4, generic, frame=True)
                g.put(0, str(-errno.EINVAL))
                g.emit(f"br label %{done}")
            elif helper_id == LOOKUP:
                self.lookup(facts, cpu, generic, done)
            else:
                self.update(facts, cpu, generic, done)
            g.block(nxt)
        g.emit(f"br label %{generic}")
        g.block(generic)
        g.set_depth()
        args = [g.get(r) for r in range(1, 6)]
        g.put(0, g.call_py(g.op(ops.helper(helper.fn, pc), pure=True), *args))  # map helpers
        g.emit(f"br label %{done}")
        g.block(done)
        return True

    def site_map(self, pc: int) -> int | None:
        """The map r1 holds at the call at ``pc`` when the straight-line code before it
        (no jump lands in between) loads it with ``lddw``; None when unknown.  Only a
        saving of code: any other r1 still takes the Python helper."""
        g = self.gen
        if self._targets_in is None:  # where a branch lands, and where functions start
            self._targets_in = frozenset(g.jump_targets(list(range(g.n)))) | frozenset(g.entries)
        insns = g.insns
        p = pc - 1
        while p >= 0 and p + 1 not in self._targets_in:
            insn = insns[p]
            if p in g.halves:  # the second half of an lddw
                p -= 1
                continue
            if insn.is_lddw and insn.dst == 1:
                return lddw_value(insn, insns[p + 1]) if insn.src != 4 and p + 1 < len(insns) else None
            if insn.cls in (InsnClass.JMP, InsnClass.JMP32) or _writes_r1(insn):
                return None
            p -= 1
        return None

    def hash_helper(self, f: HashFacts, helper_id: int, cpu: str, generic: str, done: str) -> None:
        g = self.gen
        key = g.get(2)
        self._checked(key, f.key_size, generic, frame=True)
        if helper_id == LOOKUP:
            hashlookup.lookup(g, f, key, cpu, done)
            return
        assert f.writes is not None
        if helper_id == DELETE:
            hashwrite.delete(g, f, key, cpu, done)
            return
        value = g.get(3)
        self._checked(value, f.writes.value_size, generic, frame=True)
        hashwrite.update(g, f, key, value, g.get(4), cpu, done)

    def _checked(self, addr: str, size: int, generic: str, frame: bool = False) -> None:
        """Continue when ``[addr, addr+size)`` lies in this site's cached region (or,
        with ``frame``, in the function's own stack frame: where keys usually are, and a
        frame's address may change from one run to the next); else remember the
        address's region (when plain) and take the Python helper."""
        g = self.gen
        slot = g.new_slot()
        ok = g.label()
        if frame:
            base, last, lo, hi, inside, look = g.t(), g.t(), g.t(), g.t(), g.t(), g.label()
            g.emit(f"{base} = sub i64 %fend, {STACK_SIZE}")
            g.emit(f"{last} = sub i64 %fend, {size}")
            g.emit(f"{lo} = icmp uge i64 {addr}, {base}")
            g.emit(f"{hi} = icmp ule i64 {addr}, {last}")
            g.emit(f"{inside} = and i1 {lo}, {hi}")
            g.emit(f"br i1 {inside}, label %{ok}, label %{look}")
            g.block(look)
        hit, miss = g.checked(slot, addr, size)
        g.block(miss)
        g.call_py(g.op(ops.fill(g.cache, slot, size), pure=True), addr)
        g.emit(f"br label %{generic}")
        g.block(hit)
        g.emit(f"br label %{ok}")
        g.block(ok)

    def _index(self, generic: str) -> str:
        """The u32 key at r2, read through a cache of its own (a miss: the Python helper)."""
        g = self.gen
        key = g.get(2)
        self._checked(key, 4, generic, frame=True)
        p, v, idx = g.t(), g.t(), g.t()
        g.emit(f"{p} = inttoptr i64 {key} to ptr")
        g.emit(f"{v} = load i32, ptr {p}, align 1")
        g.emit(f"{idx} = zext i32 {v} to i64")
        return idx

    def _element(self, a: ArrayFacts, idx: str, cpu: str) -> str:
        """The address of element ``idx`` (this CPU's copy of a per-CPU array)."""
        g = self.gen
        off, addr = g.t(), g.t()
        g.emit(f"{off} = mul i64 {idx}, {a.elem_size}")
        g.emit(f"{addr} = add i64 {off}, {a.values}")
        if not a.cpu_stride:
            return addr
        skip, mine = g.t(), g.t()
        g.emit(f"{skip} = mul i64 {cpu}, {a.cpu_stride}")
        g.emit(f"{mine} = add i64 {addr}, {skip}")
        return mine

    def lookup(self, a: ArrayFacts, cpu: str, generic: str, done: str) -> None:
        g = self.gen
        idx = self._index(generic)
        inb, r0 = g.t(), g.t()
        g.emit(f"{inb} = icmp ult i64 {idx}, {a.max_entries}")
        addr = self._element(a, idx, cpu)
        g.emit(f"{r0} = select i1 {inb}, i64 {addr}, i64 0")
        g.put(0, r0)
        g.emit(f"br label %{done}")

    def update(self, a: ArrayFacts, cpu: str, generic: str, done: str) -> None:
        g = self.gen
        idx = self._index(generic)
        value = g.get(3)
        self._checked(value, a.value_size, generic, frame=True)
        flags = g.get(4)
        rest, bad_flags = g.t(), g.t()
        g.emit(f"{rest} = and i64 {flags}, {M64 ^ BPF_F_LOCK}")
        g.emit(f"{bad_flags} = icmp ugt i64 {rest}, {BPF_EXIST}")
        big, noexist, lock = g.t(), g.t(), g.t()
        g.emit(f"{big} = icmp uge i64 {idx}, {a.max_entries}")
        ne, lk = g.t(), g.t()
        g.emit(f"{ne} = and i64 {flags}, {BPF_NOEXIST}")
        g.emit(f"{noexist} = icmp ne i64 {ne}, 0")
        g.emit(f"{lk} = and i64 {flags}, {BPF_F_LOCK}")
        g.emit(f"{lock} = icmp ne i64 {lk}, 0")
        e1, e2, e3, e4 = g.t(), g.t(), g.t(), g.t()
        g.emit(f"{e1} = select i1 {lock}, i64 {-errno.EINVAL}, i64 0")
        g.emit(f"{e2} = select i1 {noexist}, i64 {-errno.EEXIST}, i64 {e1}")
        g.emit(f"{e3} = select i1 {big}, i64 {-errno.E2BIG}, i64 {e2}")
        g.emit(f"{e4} = select i1 {bad_flags}, i64 {-errno.EINVAL}, i64 {e3}")
        ok, write, fin = g.t(), g.label(), g.label()
        g.emit(f"{ok} = icmp eq i64 {e4}, 0")
        g.emit(f"br i1 {ok}, label %{write}, label %{fin}")
        g.block(write)
        dst, dp, sp = self._element(a, idx, cpu), g.t(), g.t()
        g.emit(f"{dp} = inttoptr i64 {dst} to ptr")
        g.emit(f"{sp} = inttoptr i64 {value} to ptr")
        g.emit(f"call void @llvm.memmove.p0.p0.i64(ptr {dp}, ptr {sp}, i64 {a.value_size}, i1 false)")
        g.emit(f"br label %{fin}")
        g.block(fin)
        g.put(0, e4)
        g.emit(f"br label %{done}")

    # --- time and random numbers ------------------------------------------------------

    def ktime(self, pc: int, helper: Helper) -> None:
        """The kernel's fixed time when it has one, else CLOCK_MONOTONIC (what
        ``time.monotonic_ns`` reads)."""
        g = self.gen
        flag, fixed, isfixed, val = g.t(), g.t(), g.t(), g.t()
        yes, no, done = g.label(), g.label(), g.label()
        g.emit(f"{flag} = load i64, ptr {g.slot_ptr(layout.CLOCK)}")
        g.emit(f"{isfixed} = icmp ne i64 {flag}, 0")
        g.emit(f"br i1 {isfixed}, label %{yes}, label %{no}")
        g.block(yes)
        g.emit(f"{fixed} = load i64, ptr {g.slot_ptr(layout.CLOCK + 1)}")
        g.put(0, fixed)
        g.emit(f"br label %{done}")
        g.block(no)
        sec, nsec, ns, total, ts = g.t(), g.t(), g.t(), g.t(), g.t()
        g.emit(f"{ts} = getelementptr i64, ptr %cio, i64 14")
        g.emit(f"call i32 @clock_gettime(i32 1, ptr {ts})")
        g.emit(f"{sec} = load i64, ptr {ts}")
        p = g.t()
        g.emit(f"{p} = getelementptr i64, ptr %cio, i64 15")
        g.emit(f"{nsec} = load i64, ptr {p}")
        g.emit(f"{ns} = mul i64 {sec}, 1000000000")
        g.emit(f"{total} = add i64 {ns}, {nsec}")
        g.put(0, total)
        g.emit(f"br label %{done}")
        g.block(done)
        _ = val, pc, helper

    def prandom(self, pc: int, helper: Helper) -> None:
        """taus113 on the run's CPU's four words, kept in the state block."""
        g = self.gen
        ok, native, generic, done = g.t(), g.label(), g.label(), g.label()
        flag = g.t()
        g.emit(f"{flag} = load i64, ptr {g.slot_ptr(layout.PRANDOM)}")
        g.emit(f"{ok} = icmp ne i64 {flag}, 0")
        g.emit(f"br i1 {ok}, label %{native}, label %{generic}")
        g.block(native)
        steps = ((6, 13, 0xFFFFFFFE, 18), (2, 27, 0xFFFFFFF8, 2), (13, 21, 0xFFFFFFF0, 7), (3, 12, 0xFFFFFF80, 13))
        out = "0"
        for i, (a, b, c, d) in enumerate(steps):
            p, w, s1, s2, s3, s4, s5, s6, nw, x = (g.t() for _ in range(10))
            g.emit(f"{p} = getelementptr i64, ptr %st, i64 {layout.PRANDOM + 1 + i}")
            g.emit(f"{w} = load i64, ptr {p}")
            g.emit(f"{s1} = trunc i64 {w} to i32")
            # ((s & c) << d) ^ (((s << a) ^ s) >> b), in 32 bits
            g.emit(f"{s2} = and i32 {s1}, {c - (1 << 32)}")
            g.emit(f"{s3} = shl i32 {s2}, {d}")
            g.emit(f"{s4} = shl i32 {s1}, {a}")
            g.emit(f"{s5} = xor i32 {s4}, {s1}")
            g.emit(f"{s6} = lshr i32 {s5}, {b}")
            g.emit(f"{x} = xor i32 {s3}, {s6}")
            g.emit(f"{nw} = zext i32 {x} to i64")
            g.emit(f"store i64 {nw}, ptr {p}")
            acc = g.t()
            g.emit(f"{acc} = xor i64 {out}, {nw}")
            out = acc
        g.put(0, out)
        g.emit(f"br label %{done}")
        g.block(generic)
        g.set_depth()
        args = [g.get(r) for r in range(1, 6)]
        g.put(0, g.call_py(g.op(ops.helper(helper.fn, pc), pure=True), *args))
        g.emit(f"br label %{done}")
        g.block(done)
