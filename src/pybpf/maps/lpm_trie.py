"""The longest-prefix-match trie (``BPF_MAP_TYPE_LPM_TRIE``).

A key is ``struct bpf_lpm_trie_key``: a host-order u32 ``prefixlen`` followed by
``key_size - 4`` data bytes read as one big-endian bit string.  A lookup returns the value
of the stored prefix that matches the most leading bits of the key (among those no longer
than the key's own prefixlen).

The structure is the kernel's: a binary trie whose nodes hold a prefix (the whole data as
given, not only its first ``prefixlen`` bits), children chosen by the first bit after the
node's prefix, and value-less *intermediate* nodes where two prefixes part.  Updates,
deletes and ``get_next_key`` walk it as the kernel does, so the key order (post-order:
more specific prefixes before the ones that contain them) and the errnos (ENOSPC when
full, ENOENT for BPF_EXIST on a missing prefix, EINVAL for an over-long prefixlen) agree.

Each valued node's value lives in a region of its own: an update of an existing prefix
links a new node and retires the old value memory, as the kernel frees it after RCU.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterator
from typing import Any

from ..errors import BpfError
from ..memory import Region, RegionKind
from .base import Map, to_bytes
from .btfinfo import BtfKind, BtfType
from .types import (
    ACCESS_MASK,
    BPF_EXIST,
    BPF_NOEXIST,
    KMALLOC_MAX_SIZE,
    MapFlag,
    MapSpec,
)

LPM_DATA_SIZE_MIN = 1
LPM_DATA_SIZE_MAX = 256
LPM_KEY_HEADER = 4  # the u32 prefixlen
LPM_NODE_HEADER = 24  # sizeof(struct lpm_trie_node) on 64-bit kernels (6.13 and later)
LPM_VAL_SIZE_MAX = KMALLOC_MAX_SIZE - LPM_DATA_SIZE_MAX - LPM_NODE_HEADER
LPM_CREATE_FLAG_MASK = int(MapFlag.NO_PREALLOC | MapFlag.NUMA_NODE) | ACCESS_MASK

_U32 = struct.Struct("<I")


def lpm_key(prefixlen: int, data: bytes | bytearray) -> bytes:
    """A trie key: ``prefixlen`` then the data bytes (e.g. an IPv4 address)."""
    return _U32.pack(prefixlen) + bytes(data)


class _Node:
    """One trie node; ``region`` holds the value (None for intermediate nodes)."""

    __slots__ = ("bits", "child", "data", "prefixlen", "region")

    def __init__(self, prefixlen: int, data: bytes, region: Region | None) -> None:
        self.prefixlen = prefixlen
        self.data = data
        self.bits = int.from_bytes(data, "big")
        self.region = region
        self.child: list[_Node | None] = [None, None]

    @property
    def intermediate(self) -> bool:
        return self.region is None


class LpmTrieMap(Map):
    """``BPF_MAP_TYPE_LPM_TRIE``."""

    BATCH_OPS = frozenset({"lookup_batch", "update_batch", "delete_batch"})
    BTF_CHECK = True

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        flags = spec.flags
        if (
            spec.max_entries == 0
            or not flags & MapFlag.NO_PREALLOC
            or flags & ~LPM_CREATE_FLAG_MASK
            or (flags & MapFlag.RDONLY_PROG and flags & MapFlag.WRONLY_PROG)
            or not LPM_KEY_HEADER + LPM_DATA_SIZE_MIN <= spec.key_size
            <= LPM_KEY_HEADER + LPM_DATA_SIZE_MAX
            or not 1 <= spec.value_size <= LPM_VAL_SIZE_MAX
        ):
            raise BpfError(errno.EINVAL, "invalid LPM trie attributes (BPF_F_NO_PREALLOC is "
                           "required; keys hold 1 to 256 data bytes)")

    @classmethod
    def check_btf(cls, spec: MapSpec, key: BtfType, value: BtfType) -> None:
        if key.kind is not BtfKind.STRUCT:
            raise BpfError(errno.EINVAL, "an LPM trie's BTF key must be a struct")

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self.data_size = spec.key_size - LPM_KEY_HEADER
        self.max_prefixlen = self.data_size * 8
        self.root: _Node | None = None
        self.n_entries = 0

    # -------------------------------------------------------------- bit helpers ---

    def _split(self, key: bytes) -> tuple[int, bytes, int]:
        prefixlen = _U32.unpack_from(key)[0]
        data = bytes(key[LPM_KEY_HEADER : LPM_KEY_HEADER + self.data_size])
        return prefixlen, data, int.from_bytes(data, "big")

    def _match(self, node: _Node, prefixlen: int, bits: int) -> int:
        """How many leading bits of ``node`` and the key agree, capped at the shorter
        prefix (the kernel's longest_prefix_match)."""
        limit = min(node.prefixlen, prefixlen)
        same = self.max_prefixlen - (node.bits ^ bits).bit_length()
        return min(same, limit)

    def _bit(self, bits: int, index: int) -> int:
        return (bits >> (self.max_prefixlen - 1 - index)) & 1

    # ------------------------------------------------------------------ lookup ---

    def _find(self, key: bytes) -> _Node | None:
        prefixlen, _, bits = self._split(key)
        if prefixlen > self.max_prefixlen:
            return None
        found = None
        node = self.root
        while node is not None:
            matchlen = self._match(node, prefixlen, bits)
            if matchlen == self.max_prefixlen:
                return node
            if matchlen < node.prefixlen:
                break
            if not node.intermediate:
                found = node
            node = node.child[self._bit(bits, node.prefixlen)]
        return found

    # ------------------------------------------------------------------ update ---

    def _check_add(self, flags: int) -> int:
        if flags == BPF_EXIST:
            return errno.ENOENT
        if self.n_entries == self.max_entries:
            return errno.ENOSPC
        return 0

    def _new_value(self, value: bytes) -> Region:
        region = self._allocate(self.value_size, RegionKind.MAP_VALUE, "element")
        region.buf[:] = value[: self.value_size]
        return region

    def _update(self, key: bytes, value: bytes, flags: int) -> int:
        """trie_update_elem: 0 or a positive errno; the trie is untouched on failure."""
        if flags > BPF_EXIST:
            return errno.EINVAL
        prefixlen, data, bits = self._split(key)
        if prefixlen > self.max_prefixlen:
            return errno.EINVAL
        parent: _Node | None = None
        side = 0
        node = self.root
        matchlen = 0
        while node is not None:
            matchlen = self._match(node, prefixlen, bits)
            if node.prefixlen != matchlen or node.prefixlen == prefixlen:
                break
            parent, side = node, self._bit(bits, node.prefixlen)
            node = node.child[side]

        def attach(new: _Node) -> None:
            if parent is None:
                self.root = new
            else:
                parent.child[side] = new

        if node is None:
            err = self._check_add(flags)
            if err:
                return err
            self.n_entries += 1
            attach(_Node(prefixlen, data, self._new_value(value)))
            return 0
        if node.prefixlen == matchlen:
            if not node.intermediate:
                if flags == BPF_NOEXIST:
                    return errno.EEXIST
            else:
                err = self._check_add(flags)
                if err:
                    return err
                self.n_entries += 1
            new = _Node(prefixlen, data, self._new_value(value))
            new.child = list(node.child)
            attach(new)
            if node.region is not None:
                self._retire(node.region)
            return 0
        err = self._check_add(flags)
        if err:
            return err
        self.n_entries += 1
        new = _Node(prefixlen, data, self._new_value(value))
        if matchlen == prefixlen:
            # The new prefix contains the old node: it goes in between.
            new.child[self._bit(node.bits, matchlen)] = node
            attach(new)
            return 0
        im = _Node(matchlen, node.data, None)
        if self._bit(bits, matchlen):
            im.child = [node, new]
        else:
            im.child = [new, node]
        attach(im)
        return 0

    # ------------------------------------------------------------------ delete ---

    def _delete(self, key: bytes) -> int:
        """trie_delete_elem: 0 or a positive errno."""
        prefixlen, _, bits = self._split(key)
        if prefixlen > self.max_prefixlen:
            return errno.EINVAL
        # (holder, side) of the slot pointing at node, and of the one pointing at parent
        trim: tuple[_Node | None, int] = (None, 0)
        trim2 = trim
        parent: _Node | None = None
        node = self.root
        matchlen = 0
        while node is not None:
            matchlen = self._match(node, prefixlen, bits)
            if node.prefixlen != matchlen or node.prefixlen == prefixlen:
                break
            parent = node
            trim2 = trim
            side = self._bit(bits, node.prefixlen)
            trim = (node, side)
            node = node.child[side]
        if (node is None or node.prefixlen != prefixlen or node.prefixlen != matchlen
                or node.intermediate):
            return errno.ENOENT
        self.n_entries -= 1
        assert node.region is not None
        old_value = node.region

        def put(slot: tuple[_Node | None, int], new: _Node | None) -> None:
            holder, s = slot
            if holder is None:
                self.root = new
            else:
                holder.child[s] = new

        if node.child[0] is not None and node.child[1] is not None:
            node.region = None  # becomes an intermediate node
        elif (parent is not None and parent.intermediate and node.child[0] is None
              and node.child[1] is None):
            put(trim2, parent.child[1] if parent.child[0] is node else parent.child[0])
        elif node.child[0] is not None:
            put(trim, node.child[0])
        elif node.child[1] is not None:
            put(trim, node.child[1])
        else:
            put(trim, None)
        self._retire(old_value)
        return 0

    # ------------------------------------------------------------ get_next_key ---

    def _leftmost(self, root: _Node | None) -> _Node | None:
        """The first valued node of ``root``'s subtree in post-order."""
        found = None
        node = root
        while node is not None:
            if node.intermediate:
                node = node.child[0]
            else:
                found = node
                nxt = node.child[0]
                node = nxt if nxt is not None else node.child[1]
        return found

    def _next_node(self, key: bytes | None) -> _Node | None:
        if self.root is None:
            return None
        if key is None:
            return self._leftmost(self.root)
        prefixlen, _, bits = self._split(key)
        if prefixlen > self.max_prefixlen:
            return self._leftmost(self.root)
        stack: list[_Node] = []
        node: _Node | None = self.root
        matchlen = 0
        while node is not None:
            stack.append(node)
            matchlen = self._match(node, prefixlen, bits)
            if node.prefixlen != matchlen or node.prefixlen == prefixlen:
                break
            node = node.child[self._bit(bits, node.prefixlen)]
        if node is None or node.prefixlen != matchlen or node.intermediate:
            return self._leftmost(self.root)
        cur = stack[-1]
        while len(stack) > 1:
            up = stack[-2]
            if up.child[0] is cur and up.child[1] is not None:
                return self._leftmost(up.child[1])
            if not up.intermediate:
                return up
            cur = up
            stack.pop()
        return None

    def _key_of(self, node: _Node) -> bytes:
        return _U32.pack(node.prefixlen) + node.data

    # ----------------------------------------------------------- syscall side ---

    def _sys_lookup(self, key: bytes) -> bytes:
        node = self._find(key)
        if node is None:
            raise BpfError(errno.ENOENT, "no prefix matches the key")
        assert node.region is not None
        return bytes(node.region.buf[: self.value_size])

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        err = self._update(key, value, flags)
        if err:
            raise BpfError(err, _MESSAGES.get(err, "update failed"))

    def _sys_delete(self, key: bytes) -> None:
        err = self._delete(key)
        if err:
            raise BpfError(err, _MESSAGES.get(err, "delete failed"))

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        node = self._next_node(key)
        if node is None:
            raise BpfError(errno.ENOENT, "no more keys")
        return self._key_of(node)

    # ----------------------------------------------------------- program side ---

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        self._cpu_ok(cpu)
        node = self._find(bytes(key))
        if node is None or node.region is None:
            return 0
        return node.region.base

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        self._cpu_ok(cpu)
        v = bytes(value[: self.value_size]).ljust(self.value_size, b"\0")
        return -self._update(bytes(key), v, flags)

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        self._cpu_ok(cpu)
        return -self._delete(bytes(key))

    # --------------------------------------------------------------- Pythonic ---

    def longest_match(self, prefixlen: int, data: bytes) -> tuple[bytes, bytes] | None:
        """(matched key, value) for a lookup of ``data``/``prefixlen``, or None."""
        node = self._find(lpm_key(prefixlen, to_bytes(data, self.data_size, "data")))
        if node is None or node.region is None:
            return None
        return self._key_of(node), bytes(node.region.buf[: self.value_size])

    def nodes(self) -> Iterator[tuple[int, bytes, bool]]:
        """(prefixlen, data, intermediate) of every node, pre-order (for inspection)."""
        todo = [self.root]
        while todo:
            node = todo.pop()
            if node is None:
                continue
            yield node.prefixlen, node.data, node.intermediate
            todo.extend((node.child[1], node.child[0]))

    def __len__(self) -> int:
        return self.n_entries


_MESSAGES = {
    errno.EINVAL: "invalid flags or a prefixlen longer than the trie's keys",
    errno.ENOENT: "no such prefix",
    errno.EEXIST: "the prefix exists (BPF_NOEXIST)",
    errno.ENOSPC: "the trie is full",
}
