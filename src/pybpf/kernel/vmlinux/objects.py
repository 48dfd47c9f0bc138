"""Kernel objects in pybpf's memory, laid out by the kernel BTF.

A task, a socket or a test object that a program reaches through a ``PTR_TO_BTF_ID``
register is a :class:`KObject`: a :class:`~pybpf.memory.Region` of kind ``KERNEL``
whose bytes follow its struct's BTF layout, so that a load the verifier allowed at
``offsetof(struct task_struct, pid)`` reads the pid.  Python code (the simulated
subsystems, tests) reads and writes the same bytes by field name through a
:class:`KStruct` view::

    task = alloc_object("task_struct", pid=42, tgid=42, comm="init")
    task["pid"]                      # 42
    task["thread_info.cpu"] = 1      # dotted paths, [i] for array elements
    task.address, task.type_id       # what a PTR_TO_BTF_ID register holds

Field paths follow C: ``a.b[2].c``, anonymous structs and unions are looked through.
Values are ints (signed as the BTF says; bitfields included), addresses for pointers
(a :class:`KStruct` or None is accepted when setting), ``bytes`` for ``char``/``u8``
arrays (``str`` accepted, zero-padded), lists for other arrays, and a nested
:class:`KStruct` view for struct members.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import TracebackType
from typing import Any

from ...btf import Array, Btf, Enum, Enum64, Int, Ptr, Struct, Union, find_member, resolve_size
from ...btf.resolve import skip_modifiers
from ...errors import BpfError
from ...memory import MEMORY, Region, RegionKind, allocate, release
from .build import kernel_btf, struct_id

_STEP = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]|\.")


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """Where a field is, from the start of the type it was looked up in.

    ``byte_offset``/``byte_size`` cover the field (for a bitfield: the smallest
    naturally sized unit that holds it); ``bit_offset``/``bit_size`` are exact.
    ``type_id`` is the field's type as declared (modifiers kept).
    """

    path: str
    byte_offset: int
    byte_size: int
    bit_offset: int
    bit_size: int
    type_id: int
    bitfield: bool


def _resolve_type(type_: str | int) -> int:
    if isinstance(type_, int):
        return type_
    try:
        return struct_id(type_)
    except BpfError:
        from .build import type_id

        return type_id(type_, "union")


def _steps(path: str) -> list[str | int]:
    out: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            raise BpfError(errno.EINVAL, f"bad field path {path!r}")
        if m.group(1):
            out.append(m.group(1))
        elif m.group(2):
            out.append(int(m.group(2)))
        pos = m.end()
    if not out or not isinstance(out[0], str):
        raise BpfError(errno.EINVAL, f"bad field path {path!r}")
    return out


@cache
def field_info(type_: str | int, path: str) -> FieldInfo:
    """Where ``path`` lies in the kernel type ``type_`` (a struct/union name or id)."""
    btf = kernel_btf()
    root = _resolve_type(type_)
    tid = root
    bit = 0
    bit_size = 0
    is_bits = False
    for step in _steps(path):
        under = btf[skip_modifiers(btf, tid)]
        if isinstance(step, str):
            if not isinstance(under, Struct | Union):
                raise BpfError(
                    errno.EINVAL, f"{btf[root].name}.{path}: {step!r} is not in a struct or union"
                )
            ref = find_member(btf, tid, step)
            if ref is None:
                raise BpfError(errno.ENOENT, f"struct {btf[root].name} has no member {path}")
            bit += ref.bit_offset
            tid = ref.member.type
            is_bits = bool(ref.member.bitfield_size)
            bit_size = ref.member.bitfield_size or resolve_size(btf, tid) * 8
        else:
            if not isinstance(under, Array):
                raise BpfError(
                    errno.EINVAL, f"{btf[root].name}.{path}: [{step}] of something not an array"
                )
            if step >= under.nelems:
                raise BpfError(
                    errno.ERANGE,
                    f"{btf[root].name}.{path}: index {step} past {under.nelems} elements",
                )
            esize = resolve_size(btf, under.type)
            bit += step * esize * 8
            tid = under.type
            is_bits = False
            bit_size = esize * 8
    if not is_bits:
        return FieldInfo(path, bit // 8, bit_size // 8, bit, bit_size, tid, False)
    unit = resolve_size(btf, tid)
    byte_off = bit // 8 // unit * unit
    while bit + bit_size - byte_off * 8 > unit * 8:
        unit *= 2
        byte_off = bit // 8 // unit * unit
    return FieldInfo(path, byte_off, unit, bit, bit_size, tid, True)


def offsetof(type_: str | int, path: str) -> int:
    """``offsetof(struct type_, path)`` in pybpf's layout (EINVAL for a bitfield)."""
    info = field_info(type_, path)
    if info.bitfield:
        raise BpfError(errno.EINVAL, f"{path} is a bitfield")
    return info.byte_offset


def sizeof(type_: str | int) -> int:
    return resolve_size(kernel_btf(), _resolve_type(type_))


# ---------------------------------------------------------------------------------------


def _address_of(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, KStruct):
        return value.address
    addr = getattr(value, "address", value)
    if not isinstance(addr, int):
        raise BpfError(errno.EINVAL, f"cannot store {value!r} in a pointer field")
    return addr


class KStruct:
    """A typed view of kernel-BTF-laid-out bytes: a region, an offset and a type."""

    __slots__ = ("offset", "region", "type_id")

    def __init__(self, region: Region, type_: str | int, offset: int = 0) -> None:
        tid = _resolve_type(type_)
        size = resolve_size(kernel_btf(), tid)
        if offset < 0 or offset + size > region.size:
            raise BpfError(errno.EINVAL, f"{kernel_btf()[tid].name or 'type'} of {size} bytes does "
                           f"not fit at offset {offset} of {region!r}")  # fmt: skip
        self.region = region
        self.offset = offset
        self.type_id = tid

    # -- identity ----------------------------------------------------------------------
    @property
    def btf(self) -> Btf:
        return kernel_btf()

    @property
    def address(self) -> int:
        """The object's address: what a ``PTR_TO_BTF_ID`` register holds."""
        return self.region.base + self.offset

    @property
    def type_name(self) -> str:
        return self.btf[self.type_id].name

    @property
    def size(self) -> int:
        return resolve_size(self.btf, self.type_id)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.type_name or '<anon>'} at 0x{self.address:x}>"

    def raw(self) -> bytes:
        return bytes(self.region.buf[self.offset : self.offset + self.size])

    # -- fields ------------------------------------------------------------------------
    def info(self, path: str) -> FieldInfo:
        return field_info(self.type_id, path)

    def view(self, path: str) -> KStruct:
        """The struct or union member at ``path`` as a view of its own."""
        info = self.info(path)
        inner = skip_modifiers(self.btf, info.type_id)
        if not isinstance(self.btf[inner], Struct | Union):
            raise BpfError(errno.EINVAL, f"{self.type_name}.{path} is not a struct or union")
        return KStruct(self.region, inner, self.offset + info.byte_offset)

    def cast(self, type_: str | int) -> KStruct:
        """The same address seen as another type (``tcp_sk(sk)``)."""
        return KStruct(self.region, type_, self.offset)

    def __getitem__(self, path: str) -> Any:
        return self.get(path)

    def __setitem__(self, path: str, value: Any) -> None:
        self.set(path, value)

    def get(self, path: str) -> Any:
        info = self.info(path)
        return self._read(info.type_id, self.offset + info.byte_offset, info)

    def get_str(self, path: str) -> str:
        """A ``char`` array's text, up to its first NUL."""
        raw = self.get(path)
        if not isinstance(raw, bytes):
            raise BpfError(errno.EINVAL, f"{self.type_name}.{path} is not a char array")
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")

    def set(self, path: str, value: Any) -> None:
        info = self.info(path)
        self._write(info.type_id, self.offset + info.byte_offset, info, value, path)

    def update(self, values: Mapping[str, Any] | None = None, **fields: Any) -> KStruct:
        """Set several fields at once; returns self."""
        for path, value in {**(values or {}), **fields}.items():
            self.set(path, value)
        return self

    def follow(self, path: str) -> KObject | None:
        """The kernel object a pointer field points at (None for NULL or a foreign
        address)."""
        return object_at(self.get(path))

    # -- value codec -------------------------------------------------------------------
    def _scalar(self, tid: int) -> tuple[int, bool] | None:
        """(size, signed) for an integer-like type, None otherwise."""
        t = self.btf[skip_modifiers(self.btf, tid)]
        if isinstance(t, Int):
            return t.size, t.signed
        if isinstance(t, Enum | Enum64):
            return t.size, t.signed
        if isinstance(t, Ptr):
            return 8, False
        return None

    def _read(self, tid: int, off: int, info: FieldInfo | None) -> Any:
        buf = self.region.buf
        if info is not None and info.bitfield:
            word = int.from_bytes(buf[off : off + info.byte_size], "little")
            value = (word >> (info.bit_offset - (info.byte_offset * 8))) & (
                (1 << info.bit_size) - 1
            )
            sc = self._scalar(tid)
            if sc is not None and sc[1] and value >> (info.bit_size - 1):
                value -= 1 << info.bit_size
            return value
        sc = self._scalar(tid)
        if sc is not None:
            return int.from_bytes(buf[off : off + sc[0]], "little", signed=sc[1])
        t = self.btf[skip_modifiers(self.btf, tid)]
        if isinstance(t, Array):
            esize = resolve_size(self.btf, t.type)
            elem = self.btf[skip_modifiers(self.btf, t.type)]
            if isinstance(elem, Int) and elem.size == 1:
                return bytes(buf[off : off + t.nelems])
            return [self._read(t.type, off + i * esize, None) for i in range(t.nelems)]
        if isinstance(t, Struct | Union):
            return KStruct(self.region, skip_modifiers(self.btf, tid), off)
        raise BpfError(errno.EINVAL, f"cannot read a {t.kind.label} field")

    def _write(self, tid: int, off: int, info: FieldInfo | None, value: Any, path: str) -> None:
        buf = self.region.buf
        if info is not None and info.bitfield:
            mask = (1 << info.bit_size) - 1
            shift = info.bit_offset - info.byte_offset * 8
            word = int.from_bytes(buf[off : off + info.byte_size], "little")
            word = (word & ~(mask << shift)) | ((int(value) & mask) << shift)
            buf[off : off + info.byte_size] = word.to_bytes(info.byte_size, "little")
            return
        sc = self._scalar(tid)
        t = self.btf[skip_modifiers(self.btf, tid)]
        if sc is not None:
            raw = _address_of(value) if isinstance(t, Ptr) else int(value)
            buf[off : off + sc[0]] = (raw & ((1 << (8 * sc[0])) - 1)).to_bytes(sc[0], "little")
            return
        if isinstance(t, Array):
            esize = resolve_size(self.btf, t.type)
            elem = self.btf[skip_modifiers(self.btf, t.type)]
            if (
                isinstance(elem, Int)
                and elem.size == 1
                and isinstance(value, str | bytes | bytearray)
            ):
                data = value.encode() if isinstance(value, str) else bytes(value)
                if len(data) > t.nelems:
                    raise BpfError(
                        errno.E2BIG, f"{path}: {len(data)} bytes do not fit in {t.nelems}"
                    )
                buf[off : off + t.nelems] = data.ljust(t.nelems, b"\0")
                return
            if not isinstance(value, Sequence) or len(value) > t.nelems:
                raise BpfError(errno.EINVAL, f"{path}: expected at most {t.nelems} elements")
            for i, v in enumerate(value):
                self._write(t.type, off + i * esize, None, v, f"{path}[{i}]")
            return
        if isinstance(t, Struct | Union):
            if isinstance(value, KStruct):
                buf[off : off + t.size] = value.raw()[: t.size].ljust(t.size, b"\0")
            elif isinstance(value, bytes | bytearray):
                buf[off : off + t.size] = bytes(value)[: t.size].ljust(t.size, b"\0")
            elif isinstance(value, Mapping):
                KStruct(self.region, skip_modifiers(self.btf, tid), off).update(value)
            else:
                raise BpfError(
                    errno.EINVAL, f"{path}: cannot store {type(value).__name__} in a struct"
                )
            return
        raise BpfError(errno.EINVAL, f"{path}: cannot write a {t.kind.label} field")


class KObject(KStruct):
    """A kernel object that owns its region (released by :meth:`free`); ``owner`` is
    whatever the subsystem that made it wants to find again from its address."""

    __slots__ = ("owner",)

    def __init__(
        self, region: Region, type_: str | int, offset: int = 0, owner: object = None
    ) -> None:
        super().__init__(region, type_, offset)
        self.owner = owner

    @property
    def alive(self) -> bool:
        return MEMORY.find(self.region.base, 1) is self.region

    def free(self) -> None:
        """Give the memory back; the object's address then faults."""
        release(self.region)

    def __enter__(self) -> KObject:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.free()


def alloc_object(type_: str | int, *, extra: int = 0, name: str = "", writable: bool = True,
                 owner: object = None, **fields: Any) -> KObject:  # fmt: skip
    """A zeroed kernel object of the struct ``type_`` (with ``extra`` bytes after it
    for a flexible array member), registered in pybpf's memory, fields set from
    keyword arguments.  ``owner`` is kept on the object for the subsystem that made it.
    """
    tid = _resolve_type(type_)
    size = resolve_size(kernel_btf(), tid) + max(extra, 0)
    region = allocate(size, RegionKind.KERNEL, name or kernel_btf()[tid].name, writable)
    obj = KObject(region, tid, owner=owner)
    region.owner = obj
    try:
        obj.update(fields)
    except BpfError:
        release(region)
        raise
    return obj


def object_at(address: int) -> KObject | None:
    """The live kernel object whose region holds ``address`` (None if there is none)."""
    if not address:
        return None
    region = MEMORY.find(address, 1)
    if region is None or region.kind is not RegionKind.KERNEL:
        return None
    owner = region.owner
    return owner if isinstance(owner, KObject) else None


def view(region: Region, type_: str | int, offset: int = 0) -> KStruct:
    """A typed view of any region's bytes (a map's ``struct bpf_map`` object, a
    struct_ops value) without owning it."""
    return KStruct(region, type_, offset)
