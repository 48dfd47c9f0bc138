"""The kernel's selftests programs for the ``bpf_link``, ``sockmap`` and ``task``
iterators (Debian linux-source-6.12 ``progs/bpf_iter_bpf_link.c``,
``bpf_iter_sockmap.c``, ``bpf_iter_tasks.c``, ``bpf_iter_task_btf.c``,
``bpf_iter_test_kern3.c``), compiled at test time: pybpf's verdicts are the
kernel's (recorded in ``tests/data/iter/selftests_targets_verdicts.json`` by
``python -m tests.iter.test_selftests_targets``; asked again where bpf() and libbpf are
available), and the iterators do what ``prog_tests/bpf_iter.c`` and
``prog_tests/sockmap_basic.c`` check of them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ..elf.test_selftests_progs import build_selftests
from .selftests_build import (
    built_objects,
    check_pybpf_verdicts,
    check_running_kernel_verdicts,
    iter_link,
    kernel_verdicts,
    open_object,
)

SOURCES = [
    "bpf_iter_bpf_link.c", "bpf_iter_sockmap.c", "bpf_iter_tasks.c", "bpf_iter_task_btf.c",
    "bpf_iter_test_kern3.c",
]  # fmt: skip
VERDICTS = Path(__file__).resolve().parents[1] / "data" / "iter" / "selftests_targets_verdicts.json"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return built_objects(tmp_path_factory.mktemp("iter-target-selftests"), SOURCES)


_open, _link, _verdicts = open_object, iter_link, kernel_verdicts


# --- verdicts ----------------------------------------------------------------------------


def test_pybpf_verdicts_are_the_kernels(objs: dict[str, Path]) -> None:
    assert len(json.loads(VERDICTS.read_text())) == len(SOURCES)
    check_pybpf_verdicts(objs, VERDICTS)


@pytest.mark.kernel
def test_recorded_verdicts_are_the_running_kernels(objs: dict[str, Path]) -> None:
    check_running_kernel_verdicts(objs, VERDICTS)


# --- what the kernel's tests check -----------------------------------------------------------


def test_bpf_link_writes_every_link_id(objs: dict[str, Path]) -> None:
    obj = _open(objs, "bpf_iter_bpf_link")
    obj.load()
    first = _link(obj, "dump_bpf_link")
    second = _link(obj, "dump_bpf_link")
    out = second.read_all()
    ids = [int.from_bytes(out[i : i + 4], "little") for i in range(0, len(out), 4)]
    assert ids == sorted(ids) and {first.id, second.id} <= set(ids)


@pytest.mark.parametrize("map_name", ["sockmap", "sockhash"])
def test_sockmap_copy(objs: dict[str, Path], map_name: str) -> None:
    """sockmap_basic's test_sockmap_copy: every slot (sockmap) or element (sockhash) is
    visited, sockets are copied into a sockhash under the same key."""
    from pybpf.maps.standins import Socket

    obj = _open(objs, "bpf_iter_sockmap")
    obj.load()
    src, dst = obj.maps[map_name].map, obj.maps["dst"].map
    socks = {i: Socket() for i in (0, 3, 17, 63)}
    for i, sk in socks.items():
        src.update(i.to_bytes(4, "little"), sk)
    assert _link(obj, "copy", src).read_all() == b""
    elems = src.spec.max_entries if map_name == "sockmap" else len(socks)
    assert (obj.bss["elems"], obj.bss["socks"]) == (elems, len(socks))
    for i, sk in socks.items():
        assert dst.bpf_lookup(i.to_bytes(4, "little"), 0) == sk.address


def test_tasks_lists_tgid_and_pid(objs: dict[str, Path]) -> None:
    from pybpf.iter import kernel_tasks

    obj = _open(objs, "bpf_iter_tasks")
    obj.load()
    obj.bss["tid"] = 2
    text = _link(obj, "dump_task").read_all().decode()
    tasks = kernel_tasks(obj.kernel).by_pid()
    want = (
        ["    tgid      gid"]
        + [f"{t.get('tgid'):8d} {p:8d}" for p, t in tasks]
        + ["    === END ==="]
    )
    assert text.splitlines() == want
    assert (obj.bss["num_known_tid"], obj.bss["num_unknown_tid"]) == (1, len(tasks) - 1)


def test_task_btf_shows_each_task_struct(objs: dict[str, Path]) -> None:
    """bpf_iter.c test_task_btf: the text holds ``(struct task_struct)``; every task is
    shown (the final call's NULL task is ERANGE, not an error)."""
    from pybpf.iter import kernel_tasks

    obj = _open(objs, "bpf_iter_task_btf")
    obj.load()
    text = _link(obj, "dump_task_struct").read_all().decode("latin-1")
    assert text.startswith("Raw BTF task\n(struct task_struct){\n")
    assert " .comm = (char[])[\n  'i',\n  'n',\n  'i',\n  't',\n ],\n}\n" in text
    assert obj.bss["tasks"] == len(kernel_tasks(obj.kernel).tasks)
    assert obj.bss["seq_err"] == 0


def record() -> dict[str, Any]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        built = build_selftests(Path(tmp), SOURCES)
        return {p.stem: _verdicts(p) for p in built}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    VERDICTS.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    print(f"written {VERDICTS}", file=sys.stderr)
