"""A kernel object shown through its BTF type, as ``bpf_seq_printf_btf`` and
``bpf_snprintf_btf`` print it.

The text is the kernel's ``btf_show`` walk, reproduced step by step because its output
depends on the walk's state rather than on the type alone:

* every value is ``[indent][.member = ][(type)]value[,][newline]``; an aggregate opens
  with ``[indent][name]{`` (``[`` for an array) on its own line and closes with ``}``;
  the indent is one space a level and disappears, with the newlines, under
  ``BTF_F_COMPACT``; ``BTF_F_NONAME`` keeps only the opening bracket of the name;
* below the top level, zero scalars are left out unless ``BTF_F_ZERO``; a nested struct,
  union or array is first walked silently and shown only when some value in it would
  be printed (a named enum value counts as printed even when it is 0);
* array elements carry no name at all, not even the members of a struct element, until
  a nested array ends; an array of pointers or of arrays repeats its first element
  (the element size is only known for sized kinds); a byte array stops at its first
  NUL and shows printable bytes as characters;
* bitfields and 128-bit integers print in hex; pointers print hashed (``0x`` and 16
  digits, the first eight zero) unless ``BTF_F_PTR_RAW``; names are cut at 79 bytes.

Memory is read as the kernel reads it: 32-byte safe copies that advance as the walk
moves on, so that an unreadable part fails only the values it holds (``-ERANGE`` for a
user address, ``-EFAULT`` for an unmapped kernel one: the state of the last copy, which
the helpers return).
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from ...btf import Array, Btf, Enum, Int, Kind, Ptr, Struct, Union
from ...btf.types import Datasec, Enum64, Member, Var
from ...errors import MemoryFault
from ...memory import MEMORY

BTF_F_COMPACT = 1
BTF_F_NONAME = 2
BTF_F_PTR_RAW = 4
BTF_F_ZERO = 8
BTF_F_ALL = 0xF

SAFE_SIZE = 32
"""Bytes one safe copy holds."""
BASE_TYPE_SIZE = 16
"""The largest scalar: a copy must hold this much of what comes next."""
NAME_SIZE = 80
MAX_NAME_ITER = 10
MAX_INDENT = 32
_INT_SIGNED = 1
_INT_CHAR = 2
_QUALIFIERS = (Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG)
_MODIFIERS = (Kind.TYPEDEF, *_QUALIFIERS)
_SIZED = (Int, Struct, Union, Enum, Enum64, Datasec)

Emit = Callable[[bytes], object]

_HASH_KEY = os.urandom(16)
"""The boot's pointer-hashing key: hashed pointers differ from one run to the next."""


def hashed_pointer(value: int) -> int:
    """What ``%p`` prints for a pointer that is neither NULL nor an error: 32 bits of a
    keyed hash."""
    if value == 0 or value >= (1 << 64) - 4095:
        return value
    digest = hashlib.blake2b(value.to_bytes(8, "little"), key=_HASH_KEY, digest_size=4)
    return int.from_bytes(digest.digest(), "little")


KERNEL_HALF = 0xFFFF_8000_0000_0000
"""Where x86-64 kernel addresses start: ``copy_from_kernel_nofault`` refuses anything
below (user and non-canonical addresses) with ERANGE before trying to read."""


def fault_errno(addr: int) -> int:
    """The errno of a safe copy from ``addr`` that could not read (pybpf's own objects
    live at host addresses, so an address outside them is judged by its range alone)."""
    return errno.EFAULT if addr >= KERNEL_HALF else errno.ERANGE


@dataclass
class _State:
    depth: int = 0
    depth_to_show: int = 0
    depth_check: int = 0
    array_member: bool = False
    array_terminated: bool = False
    array_encoding: int = 0
    type_id: int = 0
    type_kind: Kind | None = None
    member: Member | None = None
    status: int = 0


class BtfShow:
    """One walk over an object: ``show(type_id, address)`` emits the text in pieces (one
    a ``printf`` of the kernel, which is what a ``seq_file`` overflows on)."""

    def __init__(self, btf: Btf, flags: int, emit: Emit) -> None:
        self.btf = btf
        self.flags = flags
        self.emit = emit
        self.st = _State()
        self.obj_size = 0
        self.obj_head = 0
        self.obj_data = 0
        self.safe = bytearray(SAFE_SIZE)

    # -- entry ----------------------------------------------------------------------------
    def show(self, type_id: int, addr: int) -> int:
        """Show the object; the walk's final status (0 or a negative errno)."""
        self.st = _State()
        self.obj_size = self.obj_head = self.obj_data = 0
        self.safe = bytearray(SAFE_SIZE)
        self._show(self.btf[type_id].kind, type_id, type_id, addr, 0)
        return self.st.status

    def _show(self, kind: Kind, tid: int, type_id: int, addr: int, bits_offset: int) -> None:
        """``ops->show`` of ``tid`` (whose kind is ``kind``), named as ``type_id``."""
        if kind in _MODIFIERS:
            real = self._skip(tid, _MODIFIERS)
            self._show(self.btf.kind(real) if real else Kind.UNKN, real, type_id, addr, bits_offset)
        elif kind == Kind.INT:
            self._int(tid, type_id, addr, bits_offset)
        elif kind == Kind.PTR:
            self._ptr(tid, type_id, addr)
        elif kind == Kind.ARRAY:
            self._aggregate(self._array, tid, type_id, addr, bits_offset)
        elif kind in (Kind.STRUCT, Kind.UNION):
            self._aggregate(self._struct, tid, type_id, addr, bits_offset)
        elif kind in (Kind.ENUM, Kind.ENUM64):
            self._enum(tid, type_id, addr)
        elif kind == Kind.VAR:
            var = self.btf[tid]
            assert isinstance(var, Var)
            real = self._skip(var.type, _MODIFIERS)
            self._show(self.btf.kind(real), real, real, addr, bits_offset)
        elif kind == Kind.DATASEC:
            self._datasec(tid, type_id, addr, bits_offset)
        else:
            self._print(f"<unsupported kind:{int(kind)}>".encode())

    # -- helpers --------------------------------------------------------------------------
    def _skip(self, tid: int, kinds: tuple[Kind, ...]) -> int:
        for _ in range(64):
            if not tid or self.btf.kind(tid) not in kinds:
                return tid
            tid = int(getattr(self.btf[tid], "type", 0))
        return tid

    def _size(self, tid: int) -> int | None:
        """``btf_resolve_size``; None where the kernel fails (-EINVAL)."""
        nelems = 1
        for _ in range(64):
            if not tid:
                return None
            t = self.btf[tid]
            if isinstance(t, _SIZED):
                return nelems * t.size
            if isinstance(t, Ptr):
                return nelems * 8
            if t.kind in _MODIFIERS:
                tid = int(getattr(t, "type", 0))
            elif isinstance(t, Array):
                nelems *= t.nelems
                tid = t.type
            else:
                return None
        return None

    def _print(self, text: bytes) -> None:
        if not self.st.depth_check:
            self.emit(text)

    def _indent(self) -> bytes:
        if self.flags & BTF_F_COMPACT:
            return b""
        return b" " * min(self.st.depth, MAX_INDENT)

    def _newline(self) -> bytes:
        return b"" if self.flags & BTF_F_COMPACT else b"\n"

    def _delim(self) -> bytes:
        if self.st.depth == 0:
            return b""
        if self.flags & BTF_F_COMPACT and self.st.type_kind == Kind.UNION:
            return b"|"
        return b","

    def _value(self, text: bytes, nonzero: bool) -> None:
        """``btf_show_type_value``: a zero value is left out below the top level."""
        if nonzero or self.flags & BTF_F_ZERO or self.st.depth == 0:
            self._values(text)

    def _values(self, text: bytes) -> None:
        self._print(self._indent() + self._name() + text + self._delim() + self._newline())
        if self.st.depth > self.st.depth_to_show:
            self.st.depth_to_show = self.st.depth

    def _name(self) -> bytes:
        """``[.member = ](type)`` of what is being shown (the type as written, typedef
        names kept, with its ``*`` and ``[]``), and the bracket an aggregate opens."""
        st = self.st
        if st.array_member:
            return b""
        btf = self.btf
        member = ""
        tid = st.type_id
        if st.member is not None:
            member = st.member.name
            tid = st.member.type
        if not tid:
            return b""
        t = btf[tid]
        name: str | None = None
        parens = ""
        nptr = narr = 0
        seen_typedef = seen_array = seen_ptr = False
        for _ in range(MAX_NAME_ITER):
            kind = t.kind
            if kind == Kind.TYPEDEF:
                if name is None:
                    name = t.name
                seen_typedef = True
                tid = int(getattr(t, "type", 0))
            elif isinstance(t, Array):
                seen_array = True
                parens = "["
                narr = min(narr + 1, MAX_NAME_ITER)
                tid = t.type
            elif isinstance(t, Ptr):
                seen_ptr = True
                nptr = min(nptr + 1, MAX_NAME_ITER)
                tid = t.type
            else:
                tid = 0
            if not tid:
                break
            t = btf[self._skip(tid, _QUALIFIERS)]
        else:
            return b""
        if name is None:
            name = str(getattr(t, "name", ""))
        prefix = ""
        if isinstance(t, Struct | Union):
            prefix = "struct" if isinstance(t, Struct) else "union"
            if not seen_array:
                parens = "{"
        elif isinstance(t, Enum | Enum64):
            prefix = "enum"
        if seen_ptr:
            parens = ""
        if seen_typedef:
            prefix = ""
        if self.flags & BTF_F_NONAME:
            text = parens
        else:
            text = (
                (f".{member} = " if member else "")
                + "(" + prefix + (" " if prefix and name else "") + name
                + (" " if nptr else "") + "*" * nptr + "[]" * narr + ")" + parens
            )  # fmt: skip
        return text.encode("latin-1")[: NAME_SIZE - 1]

    # -- safe copies --------------------------------------------------------------------
    def _safe(self, tid: int, addr: int) -> int | None:
        """``btf_show_obj_safe``: the offset in the safe copy where ``addr``'s bytes are
        (copying anew when they are not there); None when the copy faults."""
        size = self._size(tid)
        if size is None:
            self.st.status = -errno.EINVAL
            return None
        safe: int | None = None
        if self.st.depth == 0:
            self.obj_size = size
            self.obj_head = addr
        else:
            need = min(size, BASE_TYPE_SIZE)
            if addr >= self.obj_data and addr + need < self.obj_data + SAFE_SIZE:
                safe = addr - self.obj_data
        if safe is None:
            left = min(self.obj_head + self.obj_size - addr, SAFE_SIZE)
            try:
                data = MEMORY.read(addr, left) if left > 0 else b""
            except MemoryFault:
                self.st.status = -fault_errno(addr)
                return None
            self.st.status = 0
            self.safe[: len(data)] = data
            self.obj_data = addr
            safe = 0
        return safe

    def _start(self, tid: int, type_id: int, addr: int) -> int | None:
        self.st.type_kind = self.btf.kind(tid)
        self.st.type_id = type_id
        return self._safe(tid, addr)

    def _end(self) -> None:
        self.st.type_kind = None
        self.st.type_id = 0

    def _bytes(self, off: int, size: int) -> bytes:
        return bytes(self.safe[off : off + size]).ljust(size, b"\0")

    # -- scalars --------------------------------------------------------------------------
    def _int(self, tid: int, type_id: int, addr: int, bits_offset: int) -> None:
        t = self.btf[tid]
        assert isinstance(t, Int)
        off = self._start(tid, type_id, addr)
        if off is None:
            return
        nbits = t.bits
        if bits_offset or t.offset or nbits % 8:
            self._int_bits(t, off, bits_offset)
        elif nbits in (16, 32, 64):
            raw = int.from_bytes(self._bytes(off, nbits // 8), "little")
            if t.signed and raw >> (nbits - 1):
                raw -= 1 << nbits
            self._value(str(raw).encode(), raw != 0)
        elif nbits == 128:
            self._int128(int.from_bytes(self._bytes(off, 16), "little"))
        elif nbits == 8:
            self._byte(t, off, addr)
        else:
            self._int_bits(t, off, bits_offset)
        self._end()

    def _byte(self, t: Int, off: int, addr: int) -> None:
        st = self.st
        raw = self.safe[off] if off < SAFE_SIZE else 0
        if st.array_encoding == _INT_CHAR:
            if st.array_terminated:
                return
            if raw == 0:
                st.array_terminated = True
                return
            if 0x20 <= raw < 0x7F or raw >= 0xA0:
                self._value(b"'" + bytes([raw]) + b"'", True)
                return
        value = raw - 256 if t.signed and raw >= 0x80 else raw
        self._value(str(value).encode(), value != 0)

    def _int_bits(self, t: Int, off: int, bits_offset: int) -> None:
        total = bits_offset + t.offset
        off += total // 8
        self._bitfield(off, total % 8, t.bits)

    def _bitfield(self, off: int, bits_offset: int, nbits: int) -> None:
        nbytes = (nbits + bits_offset + 7) // 8
        raw = int.from_bytes(self._bytes(off, nbytes), "little")
        self._int128((raw >> bits_offset) & ((1 << nbits) - 1))

    def _int128(self, value: int) -> None:
        upper, lower = value >> 64, value & ((1 << 64) - 1)
        if upper == 0:
            self._value(f"0x{lower:x}".encode(), lower != 0)
        else:
            self._values(f"0x{upper:x}{lower:016x}".encode())

    def _ptr(self, tid: int, type_id: int, addr: int) -> None:
        off = self._start(tid, type_id, addr)
        if off is None:
            return
        value = int.from_bytes(self._bytes(off, 8), "little")
        shown = value if self.flags & BTF_F_PTR_RAW else hashed_pointer(value)
        self._value(f"0x{shown:016x}".encode(), value != 0)
        self._end()

    def _enum(self, tid: int, type_id: int, addr: int) -> None:
        t = self.btf[tid]
        assert isinstance(t, Enum | Enum64)
        off = self._start(tid, type_id, addr)
        if off is None:
            return
        width = 64 if isinstance(t, Enum64) else 32
        mask = (1 << width) - 1
        raw = int.from_bytes(self._bytes(off, width // 8), "little")
        for v in t.values:
            if v.value & mask == raw:
                self._value(v.name.encode("latin-1"), True)
                self._end()
                return
        value = raw - (1 << width) if t.signed and raw >> (width - 1) else raw
        self._value(str(value).encode(), value != 0)
        self._end()

    # -- aggregates -----------------------------------------------------------------------
    def _aggregate(self, body: Callable[[int, int, int, int], None], tid: int, type_id: int,
                   addr: int, bits_offset: int) -> None:  # fmt: skip
        """Below the top level (and without ``BTF_F_ZERO``), walk silently first and
        show only if something in it would be printed."""
        st = self.st
        if st.depth > 0 and not self.flags & BTF_F_ZERO:
            saved = st.member
            if not st.depth_check:
                st.depth_check = st.depth + 1
                st.depth_to_show = 0
            body(tid, type_id, addr, bits_offset)
            st.member = saved
            if st.depth_check != st.depth + 1:
                return
            st.depth_check = 0
            if st.depth_to_show <= st.depth:
                return
        body(tid, type_id, addr, bits_offset)

    def _open(self, tid: int, type_id: int, addr: int) -> int | None:
        off = self._start(tid, type_id, addr)
        if off is None:
            return None
        self._print(self._indent() + self._name() + self._newline())
        self.st.depth += 1
        return off

    def _close(self, suffix: bytes) -> None:
        self.st.depth -= 1
        self._print(self._indent() + suffix + self._delim() + self._newline())
        self._end()

    def _struct(self, tid: int, type_id: int, addr: int, bits_offset: int) -> None:
        t = self.btf[tid]
        assert isinstance(t, Struct | Union)
        if self._open(tid, type_id, addr) is None:
            return
        for m in t.members:
            self.st.member = m
            byte_off, bit8 = m.offset // 8, m.offset % 8
            mtype = self.btf[m.type] if m.type else None
            if t.kflag and m.bitfield_size:
                off = self._start(m.type, m.type, addr + byte_off)
                if off is not None:
                    self._bitfield(off, bit8, m.bitfield_size)
                self._end()
            else:
                kind = mtype.kind if mtype is not None else Kind.UNKN
                self._show(kind, m.type, m.type, addr + byte_off, bit8)
            self.st.member = None
        self._close(b"}")

    def _array(self, tid: int, type_id: int, addr: int, bits_offset: int) -> None:
        t = self.btf[tid]
        assert isinstance(t, Array)
        st = self.st
        elem_id = self._skip(t.type, _MODIFIERS)
        elem = self.btf[elem_id] if elem_id else None
        elem_size = elem.size if isinstance(elem, _SIZED) else 0
        encoding = 0
        if isinstance(elem, Int):
            encoding = _INT_CHAR if elem_size == 1 else int(elem.encoding)
        st.array_encoding = encoding
        st.array_terminated = False
        if self._open(tid, type_id, addr) is None:
            return
        if elem is not None:
            for _ in range(t.nelems):
                st.array_member = True
                st.member = None
                self._show(elem.kind, elem_id, t.type, addr, bits_offset)
                addr += elem_size
                st.array_member = False
                st.member = None
                if st.array_terminated:
                    break
        st.array_encoding = 0
        st.array_terminated = False
        self._close(b"]")

    def _datasec(self, tid: int, type_id: int, addr: int, bits_offset: int) -> None:
        t = self.btf[tid]
        assert isinstance(t, Datasec)
        if self._start(tid, type_id, addr) is None:
            return
        self._value(f'section ("{t.name}") = {{'.encode("latin-1"), True)
        for i, v in enumerate(t.vars):
            if i:
                self._print(b",")
            self._show(self.btf.kind(v.type), v.type, v.type, addr + v.offset, bits_offset)
        self._end()


def check_btf_ptr(type_id: int, nr_types: int) -> int:
    """``bpf_btf_printf_prepare``'s answer for a ``btf_ptr``'s type id: 0, -EINVAL for
    none, -ENOENT for one the kernel BTF does not have."""
    if type_id == 0:
        return -errno.EINVAL
    if type_id >= 1 << 31 or type_id >= nr_types:
        return -errno.ENOENT
    return 0


def show_btf(btf: Btf, type_id: int, addr: int, flags: int, emit: Emit) -> int:
    """Show the object at ``addr`` of ``btf``'s type ``type_id``; the status."""
    return BtfShow(btf, flags, emit).show(type_id, addr)


def show_btf_value(type_id: int, ptr: int, flags: int) -> str | None:
    """The whole text for the object at ``ptr`` of kernel BTF type ``type_id`` (None: no
    such type)."""
    from ..vmlinux import kernel_btf

    btf = kernel_btf()
    if check_btf_ptr(type_id, len(btf)):
        return None
    parts: list[bytes] = []
    show_btf(btf, type_id, ptr, flags, parts.append)
    return b"".join(parts).decode("latin-1")
