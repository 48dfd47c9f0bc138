"""Log level 4 (BPF_LOG_STATS) alone: the kernel prints no instructions, only the error
line if any and the statistics, with its ``verification time``.  Expected text is Linux
6.18's for the same programs (the time itself varies and is only checked to be measured).
"""

from __future__ import annotations

import re

import pytest

from pybpf.isa import assemble
from pybpf.verifier import verify

LOOP = "r1 = 0\nr2 = 0\nloop:\nr2 += 1\nr1 += 1\nif r1 < 5 goto loop\n"
STATS = re.compile(
    r"verification time (\d+) usec\nstack depth (\S+)\nprocessed (\d+) insns \(limit 1000000\) "
    r"max_states_per_insn \d+ total_states \d+ peak_states \d+ mark_read 0\n"
)

# program -> (the log before the statistics, stack depth, processed), as the kernel prints
CASES = {
    LOOP + "r0 = 0\nexit": ("", "0", 19),
    "r0 = r2\nexit": ("R2 !read_ok\n", "0", 1),
    LOOP + "r0 = *(u64 *)(r10 - 8)\nexit": ("", "8", 19),  # root may read uninitialised stack
}


@pytest.mark.parametrize("level", [4, 5])
@pytest.mark.parametrize("src", CASES)
def test_statistics_only(src: str, level: int) -> None:
    head, depth, processed = CASES[src]
    r = verify(list(assemble(src)), "socket_filter", log_level=level)
    m = STATS.search(r.log)
    assert m is not None, r.log
    assert r.log.endswith(head + m.group(0))
    if level == 4:  # no instructions, no states
        assert r.log == head + m.group(0)
    assert int(m.group(1)) > 0
    assert (m.group(2), int(m.group(3))) == (depth, processed)
