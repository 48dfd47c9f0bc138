"""Fixtures for the oracle's tests: a session that closes what a test created."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pybpf.oracle import Session, available, unavailable_reason

needs_kernel = pytest.mark.skipif(
    not available(), reason=f"bpf() unavailable: {unavailable_reason()}"
)
"""Skip (never fail) where the running kernel cannot be asked."""


@pytest.fixture
def session() -> Iterator[Session]:
    with Session() as s:
        yield s
