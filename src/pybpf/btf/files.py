"""BTF from files: raw blobs (``/sys/kernel/btf/*``) and ELF objects (their ``.BTF``)."""

from __future__ import annotations

import errno
import io
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import BpfError
from .btf import Btf
from .parse import parse

VMLINUX = "/sys/kernel/btf/vmlinux"
SYSFS_BTF = "/sys/kernel/btf/"


@dataclass(frozen=True, slots=True)
class BtfSections:
    """The raw ``.BTF`` and ``.BTF.ext`` of an object (``ext`` None when absent)."""

    btf: bytes
    ext: bytes | None


def is_elf(data: bytes) -> bool:
    return data[:4] == b"\x7fELF"


def elf_btf_sections(data: bytes, what: str = "object") -> BtfSections:
    """``.BTF`` and ``.BTF.ext`` of an ELF image."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(data))
        btf = elf.get_section_by_name(".BTF")
        ext = elf.get_section_by_name(".BTF.ext")
        if btf is None:
            raise BpfError(errno.ENOENT, f"{what} has no .BTF section")
        return BtfSections(btf.data(), ext.data() if ext is not None else None)
    except (ELFError, ValueError, IndexError, KeyError, AssertionError, OSError) as exc:
        raise BpfError(errno.EINVAL, f"{what} is not a valid ELF object: {exc}") from None


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise BpfError(exc.errno or errno.EIO, f"{path}: {exc.strerror}") from None


def load_file(path: str | os.PathLike[str], base: Btf | None = None, *, lazy: bool | None = None) -> Btf:
    """The BTF in ``path``: an ELF object's ``.BTF`` or a raw blob.

    As bpftool does, a module's BTF under /sys/kernel/btf/ is read split on vmlinux
    unless ``base`` is given.  ``lazy`` defaults to True for blobs over 1 MiB.
    """
    data = read_bytes(path)
    if is_elf(data):
        data = elf_btf_sections(data, str(path)).btf
    text = str(path)
    if base is None and text.startswith(SYSFS_BTF) and text != VMLINUX:
        base = load_vmlinux()
    if lazy is None:
        lazy = len(data) > (1 << 20)
    return parse(data, base=base, lazy=lazy)


_VMLINUX_CACHE: dict[str, tuple[float, Btf]] = {}


def load_vmlinux(path: str = VMLINUX) -> Btf:
    """The running kernel's BTF, decoded lazily and kept for the process (per mtime)."""
    try:
        mtime = os.stat(path).st_mtime
    except OSError as exc:
        raise BpfError(exc.errno or errno.ENOENT, f"{path}: {exc.strerror}") from None
    cached = _VMLINUX_CACHE.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    btf = parse(read_bytes(path), lazy=True)
    _VMLINUX_CACHE[path] = (mtime, btf)
    return btf
