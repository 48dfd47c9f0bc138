"""Reading a verifier log: the line that says why, and the statistics at its end.

The verifier closes every log it writes (level 1 and up) with a statistics line,
``processed N insns (limit 1000000) max_states_per_insn ...``, preceded with
``BPF_LOG_STATS`` by ``verification time N usec`` and ``stack depth A+B``.  A few
messages lack their newline, so the statistics can follow on the message's own line;
those are split off here before the message is chosen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STATS = re.compile(
    r"(?:processed \d+ insns \(limit \d+\).*"
    r"|verification time \d+ usec"
    r"|stack depth \d+(?:\+\d+)*)$"
)
_PROCESSED = re.compile(r"processed (\d+) insns \(limit \d+\)")


@dataclass(frozen=True, slots=True)
class LogSummary:
    """The parts of a verifier log a comparison looks at."""

    message: str
    """The last non-empty line that is not a statistics line ("" if there is none)."""
    insns_processed: int | None
    """N of ``processed N insns``; None when the log has no statistics line."""
    stats: tuple[str, ...]
    """The statistics lines, in order, each without the message glued before it."""


def summarize_log(log: str) -> LogSummary:
    """Split a verifier log into its message and its statistics."""
    message = ""
    stats: list[str] = []
    processed: int | None = None
    for raw in log.splitlines():
        line = raw.rstrip()
        m = _STATS.search(line)
        if m is not None:
            stat = m.group(0)
            stats.append(stat)
            p = _PROCESSED.match(stat)
            if p is not None:
                processed = int(p.group(1))
            line = line[: m.start()].rstrip()
        if line.strip():
            message = line
    return LogSummary(message, processed, tuple(stats))


def log_message(log: str) -> str:
    """The last line of the log that says why (statistics excluded)."""
    return summarize_log(log).message


def insns_processed(log: str) -> int | None:
    """The verifier's ``processed N insns`` count, or None if the log has none."""
    return summarize_log(log).insns_processed
