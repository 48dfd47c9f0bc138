"""Iterator cases run two ways: on pybpf and on the running kernel.

A case is an ``iter/bpf_map_elem`` program in assembler, a map (type, sizes, entries)
and how the iterator is read.  Each side answers with the same record: the load verdict
(errno and the log's last line), the link's errno, and the text read (or the read's
errno).  ``python tests/iter/harness.py`` runs every case on the kernel and writes the
answers to ``tests/data/iter/kernel_cases.json``.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data" / "iter" / "kernel_cases.json"

# stack-built format strings: r6 = seq; fmt at fp-16
_SEQ = "r6 = *(u64 *)(r1 + 0)\nr6 = *(u64 *)(r6 + 0)\n"


def _fmt(text: str, at: int = -16) -> str:
    """Store ``text`` (NUL padded to 8-byte words) on the stack at ``fp+at``."""
    raw = text.encode() + b"\0"
    raw += bytes(-len(raw) % 8)
    lines = []
    for i in range(0, len(raw), 8):
        word = int.from_bytes(raw[i : i + 8], "little")
        lines.append(f"r9 = {word:#x} ll\n*(u64 *)(r10 {at + i:+d}) = r9\n")
    return "".join(lines)


PRINT_KV = (
    _SEQ + "r7 = *(u64 *)(r1 + 16)\nr8 = *(u64 *)(r1 + 24)\n"
    "if r7 == 0 goto end\nif r8 == 0 goto end\n"
    + _fmt("%u %llx\n", -16)
    + "r3 = *(u32 *)(r7 + 0)\n*(u64 *)(r10 - 32) = r3\nr3 = *(u64 *)(r8 + 0)\n*(u64 *)(r10 - 24) = r3\n"
    "r1 = r6\nr2 = r10\nr2 += -16\nr3 = 16\nr4 = r10\nr4 += -32\nr5 = 16\ncall 126\n"
    "r0 = 0\nexit\n"
    "end:\n" + _fmt("done\n", -16) + "r1 = r6\nr2 = r10\nr2 += -16\nr3 = 8\nr4 = 0\nr5 = 0\ncall 126\n"
    "r0 = 0\nexit\n"
)
"""Prints ``key value`` per element (u32 key, u64 value) and ``done`` at the end."""

WRITE_KV = (
    _SEQ + "r7 = *(u64 *)(r1 + 16)\nr8 = *(u64 *)(r1 + 24)\n"
    "if r7 == 0 goto end\nif r8 == 0 goto end\n"
    "r1 = r6\nr2 = r7\nr3 = 4\ncall 127\n"
    "r1 = r6\nr2 = r8\nr3 = 16\ncall 127\n"
    "end:\nr0 = 0\nexit\n"
)
"""``bpf_seq_write`` of 4 key bytes and 16 value bytes (value area of 16 bytes)."""

DOUBLE_VALUE = (
    _SEQ + "r7 = *(u64 *)(r1 + 16)\nr8 = *(u64 *)(r1 + 24)\n"
    "if r8 == 0 goto end\n"
    "r3 = *(u64 *)(r8 + 0)\nr3 <<= 1\n*(u64 *)(r8 + 0) = r3\n"
    "r1 = r6\nr2 = r8\nr3 = 8\ncall 127\n"
    "end:\nr0 = 0\nexit\n"
)
"""Doubles each value in place, writes the new value."""


def _repeat_write(times: int) -> str:
    """Per element: 64 bytes of a pattern written ``times`` times."""
    init = "".join(f"r9 = {0x0101010101010101 * (i + 1):#x} ll\n*(u64 *)(r10 {-64 + 8 * i:+d}) = r9\n"
                   for i in range(8))
    return (_SEQ + "r7 = *(u64 *)(r1 + 16)\nif r7 == 0 goto end\n" + init + "r8 = 0\n"
            "loop:\nr1 = r6\nr2 = r10\nr2 += -64\nr3 = 64\ncall 127\n"
            f"r8 += 1\nif r8 < {times} goto loop\n"
            "end:\nr0 = 0\nexit\n")


def _printf(fmt: str, args: list[int | str], data_len: int | None = None, stack: str = "") -> str:
    """Per element: ``bpf_seq_printf(seq, fmt, args)``, then its return value (8 bytes).
    An argument ``"fp-N"`` is a pointer to the stack (``stack`` is stored at fp-64)."""
    n = len(args)
    words = _fmt(stack, -64) if stack else ""
    for i, a in enumerate(args):
        if isinstance(a, str):
            words += f"r9 = r10\nr9 += -{int(a[3:])}\n"
        else:
            words += f"r9 = {a & ((1 << 64) - 1):#x} ll\n"
        words += f"*(u64 *)(r10 {-232 + 8 * i:+d}) = r9\n"
    size = len(fmt.encode()) + 1
    size += -size % 8
    dl = 8 * n if data_len is None else data_len
    return (_SEQ + "r7 = *(u64 *)(r1 + 16)\nif r7 == 0 goto end\n" + _fmt(fmt, -128) + words
            + f"r1 = r6\nr2 = r10\nr2 += -128\nr3 = {size}\nr4 = r10\nr4 += -232\nr5 = {dl}\n"
            "call 126\n*(u64 *)(r10 - 8) = r0\nr1 = r6\nr2 = r10\nr2 += -8\nr3 = 8\ncall 127\n"
            "end:\nr0 = 0\nexit\n")


@dataclass(frozen=True)
class MapCase:
    type: str
    key_size: int
    value_size: int
    max_entries: int
    entries: tuple[tuple[str, str], ...] = ()
    """(key hex, value hex); a per-CPU value is one value repeated for every CPU."""


@dataclass(frozen=True)
class Case:
    name: str
    asm: str
    map: MapCase | None = None
    target: str = "bpf_map_elem"
    read_size: int = 4096
    sort_lines: bool = False
    """Hash maps are walked in an order that depends on the kernel's random seed."""
    record_size: int = 0
    """With ``sort_lines``: the output is binary records of this size, sorted."""
    reads: int = 1
    """How many times a fresh iterator is read (values changed by the program stay)."""
    notes: str = field(default="", compare=False)


def _u32(v: int) -> str:
    return v.to_bytes(4, "little").hex()


def _u64(v: int) -> str:
    return v.to_bytes(8, "little").hex()


ARRAY3 = MapCase("array", 4, 8, 3, tuple((_u32(i), _u64(10 + i)) for i in range(3)))
HASH3 = MapCase("hash", 4, 8, 8, tuple((_u32(i), _u64(100 * i + 7)) for i in (3, 5, 9)))
LRU3 = MapCase("lru_hash", 4, 8, 8, tuple((_u32(i), _u64(i * i)) for i in (1, 2, 4)))
PCPU_ARRAY = MapCase("percpu_array", 4, 8, 2, ((_u32(0), _u64(5)), (_u32(1), _u64(6))))
PCPU_HASH = MapCase("percpu_hash", 4, 4, 4, ((_u32(7), _u32(70)),))
LRU_PCPU_HASH = MapCase("lru_percpu_hash", 4, 8, 4, ((_u32(8), _u64(80)),))
ARRAY1 = MapCase("array", 4, 8, 1, ((_u32(0), _u64(42)),))
ARRAY16 = MapCase("array", 4, 16, 2, ((_u32(1), (_u64(1) + _u64(2))),))
QUEUE = MapCase("queue", 0, 8, 4)

CASES: tuple[Case, ...] = (
    Case("print_array", PRINT_KV, ARRAY3),
    Case("print_hash", PRINT_KV, HASH3, sort_lines=True),
    Case("print_lru_hash", PRINT_KV, LRU3, sort_lines=True),
    Case("print_small_reads", PRINT_KV, ARRAY3, read_size=7),
    Case("double_array_twice", DOUBLE_VALUE, ARRAY3, reads=2),
    Case("double_hash", DOUBLE_VALUE, HASH3, sort_lines=True, record_size=8),
    Case("write_percpu_array", WRITE_KV, PCPU_ARRAY),
    Case("write_percpu_hash", WRITE_KV, PCPU_HASH),
    Case("write_lru_percpu_hash", WRITE_KV, LRU_PCPU_HASH),
    Case("write_array16", WRITE_KV, ARRAY16),
    Case("write_array8_too_small", WRITE_KV, ARRAY3),
    Case("key_too_small", "r2 = *(u64 *)(r1 + 16)\nif r2 == 0 goto +1\nr0 = *(u64 *)(r2 + 0)\nr0 = 0\nexit\n", ARRAY3),
    Case("queue_not_iterable", "r0 = 0\nexit\n", QUEUE),
    Case("no_map", "r0 = 0\nexit\n", None),
    Case("retry_always", "r0 = 1\nexit\n", ARRAY3),
    Case("key_unchecked", "r2 = *(u64 *)(r1 + 16)\nr0 = *(u32 *)(r2 + 0)\nr0 = 0\nexit\n", ARRAY3),
    Case("value_unchecked", "r2 = *(u64 *)(r1 + 24)\n*(u32 *)(r2 + 0) = 1\nr0 = 0\nexit\n", ARRAY3),
    Case("key_write", "r2 = *(u64 *)(r1 + 16)\nif r2 == 0 goto +1\n*(u32 *)(r2 + 0) = 1\nr0 = 0\nexit\n", ARRAY3),
    Case("value_negative_off",
         "r2 = *(u64 *)(r1 + 24)\nif r2 == 0 goto +1\nr0 = *(u32 *)(r2 - 4)\nr0 = 0\nexit\n", ARRAY3),
    Case("value_variable_off",
         "r2 = *(u64 *)(r1 + 24)\nif r2 == 0 goto +3\nr3 = *(u32 *)(r2 + 0)\nr3 &= 4\nr2 += r3\n"
         "r0 = *(u8 *)(r2 + 0)\nr0 = 0\nexit\n", ARRAY3),
    Case("key_arith_before_check",
         "r2 = *(u64 *)(r1 + 16)\nr2 += 4\nif r2 == 0 goto +1\nr0 = *(u32 *)(r2 + 0)\nr0 = 0\nexit\n", ARRAY3),
    Case("ctx_narrow_key", "r2 = *(u32 *)(r1 + 16)\nr0 = 0\nexit\n", ARRAY3),
    Case("ctx_write", "*(u64 *)(r1 + 16) = 0\nr0 = 0\nexit\n", ARRAY3),
    Case("ctx_past_args", "r2 = *(u64 *)(r1 + 32)\nr0 = 0\nexit\n", ARRAY3),
    Case("return_2", "r0 = 2\nexit\n", ARRAY3),
    Case("value_offset_12",
         "r2 = *(u64 *)(r1 + 24)\nif r2 == 0 goto +1\nr0 = *(u32 *)(r2 + 12)\nr0 = 0\nexit\n", PCPU_HASH),
    Case("overflow_one_object_e2big", _repeat_write(520), ARRAY1),
    Case("overflow_second_object_next_read", _repeat_write(300), ARRAY3, read_size=4096),
    Case("printf_ints", _printf("%d %i %u %x %X|%5d|%-5d|%05d|%+d|% d %%\n",
                                [-7, 8, -1, 255, 255, 42, 42, 42, 42, 42]), ARRAY1),
    Case("printf_longs", _printf("%ld %lld %lu %llx %lx %li|%12lld|%-12lu|\n",
                                 [-5, -6, -7, 1 << 40, -1, 1 << 33, -3, 9]), ARRAY1),
    Case("printf_13_args_refused", _printf("%d" * 13, list(range(13))), ARRAY1),
    Case("printf_12_args", _printf("%d" * 12, list(range(12))), ARRAY1),
    Case("printf_char_str", _printf("%c%c [%s]\n", [0x41, 0x7A, 0]), ARRAY1),
    Case("printf_unknown_conversion", _printf("%q\n", [1]), ARRAY1),
    Case("printf_too_few_args", _printf("%d %d\n", [1]), ARRAY1),
    Case("printf_data_len_not_words", _printf("%d\n", [1], data_len=7), ARRAY1),
    Case("printf_precision_refused", _printf("%.2d\n", [1]), ARRAY1),
    Case("printf_hash_flag_refused", _printf("%#x\n", [1]), ARRAY1),
    Case("printf_h_modifier_refused", _printf("%hd\n", [1]), ARRAY1),
    Case("printf_no_args", _printf("plain\n", []), ARRAY1),
    Case("printf_stack_str", _printf("[%s] [%10s] [%-6s]\n", ["fp-64", "fp-64", "fp-62"], stack="hello"), ARRAY1),
    Case("printf_ip4", _printf("%pI4 %pi4\n", ["fp-64", "fp-64"], stack="\x0a\x01\x02\x03"), ARRAY1),
    Case("printf_str_followed_by_letter_refused", _printf("%sx\n", ["fp-64"], stack="a"), ARRAY1),
    Case("key_offset_4_on_array",
         "r2 = *(u64 *)(r1 + 16)\nif r2 == 0 goto +1\nr0 = *(u32 *)(r2 + 4)\nr0 = 0\nexit\n", ARRAY3),
)


def case_record(accepted: bool, err: int, message: str, link_errno: int | None = None,
                output: bytes | None = None, read_errno: int | None = None) -> dict[str, Any]:  # fmt: skip
    return {"accepted": accepted, "errno": err, "message": message, "link_errno": link_errno,
            "output": None if output is None else output.decode("latin-1"),
            "read_errno": read_errno}  # fmt: skip


def normalize(case: Case, rec: dict[str, Any]) -> dict[str, Any]:
    """What is compared: hash-map outputs with their lines sorted."""
    out = dict(rec)
    text = out.get("output")
    if case.sort_lines and text:
        if case.record_size:
            n = case.record_size
            out["output"] = "".join(sorted(text[i : i + n] for i in range(0, len(text), n)))
        else:
            out["output"] = "\n".join(sorted(text.splitlines()))
    return out


def _expand_value(m: MapCase, value_hex: str, ncpus: int) -> bytes:
    raw = bytes.fromhex(value_hex)
    if m.type.startswith(("percpu", "lru_percpu")):
        stride = (m.value_size + 7) // 8 * 8
        return (raw.ljust(stride, b"\0")) * ncpus
    return raw


# --- pybpf ----------------------------------------------------------------------------------


def run_pybpf(case: Case, ncpus: int) -> dict[str, Any]:
    from pybpf.errors import BpfError
    from pybpf.isa import assemble
    from pybpf.iter import create_iter_link
    from pybpf.kernel.progtypes import AttachType, ProgType
    from pybpf.kernel.state import Kernel
    from pybpf.maps.types import MapSpec, MapType
    from pybpf.program import ProgramRejected, load_program
    from pybpf.verifier.env import Options

    kernel = Kernel(num_cpus=ncpus, seed=0)
    options = Options(log_level=1, attach_btf_name="bpf_iter_" + case.target)
    try:
        prog = load_program(assemble(case.asm), ProgType.TRACING, kernel=kernel,
                            expected_attach_type=AttachType.TRACE_ITER, options=options)  # fmt: skip
    except ProgramRejected as exc:
        return case_record(False, exc.errno, exc.result.message)
    m = None
    if case.map is not None:
        mc = case.map
        m = kernel.create_map(MapSpec(MapType[mc.type.upper()], mc.key_size, mc.value_size, mc.max_entries))
        for k, v in mc.entries:
            m.update(bytes.fromhex(k), _expand_value(mc, v, ncpus))
    try:
        link = create_iter_link(prog, m)
    except BpfError as exc:
        return case_record(True, 0, "", exc.errno)
    outputs = []
    for _ in range(case.reads):
        f = link.open()
        try:
            outputs.append(f.read_all(case.read_size))
        except BpfError as exc:
            return case_record(True, 0, "", 0, b"".join(outputs), exc.errno)
        finally:
            f.close()
    return case_record(True, 0, "", 0, b"".join(outputs), 0)


# --- the kernel -----------------------------------------------------------------------------


class _LinkCreateAttr(ctypes.Structure):
    _fields_ = [("prog_fd", ctypes.c_uint32), ("target_fd", ctypes.c_uint32),
                ("attach_type", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("iter_info", ctypes.c_uint64), ("iter_info_len", ctypes.c_uint32),
                ("pad", ctypes.c_uint32)]  # fmt: skip


class _IterCreateAttr(ctypes.Structure):
    _fields_ = [("link_fd", ctypes.c_uint32), ("flags", ctypes.c_uint32)]


def _vmlinux_func(name: str) -> int:
    from pybpf.btf import Kind, load_vmlinux

    found = load_vmlinux().find_by_name_kind(name, Kind.FUNC)
    if found is None:
        raise RuntimeError(f"the running kernel has no {name}")
    return int(found)


def kernel_possible_cpus() -> int:
    from pybpf.oracle.maps import possible_cpus

    return int(possible_cpus())


def run_kernel(case: Case) -> dict[str, Any]:
    from pybpf.isa import assemble
    from pybpf.kernel.progtypes import AttachType, ProgType
    from pybpf.maps.types import MapType
    from pybpf.oracle import log_message
    from pybpf.oracle.maps import map_create, map_update
    from pybpf.oracle.progs import prog_load
    from pybpf.oracle.syscall import close, sys_bpf
    from pybpf.oracle.uapi import Cmd

    ncpus = kernel_possible_cpus()
    fds: list[int] = []
    try:
        res = prog_load(ProgType.TRACING, assemble(case.asm), "GPL", int(AttachType.TRACE_ITER),
                        attach_btf_id=_vmlinux_func("bpf_iter_" + case.target))  # fmt: skip
        if res.fd is None:
            return case_record(False, res.errno, log_message(res.log))
        fds.append(res.fd)
        map_fd = 0
        if case.map is not None:
            mc = case.map
            map_fd = map_create(MapType[mc.type.upper()], mc.key_size, mc.value_size, mc.max_entries)
            fds.append(map_fd)
            for k, v in mc.entries:
                map_update(map_fd, bytes.fromhex(k), _expand_value(mc, v, ncpus))
        info = (ctypes.c_uint32 * 4)(map_fd, 0, 0, 0)
        attr = _LinkCreateAttr(res.fd, 0, int(AttachType.TRACE_ITER), 0, ctypes.addressof(info), 16, 0)
        link_fd = sys_bpf(Cmd.LINK_CREATE, attr)
        if link_fd < 0:
            return case_record(True, 0, "", -link_fd)
        fds.append(link_fd)
        outputs: list[bytes] = []
        for _ in range(case.reads):
            it = sys_bpf(Cmd.ITER_CREATE, _IterCreateAttr(link_fd, 0))
            if it < 0:
                return case_record(True, 0, "", 0, None, -it)
            try:
                while True:
                    try:
                        data = os.read(it, case.read_size)
                    except OSError as exc:
                        return case_record(True, 0, "", 0, b"".join(outputs), exc.errno)
                    if not data:
                        break
                    outputs.append(data)
            finally:
                os.close(it)
        return case_record(True, 0, "", 0, b"".join(outputs), 0)
    finally:
        for fd in reversed(fds):
            close(fd)


def record() -> dict[str, Any]:
    out: dict[str, Any] = {"kernel": os.uname().release, "possible_cpus": kernel_possible_cpus(),
                           "cases": {}}  # fmt: skip
    for case in CASES:
        out["cases"][case.name] = run_kernel(case)
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    rec = record()
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n")
    print(f"{len(rec['cases'])} cases written to {DATA}", file=sys.stderr)
    _ = errno
