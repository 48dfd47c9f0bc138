"""``pybpf iter``: pin an iterator program and read it, as ``bpftool iter pin`` and ``cat``.

``pybpf iter pin OBJ.o NAME [--map MAP]`` loads the object, attaches its iterator
program (the first, or ``--prog``) to its target and, for a map-element iterator, to
``MAP``: a map pinned in pybpf's state directory (``pybpf map create``) or a map of the
object.  The object's maps are pinned beside it as ``NAME.<map>`` (or under their own
name when the object pins them by name), so that ``pybpf map update NAME.<map> ...``
fills them.  The iterator itself is kept as ``<state>/iters/NAME.json``.

``pybpf iter cat NAME`` loads the object again with those maps, opens a fresh iterator
and prints everything it produces (what ``cat /sys/fs/bpf/NAME`` prints in the kernel);
stores the program makes into map values are kept.
"""

from __future__ import annotations

import argparse
import errno
import json
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import BpfError

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "iter",
        help="pin BPF iterators and read them (bpftool iter pin; cat)",
        description="Pin an iter/<target> program of an object file to its target "
        "(bpf_map_elem: the elements of one map; sockmap: the slots of a sockmap or sockhash; "
        "bpf_map, bpf_prog, bpf_link, task: every map, program, link or task), then read it "
        "as cat reads a pinned iterator. Element maps: hash, array, per-CPU and LRU hash maps.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  pybpf map create hash m1 --key-size 12 --value-size 8 --max-entries 3\n"
        "  pybpf map update m1 hex:000000010000000000000001 hex:0000000100000001\n"
        "  pybpf iter pin bpf_iter_bpf_hash_map.o dump --prog dump_bpf_hash_map --map m1\n"
        "  pybpf iter cat dump\n"
        "  pybpf iter pin bpf_iter_bpf_array_map.o arr --map arraymap1  "
        "# the object's own map, pinned as arr.arraymap1\n"
        "  pybpf map update arr.arraymap1 0 7 && pybpf iter cat arr",
    )
    verbs = p.add_subparsers(dest="iter_verb", metavar="VERB", parser_class=type(p))
    pn = verbs.add_parser("pin", help="load an object and pin one iterator program")
    pn.add_argument("object")
    pn.add_argument("name", help="pin name (what `pybpf iter cat` reads)")
    pn.add_argument("--prog", metavar="PROG", help="which program (default: the first iter/ one)")
    pn.add_argument("--map", metavar="MAP",
                    help="the map a bpf_map_elem or sockmap iterator walks: a pinned map, or a map "
                    "of the object")  # fmt: skip
    pn.add_argument("--tid", type=int, default=0, help="a task iterator over this thread only")
    pn.add_argument("--pid", type=int, default=0,
                    help="a task iterator over this process's threads only")  # fmt: skip
    pn.add_argument("--set", action="append", default=[], metavar="VAR=VALUE",
                    help="set a global variable before the load (repeatable)")  # fmt: skip
    pn.add_argument("--json", action="store_true")
    ct = verbs.add_parser("cat", help="read a pinned iterator to the end")
    ct.add_argument("name")
    ct.add_argument("--json", action="store_true", help="the output as a JSON string")
    sh = verbs.add_parser("show", help="pinned iterators")
    sh.add_argument("--json", action="store_true")
    un = verbs.add_parser("unpin", help="forget a pinned iterator (its maps stay)")
    un.add_argument("name")
    p.set_defaults(handler=run)


# --- records ----------------------------------------------------------------------------


def _iter_path(name: str) -> Path:
    from ..pinning import state_dir

    if not _NAME.match(name):
        raise BpfError(errno.EINVAL, f"bad pin name {name!r}: use letters, digits, '_', '.', '-'")
    return state_dir() / "iters" / f"{name}.json"


def _read_record(name: str) -> dict[str, Any]:
    path = _iter_path(name)
    try:
        rec = json.loads(path.read_text())
    except FileNotFoundError:
        raise BpfError(errno.ENOENT, f"no iterator pinned as {name!r} (in {path.parent})") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise BpfError(errno.EINVAL, f"pinned iterator {name!r} is unreadable: {exc}") from None
    if not isinstance(rec, dict) or "object" not in rec or "program" not in rec:
        raise BpfError(errno.EINVAL, f"pinned iterator {name!r} is corrupt")
    return rec


def _write_record(name: str, rec: dict[str, Any]) -> None:
    path = _iter_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rec, indent=1))
    tmp.replace(path)


# --- loading an iterator ------------------------------------------------------------------


def _map_pin_name(obj: Any, mdef: Any, pin_name: str) -> str:
    from ..elf.spec import PinType

    name = mdef.name if mdef.pinning == PinType.BY_NAME else f"{pin_name}.{mdef.name}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64]


class _Loaded:
    """An object loaded for one iterator, with its maps bound to their pins."""

    def __init__(self, path: str, prog: str | None, map_name: str | None, sets: list[str],
                 pin_name: str, reuse_pins: bool, tid: int = 0, pid: int = 0) -> None:  # fmt: skip
        self.tid, self.pid = tid, pid
        from ..obj import open as open_object
        from ..pinning import open_pinned, pinned_names
        from .cmd_case import apply_sets

        self.obj = open_object(path)
        apply_sets(self.obj, sets)
        iters = [n for n, p in self.obj.programs.items() if p.section.startswith(("iter/", "iter.s/"))]
        if prog is None:
            if not iters:
                raise BpfError(errno.ENOENT, f"{path}: no iter/ program")
            prog = iters[0]
        if prog not in self.obj.programs:
            raise BpfError(errno.ENOENT, f"{path}: no program named {prog!r}")
        if prog not in iters:
            raise BpfError(errno.EINVAL, f"{path}: program {prog!r} is not an iterator "
                           f"(section {self.obj.programs[prog].section!r})")  # fmt: skip
        for n, p in self.obj.programs.items():
            p.autoload = n == prog
        self.prog_name = prog
        kernel = self.obj.kernel
        pinned = set(pinned_names())
        self.map_pins: dict[str, str] = {}
        for mdef in self.obj.spec.maps:
            if mdef.internal:
                continue
            pin = _map_pin_name(self.obj, mdef, pin_name)
            self.map_pins[mdef.name] = pin
            if reuse_pins and pin in pinned:
                self.obj.maps[mdef.name].reuse(open_pinned(pin, kernel))
        self.walk_map: Any = None
        self.walk_pin: str | None = None
        if map_name is not None:
            if map_name in pinned and map_name not in self.map_pins.values():
                self.walk_map = open_pinned(map_name, kernel)
                self.walk_pin = map_name
            elif map_name in self.map_pins or map_name in pinned:
                self.walk_pin = self.map_pins.get(map_name, map_name)
            else:
                raise BpfError(errno.ENOENT, f"no map {map_name!r}: neither pinned nor in {path}")
        self.obj.load()
        if self.walk_map is None and self.walk_pin is not None:
            own = next(k for k, v in self.map_pins.items() if v == self.walk_pin)
            self.walk_map = self.obj.maps[own].map

    def link(self) -> Any:
        from ..iter import create_iter_link

        return create_iter_link(self.obj.programs[self.prog_name].program, self.walk_map,
                                tid=self.tid, pid=self.pid)  # fmt: skip

    def save(self) -> None:
        """Write every map back to its pin (the program may have changed values)."""
        from ..pinning import pin

        for name, pin_name in self.map_pins.items():
            m = self.obj.maps[name].map
            if m is not None:
                pin(m, pin_name)
        if self.walk_map is not None and self.walk_pin not in self.map_pins.values():
            assert self.walk_pin is not None
            pin(self.walk_map, self.walk_pin)

    def close(self) -> None:
        self.obj.close()


def _pin(args: argparse.Namespace) -> int:
    from .main import emit_json

    loaded = _Loaded(args.object, args.prog, args.map, args.set, args.name, reuse_pins=False,
                     tid=args.tid, pid=args.pid)  # fmt: skip
    try:
        link = loaded.link()
        loaded.save()
        rec = {
            "name": args.name, "object": str(Path(args.object).resolve()),
            "program": loaded.prog_name, "target": link.target.name, "map": loaded.walk_pin,
            "set": list(args.set), "maps": sorted(loaded.map_pins.values()),
            "tid": args.tid, "pid": args.pid,
        }  # fmt: skip
        _write_record(args.name, rec)
    finally:
        loaded.close()
    if args.json:
        emit_json(rec)
    else:
        extra = f" over map {rec['map']!r}" if rec["map"] else ""
        print(f"pinned {rec['program']} ({rec['target']} iterator{extra}) as {args.name!r}")
    return 0


def read_pinned(name: str) -> bytes:
    """Everything ``pybpf iter cat NAME`` prints."""
    rec = _read_record(name)
    loaded = _Loaded(rec["object"], rec["program"], rec.get("map"), rec.get("set", []), name,
                     reuse_pins=True, tid=int(rec.get("tid", 0)), pid=int(rec.get("pid", 0)))  # fmt: skip
    try:
        out = loaded.link().read_all()
        loaded.save()
    finally:
        loaded.close()
    return bytes(out)


def _cat(args: argparse.Namespace) -> int:
    from .main import emit_json

    out = read_pinned(args.name)
    if args.json:
        emit_json({"name": args.name, "output": out.decode("latin-1")})
    else:
        sys.stdout.buffer.write(out)
        sys.stdout.flush()
    return 0


def _show(args: argparse.Namespace) -> int:
    from ..pinning import state_dir
    from .main import emit_json

    d = state_dir() / "iters"
    recs = [_read_record(p.stem) for p in sorted(d.glob("*.json"))] if d.is_dir() else []
    for rec in recs:
        if args.json:
            emit_json(rec)
        else:
            over = f" map {rec['map']}" if rec.get("map") else ""
            print(f"{rec['name']}: {rec['program']} ({rec.get('target', '?')}{over}) from {rec['object']}")
    return 0


def _unpin(args: argparse.Namespace) -> int:
    path = _iter_path(args.name)
    try:
        path.unlink()
    except FileNotFoundError:
        raise BpfError(errno.ENOENT, f"no iterator pinned as {args.name!r}") from None
    return 0


def run(args: argparse.Namespace) -> int:
    verb = getattr(args, "iter_verb", None)
    if verb == "pin":
        return _pin(args)
    if verb == "cat":
        return _cat(args)
    if verb == "show":
        return _show(args)
    if verb == "unpin":
        return _unpin(args)
    raise BpfError(errno.EINVAL, "pybpf iter: expected pin, cat, show or unpin (see --help)")
