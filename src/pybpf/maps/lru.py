"""The kernel's LRU replacement for LRU hash maps, list for list.

Which key an LRU map drops when it is full is decided by a particular machine, and only
rebuilding that machine gives the same answers: the nodes (one per preallocated element)
move between doubly linked lists with sentinels, exactly as ``kernel/bpf/bpf_lru_list.c``
moves them.

Common LRU (the default): one global list set (active, inactive, free) plus, per CPU, a
local *free* list and a local *pending* list.  A CPU takes free nodes from its local free
list; when that is empty it refills it with up to ``target_free`` nodes from the global
free list, shrinking the inactive list (or, failing that, force-evicting one node) when the
global list runs dry, and as a last resort steals from other CPUs' local lists.  Freshly
allocated nodes wait on the local pending list until the next refill flushes them into
the global active/inactive lists.

Per-CPU LRU (``BPF_F_NO_COMMON_LRU``): every CPU owns a full list set and its share of
the nodes; allocation only ever looks at the current CPU's lists.

Reference bits: a program's lookup sets ``ref``; rotations give referenced nodes another
round on the active list, and shrinking evicts unreferenced inactive nodes from the tail.
"""

from __future__ import annotations

from collections.abc import Callable

ACTIVE = 0
INACTIVE = 1
FREE = 2
LOCAL_FREE = 3
LOCAL_PENDING = 4

LOCAL_FREE_TARGET = 128
LOCAL_NR_SCANS = LOCAL_FREE_TARGET
PERCPU_FREE_TARGET = 4
PERCPU_NR_SCANS = PERCPU_FREE_TARGET


class LruNode:
    """A list node; map elements inherit from it so an element *is* its LRU node."""

    __slots__ = ("cpu", "next", "prev", "ref", "type")

    def __init__(self) -> None:
        self.prev: LruNode = self
        self.next: LruNode = self
        self.cpu = 0
        self.type = FREE
        self.ref = 0


class _Head(LruNode):
    """A list sentinel."""

    __slots__ = ()


def _unlink(node: LruNode) -> None:
    node.prev.next = node.next
    node.next.prev = node.prev
    node.prev = node.next = node


def _add_head(node: LruNode, head: LruNode) -> None:
    first = head.next
    node.prev = head
    node.next = first
    first.prev = node
    head.next = node


def _move_head(node: LruNode, head: LruNode) -> None:
    _unlink(node)
    _add_head(node, head)


def _empty(head: LruNode) -> bool:
    return head.next is head


class _LruList:
    """One set of active/inactive/free lists with the two counters.

    Preallocated nodes are created lazily: the not-yet-created ones are always the tail
    of the free list (every later addition goes to its head), in index order
    ``virgin_hi - 1`` down to ``virgin_lo``; ``_materialize`` appends them when needed.
    """

    def __init__(self) -> None:
        self.heads = (_Head(), _Head(), _Head())
        self.counts = [0, 0]
        self.next_inactive_rotation: LruNode = self.heads[INACTIVE]
        self.virgin_lo = 0
        self.virgin_hi = 0


class _LocalList:
    """A CPU's local free and pending lists (common LRU)."""

    def __init__(self, cpu: int) -> None:
        self.free = _Head()
        self.pending = _Head()
        self.next_steal = cpu


DeleteFromTable = Callable[[LruNode], bool]


class Lru:
    """The LRU machine of one map.

    ``delete_from_table(node)`` removes the element from the hash table and answers
    whether it was there (the kernel's ``del_from_htab``).
    """

    def __init__(
        self,
        percpu: bool,
        num_cpus: int,
        delete_from_table: DeleteFromTable,
        make_node: Callable[[int], LruNode],
    ) -> None:
        self.percpu = percpu
        self.num_cpus = num_cpus
        self.delete_from_table = delete_from_table
        self.make_node = make_node
        self.target_free = 1
        if percpu:
            self.lists = [_LruList() for _ in range(num_cpus)]
            self.nr_scans = PERCPU_NR_SCANS
        else:
            self.common = _LruList()
            self.local = [_LocalList(c) for c in range(num_cpus)]
            self.nr_scans = LOCAL_NR_SCANS

    # ----------------------------------------------------------------- population ---

    def populate(self, nr_nodes: int) -> None:
        """Put all ``nr_nodes`` preallocated nodes on the free list(s), in the kernel's
        order: every node is added at the head, so node ``n - 1`` comes off first.  The
        per-CPU variant deals out equal consecutive blocks, one per CPU."""
        if self.percpu:
            per_cpu = max(nr_nodes // self.num_cpus, 1)
            lo = 0
            for cpu in range(self.num_cpus):
                hi = min(lo + per_cpu, nr_nodes)
                self.lists[cpu].virgin_lo = lo
                self.lists[cpu].virgin_hi = hi
                lo = hi
        else:
            self.common.virgin_lo = 0
            self.common.virgin_hi = nr_nodes
            self.target_free = min(max((nr_nodes // self.num_cpus) // 2, 1), LOCAL_FREE_TARGET)

    def _materialize(self, lst: _LruList, n: int, cpu: int) -> None:
        """Make sure the free list's first ``n`` nodes exist (as far as there are nodes)."""
        if lst.virgin_hi <= lst.virgin_lo:
            return
        free = lst.heads[FREE]
        node = free.next
        while n > 0 and node is not free:
            n -= 1
            node = node.next
        while n > 0 and lst.virgin_hi > lst.virgin_lo:
            lst.virgin_hi -= 1
            node = self.make_node(lst.virgin_hi)
            node.cpu = cpu
            node.type = FREE
            node.ref = 0
            _add_head(node, free.prev)  # append at the tail
            n -= 1

    # ------------------------------------------------------------- list primitives ---

    @staticmethod
    def set_ref(node: LruNode) -> None:
        if not node.ref:
            node.ref = 1

    @staticmethod
    def _move_to_free(lst: _LruList, node: LruNode, free_head: LruNode, free_type: int) -> None:
        """Leave the active/inactive lists for a free list (ref bit untouched)."""
        if node is lst.next_inactive_rotation:
            lst.next_inactive_rotation = node.prev
        if node.type < 2:
            lst.counts[node.type] -= 1
        node.type = free_type
        _move_head(node, free_head)

    @staticmethod
    def _move_in(lst: _LruList, node: LruNode, tgt: int) -> None:
        """From a local list into the active or inactive list, ref bit cleared."""
        if tgt < 2:
            lst.counts[tgt] += 1
        node.type = tgt
        node.ref = 0
        _move_head(node, lst.heads[tgt])

    @staticmethod
    def _move(lst: _LruList, node: LruNode, tgt: int) -> None:
        """Within/between active, inactive and free, ref bit cleared."""
        if node.type != tgt:
            if node.type < 2:
                lst.counts[node.type] -= 1
            if tgt < 2:
                lst.counts[tgt] += 1
            node.type = tgt
        node.ref = 0
        if node is lst.next_inactive_rotation:
            lst.next_inactive_rotation = node.prev
        _move_head(node, lst.heads[tgt])

    # ------------------------------------------------------------------ rotations ---

    def _rotate_active(self, lst: _LruList) -> None:
        head = lst.heads[ACTIVE]
        first = head.next
        node = head.prev
        i = 0
        while node is not head:
            prev = node.prev
            self._move(lst, node, ACTIVE if node.ref else INACTIVE)
            i += 1
            if i == self.nr_scans or node is first:
                break
            node = prev

    def _rotate_inactive(self, lst: _LruList) -> None:
        head = lst.heads[INACTIVE]
        if _empty(head):
            return
        last = lst.next_inactive_rotation.next
        if last is head:
            last = last.next
        cur = lst.next_inactive_rotation
        nxt: LruNode = head
        i = 0
        while i < self.nr_scans:
            if cur is head:
                cur = cur.prev
                continue
            nxt = cur.prev
            if cur.ref:
                self._move(lst, cur, ACTIVE)
            if cur is last:
                break
            cur = nxt
            i += 1
        lst.next_inactive_rotation = nxt

    def _rotate(self, lst: _LruList) -> None:
        if lst.counts[INACTIVE] < lst.counts[ACTIVE]:
            self._rotate_active(lst)
        self._rotate_inactive(lst)

    def _shrink_inactive(self, lst: _LruList, want: int, free_head: LruNode, free_type: int) -> int:
        head = lst.heads[INACTIVE]
        node = head.prev
        done = 0
        i = 0
        while node is not head:
            prev = node.prev
            if node.ref:
                self._move(lst, node, ACTIVE)
            elif self.delete_from_table(node):
                self._move_to_free(lst, node, free_head, free_type)
                done += 1
                if done == want:
                    break
            i += 1
            if i == self.nr_scans:
                break
            node = prev
        return done

    def _shrink(self, lst: _LruList, want: int, free_head: LruNode, free_type: int) -> int:
        done = self._shrink_inactive(lst, want, free_head, free_type)
        if done:
            return done
        # Nothing unreferenced: evict one node regardless of its reference bit.
        victim_list = lst.heads[INACTIVE] if not _empty(lst.heads[INACTIVE]) else lst.heads[ACTIVE]
        node = victim_list.prev
        while node is not victim_list:
            prev = node.prev
            if self.delete_from_table(node):
                self._move_to_free(lst, node, free_head, free_type)
                return 1
            node = prev
        return 0

    # ------------------------------------------------------------------ common LRU ---

    def _flush_pending(self, loc: _LocalList) -> None:
        lst = self.common
        node = loc.pending.prev
        while node is not loc.pending:
            prev = node.prev
            self._move_in(lst, node, ACTIVE if node.ref else INACTIVE)
            node = prev

    def _refill_local(self, loc: _LocalList) -> None:
        """Flush the pending nodes, rotate, and harvest up to ``target_free`` free nodes
        (shrinking the inactive list for the shortfall) for this CPU.

        The harvest collects on a scratch list (each node at its head) and is then pushed
        node by node onto the CPU's free list, so the first node harvested is the first
        one handed out (the kernel's lockless per-CPU free list does the same).
        """
        lst = self.common
        self._flush_pending(loc)
        self._rotate(lst)
        self._materialize(lst, self.target_free, 0)
        scratch = _Head()
        nfree = 0
        head = lst.heads[FREE]
        node = head.next
        while node is not head:
            nxt = node.next
            self._move_to_free(lst, node, scratch, LOCAL_FREE)
            nfree += 1
            if nfree == self.target_free:
                break
            node = nxt
        if nfree < self.target_free:
            self._shrink(lst, self.target_free - nfree, scratch, LOCAL_FREE)
        node = scratch.next
        while node is not scratch:
            nxt = node.next
            _move_head(node, loc.free)
            node = nxt

    @staticmethod
    def _pop_local_free(loc: _LocalList) -> LruNode | None:
        if _empty(loc.free):
            return None
        node = loc.free.next
        _unlink(node)
        return node

    def _pop_local_pending(self, loc: _LocalList) -> LruNode | None:
        for force in (False, True):
            node = loc.pending.prev
            while node is not loc.pending:
                if (not node.ref or force) and self.delete_from_table(node):
                    _unlink(node)
                    return node
                node = node.prev
        return None

    @staticmethod
    def _add_pending(loc: _LocalList, cpu: int, node: LruNode) -> None:
        node.cpu = cpu
        node.type = LOCAL_PENDING
        node.ref = 0
        _add_head(node, loc.pending)

    def _common_pop_free(self, cpu: int) -> LruNode | None:
        loc = self.local[cpu]
        node = self._pop_local_free(loc)
        if node is None:
            self._refill_local(loc)
            node = self._pop_local_free(loc)
        if node is not None:
            self._add_pending(loc, cpu, node)
            return node
        first = loc.next_steal
        steal = first
        while True:
            victim = self.local[steal]
            node = self._pop_local_free(victim)
            if node is None:
                node = self._pop_local_pending(victim)
            steal = (steal + 1) % self.num_cpus
            if node is not None or steal == first:
                break
        loc.next_steal = steal
        if node is not None:
            self._add_pending(loc, cpu, node)
        return node

    def _common_push_free(self, node: LruNode) -> None:
        if node.type in (FREE, LOCAL_FREE):
            return
        if node.type == LOCAL_PENDING:
            loc = self.local[node.cpu]
            node.type = LOCAL_FREE
            node.ref = 0
            _move_head(node, loc.free)
            return
        self._move(self.common, node, FREE)

    # ----------------------------------------------------------------- per-CPU LRU ---

    def _percpu_pop_free(self, cpu: int) -> LruNode | None:
        lst = self.lists[cpu]
        self._rotate(lst)
        self._materialize(lst, 1, cpu)
        free = lst.heads[FREE]
        if _empty(free):
            self._shrink(lst, PERCPU_FREE_TARGET, free, FREE)
        if _empty(free):
            return None
        node = free.next
        node.ref = 0
        self._move(lst, node, INACTIVE)
        return node

    def _percpu_push_free(self, node: LruNode) -> None:
        self._move(self.lists[node.cpu], node, FREE)

    # ---------------------------------------------------------------------- public ---

    def pop_free(self, cpu: int) -> LruNode | None:
        """A free node for a new element on ``cpu`` (evicting if need be), or None."""
        if self.percpu:
            return self._percpu_pop_free(cpu)
        return self._common_pop_free(cpu)

    def push_free(self, node: LruNode) -> None:
        """Give back a node whose element left the table (or was never inserted)."""
        if self.percpu:
            self._percpu_push_free(node)
        else:
            self._common_push_free(node)
