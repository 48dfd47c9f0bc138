"""Deliberate mistakes: one error put into an otherwise valid generated program.

In mistakes mode (``GenConfig(mistakes=True)``, or :func:`mistakes_config`) a share
``mistake_rate`` of the cases (by default half) gets exactly one mistake from the
catalogue :data:`MISTAKES`, chosen with a random source of its own, so that whether a
case is mistaken and how depends only on (seed, index).  The case's ``meta["mistake"]``
names it (``{"kind": ..., "area": ...}``, or null for a case left valid).

A mistake is written at one of three moments:

* ``BODY``: as a fragment between two of the main program's top-level fragments, where
  the verifier is sure to reach it;
* ``END``: after the main program's final exit;
* ``LINKED``: by editing the linked instructions (``patch``), for what can only be known
  then (the number of maps, where the program ends); a ``BODY`` or ``END`` part may
  leave a placeholder for it in :attr:`Gen.marks`.

Most mistakes make the kernel refuse the program; :attr:`Mistake.rejects` is false for
the few that look wrong but that Linux accepts from root (reading uninitialised stack,
division by a register holding zero, LD_IND indexed by a pointer, a subprogram returning
a pointer other than into its stack, a mistake in code a frozen constant makes dead), so
that the verdict, not only the message, is put to the test.
"""

from __future__ import annotations

import enum
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..isa.insn import Insn
from . import bad_flow as F
from . import bad_helpers as H
from . import bad_mem as M
from . import bad_ops as O
from . import registry
from .frag_ringbuf import frag_ringbuf
from .gen import Gen
from .registry import Category, Fragment

if TYPE_CHECKING:
    from .generate import GenConfig


class Area(enum.StrEnum):
    STRUCTURE = "structure"
    LOOP = "loop"
    CALLS = "calls"
    UNINIT = "uninit"
    CTX = "ctx"
    PACKET = "packet"
    MAP_VALUE = "map_value"
    STACK = "stack"
    POINTER = "pointer"
    READONLY = "readonly"
    ATOMIC = "atomic"
    RETURN = "return"
    HELPER = "helper"
    REFERENCE = "reference"
    LDIMM64 = "ldimm64"
    ENCODING = "encoding"
    ALU = "alu"
    LDABS = "ldabs"


class Stage(enum.StrEnum):
    BODY = "body"
    END = "end"
    LINKED = "linked"


SKB = frozenset({"socket_filter", "sched_cls", "sched_act"})
PACKET = frozenset({"sched_cls", "sched_act", "xdp"})
ALL = SKB | {"xdp", "cgroup_skb"}


@dataclass(frozen=True)
class Mistake:
    """One kind of deliberate error and how to make it."""

    kind: str
    area: Area
    emit: Callable[[Gen], None] | None
    stage: Stage = Stage.BODY
    patch: Callable[[Gen, list[Insn]], None] | None = None
    types: frozenset[str] = ALL
    rejects: bool = True  # whether the kernel refuses it from root

    def describe(self) -> dict[str, str]:
        return {"kind": self.kind, "area": str(self.area)}


A = Area
MISTAKES: tuple[Mistake, ...] = (
    # program structure
    Mistake("unreachable_tail", A.STRUCTURE, F.emit_unreachable_tail, Stage.END),
    Mistake("unreachable_skipped", A.STRUCTURE, F.emit_unreachable_skipped),
    Mistake("jump_out_of_range", A.STRUCTURE, F.emit_jump_out_of_range, patch=F.patch_jump_out_of_range),
    Mistake("jump_into_lddw", A.STRUCTURE, F.emit_jump_into_lddw),
    Mistake("call_bad_target", A.STRUCTURE, F.emit_call_bad_target, patch=F.patch_call_bad_target),
    Mistake("no_exit", A.STRUCTURE, None, Stage.LINKED, F.patch_no_exit),
    Mistake("infinite_loop", A.LOOP, F.emit_infinite_loop),
    Mistake("call_too_deep", A.CALLS, F.emit_call_too_deep),
    Mistake("stack_too_large", A.CALLS, F.emit_stack_too_large),
    Mistake("recursion", A.CALLS, F.emit_recursion),
    # uninitialised registers and stack
    Mistake("uninit_reg", A.UNINIT, M.emit_uninit_reg),
    Mistake("uninit_callee_reg", A.UNINIT, M.emit_uninit_callee_reg),
    Mistake("uninit_stack_read", A.UNINIT, M.emit_uninit_stack_read, rejects=False),
    # the context
    Mistake("ctx_bad_offset", A.CTX, M.emit_ctx_bad_offset),
    Mistake("ctx_bad_size", A.CTX, M.emit_ctx_bad_size),
    Mistake("ctx_misaligned", A.CTX, M.emit_ctx_misaligned),
    Mistake("ctx_write_readonly", A.CTX, M.emit_ctx_write_readonly),
    Mistake("ctx_modified", A.CTX, M.emit_ctx_modified),
    Mistake("ctx_variable_offset", A.CTX, M.emit_ctx_variable_offset),
    Mistake("sk_misuse", A.CTX, M.emit_sk_misuse, types=SKB | {"cgroup_skb"}),
    # packets
    Mistake("packet_unchecked", A.PACKET, M.emit_packet_unchecked, types=PACKET),
    Mistake("packet_off_by_one", A.PACKET, M.emit_packet_off_by_one, types=PACKET),
    Mistake("packet_wrong_branch", A.PACKET, M.emit_packet_wrong_branch, types=PACKET),
    Mistake("packet_end_misuse", A.PACKET, M.emit_packet_end_misuse, types=PACKET),
    Mistake("packet_after_invalidate", A.PACKET, M.emit_packet_after_invalidate, types=PACKET),
    Mistake("packet_unbounded_offset", A.PACKET, M.emit_packet_unbounded_offset, types=PACKET),
    Mistake("packet_meta_unchecked", A.PACKET, M.emit_packet_meta_unchecked, types=frozenset({"xdp"})),
    # map values
    Mistake("map_null_unchecked", A.MAP_VALUE, M.emit_map_null_unchecked),
    Mistake("map_null_arith", A.MAP_VALUE, M.emit_map_null_arith),
    Mistake("map_value_oob", A.MAP_VALUE, M.emit_map_value_oob),
    Mistake("map_value_negative", A.MAP_VALUE, M.emit_map_value_negative),
    Mistake("map_value_variable_oob", A.MAP_VALUE, M.emit_map_value_variable_oob),
    Mistake("map_value_unbounded", A.MAP_VALUE, M.emit_map_value_unbounded),
    Mistake("map_ptr_write", A.MAP_VALUE, M.emit_map_ptr_write),
    # the stack
    Mistake("stack_out_of_frame", A.STACK, M.emit_stack_out_of_frame),
    Mistake("stack_misaligned", A.STACK, M.emit_stack_misaligned),
    Mistake("stack_variable_oob", A.STACK, M.emit_stack_variable_oob),
    # pointer arithmetic
    Mistake("pointer_alu32", A.POINTER, O.emit_pointer_alu32),
    Mistake("pointer_bitwise", A.POINTER, O.emit_pointer_bitwise),
    Mistake("pointer_bad_op", A.POINTER, O.emit_pointer_bad_op),
    Mistake("pointer_plus_pointer", A.POINTER, O.emit_pointer_plus_pointer),
    Mistake("scalar_minus_pointer", A.POINTER, O.emit_scalar_minus_pointer),
    Mistake("map_ptr_arith", A.POINTER, O.emit_map_ptr_arith),
    # read-only memory
    Mistake("readonly_write", A.READONLY, M.emit_readonly_write),
    Mistake("readonly_helper_write", A.READONLY, M.emit_readonly_helper_write),
    Mistake("rodata_dead_code", A.READONLY, M.emit_rodata_dead_code, rejects=False),
    Mistake("rodata_live_code", A.READONLY, M.emit_rodata_live_code),
    Mistake("rodata_not_frozen", A.READONLY, M.emit_rodata_not_frozen),
    # atomics
    Mistake("atomic_bad_pointer", A.ATOMIC, M.emit_atomic_bad_pointer),
    Mistake("atomic_bad_encoding", A.ATOMIC, M.emit_atomic_bad_encoding),
    Mistake("atomic_misaligned", A.ATOMIC, M.emit_atomic_misaligned),
    # return values
    Mistake("retval_range", A.RETURN, None, Stage.LINKED, F.patch_retval_range,
            types=frozenset({"cgroup_skb"})),
    Mistake("subprog_returns_stack", A.RETURN, F.emit_subprog_returns_stack),
    Mistake("subprog_returns_pointer", A.RETURN, F.emit_subprog_returns_pointer, rejects=False),
    Mistake("exit_without_r0", A.RETURN, F.emit_exit_without_r0),
    # helpers
    Mistake("helper_unknown", A.HELPER, H.emit_helper_unknown),
    Mistake("helper_unavailable", A.HELPER, H.emit_helper_unavailable),
    Mistake("helper_arg_type", A.HELPER, H.emit_helper_arg_type),
    Mistake("helper_stack_bounds", A.HELPER, H.emit_helper_stack_bounds),
    Mistake("helper_mem_size", A.HELPER, H.emit_helper_mem_size),
    Mistake("helper_map_type", A.HELPER, H.emit_helper_map_type),
    Mistake("tail_call_bad_map", A.HELPER, H.emit_tail_call_bad_map),
    # references
    Mistake("ringbuf_leak", A.REFERENCE, H.emit_ringbuf_leak),
    Mistake("ringbuf_unchecked", A.REFERENCE, H.emit_ringbuf_unchecked),
    Mistake("ringbuf_after_release", A.REFERENCE, H.emit_ringbuf_after_release),
    Mistake("ringbuf_bad_size", A.REFERENCE, H.emit_ringbuf_bad_size),
    Mistake("ringbuf_oob", A.REFERENCE, H.emit_ringbuf_oob),
    Mistake("ringbuf_release_wrong", A.REFERENCE, H.emit_ringbuf_release_wrong),
    # lddw pseudo sources
    Mistake("ld_map_bad_index", A.LDIMM64, O.emit_ld_map_bad_index, patch=O.patch_ld_map_bad_index),
    Mistake("ld_map_value_oob", A.LDIMM64, O.emit_ld_map_value_oob),
    Mistake("ld_map_value_unsupported", A.LDIMM64, O.emit_ld_map_value_unsupported),
    Mistake("ld_imm64_bad_src", A.LDIMM64, O.emit_ld_imm64_bad_src),
    Mistake("ld_imm64_bad_second", A.LDIMM64, O.emit_ld_imm64_bad_second),
    Mistake("ld_imm64_truncated", A.LDIMM64, None, Stage.LINKED, O.patch_ld_imm64_truncated),
    # encodings
    Mistake("reserved_fields", A.ENCODING, O.emit_reserved_fields),
    Mistake("unknown_opcode", A.ENCODING, O.emit_unknown_opcode),
    Mistake("bad_register", A.ENCODING, O.emit_bad_register),
    # ALU
    Mistake("div_by_zero", A.ALU, O.emit_div_by_zero),
    Mistake("div_by_zero_reg", A.ALU, O.emit_div_by_zero_reg, rejects=False),
    Mistake("bad_shift", A.ALU, O.emit_bad_shift),
    Mistake("big_shift_reg", A.ALU, O.emit_big_shift_reg, rejects=False),
    Mistake("write_r10", A.ALU, O.emit_write_r10),
    # LD_ABS / LD_IND
    Mistake("ldabs_wrong_type", A.LDABS, O.emit_ldabs_wrong_type, types=frozenset({"xdp", "cgroup_skb"})),
    Mistake("ldabs_without_skb", A.LDABS, O.emit_ldabs_without_skb, types=SKB),
    Mistake("ldabs_reserved", A.LDABS, O.emit_ldabs_reserved, types=SKB),
    Mistake("ldind_uninit_index", A.LDABS, O.emit_ldind_uninit_index, types=SKB),
    Mistake("ldind_pointer_index", A.LDABS, O.emit_ldind_pointer_index, types=SKB, rejects=False),
)  # fmt: skip

BY_KIND: dict[str, Mistake] = {m.kind: m for m in MISTAKES}

MISTAKE_PROG_TYPES = ("socket_filter", "sched_cls", "sched_act", "xdp", "cgroup_skb")
MISTAKE_FRAGMENTS: tuple[Fragment, ...] = (
    *registry.FRAGMENTS,
    Fragment("ringbuf", (Category.HELPER, Category.MAP), frag_ringbuf, loop=False),
)
"""The fragments of mistakes mode: the usual ones and ring buffer records (the valid
form of what the reference mistakes get wrong)."""


def mistakes_config(rate: float = 0.5, **changes: Any) -> GenConfig:
    """The generator's configuration for mistakes mode: ``rate`` of the cases get one
    mistake; cgroup_skb joins the program types (for return values) and ring buffer
    records the fragments."""
    from .generate import GenConfig

    base = GenConfig(prog_types=MISTAKE_PROG_TYPES, fragments=MISTAKE_FRAGMENTS, mistakes=True,
                     mistake_rate=rate)  # fmt: skip
    return replace(base, **changes)


def mistake_rng(seed: int, index: int) -> random.Random:
    """The random source that decides case (seed, index)'s mistake, apart from the one
    that writes the program."""
    digest = hashlib.sha256(f"pybpf.casegen.mistakes/{seed}/{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "little"))


def choose(seed: int, index: int, config: GenConfig) -> Mistake | None:
    """The mistake of case (seed, index), or None for a case left valid."""
    rng = mistake_rng(seed, index)
    if rng.random() >= config.mistake_rate:
        return None
    pool = [m for m in MISTAKES if m.types & set(config.prog_types)]
    if config.mistake_kinds:
        pool = [m for m in pool if m.kind in config.mistake_kinds]
    return rng.choice(pool) if pool else None


def prog_types_for(mistake: Mistake, types: list[str], all_types: tuple[str, ...]) -> list[str]:
    """The program types among ``types`` (those the case's category suits) the mistake
    can be made in; failing that, any configured type it can."""
    fit = [t for t in types if t in mistake.types]
    return fit or [t for t in all_types if t in mistake.types]


def injecting_body(mistake: Mistake) -> Callable[[Gen, str, int], None]:
    """The generator's body function, with the mistake written between two of the main
    program's top-level fragments (for ``BODY`` mistakes)."""

    def body(g: Gen, where: str, count: int) -> None:
        if where != "main" or mistake.stage != Stage.BODY or mistake.emit is None:
            registry.body(g, where, count)
            return
        at = g.rng.randint(0, count)
        registry.body(g, where, at)
        g.fragments.append(f"mistake:{mistake.kind}")
        mistake.emit(g)
        registry.body(g, where, count - at)

    return body


def at_end(g: Gen, mistake: Mistake) -> None:
    """The ``END`` part of a mistake, once the main program's exit is written."""
    if mistake.stage == Stage.END and mistake.emit is not None:
        g.fragments.append(f"mistake:{mistake.kind}")
        mistake.emit(g)


def after_link(g: Gen, mistake: Mistake, insns: list[Insn]) -> None:
    if mistake.patch is not None:
        if mistake.stage == Stage.LINKED:
            g.fragments.append(f"mistake:{mistake.kind}")
        mistake.patch(g, insns)
