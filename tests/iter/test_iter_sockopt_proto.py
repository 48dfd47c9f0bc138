"""``bpf_setsockopt``/``bpf_getsockopt`` from iterator programs: the helper look-up sees
the program's attach target (the iterator's own ``get_func_proto``).

Each case loads (never links or runs: a live walk would change every socket on the
machine) a program that calls one of the two helpers on the iterated object, for one
target.  The kernel's verdicts are recorded in
``tests/data/iter/sockopt_proto_kernel.json`` (``python -m tests.iter.test_iter_sockopt_proto``
writes them); the running kernel is asked again where bpf() is allowed.

The kernel (6.12 sources, 6.18 running) gives the socket options to ``iter/tcp`` and
``iter/unix`` only: ``iter/udp`` has no ``get_func_proto`` of its own, so both refuse the
helpers there.  pybpf registers the three targets as the kernel does
(:mod:`pybpf.kernel.iter_targets`), so each case's verdict is the kernel's.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "iter" / "sockopt_proto_kernel.json"

HELPERS = {"setsockopt": 49, "getsockopt": 57}
TARGETS = ("tcp", "unix", "udp", "task", "bpf_map")
CASES = tuple(f"{t}_{h}" for t in TARGETS for h in HELPERS)

PARAMS = [pytest.param(n, id=n) for n in CASES]


def _split(name: str) -> tuple[str, str]:
    target, helper = name.rsplit("_", 1)
    return target, helper


def _asm(helper: str) -> str:
    """``<helper>(ctx[1], SOL_TCP, TCP_NODELAY, fp-8, 4)`` when the object is not NULL."""
    value = "*(u64 *)(r10 - 8) = r5\n" if helper == "setsockopt" else "r0 = 0\n"
    return ("r1 = *(u64 *)(r1 + 8)\nif r1 == 0 goto +7\nr2 = 6\nr3 = 1\nr4 = r10\nr4 += -8\n"
            f"r5 = 4\n{value}call {HELPERS[helper]}\nr0 = 0\nexit\n")  # fmt: skip


def _verdict(accepted: bool, err: int, message: str) -> dict[str, Any]:
    return {"accepted": accepted, "errno": err, "message": message}


def run_pybpf(name: str) -> dict[str, Any]:
    from pybpf.isa import assemble
    from pybpf.kernel.progtypes import AttachType, ProgType
    from pybpf.kernel.state import Kernel
    from pybpf.program import ProgramRejected, load_program
    from pybpf.verifier.env import Options

    target, helper = _split(name)
    try:
        load_program(assemble(_asm(helper)), ProgType.TRACING, kernel=Kernel(num_cpus=1, seed=0),
                     expected_attach_type=AttachType.TRACE_ITER,
                     options=Options(log_level=1, attach_btf_name="bpf_iter_" + target))  # fmt: skip
    except ProgramRejected as exc:
        return _verdict(False, exc.errno, exc.result.message)
    return _verdict(True, 0, "")


def run_kernel(name: str) -> dict[str, Any]:
    from pybpf.isa import assemble
    from pybpf.kernel.progtypes import AttachType, ProgType
    from pybpf.oracle import log_message
    from pybpf.oracle.progs import prog_load
    from pybpf.oracle.syscall import close

    from .harness import _vmlinux_func

    target, helper = _split(name)
    res = prog_load(ProgType.TRACING, assemble(_asm(helper)), "GPL", int(AttachType.TRACE_ITER),
                    attach_btf_id=_vmlinux_func("bpf_iter_" + target))  # fmt: skip
    if res.fd is None:
        return _verdict(False, res.errno, log_message(res.log))
    close(res.fd)
    return _verdict(True, 0, "")


RECORDED: dict[str, Any] = json.loads(DATA.read_text()) if DATA.exists() else {"cases": {}}


def test_every_case_is_recorded() -> None:
    assert set(RECORDED["cases"]) == set(CASES)


def test_recorded_kernel_gives_sockopt_to_tcp_and_unix_only() -> None:
    """What the kernel said, so a re-recording that changes it is noticed."""
    accepted = {n for n, v in RECORDED["cases"].items() if v["accepted"]}
    assert accepted == {f"{t}_{h}" for t in ("tcp", "unix") for h in HELPERS}
    for name in CASES:
        if name not in accepted:
            want = f"program of this type cannot use helper bpf_{_split(name)[1]}#"
            assert RECORDED["cases"][name]["message"].startswith(want)


@pytest.mark.parametrize("name", PARAMS)
def test_pybpf_gives_the_kernels_recorded_verdict(name: str) -> None:
    assert run_pybpf(name) == RECORDED["cases"][name]


@pytest.mark.kernel
@pytest.mark.parametrize("name", PARAMS)
def test_the_running_kernel_agrees_with_pybpf(name: str) -> None:
    from pybpf.oracle import available, unavailable_reason

    if not available():
        pytest.skip(f"bpf() unavailable: {unavailable_reason()}")
    try:
        got = run_kernel(name)
    except (RuntimeError, OSError) as exc:
        pytest.skip(str(exc))
    assert got == run_pybpf(name)


def record() -> dict[str, Any]:
    return {"kernel": os.uname().release, "cases": {n: run_kernel(n) for n in CASES}}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    DATA.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    print(f"{len(CASES)} cases written to {DATA}", file=sys.stderr)
