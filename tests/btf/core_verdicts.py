"""libbpf's CO-RE decisions on tests/data/btf/core.c, recorded for offline comparison.

``python -m tests.btf.core_verdicts`` compiles the objects, asks libbpf (through
``libbpf.so.1``; it needs bpf() because libbpf relocates while loading) and rewrites
``tests/data/btf/core_libbpf.json``.
"""

from __future__ import annotations

import json
import platform
import tempfile
from pathlib import Path

from .conftest import compile_objects
from .core_harness import object_digest
from .libbpf_core import libbpf_relo_lines

DATA = Path(__file__).resolve().parents[1] / "data" / "btf" / "core_libbpf.json"
TARGETS = ("core_target", "core_ambiguous")


def record() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        objs = compile_objects(Path(tmp))
        out = {
            "object_digest": object_digest(objs["core"]),
            "targets": {name: libbpf_relo_lines(objs["core"], objs[name]) for name in TARGETS},
            "vmlinux": {"kernel": platform.release(), "lines": libbpf_relo_lines(objs["core"], None)},
        }
    DATA.write_text(json.dumps(out, indent=1) + "\n")


def load() -> dict[str, object]:
    return dict(json.loads(DATA.read_text()))


if __name__ == "__main__":
    record()
