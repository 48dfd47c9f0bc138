"""The kernel's pseudo-random generator for ``bpf_get_prandom_u32``: L'Ecuyer's taus113.

Seedable, so that a run can be repeated exactly (``Kernel(seed=...)``).
"""

from __future__ import annotations

M32 = 0xFFFFFFFF


def _step(s: int, a: int, b: int, c: int, d: int) -> int:
    return (((s & c) << d) & M32) ^ ((((s << a) & M32) ^ s) >> b)


class Taus113:
    """Four combined Tausworthe generators; each state word has a minimum value."""

    __slots__ = ("s1", "s2", "s3", "s4")

    def __init__(self, seed: int = 0) -> None:
        self.s1 = self.s2 = self.s3 = self.s4 = 0
        self.seed(seed)

    def seed(self, seed: int) -> None:
        mixed = ((seed & M32) + (seed >> 32)) & M32

        def floor(value: int, minimum: int) -> int:
            return value + minimum if value < minimum else value

        self.s1 = floor(mixed, 2)
        self.s2 = floor(mixed, 8)
        self.s3 = floor(mixed, 16)
        self.s4 = floor(mixed, 128)
        for _ in range(10):  # let the seed spread through every word
            self.next_u32()

    def next_u32(self) -> int:
        self.s1 = _step(self.s1, 6, 13, 0xFFFFFFFE, 18)
        self.s2 = _step(self.s2, 2, 27, 0xFFFFFFF8, 2)
        self.s3 = _step(self.s3, 13, 21, 0xFFFFFFF0, 7)
        self.s4 = _step(self.s4, 3, 12, 0xFFFFFF80, 13)
        return self.s1 ^ self.s2 ^ self.s3 ^ self.s4
