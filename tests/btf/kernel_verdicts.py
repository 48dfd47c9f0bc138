"""The kernel's verdicts on the validation corpus, recorded so the comparison runs anywhere.

Run ``python -m tests.btf.kernel_verdicts`` (root, bpf() available) to ask the running
kernel again and rewrite ``tests/data/btf/kernel_btf_verdicts.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Iterator
from pathlib import Path

from . import blobgen
from .validation_cases import CASES

DATA = Path(__file__).resolve().parents[1] / "data" / "btf" / "kernel_btf_verdicts.jsonl"
SEEDS = 1500


def digest(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:16]


def last_line(log: str) -> str:
    return log.rstrip("\n").rsplit("\n", 1)[-1] if log else ""


def corpus() -> Iterator[tuple[str, bytes]]:
    for name, make in CASES.items():
        yield name, make()
    for seed in range(SEEDS):
        yield f"seed{seed}", blobgen.blob(seed)


def record() -> None:
    from pybpf.oracle import btf_load

    out = []
    for name, raw in corpus():
        res = btf_load(raw)
        if res.fd is not None:
            os.close(res.fd)
        out.append({"name": name, "blob": digest(raw), "errno": res.errno,
                    "last_line": last_line(res.log), "log": digest(res.log)})  # fmt: skip
    DATA.parent.mkdir(parents=True, exist_ok=True)
    meta = {"kernel": platform.release(), "what": "BPF_BTF_LOAD verdicts, log_level 1"}
    lines = [json.dumps(meta)] + [json.dumps(v, separators=(",", ":")) for v in out]
    DATA.write_text("\n".join(lines) + "\n")


def load() -> list[dict[str, object]]:
    """The recorded verdicts (the first line of the file describes the recording)."""
    lines = DATA.read_text().splitlines()
    return [json.loads(line) for line in lines[1:]]


if __name__ == "__main__":
    record()
