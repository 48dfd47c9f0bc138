"""The converted test_verifier cases in the running kernel, against the 6.1 expectations.

Every convertible case is loaded as test_verifier would load it (privileged, its
prog_flags and log level, each of its runs).  The kernel is newer than the selftests, so
some answers differ from what 6.1 expected; the test reports how many agree and by which
category the rest differ, and holds the answers to the recorded ones
(tests/data/selftests/kernel_verdicts.json, re-recorded with
``python -m pybpf.selftests.kernel_verdicts --out tests/data/selftests/kernel_verdicts.json``)
when the kernel is the one that recorded them.
"""

from __future__ import annotations

import os
import time

import pytest

from pybpf.oracle import available, unavailable_reason
from pybpf.selftests.kernel_verdicts import Outcome, agreement, load_recording, record
from pybpf.selftests.test_verifier import SelftestCase

from .conftest import VERDICTS, needs_source

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(not available(), reason=f"bpf() unavailable: {unavailable_reason()}"),
    needs_source,
]


def test_kernel_verdicts_on_test_verifier(selftest_cases: list[SelftestCase]) -> None:
    converted = [sc for sc in selftest_cases if sc.case is not None]
    start = time.monotonic()
    verdicts = record(converted)
    took = time.monotonic() - start
    counts = agreement(converted, verdicts)
    agree = counts[Outcome.AGREE]
    print(
        f"\n{len(converted)} cases loaded in {took:.1f} s; {agree} as 6.1 expected; "
        + ", ".join(f"{o.value}: {n}" for o, n in counts.most_common() if o is not Outcome.AGREE)
    )
    assert len(verdicts) == len(converted)
    assert agree > 0.9 * len(converted)

    rec = load_recording(VERDICTS)
    if rec.kernel != os.uname().release:
        pytest.skip(f"verdicts recorded on {rec.kernel}, this is {os.uname().release}")
    changed = []
    for name, v in verdicts.items():
        old = rec.verdicts.get(name)
        now = (v.accepted, v.errno, v.message, v.insns_processed, v.retvals)
        if old is None or now != (
            old.accepted, old.errno, old.message, old.insns_processed, old.retvals
        ):  # fmt: skip
            changed.append(f"{name}: {now} (recorded {old})")
    assert not changed, "\n".join(changed[:20])
