"""``python -m pybpf.kernel.vmlinux [FILE]``: write pybpf's kernel BTF (raw, as
/sys/kernel/btf/vmlinux holds it) to FILE or to standard output, so that
``pybpf btf dump file FILE format c`` or bpftool can show it."""

from __future__ import annotations

import sys

from . import kernel_btf_bytes


def main(argv: list[str]) -> int:
    raw = kernel_btf_bytes()
    if len(argv) > 1:
        print("usage: python -m pybpf.kernel.vmlinux [FILE]", file=sys.stderr)
        return 2
    if argv:
        with open(argv[0], "wb") as f:
            f.write(raw)
    else:
        sys.stdout.buffer.write(raw)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
