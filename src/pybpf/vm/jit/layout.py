"""The run-state block shared by native code and its Python runner (u64 slots).

Native code and the Python side talk through one small array per runner rather than
through arguments, so that the compiled code of a program does not depend on which
runner (frames, environment, callback) runs it and can be cached by the program's hash.
"""

from __future__ import annotations

from ...isa.opcodes import MAX_CALL_FRAMES

STATUS = 0
"""0 while running; FAULT when a callback raised (the exception waits in the runner);
PACKET_EXIT when a legacy packet load ran out of the packet (the run returns 0)."""
BUDGET = 1
"""Backward jumps still allowed (signed)."""
MAY_GOTO = 2
TAIL_CALLS = 3
DEPTH = 4
"""The call depth of the function that last called into Python (for callbacks)."""
USED = 5
"""The deepest stack frame zeroed in this run."""
CALLBACK = 6
"""Address of the runner's C-ABI callback into Python."""
BUDGET_START = 7
"""What BUDGET is reset to at the start of each run of a native ``repeat`` loop."""
FRAMES = 8
"""Base addresses of the stack frames, one slot per depth."""
CPU = FRAMES + MAX_CALL_FRAMES
"""The CPU the run pretends to be on (helpers written in IR check it as the map does)."""
EPOCH = CPU + 1
"""Bumped around every call into Python and at the start of a run: a load from a
special (context) region is remembered with the epoch it was made in, and is valid only
while nothing in Python could have changed what its getter returns."""
CLOCK = EPOCH + 1
"""1 when the kernel's clock is fixed (``Kernel.fixed_time_ns``), its value at CLOCK + 1."""
PRANDOM = CLOCK + 2
"""1 when the run's CPU has a generator; its four taus113 words follow (PRANDOM + 1..4),
copied from Python at the start of a run and back around every call into Python."""
TOKEN = PRANDOM + 5
"""A number unique to the runner (never reused in the process): what native code
remembers with a tail call's target, whose code belongs to that runner."""
SLOTS = TOKEN + 1

FAULT = 1
PACKET_EXIT = 2

IO_SLOTS = 16
"""A call's register block: r0..r9 in, r0..r5 out (16 so that any 4-bit register field
of an unchecked program has a slot)."""
