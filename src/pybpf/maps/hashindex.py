"""A hash map's chains in native memory, for code that cannot call into Python.

The hash map keeps its table as Python lists (authoritative: iteration order, batches,
the LRU machine).  When native code (the JIT's helpers written in IR) wants to look keys
up without a callback, the map builds this mirror once and from then on changes it in
the same step as its lists: the same buckets (``jhash(key, seed) & (n_buckets - 1)``),
the same elements in the same order, and each node holding the address of the element's
value, so that a native lookup returns exactly the address Python returns.

Layout, all little-endian, every node at a stable address:

* ``heads``: one u64 per bucket, the address of its first node or 0;
* a node (``NODE_HEADER`` + the key rounded up to 8 bytes): ``next`` (u64 address, 0
  at the end), ``hash`` (u32), ``ref`` (u8, set by a native LRU lookup), the value
  address (u64; for hash-of-maps the inner map's address), then the key bytes.

Nodes come from chunks allocated as needed and are reused through a free list; a chunk
is never moved or freed while the map lives.  A preallocated map's nodes are instead one
array, node ``i`` for element slot ``i``, so that native code can link the element it
takes from the free list (:mod:`.hashslots`) without asking Python for a node.
"""

from __future__ import annotations

import struct

from ..memory import Region, RegionKind

NEXT, HASH, REF, VALUE, KEY = 0, 8, 12, 16, 24
NODE_HEADER = KEY
MAX_NATIVE_BUCKETS = 1 << 20
"""Larger tables get no mirror (its bucket array alone would be 8 MiB or more); native
code then calls the Python helper for them."""
_CHUNK = 256
_U64 = struct.Struct("<Q")
_NODE = struct.Struct("<QIB3xQ")


class NativeIndex:
    """The mirror of one hash map's buckets (see the module docstring)."""

    def __init__(self, n_buckets: int, key_size: int, slots: int = 0) -> None:
        self.mask = n_buckets - 1
        self.key_size = key_size
        self.node_size = NODE_HEADER + (key_size + 7) // 8 * 8
        self.heads = Region(8 * n_buckets, RegionKind.MEM, "hash heads")
        self.nodes = Region(slots * self.node_size, RegionKind.MEM, "hash nodes") if slots else None
        self._chunks: list[Region] = []
        self._free: list[tuple[Region, int]] = []
        self._where: dict[int, tuple[Region, int]] = {}  # node address -> (chunk, offset)

    def node_of(self, slot: int) -> int:
        """The node of element slot ``slot`` (a preallocated map's)."""
        assert self.nodes is not None
        return self.nodes.base + slot * self.node_size

    def _alloc(self, slot: int) -> tuple[Region, int]:
        if self.nodes is not None:
            return self.nodes, slot * self.node_size
        if not self._free:
            chunk = Region(_CHUNK * self.node_size, RegionKind.MEM, "hash nodes")
            self._chunks.append(chunk)
            self._free.extend((chunk, off) for off in range((_CHUNK - 1) * self.node_size, -1, -self.node_size))
        return self._free.pop()

    def head(self, h: int) -> int:
        return int(_U64.unpack_from(self.heads.buf, 8 * (h & self.mask))[0])

    def link_head(self, key: bytes, h: int, value: int, slot: int = 0) -> int:
        """Put a node for ``key`` (element slot ``slot`` of a preallocated map) first in
        its bucket; returns the node's address."""
        chunk, off = self._alloc(slot)
        addr = chunk.base + off
        slot = 8 * (h & self.mask)
        _NODE.pack_into(chunk.buf, off, _U64.unpack_from(self.heads.buf, slot)[0], h, 0, value)
        chunk.buf[off + KEY : off + KEY + self.key_size] = key
        _U64.pack_into(self.heads.buf, slot, addr)
        if chunk is not self.nodes:
            self._where[addr] = (chunk, off)
        return addr

    def _locate(self, node: int, forget: bool = False) -> tuple[Region, int] | None:
        """Where a node lives (None: the map was closed)."""
        nodes = self.nodes
        if nodes is not None:
            return (nodes, node - nodes.base) if nodes.base <= node < nodes.end else None
        return self._where.pop(node, None) if forget else self._where.get(node)

    def unlink(self, node: int, h: int, prev: int) -> None:
        """Take ``node`` out of its bucket (``prev``: the node before it, 0 when first)."""
        found = self._locate(node, forget=True)
        if found is None:
            return  # cleared when the map closed
        chunk, off = found
        nxt = _U64.unpack_from(chunk.buf, off + NEXT)[0]
        if prev:
            before = self._locate(prev)
            assert before is not None
            _U64.pack_into(before[0].buf, before[1] + NEXT, nxt)
        else:
            _U64.pack_into(self.heads.buf, 8 * (h & self.mask), nxt)
        chunk.buf[off : off + self.node_size] = bytes(self.node_size)
        if chunk is not self.nodes:
            self._free.append((chunk, off))

    def ref(self, node: int) -> int:
        found = self._locate(node)
        return found[0].buf[found[1] + REF] if found is not None else 0

    def slot_of(self, node: int) -> int:
        """The element slot of a preallocated map's node."""
        assert self.nodes is not None
        return (node - self.nodes.base) // self.node_size

    def key_of(self, node: int) -> bytes:
        found = self._locate(node)
        assert found is not None
        return bytes(found[0].buf[found[1] + KEY : found[1] + KEY + self.key_size])

    def chains(self) -> list[tuple[int, list[int]]]:
        """The non-empty buckets in order, each with its nodes first to last."""
        heads = memoryview(self.heads.buf).cast("Q")
        out = []
        for b, node in enumerate(heads):
            if node:
                nodes = []
                while node:
                    nodes.append(node)
                    found = self._locate(node)
                    assert found is not None
                    node = _U64.unpack_from(found[0].buf, found[1] + NEXT)[0]
                out.append((b, nodes))
        return out

    def hash_of(self, node: int) -> int:
        found = self._locate(node)
        assert found is not None
        return int.from_bytes(found[0].buf[found[1] + HASH : found[1] + HASH + 4], "little")

    def set_ref(self, node: int, value: int) -> None:
        found = self._locate(node)
        if found is not None:
            found[0].buf[found[1] + REF] = value

    def clear(self) -> None:
        """Forget every element (the map is closed): native lookups find nothing."""
        self.heads.buf[:] = bytes(len(self.heads.buf))
        self._where.clear()

    def walk(self, h: int) -> list[tuple[bytes, int, int]]:
        """The (key, hash, value address) of each node of ``h``'s bucket, first to last
        (for checking the mirror against the map's own lists)."""
        out = []
        node = self.head(h)
        while node:
            found = self._locate(node)
            assert found is not None
            chunk, off = found
            nxt, nh, _, value = _NODE.unpack_from(chunk.buf, off)
            out.append((bytes(chunk.buf[off + KEY : off + KEY + self.key_size]), nh, value))
            node = nxt
        return out
