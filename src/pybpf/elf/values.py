"""Global variables as Python values: decode and encode bytes by their BTF type.

Integers (signed as their encoding says; ``_Bool`` as ``bool``), enums and pointers are
``int``; ``float``/``double`` are ``float``; ``char`` arrays are ``bytes``; other arrays
are lists; structs and unions are dicts by member name.  Without BTF a variable of 1, 2,
4 or 8 bytes reads as an unsigned ``int`` and anything else as ``bytes``.
"""

from __future__ import annotations

import errno
import struct
from typing import Any

from ..btf import Array, Btf, Enum, Enum64, Float, Int, IntEncoding, Ptr, Struct, Union
from ..errors import BpfError
from .btfview import resolve_size, skip_modifiers

_MAX_DEPTH = 16


def _is_char(btf: Btf, type_id: int) -> bool:
    t = btf[skip_modifiers(btf, type_id)]
    return isinstance(t, Int) and t.size == 1 and not t.encoding & IntEncoding.BOOL


def decode_value(btf: Btf | None, type_id: int, raw: bytes, depth: int = 0) -> Any:
    if btf is None or type_id == 0:
        if len(raw) in (1, 2, 4, 8):
            return int.from_bytes(raw, "little")
        return bytes(raw)
    if depth > _MAX_DEPTH:
        return bytes(raw)
    t = btf[skip_modifiers(btf, type_id)]
    if isinstance(t, Int):
        if t.encoding & IntEncoding.BOOL:
            return raw[0] != 0
        if t.bits != t.size * 8 or t.offset:
            v = int.from_bytes(raw, "little") >> t.offset & ((1 << t.bits) - 1)
            if t.encoding & IntEncoding.SIGNED and v >> (t.bits - 1):
                v -= 1 << t.bits
            return v
        return int.from_bytes(raw, "little", signed=bool(t.encoding & IntEncoding.SIGNED))
    if isinstance(t, Enum | Enum64):
        return int.from_bytes(raw[: t.size], "little", signed=t.signed)
    if isinstance(t, Ptr):
        return int.from_bytes(raw[:8], "little")
    if isinstance(t, Float):
        if t.size == 4:
            return struct.unpack("<f", raw[:4])[0]
        if t.size == 8:
            return struct.unpack("<d", raw[:8])[0]
        return bytes(raw)
    if isinstance(t, Array):
        if _is_char(btf, t.type):
            return bytes(raw)
        size = resolve_size(btf, t.type) if t.nelems else 0
        return [decode_value(btf, t.type, raw[i * size : (i + 1) * size], depth + 1)
                for i in range(t.nelems)]  # fmt: skip
    if isinstance(t, Struct | Union):
        out: dict[str, Any] = {}
        for n, m in enumerate(t.members):
            name = m.name or f"_{n}"
            if m.bitfield_size:
                whole = int.from_bytes(raw, "little")
                v = whole >> m.offset & ((1 << m.bitfield_size) - 1)
                mt = btf[skip_modifiers(btf, m.type)]
                if isinstance(mt, Int) and mt.signed and v >> (m.bitfield_size - 1):
                    v -= 1 << m.bitfield_size
                out[name] = v
                continue
            size = resolve_size(btf, m.type)
            off = m.offset // 8
            out[name] = decode_value(btf, m.type, raw[off : off + size], depth + 1)
        return out
    return bytes(raw)


def _bad(name: str, why: str) -> BpfError:
    return BpfError(errno.EINVAL, f"cannot set {name}: {why}")


def encode_value(btf: Btf | None, type_id: int, value: Any, size: int, name: str,
                 current: bytes | None = None, depth: int = 0) -> bytes:  # fmt: skip
    """The ``size`` bytes for ``value``; ``current`` fills what a partial dict leaves."""
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        if len(data) > size:
            raise _bad(name, f"{len(data)} bytes do not fit in {size}")
        return data.ljust(size, b"\0")
    if btf is None or type_id == 0:
        if isinstance(value, bool | int):
            return _int_bytes(int(value), size, False, name)
        raise _bad(name, f"expected an int or bytes, not {type(value).__name__}")
    if depth > _MAX_DEPTH:
        raise _bad(name, "type nests too deeply")
    t = btf[skip_modifiers(btf, type_id)]
    if isinstance(t, Int | Enum | Enum64 | Ptr):
        if isinstance(value, str) and isinstance(t, Enum | Enum64):
            match = [v.value for v in t.values if v.name == value]
            if not match:
                raise _bad(name, f"{value!r} is not a value of enum {t.name or '(anon)'}")
            value = match[0]
        if not isinstance(value, bool | int):
            raise _bad(name, f"expected an int, not {type(value).__name__}")
        signed = (isinstance(t, Int) and bool(t.encoding & IntEncoding.SIGNED)) or \
            (isinstance(t, Enum | Enum64) and t.signed)  # fmt: skip
        return _int_bytes(int(value), size, signed, name)
    if isinstance(t, Float):
        if not isinstance(value, int | float):
            raise _bad(name, f"expected a number, not {type(value).__name__}")
        return struct.pack("<f" if t.size == 4 else "<d", float(value)).ljust(size, b"\0")
    if isinstance(t, Array):
        if isinstance(value, str) and _is_char(btf, t.type):
            data = value.encode()
            if len(data) > size:
                raise _bad(name, f"{len(data)} bytes do not fit in {size}")
            return data.ljust(size, b"\0")
        if not isinstance(value, list | tuple):
            raise _bad(name, f"expected a list, not {type(value).__name__}")
        if len(value) > t.nelems:
            raise _bad(name, f"{len(value)} elements do not fit in {t.nelems}")
        elem = resolve_size(btf, t.type) if t.nelems else 0
        cur = current or bytes(size)
        parts = [encode_value(btf, t.type, v, elem, f"{name}[{i}]", cur[i * elem : (i + 1) * elem],
                              depth + 1) for i, v in enumerate(value)]  # fmt: skip
        data = b"".join(parts)
        return data + cur[len(data) :]
    if isinstance(t, Struct | Union):
        if not isinstance(value, dict):
            raise _bad(name, f"expected a dict, not {type(value).__name__}")
        buf = bytearray(current or bytes(size))
        members = {m.name or f"_{n}": m for n, m in enumerate(t.members)}
        for key, v in value.items():
            m = members.get(key)
            if m is None:
                raise _bad(name, f"{t.name or 'the struct'} has no member {key!r}")
            if m.bitfield_size:
                if not isinstance(v, int):
                    raise _bad(f"{name}.{key}", "expected an int")
                mask = (1 << m.bitfield_size) - 1
                whole = int.from_bytes(buf, "little")
                whole = whole & ~(mask << m.offset) | (v & mask) << m.offset
                buf[:] = whole.to_bytes(len(buf), "little")
                continue
            msize = resolve_size(btf, m.type)
            off = m.offset // 8
            buf[off : off + msize] = encode_value(btf, m.type, v, msize, f"{name}.{key}",
                                                  bytes(buf[off : off + msize]), depth + 1)
        return bytes(buf)
    raise _bad(name, f"values of kind {t.kind.label} cannot be set")


def _int_bytes(v: int, size: int, signed: bool, name: str) -> bytes:
    """Two's complement in ``size`` bytes; any value of either signedness that fits."""
    bits = size * 8
    lo = -(1 << (bits - 1))
    hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    if not lo <= v <= max(hi, (1 << bits) - 1):
        raise _bad(name, f"{v} does not fit in {size} bytes")
    return (v & ((1 << bits) - 1)).to_bytes(size, "little")
