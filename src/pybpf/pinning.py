"""Maps pinned by name in a pybpf state directory, so separate commands share them.

``pybpf map create ... NAME`` writes ``<state>/maps/NAME.json`` (the spec, the frozen
flag and the elements); every later command re-creates the map from it and writes it
back.  Elements are stored in iteration order and replayed in reverse, which rebuilds a
hash map's buckets in the same order.  The state directory is ``$PYBPF_STATE_DIR``, or
``$XDG_STATE_HOME/pybpf`` (``~/.local/state/pybpf``).
"""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path
from typing import Any

from .errors import BpfError
from .kernel.state import Kernel
from .maps.base import Map
from .maps.types import MapSpec, MapType

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_NOT_ITERABLE = (MapType.QUEUE, MapType.STACK, MapType.RINGBUF, MapType.PROG_ARRAY,
                 MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)  # fmt: skip
# Sockets belong to the process that opened them: a pinned socket map keeps no elements
# (a lookup gives only a cookie, and an empty sockmap slot answers ENOENT).
_SOCKETS = (MapType.SOCKMAP, MapType.SOCKHASH, MapType.REUSEPORT_SOCKARRAY)


def state_dir() -> Path:
    env = os.environ.get("PYBPF_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "pybpf"


def _path(name: str) -> Path:
    if not _NAME.match(name):
        raise BpfError(errno.EINVAL, f"bad pin name {name!r}: use letters, digits, '_', '.', '-'")
    return state_dir() / "maps" / f"{name}.json"


def pinned_names() -> list[str]:
    d = state_dir() / "maps"
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []


def pin(m: Map, name: str, overwrite: bool = True) -> None:
    path = _path(name)
    if path.exists() and not overwrite:
        raise BpfError(errno.EEXIST, f"a map is already pinned as {name!r}")
    state: dict[str, Any] = {"spec": m.spec.to_case(), "frozen": m.frozen, "entries": []}
    if m.spec.type in (MapType.QUEUE, MapType.STACK):
        state["entries"] = [[None, v.hex()] for v in _drain_copy(m)]
    elif m.spec.type not in _NOT_ITERABLE and m.spec.type not in _SOCKETS:
        state["entries"] = [[k.hex(), m.lookup(k).hex()] for k in m]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(path)


def _drain_copy(m: Map) -> list[bytes]:
    """A queue's or stack's values in pop order, without changing it."""
    return list(m.values())


def open_pinned(name: str, kernel: Kernel) -> Map:
    path = _path(name)
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise BpfError(errno.ENOENT, f"no map pinned as {name!r} (in {path.parent})") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise BpfError(errno.EINVAL, f"pinned map {name!r} is unreadable: {exc}") from None
    try:
        spec = MapSpec.from_case(state["spec"])
        entries = state["entries"]
    except (KeyError, ValueError, TypeError) as exc:
        raise BpfError(errno.EINVAL, f"pinned map {name!r} is corrupt: {exc}") from None
    m = kernel.create_map(spec)
    try:
        if spec.type in (MapType.QUEUE, MapType.STACK):
            order = entries if spec.type == MapType.QUEUE else list(reversed(entries))
            for _, value in order:
                m.update(None, bytes.fromhex(value))
        else:
            for key, value in reversed(entries):
                m.update(bytes.fromhex(key), bytes.fromhex(value))
        if state.get("frozen"):
            m.freeze()
    except (BpfError, ValueError, TypeError) as exc:
        m.close()
        raise BpfError(errno.EINVAL, f"pinned map {name!r} is corrupt: {exc}") from None
    return m


def unpin(name: str) -> None:
    path = _path(name)
    try:
        path.unlink()
    except FileNotFoundError:
        raise BpfError(errno.ENOENT, f"no map pinned as {name!r}") from None
