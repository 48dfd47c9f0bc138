"""A value shown through its kernel BTF type, as ``bpf_seq_printf_btf`` prints it.

The shape follows the kernel's ``btf_show``: ``(type)value`` for a scalar,
``(struct s){.a = (int)1,.b = ...,}`` for an aggregate, members that are zero left out
unless ``BTF_F_ZERO``, type names left out with ``BTF_F_NONAME``, everything on one line
with ``BTF_F_COMPACT`` (else one member a line, indented by depth with tabs).
Pointers are shown raw (the kernel hashes them unless ``BTF_F_PTR_RAW``, which no test
can compare anyway).
"""

from __future__ import annotations

from ...btf import Array, Btf, Enum, Int, Kind, Ptr, Struct, Union
from ...btf.resolve import resolve_size
from ...errors import MemoryFault
from ...memory import MEMORY

BTF_F_COMPACT = 1
BTF_F_NONAME = 2
BTF_F_PTR_RAW = 4
BTF_F_ZERO = 8
_MODIFIERS = (Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG)


def _strip(btf: Btf, tid: int) -> int:
    while tid and btf[tid].kind in _MODIFIERS:
        tid = int(getattr(btf[tid], "type", 0))
    return tid


def _type_name(btf: Btf, tid: int) -> str:
    if tid == 0:
        return "void"
    t = btf[tid]
    if isinstance(t, Ptr):
        return _type_name(btf, t.type) + " *"
    if isinstance(t, Struct):
        return f"struct {t.name}"
    if isinstance(t, Union):
        return f"union {t.name}"
    if isinstance(t, Enum):
        return f"enum {t.name}"
    if t.kind in (Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG):
        return _type_name(btf, int(getattr(t, "type", 0)))
    if isinstance(t, Array):
        return _type_name(btf, t.type) + f"[{t.nelems}]"
    return str(getattr(t, "name", "")) or "?"


class _Shower:
    def __init__(self, btf: Btf, flags: int) -> None:
        self.btf = btf
        self.flags = flags

    def _nl(self, depth: int) -> str:
        return "" if self.flags & BTF_F_COMPACT else "\n" + "\t" * depth

    def value(self, tid: int, data: bytes, depth: int, top: bool, named: bool = True) -> str | None:
        """The value's text, or None for a zero value a caller may leave out (array
        elements are shown without their type's name)."""
        btf = self.btf
        real = _strip(btf, tid)
        t = btf[real] if real else None
        prefix = "" if self.flags & BTF_F_NONAME or not named else f"({_type_name(btf, tid)})"
        zero_ok = top or bool(self.flags & BTF_F_ZERO)
        if isinstance(t, Int):
            raw = int.from_bytes(data[: t.size], "little")
            if not raw and not zero_ok:
                return None
            if t.signed and raw >> (t.size * 8 - 1):
                raw -= 1 << (t.size * 8)
            return f"{prefix}{raw}"
        if isinstance(t, Enum):
            raw = int.from_bytes(data[: t.size], "little")
            if not raw and not zero_ok:
                return None
            names = {v.value: v.name for v in t.values}
            return f"{prefix}{names.get(raw, raw)}"
        if isinstance(t, Ptr):
            raw = int.from_bytes(data[:8], "little")
            if not raw and not zero_ok:
                return None
            return f"{prefix}0x{raw:016x}"
        if isinstance(t, Struct | Union):
            parts = []
            for m in t.members:
                off = m.offset // 8
                msize = resolve_size(btf, m.type)
                text = self.value(m.type, data[off : off + msize], depth + 1, False)
                if text is None:
                    continue
                name = "" if self.flags & BTF_F_NONAME or not m.name else f".{m.name} = "
                parts.append(self._nl(depth + 1) + name + text + ",")
            if not parts and not zero_ok:
                return None
            close = self._nl(depth) if parts else ""
            return prefix + "{" + "".join(parts) + close + "}"
        if isinstance(t, Array):
            prefix = "" if self.flags & BTF_F_NONAME else f"({_type_name(btf, t.type)}[])"
            esize = resolve_size(btf, t.type)
            elem = btf[_strip(btf, t.type)]
            parts = []
            if isinstance(elem, Int) and elem.size == 1 and "char" in elem.name:
                for b in data[: t.nelems]:
                    if b == 0:
                        break
                    parts.append((f"'{chr(b)}'" if 0x20 <= b < 0x7F else str(b)) + ",")
            else:
                for k in range(t.nelems):
                    text = self.value(t.type, data[k * esize : (k + 1) * esize], depth + 1, False,
                                      named=False)
                    if text is not None:
                        parts.append(text + ",")
            if not parts and not zero_ok:
                return None
            return prefix + "[" + "".join(parts) + "]"
        return None


def show_btf_value(type_id: int, ptr: int, flags: int) -> str | None:
    """The text for the object at ``ptr`` of kernel BTF type ``type_id`` (None: no such
    type).  Unreadable memory shows as zeros, as the kernel's safe copy does."""
    from ..vmlinux import kernel_btf

    btf = kernel_btf()
    if type_id >= len(btf):
        return None
    size = resolve_size(btf, type_id)
    try:
        data = MEMORY.read(ptr, size)
    except MemoryFault:
        data = bytes(size)
    text = _Shower(btf, flags).value(type_id, data, 0, True)
    return text if text is not None else ""
