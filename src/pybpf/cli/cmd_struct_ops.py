"""``pybpf struct_ops``: register, list, dump and unregister struct_ops, as bpftool's
``struct_ops`` verbs do.

pybpf's kernel lives for one command, so registrations are kept in the state directory
(``$PYBPF_STATE_DIR/struct_ops/``): each command loads the registered objects again, in
the order they were registered, so that the kernel's rules (a congestion control's name
is taken once) hold across commands.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import BpfError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "struct_ops",
        help="register, list, dump and unregister struct_ops (bpftool struct_ops)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  pybpf struct_ops register examples/struct_ops/reno.bpf.o\n"
        "  pybpf struct_ops list\n  pybpf struct_ops dump name bpf_reno\n"
        "  pybpf struct_ops unregister name bpf_reno",
    )
    verbs = p.add_subparsers(dest="so_verb", metavar="VERB", parser_class=type(p))
    r = verbs.add_parser("register", help="register every struct_ops of an object")
    r.add_argument("object")
    r.add_argument("--no-verify", action="store_true", help="load without pybpf's verifier")
    for verb in ("list", "show"):
        ls = verbs.add_parser(verb, help="registered struct_ops")
        ls.add_argument("--json", action="store_true")
    d = verbs.add_parser("dump", help="the values of registered struct_ops (all, or one)")
    d.add_argument("which", nargs="*", metavar="id ID | name NAME")
    d.add_argument("--json", action="store_true")
    u = verbs.add_parser("unregister", help="unregister one struct_ops")
    u.add_argument("which", nargs=2, metavar="id ID | name NAME")
    p.set_defaults(handler=run)


def _dir() -> Path:
    from ..pinning import state_dir

    return state_dir() / "struct_ops"


def _records() -> list[dict[str, Any]]:
    recs = []
    d = _dir()
    for f in sorted(d.glob("*.json")) if d.is_dir() else ():
        try:
            recs.append(json.loads(f.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(recs, key=lambda r: int(r.get("id", 0)))


def _kernel_with(records: list[dict[str, Any]]) -> tuple[Any, dict[int, Any]]:
    """A kernel with every recorded struct_ops registered again: record id -> ops."""
    from ..kernel.state import Kernel
    from ..struct_ops.loader import open_struct_ops

    kernel = Kernel(seed=0)
    out: dict[int, Any] = {}
    for rec in records:
        try:
            _, ops = open_struct_ops(rec["object"], kernel=kernel, verify=False, register=False)
        except BpfError as exc:
            raise BpfError(exc.errno, f"registered object {rec['object']}: {exc.message}") from None
        lo = next((o for o in ops if o.var.name == rec["var"]), None)
        if lo is None:
            raise BpfError(errno.ENOENT, f"{rec['object']} no longer has struct_ops {rec['var']}")
        lo.register()
        out[int(rec["id"])] = lo
    return kernel, out


def _select(which: list[str], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not which:
        return records
    if len(which) != 2 or which[0] not in ("id", "name"):
        raise BpfError(errno.EINVAL, "expected 'id ID' or 'name NAME'")
    key, val = which
    hit = [r for r in records if str(r[key]) == val]
    if not hit:
        raise BpfError(errno.ENOENT, f"no struct_ops with {key} {val}")
    return hit


def run(args: argparse.Namespace) -> int:
    verb = args.so_verb
    if verb is None:
        raise BpfError(errno.EINVAL, "struct_ops needs a verb: register, list, dump, unregister")
    records = _records()
    if verb == "register":
        return _register(args, records)
    if verb in ("list", "show"):
        rows = [{"id": r["id"], "name": r["name"], "bpf_map_name": r["var"], "kernel_struct_ops": r["type"]}
                for r in records]  # fmt: skip
        if args.json:
            sys.stdout.write(json.dumps(rows) + "\n")
        for r in rows if not args.json else ():
            print(f"{r['id']}: {r['name']:<15} {r['kernel_struct_ops']}")
        return 0
    if verb == "dump":
        from ..struct_ops.show import value_json

        chosen = _select(args.which, records)
        _, ops = _kernel_with(records)
        dumps = [{"bpf_map_info": {"id": r["id"], "name": r["var"][:15], "type": "struct_ops"},
                  "value": value_json(ops[int(r["id"])].map)} for r in chosen]  # fmt: skip
        sys.stdout.write(json.dumps(dumps, indent=None if args.json else 1) + "\n")
        return 0
    if verb == "unregister":
        for r in _select(args.which, records):
            (_dir() / f"{r['id']}.json").unlink(missing_ok=True)
            print(f"Unregistered {r['type']} {r['name']} id {r['id']}")
        return 0
    raise BpfError(errno.EINVAL, f"unknown struct_ops verb {verb!r}")


def _register(args: argparse.Namespace, records: list[dict[str, Any]]) -> int:
    from ..struct_ops.loader import load_struct_ops
    from ..struct_ops.show import value_json

    kernel, _ = _kernel_with(records)
    from ..kernel.vmlinux import kernel_btf
    from ..obj import open as open_object

    path = str(Path(args.object).resolve())
    obj = open_object(path, kernel=kernel, btf=kernel_btf())
    ops = load_struct_ops(obj, verify=not args.no_verify, register=False)
    if not ops:
        raise BpfError(errno.ENOENT, f"{args.object}: no struct_ops in the object")
    next_id = max((int(r["id"]) for r in records), default=0) + 1
    new = []
    for lo in ops:
        lo.register()  # EEXIST, EINVAL ...: nothing is recorded
        name = value_json(lo.map)["data"].get("name", [])
        text = bytes(c for c in name if c).decode(errors="replace") if isinstance(name, list) else lo.var.name
        new.append({"id": next_id, "name": text, "var": lo.var.name, "type": lo.type.name, "object": path,
                    "link": lo.var.link})  # fmt: skip
        next_id += 1
    _dir().mkdir(parents=True, exist_ok=True)
    for rec in new:
        (_dir() / f"{rec['id']}.json").write_text(json.dumps(rec))
        print(f"Registered {rec['type']} {rec['var']} id {rec['id']}")
    return 0
