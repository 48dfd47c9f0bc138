#!/usr/bin/env python3
"""How fast the reference interpreter runs BPF programs, in instructions per second.

Each benchmark is an assembler program under ``bench/programs/`` with one fixed input
packet.  For each one the runner

1. loads it into a fresh simulated kernel and runs it once to warm up (map inserts,
   handler compilation),
2. runs it once more with the interpreter's ``trace`` hook to count the instructions a
   run executes, and checks the count against the one worked out by hand from the source
   (so "instructions per second" is exact, not estimated),
3. times ``Program.run(repeat=N)`` for several rounds and keeps the best ns/run (the
   least disturbed by other work on the machine; the median is in ``--json``), and
4. where the running kernel answers bpf(), loads the same instructions there (maps
   created for real and passed through ``fd_array``) and times ``BPF_PROG_TEST_RUN``
   with the same packet, for the pybpf/kernel ratio.

Every run's return value is checked against a Python model of the program, on pybpf and
on the kernel, so a fast wrong answer cannot pass as a result.  Usage::

    .venv/bin/python bench/run.py            # full run, about 15 s
    .venv/bin/python bench/run.py --quick    # smoke run, about 2 s
    .venv/bin/python bench/run.py --json     # one JSON object instead of the table
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from pybpf import oracle
from pybpf.errors import BpfError
from pybpf.isa import Insn, assemble, encode
from pybpf.kernel.state import Kernel
from pybpf.maps.types import MapSpec, MapType
from pybpf.program import Program, load_program
from pybpf.vm.executable import Executable
from pybpf.vm.testrun import interpreter_for

PROGRAMS = Path(__file__).resolve().parent / "programs"
M64 = (1 << 64) - 1
XDP_PASS = 2


# --- the input packets -------------------------------------------------------------------


def ipv4_checksum(header: bytes) -> int:
    """The IPv4 header checksum (RFC 791) of ``header`` with its checksum field zero."""
    total = sum(int(w) for w in struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_packet(payload_len: int = 0) -> bytes:
    """Ethernet + IPv4 + TCP SYN 10.0.0.1:54321 -> 10.0.0.2:443, with a valid IP checksum."""
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    tcp = struct.pack("!HHIIBBHHH", 54321, 443, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
    total = 20 + len(tcp) + payload_len
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 1, 0x4000, 64, 6, 0,
                               bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])))  # fmt: skip
    struct.pack_into("!H", ip, 10, ipv4_checksum(bytes(ip)))
    payload = bytes((i * 7 + 3) & 0xFF for i in range(payload_len))
    return eth + bytes(ip) + tcp + payload


# --- Python models of the programs (what each run must return) --------------------------


def alu_loop_model(packet: bytes) -> int:
    x = 0x12345678
    for i in range(1000):
        x ^= (x << 13) & M64
        x ^= x >> 7
        x ^= (x << 17) & M64
        x = (x + i) & M64
    return x & 0xFFFFFFFF


def checksum_model(packet: bytes) -> int:
    data = packet[: min(len(packet), 2048) & ~1]
    total = sum(int(w) for w in struct.unpack(f"<{len(data) // 2}H", data))
    for _ in range(2):
        total = (total & 0xFFFF) + (total >> 16)
    return total ^ 0xFFFF


def always_pass(packet: bytes) -> int:
    return XDP_PASS


# --- the benchmarks ---------------------------------------------------------------------


@dataclass(frozen=True)
class Benchmark:
    """One program, its input, what a run must do, and how often to run it."""

    name: str
    what: str
    prog_type: str
    packet: bytes
    insns_per_run: int
    """Worked out by hand from the source; the trace hook's count must agree."""
    model: Callable[[bytes], int]
    repeat: int
    """pybpf runs per timing round: a round takes about a tenth of a second, short enough
    that some rounds fall between the bursts of other work on a shared machine."""
    kernel_repeat: int
    maps: tuple[MapSpec, ...] = ()
    counts_runs: bool = False
    """Map 0 ends up holding one element whose u64 value is the number of runs made."""

    @property
    def source(self) -> Path:
        return PROGRAMS / f"{self.name}.s"


CHECKSUM_PACKET = tcp_packet(payload_len=970)  # 1024 bytes in all

BENCHMARKS = (
    Benchmark("return_only", "fixed cost of one run", "xdp", tcp_packet(), 2, always_pass,
              repeat=5_000, kernel_repeat=1_000_000),
    Benchmark("alu_loop", "tight ALU loop, 1000 rounds", "socket_filter", tcp_packet(), 3 + 1000 * 12 + 1,
              alu_loop_model, repeat=40, kernel_repeat=20_000),
    Benchmark("packet_parser", "Eth/IPv4/TCP parse, XDP verdict", "xdp", tcp_packet(), 39,
              always_pass, repeat=3_000, kernel_repeat=1_000_000),
    Benchmark("map_counter", "hash lookup + atomic add per packet", "xdp", tcp_packet(), 19,
              always_pass, repeat=3_000, kernel_repeat=1_000_000,
              maps=(MapSpec(MapType.HASH, 4, 8, 1024),), counts_runs=True),
    # 4 setup + 512 full iterations of 9 + 5 of the leaving one + 10 folding and exit
    Benchmark("checksum", "RFC 1071 sum over 1024 packet bytes", "xdp", CHECKSUM_PACKET,
              4 + 512 * 9 + 5 + 10, checksum_model, repeat=80, kernel_repeat=100_000),
)  # fmt: skip


# --- measuring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    name: str
    what: str
    insns_per_run: int
    retval: int
    pybpf_runs: int
    pybpf_ns_per_run: float
    """Best round's ns per run (rounds on a shared machine only ever get slower)."""
    pybpf_median_ns_per_run: float
    kernel_ns_per_run: float | None
    kernel_median_ns_per_run: float | None

    @property
    def ns_per_insn(self) -> float:
        return self.pybpf_ns_per_run / self.insns_per_run

    @property
    def minsn_per_s(self) -> float:
        return self.insns_per_run / self.pybpf_ns_per_run * 1e3

    @property
    def ratio(self) -> float | None:
        if not self.kernel_ns_per_run:
            return None
        return self.pybpf_ns_per_run / self.kernel_ns_per_run

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(ns_per_insn=self.ns_per_insn, minsn_per_s=self.minsn_per_s,
                   pybpf_over_kernel=self.ratio)  # fmt: skip
        return out


class BenchFailure(Exception):
    """A benchmark did not do what its model says: its figures would mean nothing."""


def count_instructions(program: Program, packet: bytes) -> int:
    """Instructions one run executes, counted by the interpreter's ``trace`` hook.

    ``Program.run`` has no way to pass the hook through, so the run goes through the
    program's interpreter with ``run`` wrapped to add it.
    """
    interp = interpreter_for(program)
    executed = 0

    def hook(pc: int, regs: list[int]) -> None:
        nonlocal executed
        executed += 1

    untraced = interp.run

    def traced(exe: Executable, r1: int = 0, r2: int = 0, **kwargs: Any) -> int:
        return untraced(exe, r1, r2, trace=hook, **kwargs)

    with mock.patch.object(interp, "run", traced):
        program.run(data=packet)
    return executed


def measure_pybpf(bench: Benchmark, insns: list[Insn], repeat: int, rounds: int) -> tuple[list[int], int]:
    """ns per run of each of ``rounds`` rounds of ``repeat`` runs, and the runs made."""
    kernel = Kernel(seed=0)
    maps = [kernel.create_map(spec) for spec in bench.maps]
    program = load_program(insns, bench.prog_type, maps=maps, kernel=kernel, name=bench.name)
    expected = bench.model(bench.packet)
    runs = 0

    def check(retval: int, what: str) -> None:
        if retval != expected:
            raise BenchFailure(f"{bench.name}: {what} returned {retval}, the model says {expected}")

    check(program.run(data=bench.packet).retval, "the warm-up run")
    counted = count_instructions(program, bench.packet)
    runs += 2
    if counted != bench.insns_per_run:
        raise BenchFailure(f"{bench.name}: a run executed {counted} instructions, "
                           f"the source says {bench.insns_per_run}")  # fmt: skip
    timings = []
    for _ in range(rounds):
        res = program.run(data=bench.packet, repeat=repeat)
        check(res.retval, f"run(repeat={repeat})")
        timings.append(res.duration_ns)
        runs += repeat
    if bench.counts_runs:
        counts = [int.from_bytes(v, "little") for v in maps[0].values()]
        if counts != [runs]:
            raise BenchFailure(f"{bench.name}: map holds counts {counts} after {runs} runs")
    return timings, runs


def measure_kernel(bench: Benchmark, insns: list[Insn], repeat: int, rounds: int) -> list[int]:
    """ns per run of ``BPF_PROG_TEST_RUN`` on the running kernel, one figure per round.

    The program is loaded as ``oracle.load_case`` loads a case (maps created for real,
    ``map[idx:N]`` resolved through ``fd_array``), but once for all rounds: ``load_case``
    runs a case a single time and closes its objects.
    """
    expected = bench.model(bench.packet)
    raw = encode(insns)
    with oracle.Session() as session:
        fds = [session.map_create(int(m.type), m.key_size, m.value_size, m.max_entries, m.flags)
               for m in bench.maps]  # fmt: skip
        loaded = session.prog_load(
            oracle.prog_type_by_name(bench.prog_type), raw,
            fd_array=oracle.fd_array_for(raw, fds) or None, log_level=0,
        )  # fmt: skip
        if loaded.fd is None:
            raise BenchFailure(f"{bench.name}: the kernel refused the program "
                               f"({os.strerror(loaded.errno)})")  # fmt: skip
        timings = []
        for _ in range(rounds):
            out = oracle.prog_test_run(loaded.fd, bench.packet, repeat=repeat)
            if out.errno:
                raise BenchFailure(f"{bench.name}: kernel test run failed ({os.strerror(out.errno)})")
            if out.retval != expected:
                raise BenchFailure(f"{bench.name}: the kernel returned {out.retval}, "
                                   f"the model says {expected}")  # fmt: skip
            timings.append(out.duration_ns)
    return timings


# --- reporting ----------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), "")  # fmt: skip
    except OSError:
        pass
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model or platform.processor() or "unknown",
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }


def print_table(results: list[Result], info: dict[str, str], header: str) -> None:
    print(header)
    print(f"machine: nproc {info['nproc']}, {info['cpu']}, Linux {info['kernel']}, {info['python']}")
    print()
    cols = (f"{'program':<14} {'insns/run':>9} {'pybpf ns/run':>13} {'ns/insn':>8} "
            f"{'Minsn/s':>8} {'kernel ns/run':>13} {'pybpf/kernel':>12}")  # fmt: skip
    print(cols)
    print("-" * len(cols))
    for r in results:
        kernel = f"{r.kernel_ns_per_run:13,.0f}" if r.kernel_ns_per_run is not None else f"{'-':>13}"
        ratio = f"{r.ratio:11,.0f}x" if r.ratio is not None else f"{'-':>12}"
        print(f"{r.name:<14} {r.insns_per_run:>9,} {r.pybpf_ns_per_run:>13,.0f} "
              f"{r.ns_per_insn:>8,.0f} {r.minsn_per_s:>8.2f} {kernel} {ratio}")  # fmt: skip
    print()
    for r in results:
        print(f"  {r.name:<14} {r.what}; retval {r.retval}, checked on every round")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run: one short round each")
    parser.add_argument("--rounds", type=int, default=15, help="timing rounds (the best is kept)")
    parser.add_argument("--no-kernel", action="store_true", help="do not time the running kernel")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    rounds = 1 if args.quick else max(args.rounds, 1)
    benches = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    unknown = set(args.only or ()) - {b.name for b in BENCHMARKS}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    use_kernel = not args.no_kernel and oracle.available()
    kernel_note = ("timed" if use_kernel else "not timed: "
                   + ("--no-kernel" if args.no_kernel else oracle.unavailable_reason()))  # fmt: skip

    started = time.perf_counter()
    results: list[Result] = []
    try:
        for bench in benches:
            insns = assemble(bench.source.read_text())
            repeat = max(bench.repeat // 20, 1) if args.quick else bench.repeat
            kernel_repeat = max(bench.kernel_repeat // 100, 1) if args.quick else bench.kernel_repeat
            ns, runs = measure_pybpf(bench, insns, repeat, rounds)
            kernel_ns = measure_kernel(bench, insns, kernel_repeat, rounds) if use_kernel else []
            results.append(Result(
                bench.name, bench.what, bench.insns_per_run, bench.model(bench.packet), runs,
                min(ns), statistics.median(ns),
                min(kernel_ns) if kernel_ns else None,
                statistics.median(kernel_ns) if kernel_ns else None,
            ))  # fmt: skip
    except (BenchFailure, BpfError) as exc:  # OracleError is a BpfError
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started

    info = machine()
    if args.json:
        print(json.dumps({"machine": info, "rounds": rounds, "quick": args.quick,
                          "kernel": kernel_note, "elapsed_s": round(elapsed, 1),
                          "results": [r.to_json() for r in results]}, indent=2))  # fmt: skip
        return 0
    mode = "quick smoke run, 1 round" if args.quick else f"best of {rounds} rounds"
    print_table(results, info, f"pybpf reference interpreter vs BPF_PROG_TEST_RUN ({mode}; "
                               f"kernel {kernel_note}; {elapsed:.1f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
