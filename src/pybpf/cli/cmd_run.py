"""``pybpf run``: run case files, or a program from text, as BPF_PROG_TEST_RUN would."""

from __future__ import annotations

import argparse
import errno
import json
from typing import Any

from ..case import Case, MapCase, RunInput, load_case, run_case
from ..errors import BpfError
from ..isa import assemble
from ..kernel.progtypes import prog_type_from_name
from ..maps.types import MapSpec, MapType
from ..vm.tiers import Tier, using
from .cmd_asm import read_source


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run programs (case files or assembler text)",
        description="Run each case file's program on its input with the semantics of "
        "BPF_PROG_TEST_RUN (retval as u32, the packet as the kernel returns it), or run a "
        "program written in assembler text.  With --json, one JSON object per case per line.",
        epilog="examples:\n  pybpf run --case a.json b.json --json\n"
        "  pybpf run prog.s --type xdp --data $(python3 -c 'print(\"00\"*64)')\n"
        "  pybpf run prog.s --tier interp --repeat 1000   # time the reference interpreter",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("program", nargs="?", help="assembler source (kernel/llvm or conformance syntax)")
    p.add_argument("--case", nargs="+", metavar="FILE", help="case files (shared/spec/case-format.md)")
    p.add_argument("--type", default="socket_filter", help="program type for a source file")
    p.add_argument("--data", default="", help="packet bytes as hex")
    p.add_argument("--ctx", help="context bytes as hex")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--map", action="append", default=[], metavar="TYPE:KEY:VALUE:MAX[:FLAGS]",
                   help="a map for map[idx:N] references of a source program (repeatable, in order)")
    p.add_argument("--trace", action="store_true", help="print bpf_trace_printk output after each run")
    p.add_argument("--tier", choices=[t.value for t in Tier], default=None,
                   help="execution tier: interp (reference interpreter), python (generated "
                   "Python source) or jit (llvmlite, pip install pybpf[jit]); default: the "
                   "fastest installed, or $PYBPF_TIER")  # fmt: skip
    p.add_argument("--json", action="store_true", help="JSON lines output")
    p.set_defaults(handler=run)


def parse_map_option(text: str) -> MapSpec:
    """``hash:4:8:16`` or ``array:4:8:1:0x400``: type, key size, value size, entries, flags."""
    parts = text.split(":")
    if len(parts) not in (4, 5):
        raise BpfError(errno.EINVAL, f"--map {text!r}: want TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS]")
    try:
        mtype = MapType.from_name(parts[0])
        nums = [int(x, 0) for x in parts[1:]]
    except ValueError as exc:
        raise BpfError(errno.EINVAL, f"--map {text!r}: {exc}") from None
    return MapSpec(mtype, nums[0], nums[1], nums[2], nums[3] if len(nums) > 3 else 0)


def _print_outcome(name: str, out: dict[str, Any]) -> None:
    label = f"{name}: " if name else ""
    if not out["accepted"]:
        print(f"{label}rejected ({errno.errorcode.get(out['errno'], out['errno'])}): {out['message']}")
        return
    r = out["run"]
    if r is None:
        print(f"{label}loaded (no run section)")
    elif "errno" in r:
        print(f"{label}run failed ({errno.errorcode.get(r['errno'], r['errno'])}): {r.get('error', '')}")
    else:
        print(f"{label}retval {r['retval']} (0x{r['retval']:x}), {len(r['data']) // 2} bytes out, "
              f"{r['duration_ns']} ns/run")  # fmt: skip
        if r["data"]:
            print(f"{' ' * len(label)}data {r['data']}")


def run(args: argparse.Namespace) -> int:

    cases: list[tuple[str, Case | BpfError]] = []
    if args.case:
        for path in args.case:
            try:
                cases.append((path, load_case(path)))
            except BpfError as exc:
                cases.append((path, exc))
    elif args.program:
        try:
            data = bytes.fromhex(args.data)
            ctx = bytes.fromhex(args.ctx) if args.ctx else None
        except ValueError:
            raise BpfError(errno.EINVAL, "--data and --ctx take hex bytes") from None
        try:
            ptype = prog_type_from_name(args.type)
        except ValueError as exc:
            raise BpfError(errno.EINVAL, str(exc)) from None
        insns = tuple(assemble(read_source(args.program)))
        maps = tuple(MapCase(parse_map_option(m)) for m in args.map)
        cases.append((args.program, Case(ptype, insns, maps, run=RunInput(data, ctx, args.repeat))))
    else:
        raise BpfError(errno.EINVAL, "give a program source or --case FILE...")
    with using(args.tier):
        return _run_cases(args, cases)


def _run_cases(args: argparse.Namespace, cases: list[tuple[str, Case | BpfError]]) -> int:
    from ..kernel.state import Kernel
    from .main import emit_json

    status = 0
    for name, case in cases:
        if isinstance(case, BpfError):
            status = 1
            if args.json:
                emit_json({"file": name, "error": case.message, "errno": case.errno})
            else:
                print(case.message)
            continue
        kernel = Kernel(seed=0)
        out = run_case(case, kernel).to_json()
        if args.json:
            emit_json(out)
        else:
            _print_outcome(name if len(cases) > 1 else "", out)
        if args.trace:
            for ev in kernel.trace.read():
                line = ev.line()
                print(json.dumps({"trace": line}) if args.json else line)
        if not out["accepted"] or (out["run"] and "errno" in out["run"]):
            status = 1
    return status
