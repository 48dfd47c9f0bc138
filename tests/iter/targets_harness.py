"""Iterator programs of the ``bpf_prog``, ``bpf_link``, ``task`` and ``sockmap`` targets,
run on pybpf and on the running kernel (the machinery of :mod:`.harness`).

The programs only read members that sit at the same offsets in pybpf's kernel BTF and
the kernel's (``bpf_prog.type``, ``bpf_link.id``, ``task_struct.thread_info.flags``,
``sock_common.skc_family``), so that the verifier's answers can be compared without
CO-RE; what they print does not depend on the kernel's own programs, links and tasks
(only the final call prints), except for the sockmap, whose slots both sides fill alike.
``python -m tests.iter.targets_harness`` writes ``tests/data/iter/targets_kernel.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from .harness import _SEQ, Case, MapCase, _fmt, kernel_possible_cpus, run_kernel

DATA = Path(__file__).resolve().parents[1] / "data" / "iter" / "targets_kernel.json"

_DONE = (
    _fmt("done\n", -16)
    + "r1 = r6\nr2 = r10\nr2 += -16\nr3 = 8\nr4 = 0\nr5 = 0\ncall 126\nr0 = 0\nexit\n"
)


def _read_then_done(load: str) -> str:
    """Per object: ``load`` through r2 (the object, NULL-checked); at the end: done."""
    return (_SEQ + "r2 = *(u64 *)(r1 + 8)\nif r2 == 0 goto end\n" + load
            + "r0 = 0\nexit\nend:\n" + _DONE)  # fmt: skip


# per slot: "<index> <sk is NULL ? 0 : family>\n"; at the end: done
_SOCKMAP_PRINT = (
    _SEQ + "r7 = *(u64 *)(r1 + 16)\nr8 = *(u64 *)(r1 + 24)\nif r7 == 0 goto end\n"
    "r3 = *(u32 *)(r7 + 0)\n*(u64 *)(r10 - 32) = r3\nr3 = 0\n"
    "if r8 == 0 goto nosk\nr3 = *(u16 *)(r8 + 16)\nnosk:\n*(u64 *)(r10 - 24) = r3\n"
    + _fmt("%u %u\n", -16)
    + "r1 = r6\nr2 = r10\nr2 += -16\nr3 = 8\nr4 = r10\nr4 += -32\nr5 = 16\ncall 126\n"
    "r0 = 0\nexit\nend:\n" + _DONE
)

SOCKMAP3 = MapCase("sockmap", 4, 4, 3)
SOCKHASH = MapCase("sockhash", 8, 4, 4)
HASH = MapCase("hash", 4, 4, 4)

CASES: tuple[Case, ...] = (
    Case("prog_read_type", _read_then_done("r0 = *(u32 *)(r2 + 4)\n"), target="bpf_prog"),
    Case("prog_unchecked", "r2 = *(u64 *)(r1 + 8)\nr0 = *(u32 *)(r2 + 4)\nr0 = 0\nexit\n",
         target="bpf_prog"),
    Case("prog_write", "r2 = *(u64 *)(r1 + 8)\nif r2 == 0 goto +1\n*(u32 *)(r2 + 4) = 1\nr0 = 0\nexit\n",
         target="bpf_prog"),
    Case("prog_ctx_narrow", "r2 = *(u32 *)(r1 + 8)\nr0 = 0\nexit\n", target="bpf_prog"),
    Case("prog_ctx_past_args", "r2 = *(u64 *)(r1 + 16)\nr0 = 0\nexit\n", target="bpf_prog"),
    Case("prog_ctx_write", "*(u64 *)(r1 + 8) = 0\nr0 = 0\nexit\n", target="bpf_prog"),
    Case("prog_past_struct", _read_then_done("r0 = *(u64 *)(r2 + 4096)\n"), target="bpf_prog"),
    Case("link_read_id", _read_then_done("r0 = *(u32 *)(r2 + 8)\n"), target="bpf_link"),
    Case("link_unchecked", "r2 = *(u64 *)(r1 + 8)\nr0 = *(u32 *)(r2 + 8)\nr0 = 0\nexit\n",
         target="bpf_link"),
    Case("link_ctx_past_args", "r2 = *(u64 *)(r1 + 16)\nr0 = 0\nexit\n", target="bpf_link"),
    Case("task_read_flags", _read_then_done("r0 = *(u64 *)(r2 + 0)\n"), target="task"),
    Case("task_unchecked", "r2 = *(u64 *)(r1 + 8)\nr0 = *(u64 *)(r2 + 0)\nr0 = 0\nexit\n",
         target="task"),
    Case("task_write", "r2 = *(u64 *)(r1 + 8)\nif r2 == 0 goto +1\n*(u64 *)(r2 + 0) = 1\nr0 = 0\nexit\n",
         target="task"),
    Case("task_ctx_narrow", "r2 = *(u16 *)(r1 + 8)\nr0 = 0\nexit\n", target="task"),
    Case("task_ptr_arith_unchecked",
         "r2 = *(u64 *)(r1 + 8)\nr2 += 8\nr0 = 0\nexit\n", target="task"),
    Case("sockmap_print_empty", _SOCKMAP_PRINT, SOCKMAP3, target="sockmap"),
    Case("sockhash_print_empty", _SOCKMAP_PRINT, SOCKHASH, target="sockmap"),
    Case("sockmap_key_8_too_small",
         "r2 = *(u64 *)(r1 + 16)\nif r2 == 0 goto +1\nr0 = *(u64 *)(r2 + 0)\nr0 = 0\nexit\n",
         SOCKMAP3, target="sockmap"),
    Case("sockhash_key_8_fits",
         "r2 = *(u64 *)(r1 + 16)\nif r2 == 0 goto +1\nr0 = *(u64 *)(r2 + 0)\nr0 = 0\nexit\n",
         SOCKHASH, target="sockmap"),
    Case("sockmap_key_write",
         "r2 = *(u64 *)(r1 + 16)\nif r2 == 0 goto +1\n*(u32 *)(r2 + 0) = 1\nr0 = 0\nexit\n",
         SOCKMAP3, target="sockmap"),
    Case("sockmap_key_unchecked", "r2 = *(u64 *)(r1 + 16)\nr0 = *(u32 *)(r2 + 0)\nr0 = 0\nexit\n",
         SOCKMAP3, target="sockmap"),
    Case("sockmap_sk_unchecked", "r2 = *(u64 *)(r1 + 24)\nr0 = *(u16 *)(r2 + 16)\nr0 = 0\nexit\n",
         SOCKMAP3, target="sockmap"),
    Case("sockmap_sk_write",
         "r2 = *(u64 *)(r1 + 24)\nif r2 == 0 goto +1\n*(u16 *)(r2 + 16) = 1\nr0 = 0\nexit\n",
         SOCKMAP3, target="sockmap"),
    Case("sockmap_ctx_past_args", "r2 = *(u64 *)(r1 + 32)\nr0 = 0\nexit\n", SOCKMAP3,
         target="sockmap"),
    Case("sockmap_on_hash_map", "r0 = 0\nexit\n", HASH, target="sockmap"),
    Case("sockmap_no_map", "r0 = 0\nexit\n", None, target="sockmap"),
    Case("sockmap_map_read",
         "r2 = *(u64 *)(r1 + 8)\nr0 = *(u32 *)(r2 + 0)\nr0 = 0\nexit\n", SOCKMAP3, target="sockmap"),
)  # fmt: skip


def record() -> dict[str, Any]:
    return {"kernel": os.uname().release, "possible_cpus": kernel_possible_cpus(),
            "cases": {c.name: run_kernel(c) for c in CASES}}  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    rec = record()
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n")
    print(f"{len(rec['cases'])} cases written to {DATA}", file=sys.stderr)
