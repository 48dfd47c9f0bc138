"""The 6.12 selftests' open-coded iterator programs (``progs/iters.c``, ``iters_num.c``,
``iters_state_safety.c``, ``iters_looping.c``): pybpf's verdicts and messages against
the kernel's, and the numeric iterator's results when the programs run.

The objects are built as tests/selftests/verifier_progs.py builds the ``verifier_*``
ones (same cache, compiler flags and vmlinux.h).  Kernel answers are recorded in
tests/data/verifier/iters_selftests_kernel.json; ``python -m
tests.verifier.test_iters_selftests --record`` rewrites them where bpf() works.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.selftests import verifier_progs as vp

STEMS = ("iters", "iters_num", "iters_state_safety", "iters_looping")
DATA = Path(__file__).resolve().parent.parent / "data" / "verifier" / "iters_selftests_kernel.json"


def build() -> dict[str, Path]:
    """The four objects, compiled once into the verifier programs' cache."""
    vp.build(only=set())  # sources, headers and vmlinux.h
    root = vp.cache_root()
    ksrc = vp.extract_sources(root)
    st = ksrc / vp.SELFTESTS
    out = root / f"obj-{vp._vmlinux_digest()}-{vp.BUILD_KEY}"
    inc = out / "include"
    objs = {}
    for stem in STEMS:
        obj = out / f"{stem}.o"
        if not obj.exists():
            cmd = [vp.CLANG or "clang-19", "-g", "-O2", "--target=bpf", "-mcpu=v3",
                   "-D__TARGET_ARCH_x86", f"-I{inc}", f"-I{st}", f"-I{ksrc / 'tools/include/uapi'}",
                   *vp._sys_includes(), "-Wno-compare-distinct-pointer-types", "-c",
                   str(st / "progs" / f"{stem}.c"), "-o", f"{obj}.tmp"]  # fmt: skip
            subprocess.run(cmd, check=True, capture_output=True, timeout=300)
            Path(f"{obj}.tmp").rename(obj)
        objs[stem] = obj
    return objs


@pytest.fixture(scope="module")
def objects() -> dict[str, Path]:
    why = vp.missing_tools()
    if why:
        pytest.skip(why)
    return build()


def _recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text())["objects"]
    return data


@pytest.mark.slow
def test_verdicts_and_messages_are_the_kernels(objects: dict[str, Path]) -> None:
    rec = _recorded()
    bad = []
    n = 0
    for stem, path in objects.items():
        res = vp.judge_object(path, kernel=False)
        for name, e in res["programs"].items():
            k, p = rec[stem][name], e["pybpf"]
            n += 1
            same = p["accepted"] == k["accepted"] and p.get("msgs_ok") == k["msgs_ok"]
            if same and not k["accepted"]:
                same = p["errno"] == k["errno"] and p["message"] == k["message"]
            if not same:
                bad.append((stem, name, p.get("message") or p.get("error"), k["message"]))
    # 6.18 accepts iter_err_too_permissive2/3, which 6.12 annotated as failures; pybpf
    # follows the kernel
    assert n == 67
    assert not bad, bad


@pytest.mark.slow
def test_num_iterator_programs_compute_the_expected_results(objects: dict[str, Path]) -> None:
    """Each ``iters_num`` program stores a result the selftest compares with an
    ``exp_`` constant the kernel's answer was written into."""
    import pybpf

    obj = pybpf.open(objects["iters_num"])
    obj.load()
    try:
        for name, prog in obj.programs.items():
            prog.run()
            what = name.removeprefix("num_")
            assert getattr(obj.bss, f"res_{what}") == getattr(obj.rodata, f"exp_{what}"), name
    finally:
        obj.close()


def record() -> None:
    results = [vp.judge_object(p, kernel=True, pybpf_side=False) for p in build().values()]
    data = vp.recorded_answers(results)
    data["recorded_with"]["command"] = "python -m tests.verifier.test_iters_selftests --record"
    DATA.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n")


if __name__ == "__main__" and "--record" in sys.argv:
    record()
