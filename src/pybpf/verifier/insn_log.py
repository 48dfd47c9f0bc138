"""The walk's per-instruction log lines: the instruction as the kernel prints it and the
registers it changed.

A leaf of the verifier's modules (``env`` only for its type), so that the driver, the
jump and call steps and precision backtracking can all print without importing the driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..isa.disasm import kernel_text
from ..isa.insn import Insn
from ..isa.opcodes import PseudoCall, PseudoLdImm64
from .log import verifier_state_str, vlog_alignment

if TYPE_CHECKING:
    from .env import Env
    from .state import FuncState

_MAP_SRCS = (PseudoLdImm64.MAP_FD, PseudoLdImm64.MAP_IDX, PseudoLdImm64.MAP_VALUE, PseudoLdImm64.MAP_IDX_VALUE)
_MAP_PTR_SRCS = (PseudoLdImm64.MAP_FD, PseudoLdImm64.MAP_IDX)


def ldimm_text(env: Env, insn: Insn, value: int) -> str | None:
    """How the log shows a 64-bit immediate load after map references are resolved."""
    if insn.src in _MAP_SRCS:
        idx = env.insns.index(insn) if insn in env.insns else -1
        aux = env.aux[idx] if idx >= 0 else None
        if aux is not None and 0 <= aux.map_index < len(env.used_maps):
            m = env.used_maps[aux.map_index]
            addr = m.address if insn.src in _MAP_PTR_SRCS else m.direct_value_addr(aux.map_off)
            return f"0x{addr:x}"
    return None


def call_text(insn: Insn) -> str | None:
    """The kernel's name for a call the generic disassembler names differently."""
    if insn.src == PseudoCall.HELPER and insn.imm == 0:
        return "bpf_unspec"
    if insn.src == PseudoCall.KFUNC_CALL and insn.imm == 0:
        return ""  # BTF type 0 has no name
    return None


def insn_text(env: Env, idx: int) -> str:
    """``(code) text`` of instruction ``idx``, as the level-2 log shows it."""
    insn = env.insns[idx]
    text = kernel_text(env.insns, idx, call_name=call_text, imm_name=lambda i, v: _imm_at(env, idx, i, v))
    return f"({insn.code:02x}) {text}"


def _imm_at(env: Env, idx: int, insn: Insn, value: int) -> str | None:
    if insn.src in _MAP_SRCS:
        aux = env.aux[idx]
        if 0 <= aux.map_index < len(env.used_maps):
            m = env.used_maps[aux.map_index]
            if insn.src in _MAP_PTR_SRCS:
                return f"0x{m.address:x}"
            return f"0x{m.direct_value_addr(aux.map_off):x}"
    if insn.src == PseudoLdImm64.FUNC:
        return f"0x{value:x}"
    return None


def print_verifier_state_line(env: Env, state: FuncState, print_all: bool) -> None:
    """One frame's registers and stack (all of them, or only the ones scratched since
    the last print) and a newline."""
    env.verbose(verifier_state_str(state, print_all, env.scratched_regs, env.scratched_stack) + "\n")
    if not print_all:
        env.mark_state_clean()


def print_insn_state(env: Env, state: FuncState) -> None:
    """After an instruction: `` ; R1=...`` on the same line, or ``N: R1=...``."""
    log = env.log
    if env.prev_log_pos and env.prev_log_pos == log.end_pos:
        log.reset(env.prev_log_pos - 1)
        env.verbose(" " * vlog_alignment(env.prev_insn_print_pos) + ";")
    else:
        env.verbose(f"{env.insn_idx}:")
    print_verifier_state_line(env, state, False)
