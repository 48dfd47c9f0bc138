"""The optional mypyc build of the verifier (``make accel``): when it is used, and that it
changes nothing but the speed.

The loader's decisions are checked on a throw-away package laid out like pybpf's (the real
``__init__`` and ``_accel`` copied in, a fake build whose stand-in modules say where they
were imported from), in fresh interpreters, so the real import path runs: ``__path__``,
the shared-library import, the stamp, the stat cache.  The equality test needs a real
build of the current sources and skips without one (the suite never builds it; `make test`
builds it first: 1-4 min).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pybpf.verifier
from pybpf.verifier import _accel

PKG = Path(pybpf.verifier.__file__).parent
TOOLS = Path(__file__).resolve().parents[2] / "tools"


def _make_tree(tmp: Path) -> Path:
    """``tmp/src/pybpf/verifier`` with the real loader, two modules and one dependency
    outside the package; returns ``tmp/src``."""
    src = tmp / "src"
    pkg = src / "pybpf" / "verifier"
    pkg.mkdir(parents=True)
    (src / "pybpf" / "__init__.py").write_text("")
    (src / "pybpf" / "dep.py").write_text("X = 1\n")
    shutil.copy(PKG / "__init__.py", pkg / "__init__.py")
    shutil.copy(PKG / "_accel.py", pkg / "_accel.py")
    (pkg / "hot.py").write_text("from .. import dep\nWHERE = 'source'\n")
    (pkg / "cold.py").write_text("WHERE = 'source'\n")
    return src


def _make_build(src: Path, root: Path, lib_body: str = "") -> Path:
    """A build of the tree's current sources, as tools/build_accel.py lays one out: a
    stamp, the package's compiled modules (here a stand-in for ``hot``) and the shared
    library their shims import by a top-level name (here a module, maybe failing)."""
    pkg = src / "pybpf" / "verifier"
    digest = _accel.source_hash(pkg)
    where = _accel.build_dir(root, digest)
    (where / "pybpf" / "verifier").mkdir(parents=True)
    (where / "pybpf" / "verifier" / "hot.py").write_text("WHERE = 'build'\n")
    (where / "abc123__mypyc.py").write_text(lib_body)
    deps = ["pybpf/dep.py"]
    stamp = {"hash": digest, "deps": deps, "deps_hash": _accel.files_hash([src / d for d in deps])}
    (where / _accel.STAMP).write_text(json.dumps(stamp))
    return where


def _probe(src: Path, root: Path, **env: str) -> tuple[str, str, str]:
    """(build_info(), where hot came from, where cold came from) in a fresh interpreter."""
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        import pybpf.verifier as v
        from pybpf.verifier import cold, hot
        assert v.__file__.startswith(sys.argv[1]), v.__file__
        print(v.build_info(), hot.WHERE, cold.WHERE, sep="|")
    """)
    full = {k: v for k, v in os.environ.items() if k != "PYBPF_PURE"}
    full.update(PYBPF_ACCEL_DIR=str(root), **env)
    out = subprocess.run([sys.executable, "-c", code, str(src)], env=full, capture_output=True,
                         text=True, timeout=60, check=True)  # fmt: skip
    info, hot, cold = out.stdout.strip().split("|")
    return info, hot, cold


def test_matching_build_is_used_for_what_it_compiled(tmp_path: Path) -> None:
    src = _make_tree(tmp_path)
    where = _make_build(src, tmp_path / "cache")
    assert _probe(src, tmp_path / "cache") == (f"mypyc {where.name}", "build", "source")
    # the second run takes the stat cache's word for the hash, with the same answer
    assert (tmp_path / "cache" / _accel.STAT_CACHE).is_file()
    assert _probe(src, tmp_path / "cache") == (f"mypyc {where.name}", "build", "source")


def test_pybpf_pure_turns_it_off(tmp_path: Path) -> None:
    src = _make_tree(tmp_path)
    _make_build(src, tmp_path / "cache")
    assert _probe(src, tmp_path / "cache", PYBPF_PURE="1") == ("pure", "source", "source")


def test_any_edit_falls_back_to_pure_python(tmp_path: Path) -> None:
    src = _make_tree(tmp_path)
    root = tmp_path / "cache"
    where = _make_build(src, root)
    assert _probe(src, root)[0] == f"mypyc {where.name}"  # (fills the stat cache)
    cold = src / "pybpf" / "verifier" / "cold.py"
    original = cold.read_text()
    cold.write_text(original + "# an edit to a module that is not even compiled\n")
    assert _probe(src, root) == ("pure", "source", "source")
    cold.write_text(original)  # the same bytes again: the build matches again
    assert _probe(src, root)[0] == f"mypyc {where.name}"
    (src / "pybpf" / "verifier" / "new.py").write_text("")  # a new module: stale too
    assert _probe(src, root)[0] == "pure"


def test_an_edit_that_keeps_size_and_mtime_is_seen(tmp_path: Path) -> None:
    """``cp -p``, ``rsync -a`` and ``touch -r`` give an edited file its old size and
    modification time: the stat cache must not vouch for it (inode and change time)."""
    src = _make_tree(tmp_path)
    root = tmp_path / "cache"
    where = _make_build(src, root)
    assert _probe(src, root)[0] == f"mypyc {where.name}"  # (fills the stat cache)
    cold = src / "pybpf" / "verifier" / "cold.py"
    before = cold.stat()
    cold.write_text(cold.read_text().replace("source", "sourcE"))  # same size
    os.utime(cold, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert cold.stat().st_size == before.st_size
    assert _probe(src, root) == ("pure", "source", "sourcE")


def test_an_edited_dependency_outside_the_package_is_stale(tmp_path: Path) -> None:
    src = _make_tree(tmp_path)
    root = tmp_path / "cache"
    _make_build(src, root)
    (src / "pybpf" / "dep.py").write_text("X = 2\n")
    assert _probe(src, root) == ("pure", "source", "source")


def test_a_stamp_for_other_sources_is_ignored(tmp_path: Path) -> None:
    src = _make_tree(tmp_path)
    root = tmp_path / "cache"
    where = _make_build(src, root)
    stamp = json.loads((where / _accel.STAMP).read_text())
    (where / _accel.STAMP).write_text(json.dumps({**stamp, "hash": "0" * 64}))
    assert _probe(src, root) == ("pure", "source", "source")
    (where / _accel.STAMP).write_text("{not json")
    assert _probe(src, root) == ("pure", "source", "source")


def test_a_library_that_cannot_load_leaves_it_pure(tmp_path: Path) -> None:
    src = _make_tree(tmp_path)
    root = tmp_path / "cache"
    _make_build(src, root, lib_body="raise ImportError('wrong ABI')\n")
    assert _probe(src, root) == ("pure", "source", "source")


def test_no_cache_directory_costs_one_stat(tmp_path: Path) -> None:
    src = _make_tree(tmp_path)
    assert _probe(src, tmp_path / "absent") == ("pure", "source", "source")
    assert not (tmp_path / "absent").exists()


def test_the_builder_and_loader_hash_alike(tmp_path: Path) -> None:
    """tools/build_accel.py loads _accel from its snapshot; the dependency list it records
    is every pybpf module outside the package."""
    spec = importlib.util.spec_from_file_location("build_accel", TOOLS / "build_accel.py")
    assert spec is not None and spec.loader is not None
    build_accel = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_accel)
    src = _make_tree(tmp_path)
    snap = tmp_path / "snap"
    build_accel._snapshot(src, snap)
    mod = build_accel._load_accel(snap)
    assert mod.source_hash(snap / "pybpf" / "verifier") == _accel.source_hash(
        src / "pybpf" / "verifier"
    )
    assert build_accel._outside_files(snap) == ["pybpf/__init__.py", "pybpf/dep.py"]
    assert set(build_accel.HOT) <= {p.stem for p in _accel.sources(PKG)}



def test_old_builds_are_pruned(tmp_path: Path) -> None:
    """Each edit of the sources makes another build: only the newest few are kept."""
    spec = importlib.util.spec_from_file_location("build_accel", TOOLS / "build_accel.py")
    assert spec is not None and spec.loader is not None
    build_accel = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_accel)
    root = tmp_path / "cache"
    dirs = []
    for k in range(6):
        d = root / f"build{k}"
        d.mkdir(parents=True)
        (d / _accel.STAMP).write_text("{}")
        os.utime(d, (1000 + k, 1000 + k))
        dirs.append(d)
    (root / ".staging").mkdir()
    build_accel._prune(root, dirs[0], _accel.STAMP)  # (the one just installed: kept)
    left = sorted(p.name for p in root.iterdir())
    assert build_accel.KEEP == 3 and left == [".staging", "build0", "build4", "build5"]


# A sample of programs verified at log level 2: verdict, errno, message, count, log.
_SAMPLE = """
import json, re, sys
from pybpf.case import Case, _case_maps
from pybpf.isa import assemble, encode_hex
from pybpf.kernel.state import Kernel
from pybpf.verifier import Options, build_info, verify
cases = []
try:
    from pybpf.selftests.test_verifier import iter_cases
    cases = [dict(sc.case) for sc in iter_cases() if sc.case is not None][::10]
except Exception:
    pass
for n in (300, 2000):
    loop = "r1 = 0\\nr2 = 0\\nl:\\nr2 += 3\\nr2 ^= r1\\nr1 += 1\\nif r1 < %d goto l\\nr0 = 0\\nexit" % n
    cases.append({"name": f"loop {n}", "prog_type": "socket_filter",
                  "insns": encode_hex(assemble(loop))})
addr = re.compile(r"\\b0x[0-9a-f]{11,12}\\b")  # (a map object's address)
out = []
for c in cases:
    case = Case.from_json(c)
    kernel = Kernel(seed=0)
    maps = _case_maps(case, kernel)
    flags = int(c.get("prog_flags", 0))
    opts = Options(strict_alignment=bool(flags & 1), any_alignment=bool(flags & 2), log_level=2)
    r = verify(list(case.insns), case.prog_type, maps=maps, kernel=kernel,
               expected_attach_type=case.expected_attach_type, options=opts)
    log = [addr.sub("0xADDR", x) for x in r.log.splitlines()
           if not x.startswith("verification time")]  # (map addresses: per process)
    out.append([c.get("name"), r.accepted, r.errno, r.message, r.insns_processed, log])
print(json.dumps({"build": build_info(), "results": out}))
"""


def _sample(pure: bool) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "PYBPF_PURE"}
    if pure:
        env["PYBPF_PURE"] = "1"
    out = subprocess.run([sys.executable, "-c", _SAMPLE], env=env, capture_output=True,
                         text=True, timeout=600, check=True)  # fmt: skip
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.slow
def test_the_build_of_these_sources_gives_the_same_answers() -> None:
    where = _accel.find_build(PKG, even_if_pure=True)  # (make test runs pure)
    if where is None:
        pytest.skip("no mypyc build of the current verifier sources (`make accel` makes one)")
    compiled, pure = _sample(pure=False), _sample(pure=True)
    assert compiled["build"] == f"mypyc {where.name}" and pure["build"] == "pure"
    assert isinstance(pure["results"], list) and len(pure["results"]) >= 2
    assert compiled["results"] == pure["results"]
