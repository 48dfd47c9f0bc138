"""Shared fixtures of the maps tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import kbpf  # noqa: E402


@pytest.fixture(scope="session")
def kernel() -> Any:
    """The private bpf() wrapper; skips the test where bpf() is refused."""
    try:
        ok, why = kbpf.available()
    except Exception as exc:  # pragma: no cover - no usable libc
        pytest.skip(f"bpf() unavailable: {exc}")
    if not ok:
        pytest.skip(why)
    if 0 not in os.sched_getaffinity(0):  # pragma: no cover
        pytest.skip("CPU 0 is not available to this process")
    return kbpf


@pytest.fixture
def cpu0() -> Iterator[None]:
    """Pin the test process to CPU 0 for the duration of a test."""
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        yield
    finally:
        os.sched_setaffinity(0, old)
