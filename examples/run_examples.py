#!/usr/bin/env python3
"""Run the bundled example programs end to end and check each one's stated result.

Two kinds of examples.  C programs (``c/*.c``, compiled by clang-19 into the ``c/*.o``
beside them; ``make examples`` rebuilds those) are opened with ``pybpf.open``, loaded,
run and checked by ``c_examples.py``.  Assembler files next to this script (``*.s``,
commented) are assembled, loaded into a fresh simulated kernel with their maps, and run
with the semantics of ``BPF_PROG_TEST_RUN`` on a few frames.  Each run's return value and output packet are
checked, and so is what the program left behind: map contents, ring buffer records, trace
lines.  The exit status is 1 if anything differs from what the example states.

Some examples also have a case file (``*.json``, shared/spec/case-format.md) for
``pybpf run --case``; this script checks that those files still match their sources and
runs them the way the command does.  ``--write-cases`` regenerates them.

``--kernel`` also loads every example into the running kernel (root and bpf() needed) and
checks that it returns the same verdicts and packets there.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from c_examples import C_EXAMPLES, CExample
from packets import (
    PROTO_NAMES,
    arp_request,
    describe_changes,
    icmp_echo,
    ipv6_tcp,
    tcp,
    udp,
)
from struct_ops_examples import STRUCT_OPS_EXAMPLES

from pybpf import oracle
from pybpf.case import Case, run_case
from pybpf.errors import BpfError
from pybpf.isa import Insn, assemble, encode_hex
from pybpf.kernel.state import Kernel
from pybpf.maps import Map, MapFlag, MapSpec, MapType, RingBufMap
from pybpf.program import Program, load_program

HERE = Path(__file__).resolve().parent
ETH_HLEN = 14

# --- describing an example ---------------------------------------------------------------


@dataclass(frozen=True)
class MapDef:
    """A map the program uses (``map[idx:N]`` is the N-th), set up as a loader would."""

    spec: MapSpec
    init: bytes | None = None
    """Written as the value of key 0 before the program is loaded (like ``.rodata``)."""
    freeze: bool = False


@dataclass(frozen=True)
class Input:
    """One test run: a frame and what the program must answer."""

    label: str
    data: bytes
    retval: int
    data_out: bytes | None = None
    """The packet the run must return; None means "as the test run returns it unchanged"."""


@dataclass
class Report:
    """What an example printed, and what went wrong."""

    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, text: str, why: str = "") -> None:
        self.lines.append(f"{text:<84} {'ok' if ok else 'FAILED'}")
        if not ok:
            self.failures.append(why or text)
            if why:
                self.lines.append(f"    {why}")

    def note(self, text: str) -> None:
        self.lines.append(text)


@dataclass(frozen=True)
class Loaded:
    """An example's program as loaded, for the checks made after all its runs."""

    kernel: Kernel
    program: Program
    maps: list[Map]


@dataclass(frozen=True)
class Example:
    name: str
    title: str
    prog_type: str
    inputs: tuple[Input, ...]
    maps: tuple[MapDef, ...] = ()
    after: Callable[[Loaded, Report], None] | None = None
    """Checks the state the runs left behind (maps, ring buffer, trace buffer)."""
    case_file: bool = False
    """Ship ``<name>.json`` for ``pybpf run --case`` (first input as its run)."""
    kernel_runs: bool = True
    """False: with --kernel, only load it (runs would write into the machine's trace_pipe)."""
    meaning: Callable[[int], str] | None = None
    """What a return value means, where it is not the program type's verdict."""

    @property
    def source(self) -> Path:
        return HERE / f"{self.name}.s"

    @property
    def case_path(self) -> Path:
        return HERE / f"{self.name}.json"


# --- reading results -------------------------------------------------------------------


XDP_VERDICTS = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}
TC_VERDICTS = {0: "TC_ACT_OK", 2: "TC_ACT_SHOT", 7: "TC_ACT_REDIRECT"}


def verdict(prog_type: str, retval: int) -> str:
    if prog_type == "xdp":
        return XDP_VERDICTS.get(retval, "?")
    if prog_type in ("sched_cls", "sched_act"):
        return TC_VERDICTS.get(retval, "?")
    if prog_type == "socket_filter":
        return "drop" if retval == 0 else ("keep all" if retval == 0xFFFFFFFF else f"keep {retval} bytes")
    return ""


def returned_unchanged(prog_type: str, data: bytes) -> bytes:
    """The packet a test run hands back when the program did not touch it: a socket
    filter's comes back with the Ethernet header zeroed (docs/kernel/test-run.md §3.1)."""
    if prog_type == "socket_filter":
        return bytes(ETH_HLEN) + data[ETH_HLEN:]
    return data


def expected_out(example: Example, inp: Input) -> bytes:
    return inp.data_out if inp.data_out is not None else returned_unchanged(example.prog_type, inp.data)


def u32(b: bytes) -> int:
    return int.from_bytes(b, "little")


# --- 1. XDP packet counter --------------------------------------------------------------

NOT_IPV4 = 256
COUNTER_INPUTS = (
    Input("TCP  10.0.0.1:40000 -> 10.0.0.2:443", tcp("10.0.0.1", "10.0.0.2", 40000, 443), 2),
    Input("TCP  10.0.0.1:40001 -> 10.0.0.2:80", tcp("10.0.0.1", "10.0.0.2", 40001, 80), 2),
    Input("UDP  10.0.0.1:5353 -> 224.0.0.251:5353", udp("10.0.0.1", "224.0.0.251", 5353, 5353), 2),
    Input("ICMP 10.0.0.1 -> 10.0.0.2 echo request", icmp_echo("10.0.0.1", "10.0.0.2"), 2),
    Input("ARP  who-has 10.0.0.2", arp_request("10.0.0.1", "10.0.0.2"), 2),
    Input("TCP  10.0.0.3:22 -> 10.0.0.1:50000", tcp("10.0.0.3", "10.0.0.1", 22, 50000), 2),
    Input("IPv6 TCP 2001:db8::1 -> 2001:db8::2:443", ipv6_tcp("2001:db8::1", "2001:db8::2", 40000, 443), 2),
    Input("UDP  10.0.0.1:40000 -> 8.8.8.8:53", udp("10.0.0.1", "8.8.8.8", 40000, 53), 2),
)
EXPECTED_COUNTS = {1: 1, 6: 3, 17: 2, NOT_IPV4: 2}


def check_counter(loaded: Loaded, report: Report) -> None:
    counts = {u32(k): u32(v) for k, v in loaded.maps[0].items()}
    shown = ", ".join(f"{PROTO_NAMES.get(k, 'not IPv4' if k == NOT_IPV4 else str(k))}={v}"
                      for k, v in sorted(counts.items()))  # fmt: skip
    report.check(counts == EXPECTED_COUNTS, f"map after {len(COUNTER_INPUTS)} packets: {shown}",
                 f"expected {EXPECTED_COUNTS}, map holds {counts}")  # fmt: skip


# --- 2. socket filter with LD_ABS ------------------------------------------------------

KEEP_ALL = 0xFFFFFFFF
FILTER_INPUTS = (
    Input("IPv4 TCP  10.0.0.1:40000 -> 10.0.0.2:443", tcp("10.0.0.1", "10.0.0.2", 40000, 443), KEEP_ALL),
    Input("IPv4 UDP  10.0.0.1:40000 -> 10.0.0.2:53", udp("10.0.0.1", "10.0.0.2", 40000, 53), 0),
    Input("IPv4 ICMP 10.0.0.1 -> 10.0.0.2", icmp_echo("10.0.0.1", "10.0.0.2"), 0),
    Input("IPv6 TCP  2001:db8::1 -> 2001:db8::2:443", ipv6_tcp("2001:db8::1", "2001:db8::2", 40000, 443), 0),
    Input("ARP  who-has 10.0.0.2", arp_request("10.0.0.1", "10.0.0.2"), 0),
)

# --- 3. sched_cls rewriting the TTL ------------------------------------------------------

TTL_INPUTS = (
    # the rewritten frame is the same frame built with TTL 63: its checksum must agree
    Input("TCP 10.0.0.1 -> 10.0.0.2, TTL 64", tcp("10.0.0.1", "10.0.0.2", 40000, 443, ttl=64), 0,
          tcp("10.0.0.1", "10.0.0.2", 40000, 443, ttl=63)),
    Input("TCP 10.0.0.1 -> 10.0.0.2, TTL 1", tcp("10.0.0.1", "10.0.0.2", 40000, 443, ttl=1), 2),
    Input("ARP who-has 10.0.0.2 (not IPv4)", arp_request("10.0.0.1", "10.0.0.2"), 0),
)  # fmt: skip

# --- 4. bpf-to-bpf calls ---------------------------------------------------------------

CALL_INPUTS = (
    Input("TCP 10.0.0.1:40000 -> 10.0.0.2:443 (a well-known port)", tcp("10.0.0.1", "10.0.0.2", 40000, 443), 2),
    Input("TCP 10.0.0.3:22 -> 10.0.0.1:50000 (a well-known port)", tcp("10.0.0.3", "10.0.0.1", 22, 50000), 2),
    Input("UDP 10.0.0.1:40000 -> 10.0.0.2:50000 (two high ports)", udp("10.0.0.1", "10.0.0.2", 40000, 50000), 1),
    Input("ICMP 10.0.0.1 -> 10.0.0.2 (no ports)", icmp_echo("10.0.0.1", "10.0.0.2"), 2),
)

# --- 5. a bounded loop -------------------------------------------------------------------

LOOP_INPUTS = (
    # 45 00 00 28 12 34 40 00: 3+0+0+2+2+3+1+0 bits
    Input("IPv4 TCP: header bytes 45 00 00 28 12 34 40 00", tcp("10.0.0.1", "10.0.0.2", 40000, 443), 11),
    # 00 01 08 00 06 04 00 01: 0+1+1+0+2+1+0+1 bits
    Input("ARP: body bytes 00 01 08 00 06 04 00 01", arp_request("10.0.0.1", "10.0.0.2"), 6),
)

# --- 6. ring buffer producer -------------------------------------------------------------

RINGBUF_INPUTS = (
    Input("TCP  10.0.0.1 -> 10.0.0.2", tcp("10.0.0.1", "10.0.0.2", 40000, 443), 2),
    Input("ARP  who-has 10.0.0.2 (no event)", arp_request("10.0.0.1", "10.0.0.2"), 2),
    Input("UDP  192.168.1.7 -> 192.168.1.1", udp("192.168.1.7", "192.168.1.1", 40000, 53), 2),
    Input("ICMP 172.16.0.9 -> 10.0.0.2", icmp_echo("172.16.0.9", "10.0.0.2"), 2),
)
# (source, destination, frame length, protocol, TTL) of each IPv4 frame, in order
EXPECTED_EVENTS = [
    ("10.0.0.1", "10.0.0.2", 54, 6, 64),
    ("192.168.1.7", "192.168.1.1", 42, 17, 64),
    ("172.16.0.9", "10.0.0.2", 50, 1, 64),
]
EVENT = struct.Struct("<4s4sHBB4x")


def check_ringbuf(loaded: Loaded, report: Report) -> None:
    ring = loaded.maps[0]
    assert isinstance(ring, RingBufMap)
    records = ring.consume()
    events = []
    for raw in records:
        if len(raw) != EVENT.size:
            report.check(False, f"record of {len(raw)} bytes", f"records are {EVENT.size} bytes")
            return
        src, dst, length, proto, ttl = EVENT.unpack(raw)
        events.append((str(ipaddress.IPv4Address(src)), str(ipaddress.IPv4Address(dst)), length, proto, ttl))
    for src, dst, length, proto, ttl in events:
        report.note(f"  event: {src} -> {dst}, {length} bytes, {PROTO_NAMES.get(proto, proto)}, ttl {ttl}")
    report.check(events == EXPECTED_EVENTS, f"consumed {len(events)} records from the ring buffer",
                 f"expected {EXPECTED_EVENTS}")  # fmt: skip
    report.check(ring.consume() == [] and ring.avail_data == 0, "ring buffer empty after consuming")


# --- 7. bpf_trace_printk -----------------------------------------------------------------

FORMAT = b"len %d proto 0x%04x ttl %u\n\0"
PRINTK_INPUTS = (
    Input("TCP 10.0.0.1 -> 10.0.0.2", tcp("10.0.0.1", "10.0.0.2", 40000, 443), 2),
    Input("ARP who-has 10.0.0.2", arp_request("10.0.0.1", "10.0.0.2"), 2),
    Input("IPv6 TCP 2001:db8::1 -> 2001:db8::2", ipv6_tcp("2001:db8::1", "2001:db8::2", 40000, 443), 2),
)
EXPECTED_TRACE = [
    "len 54 proto 0x0800 ttl 64",
    "len 42 proto 0x0806 ttl 0",
    "len 74 proto 0x86dd ttl 0",
]


def check_trace(loaded: Loaded, report: Report) -> None:
    events = loaded.kernel.trace.read()
    for ev in events:
        report.note(f"  trace_pipe: {ev.line()}")
    messages = [ev.message for ev in events]
    report.check(messages == EXPECTED_TRACE, f"{len(events)} trace lines, as expected",
                 f"expected {EXPECTED_TRACE}, got {messages}")  # fmt: skip


# --- the list -------------------------------------------------------------------------------

EXAMPLES = (
    Example("xdp_proto_counter", "XDP packet counter, per IP protocol, in a hash map", "xdp",
            COUNTER_INPUTS, (MapDef(MapSpec(MapType.HASH, 4, 8, 16)),), check_counter, case_file=True),
    Example("socket_filter_tcp", "socket filter with LD_ABS: accept IPv4 TCP only", "socket_filter",
            FILTER_INPUTS, case_file=True),
    Example("tc_decrement_ttl", "sched_cls rewriting the TTL with bpf_skb_store_bytes", "sched_cls",
            TTL_INPUTS, case_file=True),
    Example("bpf_to_bpf_call", "bpf-to-bpf calls, two levels deep", "xdp", CALL_INPUTS, case_file=True),
    Example("bounded_loop", "a bounded loop: popcount of 8 packet bytes", "socket_filter",
            LOOP_INPUTS, case_file=True, meaning=lambda r: f"= {r} one-bits"),
    Example("ringbuf_events", "ring buffer producer, records consumed from user space", "xdp",
            RINGBUF_INPUTS, (MapDef(MapSpec(MapType.RINGBUF, 0, 0, 4096)),), check_ringbuf),
    Example("trace_printk", "bpf_trace_printk with a .rodata format string", "xdp", PRINTK_INPUTS,
            (MapDef(MapSpec(MapType.ARRAY, 4, 32, 1, int(MapFlag.RDONLY_PROG)),
                    FORMAT.ljust(32, b"\0"), freeze=True),),
            check_trace, case_file=True, kernel_runs=False),
)  # fmt: skip


# --- running ------------------------------------------------------------------------------


def create_maps(kernel: Kernel, defs: tuple[MapDef, ...]) -> list[Map]:
    maps = []
    for d in defs:
        m = kernel.create_map(d.spec)
        if d.init is not None:
            m.update(bytes(d.spec.key_size), d.init)
        if d.freeze:
            m.freeze()
        maps.append(m)
    return maps


def run_example(example: Example, insns: list[Insn], report: Report) -> None:
    kernel = Kernel(seed=0)
    kernel.fixed_time_ns = 1_000_000_000  # trace timestamps that do not change run to run
    maps = create_maps(kernel, example.maps)
    try:
        program = load_program(insns, example.prog_type, maps=maps, kernel=kernel, name=example.name)
        run_inputs(example, program, report)
        if example.after is not None:
            example.after(Loaded(kernel, program, maps), report)
    finally:
        for m in maps:
            m.close()


def run_inputs(example: Example, program: Program, report: Report) -> None:
    meaning = example.meaning or (lambda r: verdict(example.prog_type, r))
    for inp in example.inputs:
        res = program.run(data=inp.data)
        want = expected_out(example, inp)
        text = f"{inp.label:<54} retval {res.retval:#x} {meaning(res.retval)}"
        ok = res.retval == inp.retval and res.data == want
        why = ""
        if res.retval != inp.retval:
            why = f"expected retval {inp.retval:#x} ({meaning(inp.retval)})"
        elif res.data != want:
            why = f"packet out differs from the expected one: {describe_changes(want, res.data)}"
        report.check(ok, text, why)
        changed = describe_changes(returned_unchanged(example.prog_type, inp.data), res.data)
        if changed != "unchanged":
            report.note(f"    packet changed: {changed}")


def case_json(example: Example, insns: list[Insn]) -> dict[str, Any]:
    """The example's case file: its program, maps and first input, plus what to expect."""
    first = example.inputs[0]
    maps = []
    for d in example.maps:
        m = d.spec.to_case()
        if d.init is not None:
            m["map_init"] = d.init.hex()
        if d.freeze:
            m["freeze"] = True
        maps.append(m)
    return {
        "name": f"examples/{example.name}.s: {example.title}",
        "prog_type": example.prog_type,
        "expected_attach_type": None,
        "insns": encode_hex(insns),
        "maps": maps,
        "run": {"data": first.data.hex(), "ctx": None, "repeat": 1},
        "expect": {
            "input": first.label,
            "retval": first.retval,
            "data": expected_out(example, first).hex(),
        },
    }


def check_case_file(example: Example, insns: list[Insn], report: Report) -> None:
    """The shipped case file must be what the source gives, and run as `pybpf run --case`."""
    want = case_json(example, insns)
    path = example.case_path
    try:
        have = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        report.check(False, f"case file {path.name}", f"cannot read it ({exc}); run with --write-cases")
        return
    if have != want:
        report.check(False, f"case file {path.name}", "it no longer matches the source; run with --write-cases")
        return
    outcome = run_case(Case.from_json(have))
    run = outcome.run or {}
    ok = outcome.accepted and run.get("retval") == want["expect"]["retval"] and run.get("data") == want["expect"]["data"]
    report.check(ok, f"case file {path.name} (as `pybpf run --case`): retval {run.get('retval', '-')}",
                 f"case run gave {outcome.to_json()}")  # fmt: skip


def check_in_kernel(example: Example, insns: list[Insn], report: Report) -> None:
    """Load the example into the running kernel and hold its runs to the same expectations."""
    base = case_json(example, insns)
    del base["expect"]
    inputs = example.inputs if example.kernel_runs else ()
    load_only = dict(base, run=None)
    res = oracle.load_case(load_only)
    if not res.accepted:
        report.check(False, "kernel: load", f"the kernel refused it: {res.message}")
        return
    if not inputs:
        report.check(True, f"kernel: accepted ({res.insns_processed} insns processed), not run")
        return
    bad = []
    for inp in inputs:
        got = oracle.load_case(dict(base, run={"data": inp.data.hex(), "ctx": None, "repeat": 1}))
        if got.run is None or got.run.errno or got.run.retval != inp.retval or \
                bytes.fromhex(got.run.data) != expected_out(example, inp):
            bad.append(f"{inp.label}: kernel gave {got.run}")
    report.check(not bad, f"kernel: accepted, same verdicts and packets on {len(inputs)} runs",
                 "; ".join(bad))  # fmt: skip


def run_c_example(example: CExample, kernel: bool) -> Report:
    report = Report()
    try:
        example.run(report, kernel)
    except BpfError as exc:
        report.check(False, f"error: {exc}")
        log = getattr(exc, "log", "")
        if log:
            report.note("    verifier log (last lines):")
            report.lines += [f"      {line}" for line in log.splitlines()[-12:]]
    return report


def run_asm_example(example: Example, args: argparse.Namespace) -> Report:
    report = Report()
    try:
        insns = assemble(example.source.read_text())
        if args.write_cases and example.case_file:
            example.case_path.write_text(json.dumps(case_json(example, insns), indent=2) + "\n")
            report.note(f"wrote {example.case_path.name}")
        run_example(example, insns, report)
        if example.case_file:
            check_case_file(example, insns, report)
        if args.kernel:
            check_in_kernel(example, insns, report)
    except BpfError as exc:
        report.check(False, f"error: {exc}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("names", nargs="*", help="run only these examples")
    parser.add_argument("--kernel", action="store_true", help="also compare with the running kernel")
    parser.add_argument("--write-cases", action="store_true", help="regenerate the *.json case files")
    args = parser.parse_args(argv)

    every: list[CExample | Example] = [*C_EXAMPLES, *STRUCT_OPS_EXAMPLES, *EXAMPLES]
    chosen = [e for e in every if not args.names or e.name in args.names]
    unknown = set(args.names) - {e.name for e in every}
    if unknown:
        parser.error(f"unknown example(s): {', '.join(sorted(unknown))}")
    if args.kernel and not oracle.available():
        print(f"--kernel: bpf() is not available here ({oracle.unavailable_reason()}); "
              "comparing with pybpf's stated results only\n")  # fmt: skip
        args.kernel = False

    failed: list[str] = []
    for n, example in enumerate(chosen, 1):
        if isinstance(example, CExample):
            where = example.name.rsplit("/", 1)[0]
            print(f"[{n}/{len(chosen)}] {where}/{example.object.name} (from {where}/{example.source.name}, clang-19): "
                  f"{example.title}")  # fmt: skip
            report = run_c_example(example, args.kernel)
        else:
            print(f"[{n}/{len(chosen)}] {example.source.name}: {example.title} ({example.prog_type})")
            report = run_asm_example(example, args)
        for line in report.lines:
            print(f"    {line}")
        print()
        if report.failures:
            failed.append(example.name)
    if failed:
        print(f"{len(failed)} of {len(chosen)} examples FAILED: {', '.join(failed)}")
        return 1
    print(f"all {len(chosen)} examples did what they state")
    return 0


if __name__ == "__main__":
    sys.exit(main())
