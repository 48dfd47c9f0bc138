"""How fast pybpf's verifier judges programs, beside the running kernel's verifier.

Two kinds of input:

* **loops**: generated programs whose bounded loops make the verifier walk many
  instructions (from a few thousand to close to the kernel's one-million limit), the
  worst case for a verifier written in Python;
* **selftests**: every converted ``test_verifier`` case of Linux 6.1 (read from Debian's
  ``linux-source-6.1``; skipped when it is not installed), judged one after another;
* **corpus**: every test program of the 6.12 ``progs/verifier_*.c`` selftests, compiled
  by clang (``tests/selftests/verifier_progs.py`` builds them into the cache directory;
  skipped without clang-19 and ``linux-source-6.12``): real compiler output, with
  subprograms, BTF and maps, loaded alone at its annotated flags.

For each, pybpf's instructions processed per second (of CPU time: the machine may be
shared, and CPU time is what one core gives pybpf) and its wall time, and, where ``bpf()``
answers, the kernel's own ``verification time`` (log level 4, best of three loads) for
the same program and the ratio, each side the best of three verifications (``--rounds``).
A warm-up program runs first, so that importing pybpf's
modules is not counted.  Run ``.venv/bin/python bench/verify.py [--quick] [--corpus]
[--no-kernel] [--json]`` (``--corpus``: the clang programs only).  The first line names
the verifier measured: pure Python, or the mypyc build ``make accel`` made of exactly these
sources (``PYBPF_PURE=1`` measures pure Python even then).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pybpf.case import Case, _case_maps
from pybpf.isa import assemble, encode_hex
from pybpf.kernel.state import Kernel
from pybpf.verifier import Options, build_info, verify

_KERNEL_TIME = re.compile(r"verification time (\d+) usec")

ROUNDS = 3
"""Verifications per program, best kept, on both sides (``--rounds``): a shared machine
only ever makes a round slower."""

SLOW_MS = 1000.0
"""A program that takes pybpf longer than this is timed once."""


@dataclass(frozen=True)
class Figure:
    name: str
    insns_processed: int
    pybpf_ms: float
    kernel_ms: float | None
    pybpf_cpu_ms: float = 0.0

    @property
    def per_second(self) -> float:
        """Processed instructions per second of CPU time (the machine may be shared: CPU
        time is what one core gives pybpf, wall time adds whatever else ran)."""
        ms = self.pybpf_cpu_ms or self.pybpf_ms
        return self.insns_processed / (ms / 1000) if ms else 0.0

    @property
    def ratio(self) -> float | None:
        ms = self.pybpf_cpu_ms or self.pybpf_ms
        return ms / self.kernel_ms if self.kernel_ms else None


def loop_case(iterations: int, body: int) -> dict[str, Any]:
    """A counted loop whose body is ``body`` ALU instructions on a second register."""
    lines = ["r1 = 0", "r2 = 0", "loop:"]
    lines += [f"r2 += {i + 1}" if i % 2 == 0 else "r2 ^= r1" for i in range(body)]
    lines += ["r1 += 1", f"if r1 < {iterations} goto loop", "r0 = 0", "exit"]
    insns = assemble("\n".join(lines))
    return {
        "name": f"loop {iterations}x{body}",
        "prog_type": "socket_filter",
        "insns": encode_hex(insns),
    }


def loop_cases(quick: bool) -> list[dict[str, Any]]:
    shapes = [(1000, 4), (5000, 8)] if quick else [(1000, 4), (5000, 8), (20000, 10), (60000, 14)]
    return [loop_case(n, b) for n, b in shapes]


def selftest_cases() -> Iterator[dict[str, Any]]:
    try:
        from pybpf.selftests.test_verifier import iter_cases

        for sc in iter_cases():
            if sc.case is not None:
                yield dict(sc.case)
    except Exception as exc:  # the source tarball is optional
        print(f"selftests skipped: {exc}", file=sys.stderr)


def pybpf_time(case_json: dict[str, Any], rounds: int = ROUNDS) -> tuple[int, float, float]:
    """pybpf's verifier on one case at log level 0: processed, wall ms, CPU ms, each time
    the best of ``rounds`` verifications (as the kernel's figure is the best of as many
    loads; the maps are made once, outside the timing)."""
    case = Case.from_json(case_json)
    kernel = Kernel(seed=0)
    maps = _case_maps(case, kernel)
    flags = int(case_json.get("prog_flags", 0))
    opts = Options(strict_alignment=bool(flags & 1), any_alignment=bool(flags & 2))
    insns = list(case.insns)
    best_wall = best_cpu = float("inf")
    processed = 0
    for _ in range(rounds):
        c0 = time.process_time()
        t0 = time.perf_counter()
        res = verify(insns, case.prog_type, maps=maps, kernel=kernel,
                     expected_attach_type=case.expected_attach_type, options=opts)  # fmt: skip
        best_wall = min(best_wall, (time.perf_counter() - t0) * 1000)
        best_cpu = min(best_cpu, (time.process_time() - c0) * 1000)
        processed = res.insns_processed
        if best_wall > SLOW_MS:  # one round says enough about a slow program
            break
    for m in maps:
        m.close()
    return processed, best_wall, best_cpu


def kernel_time(case_json: dict[str, Any], rounds: int = ROUNDS) -> float | None:
    """The kernel's own ``verification time`` (log level 4), best of ``rounds`` loads:
    it is wall time inside the kernel, so a busy machine only ever makes it longer."""
    best: float | None = None
    for _ in range(rounds):
        try:
            from pybpf import oracle

            res = oracle.load_case(dict(case_json, run=None), log_level=4)
        except Exception:  # no bpf() here: pybpf figures only
            return None
        m = _KERNEL_TIME.search(res.log or "")
        if m is None:
            return best
        ms = int(m.group(1)) / 1000
        best = ms if best is None else min(best, ms)
    return best


# --- the clang-compiled 6.12 verifier selftests --------------------------------------------


def _verifier_progs() -> Any:
    """``tests/selftests/verifier_progs.py`` (builds and reads the objects), or None."""
    root = Path(__file__).resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        from tests.selftests import verifier_progs
    except Exception as exc:  # not a source checkout
        print(f"corpus skipped: {exc}", file=sys.stderr)
        return None
    return verifier_progs


def corpus_objects(quick: bool) -> list[Path]:
    """The compiled ``verifier_*.o`` (every fifth with ``quick``); empty where clang-19,
    bpftool or the 6.12 sources are missing."""
    vp = _verifier_progs()
    if vp is None:
        return []
    missing = vp.missing_tools()
    if missing:
        print(f"corpus skipped: {missing}", file=sys.stderr)
        return []
    try:
        built, _ = vp.build()
    except Exception as exc:
        print(f"corpus skipped: {exc}", file=sys.stderr)
        return []
    objs = [built[k] for k in sorted(built)]
    return objs[::5] if quick else objs


class _Measured(Exception):
    """The first verification is timed: the load's retry with a log is not measured
    (the kernel's figure is the best of ``--rounds`` loads at log level 4, no retry)."""


class _Timed:
    """Stands in for ``verify`` while pybpf loads an object: times the first call and
    keeps its arguments, so that the same verification can be timed again."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.first: tuple[int, float, float] | None = None
        self.call: tuple[tuple[Any, ...], dict[str, Any]] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.first is not None:  # the load's retry of a rejected program at level 1
            raise _Measured
        c0, t0 = time.process_time(), time.perf_counter()
        res = self.real(*args, **kwargs)
        if self.first is None:
            self.first = (res.insns_processed, (time.perf_counter() - t0) * 1000,
                          (time.process_time() - c0) * 1000)  # fmt: skip
            self.call = (args, kwargs)
        return res

    def best(self, rounds: int) -> tuple[int, float, float] | None:
        """The first call's figures, or the best of ``rounds`` runs of that call."""
        if self.first is None or self.call is None or self.first[1] > SLOW_MS:
            return self.first
        processed, wall, cpu = self.first
        args, kwargs = self.call
        for _ in range(rounds - 1):
            c0, t0 = time.process_time(), time.perf_counter()
            res = self.real(*args, **kwargs)
            wall = min(wall, (time.perf_counter() - t0) * 1000)
            cpu = min(cpu, (time.process_time() - c0) * 1000)
            if res.insns_processed != processed:  # (the object's maps are closed by now)
                raise RuntimeError(f"a repeated verification processed {res.insns_processed} "
                                   f"insns, the first {processed}")  # fmt: skip
        return processed, wall, cpu


CORPUS_LIMIT_S = 30
"""Wall-clock seconds pybpf gets for one corpus program; a program that takes longer
counts with the time it had (and 0 instructions processed)."""


def pybpf_corpus_time(vp: Any, obj: Any, spec: Any, rounds: int = ROUNDS) -> tuple[int, float, float] | None:
    """pybpf's verifier on one program of an opened object at log level 0 (relocation and
    maps are not counted): processed, wall ms, CPU ms, best of ``rounds`` verifications."""
    from pybpf.verifier import core

    timed = _Timed(core.verify)
    base = obj._options
    core.verify = timed
    c0, t0 = time.process_time(), time.perf_counter()
    try:
        with vp._time_limit(CORPUS_LIMIT_S):
            vp._with_flags(obj, spec.prog_flags)
            with contextlib.suppress(_Measured):
                obj.verify(prog=spec.name, log_level=0)
            return timed.best(rounds)
    except vp._Timeout:
        print(f"  {spec.name}: no verdict after {CORPUS_LIMIT_S} s", file=sys.stderr)
        return 0, (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
    except Exception:
        return None
    finally:
        core.verify = timed.real
        obj._options = base


def kernel_corpus_time(vp: Any, path: Path, specs: list[Any], spec: Any, rounds: int = ROUNDS) -> float | None:
    """The kernel's ``verification time`` (ms) for one program loaded by libbpf as the
    selftests load it (with the auxiliary programs), best of ``rounds``."""
    import ctypes

    lib = vp._libbpf()
    if lib is None:
        return None
    aux = {a.name for a in specs if a.auxiliary and a.priv}
    best: float | None = None
    for _ in range(rounds):
        obj = lib.bpf_object__open_file(str(path).encode(), None)
        if not obj:
            return best
        buf = ctypes.create_string_buffer(1 << 20)
        try:
            chosen = None
            for p in vp._iter(lib.bpf_object__next_program, obj):
                name = lib.bpf_program__name(p).decode()
                lib.bpf_program__set_autoload(p, name == spec.name or name in aux)
                if name == spec.name:
                    chosen = p
            if chosen is None:
                return best
            if lib.bpf_program__type(chosen) == 0 and spec.prog_type:
                lib.bpf_program__set_type(chosen, spec.prog_type)
                lib.bpf_program__set_expected_attach_type(chosen, spec.attach_type)
            lib.bpf_program__set_log_buf(chosen, ctypes.addressof(buf), len(buf))
            lib.bpf_program__set_log_level(chosen, 4)
            lib.bpf_program__set_flags(chosen, lib.bpf_program__flags(chosen) | spec.prog_flags)
            lib.bpf_object__load(obj)
            m = _KERNEL_TIME.search(buf.value.decode(errors="replace"))
        finally:
            for mp in vp._iter(lib.bpf_object__next_map, obj):
                lib.bpf_map__unpin(mp, None)
            lib.bpf_object__close(obj)
        if m is None:
            return best
        ms = int(m.group(1)) / 1000
        best = ms if best is None else min(best, ms)
    return best


def measure_corpus(objects: list[Path], with_kernel: bool, rounds: int = ROUNDS) -> list[Figure]:
    import pybpf

    vp = _verifier_progs()
    out: list[Figure] = []
    for k, path in enumerate(objects):
        print(f"corpus: {path.name} ({k + 1}/{len(objects)})", file=sys.stderr)
        try:
            specs = vp.read_specs(path)
            obj = pybpf.open(path)
        except Exception as exc:
            print(f"{path.name}: {exc}", file=sys.stderr)
            continue
        for spec in specs:
            if not vp.is_test(spec):
                continue
            mine = pybpf_corpus_time(vp, obj, spec, rounds)
            if mine is None:
                continue
            kms = kernel_corpus_time(vp, path, specs, spec, rounds) if with_kernel else None
            processed, ms, cpu = mine
            late = " (no verdict)" if ms >= CORPUS_LIMIT_S * 1000 else ""
            out.append(Figure(f"{path.stem[9:]}/{spec.name}{late}", processed, ms, kms, cpu))
    return out


def measure(cases: list[dict[str, Any]], with_kernel: bool, rounds: int = ROUNDS) -> list[Figure]:
    out = []
    for c in cases:
        processed, ms, cpu = pybpf_time(c, rounds)
        kms = kernel_time(c, rounds) if with_kernel else None
        out.append(Figure(str(c.get("name", "?")), processed, ms, kms, cpu))
    return out


def warm_up() -> None:
    """One small program first: the verifier imports parts of pybpf on first use, which
    is not verification time; and pybpf's kernel BTF, which the kernel has from boot
    (built on the first kfunc look-up, ~0.2 s, it would fall on one arbitrary program)."""
    from pybpf.kernel.vmlinux import kernel_btf

    kernel_btf()
    pybpf_time(loop_case(3, 2))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small loops, first 200 selftests, every fifth corpus object")
    ap.add_argument("--corpus", action="store_true",
                    help="only the clang-compiled 6.12 verifier_*.c programs")  # fmt: skip
    ap.add_argument("--no-kernel", action="store_true", help="pybpf figures only")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--rounds", type=int, default=ROUNDS,
                    help=f"verifications per program on each side, best kept (default {ROUNDS})")  # fmt: skip
    args = ap.parse_args(argv)
    rounds = max(1, args.rounds)
    with_kernel = not args.no_kernel
    warm_up()
    loops: list[Figure] = []
    st: list[Figure] = []
    if not args.corpus:
        loops = measure(loop_cases(args.quick), with_kernel, rounds)
        selftests = list(selftest_cases())
        if args.quick:
            selftests = selftests[:200]
        st = measure(selftests, with_kernel, rounds)
    corpus = measure_corpus(corpus_objects(args.quick), with_kernel, rounds)
    if args.json:
        print(json.dumps({"verifier": build_info(), "loops": [asdict(f) for f in loops],
                          "selftests": [asdict(f) for f in st],
                          "corpus": [asdict(f) for f in corpus]}))  # fmt: skip
        return 0
    print(f"verifier: {build_info()} (pure, or a `make accel` build of these sources)")
    if loops:
        print_loops(loops)
    if st:
        print_many("selftests", st)
    if corpus:
        print_many("corpus (clang, 6.12 verifier_*.c)", corpus)
    return 0


def print_loops(loops: list[Figure]) -> None:
    print(
        f"{'program':<28}{'processed':>11}{'pybpf ms':>11}{'cpu ms':>9}{'insn/s':>11}"
        f"{'kernel ms':>11}{'ratio':>9}"
    )
    for f in loops:
        kms = f"{f.kernel_ms:.2f}" if f.kernel_ms is not None else "-"
        ratio = f"{f.ratio:.0f}x" if f.ratio else "-"
        print(
            f"{f.name:<28}{f.insns_processed:>11}{f.pybpf_ms:>11.1f}{f.pybpf_cpu_ms:>9.1f}"
            f"{f.per_second:>11.0f}{kms:>11}{ratio:>9}"
        )


def print_many(title: str, st: list[Figure]) -> None:
    """Totals, the median pybpf/kernel ratio and the largest programs of one set."""
    if st:
        total = sum(f.insns_processed for f in st)
        ms = sum(f.pybpf_cpu_ms or f.pybpf_ms for f in st)
        ratios = [
            r for f in st if (r := f.ratio) is not None and f.kernel_ms and f.kernel_ms >= 0.01
        ]
        slow = [
            f
            for f in st
            if f.kernel_ms is not None and f.kernel_ms < 100 and (f.pybpf_cpu_ms or f.pybpf_ms) > 1000
        ]
        cpu = sorted(f.pybpf_cpu_ms or f.pybpf_ms for f in st)
        print(f"\n{title}: {len(st)} programs, {total} insns processed in {ms / 1000:.2f} s "
              f"= {total / (ms / 1000):.0f} insn/s; median {statistics.median(cpu):.2f} ms a program")  # fmt: skip
        if ratios:
            print(f"  pybpf/kernel time per program: median {statistics.median(ratios):.1f}x, "
                  f"max {max(ratios):.0f}x; over 1 s where the kernel took < 100 ms: {len(slow)}")  # fmt: skip
        print("  largest (by instructions processed):")
        for f in sorted(st, key=lambda f: -f.insns_processed)[:6]:
            kms = f"{f.kernel_ms:.2f}" if f.kernel_ms is not None else "-"
            print(f"    {f.name[:44]:<46}{f.insns_processed:>9}{f.pybpf_cpu_ms:>10.0f} ms"
                  f"{f.per_second:>9.0f}/s  kernel {kms} ms")  # fmt: skip
        for f in slow:
            print(f"  slow: {f.name} {f.pybpf_cpu_ms:.0f} ms, kernel {f.kernel_ms} ms")
        for f in st:
            if f.name.endswith("(no verdict)"):
                print(f"  time-out: {f.name} after {f.pybpf_ms / 1000:.0f} s (CPU {f.pybpf_cpu_ms / 1000:.1f} s),"
                      f" kernel {f.kernel_ms} ms")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
