"""Execution tiers and how one is chosen.

Every tier runs an :class:`Executable` on the one memory model and gives the same results;
they differ in speed and in what they can show:

- ``interp``: the reference interpreter, one closure per instruction; the only tier that
  can single-step and trace;
- ``python``: the whole program generated as Python source (:mod:`pybpf.vm.pygen`);
- ``jit``: native code through llvmlite (:mod:`pybpf.vm.jit`, ``pip install pybpf[jit]``),
  registered when llvmlite can be imported; the default when present.

The default is the fastest tier installed, unless ``PYBPF_TIER`` names one (so a whole
test suite can be run on any tier) or :func:`using` sets one for a block of code.
"""

from __future__ import annotations

import errno
import importlib.util
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import Enum
from typing import Any, Protocol

from ..errors import BpfError
from ..kernel.state import Kernel
from .executable import Executable


class Tier(Enum):
    INTERP = "interp"
    PYTHON = "python"
    JIT = "jit"

    @classmethod
    def parse(cls, name: str | Tier) -> Tier:
        if isinstance(name, Tier):
            return name
        try:
            return cls(name.lower())
        except ValueError:
            names = ", ".join(t.value for t in cls)
            raise BpfError(errno.EINVAL, f"unknown execution tier {name!r} (one of {names})") from None


class Runner(Protocol):
    """What every tier provides."""

    kernel: Kernel

    def run(
        self, exe: Executable, r1: int = 0, r2: int = 0, *, ctx: Any = None, cpu: int = 0,
        budget: int = ..., trace: Any = None,
    ) -> int: ...  # fmt: skip

    def call_function(self, address: int, args: tuple[int, ...]) -> int: ...

    def prepare(self, exe: Executable) -> None:
        """Compile ``exe`` ahead of its runs (so that timed runs measure only running)."""


RunnerFactory = Callable[[Kernel], Runner]


def _interp(kernel: Kernel) -> Runner:
    from .interpreter import Interpreter

    return Interpreter(kernel)


def _python(kernel: Kernel) -> Runner:
    from .pygen import PythonRunner

    return PythonRunner(kernel)


def _jit(kernel: Kernel) -> Runner:
    from .jit import JitRunner

    return JitRunner(kernel)


_FACTORIES: dict[Tier, RunnerFactory] = {Tier.INTERP: _interp, Tier.PYTHON: _python}
if importlib.util.find_spec("llvmlite") is not None:
    _FACTORIES[Tier.JIT] = _jit
SPEED_ORDER = (Tier.JIT, Tier.PYTHON, Tier.INTERP)
"""Fastest first."""


def register(tier: Tier, factory: RunnerFactory) -> None:
    """Make ``tier`` available (the JIT registers itself here when llvmlite is present)."""
    _FACTORIES[tier] = factory


def available() -> list[Tier]:
    """The installed tiers, fastest first."""
    return [t for t in SPEED_ORDER if t in _FACTORIES]


def fastest() -> Tier:
    return available()[0]


_SELECTED: ContextVar[Tier | None] = ContextVar("pybpf_tier", default=None)


def default() -> Tier:
    """The tier used when none is named: :func:`using`, else ``PYBPF_TIER``, else the
    fastest installed."""
    chosen = _SELECTED.get()
    if chosen is not None:
        return chosen
    env = os.environ.get("PYBPF_TIER")
    if env:
        return check(Tier.parse(env))
    return fastest()


def check(tier: Tier) -> Tier:
    if tier not in _FACTORIES:
        hint = " (pip install pybpf[jit])" if tier is Tier.JIT else ""
        raise BpfError(errno.EOPNOTSUPP, f"the {tier.value} tier is not installed{hint}")
    return tier


def resolve(tier: Tier | str | None) -> Tier:
    """``tier`` checked, or the default when None."""
    return default() if tier is None else check(Tier.parse(tier))


@contextmanager
def using(tier: Tier | str | None) -> Iterator[Tier]:
    """Run the block with ``tier`` as the default (None: leave the default as it is)."""
    chosen = resolve(tier)
    token = _SELECTED.set(chosen)
    try:
        yield chosen
    finally:
        _SELECTED.reset(token)


def make_runner(kernel: Kernel, tier: Tier | str | None = None) -> Runner:
    """A new runner of ``tier`` (default: :func:`default`) for ``kernel``."""
    return _FACTORIES[resolve(tier)](kernel)


_shared: OrderedDict[tuple[int, Tier], Runner] = OrderedDict()
KEEP_RUNNERS = 16
"""Shared runners kept for the most recent kernels (a runner holds its kernel alive)."""


def runner_for(kernel: Kernel, tier: Tier | str | None = None) -> Runner:
    """The shared runner of ``tier`` for ``kernel`` (made on first use): runners keep
    compiled code and stack frames, so one per kernel and tier is enough."""
    chosen = resolve(tier)
    key = (id(kernel), chosen)
    runner = _shared.get(key)
    if runner is None or runner.kernel is not kernel:
        runner = make_runner(kernel, chosen)
        _shared[key] = runner
        while len(_shared) > KEEP_RUNNERS:
            _shared.popitem(last=False)
    else:
        _shared.move_to_end(key)
    return runner
