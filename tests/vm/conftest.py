"""Every runtime test here runs on every installed execution tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pybpf.vm.tiers import available, using

TIERS = [t.value for t in available()]


@pytest.fixture(params=TIERS)
def tier(request: pytest.FixtureRequest) -> Iterator[str]:
    """The tier under test, also the default for ``Program.run`` within the test."""
    with using(request.param):
        yield request.param
