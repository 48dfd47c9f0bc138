"""``pybpf tcp-sim``: run congestion controls over a simulated bottleneck.

Each ``--algo`` adds one bulk connection driven by: a built-in Python reference
(``reno``, ``cubic``), or a ``tcp_congestion_ops`` of the object files given (by the
ops' ``name`` or its variable's), loaded, verified and registered as libbpf would.
Prints throughput, delay, loss and ECN marks per connection; ``--png`` plots cwnd,
throughput, RTT and queue over time; ``--json`` gives every number and the traces.
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
        "tcp-sim",
        help="run TCP congestion controls (BPF struct_ops or built-in) over a simulated link",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  pybpf tcp-sim examples/struct_ops/cubic.bpf.o --algo bpf_cubic_ex --algo cubic --png cubic.png\n"
        "  pybpf tcp-sim bpf_dctcp.o --algo dctcp --bandwidth 100 --rtt 10 --ecn-k 20 --json\n"
        "  pybpf tcp-sim --algo reno --algo cubic --loss 0.001 --duration 30",
    )
    p.add_argument("objects", nargs="*", metavar="OBJ.o", help="objects with SEC(\".struct_ops\") variables")
    p.add_argument("--algo", action="append", required=True, metavar="NAME",
                   help="a congestion control for one connection (repeatable)")
    p.add_argument("--bandwidth", type=float, default=10.0, metavar="MBIT/S")
    p.add_argument("--rtt", type=float, default=40.0, metavar="MS", help="base round-trip time")
    p.add_argument("--queue", type=int, default=100, metavar="PKTS", help="bottleneck buffer")
    p.add_argument("--loss", type=float, default=0.0, help="random loss probability")
    p.add_argument("--ecn-k", type=int, default=0, metavar="PKTS", help="CE-mark from this queue length")
    p.add_argument("--ecn", action="store_true", help="every connection ECN-capable (DCTCP-like ops are anyway)")
    p.add_argument("--mss", type=int, default=1448)
    p.add_argument("--duration", type=float, default=10.0, metavar="S")
    p.add_argument("--stagger", type=float, default=0.0, metavar="S", help="start connection i at i*S seconds")
    p.add_argument("--sample-ms", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--png", metavar="FILE", help="write the plot here")
    p.add_argument("--no-verify", action="store_true", help="load the programs without pybpf's verifier")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def _find(name: str, loaded: list[Any], builtin: Any) -> Any:
    """By the ops' name, then a built-in algorithm's, then the variable's name."""
    hit = next((lo for lo in loaded if _ops_name(lo) == name), None)
    if hit is not None or name in builtin:
        return hit
    return next((lo for lo in loaded if lo.var.name == name), None)


def _ops_name(lo: Any) -> str:
    raw = lo.var.data
    m = next((m for m in lo.var.members if m.name == "name"), None)
    return raw[m.offset : m.offset + m.size].split(b"\0")[0].decode(errors="replace") if m else ""


def run(args: argparse.Namespace) -> int:
    from ..kernel.state import Kernel
    from ..struct_ops.loader import open_struct_ops
    from ..struct_ops.tcp.algos import REFERENCES, BpfCongestionOps
    from ..struct_ops.tcp.link import LinkConfig
    from ..struct_ops.tcp.report import plot_png, summary_lines
    from ..struct_ops.tcp.sim import Simulator

    cfg = LinkConfig(args.bandwidth, args.rtt, args.queue, args.loss, args.ecn_k, args.mss).check()
    kernel = Kernel(seed=args.seed)
    loaded: list[Any] = []
    for path in args.objects:
        _, found = open_struct_ops(path, kernel=kernel, verify=not args.no_verify, register=False)
        loaded.extend(found)
    sim = Simulator(cfg, duration_s=args.duration, sample_ms=args.sample_ms, seed=args.seed, kernel=kernel)
    for i, name in enumerate(args.algo):
        lo = _find(name, loaded, REFERENCES)
        if lo is not None:
            lo.register()
            assert lo.map.kops is not None
            ops: Any = BpfCongestionOps(lo.map.kops, kernel)
        elif name in REFERENCES:
            ops = REFERENCES[name]()
        else:
            have = sorted({*REFERENCES, *(_ops_name(lo) for lo in loaded)})
            raise BpfError(errno.ENOENT, f"no congestion control {name!r} (have: {', '.join(have)})")
        sim.add_flow(ops, name=f"{i}:{name}", ecn=args.ecn, start_s=i * args.stagger)
    stats = sim.run()
    if args.png:
        title = f"{args.bandwidth:g} MBIT/S {args.rtt:g} MS Q {args.queue}"
        Path(args.png).write_bytes(plot_png(stats, title, args.sample_ms))
    if args.json:
        out = {"link": cfg.__dict__, "duration_s": args.duration, "flows": [s.to_json() for s in stats]}
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        print("\n".join(summary_lines(stats)))
        if args.png:
            print(f"plot: {args.png}")
    return 0
