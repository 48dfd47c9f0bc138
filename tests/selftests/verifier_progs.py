"""pybpf and the running kernel on the annotated verifier programs of the 6.12 selftests.

Usage (a measurement, run by hand; the slow test of this directory runs part of it):

    python tests/selftests/verifier_progs.py [--jobs 2] [--timeout 120] [--out FILE]
        [--record tests/data/verifier_progs_kernel.json] [--recorded FILE] [OBJECT...]

``tools/testing/selftests/bpf/progs/verifier_*.c`` of Debian's linux-source-6.12 are
compiled (clang-19, as the selftests' Makefile does, against a vmlinux.h of the running
kernel) into a cache directory, once.  Every program carries its expectations as BTF
decl tags (``comment:test_expect_success``, ``..._failure``, ``..._msg=N=text``,
``test_retval=``, ``test_log_level=``, ``test_prog_flags=``, ``test_auxiliary``...);
they are read back with :mod:`pybpf.btf`.  Each privileged test program is then loaded
as the selftests' test_loader does: alone with the auxiliary programs, at the annotated
log level and flags, run once with a 64-byte zero packet when it has a ``__retval``,
by libbpf into the running kernel and by pybpf (``pybpf.open``).  ``--record`` writes
the kernel's answers; ``--recorded`` compares pybpf with such a file instead of the
kernel.  The summary counts the agreement and sorts the disagreements by reason.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
RECORDED = REPO / "tests" / "data" / "verifier_progs_kernel.json"
TARBALL = Path(os.environ.get("PYBPF_LINUX_612_TARBALL", "/usr/src/linux-source-6.12.tar.xz"))
TREE = "linux-source-6.12"
SELFTESTS = "tools/testing/selftests/bpf"
CLANG = shutil.which("clang-19")
BPFTOOL = shutil.which("bpftool")
VMLINUX = Path("/sys/kernel/btf/vmlinux")
HELPER_DEFS = Path("/usr/include/bpf/bpf_helper_defs.h")
LIBBPF_HEADERS = ("bpf_helpers.h", "bpf_tracing.h", "bpf_core_read.h", "bpf_endian.h")
# what of the tarball the programs need: their sources, the selftests' headers (with the
# gnu/stubs.h that stands in for glibc's 32-bit stubs), libbpf's BPF-side headers, the
# tools' UAPI headers and the kernel-tools headers they include
WANTED = (f"{TREE}/{SELFTESTS}/progs/", f"{TREE}/{SELFTESTS}/", f"{TREE}/tools/lib/bpf/",
          f"{TREE}/tools/include/")  # fmt: skip

TEST_DATA_LEN = 64
POINTER_VALUE = 0xCAFE4A11
BPF_F_TEST_RND_HI32 = 1 << 2
BPF_F_TEST_REG_INVARIANTS = 1 << 7
FLAG_NAMES = {"BPF_F_STRICT_ALIGNMENT": 1, "BPF_F_ANY_ALIGNMENT": 2, "BPF_F_TEST_RND_HI32": 4,
              "BPF_F_TEST_STATE_FREQ": 8, "BPF_F_SLEEPABLE": 16, "BPF_F_XDP_HAS_FRAGS": 32,
              "BPF_F_TEST_REG_INVARIANTS": 128}  # fmt: skip
PROG_TYPE_SYSCALL = 31
LOG_SIZE = 1 << 24
BUILD_KEY = "b1"
"""Part of the object cache's name: change it when the way objects are built changes."""
SECONDS_PER_PROGRAM = 60


# --- sources and objects ------------------------------------------------------------------


def cache_root() -> Path:
    """Where sources and objects are kept between sessions (``PYBPF_CACHE_DIR``, else the
    user's cache directory, else the temporary directory when that is not writable)."""
    base = os.environ.get("PYBPF_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pybpf")
    root = Path(base) / "verifier_progs"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".writable"
        probe.touch()
        return root
    except OSError:
        import tempfile

        return Path(tempfile.gettempdir()) / f"pybpf-verifier-progs-{os.getuid()}"


def missing_tools() -> str | None:
    """Why the programs cannot be built here (None: they can)."""
    for what, ok in (("clang-19", CLANG is not None), ("bpftool", BPFTOOL is not None),
                     ("/sys/kernel/btf/vmlinux", VMLINUX.exists()),
                     ("libbpf-dev (bpf_helper_defs.h)", HELPER_DEFS.exists()),
                     (f"{TARBALL} (linux-source-6.12)", TARBALL.exists())):  # fmt: skip
        if not ok:
            return f"{what} is missing"
    return None


def extract_sources(root: Path) -> Path:
    """The selftests' part of the kernel tarball, extracted once (about 16 s of xz)."""
    tree = root / "src"
    done = tree / ".complete"
    if done.exists():
        return tree / TREE
    tmp = root / "src.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(TARBALL, "r:xz") as tar:
        for member in tar:
            name = member.name
            if not (member.isfile() or member.isdir()):
                continue
            keep = name.startswith(WANTED[2:]) or name.startswith(WANTED[0]) or (
                name.startswith(WANTED[1]) and name.endswith(".h"))
            if keep:
                tar.extract(member, tmp, filter="data")
    shutil.rmtree(tree, ignore_errors=True)
    tmp.rename(tree)
    done.touch()
    return tree / TREE


def _vmlinux_digest() -> str:
    h = hashlib.sha256()
    with open(VMLINUX, "rb") as f:
        h.update(f.read())
    return h.hexdigest()[:12]


def _sys_includes() -> list[str]:
    """The host's include directories after clang's own, as the Makefile adds them
    (``-idirafter``), so that glibc headers see the compiler's definitions first."""
    res = subprocess.run([CLANG or "clang-19", "-print-resource-dir"], capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    dirs = [f"{res.stdout.strip()}/include", "/usr/local/include",
            "/usr/include/x86_64-linux-gnu", "/usr/include"]
    return [a for d in dirs if os.path.isdir(d) for a in ("-idirafter", d)]


def build(root: Path | None = None, jobs: int = 2,
          only: Collection[str] | None = None) -> tuple[dict[str, Path], int]:  # fmt: skip
    """Every ``progs/verifier_*.c`` (or those whose stem is in ``only``) compiled, cached
    by kernel BTF; the objects by stem and how many sources there were."""
    root = root or cache_root()
    ksrc = extract_sources(root)
    st = ksrc / SELFTESTS
    out = root / f"obj-{_vmlinux_digest()}-{BUILD_KEY}"
    inc = out / "include"
    if not (inc / "vmlinux.h").exists():
        (inc / "bpf").mkdir(parents=True, exist_ok=True)
        for h in LIBBPF_HEADERS:
            shutil.copy(ksrc / "tools" / "lib" / "bpf" / h, inc / "bpf" / h)
        shutil.copy(HELPER_DEFS, inc / "bpf" / "bpf_helper_defs.h")
        with open(inc / "vmlinux.h.tmp", "w") as f:
            subprocess.run([BPFTOOL or "bpftool", "btf", "dump", "file", str(VMLINUX), "format",
                            "c"], stdout=f, check=True, timeout=120)  # fmt: skip
        os.rename(inc / "vmlinux.h.tmp", inc / "vmlinux.h")
    sources = sorted((st / "progs").glob("verifier_*.c"))
    n_sources = len(sources)
    if only is not None:
        sources = [s for s in sources if s.stem in only]
    sys_includes = _sys_includes()

    def one(src: Path) -> Path | None:
        obj = out / f"{src.stem}.o"
        failed = out / f"{src.stem}.failed"
        if obj.exists():
            return obj
        if failed.exists():
            return None
        cmd = [CLANG or "clang-19", "-g", "-O2", "--target=bpf", "-mcpu=v3", "-D__TARGET_ARCH_x86",
               "-DENABLE_ATOMICS_TESTS", f"-I{inc}", f"-I{st}", f"-I{ksrc / 'tools/include/uapi'}",
               *sys_includes, "-Wno-compare-distinct-pointer-types", "-c", str(src), "-o", f"{obj}.tmp"]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if res.returncode != 0:
            failed.write_text(res.stderr)
            return None
        os.rename(f"{obj}.tmp", obj)
        return obj

    with ThreadPoolExecutor(jobs) as pool:
        built = [o for o in pool.map(one, sources) if o is not None]
    return {o.stem: o for o in built}, n_sources


# --- the annotations ----------------------------------------------------------------------


@dataclass
class TestSpec:
    """What the decl tags of one program ask for (privileged mode)."""

    name: str
    prog_type: int = 0
    attach_type: int = 0
    priv: bool = False  # a privileged test (or no mode given: privileged is implied)
    unpriv_only: bool = False
    unpriv: bool = False  # also an unprivileged test (some ``_unpriv`` tag)
    unpriv_expect_failure: bool | None = None  # None: as privileged
    unpriv_msgs: list[str] = field(default_factory=list)  # empty: as privileged
    auxiliary_unpriv: bool = False
    expect_failure: bool = False
    msgs: list[str] = field(default_factory=list)
    retval: int | None = None
    log_level: int = 0
    prog_flags: int = 0
    auxiliary: bool = False
    arch_ok: bool = True
    description: str = ""


def _parse_int(text: str) -> int:
    return int(text, 0)


def read_specs(path: Path) -> list[TestSpec]:
    """Each entry point's expectations, in the object's program order."""
    import pybpf
    from pybpf.btf.types import DeclTag, Func

    try:
        obj = pybpf.open(path)
        btf = obj.spec.btf
        programs = [(op.name, int(op.prog_type or 0), int(op.expected_attach_type or 0))
                    for op in obj.programs.values()]  # fmt: skip
    except pybpf.BpfError:  # an object pybpf cannot open: its programs from libbpf
        from pybpf.btf import load_file

        btf = load_file(str(path))
        programs = _libbpf_programs(path)
    tags: dict[int, list[str]] = {}
    if btf is not None:
        for _tid, t in btf.items():
            if isinstance(t, DeclTag) and t.component_idx == -1 and t.name.startswith("comment:"):
                tags.setdefault(t.type, []).append(t.name[len("comment:"):])
    by_name: dict[str, list[str]] = {}
    if btf is not None:
        for tid, tl in tags.items():
            t = btf[tid]
            if isinstance(t, Func):
                by_name[t.name] = tl
    specs = []
    for name, prog_type, attach_type in programs:
        s = TestSpec(name, prog_type=prog_type, attach_type=attach_type)
        modes = 0
        arches: set[str] = set()
        for tag in by_name.get(name, []):
            key, _, val = tag.partition("=")
            if key == "test_expect_failure":
                s.expect_failure, modes = True, modes | 1
            elif key == "test_expect_success":
                s.expect_failure, modes = False, modes | 1
            elif key == "test_expect_failure_unpriv":
                s.unpriv_expect_failure, modes = True, modes | 2
            elif key == "test_expect_success_unpriv":
                s.unpriv_expect_failure, modes = False, modes | 2
            elif key == "test_expect_msg_unpriv":
                s.unpriv_msgs.append(val.partition("=")[2])
                modes |= 2
            elif key in ("test_retval_unpriv", "test_expect_xlated_unpriv"):
                modes |= 2
            elif key == "test_auxiliary":
                s.auxiliary, modes = True, modes | 1
            elif key == "test_auxiliary_unpriv":
                s.auxiliary_unpriv, modes = True, modes | 2
            elif key == "test_expect_msg":
                s.msgs.append(val.partition("=")[2])
                modes |= 1
            elif key == "test_expect_xlated":
                modes |= 1
            elif key == "test_retval":
                named = {"INT_MIN": -(1 << 31), "POINTER_VALUE": POINTER_VALUE,
                         "TEST_DATA_LEN": TEST_DATA_LEN}  # fmt: skip
                s.retval = named[val] if val in named else _parse_int(val)
                modes |= 1
            elif key == "test_log_level":
                s.log_level = _parse_int(val)
            elif key == "test_prog_flags":
                clear = val.startswith("!")
                v = val[1:] if clear else val
                bit = FLAG_NAMES[v] if v in FLAG_NAMES else _parse_int(v)
                s.prog_flags = s.prog_flags & ~bit if clear else s.prog_flags | bit
            elif key == "test_arch":
                arches.add(val)
            elif key == "test_description":
                s.description = val
        s.priv = modes == 0 or bool(modes & 1)
        s.unpriv_only = modes == 2
        s.unpriv = bool(modes & 2)
        s.arch_ok = not arches or "X86_64" in arches
        specs.append(s)
    return specs


def _libbpf_programs(path: Path) -> list[tuple[str, int, int]]:
    lib = _libbpf()
    if lib is None:
        return []
    obj = lib.bpf_object__open_file(str(path).encode(), None)
    if not obj:
        return []
    try:
        return [(lib.bpf_program__name(p).decode(), lib.bpf_program__type(p),
                 lib.bpf_program__expected_attach_type(p))
                for p in _iter(lib.bpf_object__next_program, obj)]  # fmt: skip
    finally:
        lib.bpf_object__close(obj)


# map types test_loader still creates when it drops CAP_BPF/CAP_SYS_ADMIN (hash maps only
# without BPF_F_ZERO_SEED); a program using any other is left out of the unprivileged run
UNPRIV_MAP_TYPES = frozenset({1, 2, 3, 5, 6, 8, 12, 13, 19, 21, 27, 31})  # fmt: skip
ZERO_SEED_HASHES = frozenset({1, 5, 13})
BPF_F_ZERO_SEED = 1 << 6


def is_unpriv_test(s: TestSpec) -> bool:
    """An unprivileged test case of test_loader."""
    return s.unpriv and not s.auxiliary_unpriv and not s.auxiliary and s.arch_ok


def is_test(s: TestSpec) -> bool:
    """A privileged test case of test_loader (auxiliary programs are loaded, not tested)."""
    return s.priv and not s.auxiliary and s.arch_ok


def match_msgs(log: str, msgs: list[str]) -> bool:
    """The expected messages in order in the log, as test_loader matches them
    (substrings; ``{{...}}`` parts are regular expressions)."""
    pos = 0
    for m in msgs:
        if "{{" in m:
            parts = re.split(r"\{\{(.*?)\}\}", m)
            rx = "".join(re.escape(p) if i % 2 == 0 else p for i, p in enumerate(parts))
            try:
                found = re.compile(rx).search(log, pos)
            except re.error:
                return False
            if found is None:
                return False
            pos = found.end()
        else:
            i = log.find(m, pos)
            if i < 0:
                return False
            pos = i + len(m)
    return True


# --- the kernel's answers (libbpf) --------------------------------------------------------


def _libbpf() -> Any:
    sys.path.insert(0, str(REPO / "tests" / "elf"))
    import libbpf_ref

    lib = libbpf_ref.libbpf()
    if lib is not None:
        lib.bpf_program__flags.restype = ctypes.c_uint32
        lib.bpf_program__flags.argtypes = [ctypes.c_void_p]
        lib.bpf_program__set_flags.restype = ctypes.c_int
        lib.bpf_program__set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.bpf_program__set_type.restype = ctypes.c_int
        lib.bpf_program__set_type.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.bpf_program__set_expected_attach_type.restype = ctypes.c_int
        lib.bpf_program__set_expected_attach_type.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    return lib


def _iter(fn: Any, obj: int) -> Iterator[int]:
    p = None
    while True:
        p = fn(obj, p)
        if not p:
            return
        yield p


def kernel_answer(path: Path, specs: list[TestSpec], s: TestSpec) -> dict[str, Any]:
    """Load ``s`` (and the auxiliary programs) with libbpf as test_loader does."""
    from pybpf.oracle.log import summarize_log
    from pybpf.oracle.progs import prog_test_run

    lib = _libbpf()
    aux = {a.name for a in specs if a.auxiliary and a.priv}
    obj = lib.bpf_object__open_file(str(path).encode(), None)
    if not obj:
        return {"accepted": False, "errno": ctypes.get_errno(), "message": "libbpf open failed",
                "msgs_ok": False, "refused": True}  # fmt: skip
    buf = ctypes.create_string_buffer(LOG_SIZE)
    try:
        chosen = None
        for p in _iter(lib.bpf_object__next_program, obj):
            name = lib.bpf_program__name(p).decode()
            lib.bpf_program__set_autoload(p, name == s.name or name in aux)
            if name == s.name:
                chosen = p
        assert chosen is not None
        if lib.bpf_program__type(chosen) == 0 and s.prog_type:
            # a section newer than this libbpf (tcx/, netfilter, cgroup/*_unix): the
            # types a newer libbpf gives it, as pybpf's section table has them
            lib.bpf_program__set_type(chosen, s.prog_type)
            lib.bpf_program__set_expected_attach_type(chosen, s.attach_type)
        lib.bpf_program__set_log_buf(chosen, ctypes.addressof(buf), LOG_SIZE)
        lib.bpf_program__set_log_level(chosen, s.log_level)
        flags = lib.bpf_program__flags(chosen) | s.prog_flags
        lib.bpf_program__set_flags(chosen, flags | BPF_F_TEST_RND_HI32 | BPF_F_TEST_REG_INVARIANTS)
        err = lib.bpf_object__load(obj)
        log = buf.value.decode(errors="replace")
        summary = summarize_log(log)
        out: dict[str, Any] = {
            "accepted": err == 0, "errno": -err if err < 0 else 0,
            "message": summary.message if err else "", "msgs_ok": match_msgs(log, s.msgs),
            "insns_processed": summary.insns_processed or 0,
        }  # fmt: skip
        if err and not log.strip():
            out["refused"] = True  # refused before the verifier ran (no log): not a verdict
        if err == 0 and s.retval is not None:
            fd = lib.bpf_program__fd(chosen)
            if lib.bpf_program__type(chosen) == PROG_TYPE_SYSCALL:
                r = prog_test_run(fd, b"", repeat=0)
            else:
                r = prog_test_run(fd, bytes(TEST_DATA_LEN), data_size_out=TEST_DATA_LEN * 4)
            out["retval"] = None if r.errno else r.retval & 0xFFFFFFFF
            if r.errno:
                out["run_errno"] = r.errno
        return out
    finally:
        for m in _iter(lib.bpf_object__next_map, obj):
            lib.bpf_map__unpin(m, None)
        lib.bpf_object__close(obj)


# --- pybpf's answers ----------------------------------------------------------------------


class _Timeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def fire(*_: Any) -> None:
        raise _Timeout

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _with_flags(obj: Any, prog_flags: int) -> None:
    """The object's verifier options with the annotated ``prog_flags``."""
    base = obj._options

    def options(log_level: int) -> Any:
        return base(log_level).with_prog_flags(prog_flags)

    obj._options = options


def pybpf_answer(path: Path, specs: list[TestSpec], s: TestSpec,
                 unprivileged: bool = False) -> dict[str, Any]:  # fmt: skip
    """Verify ``s`` with pybpf at the annotated log level and flags; run it for
    ``__retval`` (privileged only)."""
    import pybpf

    start = time.process_time()
    out: dict[str, Any] = {}
    msgs = (s.unpriv_msgs or s.msgs) if unprivileged else s.msgs
    try:
        with _time_limit(SECONDS_PER_PROGRAM):
            obj = pybpf.open(path, unprivileged=unprivileged)
            if unprivileged and _needs_privileged_map(obj, s.name):
                return {"accepted": None, "privileged_map": True}
            _with_flags(obj, s.prog_flags)
            v = obj.verify(prog=s.name, log_level=s.log_level)[0]
            out = {"accepted": v.accepted, "errno": v.errno, "message": v.message,
                   "msgs_ok": match_msgs(v.log, msgs), "insns_processed": v.insns_processed}
            if v.accepted and s.retval is not None and not unprivileged:
                out["retval"] = _pybpf_run(path, specs, s)
    except _Timeout:
        out = {"accepted": None, "error": "time-out"}
    except pybpf.BpfError as exc:
        out = {"accepted": False, "errno": exc.errno, "message": exc.message, "msgs_ok": False,
               "open_error": True}  # fmt: skip
    except Exception as exc:  # a crash is an answer to count, not to raise
        out = {"accepted": None, "error": f"crash: {exc!r}"[:300]}
    out["cpu"] = round(time.process_time() - start, 3)
    return out


def _needs_privileged_map(obj: Any, name: str) -> bool:
    """Whether the program uses a map test_loader does not create unprivileged."""
    for idx in obj.programs[name].link().map_indices:
        spec = obj.spec.maps[idx].spec
        t = int(spec.type)
        if t not in UNPRIV_MAP_TYPES or (t in ZERO_SEED_HASHES and spec.flags & BPF_F_ZERO_SEED):
            return True
    return False


def _pybpf_run(path: Path, specs: list[TestSpec], s: TestSpec) -> int | str:
    import pybpf

    aux = {a.name for a in specs if a.auxiliary and a.priv}
    obj = pybpf.open(path)
    _with_flags(obj, s.prog_flags)
    for op in obj.programs.values():
        op.autoload = op.name == s.name or op.name in aux
    try:
        obj.load()
    except pybpf.BpfError as exc:
        return f"load: {exc.message}"[:200]
    try:
        if s.prog_type == PROG_TYPE_SYSCALL:
            r = obj.programs[s.name].run()
        else:
            r = obj.programs[s.name].run(bytes(TEST_DATA_LEN))
        return int(r.retval) & 0xFFFFFFFF
    except pybpf.BpfError as exc:
        return f"run: {exc.message}"[:200]
    finally:
        obj.close()


# --- one object, many objects -------------------------------------------------------------


def judge_object(path: Path, kernel: bool, pybpf_side: bool = True) -> dict[str, Any]:
    """Every privileged test program of one object: its annotation, and the answers."""
    specs = read_specs(path)
    progs: dict[str, Any] = {}
    for s in specs:
        if not is_test(s):
            continue
        entry: dict[str, Any] = {
            "expect": "failure" if s.expect_failure else "success",
            "msgs": len(s.msgs),
            "retval": None if s.retval is None else s.retval & 0xFFFFFFFF,
        }
        if kernel:
            entry["kernel"] = kernel_answer(path, specs, s)
        if pybpf_side:
            entry["pybpf"] = pybpf_answer(path, specs, s)
        progs[s.name] = entry
    unpriv: dict[str, Any] = {}
    for s in specs:
        if not (pybpf_side and is_unpriv_test(s)):
            continue
        fail = s.expect_failure if s.unpriv_expect_failure is None else s.unpriv_expect_failure
        unpriv[s.name] = {"expect": "failure" if fail else "success",
                          "msgs": len(s.unpriv_msgs or s.msgs),
                          "pybpf": pybpf_answer(path, specs, s, unprivileged=True)}  # fmt: skip
    return {"object": path.stem, "programs": progs, "unpriv": unpriv,
            "skipped": sum(1 for s in specs if not is_test(s))}  # fmt: skip


def _run_child(path: Path, kernel: bool, pybpf_side: bool, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", str(path)]
    if not kernel:
        cmd.append("--no-kernel")
    if not pybpf_side:
        cmd.append("--no-pybpf")
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"object": path.stem, "timeout": True, "programs": {}}
    try:
        data: dict[str, Any] = json.loads(res.stdout.splitlines()[-1])
        return data
    except (json.JSONDecodeError, IndexError):
        return {"object": path.stem, "crash": res.stderr[-2000:], "programs": {}}


# --- what the disagreements are about -----------------------------------------------------

REASONS = (
    ("kfunc", r"ksym|kfunc|kernel function|unknown#20\d{8}|_kern_ctx|arg#\d+ pointer type"),
    ("prog BTF not given to the verifier", r"without BTF|missing btf func_info"),
    ("kptr / iterator / dynptr / graph", r"kptr|iter|dynptr|rbtree|bpf_list|refcount|arena"),
    ("kernel BTF type", r"btf|BTF|struct \S+ at off|CO-RE|core_reloc|btf_id|trusted|rcu"),
    ("program type / attach", r"attach|unknown program type|missing BPF prog type|sleep"),
    ("helper / map type", r"unknown func|helper|map_type|func#|bpf_[a-z_]+#\d+"),
)


def reason(entry: dict[str, Any], reference: dict[str, Any]) -> str:
    """Why pybpf disagrees with the reference: ``side [category]: detail``."""
    p = entry.get("pybpf") or {}
    if p.get("error"):
        return f"no answer [{p['error'].split('(')[0].strip()}]: {p['error'][:60]}"
    text = p.get("message", "") if reference["accepted"] else reference.get("message", "")
    side = "pybpf rejects" if reference["accepted"] else "pybpf accepts"
    if p.get("open_error"):
        side = "pybpf cannot open"
    for name, rx in REASONS:
        if re.search(rx, text):
            return f"{side} [{name}]: {_squash(text)}"
    return f"{side} [{'loader' if p.get('open_error') else 'verifier'}]: {_squash(text)}"


def _squash(text: str) -> str:
    return re.sub(r"\d+", "N", text)[:90]


def _count_retval(c: Counter[str], e: dict[str, Any], p: dict[str, Any], k: dict[str, Any] | None) -> None:
    """__retval: pybpf's run against the annotation and against the kernel's run."""
    if e["retval"] is None or not p.get("accepted"):
        return
    got = p.get("retval")
    c["pybpf runs with __retval"] += 1
    if not isinstance(got, int):
        c["pybpf run failed"] += 1
    want = e["retval"]
    c["pybpf retval = annotation"] += isinstance(got, int) and (want == POINTER_VALUE or got == want)
    if k is not None and k.get("accepted") and "retval" in k:
        c["kernel runs with __retval"] += 1
        kr = k["retval"]
        c["kernel retval = annotation"] += kr is not None and (want == POINTER_VALUE or kr == want)
        # a pointer's value differs from run to run: both returning one is agreement
        same = got == kr or (want == POINTER_VALUE and isinstance(got, int) and kr is not None)
        c["pybpf retval = kernel retval"] += bool(same)


def _count_unpriv(c: Counter[str], results: list[dict[str, Any]]) -> None:
    """Unprivileged mode: pybpf against the annotations (the kernel here refuses
    unprivileged bpf(), so the ``_unpriv`` expectations are the reference)."""
    for r in results:
        for e in r.get("unpriv", {}).values():
            p = e["pybpf"]
            c["unpriv: programs"] += 1
            if p.get("privileged_map"):
                c["unpriv: uses a map only privileged loaders create (left out)"] += 1
                continue
            if p.get("accepted") is None:
                c["unpriv: pybpf crash or time-out"] += 1
                continue
            want = e["expect"] == "success"
            c["unpriv: judged"] += 1
            c["unpriv: pybpf verdict = annotation"] += p["accepted"] == want
            if p["accepted"] and not want:
                c["unpriv: false accepts (annotation rejects)"] += 1
            if e["msgs"]:
                c["unpriv: programs with __msg"] += 1
                c["unpriv: pybpf log matches __msg"] += bool(p.get("msgs_ok"))


def summarize(results: list[dict[str, Any]], ref: dict[str, Any] | None = None) -> dict[str, Any]:
    """The counts the issue asks for; ``ref`` (recorded kernel answers by object and
    program) replaces the live kernel answers when given."""
    c: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    cpu = 0.0
    for r in results:
        c["objects"] += 1
        for what in ("timeout", "crash"):
            if r.get(what):
                c[f"objects whose child {what}"] += 1
        c["programs skipped (auxiliary, unprivileged only, other arch)"] += r.get("skipped", 0)
        for name, e in r["programs"].items():
            c["programs (privileged tests)"] += 1
            k = e.get("kernel")
            if ref is not None:
                k = ref.get(r["object"], {}).get(name)
            p = e.get("pybpf")
            want = e["expect"] == "success"
            if k is not None and k.get("refused"):
                c["kernel refused before verifying (no log; left out)"] += 1
                if p is not None:
                    c["  of those, pybpf verdict = annotation"] += p.get("accepted") == want
                k = None
            elif k is not None:
                c["kernel verdicts"] += 1
                c["kernel verdict = annotation"] += k["accepted"] == want
                if e["msgs"]:
                    c["kernel: programs with __msg"] += 1
                    c["kernel log matches __msg"] += bool(k["msgs_ok"])
            if p is None:
                continue
            cpu += p.get("cpu", 0.0)
            c["pybpf verdict = annotation"] += p.get("accepted") == want
            if e["msgs"]:
                c["programs with __msg"] += 1
                c["pybpf log matches __msg"] += bool(p.get("msgs_ok"))
                if k is not None and k["msgs_ok"]:
                    c["pybpf log matches __msg where the kernel's does"] += bool(p.get("msgs_ok"))
            _count_retval(c, e, p, k)
            if k is None:
                continue
            if p.get("accepted") == k["accepted"]:
                c["pybpf verdict = kernel"] += 1
                if p.get("accepted") is False:
                    c["both reject"] += 1
                    c["both reject, same errno"] += p.get("errno") == k.get("errno")
                    c["both reject, same message"] += p.get("message") == k.get("message")
                continue
            if p.get("accepted") is None:
                c["pybpf crash or time-out"] += 1
            elif p["accepted"]:
                c["false accepts (kernel rejects, pybpf accepts)"] += 1
            else:
                c["false rejects (kernel accepts, pybpf rejects)"] += 1
            reasons[reason(e, k)] += 1
    _count_unpriv(c, results)
    cats: Counter[str] = Counter()
    for text, n in reasons.items():
        m = re.search(r"^(.*?) \[(.*?)\]", text)
        cats[f"{m.group(1)}: {m.group(2)}" if m else text] += n
    return {"counts": dict(c), "categories": dict(cats.most_common()),
            "reasons": reasons.most_common(40), "pybpf_cpu_seconds": round(cpu, 1)}


def recorded_answers(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The kernel's answers as the data file holds them."""
    uname = os.uname()
    return {
        "recorded_with": {"kernel": uname.release, "loader": "libbpf.so.1 (ctypes)",
                          "command": "python tests/selftests/verifier_progs.py --record FILE"},
        "objects": {r["object"]: {n: {"expect": e["expect"], "msgs": e["msgs"], **e["kernel"]}
                                  for n, e in sorted(r["programs"].items()) if "kernel" in e}
                    for r in sorted(results, key=lambda r: r["object"])},
    }  # fmt: skip


def load_recorded(path: Path = RECORDED) -> dict[str, Any]:
    """The recorded kernel answers: by object stem, by program name."""
    with open(path) as f:
        data: dict[str, Any] = json.load(f)["objects"]
    return data


def recorded_release(path: Path = RECORDED) -> str:
    """The kernel release that answered."""
    with open(path) as f:
        return str(json.load(f)["recorded_with"]["kernel"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("objects", nargs="*", help="object stems (default: all)")
    ap.add_argument("--one", metavar="OBJ", help=argparse.SUPPRESS)
    ap.add_argument("--no-kernel", action="store_true", help="pybpf only")
    ap.add_argument("--no-pybpf", action="store_true", help="the kernel only")
    ap.add_argument("--recorded", metavar="FILE", help="compare with recorded kernel answers")
    ap.add_argument("--record", metavar="FILE", help="write the kernel's answers")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per object")
    ap.add_argument("--out", metavar="FILE", help="per-object results as JSON lines")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(judge_object(Path(args.one), not args.no_kernel, not args.no_pybpf)))
        return 0
    why = missing_tools()
    if why:
        print(f"cannot build the programs: {why}", file=sys.stderr)
        return 2
    objs, n_sources = build(jobs=args.jobs)
    chosen = [objs[k] for k in sorted(objs) if not args.objects or k in args.objects]
    kernel = not args.no_kernel and not args.recorded
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(
            lambda p: _run_child(p, kernel, not args.no_pybpf, args.timeout), chosen))
    if args.out:
        with open(args.out, "w") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")
    if args.record:
        with open(args.record, "w") as f:
            json.dump(recorded_answers(results), f, indent=0, sort_keys=True)
            f.write("\n")
    ref = load_recorded(Path(args.recorded)) if args.recorded else None
    summary = summarize(results, ref)
    summary["counts"] = {"sources": n_sources, "compiled": len(objs), **summary["counts"]}
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
