"""The kernel's test_verifier selftests, converted once per test session.

They are read from Debian's linux-source-6.1 tarball (scripts/system-deps.sh installs
it); without it every test here skips.  ``PYBPF_KERNEL_SOURCE`` names another tarball or
kernel tree.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pybpf.selftests.source import DEBIAN_TARBALL, KernelSource, load_source
from pybpf.selftests.test_verifier import SelftestCase, iter_source

SOURCE = Path(os.environ.get("PYBPF_KERNEL_SOURCE", str(DEBIAN_TARBALL)))
VERDICTS = Path(__file__).resolve().parent.parent / "data" / "selftests" / "kernel_verdicts.json"

needs_source = pytest.mark.skipif(
    not SOURCE.exists(), reason=f"{SOURCE} is missing (install the linux-source-6.1 package)"
)


@pytest.fixture(scope="session")
def kernel_source() -> KernelSource:
    if not SOURCE.exists():
        pytest.skip(f"{SOURCE} is missing (install the linux-source-6.1 package)")
    return load_source(SOURCE)


@pytest.fixture(scope="session")
def selftest_cases(kernel_source: KernelSource) -> list[SelftestCase]:
    return list(iter_source(kernel_source))


@pytest.fixture(scope="session")
def by_name(selftest_cases: list[SelftestCase]) -> dict[str, SelftestCase]:
    return {sc.name: sc for sc in selftest_cases}
