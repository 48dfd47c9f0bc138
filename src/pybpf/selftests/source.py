"""The kernel source files the converter reads, from Debian's tarball or a source tree.

Only a few dozen files of the tarball matter (the verifier selftests, ``test_verifier.c``
and the headers their macros come from), but reaching them means decompressing all of
it, which takes a quarter of a minute.  So the files read from a tarball are kept in a
small cache outside the repository (``$PYBPF_CACHE_DIR``, else ``$XDG_CACHE_HOME/pybpf``
or ``~/.cache/pybpf``), keyed by the tarball's path, size and time; set
``PYBPF_CACHE_DIR`` to an empty string to turn the cache off.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import BpfError

DEBIAN_TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
"""Where Debian's ``linux-source-6.1`` package puts the kernel source."""

SELFTESTS = "tools/testing/selftests/bpf"
VERIFIER_DIR = f"{SELFTESTS}/verifier"

HEADERS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("bpf_common.h", ("tools/include/uapi/linux/bpf_common.h", "include/uapi/linux/bpf_common.h"), True),
    ("bpf.h", ("tools/include/uapi/linux/bpf.h", "include/uapi/linux/bpf.h"), True),
    ("ptrace.h", ("arch/x86/include/uapi/asm/ptrace.h",), False),
    (
        "asm-generic/bpf_perf_event.h",
        ("tools/include/uapi/asm-generic/bpf_perf_event.h", "include/uapi/asm-generic/bpf_perf_event.h"),
        False,
    ),
    (
        "bpf_perf_event.h",
        ("tools/include/uapi/linux/bpf_perf_event.h", "include/uapi/linux/bpf_perf_event.h"),
        False,
    ),
    ("btf.h", ("tools/include/uapi/linux/btf.h", "include/uapi/linux/btf.h"), False),
    ("if_ether.h", ("tools/include/uapi/linux/if_ether.h", "include/uapi/linux/if_ether.h"), False),
    ("filter.h", ("tools/include/linux/filter.h",), True),
    ("bpf_util.h", (f"{SELFTESTS}/bpf_util.h",), False),
    ("test_btf.h", (f"{SELFTESTS}/test_btf.h",), False),
    ("test_verifier.c", (f"{SELFTESTS}/test_verifier.c",), True),
)  # fmt: skip
"""The files read before the tests, in order: (short name, candidate paths, required).

The ``tools/`` copies come first because the selftests are compiled against them (the
kernel's own ``include/linux/filter.h`` names helpers by function, not by number)."""

_WANTED = frozenset([*(p for _, paths, _ in HEADERS for p in paths), "Makefile"])
_CACHE_VERSION = 3


@dataclass(frozen=True, slots=True)
class KernelSource:
    """The files the converter needs, by path relative to the kernel tree's root."""

    origin: str
    files: Mapping[str, str]

    @property
    def version(self) -> str | None:
        """The kernel version its top-level Makefile states (``6.1.176``), if it is there."""
        text = self.files.get("Makefile")
        if text is None:
            return None
        parts: dict[str, str] = {}
        for line in text.splitlines()[:12]:
            key, eq, value = line.partition("=")
            if eq and key.strip() in ("VERSION", "PATCHLEVEL", "SUBLEVEL"):
                parts[key.strip()] = value.strip()
        if "VERSION" not in parts or "PATCHLEVEL" not in parts:
            return None
        return ".".join(parts[k] for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL") if parts.get(k))

    def header(self, short: str) -> tuple[str, str] | None:
        """(path, text) of a header in :data:`HEADERS`, or None when the tree lacks it."""
        for name, paths, required in HEADERS:
            if name != short:
                continue
            for p in paths:
                if p in self.files:
                    return p, self.files[p]
            if required:
                raise BpfError(errno.ENOENT, f"{self.origin}: none of {', '.join(paths)} is there")
            return None
        raise KeyError(short)

    def verifier_files(self) -> list[str]:
        """The test files, in the order the selftest build includes them (``ls``, C locale)."""
        prefix = VERIFIER_DIR + "/"
        return sorted(
            p[len(prefix) :]
            for p in self.files
            if p.startswith(prefix) and p.endswith(".c") and "/" not in p[len(prefix) :]
        )


def _wanted(rel: str) -> bool:
    if rel in _WANTED:
        return True
    head, _, name = rel.rpartition("/")
    return head == VERIFIER_DIR and name.endswith(".c")


def _from_directory(root: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    for rel in _WANTED:
        p = root / rel
        if p.is_file():
            files[rel] = p.read_text(encoding="utf-8", errors="replace")
    vdir = root / VERIFIER_DIR
    if not vdir.is_dir():
        raise BpfError(errno.ENOENT, f"{root}: no {VERIFIER_DIR} directory")
    for p in sorted(vdir.glob("*.c")):
        files[f"{VERIFIER_DIR}/{p.name}"] = p.read_text(encoding="utf-8", errors="replace")
    return files


def _from_tarball(path: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    try:
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                name = member.name.lstrip("./")
                rel = name.split("/", 1)[1] if "/" in name else name
                if not (_wanted(rel) or _wanted(name)):
                    continue
                f = tar.extractfile(member)
                if f is None:
                    continue
                files[rel if _wanted(rel) else name] = f.read().decode("utf-8", errors="replace")
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BpfError(errno.EIO, f"{path}: cannot read the tarball: {exc}") from None
    if not any(p.startswith(VERIFIER_DIR + "/") for p in files):
        raise BpfError(errno.ENOENT, f"{path}: no {VERIFIER_DIR}/*.c in the tarball")
    return files


def _cache_dir() -> Path | None:
    env = os.environ.get("PYBPF_CACHE_DIR")
    if env is not None:
        return Path(env) if env else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pybpf"


def _cache_file(path: Path) -> Path | None:
    d = _cache_dir()
    if d is None:
        return None
    st = path.stat()
    key = f"{_CACHE_VERSION}:{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    return d / f"selftest-sources-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def _cached_tarball(path: Path) -> dict[str, str]:
    cache = _cache_file(path)
    if cache is not None and cache.is_file():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
                return data
        except (OSError, ValueError):
            pass
    files = _from_tarball(path)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=".selftests-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(files, f)
            os.replace(tmp, cache)
        except OSError:
            pass
    return files


def load_source(source: str | os.PathLike[str] | None = None) -> KernelSource:
    """The kernel files from a tarball or a kernel source tree (Debian's tarball if None)."""
    path = Path(source) if source is not None else DEBIAN_TARBALL
    if path.is_dir():
        return KernelSource(str(path), _from_directory(path))
    if not path.is_file():
        raise BpfError(errno.ENOENT, f"{path}: no such tarball or directory")
    return KernelSource(str(path), _cached_tarball(path))
