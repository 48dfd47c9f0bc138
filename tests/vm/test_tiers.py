"""Choosing a tier, and what a run costs beyond running (compilation, stack frames)."""

from __future__ import annotations

import errno
import json
import time

import pytest

from pybpf.cli.main import main
from pybpf.errors import BpfError
from pybpf.isa import assemble
from pybpf.kernel.state import Kernel
from pybpf.program import load_program
from pybpf.vm import tiers
from pybpf.vm.pygen import module
from pybpf.vm.testrun import runner_for
from pybpf.vm.testrun import test_run as run_test
from pybpf.vm.tiers import Tier, using

RETURN_2 = assemble("r0 = 2\nexit")


def test_default_is_the_fastest_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYBPF_TIER", raising=False)
    assert tiers.available()[0] is tiers.fastest() is tiers.default()
    assert Tier.PYTHON in tiers.available() and Tier.INTERP in tiers.available()


def test_environment_and_using_choose_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBPF_TIER", "interp")
    assert tiers.default() is Tier.INTERP
    with using("python") as chosen:
        assert chosen is Tier.PYTHON and tiers.default() is Tier.PYTHON
    assert tiers.default() is Tier.INTERP


def test_unknown_and_missing_tiers_are_clean_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BpfError) as info:
        tiers.resolve("fast")
    assert info.value.errno == errno.EINVAL and "interp, python, jit" in info.value.message
    monkeypatch.delitem(tiers._FACTORIES, Tier.JIT, raising=False)
    with pytest.raises(BpfError) as info:
        tiers.resolve("jit")
    assert info.value.errno == errno.EOPNOTSUPP and "pybpf[jit]" in info.value.message


def test_a_registered_tier_becomes_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tiers._FACTORIES, Tier.JIT, tiers._FACTORIES[Tier.INTERP])
    assert tiers.fastest() is Tier.JIT


@pytest.mark.parametrize("tier", ["interp", "python"])
def test_run_api_takes_a_tier(tier: str) -> None:
    prog = load_program(RETURN_2, "xdp", kernel=Kernel(seed=0))
    assert run_test(prog, bytes(64), tier=tier).retval == 2
    assert runner_for(prog, tier).__class__.__name__ == {"interp": "Interpreter", "python": "PythonRunner"}[tier]


def test_cli_run_tier(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    import pathlib

    src = pathlib.Path(str(tmp_path)) / "p.s"
    src.write_text("r0 = 0\nr1 = 0\nloop:\nr0 += r1\nr1 += 1\nif r1 < 100 goto loop\nexit\n")
    outs = []
    for tier in ("interp", "python"):
        assert main(["run", str(src), "--data", "00" * 14, "--tier", tier, "--json"]) == 0
        outs.append(json.loads(capsys.readouterr().out.splitlines()[0]))
    assert outs[0]["run"]["retval"] == outs[1]["run"]["retval"] == sum(range(100))
    assert main(["run", str(src), "--data", "00" * 14, "--tier", "jit"]) != 0 or Tier.JIT in tiers._FACTORIES


def test_code_generation_happens_before_the_clock_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    real = module._make

    def slow_make(*args: object, **kwargs: object) -> module.ProgramCode:
        time.sleep(0.3)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "_make", slow_make)
    prog = load_program(RETURN_2, "xdp", kernel=Kernel(seed=0))
    res = run_test(prog, bytes(64), tier="python")
    assert res.retval == 2 and res.duration_ns < 150_000_000


def test_only_the_frames_a_run_uses_are_allocated() -> None:
    kernel = Kernel(seed=0)
    flat = load_program(RETURN_2, "xdp", kernel=kernel)
    for tier in ("interp", "python"):
        runner = runner_for(flat, tier)
        run_test(flat, bytes(64), tier=tier)
        assert len(runner.stacks.regions()) == 1  # type: ignore[attr-defined]
    text = "call f\nexit\nf:\ncall g\nexit\ng:\n*(u64 *)(r10 -8) = 1\nr0 = 3\nexit"
    calls = load_program(assemble(text), "xdp",
                         kernel=Kernel(seed=0), verify=False)  # fmt: skip
    for tier in ("interp", "python"):
        assert run_test(calls, bytes(64), tier=tier).retval == 3
        assert len(runner_for(calls, tier).stacks.regions()) == 3  # type: ignore[attr-defined]


def test_python_tier_refuses_tracing() -> None:
    runner = tiers.make_runner(Kernel(seed=0), "python")
    prog = load_program(RETURN_2, "xdp", kernel=Kernel(seed=0))
    with pytest.raises(BpfError, match="interp"):
        runner.run(prog.executable, trace=lambda pc, regs: None)


def test_an_exception_inside_a_helper_becomes_a_fault_naming_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    from pybpf.kernel.helpers import HELPERS
    from pybpf.kernel.helpers.registry import Helper

    def broken(env: object, *args: int) -> int:
        raise ZeroDivisionError("boom")

    helpers = dict(HELPERS)
    helpers[5] = Helper(5, "bpf_ktime_get_ns", broken)  # type: ignore[arg-type]
    from pybpf.vm.executable import Executable

    exe = Executable(assemble("r6 = 1\ncall bpf_ktime_get_ns\nexit"), "broken", helpers=helpers)
    with pytest.raises(BpfError) as info:
        tiers.make_runner(Kernel(seed=0), "python").run(exe)
    assert info.value.message.startswith("insn 1: internal error in the python tier")
