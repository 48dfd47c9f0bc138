"""The kernel selftests' kptr programs (``progs/map_kptr.c``, ``progs/map_kptr_fail.c`` of
Debian's linux-source-6.12), compiled at test time and verified by pybpf.

The running kernel cannot judge them itself (they call ``bpf_testmod``'s kfuncs, and no
test module is loaded), so the kernel's verdicts are the selftests' own: a program marked
``__failure __msg("...")`` must be refused with that text in the log (as the selftests'
``test_loader`` checks), and the programs of ``map_kptr.c`` must load (its
``prog_tests/map_kptr.c`` loads them all).  Nothing compiled is committed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

SOURCES = ["map_kptr_fail.c", "map_kptr.c"]

# Expectations upstream changed after 6.12 to what the running kernel says (an array lookup
# with a constant in-range key no longer takes an id for a NULL check)
RUNNING_KERNEL_MSGS = {"kptr_xchg_ref_state": ["Unreleased reference id=4 alloc_insn="]}

KNOWN_GAPS: dict[str, str] = {}


def expectations(src: Path) -> dict[str, tuple[bool, list[str]]]:
    """Each program's expected verdict and log texts from its annotations."""
    out: dict[str, tuple[bool, list[str]]] = {}
    pending: list[str] = []
    failure = False
    in_prog = False
    for line in src.read_text().splitlines():
        if line.startswith("SEC("):
            in_prog, failure, pending = True, False, []
            continue
        if not in_prog:
            continue
        failure |= "__failure" in line
        pending += re.findall(r'__msg\("((?:[^"\\]|\\.)*)"\)', line)
        m = re.match(r"^int (?:BPF_PROG\()?(\w+)[(,]", line)
        if m:
            out[m.group(1)] = (not failure, [p.replace('\\"', '"') for p in pending])
            in_prog = False
    return out


@pytest.mark.slow
def test_map_kptr_selftests(tmp_path: Path) -> None:
    import pybpf
    from tests.elf.test_selftests_progs import HELPER_DEFS, VMLINUX, build_selftests, selftests_dir

    for what, ok in (("clang-19", shutil.which("clang-19") is not None), ("linux-source-6.12", (selftests_dir() / "progs").is_dir()),
                     ("bpftool", shutil.which("bpftool") is not None), ("vmlinux BTF", VMLINUX.exists()),
                     ("libbpf-dev", HELPER_DEFS.exists())):  # fmt: skip
        if not ok:
            pytest.skip(f"{what} is not available")
    objs = build_selftests(tmp_path, SOURCES)
    assert len(objs) == len(SOURCES), "both sources should compile"
    agree, bad = 0, []
    for obj in objs:
        want = expectations(selftests_dir() / "progs" / obj.name.replace(".o", ".c"))
        for v in pybpf.open(str(obj)).verify(log_level=1):
            accepted, msgs = want[v.name]
            msgs = RUNNING_KERNEL_MSGS.get(v.name, msgs)
            ok = v.accepted == accepted and all(m in v.log for m in msgs)
            if ok:
                agree += 1
            elif v.name not in KNOWN_GAPS:
                bad.append((v.name, v.accepted, v.message, accepted, msgs))
    print(f"\nmap_kptr selftests: {agree} programs as the kernel's selftests expect")
    assert not bad, bad
    assert agree >= 32


@pytest.mark.slow
def test_map_kptr_programs_run_as_the_selftest_expects(tmp_path: Path) -> None:
    """``prog_tests/map_kptr.c``'s run: programs move the test object in and out of eight
    maps and check its refcount against the ``ref`` global; user space overwrites and
    deletes elements, decrementing ``ref`` each time the map must have released one."""
    import pybpf
    from pybpf.kernel.vmlinux.runtime import reset_test_object
    from tests.elf.test_selftests_progs import HELPER_DEFS, VMLINUX, build_selftests, selftests_dir

    if not (shutil.which("clang-19") and (selftests_dir() / "progs").is_dir() and shutil.which("bpftool") and VMLINUX.exists()
            and HELPER_DEFS.exists()):  # fmt: skip
        pytest.skip("clang-19, linux-source-6.12, bpftool or vmlinux BTF missing")
    (obj_path,) = build_selftests(tmp_path, ["map_kptr.c"])
    obj = pybpf.open(str(obj_path))
    for name in KNOWN_GAPS:
        if name in obj.programs:
            obj.programs[name].autoload = False
    reset_test_object()
    obj.load()
    data = obj.maps[".data"]
    assert data.spec.value_size == 4  # only ``int ref``
    zero = (0).to_bytes(4, "little")
    pkt = bytes(64)

    def ref_minus_one() -> None:
        ref = int.from_bytes(data.lookup(zero)[:4], "little", signed=True)
        data.update(zero, (ref - 1).to_bytes(4, "little", signed=True))

    def run(name: str) -> int:
        return obj.programs[name].run(pkt).retval

    try:
        assert run("test_map_kptr_ref1") == 0
        assert run("test_map_kptr_ref2") == 0
        ncpu = obj.maps["pcpu_array_map"].num_cpus
        steps = [
            ("array_map", "update", bytes(16)),
            ("pcpu_array_map", "update", bytes(16 * ncpu)),
            *((m, "delete", None) for m in ("hash_map", "pcpu_hash_map", "hash_malloc_map", "pcpu_hash_malloc_map",
                                             "lru_hash_map", "lru_pcpu_hash_map")),
        ]  # fmt: skip
        for map_name, op, value in steps:
            m = obj.maps[map_name]
            if op == "update":
                m.update(zero, value)
            else:
                m.delete(zero)
            ref_minus_one()
            assert run("test_map_kptr_ref3") == 0, map_name  # the map gave its reference back
    finally:
        obj.close()
