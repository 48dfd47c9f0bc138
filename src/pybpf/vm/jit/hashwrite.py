"""Hash-map update and delete written in IR, for preallocated plain and per-CPU hashes.

Native code changes the same bytes Python does: the element slots of the map's pool, the
mirror's chains (:mod:`pybpf.maps.hashindex`) and the free lists and spares now kept in
native memory (:mod:`pybpf.maps.hashslots`), in the kernel's order (a replacing update
takes the CPU's spare and links it first, then unlinks the old element, which becomes the
spare; a delete pushes the element on the CPU's free stack).  Each change it makes to the
table is counted and journalled (:mod:`pybpf.maps.hashslots`); the map brings its Python
lists up to date before it next reads them.  Native code never calls into Python here.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ...maps import hashslots as hs
from ...maps.hashindex import HASH, KEY, NEXT, REF, VALUE
from ...maps.types import BPF_EXIST, BPF_NOEXIST
from .hashlookup import HashFacts, WriteFacts, find

if TYPE_CHECKING:
    from ...maps.hashtab import HashMap
    from .codegen import Generator


class _Emit:
    def __init__(self, g: Generator, f: HashFacts) -> None:
        assert f.writes is not None
        self.g, self.f, self.w = g, f, f.writes

    def val(self, expr: str) -> str:
        t = self.g.t()
        self.g.emit(f"{t} = {expr}")
        return t

    def ptr(self, addr: str | int, off: int = 0) -> str:
        a = self.val(f"add i64 {addr}, {off}")
        return self.val(f"inttoptr i64 {a} to ptr")

    def ctl(self, cpu: str | int, word: int) -> str:
        """Pointer to ``word`` of ``cpu``'s block in the free-list words."""
        base = self.val(f"mul i64 {cpu}, {8 * hs.CPU_WORDS}")
        return self.ptr(base, self.w.ctl + 8 * (hs.PER_CPU + word))

    def copy(self, dst: str, src: str, size: int) -> None:
        self.g.emit(f"call void @llvm.memmove.p0.p0.i64(ptr {self.ptr(dst)}, ptr {self.ptr(src)}, i64 {size}, i1 false)")

    def reply(self, value: int | str, done: str) -> None:
        self.g.put(0, str(value))
        self.g.emit(f"br label %{done}")

    def record(self, kind: int, slot: str, other: str | int) -> None:
        """Count a change, and journal it while the journal has room."""
        g = self.g
        cp = self.ptr(self.w.ctl, 8 * hs.COUNT)
        count = self.val(f"load i64, ptr {cp}")
        g.emit(f"store i64 {self.val(f'add i64 {count}, 1')}, ptr {cp}")
        room = self.val(f"icmp ult i64 {count}, {hs.JOURNAL_CAPACITY}")
        write, skip = g.label(), g.label()
        g.emit(f"br i1 {room}, label %{write}, label %{skip}")
        g.block(write)
        off = self.val(f"mul i64 {count}, {hs.RECORD}")
        rec = self.val(f"add i64 {off}, {self.w.journal}")
        for i, v in enumerate((str(kind), slot, str(other))):
            v32 = self.val(f"trunc i64 {v} to i32")
            g.emit(f"store i32 {v32}, ptr {self.ptr(rec, 4 * i)}")
        g.emit(f"br label %{skip}")
        g.block(skip)

    def slot_of(self, node: str) -> str:
        rel = self.val(f"sub i64 {node}, {self.w.nodes}")
        return self.val(f"udiv i64 {rel}, {self.w.node_size}")

    def fill(self, slot: str, key: str, value: str, h: str, cpu: str) -> str:
        """Write key and value into element ``slot`` (a fresh per-CPU element has the
        other CPUs' copies zeroed) and its node's key, hash and value address; returns
        the node."""
        g, f, w = self.g, self.f, self.w
        so = self.val(f"mul i64 {slot}, {w.slot_size}")
        elem = self.val(f"add i64 {so}, {w.pool}")
        self.copy(elem, key, f.key_size)
        vaddr = self.val(f"add i64 {elem}, {w.key_area}")
        if f.percpu:  # the value first: a stale pointer may read from this very element
            skip = self.val(f"mul i64 {cpu}, {f.value_stride}")
            self.copy(self.val(f"add i64 {vaddr}, {skip}"), value, w.value_size)
            for c in range(f.num_cpus):
                mine = self.val(f"icmp eq i64 {cpu}, {c}")
                size = self.val(f"select i1 {mine}, i64 0, i64 {w.value_size}")
                g.emit(f"call void @llvm.memset.p0.i64(ptr {self.ptr(vaddr, c * f.value_stride)}, i8 0, "
                       f"i64 {size}, i1 false)")  # fmt: skip
        else:
            self.copy(vaddr, value, w.value_size)
        no = self.val(f"mul i64 {slot}, {w.node_size}")
        node = self.val(f"add i64 {no}, {w.nodes}")
        g.emit(f"store i32 {h}, ptr {self.ptr(node, HASH)}")
        g.emit(f"store i8 0, ptr {self.ptr(node, REF)}")
        g.emit(f"store i64 {vaddr}, ptr {self.ptr(node, VALUE)}")
        nk = self.val(f"add i64 {node}, {KEY}")
        self.copy(nk, key, f.key_size)
        return node

    def pop(self, cpu: str, empty: str) -> str:
        """A free slot as the map's free lists give it (see ``NativeSlots.pop``); jumps
        to ``empty`` when there is none."""
        g, f, w = self.g, self.f, self.w
        got = g.label()
        incoming: list[tuple[str, str]] = []
        for k in range(f.num_cpus):
            plus = self.val(f"add i64 {cpu}, {k}")
            c = self.val(f"urem i64 {plus}, {f.num_cpus}")
            lp = self.ctl(c, hs.LEN)
            n = self.val(f"load i64, ptr {lp}")
            has = self.val(f"icmp ne i64 {n}, 0")
            stack, virgin, take, nxt = g.label(), g.label(), g.label(), g.label()
            g.emit(f"br i1 {has}, label %{stack}, label %{virgin}")
            g.block(stack)
            n1 = self.val(f"sub i64 {n}, 1")
            g.emit(f"store i64 {n1}, ptr {lp}")
            row = self.val(f"mul i64 {c}, {w.nslots}")
            i = self.val(f"add i64 {row}, {n1}")
            off = self.val(f"mul i64 {i}, 4")
            s32 = self.val(f"load i32, ptr {self.ptr(off, w.stacks)}")
            s = self.val(f"zext i32 {s32} to i64")
            incoming.append((s, stack))
            g.emit(f"br label %{got}")
            g.block(virgin)
            lo = self.val(f"load i64, ptr {self.ctl(c, hs.LO)}")
            hp = self.ctl(c, hs.HI)
            hi = self.val(f"load i64, ptr {hp}")
            more = self.val(f"icmp ugt i64 {hi}, {lo}")
            g.emit(f"br i1 {more}, label %{take}, label %{nxt}")
            g.block(take)
            h1 = self.val(f"sub i64 {hi}, 1")
            g.emit(f"store i64 {h1}, ptr {hp}")
            incoming.append((h1, take))
            g.emit(f"br label %{got}")
            g.block(nxt)
        g.emit(f"br label %{empty}")
        g.block(got)
        return self.val("phi i64 " + ", ".join(f"[ {v}, %{b} ]" for v, b in incoming))


def update(g: Generator, f: HashFacts, key: str, value: str, flags: str, cpu: str, done: str) -> None:
    """``bpf_map_update_elem`` as ``HashMap._update_plain`` / ``_update_percpu`` do it."""
    e = _Emit(g, f)
    # Plain hashes refuse a flag above BPF_EXIST and BPF_F_LOCK (these values hold no
    # spin lock); as BPF_F_LOCK > BPF_EXIST, both kinds refuse exactly flags > BPF_EXIST.
    bad = e.val(f"icmp ugt i64 {flags}, {BPF_EXIST}")
    einval, go = g.label(), g.label()
    g.emit(f"br i1 {bad}, label %{einval}, label %{go}")
    g.block(einval)
    e.reply(-errno.EINVAL, done)
    g.block(go)
    node, prev, hp, h, miss = find(g, f, key)
    noexist = e.val(f"icmp eq i64 {flags}, {BPF_NOEXIST}")
    eexist, replace = g.label(), g.label()
    g.emit(f"br i1 {noexist}, label %{eexist}, label %{replace}")
    g.block(eexist)
    e.reply(-errno.EEXIST, done)
    g.block(replace)
    if f.percpu:  # in place: this CPU's copy
        v = e.val(f"load i64, ptr {e.ptr(node, VALUE)}")
        skip = e.val(f"mul i64 {cpu}, {f.value_stride}")
        e.copy(e.val(f"add i64 {v}, {skip}"), value, e.w.value_size)
        e.reply(0, done)
    else:
        old = e.slot_of(node)
        xp = e.ctl(cpu, hs.EXTRA)
        new = e.val(f"load i64, ptr {xp}")
        g.emit(f"store i64 {old}, ptr {xp}")
        fresh = e.fill(new, key, value, h, cpu)
        after = e.val(f"load i64, ptr {e.ptr(node, NEXT)}")
        first, middle, linked = g.label(), g.label(), g.label()
        isfirst = e.val(f"icmp eq i64 {prev}, 0")
        g.emit(f"br i1 {isfirst}, label %{first}, label %{middle}")
        g.block(first)  # the old element was first: the new one takes its place
        g.emit(f"store i64 {after}, ptr {e.ptr(fresh, NEXT)}")
        g.emit(f"store i64 {fresh}, ptr {hp}")
        g.emit(f"br label %{linked}")
        g.block(middle)
        head = e.val(f"load i64, ptr {hp}")
        g.emit(f"store i64 {head}, ptr {e.ptr(fresh, NEXT)}")
        g.emit(f"store i64 {fresh}, ptr {hp}")
        g.emit(f"store i64 {after}, ptr {e.ptr(prev, NEXT)}")
        g.emit(f"br label %{linked}")
        g.block(linked)
        e.record(hs.REPLACE, new, old)
        e.reply(0, done)
    g.block(miss)
    exist = e.val(f"icmp eq i64 {flags}, {BPF_EXIST}")
    enoent, insert, full = g.label(), g.label(), g.label()
    g.emit(f"br i1 {exist}, label %{enoent}, label %{insert}")
    g.block(enoent)
    e.reply(-errno.ENOENT, done)
    g.block(full)
    e.reply(-errno.E2BIG, done)
    g.block(insert)
    slot = e.pop(cpu, full)
    fresh = e.fill(slot, key, value, h, cpu)
    head = e.val(f"load i64, ptr {hp}")
    g.emit(f"store i64 {head}, ptr {e.ptr(fresh, NEXT)}")
    g.emit(f"store i64 {fresh}, ptr {hp}")
    e.record(hs.INSERT, slot, 0)
    e.reply(0, done)


def delete(g: Generator, f: HashFacts, key: str, cpu: str, done: str) -> None:
    """``bpf_map_delete_elem`` as ``HashMap._delete`` does it."""
    e = _Emit(g, f)
    node, prev, hp, _, miss = find(g, f, key)
    slot = e.slot_of(node)
    after = e.val(f"load i64, ptr {e.ptr(node, NEXT)}")
    first, middle, unlinked = g.label(), g.label(), g.label()
    isfirst = e.val(f"icmp eq i64 {prev}, 0")
    g.emit(f"br i1 {isfirst}, label %{first}, label %{middle}")
    g.block(first)
    g.emit(f"store i64 {after}, ptr {hp}")
    g.emit(f"br label %{unlinked}")
    g.block(middle)
    g.emit(f"store i64 {after}, ptr {e.ptr(prev, NEXT)}")
    g.emit(f"br label %{unlinked}")
    g.block(unlinked)
    lp = e.ctl(cpu, hs.LEN)
    n = e.val(f"load i64, ptr {lp}")
    row = e.val(f"mul i64 {cpu}, {e.w.nslots}")
    i = e.val(f"add i64 {row}, {n}")
    off = e.val(f"mul i64 {i}, 4")
    s32 = e.val(f"trunc i64 {slot} to i32")
    g.emit(f"store i32 {s32}, ptr {e.ptr(off, e.w.stacks)}")
    g.emit(f"store i64 {e.val(f'add i64 {n}, 1')}, ptr {lp}")
    e.record(hs.DELETE, slot, 0)
    e.reply(0, done)
    g.block(miss)
    e.reply(-errno.ENOENT, done)


def write_facts(m: HashMap) -> WriteFacts | None:
    """What native updates of ``m`` need, or None when it takes the Python helpers."""
    native, slots = m.native_index(), m.native_slots
    if native is None or slots is None or native.nodes is None or m.pool is None:
        return None
    return WriteFacts(m.pool.base, m.slot_size, m.key_area, m.value_size, native.nodes.base,
                      native.node_size, m.nslots, slots.ctl.base, slots.stacks.base,
                      slots.journal.base)  # fmt: skip
