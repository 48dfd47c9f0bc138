"""The real loader as the reference: libbpf (through ctypes) loading an object into the
running kernel.

For each program of an object this opens the object with libbpf, lets only that program
(and the programs a program array's ``.values`` name) load, and records what libbpf gave
the kernel (``bpf_program__insns``: the relocated instructions, map fds turned back into
map indices), what the kernel answered (accepted or not, errno, the log's last line and
its instruction count) and libbpf's map definitions.  ``python tests/elf/libbpf_ref.py
OBJ...`` prints the records as JSON (how ``tests/data/elf/libbpf_reference.json`` is made).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import re
import sys
from typing import Any

LOG_SIZE = 1 << 22

_lib: Any = None


def libbpf() -> Any:
    """libbpf.so.1 with the prototypes used here, or None where it is missing."""
    global _lib
    if _lib is not None:
        return _lib or None
    try:
        lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
    except OSError:
        _lib = False
        return None
    vp, cp, u32, i32 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32, ctypes.c_int
    sigs = {
        "bpf_object__open_file": (vp, [cp, vp]),
        "bpf_object__load": (i32, [vp]),
        "bpf_object__close": (None, [vp]),
        "bpf_object__next_program": (vp, [vp, vp]),
        "bpf_object__next_map": (vp, [vp, vp]),
        "bpf_program__name": (cp, [vp]),
        "bpf_program__section_name": (cp, [vp]),
        "bpf_program__set_autoload": (i32, [vp, ctypes.c_bool]),
        "bpf_program__set_log_level": (i32, [vp, u32]),
        "bpf_program__set_log_buf": (i32, [vp, vp, ctypes.c_size_t]),
        "bpf_program__insns": (vp, [vp]),
        "bpf_program__insn_cnt": (ctypes.c_size_t, [vp]),
        "bpf_program__fd": (i32, [vp]),
        "bpf_program__type": (u32, [vp]),
        "bpf_program__expected_attach_type": (u32, [vp]),
        "bpf_map__name": (cp, [vp]),
        "bpf_map__type": (u32, [vp]),
        "bpf_map__key_size": (u32, [vp]),
        "bpf_map__value_size": (u32, [vp]),
        "bpf_map__max_entries": (u32, [vp]),
        "bpf_map__map_flags": (u32, [vp]),
        "bpf_map__fd": (i32, [vp]),
        "bpf_map__unpin": (i32, [vp, cp]),
        "libbpf_set_print": (vp, [vp]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    lib.libbpf_set_print(None)  # quiet
    _lib = lib
    return lib


def _programs(lib: Any, obj: int) -> list[int]:
    out, p = [], None
    while True:
        p = lib.bpf_object__next_program(obj, p)
        if not p:
            return out
        out.append(p)


def _maps(lib: Any, obj: int) -> list[int]:
    out, m = [], None
    while True:
        m = lib.bpf_object__next_map(obj, m)
        if not m:
            return out
        out.append(m)


def normalize_log(log: str) -> str:
    """A verifier log without what depends on where things live: kernel and pybpf
    addresses differ in width, and so does the padding before a ``;`` state comment."""
    out = []
    for line in log.splitlines():
        line = re.sub(r"0x[0-9a-f]{9,}", "ADDR", line)
        line = re.sub(r" {2,};", " ;", line)
        out.append(line.rstrip())
    return "\n".join(out)


def object_digest(path: str) -> str:
    """A hash of what decides the loaded programs: code, relocations, maps and data (not
    DWARF or BTF, which carry the build directory)."""
    from pybpf.elf.reader import read_elf

    with open(path, "rb") as f:
        elf = read_elf(f.read(), path)
    h = hashlib.sha256()
    for sec in elf.sections:
        if sec.name.startswith((".debug", ".rel.debug", ".BTF", ".rel.BTF")) or not sec.name:
            continue
        if sec.type in (3, 2):  # string and symbol tables: names only matter through relocs
            continue
        h.update(sec.name.encode() + b"\0" + sec.data)
    return h.hexdigest()[:16]


def _insns_by_index(raw: bytes, fd_to_idx: dict[int, int]) -> str:
    """Hex of the instructions with map fds replaced by map indices (src 1 -> 5, 2 -> 6)."""
    out = bytearray(raw)
    i = 0
    while i + 8 <= len(out):
        code, regs = out[i], out[i + 1]
        src = regs >> 4
        if code == 0x18:
            if src in (1, 2):
                fd = int.from_bytes(out[i + 4 : i + 8], "little", signed=True)
                idx = fd_to_idx.get(fd, -1)  # -1: unknown (maps closed after a failed load)
                out[i + 1] = (regs & 0x0F) | ((5 if src == 1 else 6) << 4)
                out[i + 4 : i + 8] = idx.to_bytes(4, "little", signed=True)
            i += 16
            continue
        i += 8
    return " ".join(out[j : j + 8].hex() for j in range(0, len(out), 8))


def _prog_array_targets(path: str) -> set[str]:
    """Programs named by program arrays' ``.values`` (they must load for the array)."""
    from pybpf.elf import open_file

    spec = open_file(path)
    return {t for m in spec.maps if m.spec.type == 3 for t in m.init_slots if t}


def reference(path: str) -> dict[str, Any]:
    """libbpf's maps, and per program its instructions and the kernel's verdict."""
    from pybpf.oracle.log import summarize_log

    lib = libbpf()
    if lib is None:
        raise RuntimeError("libbpf.so.1 is not available")
    targets = _prog_array_targets(path)
    out: dict[str, Any] = {"object": os.path.basename(path), "digest": object_digest(path),
                           "maps": [], "programs": {}}  # fmt: skip
    obj = lib.bpf_object__open_file(path.encode(), None)
    if not obj:
        out["open_errno"] = ctypes.get_errno()
        return out
    try:
        for m in _maps(lib, obj):
            out["maps"].append({
                "name": lib.bpf_map__name(m).decode(), "type": lib.bpf_map__type(m),
                "key_size": lib.bpf_map__key_size(m), "value_size": lib.bpf_map__value_size(m),
                "max_entries": lib.bpf_map__max_entries(m), "flags": lib.bpf_map__map_flags(m),
            })  # fmt: skip
        names = [lib.bpf_program__name(p).decode() for p in _programs(lib, obj)]
    finally:
        lib.bpf_object__close(obj)
    for name in names:
        out["programs"][name] = _load_one(lib, path, name, targets, summarize_log)
    return out


def _load_one(lib: Any, path: str, name: str, targets: set[str], summarize: Any) -> dict[str, Any]:
    obj = lib.bpf_object__open_file(path.encode(), None)
    buf = ctypes.create_string_buffer(LOG_SIZE)
    try:
        chosen = None
        for p in _programs(lib, obj):
            pname = lib.bpf_program__name(p).decode()
            load = pname == name or pname in targets
            lib.bpf_program__set_autoload(p, load)
            if pname == name:
                chosen = p
                lib.bpf_program__set_log_level(p, 1)
                lib.bpf_program__set_log_buf(p, ctypes.addressof(buf), LOG_SIZE)
        assert chosen is not None
        err = lib.bpf_object__load(obj)
        if err == -28:  # ENOSPC: the log outgrew the buffer; the verdict needs no log
            err = _load_quietly(lib, path, name, targets)
        fd_to_idx = {fd: i for i, m in enumerate(_maps(lib, obj)) if (fd := lib.bpf_map__fd(m)) >= 0}
        cnt = lib.bpf_program__insn_cnt(chosen)
        raw = ctypes.string_at(lib.bpf_program__insns(chosen), cnt * 8) if cnt else b""
        log = buf.value.decode(errors="replace")
        summary = summarize(log)
        return {
            "section": lib.bpf_program__section_name(chosen).decode(),
            "prog_type": lib.bpf_program__type(chosen),
            "expected_attach_type": lib.bpf_program__expected_attach_type(chosen),
            "accepted": err == 0,
            "errno": -err if err < 0 else 0,
            "message": summary.message if err else "",
            "insns_processed": summary.insns_processed or 0,
            "insns": _insns_by_index(raw, fd_to_idx),
            "log": log,
        }
    finally:
        for m in _maps(lib, obj):  # maps pinned by name go to /sys/fs/bpf: take them back
            lib.bpf_map__unpin(m, None)
        lib.bpf_object__close(obj)


def kernel_log(path: str, name: str, level: int) -> str:
    """The kernel's verifier log for one program loaded by libbpf at ``level``."""
    lib = libbpf()
    targets = _prog_array_targets(path)
    obj = lib.bpf_object__open_file(path.encode(), None)
    buf = ctypes.create_string_buffer(LOG_SIZE)
    try:
        for p in _programs(lib, obj):
            pname = lib.bpf_program__name(p).decode()
            lib.bpf_program__set_autoload(p, pname == name or pname in targets)
            if pname == name:
                lib.bpf_program__set_log_level(p, level)
                lib.bpf_program__set_log_buf(p, ctypes.addressof(buf), LOG_SIZE)
        lib.bpf_object__load(obj)
        return str(buf.value.decode(errors="replace"))
    finally:
        for m in _maps(lib, obj):
            lib.bpf_map__unpin(m, None)
        lib.bpf_object__close(obj)


def _load_quietly(lib: Any, path: str, name: str, targets: set[str]) -> int:
    """The load's result without a log (for programs whose log is too large to keep)."""
    obj = lib.bpf_object__open_file(path.encode(), None)
    try:
        for p in _programs(lib, obj):
            pname = lib.bpf_program__name(p).decode()
            lib.bpf_program__set_autoload(p, pname == name or pname in targets)
        return int(lib.bpf_object__load(obj))
    finally:
        for m in _maps(lib, obj):
            lib.bpf_map__unpin(m, None)
        lib.bpf_object__close(obj)


def record(paths: list[str]) -> dict[str, Any]:
    """The reference file's content: who answered, then one entry per object by stem."""
    uname = os.uname()
    return {
        "recorded_with": {"kernel": uname.release, "libbpf": "libbpf.so.1 (ctypes)",
                          "command": "python tests/elf/libbpf_ref.py OBJ..."},
        "objects": {os.path.splitext(os.path.basename(p))[0]: reference(p) for p in paths},
    }  # fmt: skip


if __name__ == "__main__":  # pragma: no cover - a recording tool
    print(json.dumps(record(sys.argv[1:]), indent=1))
