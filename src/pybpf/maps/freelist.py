"""The per-CPU free lists of preallocated hash-map elements.

A preallocated (non-LRU) hash map keeps its unused elements on one LIFO stack per CPU:
creation deals them out in blocks, a CPU allocates from its own stack first and then from
the others in CPU order, and a freed element goes onto the freeing CPU's stack.  The
order only decides which element (and so which address) a new key gets, which the
kernel's order reproduces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PcpuFreelist(Generic[T]):
    """Per-CPU LIFO stacks of free elements.

    Elements are created lazily by ``make(index)``: each stack starts as a block of
    never-used indices (``virgin``: popped from the top, ``hi - 1`` first) under which
    nothing ever goes, and freed elements are pushed above it.
    """

    def __init__(self, num_cpus: int, make: Callable[[int], T]) -> None:
        self.num_cpus = num_cpus
        self.make = make
        self.stacks: list[list[T]] = [[] for _ in range(num_cpus)]
        self.virgin: list[list[int]] = [[0, 0] for _ in range(num_cpus)]

    def populate(self, nr_elems: int) -> None:
        per_cpu, extra = divmod(nr_elems, self.num_cpus)
        lo = 0
        for cpu in range(self.num_cpus):
            n = per_cpu + (1 if cpu < extra else 0)
            self.virgin[cpu] = [lo, lo + n]
            lo += n

    def pop(self, cpu: int) -> T | None:
        for k in range(self.num_cpus):
            c = (cpu + k) % self.num_cpus
            stack = self.stacks[c]
            if stack:
                return stack.pop()
            lo_hi = self.virgin[c]
            if lo_hi[1] > lo_hi[0]:
                lo_hi[1] -= 1
                return self.make(lo_hi[1])
        return None

    def push(self, cpu: int, elem: T) -> None:
        self.stacks[cpu].append(elem)
