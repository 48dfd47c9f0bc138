"""Programs of the kernel's BPF selftests (Debian's linux-source-6.12), compiled at test
time against a vmlinux.h bpftool makes from the running kernel, judged by pybpf and by
the kernel (through libbpf).  Nothing of them is committed.

A small fixed sample runs here (slow, kernel); ``selftests_progs.py`` measures all of
them.  The test holds the agreement at or above what was measured when it was written.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from . import libbpf_ref
from .conftest import CLANG


def ksrc() -> Path:
    """The 6.12 tree, extracted from Debian's tarball on first use (a missing path when
    the package is not installed)."""
    from ..kernel_sources import linux_612

    return linux_612() or Path("/nonexistent/linux-source-6.12")


def selftests_dir() -> Path:
    return ksrc() / "tools" / "testing" / "selftests" / "bpf"

VMLINUX = Path("/sys/kernel/btf/vmlinux")
HELPER_DEFS = Path("/usr/include/bpf/bpf_helper_defs.h")

# Programs pybpf can judge (packet and socket types, maps, global data, calls, loops);
# the tracing-heavy part of the selftests needs kernel BTF pybpf does not have yet.
SAMPLE = [
    "test_xdp.c", "xdp_dummy.c", "test_xdp_loop.c", "test_global_data.c", "test_pkt_access.c",
    "test_tc_edt.c", "test_sk_lookup_kern.c", "test_map_init.c", "test_l4lb.c", "test_subprogs.c",
]  # fmt: skip
MIN_AGREEMENT = 0.9  # 20 of 21 when written (the 21st needs func_info in the verifier)


def build_selftests(out: Path, sources: list[str]) -> list[Path]:
    """Compile selftests programs as their Makefile does (-mcpu=v3), headers from the
    kernel tree and a vmlinux.h of the running kernel."""
    KSRC, SELFTESTS = ksrc(), selftests_dir()
    inc = out / "include"
    (inc / "bpf").mkdir(parents=True, exist_ok=True)
    for h in ("bpf_helpers.h", "bpf_tracing.h", "bpf_core_read.h", "bpf_endian.h"):
        shutil.copy(KSRC / "tools" / "lib" / "bpf" / h, inc / "bpf" / h)
    shutil.copy(HELPER_DEFS, inc / "bpf" / "bpf_helper_defs.h")
    with open(inc / "vmlinux.h", "w") as f:
        subprocess.run(["bpftool", "btf", "dump", "file", str(VMLINUX), "format", "c"], stdout=f,
                       check=True, timeout=120)  # fmt: skip
    built = []
    for src in sources:
        obj = out / src.replace(".c", ".o")
        cmd = [CLANG or "clang-19", "-g", "-O2", "--target=bpf", "-mcpu=v3", "-D__TARGET_ARCH_x86",
               "-DENABLE_ATOMICS_TESTS", f"-I{inc}", f"-I{SELFTESTS}", f"-I{SELFTESTS / 'progs'}",
               f"-I{KSRC / 'tools' / 'include' / 'uapi'}", f"-I{KSRC / 'tools' / 'include'}",
               "-idirafter", "/usr/include/x86_64-linux-gnu", "-idirafter", "/usr/include",
               "-Wno-compare-distinct-pointer-types", "-c", str(SELFTESTS / "progs" / src),
               "-o", str(obj)]  # fmt: skip
        if subprocess.run(cmd, capture_output=True, timeout=120).returncode == 0:
            built.append(obj)
    return built


@pytest.mark.slow
@pytest.mark.kernel
def test_selftests_sample_agrees_with_the_kernel(tmp_path: Path) -> None:
    from pybpf.oracle import available, unavailable_reason

    from .selftests_progs import judge_one, summarize

    for what, ok in (("clang-19", CLANG is not None), ("linux-source-6.12", selftests_dir().is_dir()),
                     ("bpftool", shutil.which("bpftool") is not None),
                     ("/sys/kernel/btf/vmlinux", VMLINUX.exists()),
                     ("libbpf-dev", HELPER_DEFS.exists()),
                     ("libbpf.so.1", libbpf_ref.libbpf() is not None)):  # fmt: skip
        if not ok:
            pytest.skip(f"{what} is not available")
    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    objs = build_selftests(tmp_path, SAMPLE)
    assert len(objs) >= len(SAMPLE) // 2, "most of the sample should compile"
    counts = summarize([judge_one(str(o)) for o in objs])["counts"]
    judged = counts.get("programs", 0) - counts.get("no pybpf verdict", 0)
    assert judged, counts
    assert counts.get("same verdict", 0) / judged >= MIN_AGREEMENT, counts
