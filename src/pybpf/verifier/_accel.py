"""Find and switch on an optional mypyc-compiled build of this package.

``make accel`` (``tools/build_accel.py``) compiles a snapshot of the verifier's sources
into a cache directory named after their hash.  At import, :func:`activate` puts that
build first on the package's ``__path__`` only when it was compiled from exactly the
``.py`` files present now, so any edit falls back to pure Python without a word, and
``PYBPF_PURE=1`` always does.  The verdicts and logs are the same either way (the tests
compare them); the compiled modules are about twice as fast.

Standalone on purpose: only the standard library and no relative imports, so the build
script loads this same file to compute the same hash.  This module and ``__init__`` are
never compiled (they decide whether anything compiled is used).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

# hashlib, json, importlib and pathlib are imported where used: without a cache directory
# (the usual case) importing the package costs one stat and no more modules.

STAMP = "STAMP.json"
STAT_CACHE = "stat-cache.json"  # stat keys of sources already hashed, to their hash
NOT_HASHED = frozenset(("__init__.py", "_accel.py"))  # the loader: never compiled
_active: str | None = None  # the hash of the build in use, None when pure


def _root() -> str:
    env = os.environ.get("PYBPF_ACCEL_DIR")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pybpf", "accel")


def cache_root() -> Path:
    """Where builds live: ``$PYBPF_ACCEL_DIR``, else ``~/.cache/pybpf/accel``."""
    from pathlib import Path

    return Path(_root())


def _wanted() -> bool:
    """Whether a build may be looked for at all (cheap: an environment read, a stat)."""
    return os.environ.get("PYBPF_PURE", "") in ("", "0") and os.path.isdir(_root())


def sources(package_dir: Path) -> list[Path]:
    """The package's modules a build depends on, in a fixed order (every ``.py`` file but
    the loader: a compiled module may inline another one's ``Final`` constants)."""
    return sorted(p for p in package_dir.glob("*.py") if p.name not in NOT_HASHED)


def source_hash(package_dir: Path) -> str:
    """The hash a build is stamped with: the Python ABI, each module's name and bytes."""
    import hashlib

    h = hashlib.sha256(sys.implementation.cache_tag.encode() + b"\0")
    for p in sources(package_dir):
        h.update(p.name.encode() + b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def files_hash(files: list[Path]) -> str:
    """The hash of other files a build read (modules outside the package it imports)."""
    import hashlib

    h = hashlib.sha256()
    for p in files:
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def build_dir(root: Path, digest: str) -> Path:
    """The directory of the build for sources hashing to ``digest``."""
    return root / digest[:24]


def _stat_key(files: list[Path]) -> str:
    """What ``stat`` says of the files: equal keys, unchanged files (a re-hash costs ~5 ms,
    this ~0.3 ms).  The inode and change time are in it, not only size and modification
    time, which ``cp -p``, ``rsync -a`` or ``touch -r`` carry over to an edited file; and
    the interpreter's ABI tag, as interpreters sharing a cache have builds of their own."""
    import hashlib

    parts = [sys.implementation.cache_tag]
    for p in files:
        st = p.stat()
        parts.append(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _read_json(path: Path) -> dict[str, Any] | None:
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def find_build(package_dir: Path, even_if_pure: bool = False) -> Path | None:
    """The build made from exactly these sources, or None (also under ``PYBPF_PURE``
    when ``even_if_pure``: a test comparing the two runs the pure side that way)."""
    if not (os.path.isdir(_root()) if even_if_pure else _wanted()):  # (usually one stat)
        return None
    root = cache_root()
    try:
        files = sources(package_dir)
        skey = _stat_key(files)
        seen = _read_json(root / STAT_CACHE) or {}
        known = seen.get(skey)
        digest = (
            known[0] if isinstance(known, list) and len(known) == 2 else source_hash(package_dir)
        )
        where = build_dir(root, digest)
        stamp = _read_json(where / STAMP)
        if stamp is None or stamp.get("hash") != digest:
            if known is None:  # (next time, no re-hash to find there is no build)
                _remember(root, seen, skey, [digest, ""])
            return None
        src_root = package_dir.parent.parent  # the directory holding the pybpf package
        deps = [src_root / rel for rel in stamp.get("deps", [])]
        dkey = _stat_key(deps)
        if known != [digest, dkey]:
            if files_hash(deps) != stamp.get("deps_hash"):
                return None
            _remember(root, seen, skey, [digest, dkey])
    except OSError:
        return None
    return where


def _remember(root: Path, seen: dict[str, Any], skey: str, value: list[str]) -> None:
    """Record that files with this stat key hash to this build (a few recent entries;
    best effort: a read-only cache only costs the re-hash)."""
    import json

    entries = {k: v for k, v in seen.items() if k != skey}
    entries = dict(list(entries.items())[-7:])
    entries[skey] = value
    tmp = root / f".{STAT_CACHE}.{os.getpid()}"
    try:
        tmp.write_text(json.dumps(entries))
        os.replace(tmp, root / STAT_CACHE)
    except OSError:
        pass


def activate(package_path: list[str]) -> None:
    """Put the matching build (if any) first on the package's ``__path__``.

    The compiled modules' shims import one shared library by a top-level name, so the
    build's directory goes on ``sys.path`` too (at the end: that library is its only
    top-level entry).  The library is imported here, so a build this interpreter cannot
    load (another ABI, a truncated file) leaves everything pure instead of failing later."""
    global _active
    if _active is not None or not package_path or not _wanted():
        return
    import importlib
    from pathlib import Path

    where = find_build(Path(package_path[0]))
    if where is None:
        return
    entry = str(where)
    added = entry not in sys.path
    if added:
        sys.path.append(entry)
    try:
        for lib in where.glob("*__mypyc.*"):
            importlib.import_module(lib.name.split(".", 1)[0])
    except ImportError:
        if added:
            sys.path.remove(entry)
        return
    package_path.insert(0, str(where / "pybpf" / "verifier"))
    _active = where.name


def build_info() -> str:
    """Which verifier is in use: ``"pure"`` or ``"mypyc <hash>"``."""
    return "pure" if _active is None else f"mypyc {_active}"
