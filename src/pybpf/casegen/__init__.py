"""Seeded random case files for differential testing against the kernel.

``generate(seed, count)`` gives case-file dicts (``/work/shared/spec/case-format.md``)
whose programs the Linux verifier accepts most of the time, covering the instruction set,
the stack, atomics, maps, bpf-to-bpf calls, helpers, packet and context access for the
socket_filter, sched_cls, sched_act and xdp program types.  Each case's ``meta`` says how
it was made (seed, index, category, features).

Mistakes mode (:func:`mistakes_config`) puts one deliberate error into a share of the
cases (half by default), from every area the verifier checks, and names it in
``meta["mistake"]``; see :mod:`.mistakes`.
"""

from __future__ import annotations

from .generate import GENERATOR_VERSION, PROG_TYPES, GenConfig, generate, generate_case
from .mistakes import MISTAKES, Area, Mistake, mistakes_config
from .registry import FRAGMENTS, Category, Fragment

__all__ = [
    "FRAGMENTS",
    "GENERATOR_VERSION",
    "MISTAKES",
    "PROG_TYPES",
    "Area",
    "Category",
    "Fragment",
    "GenConfig",
    "Mistake",
    "generate",
    "generate_case",
    "mistakes_config",
]
