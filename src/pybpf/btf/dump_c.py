"""BTF as a compilable C header, in the order and layout of ``bpftool btf dump ... format c``.

Two passes per requested type, as libbpf's btf_dump does: a topological ordering of
the definitions it needs (a struct embedded by value must be complete before its
container; one reached through a pointer only needs a forward declaration), then the
emission of each definition.  Names that clash get ``___N`` suffixes in first-use
order, padding between members is written out with ``long: N`` style fillers, and a
struct whose layout cannot come from natural alignment gets ``__attribute__((packed))``.
"""

from __future__ import annotations

import enum
import errno
from dataclasses import dataclass

from ..errors import BpfError
from .btf import Btf
from .kinds import Kind
from .resolve import align_of, ptr_size, resolve_size
from .types import (
    Array,
    Enum,
    Enum64,
    FuncProto,
    Fwd,
    Struct,
    Typedef,
    Union,
    referenced_ids,
)

# Holes wider than this (64 KiB) come only from damaged BTF: refuse rather than print them.
MAX_PADDING_BITS = 64 * 1024 * 8

_MODS = (Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG)
_ALIASES = {
    "__Poly8_t": "unsigned char",
    "__Poly16_t": "unsigned short",
    "__Poly64_t": "unsigned long long",
    "__Poly128_t": "unsigned __int128",
}

HEADER = (
    "#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n"
    "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
    "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n"
    "#endif\n\n"
)
FOOTER = (
    "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n"
    "#endif /* __VMLINUX_H__ */\n"
)


class _Order(enum.IntEnum):
    NOT_ORDERED = 0
    ORDERING = 1
    ORDERED = 2


class _Emit(enum.IntEnum):
    NOT_EMITTED = 0
    EMITTING = 1
    EMITTED = 2


@dataclass(slots=True)
class _State:
    order: _Order = _Order.NOT_ORDERED
    emit: _Emit = _Emit.NOT_EMITTED
    fwd_emitted: bool = False
    name_resolved: bool = False
    referenced: bool = False
    name: str | None = None


def _pfx(lvl: int) -> str:
    return "\t" * min(lvl, 13)


class CDumper:
    """Emits C for the types of one BTF; state carries over between :meth:`dump_type`
    calls so that each definition is written once.

    ``enum_size_attrs`` adds ``__attribute__((mode(byte|word)))`` to enums of unusual
    size, as libbpf 1.2 and later do; bpftool 7.1 (Debian 12) does not.
    """

    def __init__(self, btf: Btf, *, for_definitions: bool = True, enum_size_attrs: bool = False) -> None:
        self.btf = btf
        self.enum_size_attrs = enum_size_attrs
        self.ptr_sz = ptr_size(btf)
        self.out: list[str] = []
        self._states: list[_State | None] = [None] * len(btf)
        self._states[0] = _State(order=_Order.ORDERED, emit=_Emit.EMITTED)
        self.type_names: dict[str, int] = {}
        self.ident_names: dict[str, int] = {}
        self.queue: list[int] = []
        self.skip_anon_defs = not for_definitions
        if for_definitions:
            # Whether anything refers to a type decides if an anonymous enum is a
            # top-level declaration (nothing does) or belongs inline in a member.
            for type_id in btf.ids():
                for ref in referenced_ids(btf[type_id]):
                    if ref < len(self._states):
                        self.state(ref).referenced = True

    def state(self, type_id: int) -> _State:
        if type_id >= len(self._states):
            self._states.extend([None] * (type_id + 1 - len(self._states)))
        st = self._states[type_id]
        if st is None:
            st = self._states[type_id] = _State()
        return st

    def p(self, text: str) -> None:
        self.out.append(text)

    def text(self) -> str:
        return "".join(self.out)

    # -- the two passes ----------------------------------------------------------------
    def dump_type(self, type_id: int) -> None:
        if not 0 <= type_id < len(self.btf):
            raise BpfError(errno.EINVAL, f"no BTF type [{type_id}] to dump")
        self.queue = []
        try:
            self._order(type_id, False)
            for qid in self.queue:
                self._emit_type(qid, 0)
        except RecursionError:
            raise BpfError(errno.ELOOP, f"type [{type_id}] refers to itself without end") from None

    def _order(self, type_id: int, through_ptr: bool) -> bool:
        """Queue the definitions ``type_id`` needs; True when the link is strong (the
        definition must come first), False when a forward declaration is enough."""
        st = self.state(type_id)
        if st.order is _Order.ORDERED:
            return True
        t = self.btf[type_id]
        if st.order is _Order.ORDERING:
            if isinstance(t, Struct | Union) and through_ptr and t.name:
                return False
            raise BpfError(errno.ELOOP, f"unsatisfiable type cycle, id:[{type_id}]")
        kind = t.kind
        if kind in (Kind.INT, Kind.FLOAT):
            st.order = _Order.ORDERED
            return False
        if kind == Kind.PTR:
            strong = self._order(t.type, True)  # type: ignore[union-attr]
            st.order = _Order.ORDERED
            return strong
        if isinstance(t, Array):
            return self._order(t.type, False)
        if isinstance(t, Struct | Union):
            if through_ptr and t.name:
                return False
            st.order = _Order.ORDERING
            for m in t.members:
                self._order(m.type, False)
            if t.name:
                self.queue.append(type_id)
            st.order = _Order.ORDERED
            return True
        if kind in (Kind.ENUM, Kind.ENUM64, Kind.FWD):
            if t.name or not st.referenced:
                self.queue.append(type_id)
            st.order = _Order.ORDERED
            return True
        if isinstance(t, Typedef):
            strong = self._order(t.type, through_ptr)
            if through_ptr and not strong:
                return False
            self.queue.append(type_id)
            st.order = _Order.ORDERED
            return True
        if kind in _MODS:
            return self._order(t.type, through_ptr)  # type: ignore[union-attr]
        if isinstance(t, FuncProto):
            strong = self._order(t.return_type, through_ptr)
            for prm in t.params:
                if self._order(prm.type, through_ptr):
                    strong = True
            return strong
        st.order = _Order.ORDERED  # func, var, datasec, decl_tag: not emitted
        return False

    def _blacklisted(self, type_id: int) -> bool:
        return self.btf[type_id].name == "__builtin_va_list"

    def _emit_type(self, type_id: int, cont_id: int) -> None:
        st = self.state(type_id)
        top_level = cont_id == 0
        if st.emit is _Emit.EMITTED:
            return
        t = self.btf[type_id]
        if st.emit is _Emit.EMITTING:
            if st.fwd_emitted:
                return
            if isinstance(t, Struct | Union):
                if type_id == cont_id or not t.name:
                    return
                self._struct_fwd(type_id, t)
                self.p(";\n\n")
                st.fwd_emitted = True
            elif isinstance(t, Typedef):
                if not self._blacklisted(type_id):
                    self._typedef_def(type_id, t, 0)
                    self.p(";\n\n")
                st.fwd_emitted = True
            return
        kind = t.kind
        if kind == Kind.INT:
            name = self._type_name(type_id)
            if name in _ALIASES:
                self.p(f"typedef {_ALIASES[name]} {name};\n\n")
            st.emit = _Emit.EMITTED
        elif isinstance(t, Enum | Enum64):
            if top_level:
                self._enum_def(type_id, t, 0)
                self.p(";\n\n")
            st.emit = _Emit.EMITTED
        elif kind == Kind.PTR or kind in _MODS:
            self._emit_type(t.type, cont_id)  # type: ignore[union-attr]
        elif isinstance(t, Array):
            self._emit_type(t.type, cont_id)
        elif isinstance(t, Fwd):
            self._fwd_def(type_id, t)
            self.p(";\n\n")
            st.emit = _Emit.EMITTED
        elif isinstance(t, Typedef):
            st.emit = _Emit.EMITTING
            self._emit_type(t.type, type_id)
            if not st.fwd_emitted and not self._blacklisted(type_id):
                self._typedef_def(type_id, t, 0)
                self.p(";\n\n")
            st.emit = _Emit.EMITTED
        elif isinstance(t, Struct | Union):
            st.emit = _Emit.EMITTING
            if top_level or not t.name:
                new_cont = cont_id if not t.name else type_id
                for m in t.members:
                    self._emit_type(m.type, new_cont)
            elif not st.fwd_emitted and type_id != cont_id:
                self._struct_fwd(type_id, t)
                self.p(";\n\n")
                st.fwd_emitted = True
            if top_level:
                self._struct_def(type_id, t, 0)
                self.p(";\n\n")
                st.emit = _Emit.EMITTED
            else:
                st.emit = _Emit.NOT_EMITTED
        elif isinstance(t, FuncProto):
            self._emit_type(t.return_type, cont_id)
            for prm in t.params:
                self._emit_type(prm.type, cont_id)

    # -- names -------------------------------------------------------------------------
    def _dups(self, names: dict[str, int], name: str) -> int:
        names[name] = names.get(name, 0) + 1
        return names[name]

    def _resolve_name(self, type_id: int, names: dict[str, int]) -> str:
        st = self.state(type_id)
        t = self.btf[type_id]
        if not t.name:
            return ""
        if st.name_resolved:
            return st.name if st.name is not None else t.name
        if isinstance(t, Fwd) or (isinstance(t, Enum) and not t.values):
            st.name_resolved = True
            return t.name
        n = self._dups(names, t.name)
        if n > 1:
            st.name = f"{t.name}___{n}"
        st.name_resolved = True
        return st.name if st.name is not None else t.name

    def _type_name(self, type_id: int) -> str:
        return self._resolve_name(type_id, self.type_names)

    def _ident_name(self, type_id: int) -> str:
        return self._resolve_name(type_id, self.ident_names)

    # -- definitions -------------------------------------------------------------------
    def _struct_fwd(self, type_id: int, t: Struct | Union) -> None:
        kw = "struct" if isinstance(t, Struct) else "union"
        self.p(f"{kw}{' ' if t.name else ''}{self._type_name(type_id)}")

    def _fwd_def(self, type_id: int, t: Fwd) -> None:
        self.p(f"{'union' if t.union else 'struct'} {self._type_name(type_id)}")

    def _typedef_def(self, type_id: int, t: Typedef, lvl: int) -> None:
        name = self._ident_name(type_id)
        if t.type == 0 and name == "__gnuc_va_list":
            self.p("typedef __builtin_va_list __gnuc_va_list")
            return
        self.p("typedef ")
        self.emit_type_decl(t.type, name, lvl)

    def _is_packed(self, t: Struct) -> bool:
        max_align = 1
        for m in t.members:
            a = align_of(self.btf, m.type)
            if a and not m.bitfield_size and m.offset % (8 * a):
                return True
            max_align = max(a, max_align)
        return t.size % max_align != 0

    def _padding(self, cur: int, nxt: int, next_align: int, in_bitfield: bool, lvl: int) -> None:
        if cur >= nxt:
            return
        if nxt - cur > MAX_PADDING_BITS:  # a damaged offset would print millions of fillers
            raise BpfError(errno.EINVAL, f"a hole of {nxt - cur} bits before a member or the end of a struct")
        pads = (("long", self.ptr_sz * 8), ("int", 32), ("short", 16), ("char", 8))
        # The widest filler type whose alignment boundary is not past the next member.
        pad_type, pad_bits = pads[-1]
        new_off = cur
        for candidate in pads:
            pad_type, pad_bits = candidate
            new_off = -(-cur // pad_bits) * pad_bits
            if new_off <= nxt:
                break
        if cur < new_off <= nxt:
            aligned_next = -(-cur // (next_align * 8)) * (next_align * 8) if next_align else cur
            if (in_bitfield or (new_off == nxt and aligned_next != new_off)
                    or (new_off != nxt and nxt - new_off <= new_off - cur)):  # fmt: skip
                self.p(f"\n{_pfx(lvl)}{pad_type}: {new_off - cur if in_bitfield else 0};")
            cur = new_off
        while cur != nxt:
            bits = min(nxt - cur, pad_bits)
            if bits == pad_bits:
                self.p(f"\n{_pfx(lvl)}{pad_type}: {pad_bits};")
                cur += bits
                continue
            for pad_type, pad_bits in reversed(pads):
                if pad_bits < bits:
                    continue
                self.p(f"\n{_pfx(lvl)}{pad_type}: {bits};")
                cur += bits
                break

    def _struct_def(self, type_id: int, t: Struct | Union, lvl: int) -> None:
        is_struct = isinstance(t, Struct)
        align = align_of(self.btf, type_id)
        packed = is_struct and self._is_packed(t)  # type: ignore[arg-type]
        self.p(f"{'struct' if is_struct else 'union'}{' ' if t.name else ''}{self._type_name(type_id)} {{")
        off = 0
        prev_bitfield = False
        for m in t.members:
            m_sz = m.bitfield_size
            m_align = 1 if packed else align_of(self.btf, m.type)
            in_bitfield = prev_bitfield and m_sz != 0
            self._padding(off, m.offset, m_align, in_bitfield, lvl + 1)
            self.p(f"\n{_pfx(lvl + 1)}")
            self.emit_type_decl(m.type, m.name, lvl + 1)
            if m_sz:
                self.p(f": {m_sz}")
                off = m.offset + m_sz
                prev_bitfield = True
            else:
                try:
                    size = resolve_size(self.btf, m.type)
                except BpfError:
                    size = 0
                off = m.offset + size * 8
                prev_bitfield = False
            self.p(";")
        if is_struct:
            self._padding(off, t.size * 8, align, False, lvl + 1)
        if t.members or t.size:
            self.p(f"\n{_pfx(lvl)}}}")
        else:
            self.p("}")
        if packed:
            self.p(" __attribute__((packed))")

    def _enum_def(self, type_id: int, t: Enum | Enum64, lvl: int) -> None:
        self.p(f"enum{' ' if t.name else ''}{self._type_name(type_id)}")
        if not t.values:
            return
        self.p(" {")
        wide = isinstance(t, Enum64)
        for v in t.values:
            if wide:
                u = v.value & ((1 << 64) - 1)
                val = f"{u - (1 << 64) if u >> 63 else u}LL" if t.signed else f"{u}ULL"
            else:
                w = v.value & 0xFFFFFFFF
                val = str(w - (1 << 32) if t.signed and w >> 31 else w)
            n = self._dups(self.ident_names, v.name)
            name = f"{v.name}___{n}" if n > 1 else v.name
            self.p(f"\n{_pfx(lvl + 1)}{name} = {val},")
        self.p(f"\n{_pfx(lvl)}}}")
        if not self.enum_size_attrs:
            return
        if t.size == 1:
            self.p(" __attribute__((mode(byte)))")
        elif t.size == 8 and self.ptr_sz == 8:
            word_mode = True if not wide else all(not (v.value & ((1 << 64) - 1)) >> 32 for v in t.values)
            if word_mode:
                self.p(" __attribute__((mode(word)))")

    # -- declarations ------------------------------------------------------------------
    def emit_type_decl(self, type_id: int, fname: str, lvl: int) -> None:
        """``type_id`` declared with the name ``fname`` (a member, a parameter, ...)."""
        stack: list[int] = []
        while True:
            if len(stack) > 1000:
                raise BpfError(errno.ELOOP, f"type [{type_id}] is part of a chain that loops")
            stack.append(type_id)
            if type_id == 0:
                break
            t = self.btf[type_id]
            kind = t.kind
            if kind in (Kind.PTR, Kind.FUNC_PROTO) or kind in _MODS:
                type_id = t.return_type if isinstance(t, FuncProto) else t.type  # type: ignore[union-attr]
            elif isinstance(t, Array):
                type_id = t.type
            else:
                break
        self._emit_chain(stack, fname, lvl)

    def _emit_mods(self, stack: list[int]) -> None:
        while stack:
            kind = self.btf.kind(stack[-1])
            if kind == Kind.VOLATILE:
                self.p("volatile ")
            elif kind == Kind.CONST:
                self.p("const ")
            elif kind == Kind.RESTRICT:
                self.p("restrict ")
            else:
                return
            stack.pop()

    def _drop_mods(self, stack: list[int]) -> None:
        while stack and self.btf.kind(stack[-1]) in _MODS:
            stack.pop()

    def _emit_name(self, name: str, last_was_ptr: bool) -> None:
        self.p(f"{' ' if name and not last_was_ptr else ''}{name}")

    def _emit_chain(self, stack: list[int], fname: str, lvl: int) -> None:
        last_was_ptr = True
        while stack:
            type_id = stack.pop()
            if type_id == 0:
                self._emit_mods(stack)
                self.p("void")
                last_was_ptr = False
                continue
            t = self.btf[type_id]
            kind = t.kind
            if kind in (Kind.INT, Kind.FLOAT):
                self._emit_mods(stack)
                self.p(t.name)
            elif isinstance(t, Struct | Union):
                self._emit_mods(stack)
                if not t.name and not self.skip_anon_defs:
                    self._struct_def(type_id, t, lvl)
                else:
                    self._struct_fwd(type_id, t)
            elif isinstance(t, Enum | Enum64):
                self._emit_mods(stack)
                if not t.name and not self.skip_anon_defs:
                    self._enum_def(type_id, t, lvl)
                else:
                    self.p(f"enum {self._type_name(type_id)}")
            elif isinstance(t, Fwd):
                self._emit_mods(stack)
                self._fwd_def(type_id, t)
            elif isinstance(t, Typedef):
                self._emit_mods(stack)
                self.p(self._ident_name(type_id))
            elif kind == Kind.PTR:
                self.p("*" if last_was_ptr else " *")
            elif kind == Kind.VOLATILE:
                self.p(" volatile")
            elif kind == Kind.CONST:
                self.p(" const")
            elif kind == Kind.RESTRICT:
                self.p(" restrict")
            elif kind == Kind.TYPE_TAG:
                self._emit_mods(stack)
                self.p(f' __attribute__((btf_type_tag("{t.name}")))')
            elif isinstance(t, Array):
                self._drop_mods(stack)
                if not stack:
                    self._emit_name(fname, last_was_ptr)
                    self.p(f"[{t.nelems}]")
                    return
                multidim = self.btf.kind(stack[-1]) == Kind.ARRAY
                if fname and not last_was_ptr:
                    self.p(" ")
                if not multidim:
                    self.p("(")
                self._emit_chain(stack, fname, lvl)
                if not multidim:
                    self.p(")")
                self.p(f"[{t.nelems}]")
                return
            elif isinstance(t, FuncProto):
                self._drop_mods(stack)
                if stack:
                    self.p(" (")
                    self._emit_chain(stack, fname, lvl)
                    self.p(")")
                else:
                    self._emit_name(fname, last_was_ptr)
                self.p("(")
                params = t.params
                if not params or (len(params) == 1 and params[0].type == 0):
                    self.p("void)")
                    return
                for i, prm in enumerate(params):
                    if i:
                        self.p(", ")
                    if i == len(params) - 1 and prm.type == 0:
                        self.p("...")
                        break
                    self.emit_type_decl(prm.type, prm.name, lvl)
                self.p(")")
                return
            else:
                return
            last_was_ptr = kind == Kind.PTR
        self._emit_name(fname, last_was_ptr)


def dump_c(btf: Btf, ids: list[int] | None = None, *, enum_size_attrs: bool = False) -> str:
    """The header ``bpftool btf dump file X format c`` prints (all types, or ``ids``)."""
    d = CDumper(btf, enum_size_attrs=enum_size_attrs)
    d.p(HEADER)
    for type_id in ids if ids is not None else btf.ids():
        d.dump_type(type_id)
    d.p(FOOTER)
    return d.text()


def c_type_name(btf: Btf, type_id: int, name: str = "") -> str:
    """A type as C spells it in a declaration (``struct sk_buff *``, ``int (*)(void *)``);
    anonymous aggregates are named by their keyword only."""
    d = CDumper(btf, for_definitions=False)
    try:
        d.emit_type_decl(type_id, name, 0)
    except RecursionError:
        raise BpfError(errno.ELOOP, f"type [{type_id}] refers to itself without end") from None
    return d.text()

