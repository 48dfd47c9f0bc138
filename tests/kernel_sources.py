"""The 6.12 selftests' sources for the tests that compile kernel programs at test time.

They come from Debian's ``linux-source-6.12`` tarball (scripts/system-deps.sh installs
it), extracted once into pybpf's cache directory (``PYBPF_CACHE_DIR``), under a file lock
so that parallel test workers extract it only once.  Nothing of it is committed.
"""

from __future__ import annotations

import fcntl
from functools import cache
from pathlib import Path

from .selftests import verifier_progs


@cache
def linux_612() -> Path | None:
    """The extracted tree (``.../linux-source-6.12``), or None when the tarball is not
    installed."""
    if not verifier_progs.TARBALL.exists():
        return None
    root = verifier_progs.cache_root()
    with open(root / ".extract.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return verifier_progs.extract_sources(root)


def selftests_bpf() -> Path:
    """``tools/testing/selftests/bpf`` of the tree; a path that does not exist when the
    tarball is missing (the callers skip on ``is_dir()``)."""
    tree = linux_612()
    if tree is None:
        return Path("/nonexistent/linux-source-6.12") / verifier_progs.SELFTESTS
    return tree / verifier_progs.SELFTESTS
