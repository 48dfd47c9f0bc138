"""libbpf's own CO-RE decisions, for comparison: its debug log when it opens and loads
an object against a chosen target BTF (``btf_custom_path``; vmlinux when None).

Run in a child process (``python -m tests.btf.libbpf_core OBJ [TARGET]``) so that
libbpf's global print callback and loaded objects stay out of the test process.
The output is one JSON list of the relocation lines libbpf logged.
"""

from __future__ import annotations

import ctypes
import json
import re
import subprocess
import sys
from pathlib import Path

RELO_LINE = re.compile(r"prog '([^']*)': relo #(\d+): (.*)$")


class _OpenOpts(ctypes.Structure):
    _fields_ = (
        ("sz", ctypes.c_size_t),
        ("object_name", ctypes.c_char_p),
        ("relaxed_maps", ctypes.c_bool),
        ("pin_root_path", ctypes.c_char_p),
        ("_removed", ctypes.c_uint32),
        ("kconfig", ctypes.c_char_p),
        ("btf_custom_path", ctypes.c_char_p),
        ("kernel_log_buf", ctypes.c_char_p),
        ("kernel_log_size", ctypes.c_size_t),
        ("kernel_log_level", ctypes.c_uint32),
    )


def _collect(obj: str, target: str | None) -> list[str]:
    lib = ctypes.CDLL("libbpf.so.1")
    libc = ctypes.CDLL(None)
    libc.vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]
    lines: list[str] = []
    printer_t = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)

    def printer(level: int, fmt: bytes, args: int) -> int:
        buf = ctypes.create_string_buffer(8192)
        libc.vsnprintf(buf, len(buf), fmt, args)
        lines.append(buf.value.decode("utf-8", "replace"))
        return 0

    keep = printer_t(printer)
    lib.libbpf_set_print.argtypes = [printer_t]
    lib.libbpf_set_print(keep)
    lib.bpf_object__open_file.restype = ctypes.c_void_p
    lib.bpf_object__open_file.argtypes = [ctypes.c_char_p, ctypes.POINTER(_OpenOpts)]
    lib.bpf_object__load.argtypes = [ctypes.c_void_p]
    lib.bpf_object__close.argtypes = [ctypes.c_void_p]
    opts = _OpenOpts(sz=ctypes.sizeof(_OpenOpts), btf_custom_path=target.encode() if target else None)
    handle = lib.bpf_object__open_file(obj.encode(), ctypes.byref(opts))
    if not handle:
        raise SystemExit(f"libbpf could not open {obj}")
    lib.bpf_object__load(handle)
    lib.bpf_object__close(handle)
    out = []
    for text in "".join(lines).splitlines():
        m = RELO_LINE.search(text)
        if m:
            out.append(f"prog '{m[1]}': relo #{m[2]}: {m[3].rstrip()}")
    return out


def libbpf_relo_lines(obj: Path, target: Path | None) -> list[str]:
    """The ``prog '...': relo #N: ...`` lines libbpf logs for ``obj`` against ``target``."""
    argv = [sys.executable, "-m", "tests.btf.libbpf_core", str(obj)] + ([str(target)] if target else [])
    res = subprocess.run(argv, capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    return list(json.loads(res.stdout))


if __name__ == "__main__":
    print(json.dumps(_collect(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)))
