"""The trace buffer that ``bpf_trace_printk`` writes and users read (``trace_pipe``)."""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class TraceEvent:
    timestamp_ns: int
    cpu: int
    pid: int
    comm: str
    message: str

    def line(self) -> str:
        """The line as ``/sys/kernel/tracing/trace_pipe`` shows it."""
        secs, frac = divmod(self.timestamp_ns // 1000, 1_000_000)
        task = f"{self.comm}-{self.pid}"
        return f"{task:>16} [{self.cpu:03d}] d..31 {secs:5d}.{frac:06d}: bpf_trace_printk: {self.message}"


class TracePipe:
    """A bounded buffer of trace events, oldest dropped first as the kernel's ring does."""

    def __init__(self, capacity: int = 65536) -> None:
        self._events: deque[TraceEvent] = deque(maxlen=capacity)
        self.comm = os.path.basename(os.environ.get("_", "python"))[:15] or "python"

    def emit(self, timestamp_ns: int, cpu: int, message: str) -> None:
        self._events.append(TraceEvent(timestamp_ns, cpu, os.getpid(), self.comm, message))

    def read(self) -> list[TraceEvent]:
        """Consume everything buffered (as reading trace_pipe does)."""
        out = list(self._events)
        self._events.clear()
        return out

    def peek(self) -> list[TraceEvent]:
        return list(self._events)

    def text(self) -> str:
        return "".join(e.line() + "\n" for e in self.read())
