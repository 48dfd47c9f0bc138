"""What a loader does to an object's BTF before the kernel sees it, as libbpf does it.

clang leaves DATASEC sizes and VAR offsets at zero in ``.o`` files; they come from the
ELF section sizes and symbol values.  A global variable with hidden visibility
becomes static.  ``.kconfig`` and ``.ksyms`` are only sorted (their layout is the
loader's own).  Every DATASEC's variables end up sorted by offset.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..errors import BpfError
from .btf import Btf
from .kinds import VarLinkage
from .types import Datasec, Var

EXTERN_SECTIONS = (".kconfig", ".ksyms")


@dataclass(frozen=True, slots=True)
class VarSymbol:
    """An ELF symbol of a global variable: its value and whether it is hidden
    (``STV_HIDDEN``/``STV_INTERNAL``)."""

    offset: int
    hidden: bool = False


def fixup_datasecs(
    btf: Btf,
    section_size: Callable[[str], int | None],
    var_symbol: Callable[[str], VarSymbol | None],
) -> None:
    """Fill in DATASEC sizes and VAR offsets in place; ``BpfError(ENOENT)`` when the
    ELF has no size for a section or no symbol for a global variable."""
    for type_id, t in list(btf.items()):
        if not isinstance(t, Datasec):
            continue
        secs = list(t.vars)
        size = t.size
        if t.name not in EXTERN_SECTIONS:
            fixup_offsets = False
            if size == 0:
                got = section_size(t.name)
                if not got:
                    raise BpfError(errno.ENOENT, f"sec '{t.name}': failed to determine size from ELF: size {got or 0}")
                size = got
                fixup_offsets = True
            for i, vsi in enumerate(secs):
                var = btf.get(vsi.type)
                if not isinstance(var, Var):
                    raise BpfError(errno.EINVAL, f"sec '{t.name}': unexpected non-VAR type found")
                if var.linkage in (VarLinkage.STATIC, VarLinkage.GLOBAL_EXTERN):
                    continue
                sym = var_symbol(var.name)
                if sym is None:
                    raise BpfError(errno.ENOENT, f"sec '{t.name}': failed to find ELF symbol for VAR '{var.name}'")
                if fixup_offsets:
                    secs[i] = replace(vsi, offset=sym.offset)
                if sym.hidden and var.linkage != VarLinkage.STATIC:
                    btf.replace(vsi.type, replace(var, linkage=VarLinkage.STATIC))
        secs.sort(key=lambda v: v.offset)
        new = replace(t, size=size, vars=tuple(secs))
        if new != t:
            btf.replace(type_id, new)
