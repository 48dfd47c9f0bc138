"""pybpf.kernel's helper and context tables against the kernel's answers.

The replay tests compare with what ``record_kernel_tables.py`` recorded from Linux 6.18
(``tests/data/kernel``); the ``kernel`` tests ask the running kernel afresh.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pybpf.kernel.context import BPF_SOCK, SK_BUFF, XDP_MD, CtxLayout
from pybpf.kernel.ctx_access import (
    BPF_CGROUP_DEV_CTX,
    BPF_FLOW_KEYS,
    BPF_NF_CTX,
    BPF_PERF_EVENT_DATA,
    BPF_SK_LOOKUP,
    BPF_SOCK_ADDR,
    BPF_SOCK_OPS,
    BPF_SOCKOPT,
    BPF_SYSCTL,
    PT_REGS_X86_64,
    SK_MSG_MD,
    SK_REUSEPORT_MD,
)
from pybpf.oracle import available, unavailable_reason

from . import compare
from .kernel_probe import CONFIGS, kernel_loader, loadable, vmlinux_struct
from .record_kernel_tables import record_args, record_caps, record_ctx, record_helpers

DATA = Path(__file__).resolve().parent.parent / "data" / "kernel"

LAYOUTS = (SK_BUFF, XDP_MD, BPF_SOCK, BPF_SOCK_ADDR, BPF_SOCK_OPS, SK_MSG_MD,
           SK_REUSEPORT_MD, BPF_SK_LOOKUP, BPF_SYSCTL, BPF_SOCKOPT, BPF_CGROUP_DEV_CTX,
           BPF_NF_CTX, BPF_FLOW_KEYS, BPF_PERF_EVENT_DATA, PT_REGS_X86_64)  # fmt: skip

needs_kernel = pytest.mark.skipif(
    not available(), reason=f"bpf() unavailable: {unavailable_reason()}"
)


def _recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


def _assert_agrees(tally: compare.Tally, at_least: int) -> None:
    assert tally.checked >= at_least
    shown = "\n".join(tally.mismatches[:20])
    assert not tally.mismatches, f"{len(tally.mismatches)} of {tally.checked} differ:\n{shown}"


# --- replay --------------------------------------------------------------------------------


def test_recorded_helper_availability() -> None:
    data = _recorded("helpers.json")
    loaded = [name for name, res in data["configs"].items() if res != "unloadable"]
    assert len(loaded) >= 45
    _assert_agrees(compare.compare_helpers(data), at_least=9000)


def test_recorded_capability_tiers() -> None:
    _assert_agrees(compare.compare_caps(_recorded("caps.json")), at_least=1400)


def test_recorded_helper_arguments() -> None:
    data = _recorded("helper_args.json")
    assert len(data["configs"]) >= 250  # prototypes the probes reached
    _assert_agrees(compare.compare_args(data), at_least=4500)


def test_recorded_ctx_access() -> None:
    data = _recorded("ctx_access.json")
    assert sum(res != "unloadable" for res in data["configs"].values()) >= 38
    _assert_agrees(compare.compare_ctx(data), at_least=70000)
    _assert_agrees(compare.compare_sock(data), at_least=1200)


# --- live ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def load() -> Any:
    return kernel_loader()


@pytest.mark.kernel
@needs_kernel
def test_kernel_helper_availability(load: Any) -> None:
    _assert_agrees(compare.compare_helpers(record_helpers(load)), at_least=9000)


@pytest.mark.kernel
@needs_kernel
def test_kernel_capability_tiers(load: Any) -> None:
    _assert_agrees(compare.compare_caps(record_caps(load)), at_least=1400)


@pytest.mark.kernel
@needs_kernel
def test_kernel_helper_arguments(load: Any) -> None:
    _assert_agrees(compare.compare_args(record_args(load)), at_least=4500)


@pytest.mark.kernel
@needs_kernel
def test_kernel_ctx_access(load: Any) -> None:
    data = record_ctx(load)
    _assert_agrees(compare.compare_ctx(data), at_least=70000)
    _assert_agrees(compare.compare_sock(data), at_least=1200)


@pytest.mark.kernel
@needs_kernel
def test_kernel_loads_the_probe_configs(load: Any) -> None:
    """Only the trampoline users may be refused (some sandboxes forbid trampolines)."""
    refused = {cfg.name for cfg in CONFIGS if not loadable(load, cfg)}
    assert refused <= {"fentry", "fexit", "lsm"}


@pytest.mark.kernel
@needs_kernel
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_layout_matches_vmlinux_btf(layout: CtxLayout) -> None:
    btf = vmlinux_struct(layout.name)
    assert btf is not None
    assert btf.size == layout.size
    named = {name: off for name, off in btf.members if name}
    for f in layout.fields:
        if f.name in named:
            assert named[f.name] == f.offset, f.name
    assert set(named) <= {f.name for f in layout.fields}
