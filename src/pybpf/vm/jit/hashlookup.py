"""Hash-map lookup written in IR, on the map's native mirror (:mod:`pybpf.maps.hashindex`).

The key's size and the map's seed are fixed when the program is compiled, so the hash
(lookup3, as :mod:`pybpf.maps.jhash` computes it) is unrolled for that size, and the key
comparison is a few word compares.  The walk follows the bucket's chain exactly as the
map's Python lists order it, and returns the value address the node holds: the address
Python's ``bpf_lookup`` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...isa.semantics import s32
from ...maps.hashindex import HASH, KEY, NEXT, REF, VALUE

if TYPE_CHECKING:
    from .codegen import Generator

GOLDEN = 0xDEADBEEF
MAX_NATIVE_KEY = 128
"""Longer keys take the Python helper (their compare would be a long unrolled chain)."""


@dataclass(frozen=True)
class HashFacts:
    """What native code needs of one hash map (fixed for the map's life)."""

    address: int
    heads: int
    mask: int
    seed: int
    key_size: int
    value_stride: int
    num_cpus: int
    percpu: bool
    lru: bool
    writes: WriteFacts | None = None
    """Where a map native code may update and delete in keeps its elements."""

    def key(self) -> tuple[int, ...]:
        w = self.writes.key() if self.writes is not None else ()
        return (self.address, self.heads, self.mask, self.seed, self.key_size, self.value_stride,
                self.num_cpus, int(self.percpu), int(self.lru), *w)  # fmt: skip


@dataclass(frozen=True)
class WriteFacts:
    """A preallocated map's element pool, mirror nodes, free lists and journal."""

    pool: int
    slot_size: int
    key_area: int
    value_size: int
    nodes: int
    node_size: int
    nslots: int
    ctl: int
    stacks: int
    journal: int

    def key(self) -> tuple[int, ...]:
        return (self.pool, self.slot_size, self.key_area, self.value_size, self.nodes, self.node_size,
                self.nslots, self.ctl, self.stacks, self.journal)  # fmt: skip


class _Ops:
    """Three-address i32 arithmetic on fresh temporaries."""

    def __init__(self, g: Generator) -> None:
        self.g = g

    def bin(self, op: str, x: str, y: str | int) -> str:
        t = self.g.t()
        self.g.emit(f"{t} = {op} i32 {x}, {y}")
        return t

    def rot(self, x: str, k: int) -> str:
        return self.bin("or", self.bin("shl", x, k), self.bin("lshr", x, 32 - k))

    def load(self, base: str, off: int, size: int) -> str:
        """``size`` (1..8) bytes at ``base + off`` as an i64 (little-endian, zero-extended)."""
        g = self.g
        if size in (1, 2, 4, 8):
            a, p, v = g.t(), g.t(), g.t()
            g.emit(f"{a} = add i64 {base}, {off}")
            g.emit(f"{p} = inttoptr i64 {a} to ptr")
            g.emit(f"{v} = load i{8 * size}, ptr {p}, align 1")
            if size == 8:
                return v
            w = g.t()
            g.emit(f"{w} = zext i{8 * size} {v} to i64")
            return w
        low = 4 if size > 4 else 2
        lo, hi = self.load(base, off, low), self.load(base, off + low, size - low)
        sh, r = g.t(), g.t()
        g.emit(f"{sh} = shl i64 {hi}, {8 * low}")
        g.emit(f"{r} = or i64 {lo}, {sh}")
        return r

    def word(self, base: str, off: int, size: int) -> str:
        """Up to four bytes at ``base + off`` as an i32 (zero-padded)."""
        if size <= 0:
            return "0"
        v = self.load(base, off, min(size, 4))
        t = self.g.t()
        self.g.emit(f"{t} = trunc i64 {v} to i32")
        return t


def jhash(g: Generator, key: str, length: int, seed: int) -> str:
    """lookup3 of the ``length`` bytes at address ``key`` (an i64), as an i32."""
    o = _Ops(g)
    init = str(s32(GOLDEN + length + seed))
    a = b = c = init

    def mix(a: str, b: str, c: str) -> tuple[str, str, str]:
        for x, y, z, k in ((0, 2, 1, 4), (1, 0, 2, 6), (2, 1, 0, 8), (0, 2, 1, 16), (1, 0, 2, 19), (2, 1, 0, 4)):
            v = [a, b, c]
            v[x] = o.bin("sub", v[x], v[y])
            v[x] = o.bin("xor", v[x], o.rot(v[y], k))
            v[y] = o.bin("add", v[y], v[z])
            a, b, c = v
        return a, b, c

    pos = 0
    while length - pos > 12:
        a = o.bin("add", a, o.word(key, pos, 4))
        b = o.bin("add", b, o.word(key, pos + 4, 4))
        c = o.bin("add", c, o.word(key, pos + 8, 4))
        a, b, c = mix(a, b, c)
        pos += 12
    rest = length - pos
    if rest == 0:
        return c
    a = o.bin("add", a, o.word(key, pos, rest))
    b = o.bin("add", b, o.word(key, pos + 4, rest - 4))
    c = o.bin("add", c, o.word(key, pos + 8, rest - 8))
    for x, y, k in ((2, 1, 14), (0, 2, 11), (1, 0, 25), (2, 1, 16), (0, 2, 4), (1, 0, 14), (2, 1, 24)):
        v = [a, b, c]
        v[x] = o.bin("xor", v[x], v[y])
        v[x] = o.bin("sub", v[x], o.rot(v[y], k))
        a, b, c = v
    return c


def _chunks(size: int) -> list[tuple[int, int]]:
    out, off = [], 0
    for width in (8, 4, 2, 1):
        while size - off >= width:
            out.append((off, width))
            off += width
    return out


def find(g: Generator, f: HashFacts, key: str) -> tuple[str, str, str, str, str]:
    """Walk the bucket of the key at ``key``.  Returns (node, the node before it or 0,
    the bucket's head pointer, the hash, the label reached when the key is absent); code
    emitted next runs when the key was found."""
    o = _Ops(g)
    h = jhash(g, key, f.key_size, f.seed)
    mine = [(off, width, o.load(key, off, width)) for off, width in _chunks(f.key_size)]
    b, slot, hp, head = g.t(), g.t(), g.t(), g.t()
    pre, loop, check, compare, cont, found, miss = (g.label() for _ in range(7))
    g.emit(f"br label %{pre}")
    g.block(pre)
    g.emit(f"{b} = and i32 {h}, {s32(f.mask)}")
    g.emit(f"{slot} = zext i32 {b} to i64")
    g.emit(f"{hp} = getelementptr i64, ptr inttoptr (i64 {f.heads} to ptr), i64 {slot}")
    g.emit(f"{head} = load i64, ptr {hp}")
    g.emit(f"br label %{loop}")
    g.block(loop)
    node, prev, nxt, end = g.t(), g.t(), g.t(), g.t()
    g.emit(f"{node} = phi i64 [ {head}, %{pre} ], [ {nxt}, %{cont} ]")
    g.emit(f"{prev} = phi i64 [ 0, %{pre} ], [ {node}, %{cont} ]")
    g.emit(f"{end} = icmp eq i64 {node}, 0")
    g.emit(f"br i1 {end}, label %{miss}, label %{check}")
    g.block(check)
    nh, same = o.word(node, HASH, 4), g.t()
    g.emit(f"{same} = icmp eq i32 {nh}, {h}")
    g.emit(f"br i1 {same}, label %{compare}, label %{cont}")
    g.block(compare)
    equal = "true"
    for off, width, mv in mine:
        theirs, eq, both = o.load(node, KEY + off, width), g.t(), g.t()
        g.emit(f"{eq} = icmp eq i64 {mv}, {theirs}")
        g.emit(f"{both} = and i1 {equal}, {eq}")
        equal = both
    g.emit(f"br i1 {equal}, label %{found}, label %{cont}")
    g.block(cont)
    np = g.t()
    g.emit(f"{np} = add i64 {node}, {NEXT}")
    g.emit(f"{nxt} = {_load_i64(g, np)}")
    g.emit(f"br label %{loop}")
    g.block(found)
    return node, prev, hp, h, miss


def lookup(g: Generator, f: HashFacts, key: str, cpu: str, done: str) -> None:
    """r0 = the value address of the key at ``key`` in ``f``'s map, or 0; then ``done``."""
    o = _Ops(g)
    node, _, _, _, miss = find(g, f, key)
    value = o.load(node, VALUE, 8)
    if f.percpu:
        skip, addr = g.t(), g.t()
        g.emit(f"{skip} = mul i64 {cpu}, {f.value_stride}")
        g.emit(f"{addr} = add i64 {value}, {skip}")
        value = addr
    if f.lru:
        ra, rp = g.t(), g.t()
        g.emit(f"{ra} = add i64 {node}, {REF}")
        g.emit(f"{rp} = inttoptr i64 {ra} to ptr")
        g.emit(f"store i8 1, ptr {rp}")
    g.put(0, value)
    g.emit(f"br label %{done}")
    g.block(miss)
    g.put(0, "0")
    g.emit(f"br label %{done}")


def _load_i64(g: Generator, addr: str) -> str:
    p = g.t()
    g.emit(f"{p} = inttoptr i64 {addr} to ptr")
    return f"load i64, ptr {p}"
