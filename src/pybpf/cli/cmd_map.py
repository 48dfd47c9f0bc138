"""``pybpf map``: create maps pinned by name and operate on them, as bpftool map does.

The map machinery (``pybpf.maps``, the kernel) is imported only when a verb runs, so
that ``pybpf map --help`` stays quick.
"""

from __future__ import annotations

import argparse
import errno
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import BpfError

if TYPE_CHECKING:
    from ..maps.base import Map
    from ..maps.types import MapType

UPDATE_FLAGS = ("any", "noexist", "exist")


class _MapTypeArg(argparse.Action):
    """The ``create`` TYPE argument: its help lists the creatable types, worked out
    only when help is printed, since listing them imports every map class."""

    @property
    def help(self) -> str:
        return "map type: " + ", ".join(t.case_name for t in _creatable())

    @help.setter
    def help(self, _value: str | None) -> None:
        pass

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "map",
        help="create and operate on maps pinned by name",
        description="Maps live in a state directory ($PYBPF_STATE_DIR, default "
        "~/.local/state/pybpf) under a name.  Keys and values are integers (stored little-"
        "endian in key_size/value_size bytes) or hex bytes written hex:0011...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  pybpf map create hash counts --key-size 4 --value-size 8 --max-entries 16\n"
        "  pybpf map update counts 7 100 --flags noexist\n  pybpf map lookup counts 7\n"
        "  pybpf map dump counts --json",
    )
    verbs = p.add_subparsers(dest="map_verb", metavar="VERB", parser_class=type(p))
    c = verbs.add_parser("create", help="create and pin a map")
    c.add_argument("type", action=_MapTypeArg)
    c.add_argument("name")
    c.add_argument("--key-size", type=int, default=4)
    c.add_argument("--value-size", type=int, default=8)
    c.add_argument("--max-entries", type=int, default=64)
    c.add_argument(
        "--flags", default="0", help="map_flags: a number or names like no_prealloc,rdonly_prog"
    )
    for verb, helptext, args in (
        ("update", "create or replace an element", ["key", "value"]),
        ("lookup", "print an element's value", ["key"]),
        ("delete", "delete an element", ["key"]),
        ("getnext", "the key after KEY (or the first key)", ["key?"]),
        ("dump", "every element", []),
        ("freeze", "freeze the map (no more syscall-side writes)", []),
        ("push", "push a value (queue/stack)", ["value"]),
        ("pop", "pop a value (queue/stack)", []),
        ("peek", "peek at the next value (queue/stack)", []),
        ("destroy", "unpin and forget the map", []),
    ):
        v = verbs.add_parser(verb, help=helptext)
        v.add_argument("name")
        for a in args:
            v.add_argument(a.rstrip("?"), nargs="?" if a.endswith("?") else None)
        if verb in ("update", "push"):
            v.add_argument("--flags", choices=UPDATE_FLAGS, default="any")
        v.add_argument("--json", action="store_true")
    ls = verbs.add_parser("list", help="pinned maps")
    ls.add_argument("--json", action="store_true")
    c.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def _creatable() -> list[MapType]:
    from ..maps import MAP_CLASSES

    return sorted(MAP_CLASSES, key=int)


def parse_flags(text: str) -> int:
    from ..maps.types import MapFlag

    try:
        return int(text, 0)
    except ValueError:
        pass
    value = 0
    for name in text.split(","):
        try:
            value |= MapFlag[name.strip().upper()]
        except KeyError:
            raise BpfError(errno.EINVAL, f"unknown map flag {name!r}") from None
    return value


def parse_bytes(text: str, size: int, what: str) -> bytes:
    """``hex:00ff..`` as raw bytes, else an integer stored little-endian in ``size`` bytes."""
    if text.startswith("hex:"):
        try:
            raw = bytes.fromhex(text[4:])
        except ValueError:
            raise BpfError(errno.EINVAL, f"{what} {text!r} is not valid hex") from None
        if len(raw) != size:
            raise BpfError(errno.EINVAL, f"{what} has {len(raw)} bytes, the map wants {size}")
        return raw
    try:
        n = int(text, 0)
    except ValueError:
        raise BpfError(errno.EINVAL, f"{what} {text!r} is neither an integer nor hex:...") from None
    try:
        return (n % (1 << (8 * size))).to_bytes(size, "little")
    except OverflowError:
        raise BpfError(errno.EINVAL, f"{what} {text} does not fit in {size} bytes") from None


def _show(raw: bytes) -> dict[str, Any]:
    return {"hex": raw.hex(), "int": int.from_bytes(raw, "little") if len(raw) <= 8 else None}


def _fmt(raw: bytes) -> str:
    return f"{raw.hex()}" + (f" ({int.from_bytes(raw, 'little')})" if len(raw) <= 8 else "")


def run(args: argparse.Namespace) -> int:
    from ..kernel.state import Kernel
    from ..maps.types import MapSpec, MapType, UpdateFlag
    from ..pinning import open_pinned, pin, pinned_names, unpin
    from .main import emit_json

    verb = args.map_verb
    if verb is None:
        raise BpfError(errno.EINVAL, "give a map verb (pybpf map --help)")
    kernel = Kernel(seed=0)
    if verb == "list":
        names = pinned_names()
        if args.json:
            emit_json({"maps": names})
        else:
            for n in names:
                print(n)
        return 0
    if verb == "create":
        try:
            mtype = MapType.from_name(args.type)
        except ValueError as exc:
            raise BpfError(errno.EINVAL, str(exc)) from None
        spec = MapSpec(mtype, args.key_size, args.value_size, args.max_entries,
                       parse_flags(args.flags), name=args.name[:15])  # fmt: skip
        m = kernel.create_map(spec)
        pin(m, args.name, overwrite=False)
        if args.json:
            emit_json({"name": args.name, "spec": spec.to_case()})
        else:
            print(f"created {spec.type.case_name} map {args.name!r}")
        return 0
    if verb == "destroy":
        unpin(args.name)
        return 0
    m = open_pinned(args.name, kernel)
    result: Any = None
    changed = False
    if verb == "update":
        m.update(parse_bytes(args.key, m.spec.key_size, "key"),
                 parse_bytes(args.value, m.sys_value_size, "value"), UpdateFlag[args.flags.upper()])  # fmt: skip
        changed = True
    elif verb == "lookup":
        result = m.lookup(parse_bytes(args.key, m.spec.key_size, "key"))
    elif verb == "delete":
        m.delete(parse_bytes(args.key, m.spec.key_size, "key"))
        changed = True
    elif verb == "getnext":
        key = parse_bytes(args.key, m.spec.key_size, "key") if args.key else None
        result = m.get_next_key(key)
    elif verb == "freeze":
        m.freeze()
        changed = True
    elif verb == "push":
        m.update(
            None,
            parse_bytes(args.value, m.spec.value_size, "value"),
            UpdateFlag[args.flags.upper()],
        )
        changed = True
    elif verb in ("pop", "peek"):
        result = m.lookup_and_delete(None) if verb == "pop" else m.lookup(None)
        changed = verb == "pop"
    elif verb == "dump":
        _dump(m, args.json)
    if changed:
        pin(m, args.name)
    if result is not None:
        if args.json:
            emit_json(_show(result))
        else:
            print(_fmt(result))
    return 0


def _dump(m: Map, as_json: bool) -> None:
    from ..maps.types import MapType
    from .main import emit_json

    if m.spec.type in (MapType.QUEUE, MapType.STACK):
        values = list(m.values())
        if as_json:
            emit_json([_show(v) for v in values])
        else:
            for v in values:
                print(f"value: {_fmt(v)}")
        return
    # As bpftool: walk the keys and look each up; a key whose lookup fails (an empty
    # sockmap slot: ENOENT, or ENOSPC for 4-byte socket values) is shown with its error
    # and not counted.
    found = 0
    rows: list[dict[str, Any]] = []
    for k in m:
        try:
            v = m.lookup(k)
        except BpfError as exc:
            if as_json:
                rows.append({"key": _show(k), "value": {"error": os.strerror(exc.errno)}})
            else:
                msg = os.strerror(exc.errno)
                if exc.errno == errno.ENOENT:
                    msg = "<no entry>"
                elif exc.errno == errno.ENOSPC and m.spec.type == MapType.REUSEPORT_SOCKARRAY:
                    msg = "<cannot read>"
                print(f"key: {_fmt(k)}  value: {msg}")
            continue
        found += 1
        if as_json:
            rows.append({"key": _show(k), "value": _show(v)})
        else:
            print(f"key: {_fmt(k)}  value: {_fmt(v)}")
    if as_json:
        emit_json(rows)
        return
    print(f"Found {found} element{'s' if found != 1 else ''}")
