#!/usr/bin/env python3
"""How long pybpf takes to open and load object files and to parse the kernel's BTF,
beside libbpf and bpftool doing the same work on this machine.

Objects: the bundled C examples (``examples/c/*.o``, clang-19 -g -O2).  For each:

* ``pybpf.open`` (read the ELF, BTF, .BTF.ext, programs, maps, relocations), and open +
  ``load()`` (create the maps, fill global data, link and verify every program);
* libbpf through ctypes (``libbpf.so.1``): ``bpf_object__open_file``, and open +
  ``bpf_object__load`` (the real kernel creates the maps and verifies the programs);
* wall clock of whole commands: ``pybpf verify OBJ`` (Python start-up and imports
  included) and ``bpftool prog loadall OBJ DIR`` (libbpf + kernel, process included).

Kernel BTF (``/sys/kernel/btf/vmlinux``): pybpf's lazy parse (types decoded when first
used: what CO-RE and ``load_vmlinux`` use), a full parse decoding every type, and the
kernel's BPF_BTF_LOAD validation rules (``btf.validate.check``); beside libbpf's
``btf__parse`` and the kernel's own BPF_BTF_LOAD of the same bytes.

Every figure is the best of several rounds (``--json`` also gives the median).  Results
are checked: every object must load in pybpf, libbpf must accept what pybpf accepts, both
parsers must count the same number of types.  Usage::

    .venv/bin/python bench/load.py            # about a minute
    .venv/bin/python bench/load.py --quick    # one round each, no full BTF validation
    .venv/bin/python bench/load.py --json
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pybpf
from pybpf import oracle
from pybpf.btf import parse
from pybpf.btf.validate import check

ROOT = Path(__file__).resolve().parent.parent
OBJECTS = sorted((ROOT / "examples" / "c").glob("*.o"))
VMLINUX = Path("/sys/kernel/btf/vmlinux")
PYBPF_CLI = Path(sys.executable).with_name("pybpf")


@dataclass(frozen=True)
class Timing:
    best_ms: float
    median_ms: float
    rounds: int


def timed(fn: Callable[[], object], rounds: int) -> Timing:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return Timing(round(min(times), 3), round(statistics.median(times), 3), rounds)


# --- libbpf through ctypes ----------------------------------------------------------------


def libbpf() -> Any:
    """libbpf.so.1 with the few calls used here, or None where it is missing."""
    try:
        lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
    except OSError:
        return None
    vp, cp = ctypes.c_void_p, ctypes.c_char_p
    for name, res, args in (
        ("bpf_object__open_file", vp, [cp, vp]),
        ("bpf_object__load", ctypes.c_int, [vp]),
        ("bpf_object__close", None, [vp]),
        ("btf__parse", vp, [cp, vp]),
        ("btf__type_cnt", ctypes.c_uint32, [vp]),
        ("btf__free", None, [vp]),
        ("libbpf_get_error", ctypes.c_long, [vp]),
        ("libbpf_set_print", vp, [vp]),
    ):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    lib.libbpf_set_print(None)
    return lib


def libbpf_open(lib: Any, path: Path, load: bool) -> None:
    obj = lib.bpf_object__open_file(str(path).encode(), None)
    if not obj or lib.libbpf_get_error(obj):
        raise RuntimeError(f"libbpf could not open {path.name}")
    try:
        if load and lib.bpf_object__load(obj) != 0:
            raise RuntimeError(f"libbpf could not load {path.name} (errno {ctypes.get_errno()})")
    finally:
        lib.bpf_object__close(obj)


def libbpf_btf_types(lib: Any) -> int:
    btf = lib.btf__parse(str(VMLINUX).encode(), None)
    if not btf or lib.libbpf_get_error(btf):
        raise RuntimeError("libbpf could not parse the kernel's BTF")
    n = int(lib.btf__type_cnt(btf))
    lib.btf__free(btf)
    return n


# --- objects ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectRow:
    object: str
    programs: int
    maps: int
    pybpf_open: Timing
    pybpf_load: Timing
    libbpf_open: Timing | None
    libbpf_load: Timing | None
    pybpf_verify_cli: Timing | None
    bpftool_loadall: Timing | None


def pybpf_load(path: Path) -> None:
    obj = pybpf.open(path)
    obj.load()
    obj.close()


def command(argv: list[str]) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    return run


def bpftool_loadall(path: Path) -> Callable[[], None]:
    def run() -> None:
        pin = Path(tempfile.mkdtemp(prefix="pybpf-bench-", dir="/sys/fs/bpf"))
        try:
            subprocess.run(["bpftool", "prog", "loadall", str(path), str(pin)], check=True,
                           capture_output=True, timeout=120)  # fmt: skip
        finally:
            shutil.rmtree(pin, ignore_errors=True)

    return run


def measure_object(path: Path, rounds: int, lib: Any, kernel: bool) -> ObjectRow:
    probe = pybpf.open(path)
    nprogs, nmaps = len(probe.programs), len(probe.maps)
    pybpf_load(path)  # warm up (imports, kernel BTF), and it must load
    row_open = timed(lambda: pybpf.open(path), rounds * 4)
    row_load = timed(lambda: pybpf_load(path), rounds)
    lib_open = lib_load = cli = tool = None
    if lib is not None:
        lib_open = timed(lambda: libbpf_open(lib, path, False), rounds * 4)
        if kernel:
            lib_load = timed(lambda: libbpf_open(lib, path, True), rounds)
    if PYBPF_CLI.exists():
        cli = timed(command([str(PYBPF_CLI), "verify", str(path)]), max(1, rounds // 2))
    if kernel and shutil.which("bpftool") and Path("/sys/fs/bpf").is_dir():
        tool = timed(bpftool_loadall(path), max(1, rounds // 2))
    return ObjectRow(path.name, nprogs, nmaps, row_open, row_load, lib_open, lib_load, cli, tool)


# --- kernel BTF ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BtfRow:
    what: str
    timing: Timing
    note: str = ""


def measure_btf(rounds: int, lib: Any, kernel: bool, full_check: bool) -> tuple[int, int, list[BtfRow]]:
    raw = VMLINUX.read_bytes()
    rows = []
    rows.append(BtfRow("pybpf: parse, lazy (types decoded on first use)",
                       timed(lambda: parse(raw, lazy=True), rounds * 2)))  # fmt: skip
    lazy = parse(raw, lazy=True)

    def lookup() -> None:
        btf = parse(raw, lazy=True)
        for name in ("task_struct", "sk_buff", "xdp_md", "bpf_map"):
            if btf.find_by_name_kind(name, pybpf.btf.Kind.STRUCT) is None:
                raise RuntimeError(f"no struct {name} in the kernel's BTF")

    rows.append(BtfRow("pybpf: lazy parse + find 4 structs by name", timed(lookup, rounds * 2)))
    full = timed(lambda: parse(raw), max(1, rounds // 2))
    rows.append(BtfRow("pybpf: parse, every type decoded", full))
    ntypes = len(parse(raw))
    if full_check:
        res = check(raw, log_level=0)
        rows.append(BtfRow("pybpf: validate as BPF_BTF_LOAD (btf.validate.check)",
                           timed(lambda: check(raw, log_level=0), 1),
                           type(res).__name__))  # fmt: skip
    lib_types = -1
    if lib is not None:
        lib_types = libbpf_btf_types(lib)
        rows.append(BtfRow("libbpf: btf__parse (parse + sanity checks)",
                           timed(lambda: libbpf_btf_types(lib), rounds * 2)))  # fmt: skip
    if kernel:
        def kernel_load() -> None:
            res = oracle.btf_load(raw, log_level=0)
            if res.fd is None:
                raise RuntimeError(f"the kernel refused its own BTF: errno {res.errno}")
            os.close(res.fd)

        rows.append(BtfRow("kernel: BPF_BTF_LOAD of the same bytes (validation)", timed(kernel_load, rounds * 2)))
    del lazy
    return ntypes, lib_types, rows


# --- output -------------------------------------------------------------------------------


def ms(t: Timing | None) -> str:
    if t is None:
        return "-"
    return f"{t.best_ms:,.1f}" if t.best_ms >= 10 else f"{t.best_ms:.2f}"


def print_table(objects: list[ObjectRow], startup: Timing | None, ntypes: int, btf_rows: list[BtfRow],
                seconds: float) -> None:  # fmt: skip
    print(f"pybpf loading vs libbpf/bpftool (best of rounds, ms; {seconds:.0f} s)")
    print(f"machine: nproc {os.cpu_count()}, {platform.processor() or platform.machine()}, "
          f"Linux {platform.release()}, CPython {platform.python_version()}\n")  # fmt: skip
    head = ("object", "progs", "maps", "pybpf open", "pybpf load", "libbpf open", "libbpf load",
            "pybpf verify", "bpftool loadall")  # fmt: skip
    print(f"{head[0]:<20}{head[1]:>6}{head[2]:>5}" + "".join(f"{h:>14}" for h in head[3:7])
          + "".join(f"{h:>16}" for h in head[7:]))  # fmt: skip
    print("-" * 125)
    for r in objects:
        cells = (r.pybpf_open, r.pybpf_load, r.libbpf_open, r.libbpf_load)
        print(f"{r.object:<20}{r.programs:>6}{r.maps:>5}" + "".join(f"{ms(c):>14}" for c in cells)
              + f"{ms(r.pybpf_verify_cli):>16}{ms(r.bpftool_loadall):>16}")  # fmt: skip
    print("\n  load = open + create maps + verify every program (pybpf: its verifier; libbpf: the kernel)")
    print("  pybpf verify / bpftool loadall: wall clock of the whole command, process start included")
    if startup is not None:
        print(f"  (`pybpf --version`, start-up and imports alone: {ms(startup)} ms)")
    print()
    print(f"{VMLINUX} ({VMLINUX.stat().st_size:,} bytes, {ntypes:,} types)")
    print("-" * 80)
    for b in btf_rows:
        print(f"{b.what:<60}{ms(b.timing):>12} ms")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="one round each, skip the full BTF validation")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-kernel", action="store_true", help="pybpf (and libbpf open) only")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    kernel = not args.no_kernel and oracle.available()
    lib = libbpf()
    if not OBJECTS:
        print("no examples/c/*.o (make examples builds them)", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    objects = [measure_object(p, rounds, lib, kernel) for p in OBJECTS]
    startup = timed(command([str(PYBPF_CLI), "--version"]), max(1, rounds // 2)) if PYBPF_CLI.exists() else None
    ntypes = lib_types = 0
    btf_rows: list[BtfRow] = []
    if VMLINUX.exists():
        ntypes, lib_types, btf_rows = measure_btf(rounds, lib, kernel, not args.quick)
        # libbpf counts type 0 (void) in btf__type_cnt; pybpf's list does too
        if lib_types not in (-1, ntypes):
            print(f"type counts differ: pybpf {ntypes}, libbpf {lib_types}", file=sys.stderr)
            return 1
    seconds = time.perf_counter() - t0
    if args.json:
        print(json.dumps({"objects": [asdict(o) for o in objects], "vmlinux_types": ntypes,
                          "cli_startup": asdict(startup) if startup else None,
                          "btf": [asdict(b) for b in btf_rows], "seconds": round(seconds, 1)}))  # fmt: skip
    else:
        print_table(objects, startup, ntypes, btf_rows, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
