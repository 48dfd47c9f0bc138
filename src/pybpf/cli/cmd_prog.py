"""``pybpf prog``: load the programs of object files, pin them, list and dump them.

Loaded programs are pinned by name in pybpf's state directory (``$PYBPF_STATE_DIR``, as
maps are): ``<state>/progs/NAME.json`` keeps the relocated instructions, the program's
type, its source lines and the names of its maps, which are pinned beside it
(``NAME.<map>``; ``PREFIX.<map>`` for ``loadall``, whose programs share the object's maps;
or the map's own name when the object pins it by name).  ``pybpf map``
then reads and changes those maps.  Also here: ``pybpf verify prog.o``.
"""

from __future__ import annotations

import argparse
import errno
import json
import re
import time
from pathlib import Path
from typing import Any

from ..errors import BpfError

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "prog",
        help="load, pin, list and dump programs from object files",
        description="Load an object file's programs as libbpf does (maps created, global data "
        "set, every program verified), pin them by name in the state directory "
        "($PYBPF_STATE_DIR), list them and dump their instructions with source lines.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  pybpf prog load counter.o counter\n"
        "  pybpf prog loadall counter.o ctr\n  pybpf prog show --json\n"
        "  pybpf prog dump xlated counter\n  pybpf prog dump xlated counter.o --prog xdp_count",
    )
    verbs = p.add_subparsers(dest="prog_verb", metavar="VERB", parser_class=type(p))
    ld = verbs.add_parser("load", help="load an object, pin one program (the first, or --prog)")
    ld.add_argument("object")
    ld.add_argument("name", help="pin name")
    ld.add_argument("--prog", metavar="PROG", help="which program to pin")
    la = verbs.add_parser("loadall", help="load an object, pin every program as PREFIX.PROG")
    la.add_argument("object")
    la.add_argument("name", metavar="prefix")
    for v in (ld, la):
        v.add_argument("--set", action="append", default=[], metavar="VAR=VALUE",
                       help="set a global variable before the load (repeatable)")  # fmt: skip
        v.add_argument("--kconfig", metavar="FILE", help="kernel config lines for __kconfig externs")
        v.add_argument("--json", action="store_true")
    sh = verbs.add_parser("show", help="pinned programs")
    sh.add_argument("name", nargs="?")
    sh.add_argument("--json", action="store_true")
    dp = verbs.add_parser("dump", help="a program's instructions")
    dp.add_argument("what", choices=["xlated"], help="xlated: the relocated instructions")
    dp.add_argument("target", help="a pinned program's name, or an object file with --prog")
    dp.add_argument("--prog", metavar="PROG", help="the program of an object file")
    dp.add_argument("--no-lines", action="store_true", help="without source lines")
    dp.add_argument("--rewritten", action="store_true",
                    help="the program as the verifier rewrote it (pinned programs; no source lines)")
    dp.add_argument("--json", action="store_true")
    un = verbs.add_parser("unpin", help="forget a pinned program (its maps stay)")
    un.add_argument("name")
    un.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


# --- pinned program records ------------------------------------------------------------


def _prog_dir() -> Path:
    from ..pinning import state_dir

    return state_dir() / "progs"


def _prog_path(name: str) -> Path:
    if not _NAME.match(name):
        raise BpfError(errno.EINVAL, f"bad pin name {name!r}: use letters, digits, '_', '.', '-'")
    return _prog_dir() / f"{name}.json"


def read_record(name: str) -> dict[str, Any]:
    path = _prog_path(name)
    try:
        rec = json.loads(path.read_text())
    except FileNotFoundError:
        raise BpfError(errno.ENOENT, f"no program pinned as {name!r} (in {path.parent})") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise BpfError(errno.EINVAL, f"pinned program {name!r} is unreadable: {exc}") from None
    if not isinstance(rec, dict) or "insns" not in rec:
        raise BpfError(errno.EINVAL, f"pinned program {name!r} is corrupt")
    return rec


def _write_record(name: str, rec: dict[str, Any]) -> None:
    path = _prog_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rec, indent=1))
    tmp.replace(path)


def _func_info_text(obj: Any, linked: Any) -> list[list[Any]]:
    from ..elf.cdecl import func_signature

    btf = obj.spec.btf
    if btf is None:
        return []
    return [[fi.insn_off, func_signature(btf, fi.type_id)] for fi in linked.func_info]


def _pin_program(obj: Any, prog: str, pin_name: str, map_prefix: str | None = None) -> dict[str, Any]:
    """Pin one loaded program and the maps it uses (as ``<map_prefix>.<map>``, default the
    program's pin name); returns the record."""
    from ..elf.spec import PinType
    from ..isa.insn import encode_hex
    from ..pinning import pin

    op = obj.programs[prog]
    linked = op.link()
    case = obj.export_case(prog)  # the same renumbering: the program's maps from 0
    map_pins = []
    for old in linked.map_indices:
        mdef = obj.spec.maps[old]
        m = obj.maps[mdef.name].map
        name = mdef.name if mdef.pinning == PinType.BY_NAME else f"{map_prefix or pin_name}.{mdef.name}"
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64]
        if m is not None:
            pin(m, name)
        map_pins.append(name)
    verified = op.program.verified if op.program is not None else None
    rec = {
        "name": pin_name,
        "program": prog,
        "object": str(Path(obj.path).resolve()),
        "section": op.section,
        "prog_type": linked.prog_type.name.lower(),
        "expected_attach_type": (linked.expected_attach_type.name.lower()
                                 if linked.expected_attach_type is not None else None),
        "license": obj.license,
        "gpl_compatible": _gpl(obj.license),
        "insns": encode_hex(case.insns),
        "maps": map_pins,
        "insns_processed": verified.insns_processed if verified is not None else 0,
        # the verifier's rewritten program (bpftool's "xlated"), when it makes one
        "rewritten": encode_hex(getattr(verified, "xlated", None) or []),
        "line_info": [[li.insn_off, li.log_text(), li.line.strip()] for li in linked.line_info],
        "func_info": _func_info_text(obj, linked),
        "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }  # fmt: skip
    _write_record(pin_name, rec)
    return rec


def _gpl(license_text: str) -> bool:
    from ..obj import license_is_gpl_compatible

    return license_is_gpl_compatible(license_text)


# --- verbs ---------------------------------------------------------------------------


def _open(args: argparse.Namespace) -> Any:
    from ..obj import open as open_object
    from .cmd_case import apply_sets

    kconfig = None
    if getattr(args, "kconfig", None):
        try:
            kconfig = Path(args.kconfig).read_text()
        except OSError as exc:
            raise BpfError(exc.errno or errno.EIO, f"{args.kconfig}: {exc.strerror}") from None
    obj = open_object(args.object, kconfig=kconfig)
    apply_sets(obj, getattr(args, "set", []))
    return obj


def _load(args: argparse.Namespace, every: bool) -> int:
    from .main import emit_json

    obj = _open(args)
    if not every:
        prog = args.prog or next(iter(obj.programs), None)
        if prog is None:
            raise BpfError(errno.ENOENT, f"{args.object}: no programs")
        if prog not in obj.programs:
            raise BpfError(errno.ENOENT, f"{args.object}: no program named {prog!r}")
        obj.programs[prog].autoload = True
    obj.load()
    chosen = [n for n, p in obj.programs.items() if p.program is not None]
    if not every:
        chosen = [prog]
    for n in chosen:
        pin_name = args.name if not every else f"{args.name}.{n}"
        # loadall: the programs of one object share its maps, pinned once under the prefix
        rec = _pin_program(obj, n, pin_name, args.name)
        if args.json:
            emit_json({k: rec[k] for k in ("name", "program", "section", "prog_type", "maps",
                                           "insns_processed")})  # fmt: skip
        else:
            print(f"pinned {n} as {pin_name!r} ({rec['prog_type']}, "
                  f"{len(rec['insns'].split())} insns, maps: {', '.join(rec['maps']) or '-'})")
    obj.close()
    return 0


def _show(args: argparse.Namespace) -> int:
    from .main import emit_json

    d = _prog_dir()
    names = [args.name] if args.name else sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []
    for n in names:
        rec = read_record(n)
        count = len(rec["insns"].split())
        xlated = len(rec.get("rewritten", "").split()) or count
        if args.json:
            emit_json({"name": n, "program": rec.get("program"), "type": rec.get("prog_type"),
                       "section": rec.get("section"), "gpl_compatible": rec.get("gpl_compatible"),
                       "loaded_at": rec.get("loaded_at"), "bytes_xlated": xlated * 8,
                       "insns": count, "insns_processed": rec.get("insns_processed"),
                       "maps": rec.get("maps", []), "object": rec.get("object")})  # fmt: skip
            continue
        gpl = "  gpl" if rec.get("gpl_compatible") else ""
        print(f"{n}: {rec.get('prog_type')}  name {rec.get('program')}  section "
              f"{rec.get('section')}{gpl}")  # fmt: skip
        print(f"\tloaded_at {rec.get('loaded_at')}  from {rec.get('object')}")
        print(f"\txlated {xlated * 8}B  insns {count}  verified {rec.get('insns_processed')}  "
              f"maps {','.join(rec.get('maps', [])) or '-'}")  # fmt: skip
    return 0


def dump_lines(insns: list[Any], line_info: list[list[Any]], func_info: list[list[Any]],
               map_names: list[str], with_lines: bool = True) -> list[str]:  # fmt: skip
    """``bpftool prog dump xlated`` style: function headers, ``; source`` lines, insns."""
    from ..isa.disasm import disassemble
    from ..isa.opcodes import PseudoLdImm64

    def imm_name(insn: Any, value: int) -> str | None:
        lo = value & 0xFFFFFFFF
        if insn.src == PseudoLdImm64.MAP_IDX and lo < len(map_names):
            return f"map[{map_names[lo]}]"
        if insn.src == PseudoLdImm64.MAP_IDX_VALUE and lo < len(map_names):
            return f"map[{map_names[lo]}][0]+{value >> 32}"
        return None

    text = disassemble(insns, imm_name=imm_name)
    starts: dict[int, list[str]] = {}
    if with_lines:
        for off, desc, src in line_info:
            del desc
            starts.setdefault(int(off), []).append(f"; {src}")
    heads = {int(off): sig for off, sig in func_info}
    out: list[str] = []
    for line in text:
        idx = int(line.split(":", 1)[0])
        if idx in heads:
            out.append(f"{heads[idx]}:")
        out += starts.get(idx, [])
        out.append(f"{idx:>4}:{line.split(':', 1)[1]}")
    return out


def _dump(args: argparse.Namespace) -> int:
    from ..isa.insn import decode_hex
    from .main import emit_json

    target = args.target
    if args.prog or target.endswith(".o") or Path(target).is_file():
        obj = _open(argparse.Namespace(object=target, set=[], kconfig=None))
        prog = args.prog or next(iter(obj.programs), None)
        if prog is None or prog not in obj.programs:
            raise BpfError(errno.ENOENT, f"{target}: no program named {prog!r}")
        linked = obj.programs[prog].link()
        case = obj.export_case(prog)
        insns = list(case.insns)
        names = [obj.spec.maps[i].name for i in linked.map_indices]
        lines = [[li.insn_off, li.log_text(), li.line.strip()] for li in linked.line_info]
        funcs = _func_info_text(obj, linked)
    else:
        rec = read_record(target)
        try:
            insns = decode_hex(rec["insns"])
        except BpfError as exc:
            raise BpfError(errno.EINVAL, f"pinned program {target!r} is corrupt: {exc}") from None
        names, lines, funcs = rec.get("maps", []), rec.get("line_info", []), rec.get("func_info", [])
        if args.rewritten:
            if not rec.get("rewritten"):
                raise BpfError(errno.ENOENT, f"pinned program {target!r} has no rewritten form")
            insns, lines, funcs = decode_hex(rec["rewritten"]), [], []
    out = dump_lines(insns, lines, funcs, names, not args.no_lines)
    if getattr(args, "rewritten", False):
        try:
            from ..verifier.fixups import xlated_text  # the verifier's names for its rewrites
        except ImportError:  # pragma: no cover
            pass
        else:
            out = xlated_text(insns).splitlines()
    if args.json:
        emit_json({"insns": [i.encode().hex() for i in insns], "lines": out})
    else:
        print("\n".join(out))
    return 0


def run(args: argparse.Namespace) -> int:
    verb = args.prog_verb
    if verb == "load":
        return _load(args, every=False)
    if verb == "loadall":
        return _load(args, every=True)
    if verb == "show":
        return _show(args)
    if verb == "dump":
        return _dump(args)
    if verb == "unpin":
        path = _prog_path(args.name)
        try:
            path.unlink()
        except FileNotFoundError:
            raise BpfError(errno.ENOENT, f"no program pinned as {args.name!r}") from None
        return 0
    raise BpfError(errno.EINVAL, "give a prog verb (pybpf prog --help)")


# --- pybpf verify prog.o ------------------------------------------------------------------


def verify_objects(args: argparse.Namespace) -> int:
    """``pybpf verify prog.o``: every program of the objects, one verdict each."""
    from ..obj import open as open_object
    from .cmd_verify import object_verdicts
    from .main import emit_json

    status = 0
    for path in args.objects:
        try:
            obj = open_object(path, unprivileged=args.unprivileged)
            verdicts = object_verdicts(obj, args.prog, args.log_level, args.json)
        except BpfError as exc:
            status = 1
            if args.json:
                emit_json({"file": path, "error": exc.message, "errno": exc.errno})
            else:
                print(exc.message if exc.message.startswith(f"{path}:") else f"{path}: {exc.message}")
            continue
        for v in verdicts:
            if not v.accepted:
                status = 1
            if args.json:
                emit_json({"file": path, **v.to_json()})
                continue
            if v.log and (not v.accepted or args.log_level > 1):
                print(v.log, end="" if v.log.endswith("\n") else "\n")
            label = f"{path}: " if len(args.objects) > 1 else ""
            if v.accepted:
                verdict = "accepted"
            else:
                verdict = f"rejected ({errno.errorcode.get(v.errno, v.errno)}): {v.message}"
            print(f"{label}{v.name} (SEC {v.section!r}): {verdict}, {v.insns_processed} insns "
                  "processed")  # fmt: skip
    return status

