"""Call-frame stacks: one 512-byte region per depth, allocated and zeroed only when used.

A run starts with every frame reading as zeros (the runtime is deterministic where the
kernel leaves garbage).  Zeroing all eight frames before every run cost more than most
short programs, so a run zeroes frame 0 up front and a deeper frame the first time the
run enters it: ``used`` is the deepest frame zeroed in this run, and calls only ever go
one frame deeper, so the stacks a run sees are exactly those of "zero all at the start".
Frames are allocated (registered in the memory model) the first time any run needs them.
"""

from __future__ import annotations

from ..isa.opcodes import MAX_CALL_FRAMES, STACK_SIZE
from ..memory import Region, RegionKind, allocate

_ZERO = bytes(STACK_SIZE)


class Frame:
    """One stack frame: its region, and typed views of its bytes for generated code.

    ``end`` is what r10 holds.  The views index the buffer by element (``q[i]`` is the
    little-endian u64 at byte ``8 * i``); ``s*`` views are signed.
    """

    __slots__ = ("b", "buf", "end", "h", "q", "region", "sb", "sh", "sq", "sw", "w")

    def __init__(self, depth: int) -> None:
        self.region: Region = allocate(STACK_SIZE, RegionKind.STACK, f"stack frame {depth}")
        self.buf = self.region.buf
        self.end = self.region.end
        view = memoryview(self.buf)
        self.b = self.buf
        self.h, self.w, self.q = view.cast("H"), view.cast("I"), view.cast("Q")
        self.sb, self.sh, self.sw, self.sq = view.cast("b"), view.cast("h"), view.cast("i"), view.cast("q")


class StackFrames:
    """The frames of one runner; not shared between runners that may run interleaved."""

    def __init__(self) -> None:
        self._frames: list[Frame] = []
        self.used = -1

    def frame(self, depth: int) -> Frame:
        """The frame at ``depth``, allocated on first use (never zeroed here)."""
        while len(self._frames) <= depth:
            self._frames.append(Frame(len(self._frames)))
        return self._frames[depth]

    def start_run(self) -> Frame:
        """Frame 0, zeroed: the start of a run."""
        self.used = 0
        f = self._frames[0] if self._frames else self.frame(0)
        f.buf[:] = _ZERO
        return f

    def enter(self, depth: int) -> Frame:
        """The frame a call at ``depth`` runs in, zeroed if this run has not used it yet."""
        if depth <= self.used:
            return self._frames[depth]
        if depth >= MAX_CALL_FRAMES:
            raise ValueError(f"frame depth {depth} is beyond the {MAX_CALL_FRAMES}-frame limit")
        for d in range(self.used + 1, depth + 1):  # calls go one deeper, but be exact anyway
            self.frame(d).buf[:] = _ZERO
        self.used = depth
        return self._frames[depth]

    def regions(self) -> list[Region]:
        return [f.region for f in self._frames]
