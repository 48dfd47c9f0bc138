#!/usr/bin/env python3
"""Build the optional mypyc-compiled verifier (``make accel``).

Copies ``src/pybpf`` to a temporary directory first (the sources may change while the C
compiler runs), compiles the verifier's hot modules there with mypyc, and installs the
shared libraries in ``$PYBPF_ACCEL_DIR`` (default ``~/.cache/pybpf/accel``) under the
hash of exactly the sources compiled.  ``pybpf.verifier`` uses a build only while its
``.py`` files still hash to that stamp (``pybpf.verifier._accel``); the other modules of
the package stay pure Python and are imported from the source tree.

Needs mypy (which ships mypyc), setuptools and a C compiler; never imports pybpf itself.

    python tools/build_accel.py [--all] [--opt 1] [--jobs 2] [--separate] [--force]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]

# The modules a verification spends its time in (cProfile over bench/verify.py --quick
# and the loop benchmarks); the rest (BTF, kfuncs, struct_ops, fix-ups...) run once per
# program or rarely and stay pure Python.  --all compiles every module.
HOT = (
    "alu", "bounds", "calls", "cfg", "core", "env", "frames", "helper_mem", "insn_log",
    "jmp", "ldimm", "liveness", "log", "loops", "mem", "pending", "precision", "prune",
    "refs", "regs", "scalar", "stack", "stack_depth", "stack_liveness", "state", "tnum",
)  # fmt: skip

# Run by the build's own interpreter in the snapshot: mypyc writes C, setuptools compiles
# it (``-j`` compiles separate C files in parallel) and puts the libraries in place.
_COMPILE = """
import sys, time
from concurrent.futures import ThreadPoolExecutor
from setuptools import setup
from setuptools._distutils import ccompiler
from mypyc.build import mypycify
cfg = {cfg!r}

def compile_parallel(self, sources, output_dir=None, macros=None, include_dirs=None,
                     debug=0, extra_preargs=None, extra_postargs=None, depends=None):
    # distutils compiles one extension's C files one after the other
    macros, objects, extra_postargs, pp_opts, build = self._setup_compile(
        output_dir, macros, include_dirs, sources, depends, extra_postargs)
    cc_args = self._get_cc_args(pp_opts, debug, extra_preargs)
    def one(obj):
        src, ext = build[obj]
        self._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)
    with ThreadPoolExecutor(cfg["jobs"]) as pool:
        list(pool.map(one, objects))
    return objects

ccompiler.CCompiler.compile = compile_parallel
t = time.perf_counter()
exts = mypycify(cfg["paths"], opt_level=cfg["opt"], debug_level="0",
                separate=cfg["separate"], multi_file=cfg["multi_file"])
print("ACCEL-CGEN", time.perf_counter() - t, flush=True)
setup(name="pybpf_accel", ext_modules=exts,
      script_args=["build_ext", "--inplace"])
"""


def _load_accel(src: Path) -> ModuleType:
    """The loader's hashing code, from the snapshot (so both sides hash alike)."""
    spec = importlib.util.spec_from_file_location("_pybpf_accel", src / "pybpf/verifier/_accel.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _snapshot(src: Path, dest: Path) -> None:
    shutil.copytree(src / "pybpf", dest / "pybpf",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))  # fmt: skip


def _outside_files(src: Path) -> list[str]:
    """Every module of pybpf outside the verifier, relative to ``src``: a build is stale
    when any of them changes, as when the package's own do.  (All of them, not only those
    imported by name: compiled code also depends on what those import in turn, such as the
    classes of ``isa.insn`` behind ``isa``'s ``__init__``.)"""
    pkg = src / "pybpf"
    verifier = pkg / "verifier"
    return sorted(
        str(p.relative_to(src)) for p in pkg.rglob("*.py") if verifier not in p.parents
    )


KEEP = 3
"""Builds kept in the cache (the newest): each edit of the sources makes another."""


def _prune(root: Path, newest: Path, stamp: str) -> None:
    """Remove all but the :data:`KEEP` most recent builds (a process that loaded one keeps
    its mapped libraries)."""
    builds = [d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
              and d != newest and (d / stamp).is_file()]  # fmt: skip
    builds.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    for old in builds[KEEP - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


def _in_place(accel: ModuleType, final: Path, src: Path) -> bool:
    """Whether ``final`` holds a build of exactly these sources, dependencies included."""
    try:
        stamp = json.loads((final / accel.STAMP).read_text())
    except (OSError, ValueError):
        return False
    deps = stamp.get("deps", []) if isinstance(stamp, dict) else []
    return bool(deps == _outside_files(src)
                and stamp.get("deps_hash") == accel.files_hash([src / d for d in deps]))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=REPO / "src", help="the tree holding pybpf/")
    ap.add_argument(
        "--all", action="store_true", help="compile every module, not only the hot ones"
    )
    ap.add_argument("--opt", default="1", choices="0123", help="C optimisation level (default 1)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel C compilers")
    ap.add_argument(
        "--separate",
        action="store_true",
        help="one shared library per module (default: one, split into several C files)",
    )
    ap.add_argument("--force", action="store_true", help="rebuild even when the build exists")
    ap.add_argument("--keep", action="store_true", help="keep the temporary build directory")
    args = ap.parse_args(argv)
    # a stopped build (timeout, kill) still removes its temporary directory
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="pybpf-accel-"))
    try:
        _snapshot(args.src, tmp)
        accel = _load_accel(tmp)
        pkg = tmp / "pybpf" / "verifier"
        digest = accel.source_hash(pkg)
        root = accel.cache_root()
        final = accel.build_dir(root, digest)
        if _in_place(accel, final, tmp) and not args.force:
            print(f"accel: up to date: {final}")
            return 0
        modules = accel.sources(pkg)
        chosen = modules if args.all else [p for p in modules if p.stem in HOT]
        deps = _outside_files(tmp)
        cfg = {
            "paths": [str(p.relative_to(tmp)) for p in chosen],
            "opt": args.opt,
            "separate": args.separate,
            "multi_file": not args.separate,
            "jobs": args.jobs,
        }
        t1 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _COMPILE.format(cfg=cfg)], cwd=tmp,
                              capture_output=True, text=True)  # fmt: skip
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            print(f"accel: build failed (kept {tmp})", file=sys.stderr)
            args.keep = True
            return 1
        cgen = next((float(line.split()[1]) for line in proc.stdout.splitlines()
                     if line.startswith("ACCEL-CGEN")), 0.0)  # fmt: skip
        compile_s = time.perf_counter() - t1
        stage = root / f".{digest[:24]}.{os.getpid()}"
        shutil.rmtree(stage, ignore_errors=True)
        libs = [p for p in tmp.rglob("*.so") if "build" not in p.relative_to(tmp).parts]
        for lib in libs:
            target = stage / lib.relative_to(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(lib, target)
        total = time.perf_counter() - t0
        stamp = {
            "hash": digest,
            "deps": deps,
            "deps_hash": accel.files_hash([tmp / d for d in deps]),
            "compiled": sorted(p.stem for p in chosen),
            "opt": args.opt,
            "mode": "separate" if args.separate else "multi_file",
            "jobs": args.jobs,
            "python": sys.version.split()[0],
            "seconds": {"mypyc": round(cgen, 1), "c": round(compile_s - cgen, 1),
                        "total": round(total, 1)},
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }  # fmt: skip
        (stage / accel.STAMP).write_text(json.dumps(stamp, indent=1) + "\n")
        if _in_place(accel, final, tmp):  # another build of the same sources won the race
            shutil.rmtree(stage, ignore_errors=True)
        else:
            shutil.rmtree(final, ignore_errors=True)
            try:
                stage.rename(final)
            except OSError as e:
                shutil.rmtree(stage, ignore_errors=True)
                print(f"accel: could not install the build in {final}: {e}", file=sys.stderr)
                return 1
        _prune(root, final, accel.STAMP)
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"accel: {len(chosen)} of {len(modules)} modules compiled in {total:.0f} s "
              f"(mypyc {cgen:.0f} s, C {compile_s - cgen:.0f} s; CPU {ru.ru_utime + ru.ru_stime:.0f} s; "
              f"-O{args.opt}, {stamp['mode']}, -j{args.jobs}): {final}")  # fmt: skip
        return 0
    finally:
        if args.keep:
            print(f"accel: temporary directory kept: {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
