"""The scalar domain at a small register width, for exhaustive checks.

``pybpf.verifier.tnum`` and ``pybpf.verifier.scalar`` write their register width in
exactly two lines, ``BITS = 64`` and ``HALF = 32``, and derive every other constant from
them.  :func:`instantiate` loads the *same source text* a second time with those two lines
changed (say to 8 and 4), so the algorithms under test are the production algorithms, not
a model of them: an 8-bit "register" with a 4-bit "sub-register" has every interaction
the real one has between its halves, signs and carries, and few enough members that
every concrete value of an abstract one can be enumerated.

Only byte-based operations (byte swaps, ``cast``, the log's number formatting) are
meaningless at such widths; the tests leave them to the 64-bit checks.
"""

from __future__ import annotations

import sys
import types
from functools import cache
from pathlib import Path

import pybpf.verifier

# The package's .py files (its __init__ is never compiled; tnum and scalar may be
# imported from a mypyc build, whose __file__ is a shared library).
_SOURCES = Path(pybpf.verifier.__file__).parent


@cache
def instantiate(bits: int, half: int) -> tuple[types.ModuleType, types.ModuleType]:
    """``(tnum, scalar)`` modules with ``BITS = bits`` and ``HALF = half``."""
    tmod = _load(_SOURCES / "tnum.py", f"_tnum_w{bits}_{half}", bits, half, {})
    smod = _load(
        _SOURCES / "scalar.py",
        f"_scalar_w{bits}_{half}",
        bits,
        half,
        {"_tn": tmod},
        drop="from . import tnum as _tn\n",
    )
    return tmod, smod


def _load(
    path: Path, name: str, bits: int, half: int, inject: dict[str, object], drop: str = ""
) -> types.ModuleType:
    src = path.read_text()
    for line, new in (("BITS = 64\n", f"BITS = {bits}\n"), ("HALF = 32\n", f"HALF = {half}\n")):
        assert src.count("\n" + line) == 1, f"{path.name} must define {line.strip()} once"
        src = src.replace("\n" + line, "\n" + new)
    if drop:
        assert src.count(drop) == 1, f"{path.name} must contain {drop.strip()!r} once"
        src = src.replace(drop, "")
    full = f"pybpf.verifier.{name}"
    mod = types.ModuleType(full)
    mod.__package__ = "pybpf.verifier"
    mod.__file__ = str(path)
    mod.__dict__.update(inject)
    sys.modules[full] = mod  # dataclasses look their module up while decorating
    exec(compile(src, str(path), "exec"), mod.__dict__)
    return mod


def members(t: object, bits: int) -> list[int]:
    """Every number of ``bits`` bits in the tnum ``t`` (a Tnum of any instantiation)."""
    value = t.value  # type: ignore[attr-defined]
    mask = t.mask  # type: ignore[attr-defined]
    out = []
    sub = mask
    while True:
        out.append(value | sub)
        if not sub:
            break
        sub = (sub - 1) & mask
    out.reverse()
    assert all(x < (1 << bits) for x in out)
    return out
