"""Record the kernel's answers for the map types beyond the base set.

Run as root where bpf() works: ``.venv/bin/python tests/maps/record_more.py``.  Writes
tests/data/maps/{create_more,seq_more,objects_more,perf_output}.json, which
test_maps_more_differential.py replays against pybpf without a kernel.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import creatediff  # noqa: E402
import objdiff  # noqa: E402
import perfdiff  # noqa: E402
import seqdiff  # noqa: E402

from pybpf.maps import possible_cpus  # noqa: E402

DATA = HERE.parent / "data" / "maps"


def _header() -> dict[str, Any]:
    return {"kernel": platform.release(), "num_cpus": possible_cpus(),
            "recorded_by": "tests/maps/record_more.py"}


def _write(name: str, cases: list[dict[str, Any]]) -> None:
    path = DATA / name
    with open(path, "w") as f:
        json.dump({**_header(), "cases": cases}, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"{path}: {len(cases)} cases")


def main() -> None:  # pragma: no cover - needs root and bpf()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the kernel is the oracle")
    create = []
    for c in creatediff.cases():
        create.append({**c, "kernel": creatediff.run_kernel(c)})
    _write("create_more.json", create)
    seq = []
    for c in seqdiff.bloom_cases():
        seq.append({**c, "kind": "bloom", "kernel": seqdiff.run_bloom_kernel(c)})
    for c in seqdiff.lpm_cases():
        seq.append({**c, "kind": "lpm", "kernel": seqdiff.run_lpm_kernel(c)})
    _write("seq_more.json", seq)
    objs = [{**c, "kernel": objdiff.run_kernel(c)} for c in objdiff.cases()]
    _write("objects_more.json", objs)
    _write("perf_output.json", [{**perfdiff.case(), "kernel": perfdiff.run_kernel()}])


if __name__ == "__main__":
    main()
