"""The verifier log, written as the kernel writes it (kernel/bpf/log.c).

Levels: 1 prints the path that failed (or, on success, only the statistics), 2 every
instruction and state, 4 the statistics with the verification time.  Positions into the
log let a finished path's output be dropped at level 1, as the kernel does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..isa.semantics import s64 as _s64
from ..kernel.regtypes import RegType, TypeFlag, base_type
from . import tnum
from .scalar import format_scalar
from .state import BPF_REG_SIZE, SLOT_CHARS, FuncState, RegState, Slot

if TYPE_CHECKING:
    pass

LOG_LEVEL1 = 1
LOG_LEVEL2 = 2
LOG_STATS = 4
LOG_MIN_ALIGNMENT = 8
LOG_ALIGNMENT = 40

S64_MIN = -(1 << 63)
S64_MAX = (1 << 63) - 1
U64_MAX = (1 << 64) - 1


class VerifierLog:
    """An append-only text buffer with positions that can be rewound.

    Whatever the level, the last line written is kept: it is the message that says why a
    program was rejected (the kernel's log has it as its last line before the statistics).
    """

    __slots__ = ("last_line", "level", "parts", "size", "tail")

    def __init__(self, level: int = 0) -> None:
        self.level = level
        self.parts: list[str] = []
        self.size = 0
        self.last_line = ""
        self.tail = ""

    def write(self, text: str) -> None:
        if self.level:
            self.parts.append(text)
            self.size += len(text)
        if "\n" in text:
            lines = (self.tail + text).split("\n")
            self.tail = lines[-1]
            for line in reversed(lines[:-1]):
                if line:
                    self.last_line = line
                    break
        else:
            self.tail += text

    def message(self) -> str:
        """The line that says why: the unfinished line if any, else the last one."""
        return self.tail if self.tail else self.last_line

    @property
    def end_pos(self) -> int:
        return self.size

    def reset(self, pos: int) -> None:
        """Drop everything written after ``pos``."""
        if pos >= self.size:
            return
        parts = self.parts
        size = self.size
        while parts and size - len(parts[-1]) >= pos:
            size -= len(parts.pop())
        if size > pos:
            last = parts.pop()
            parts.append(last[: len(last) - (size - pos)])
        self.size = pos

    def text(self) -> str:
        return "".join(self.parts)


_REG_TYPE_NAMES = {
    RegType.NOT_INIT: "?",
    RegType.SCALAR_VALUE: "scalar",
    RegType.PTR_TO_CTX: "ctx",
    RegType.CONST_PTR_TO_MAP: "map_ptr",
    RegType.PTR_TO_MAP_VALUE: "map_value",
    RegType.PTR_TO_STACK: "fp",
    RegType.PTR_TO_PACKET: "pkt",
    RegType.PTR_TO_PACKET_META: "pkt_meta",
    RegType.PTR_TO_PACKET_END: "pkt_end",
    RegType.PTR_TO_FLOW_KEYS: "flow_keys",
    RegType.PTR_TO_SOCKET: "sock",
    RegType.PTR_TO_SOCK_COMMON: "sock_common",
    RegType.PTR_TO_TCP_SOCK: "tcp_sock",
    RegType.PTR_TO_TP_BUFFER: "tp_buffer",
    RegType.PTR_TO_XDP_SOCK: "xdp_sock",
    RegType.PTR_TO_BTF_ID: "ptr_",
    RegType.PTR_TO_MEM: "mem",
    RegType.PTR_TO_ARENA: "arena",
    RegType.PTR_TO_BUF: "buf",
    RegType.PTR_TO_FUNC: "func",
    RegType.PTR_TO_MAP_KEY: "map_key",
    RegType.CONST_PTR_TO_DYNPTR: "dynptr_ptr",
}


def reg_type_str(t: int) -> str:
    """``rdonly_mem_or_null``, ``map_value``, ``trusted_ptr_``: as the kernel names types."""
    postfix = ""
    if t & TypeFlag.PTR_MAYBE_NULL:
        postfix = "or_null_" if base_type(t) == RegType.PTR_TO_BTF_ID else "_or_null"
    prefix = (
        ("rdonly_" if t & TypeFlag.MEM_RDONLY else "")
        + ("ringbuf_" if t & TypeFlag.MEM_RINGBUF else "")
        + ("user_" if t & TypeFlag.MEM_USER else "")
        + ("percpu_" if t & TypeFlag.MEM_PERCPU else "")
        + ("rcu_" if t & TypeFlag.MEM_RCU else "")
        + ("untrusted_" if t & TypeFlag.PTR_UNTRUSTED else "")
        + ("trusted_" if t & TypeFlag.PTR_TRUSTED else "")
    )
    name: str = _REG_TYPE_NAMES.get(base_type(t), "?")  # type: ignore[call-overload]
    return prefix + name + postfix


def snum(v: int) -> str:
    """A signed number as the log prints it: decimal when small, else hex."""
    if -32768 <= v <= 32767:
        return str(v)
    return f"{v & U64_MAX:#x}"


def unum(v: int) -> str:
    if v <= 0xFFFF:
        return str(v)
    return f"{v:#x}"


def _is_map_ptr(t: int) -> bool:
    return base_type(t) in (RegType.CONST_PTR_TO_MAP, RegType.PTR_TO_MAP_KEY, RegType.PTR_TO_MAP_VALUE)


def _is_pkt_ptr(t: int) -> bool:
    return base_type(t) in (RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META)


def reg_state_str(reg: RegState, frameno: int) -> str:
    """The value part of ``R1=...``: ``ctx()``, ``pkt(off=14,r=14)``, ``scalar(...)``, ``5``."""
    t = reg.type
    out = ""
    if t == RegType.SCALAR_VALUE:
        parts = []
        if reg.id:
            parts.append(f"id={reg.id & ~(1 << 31)}" + (f"{reg.off:+d}" if reg.id & (1 << 31) else ""))
        if reg.ref_obj_id:
            parts.append(f"ref_obj_id={reg.ref_obj_id}")
        return format_scalar(reg.b, parts, reg.precise)
    out += reg_type_str(t)
    if t == RegType.PTR_TO_ARENA:
        return out
    if t == RegType.PTR_TO_STACK:
        if reg.frameno != frameno:
            out += f"[{reg.frameno}]"
        if reg.b.var_off.mask == 0:
            return out + snum(_s64(reg.b.var_off.value + reg.off))
    if base_type(t) == RegType.PTR_TO_BTF_ID:
        out += getattr(reg.btf, "name_of", lambda _i: "")(reg.btf_id) if reg.btf is not None else ""
    attrs: list[str] = []
    if reg.id:
        attrs.append(f"id={reg.id & ~(1 << 31)}")
    if reg.ref_obj_id:
        attrs.append(f"ref_obj_id={reg.ref_obj_id}")
    if t & TypeFlag.NON_OWN_REF:
        attrs.append("non_own_ref")
    if _is_map_ptr(t) and reg.map is not None:
        name = reg.map.spec.name
        if name:
            attrs.append(f"map={name}")
        attrs.append(f"ks={reg.map.spec.key_size},vs={reg.map.spec.value_size}")
    if t != RegType.SCALAR_VALUE and reg.off:
        attrs.append(f"off={snum(reg.off)}")
    if _is_pkt_ptr(t):
        attrs.append(f"r={unum(reg.range)}")
    if base_type(t) == RegType.PTR_TO_MEM:
        attrs.append(f"sz={unum(reg.mem_size)}")
    if reg.b.var_off.mask == 0:
        if reg.b.var_off.value:
            attrs.append(f"imm={snum(_s64(reg.b.var_off.value))}")
        return out + "(" + ",".join(attrs) + ")"
    inner = format_scalar(reg.b)[len("scalar(") : -1]
    if inner:
        attrs.append(inner)
    return out + "(" + ",".join(attrs) + ")"


def verifier_state_str(
    state: FuncState, print_all: bool, scratched_regs: int, scratched_stack: int
) -> str:
    """`` R1=ctx() R10=fp0 fp-8=mmmm????`` plus the frame marker and references."""
    out = []
    if state.frameno:
        out.append(f" frame{state.frameno}:")
    for i, reg in enumerate(state.regs):
        if reg.type == RegType.NOT_INIT:
            continue
        if not print_all and not scratched_regs >> i & 1:
            continue
        out.append(f" R{i}={reg_state_str(reg, state.frameno)}")
    for i, slot in enumerate(state.stack):
        if not print_all and not scratched_stack >> i & 1:
            continue
        types = [SLOT_CHARS[s] for s in slot.slot_type]
        if all(s == Slot.INVALID for s in slot.slot_type):
            continue
        off = (-i - 1) * BPF_REG_SIZE
        last = slot.slot_type[BPF_REG_SIZE - 1]
        if last == Slot.SPILL:
            j = slot.slot_type.index(Slot.SPILL)
            out.append(f" fp{off}={''.join(types[:j])}{reg_state_str(slot.spilled_ptr, state.frameno)}")
        elif last == Slot.ITER:
            it = slot.spilled_ptr
            if it.ref_obj_id:  # an iterator shows once, at its first slot
                out.append(f" fp{off}={it.dynptr.describe(it.ref_obj_id)}")
        else:
            out.append(f" fp{off}={''.join(types)}")
    return "".join(out)


def vlog_alignment(pos: int) -> int:
    """Spaces before the ``;`` that follows an instruction's text."""
    width = max(pos + LOG_MIN_ALIGNMENT // 2, LOG_ALIGNMENT)
    width = (width + LOG_MIN_ALIGNMENT - 1) // LOG_MIN_ALIGNMENT * LOG_MIN_ALIGNMENT
    return width - pos - 1


def tnum_str(t: tnum.Tnum) -> str:
    return tnum.format(t)
