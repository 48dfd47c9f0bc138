"""A preallocated hash map's free elements and spares in native memory, and the journal
of the changes native code makes to the table.

Once a preallocated (non-LRU) hash map is mirrored for native code, its per-CPU free
lists (the same LIFO stacks over blocks of never-used slots as :mod:`.freelist`) and its
per-CPU spare element live here, as slot numbers, so that an update or delete written in
IR takes and gives back the very elements Python would.  Native code cannot touch the
map's Python lists; it counts its changes and records the first ``JOURNAL_CAPACITY`` of
them in the journal instead, and before the map next looks at its lists it replays the
journal (:meth:`take_journal`) or, when more changes were made than it holds, rebuilds
the lists from the mirror -- so native code never waits for Python.

Layout (little-endian u64 words in ``ctl``): ``[COUNT]`` changes since the last replay,
``[CAPACITY]``, then per CPU ``LEN, LO, HI, EXTRA`` (stack length, the never-used block
``[LO, HI)``, the spare's slot).  ``stacks``: per CPU ``nslots`` u32 slot numbers.
``journal``: records of four u32 (kind, slot, other slot, 0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from ..memory import Region, RegionKind
from .freelist import PcpuFreelist

T = TypeVar("T")

COUNT, CAPACITY, PER_CPU = 0, 1, 2
LEN, LO, HI, EXTRA = 0, 1, 2, 3
CPU_WORDS = 4
JOURNAL_CAPACITY = 1024
RECORD = 16
INSERT, REPLACE, DELETE = 1, 2, 3
"""Journal kinds: a new element linked first in its bucket; the same, replacing ``other``
(which becomes the CPU's spare); an element unlinked and pushed on the CPU's stack."""


class NativeSlots(Generic[T]):
    """Free lists and spares by slot number; ``elem(i)`` is slot ``i``'s element."""

    def __init__(self, num_cpus: int, nslots: int, elem: Callable[[int], T], slot_of: Callable[[T], int]) -> None:
        self.num_cpus = num_cpus
        self.nslots = nslots
        self.elem = elem
        self.slot_of = slot_of
        self.ctl = Region(8 * (PER_CPU + CPU_WORDS * num_cpus), RegionKind.MEM, "hash free lists")
        self.stacks = Region(4 * num_cpus * nslots, RegionKind.MEM, "hash free stacks")
        self.journal = Region(RECORD * JOURNAL_CAPACITY, RegionKind.MEM, "hash journal")
        self._ctl = memoryview(self.ctl.buf).cast("Q")
        self._stacks = memoryview(self.stacks.buf).cast("I")
        self._journal = memoryview(self.journal.buf).cast("I")
        self._ctl[CAPACITY] = JOURNAL_CAPACITY

    @classmethod
    def from_freelist(
        cls,
        freelist: PcpuFreelist[T],
        extra: list[T],
        nslots: int,
        elem: Callable[[int], T],
        slot_of: Callable[[T], int],
    ) -> NativeSlots[T]:
        """The same free lists and spares, moved into native memory."""
        out = cls(freelist.num_cpus, nslots, elem, slot_of)
        for cpu in range(freelist.num_cpus):
            w = PER_CPU + CPU_WORDS * cpu
            stack = freelist.stacks[cpu]
            for i, e in enumerate(stack):
                out._stacks[cpu * nslots + i] = slot_of(e)
            out._ctl[w + LEN] = len(stack)
            out._ctl[w + LO], out._ctl[w + HI] = freelist.virgin[cpu]
            if cpu < len(extra):
                out._ctl[w + EXTRA] = slot_of(extra[cpu])
        return out

    def pop(self, cpu: int) -> T | None:
        """This CPU's stack, then its never-used block, then the next CPUs'."""
        ctl = self._ctl
        for k in range(self.num_cpus):
            c = (cpu + k) % self.num_cpus
            w = PER_CPU + CPU_WORDS * c
            n = ctl[w + LEN]
            if n:
                ctl[w + LEN] = n - 1
                return self.elem(self._stacks[c * self.nslots + n - 1])
            if ctl[w + HI] > ctl[w + LO]:
                ctl[w + HI] -= 1
                return self.elem(ctl[w + HI])
        return None

    def push(self, cpu: int, e: T) -> None:
        w = PER_CPU + CPU_WORDS * cpu
        n = self._ctl[w + LEN]
        self._stacks[cpu * self.nslots + n] = self.slot_of(e)
        self._ctl[w + LEN] = n + 1

    def swap_extra(self, cpu: int, e: T) -> T:
        """The CPU's spare, which ``e`` replaces."""
        w = PER_CPU + CPU_WORDS * cpu + EXTRA
        spare = self.elem(self._ctl[w])
        self._ctl[w] = self.slot_of(e)
        return spare

    def pending(self) -> int:
        return self._ctl[COUNT]

    def take_journal(self) -> list[tuple[int, int, int]] | None:
        """The records native code left, oldest first, or None when it made more changes
        than the journal holds; the journal is empty after."""
        n = self._ctl[COUNT]
        if n > JOURNAL_CAPACITY:
            self._ctl[COUNT] = 0
            return None
        j = self._journal
        out = [(j[4 * i], j[4 * i + 1], j[4 * i + 2]) for i in range(n)]
        self._ctl[COUNT] = 0
        return out
