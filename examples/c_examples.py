"""The C examples: programs in ``c/*.c``, compiled by clang-19 into the ``c/*.o`` beside
them (``make examples`` rebuilds those), opened and loaded the way a user would, through
``pybpf.open``.

Each example names its object and a function that loads it, runs it on frames from
``packets.py`` and checks what the source's comment states: return values, map contents,
global variables read after the runs, what the verifier did with ``.rodata`` constants.
``run_examples.py`` runs them after the assembler examples; with ``--kernel`` each loaded
program is also exported as a case (``BpfObject.export_case``: relocated, maps by index,
global data as set) and run in the running kernel on the same frames.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from packets import PROTO_NAMES, arp_request, icmp_echo, ipv6_tcp, tcp, udp

import pybpf
from pybpf import oracle
from pybpf.obj import BpfObject

HERE = Path(__file__).resolve().parent / "c"
XDP = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}
PASS, DROP = 2, 1
CALL = 0x85
BPF_FUNC_TRACE_PRINTK = 6


class Report(Protocol):
    def check(self, ok: bool, text: str, why: str = "") -> None: ...
    def note(self, text: str) -> None: ...


@dataclass(frozen=True)
class Frame:
    """One test run of a program: a frame and the return value the source promises."""

    label: str
    data: bytes
    retval: int


@dataclass(frozen=True)
class CExample:
    stem: str
    """The files: ``c/<stem>.c`` and ``c/<stem>.o``."""
    title: str
    run: Callable[[Report, bool], None]
    """Loads the object, runs it and checks it; the flag asks for the kernel comparison."""

    @property
    def name(self) -> str:
        """What ``run_examples.py NAME`` selects it by."""
        return f"c/{self.stem}"

    @property
    def source(self) -> Path:
        return HERE / f"{self.stem}.c"

    @property
    def object(self) -> Path:
        return HERE / f"{self.stem}.o"


def describe(prog_type: str, retval: int) -> str:
    if prog_type == "xdp":
        return XDP.get(retval, "?")
    return f"= {retval}"


def run_frames(report: Report, obj: BpfObject, prog: str, frames: Sequence[Frame],
               kind: str = "xdp", kernel: bool = False) -> None:  # fmt: skip
    """Run ``prog`` on every frame and check its return values; with ``kernel``, run the
    program exported as a case in the running kernel on the same frames."""
    op = obj.programs[prog]
    for f in frames:
        got = op.run(f.data).retval
        report.check(got == f.retval, f"{prog}: {f.label:<44} {describe(kind, got)}",
                     f"expected {describe(kind, f.retval)}")  # fmt: skip
    if kernel:
        check_in_kernel(report, obj, prog, frames)


def check_in_kernel(report: Report, obj: BpfObject, prog: str, frames: Sequence[Frame]) -> None:
    """The same program (relocated by pybpf, global data as set) loaded into the running
    kernel: it must accept it and answer the same on every frame."""
    case = obj.export_case(prog).to_json()
    bad = []
    processed = 0
    for f in frames:
        res = oracle.load_case(dict(case, run={"data": f.data.hex(), "ctx": None, "repeat": 1}))
        if not res.accepted:
            report.check(False, f"kernel: {prog}", f"the kernel refused it: {res.message}")
            return
        processed = res.insns_processed or 0
        if res.run is None or res.run.errno or res.run.retval != f.retval:
            bad.append(f"{f.label}: kernel gave {res.run}")
    ours = obj.programs[prog].program
    mine = ours.verified.insns_processed if ours is not None and ours.verified else -1
    report.check(not bad, f"kernel: {prog} accepted ({processed} insns processed, pybpf {mine}), "
                 f"same answer on {len(frames)} frames", "; ".join(bad))  # fmt: skip


def u32(b: bytes) -> int:
    return int.from_bytes(b, "little")


# --- 1. XDP packet counter with a hash map ----------------------------------------------

NOT_IPV4 = 256
COUNTER_FRAMES = (
    Frame("TCP  10.0.0.1:40000 -> 10.0.0.2:443", tcp("10.0.0.1", "10.0.0.2", 40000, 443), PASS),
    Frame("TCP  10.0.0.1:40001 -> 10.0.0.2:80", tcp("10.0.0.1", "10.0.0.2", 40001, 80), PASS),
    Frame("UDP  10.0.0.1:5353 -> 224.0.0.251:5353", udp("10.0.0.1", "224.0.0.251", 5353, 5353), PASS),
    Frame("ICMP 10.0.0.1 -> 10.0.0.2 echo request", icmp_echo("10.0.0.1", "10.0.0.2"), PASS),
    Frame("ARP  who-has 10.0.0.2", arp_request("10.0.0.1", "10.0.0.2"), PASS),
    Frame("TCP  10.0.0.3:22 -> 10.0.0.1:50000", tcp("10.0.0.3", "10.0.0.1", 22, 50000), PASS),
    Frame("IPv6 TCP 2001:db8::1 -> 2001:db8::2", ipv6_tcp("2001:db8::1", "2001:db8::2", 40000, 443), PASS),
    Frame("UDP  10.0.0.1:40000 -> 8.8.8.8:53", udp("10.0.0.1", "8.8.8.8", 40000, 53), PASS),
)
EXPECTED_COUNTS = {1: 1, 6: 3, 17: 2, NOT_IPV4: 2}


def xdp_counter(report: Report, kernel: bool) -> None:
    with pybpf.open(HERE / "xdp_counter.o") as obj:
        m = obj.maps["proto_counts"]
        report.note(f"  map proto_counts: {m.spec.type.case_name}, key {m.spec.key_size} B, "
                    f"value {m.spec.value_size} B, {m.spec.max_entries} entries (from .maps BTF)")
        obj.load()
        run_frames(report, obj, "count_protocols", COUNTER_FRAMES, kernel=kernel)
        counts = {u32(k): u32(v) for k, v in obj.maps["proto_counts"].items()}
        shown = ", ".join(f"{PROTO_NAMES.get(k, 'not IPv4' if k == NOT_IPV4 else str(k))}={v}"
                          for k, v in sorted(counts.items()))  # fmt: skip
        report.check(counts == EXPECTED_COUNTS, f"proto_counts after {len(COUNTER_FRAMES)} frames: {shown}",
                     f"expected {EXPECTED_COUNTS}")  # fmt: skip


# --- 2. global data, rodata-driven dead-branch pruning ----------------------------------

TELNET = tcp("10.0.0.1", "10.0.0.2", 40000, 23)
HTTPS = tcp("10.0.0.1", "10.0.0.2", 40000, 443)
UDP_23 = udp("10.0.0.1", "10.0.0.2", 40000, 23)
ARP = arp_request("10.0.0.1", "10.0.0.2")


@dataclass(frozen=True)
class Config:
    blocked_port: int
    log_drops: bool


def load_port_filter(config: Config) -> tuple[BpfObject, int, int, bool]:
    """The object loaded with ``config`` in .rodata (and .data's sample_every = 2): the
    verifier's instruction count, the loaded (rewritten) program's length, and whether
    the trace_printk call survived."""
    obj = pybpf.open(HERE / "global_data.o")
    obj.rodata.blocked_port = config.blocked_port
    obj.rodata.log_drops = config.log_drops
    obj.data.sample_every = 2
    obj.load()
    prog = obj.programs["port_filter"].program
    assert prog is not None and prog.verified is not None
    xlated = prog.verified.xlated
    printk = any(i.code == CALL and i.src == 0 and i.imm == BPF_FUNC_TRACE_PRINTK for i in xlated)
    return obj, prog.verified.insns_processed, len(xlated), printk


def global_data(report: Report, kernel: bool) -> None:
    probe = pybpf.open(HERE / "global_data.o")
    sections = ", ".join(f"{m.real_name} {m.spec.value_size} B" for m in probe.spec.maps if m.internal)
    report.note(f"  data sections as 1-element array maps: {sections}")
    initial = {k: probe.rodata[k] for k in ("blocked_port", "log_drops")}
    report.note(f"  initial values: rodata {initial}, data {dict(probe.data)}, bss {dict(probe.bss)}")
    probe.close()
    frames = (Frame("TCP to port 23", TELNET, PASS), Frame("TCP to port 443", HTTPS, PASS),
              Frame("UDP to port 23", UDP_23, PASS), Frame("ARP", ARP, PASS))  # fmt: skip
    seen: dict[Config, tuple[int, int]] = {}
    for config in (Config(0, False), Config(23, False), Config(23, True)):
        obj, processed, length, printk = load_port_filter(config)
        seen[config] = (processed, length)
        block = config.blocked_port
        report.note(f"  rodata blocked_port={block} log_drops={int(config.log_drops)}: "
                    f"verifier processed {processed} insns, loaded program {length} insns, "
                    f"bpf_printk call {'kept' if printk else 'removed as dead code'}")  # fmt: skip
        report.check(printk == config.log_drops, "    the printk branch is live exactly when log_drops is set")
        want = [Frame(f.label, f.data, DROP if block and f.data in (TELNET, UDP_23) else PASS)
                for f in frames]  # fmt: skip
        run_frames(report, obj, "port_filter", want, kernel=kernel and not config.log_drops)
        drops = sum(1 for f in want if f.retval == DROP)
        bss, data = dict(obj.bss), dict(obj.data)
        report.check(bss == {"frames_seen": len(want), "sampled": len(want) // 2, "dropped": drops,
                             "passed": len(want) - drops} and data == {"sample_every": 2},
                     f"    after the runs: bss {bss}, data {data}")  # fmt: skip
        lines = [ev.message for ev in obj.kernel.trace.read()]
        if config.log_drops:
            report.check(lines == ["dropped a frame to port 23"] * drops,
                         f"    trace_pipe: {len(lines)} lines 'dropped a frame to port 23'", f"got {lines}")
        obj.close()
    off, on = seen[Config(0, False)], seen[Config(23, False)]
    report.check(off[0] < on[0] and off[1] < on[1],
                 "blocked_port=0 prunes the port comparison: fewer insns verified and loaded")


# --- 3. bpf-to-bpf calls ----------------------------------------------------------------

CALL_FRAMES = (
    Frame("TCP 10.0.0.1:40000 -> 10.0.0.2:443", tcp("10.0.0.1", "10.0.0.2", 40000, 443), PASS),
    Frame("TCP 10.0.0.3:22 -> 10.0.0.1:50000", tcp("10.0.0.3", "10.0.0.1", 22, 50000), PASS),
    Frame("UDP 10.0.0.1:40000 -> 10.0.0.2:50000", udp("10.0.0.1", "10.0.0.2", 40000, 50000), DROP),
    Frame("ICMP 10.0.0.1 -> 10.0.0.2 (no ports)", icmp_echo("10.0.0.1", "10.0.0.2"), PASS),
)


def bpf_to_bpf_call(report: Report, kernel: bool) -> None:
    with pybpf.open(HERE / "bpf_to_bpf_call.o") as obj:
        linked = obj.programs["classify"].link()
        placed = ", ".join(f"{name} at {off}" for name, off in linked.subprogs)
        report.check([n for n, _ in linked.subprogs] == ["port_pair", "either_well_known", "well_known"],
                     f"classify linked with its .text subprograms: {placed}")  # fmt: skip
        obj.load()
        run_frames(report, obj, "classify", CALL_FRAMES, kernel=kernel)


# --- 4. bounded loops -------------------------------------------------------------------


def damaged_checksum(frame: bytes) -> bytes:
    out = bytearray(frame)
    out[14 + 10] ^= 0x5A  # the IPv4 header checksum's first byte
    return bytes(out)


def bounded_loop(report: Report, kernel: bool) -> None:
    with pybpf.open(HERE / "bounded_loop.o") as obj:
        obj.load()
        for name, op in obj.programs.items():
            assert op.program is not None and op.program.verified is not None
            report.note(f"  {name}: {len(op.insns)} insns, verifier walked {op.program.verified.insns_processed}")
        popcounts = (
            Frame("IPv4 TCP: bytes 45 00 00 28 12 34 40 00", HTTPS, 11),
            Frame("ARP: bytes 00 01 08 00 06 04 00 01", ARP, 6),
        )
        linked = obj.programs["popcount_bpf_loop"].link()
        report.check([n for n, _ in linked.subprogs] == ["count_byte"] and len(linked.func_info) == 2,
                     "popcount_bpf_loop: callback count_byte linked after it, with its func_info")  # fmt: skip
        run_frames(report, obj, "popcount", popcounts, kind="socket", kernel=kernel)
        run_frames(report, obj, "popcount_bpf_loop", popcounts, kind="socket")
        if kernel:  # a callback needs the program's BTF func_info, which a case cannot carry
            report.note("  kernel: popcount_bpf_loop not compared (cases carry no BTF)")
        run_frames(report, obj, "ip_checksum", (
            Frame("IPv4 TCP, header checksum right", HTTPS, PASS),
            Frame("IPv4 UDP, header checksum right", UDP_23, PASS),
            Frame("IPv4 TCP, header checksum damaged", damaged_checksum(HTTPS), DROP),
            Frame("ARP (not IPv4)", ARP, PASS),
        ), kernel=kernel)  # fmt: skip


# --- 5. tail-call dispatcher ------------------------------------------------------------

HITS = ("tcp", "udp", "fallback")


def tail_call(report: Report, kernel: bool) -> None:
    with pybpf.open(HERE / "tail_call.o") as obj:
        slots = obj.maps["handlers"].definition.init_slots
        filled = {i: s for i, s in enumerate(slots) if s is not None}
        report.check(filled == {6: "handle_tcp", 17: "handle_udp"},
                     f"prog array 'handlers' initialised from .values: {filled}")  # fmt: skip
        obj.load()
        frames = (
            Frame("TCP to port 443 -> handle_tcp", HTTPS, PASS),
            Frame("TCP to port 23 -> handle_tcp", TELNET, DROP),
            Frame("UDP -> handle_udp", UDP_23, PASS),
            Frame("ICMP -> empty slot 1, fallback", icmp_echo("10.0.0.1", "10.0.0.2"), PASS),
            Frame("ARP -> no tail call, fallback", ARP, PASS),
        )
        run_frames(report, obj, "dispatch", frames)
        hits = dict(zip(HITS, obj.bss.hits, strict=True))
        report.check(hits == {"tcp": 2, "udp": 1, "fallback": 2}, f"bss hits after the runs: {hits}")
        del obj.maps["handlers"][struct.pack("<I", 17)]
        run_frames(report, obj, "dispatch", (Frame("UDP after deleting slot 17 -> fallback", UDP_23, PASS),))
        hits = dict(zip(HITS, obj.bss.hits, strict=True))
        report.check(hits == {"tcp": 2, "udp": 1, "fallback": 3}, f"bss hits now: {hits}")
        if kernel:
            # the kernel gets each handler alone (a case has no program-array slots)
            check_in_kernel(report, obj, "handle_tcp", frames[:2])
            check_in_kernel(report, obj, "handle_udp", frames[2:3])


C_EXAMPLES = (
    CExample("xdp_counter", "XDP packet counter, per IP protocol, in a BTF-defined hash map", xdp_counter),
    CExample("global_data", ".rodata config, .data/.bss counters, rodata-driven dead-branch pruning",
             global_data),
    CExample("bpf_to_bpf_call", "bpf-to-bpf calls: static subprograms and a global function",
             bpf_to_bpf_call),
    CExample("bounded_loop", "bounded loops and bpf_loop: popcount of 8 bytes, IPv4 header checksum",
             bounded_loop),
    CExample("tail_call", "a tail-call dispatcher with a program array filled from .values", tail_call),
)  # fmt: skip
