"""``parse``: a BTF blob (either byte order, base or split) into a :class:`Btf`."""

from __future__ import annotations

import errno

from ..errors import BpfError
from .btf import Btf
from .kinds import MAX_NAME_OFFSET
from .strings import StringTable
from .wire import read_header, scan_records, words_of


def _check_strings(data: bytes, split: bool) -> None:
    if split and not data:
        return
    if not data or len(data) - 1 > MAX_NAME_OFFSET or data[-1] != 0:
        raise BpfError(errno.EINVAL, "Invalid BTF string section")
    if not split and data[0] != 0:
        raise BpfError(errno.EINVAL, "Invalid BTF string section")


def parse(raw: bytes | bytearray | memoryview, base: Btf | None = None, *, lazy: bool = False) -> Btf:
    """Read a BTF blob as libbpf does.

    ``base`` makes it split BTF (a kernel module's, or one built on vmlinux).  With
    ``lazy``, records are only located now and decoded when first asked for (what
    makes vmlinux quick to open); otherwise every type is decoded, so bad names or
    truncated records raise here.  Structural errors raise ``BpfError(EINVAL)``.
    """
    raw = bytes(raw)
    hdr = read_header(raw)
    body = hdr.hdr_len
    types = raw[body + hdr.type_off : body + hdr.type_off + hdr.type_len]
    strs = raw[body + hdr.str_off : body + hdr.str_off + hdr.str_len]
    _check_strings(strs, base is not None)
    start = base.strings_end if base is not None else 0
    words = words_of(types, hdr.byte_order)
    offsets = scan_records(words)
    btf = Btf._from_records(words, offsets, StringTable(strs, start), base, hdr.byte_order)
    if not lazy:
        btf.decode_all()
        _check_ids(btf)
    return btf


def _check_ids(btf: Btf) -> None:
    from .types import referenced_ids

    n = len(btf)
    for type_id, t in btf.items():
        for ref in referenced_ids(t):
            if ref >= n:
                raise BpfError(errno.EINVAL, f"BTF type [{type_id}] refers to missing type id {ref}")
