#!/usr/bin/env python3
"""How fast each execution tier runs BPF programs, beside the kernel's JIT.

Each benchmark is an assembler program under ``bench/programs/`` with one fixed input
packet.  For each one, and for each installed tier (interp, python, jit), the runner

1. loads it into a fresh simulated kernel and runs it once to warm up (map inserts,
   handler compilation),
2. runs it once more with the interpreter's ``trace`` hook to count the instructions a
   run executes, and checks the count against the one worked out by hand from the source
   (so "instructions per second" is exact, not estimated),
3. times ``Program.run(repeat=N)`` on the tier for several rounds and keeps the best
   ns/run (the least disturbed by other work on the machine; the median is in
   ``--json``); N is the benchmark's interpreter count, scaled for faster tiers so that
   a round takes about a tenth of a second, and
4. where the running kernel answers bpf(), loads the same instructions there (maps
   created for real and passed through ``fd_array``) and times ``BPF_PROG_TEST_RUN``
   with the same packet, for the pybpf/kernel ratio.

Every run's return value is checked against a Python model of the program, on pybpf and
on the kernel, so a fast wrong answer cannot pass as a result.  Last, the jit tier's
compile time is measured on a generated 1,000-instruction program (wall and CPU time,
best and median of 20 fresh compilations: the code cache is keyed by the program's hash,
so each compiled program differs in one immediate).  Usage::

    .venv/bin/python bench/run.py            # full run, about a minute
    .venv/bin/python bench/run.py --quick    # smoke run, a few seconds
    .venv/bin/python bench/run.py --tiers jit --only alu_loop
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
from pybpf.vm.tiers import Tier, available, using

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
    Benchmark("array_counter", "array lookup + atomic add per packet", "xdp", tcp_packet(), 15,
              always_pass, repeat=3_000, kernel_repeat=1_000_000,
              maps=(MapSpec(MapType.ARRAY, 4, 8, 1),), counts_runs=True),
    # 4 setup + 512 full iterations of 9 + 5 of the leaving one + 10 folding and exit
    Benchmark("checksum", "RFC 1071 sum over 1024 packet bytes", "xdp", CHECKSUM_PACKET,
              4 + 512 * 9 + 5 + 10, checksum_model, repeat=80, kernel_repeat=100_000),
)  # fmt: skip


# --- measuring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TierResult:
    tier: str
    runs: int
    ns_per_run: float
    """Best round's ns per run (rounds on a shared machine only ever get slower)."""
    median_ns_per_run: float


@dataclass(frozen=True)
class Result:
    name: str
    what: str
    insns_per_run: int
    retval: int
    tiers: tuple[TierResult, ...]
    kernel_ns_per_run: float | None
    kernel_median_ns_per_run: float | None

    def tier(self, name: str) -> TierResult | None:
        return next((t for t in self.tiers if t.tier == name), None)

    def ratio(self, name: str) -> float | None:
        t = self.tier(name)
        if t is None or not self.kernel_ns_per_run:
            return None
        return t.ns_per_run / self.kernel_ns_per_run

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["tiers"] = {
            t.tier: {**asdict(t), "ns_per_insn": t.ns_per_run / self.insns_per_run,
                     "minsn_per_s": self.insns_per_run / t.ns_per_run * 1e3,
                     "over_kernel": self.ratio(t.tier)}
            for t in self.tiers
        }  # fmt: skip
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

    with mock.patch.object(interp, "run", traced), using(Tier.INTERP):
        program.run(data=packet)
    return executed


ROUND_SECONDS = 0.1


def measure_pybpf(
    bench: Benchmark, insns: list[Insn], repeat: int, rounds: int, tier: Tier, calibrate: bool = True
) -> tuple[list[int], int]:
    """ns per run of each of ``rounds`` rounds on ``tier``, and the runs made.  With
    ``calibrate`` the runs per round grow from ``repeat`` until a round takes about
    ``ROUND_SECONDS`` (faster tiers need many more runs for a steady figure)."""
    kernel = Kernel(seed=0)
    maps = [kernel.create_map(spec) for spec in bench.maps]
    program = load_program(insns, bench.prog_type, maps=maps, kernel=kernel, name=bench.name)
    expected = bench.model(bench.packet)
    runs = 0

    def check(retval: int, what: str) -> None:
        if retval != expected:
            raise BenchFailure(f"{bench.name}: {what} on {tier.value} returned {retval}, the model says {expected}")

    with using(tier):
        check(program.run(data=bench.packet).retval, "the warm-up run")
        counted = count_instructions(program, bench.packet)
        runs += 2
        if counted != bench.insns_per_run:
            raise BenchFailure(f"{bench.name}: a run executed {counted} instructions, "
                               f"the source says {bench.insns_per_run}")  # fmt: skip
        if calibrate:
            while True:
                res = program.run(data=bench.packet, repeat=repeat)
                check(res.retval, f"run(repeat={repeat})")
                runs += repeat
                if res.duration_ns * repeat >= ROUND_SECONDS * 1e9 / 4 or repeat >= 50_000_000:
                    break
                repeat *= 4
        timings = []
        for _ in range(rounds):
            res = program.run(data=bench.packet, repeat=repeat)
            check(res.retval, f"run(repeat={repeat})")
            timings.append(res.duration_ns)
            runs += repeat
    if bench.counts_runs:
        counts = [int.from_bytes(v, "little") for v in maps[0].values()]
        if counts != [runs]:
            raise BenchFailure(f"{bench.name}: map holds counts {counts} after {runs} runs on {tier.value}")
    return timings, runs


def compile_program(n: int, variant: int) -> list[Insn]:
    """A deterministic ``n``-instruction program for timing the jit's compiler: packet
    bounds checks and loads, ALU work over six registers, stack stores and loads, forward
    branches, an array map lookup, as compiled programs mix them."""
    import random

    rng = random.Random(7)
    src = ["r6 = r1", "r7 = *(u32 *)(r6 + 0)", "r8 = *(u32 *)(r6 + 4)", "r2 = r7", "r2 += 64",
           "if r2 > r8 goto out", f"r0 = {variant}"]  # fmt: skip
    body = 0
    while len(src) < n - 2:
        k = rng.randrange(10)
        a, b = rng.randrange(6), rng.randrange(6)
        if k < 4:
            op = rng.choice(["+=", "-=", "^=", "|=", "&=", "*=", "<<=", ">>="])
            src.append(f"r{a} {op} {rng.randrange(1, 31)}" if rng.random() < 0.5 else f"r{a} {op} r{b}")
        elif k == 4:
            src.append(f"*(u64 *)(r10 - {8 * rng.randrange(1, 32)}) = r{a}")
        elif k == 5:
            src.append(f"r{a} = *(u64 *)(r10 - {8 * rng.randrange(1, 32)})")
        elif k == 6:
            src.append(f"r{a} = *(u{rng.choice([8, 16, 32])} *)(r7 + {rng.randrange(0, 60)})")
        elif k == 7:
            src.append(f"if r{a} > {rng.randrange(100)} goto +{rng.randrange(0, 3)}")
        else:
            src.append(f"w{a} += w{b}")
        body += 1
    src += ["out:", "exit"]
    insns = assemble("\n".join(src))
    return insns[:n] if len(insns) > n else insns


def measure_compile(n: int = 1000, attempts: int = 20) -> dict[str, Any] | None:
    """The jit's compile time (IR generation, optimisation, machine code) of fresh
    ``n``-instruction programs at each optimisation level: best wall and best CPU
    milliseconds, the median wall and CPU, and which level a program of this size gets."""
    if Tier.JIT not in available():
        return None
    from pybpf.vm.jit.codegen import Generator, entries_of
    from pybpf.vm.jit.engine import FAST, FULL, Compiled, level_for

    out: dict[str, Any] = {"insns": n, "default_level": level_for(n)}
    for level in (FAST, FULL):
        wall, cpu = [], []
        for variant in range(attempts + 1):
            exe = Executable(compile_program(n, variant), f"compile{variant}")
            w, c = time.perf_counter(), time.thread_time()
            Compiled(Generator(exe, entries_of(exe)).generate(), level)
            if variant:  # the first one also pays for LLVM's start-up
                wall.append((time.perf_counter() - w) * 1e3)
                cpu.append((time.thread_time() - c) * 1e3)
        out[level] = {"best_wall_ms": min(wall), "median_wall_ms": statistics.median(wall), "best_cpu_ms": min(cpu),
                      "median_cpu_ms": statistics.median(cpu)}  # fmt: skip
    return out


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


def print_table(results: list[Result], tiers: list[str], info: dict[str, str], header: str,
                compile_ms: dict[str, Any] | None) -> None:  # fmt: skip
    print(header)
    print(f"machine: nproc {info['nproc']}, {info['cpu']}, Linux {info['kernel']}, {info['python']}")
    print()
    cols = f"{'program':<14} {'insns/run':>9} " + "".join(f"{t + ' ns/run':>14}" for t in tiers)
    cols += f"{'kernel ns/run':>14}" + "".join(f"{t + '/kernel':>14}" for t in tiers)
    print(cols)
    print("-" * len(cols))
    for r in results:
        line = f"{r.name:<14} {r.insns_per_run:>9,} "
        for t in tiers:
            tr = r.tier(t)
            line += f"{tr.ns_per_run:>14,.0f}" if tr is not None else f"{'-':>14}"
        line += f"{r.kernel_ns_per_run:>14,.0f}" if r.kernel_ns_per_run is not None else f"{'-':>14}"
        for t in tiers:
            ratio = r.ratio(t)
            line += f"{ratio:>13,.1f}x" if ratio is not None else f"{'-':>14}"
        print(line)
    ratios = {t: [x for r in results if (x := r.ratio(t)) is not None] for t in tiers}
    if any(ratios.values()):
        print(f"{'median':<14} {'':>9} " + " " * 14 * len(tiers) + f"{'':>14}"
              + "".join(f"{statistics.median(v):>13,.1f}x" if v else f"{'-':>14}" for v in ratios.values()))
    print()
    for r in results:
        print(f"  {r.name:<14} {r.what}; retval {r.retval}, checked on every round of every tier")
    if compile_ms is not None:
        print()
        n = compile_ms["insns"]
        for level in ("fast", "full"):
            c = compile_ms[level]
            used = " (what this size gets)" if level == compile_ms["default_level"] else ""
            print(f"jit compile time, {n:,}-instruction program, {level} level{used}: best "
                  f"{c['best_wall_ms']:.1f} ms wall ({c['best_cpu_ms']:.1f} ms CPU), median {c['median_wall_ms']:.1f} ms wall")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run: one short round each")
    parser.add_argument("--rounds", type=int, default=15, help="timing rounds (the best is kept)")
    parser.add_argument("--no-kernel", action="store_true", help="do not time the running kernel")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--tiers", nargs="+", metavar="TIER", choices=[t.value for t in Tier],
                        help="tiers to time (default: every installed one)")  # fmt: skip
    parser.add_argument("--no-compile", action="store_true", help="skip the jit compile-time figure")
    args = parser.parse_args(argv)
    installed = [t.value for t in available()]
    tiers = [t for t in ("interp", "python", "jit") if t in (args.tiers or installed)]
    missing = [t for t in tiers if t not in installed]
    if missing:
        parser.error(f"tier(s) not installed: {', '.join(missing)}")

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
            per_tier = []
            for tier in tiers:
                ns, runs = measure_pybpf(bench, insns, repeat, rounds, Tier(tier), calibrate=not args.quick)
                per_tier.append(TierResult(tier, runs, min(ns), statistics.median(ns)))
            kernel_ns = measure_kernel(bench, insns, kernel_repeat, rounds) if use_kernel else []
            results.append(Result(
                bench.name, bench.what, bench.insns_per_run, bench.model(bench.packet), tuple(per_tier),
                min(kernel_ns) if kernel_ns else None,
                statistics.median(kernel_ns) if kernel_ns else None,
            ))  # fmt: skip
        compile_ms = None if args.no_compile else measure_compile(attempts=1 if args.quick else 20)
    except (BenchFailure, BpfError) as exc:  # OracleError is a BpfError
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started

    info = machine()
    if args.json:
        print(json.dumps({"machine": info, "rounds": rounds, "quick": args.quick,
                          "kernel": kernel_note, "elapsed_s": round(elapsed, 1),
                          "results": [r.to_json() for r in results], "jit_compile": compile_ms},
                         indent=2))  # fmt: skip
        return 0
    mode = "quick smoke run, 1 round" if args.quick else f"best of {rounds} rounds"
    print_table(results, tiers, info, f"pybpf tiers vs BPF_PROG_TEST_RUN ({mode}; "
                                      f"kernel {kernel_note}; {elapsed:.1f} s)", compile_ms)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
