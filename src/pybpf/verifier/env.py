"""The verifier's working environment for one program (the kernel's ``bpf_verifier_env``).

Everything a check may need lives here: the instructions and per-instruction notes, the
subprograms, the maps in use, the options (privileged or not), the log, the id counter,
the current path's state and the stack of paths still to explore.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..isa.insn import Insn
from ..kernel.progtypes import AttachType, ProgType
from .log import VerifierLog
from .state import FuncState, JmpHistoryEntry, RegState, VerifierState

BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000
BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192
BPF_COMPLEXITY_LIMIT_STATES = 64
BPF_MAX_SUBPROGS = 256
BPF_MAX_VAR_OFF = 1 << 29
BPF_MAXINSNS = 4096
MAX_CALL_FRAMES = 8


class VerifierError(Exception):
    """Verification stopped: the message is already in the log."""

    def __init__(self, err: int, message: str = "") -> None:
        super().__init__(message)
        self.errno = err
        self.message = message


@dataclass(frozen=True)
class Options:
    """Who is loading and how: the privileges decide which rules apply."""

    log_level: int = 0
    allow_ptr_leaks: bool = True
    allow_uninit_stack: bool = True
    bypass_spec_v1: bool = True
    bypass_spec_v4: bool = True
    bpf_capable: bool = True
    strict_alignment: bool = False
    any_alignment: bool = False
    log_size: int = 0  # 0: unlimited
    gpl: bool = True
    test_state_freq: bool = False  # BPF_F_TEST_STATE_FREQ: a checkpoint at every prune point
    attach_btf_name: str = ""  # the kernel function attach_btf_id names (bpf_iter_<target>)
    sleepable: bool = False  # BPF_F_SLEEPABLE (the loader sets it for ``.s`` sections)

    @classmethod
    def unprivileged(cls, log_level: int = 0) -> Options:
        return cls(log_level, False, False, False, False, False)

    def with_prog_flags(self, prog_flags: int) -> Options:
        """These options with BPF_PROG_LOAD's ``prog_flags`` applied (strict alignment,
        any alignment, state-frequency testing; BPF_F_TEST_RND_HI32 changes nothing the
        verifier reports)."""
        from dataclasses import replace

        return replace(
            self,
            strict_alignment=bool(prog_flags & 1),
            any_alignment=bool(prog_flags & 2),
            test_state_freq=bool(prog_flags & 8),
            sleepable=bool(prog_flags & 16),
        )


class InsnAux:
    """What the verifier learns about one instruction (``bpf_insn_aux_data``).

    The defaults are class attributes and an instance starts empty: every instruction
    gets one before anything is known and most notes stay at their defaults, so making
    them costs no more than an empty object (a dataclass set all seventeen fields)."""

    seen: bool = False
    prune_point: bool = False
    jmp_point: bool = False
    force_checkpoint: bool = False
    calls_callback: bool = False
    ptr_type: int = 0
    map_index: int = -1
    map_off: int = 0
    ctx_field_size: int = 0
    zext_dst: bool = False
    jmp_target: bool = False
    loop_entry: bool = False
    live_regs_before: int = 0
    call_imm: int = 0
    map_ptr: Any = None  # the map a map helper call used (first path that got there)
    map_poisoned: bool = False  # paths disagreed on the map
    map_key_state: int = 0  # tail-call key: 0 unseen, -1 not one constant, else key + 1

    def __repr__(self) -> str:
        return f"InsnAux({', '.join(f'{k}={v!r}' for k, v in sorted(vars(self).items()))})"


@contextlib.contextmanager
def collector_paused(n: int) -> Iterator[None]:
    """Hold the cyclic garbage collector while a pass makes one object per slot of an
    ``n``-slot program.  It runs every few hundred allocations and walks every object
    alive, so for a long program it would cost several times the objects themselves;
    these hold no cycles.

    The switch is process-wide and may belong to the caller (an application that runs
    with the collector off, or an outer pass already holding it): it is turned back on
    only when this call was the one that turned it off."""
    if n < 4096:
        yield
        return
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _new_notes(n: int) -> list[InsnAux]:
    """One empty note per slot."""
    if n < 4096:  # (the common case, without the context manager's own cost)
        return [InsnAux() for _ in range(n)]
    with collector_paused(n):
        return [InsnAux() for _ in range(n)]


class SubprogInfo:
    """One function of the program (``bpf_subprog_info``): where it starts and what the
    passes learn about it.  The defaults are class attributes, as for :class:`InsnAux`:
    every program makes at least one, and most keep every default."""

    stack_depth: int = 0
    has_tail_call: bool = False
    tail_call_reachable: bool = False
    has_ld_abs: bool = False
    is_cb: bool = False
    is_async_cb: bool = False
    is_global: bool = False
    changes_pkt_data: bool = False
    name: str = ""

    def __init__(self, start: int) -> None:
        self.start = start

    def __repr__(self) -> str:
        return (
            f"SubprogInfo(start={self.start}, stack_depth={self.stack_depth}, name={self.name!r}, "
            f"is_global={self.is_global}, is_cb={self.is_cb}, is_async_cb={self.is_async_cb})"
        )


@dataclass
class StackElem:
    """A path waiting to be explored."""

    state: VerifierState
    insn_idx: int
    prev_insn_idx: int
    log_pos: int


@dataclass
class StateListEntry:
    """A checkpoint kept at a prune point."""

    state: VerifierState
    miss_cnt: int = 0
    hit_cnt: int = 0


class Env:
    """The working environment of one verification.

    Counters, flags and other immutable defaults are class attributes (an instance gets
    its own value when a check first sets one); ``__init__`` makes only the containers:
    one is made for every program, and most programs touch few of these fields."""

    insns: Sequence[Insn]
    prog_type: ProgType
    expected_attach_type: AttachType | None
    maps: Sequence[Any]
    kernel: Any
    options: Options
    log: VerifierLog
    aux: list[InsnAux]
    id_gen: int = 0
    insn_idx: int = 0
    prev_insn_idx: int = -1
    insn_processed: int = 0
    cur_state: VerifierState | None = None
    peak_states: int = 0
    explored_states_size: int = 0
    free_list_size: int = 0
    total_states: int = 0
    max_states_per_insn: int = 0
    jmps_processed: int = 0
    prev_jmps_processed: int = 0
    prev_insn_processed: int = 0
    scratched_regs: int = 0
    scratched_stack: int = 0
    prev_log_pos: int = 0
    prev_insn_print_pos: int = 0
    pass_cnt: int = 0
    seen_direct_write: bool = False
    changes_pkt_data: bool = False
    has_tail_call: bool = False
    max_pkt_offset: int = 0
    max_ctx_offset: int = 0
    max_rdonly_access: int = 0
    max_rdwr_access: int = 0
    max_tp_access: int = 0
    tail_call_pokes: int = 0
    mark_read: int = 0
    stack_live: Any = None
    prog_btf: Any = None  # the object's BTF (prog_btf_fd), with func_info/line_info
    func_info: Sequence[Any] = ()
    line_info: Sequence[Any] = ()
    eager_fixups: bool = False  # the program has what makes fix-ups change the load's answer
    # made by cfg.scan (each pass assigns a new sequence, none changes one in place)
    insn_succ: Sequence[tuple[int, ...]] = ()  # successors of each slot inside its function
    cfg_special: Sequence[int] = ()  # the jumps, calls, exits, lddw and LD_ABS/LD_IND
    cfg_calls: Mapping[int, int] = MappingProxyType({})  # bpf-to-bpf calls: slot to callee
    cfg_backwards: bool = False  # some jump goes back
    cfg_subprog_refs: Sequence[int] = ()  # bpf-to-bpf and kfunc calls, callback addresses
    cfg_unplain: Sequence[int] = ()  # slots whose opcode is unknown, an lddw or a load
    cfg_insns: Sequence[Insn] | None = None  # the instruction list scanned (identity)
    # the walk's scratch: the history record this instruction made (pending.push_insn_history)
    # and the decoded backtracking steps (precision), one per slot, made on first use
    cur_hist: JmpHistoryEntry | None = None
    bt_steps: list[Any] | None = None
    loop_hint: Any = None  # prune.LoopHint: which register told the last looping pair apart
    # rarely more than empty: made when the first entry comes (ldimm, global_funcs)
    used_maps: Sequence[Any] = ()  # the maps the program's lddw name, in order
    global_args: Mapping[int, Any] = MappingProxyType({})  # global_funcs.prepare_func_args
    global_called: frozenset[int] = frozenset()  # global functions verified code calls
    # made by stack_liveness.compute_postorder at the first stack-liveness update
    insn_postorder: Sequence[int] = ()
    postorder_starts: Sequence[int] = ()

    def __init__(self, insns: Sequence[Insn], prog_type: ProgType, expected_attach_type: AttachType | None = None,
                 maps: Sequence[Any] = (), kernel: Any = None, options: Options | None = None) -> None:
        self.insns = insns
        self.prog_type = prog_type
        self.expected_attach_type = expected_attach_type
        self.maps = maps
        self.kernel = kernel
        self.options = options = options if options is not None else Options()
        self.log = VerifierLog(options.log_level)
        n = len(insns)
        self.aux = _new_notes(n)
        self.subprogs: list[SubprogInfo] = []
        self.head: list[StackElem] = []
        self.explored_states: dict[int, list[StateListEntry]] = {}

    @functools.cached_property
    def fake_reg(self) -> list[RegState]:
        """Two scratch registers for comparisons with a constant (made on first use:
        many programs have none)."""
        return [RegState(), RegState()]

    @property
    def sleepable(self) -> bool:
        return self.options.sleepable

    # --- logging ---------------------------------------------------------------------
    def verbose(self, text: str) -> None:
        self.log.write(text)

    def error(self, err: int, message: str, newline: bool = True) -> VerifierError:
        """Write ``message`` to the log and make the exception that stops verification."""
        self.log.write(message + ("\n" if newline else ""))
        return VerifierError(err, message)

    def eacces(self, message: str) -> VerifierError:
        return self.error(errno.EACCES, message)

    def einval(self, message: str) -> VerifierError:
        return self.error(errno.EINVAL, message)

    @property
    def level(self) -> int:
        return self.log.level

    # --- state access ----------------------------------------------------------------
    @property
    def state(self) -> VerifierState:
        assert self.cur_state is not None
        return self.cur_state

    @property
    def frame(self) -> FuncState:
        s = self.state
        return s.frames[s.curframe]

    @property
    def regs(self) -> list[RegState]:
        s = self.state
        return s.frames[s.curframe].regs

    def func(self, reg: RegState) -> FuncState:
        """The frame a stack pointer points into."""
        return self.state.frames[reg.frameno]

    def new_id(self) -> int:
        self.id_gen += 1
        return self.id_gen

    def mark_reg_scratched(self, regno: int) -> None:
        self.scratched_regs |= 1 << regno

    def mark_stack_slot_scratched(self, spi: int) -> None:
        self.scratched_stack |= 1 << spi

    def state_scratched(self) -> bool:
        return bool(self.scratched_regs or self.scratched_stack)

    def mark_state_clean(self) -> None:
        self.scratched_regs = 0
        self.scratched_stack = 0

    def mark_all_scratched(self) -> None:
        self.scratched_regs = (1 << 11) - 1
        self.scratched_stack = (1 << 64) - 1

    def subprog_of(self, insn_idx: int) -> int:
        """The index of the subprogram containing ``insn_idx``."""
        lo = 0
        for i, sp in enumerate(self.subprogs):
            if sp.start <= insn_idx:
                lo = i
            else:
                break
        return lo
