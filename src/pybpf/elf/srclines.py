"""Source lines for instructions, from ``.BTF.ext`` line info.

The kernel's verifier log shows ``; <source line> @ <file>:<line>`` before the first
instruction of each new source line it prints; ``bpftool prog dump xlated`` does the
same for a dump.  pybpf's verifier does not take line info, so the loader adds those
lines to its log afterwards: before every instruction line (``12: (b7) r1 = 0``) whose
line info differs, in file and line number, from the last one shown.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from ..btf.ext import LineInfo

_INSN_LINE = re.compile(r"^(\d+): \([0-9a-f]{2}\)")


class SourceLines:
    """Line info of one linked program, looked up by instruction index."""

    def __init__(self, line_info: Sequence[LineInfo]) -> None:
        self.info = sorted(line_info, key=lambda li: li.insn_off)
        self._offs = [li.insn_off for li in self.info]

    def __bool__(self) -> bool:
        return bool(self.info)

    def at(self, insn_idx: int) -> LineInfo | None:
        """The line info covering ``insn_idx`` (the last one starting at or before it)."""
        i = bisect.bisect_right(self._offs, insn_idx) - 1
        return self.info[i] if i >= 0 else None

    def starting_at(self, insn_idx: int) -> LineInfo | None:
        i = bisect.bisect_left(self._offs, insn_idx)
        if i < len(self._offs) and self._offs[i] == insn_idx:
            return self.info[i]
        return None

    def annotate_log(self, log: str) -> str:
        """The verifier log with source lines before the instructions they begin."""
        if not self.info or not log:
            return log
        out: list[str] = []
        prev: LineInfo | None = None
        for line in log.splitlines(keepends=True):
            m = _INSN_LINE.match(line)
            if m:
                li = self.at(int(m.group(1)))
                if li is not None and li is not prev and not (
                    prev is not None and prev.file_name == li.file_name and prev.line_num == li.line_num
                ):
                    out.append(f"; {li.log_text()}\n")
                    prev = li
            out.append(line)
        return "".join(out)
