"""The generator's state: what it knows about registers, stack, maps and the frame.

The generator keeps just enough of the verifier's view to emit programs it accepts:
which registers hold scalars (only those are read as operands), which part of the stack
is initialised, which maps exist.  Conventions every fragment keeps:

* ``r6`` holds the context wherever the frame has one, ``r10`` the frame pointer;
* ``r7``-``r9`` (the *accumulators*) always hold scalars; fragments fold what they
  compute into them, so that the program's result depends on as much as possible;
* ``r0``-``r5`` (the *temporaries*) hold scalars only while in :attr:`Frame.live`; a
  fragment that needs them for pointers or a call first folds their values away
  (:meth:`Gen.clobber`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..isa.opcodes import AluOp
from . import asm
from .asm import Asm, Label

ACCS = (7, 8, 9)
TEMPS = (0, 1, 2, 3, 4, 5)
CTX = 6
FP = 10

# map_flags bits the generator uses
BPF_F_NO_PREALLOC = 0x1
BPF_F_RDONLY_PROG = 0x80

ARRAY_TYPES = ("array", "percpu_array")
HASH_TYPES = ("hash", "percpu_hash", "lru_hash", "lru_percpu_hash")
PERCPU_TYPES = ("percpu_array", "percpu_hash", "lru_percpu_hash")


@dataclass
class MapInfo:
    """A map of the case, as the generator plans to use it."""

    index: int
    type: str
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    map_init: bytes | None = None
    freeze: bool = False
    role: str = "data"  # "data", "out" (results), "rodata" (frozen, read-only for programs)

    @property
    def is_array(self) -> bool:
        return self.type in ARRAY_TYPES

    @property
    def percpu(self) -> bool:
        return self.type in PERCPU_TYPES

    @property
    def writable(self) -> bool:
        return not self.flags & BPF_F_RDONLY_PROG

    @property
    def direct(self) -> bool:
        """Whether BPF_PSEUDO_MAP_IDX_VALUE works on it (single-element plain arrays)."""
        return self.type == "array" and self.max_entries == 1

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type, "key_size": self.key_size, "value_size": self.value_size,
            "max_entries": self.max_entries, "flags": self.flags,
        }  # fmt: skip
        if self.map_init is not None:
            out["map_init"] = self.map_init.hex()
        if self.freeze:
            out["freeze"] = True
        return out


@dataclass
class Frame:
    """One function being generated: the main program (depth 0) or a subprogram."""

    depth: int
    has_ctx: bool
    scratch: int  # initialised bytes just below the frame pointer
    key_buf: int  # frame-pointer offset of the map-key buffer (8 or 16 bytes)
    time_slot: int | None = None  # a stack slot only the ktime fragment uses
    ptr_args: list[tuple[int, int]] = field(default_factory=list)  # (spill slot, window)
    live: set[int] = field(default_factory=set)
    reserved: set[int] = field(default_factory=set)  # scalars that must not be written


@dataclass
class Subprog:
    entry: Label
    asm: Asm


BodyFn = Callable[["Gen", str, int], None]


class Gen:
    """Everything a fragment needs: randomness, the code being written, the plan."""

    def __init__(
        self, rng: random.Random, prog_type: str, config: Any, body: BodyFn, primary: str = ""
    ) -> None:
        self.rng = rng
        self.prog_type = prog_type
        self.config = config
        self.primary = primary
        self.fragments: list[str] = []
        self._body = body
        self.asm = Asm()
        self.maps: list[MapInfo] = []
        self.subprogs: list[Subprog] = []
        self.frame = Frame(0, True, 0, 0)
        self.features: list[str] = []
        self.branch_depth = 0
        self.loop_depth = 0
        self.has_ld_abs = False
        # where things a deliberate mistake edits after linking were emitted (main program)
        self.marks: dict[str, int] = {}

    # --- program types ---------------------------------------------------------------
    @property
    def is_skb(self) -> bool:
        return self.prog_type in ("socket_filter", "sched_cls", "sched_act")

    @property
    def is_tc(self) -> bool:
        return self.prog_type in ("sched_cls", "sched_act")

    @property
    def is_xdp(self) -> bool:
        return self.prog_type == "xdp"

    @property
    def checks_retval(self) -> bool:
        """Whether the verifier holds the main program's r0 to a range (cgroup_skb: 0-1)."""
        return self.prog_type == "cgroup_skb"

    def note(self, feature: str) -> None:
        if feature not in self.features:
            self.features.append(feature)

    # --- code ------------------------------------------------------------------------
    def emit(self, *insns: Any) -> None:
        for insn in insns:
            if isinstance(insn, tuple):
                self.asm.emit(*insn)
            else:
                self.asm.emit(insn)

    def body(self, where: str, count: int) -> None:
        """``count`` fragments fit for ``where`` ("branch" or "loop")."""
        self._body(self, where, count)

    # --- values ----------------------------------------------------------------------
    def imm32(self) -> int:
        r = self.rng.random()
        if r < 0.3:
            return self.rng.choice([0, 1, -1, 2, 3, 7, 8, 15, 16, 31, 32, 63, 64, 255, 256,
                                    0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, -0x80000000, -2])  # fmt: skip
        if r < 0.55:
            return self.rng.randint(-128, 255)
        if r < 0.7:
            bit = self.rng.randrange(32)
            return ((1 << bit) + self.rng.choice([-1, 0, 1])) & 0xFFFFFFFF
        return self.rng.getrandbits(32)

    def imm64(self) -> int:
        r = self.rng.random()
        if r < 0.25:
            return self.rng.choice([0, 1, (1 << 64) - 1, 1 << 63, (1 << 63) - 1, 0xFFFFFFFF,
                                    0x80000000, 1 << 32, 0xFFFFFFFF00000000])  # fmt: skip
        if r < 0.45:
            bit = self.rng.randrange(64)
            return ((1 << bit) + self.rng.choice([-1, 0, 1])) & ((1 << 64) - 1)
        return self.rng.getrandbits(64)

    # --- registers -------------------------------------------------------------------
    def scalars(self) -> list[int]:
        return sorted(set(ACCS) | self.frame.live)

    def scalar(self) -> int:
        """Any register holding a scalar (an accumulator or a live temporary)."""
        return self.rng.choice(self.scalars())

    def acc(self, exclude: tuple[int, ...] = ()) -> int:
        choices = [r for r in ACCS if r not in self.frame.reserved and r not in exclude]
        return self.rng.choice(choices or [r for r in ACCS if r not in self.frame.reserved])

    def writable(self) -> list[int]:
        return [r for r in self.scalars() if r not in self.frame.reserved]

    def dst(self) -> int:
        """A scalar register to compute into (not a reserved one such as a loop counter)."""
        return self.rng.choice(self.writable())

    def define(self, reg: int) -> None:
        if reg in TEMPS:
            self.frame.live.add(reg)

    def mix(self, src: int, exclude: tuple[int, ...] = ()) -> None:
        """Fold ``src`` into an accumulator with an operation that loses nothing of it."""
        dst = self.acc((*exclude, src))
        op = self.rng.choice([AluOp.ADD, AluOp.XOR, AluOp.SUB])
        self.emit(asm.alu(True, op, dst, src))

    def clobber(self, regs: tuple[int, ...] | list[int]) -> None:
        """Fold the live temporaries among ``regs`` away: they are about to be overwritten."""
        for r in regs:
            if r in self.frame.reserved:
                continue
            if r in self.frame.live:
                self.mix(r)
            self.frame.live.discard(r)

    def temp(self, avoid: tuple[int, ...] = ()) -> int:
        """A temporary (r1-r5, or r0) free to overwrite; its value is folded away first."""
        choices = [r for r in TEMPS if r not in avoid and r not in self.frame.reserved]
        reg = self.rng.choice(choices)
        self.clobber([reg])
        return reg

    def before_call(self) -> None:
        """A helper or subprogram call is next: r0-r5 lose their values."""
        self.clobber(list(TEMPS))

    # --- branches: what the verifier knows after two paths join ------------------------
    def snapshot(self) -> set[int]:
        return set(self.frame.live)

    def join(self, other: set[int]) -> None:
        self.frame.live &= other

    # --- maps ------------------------------------------------------------------------
    def add_map(self, info: MapInfo) -> MapInfo:
        info.index = len(self.maps)
        self.maps.append(info)
        return info

    def data_maps(self) -> list[MapInfo]:
        return [m for m in self.maps if m.role == "data"]
