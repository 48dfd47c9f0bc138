"""pybpf's kernel BTF: built once from the declarations, then shared.

The BTF is what ``/sys/kernel/btf/vmlinux`` is to a real kernel: the target of CO-RE
relocations, the source of kfunc and struct_ops prototypes, and the description of
every object behind a ``PTR_TO_BTF_ID``.  Its type *names* are the kernel's; its
*layouts* are pybpf's own (only the UAPI structures keep the ABI's offsets), which
CO-RE makes invisible to programs compiled against a real ``vmlinux.h``.

Callers must treat the returned :class:`~pybpf.btf.Btf` as read-only: it is one object
for the whole process.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from ...btf import Btf, Func, Kind, encode
from ...errors import BpfError
from .cdecl import parse_decls
from .decls import SOURCES
from .decls.enums import uapi_enums
from .emit import Emitter
from .kfuncs import KFUNCS, KfuncDesc, kfunc_source

_KIND_WORDS = {
    "struct": Kind.STRUCT, "union": Kind.UNION, "enum": Kind.ENUM, "typedef": Kind.TYPEDEF,
    "func": Kind.FUNC, "int": Kind.INT, "fwd": Kind.FWD, "enum64": Kind.ENUM64,
}  # fmt: skip


def _sources() -> list[tuple[str, str]]:
    out = list(SOURCES)
    at = next(i for i, (name, _) in enumerate(out) if name == "uapi")
    out.insert(at + 1, ("uapi_enums", uapi_enums()))
    out.append(("kfuncs", kfunc_source()))
    return out


@cache
def kernel_btf() -> Btf:
    """The simulated kernel's BTF (built on first use, then cached)."""
    em = Emitter()
    typedefs: set[str] = set()
    for where, text in _sources():
        em.emit(parse_decls(text, f"vmlinux/{where}", typedefs))
    return em.finish()


@cache
def kernel_btf_bytes() -> bytes:
    """The kernel BTF as a raw blob, as ``/sys/kernel/btf/vmlinux`` holds it."""
    return encode(kernel_btf())


def type_id(name: str, kind: Kind | str = Kind.STRUCT) -> int:
    """The id of the kernel type ``name`` of ``kind`` (a :class:`Kind` or a word:
    ``struct``, ``union``, ``enum``, ``typedef``, ``func``); ENOENT if there is none."""
    k = _KIND_WORDS.get(kind) if isinstance(kind, str) else kind
    if k is None:
        raise BpfError(errno.EINVAL, f"unknown BTF kind {kind!r}")
    found = kernel_btf().find_by_name_kind(name, k)
    if found is None:
        raise BpfError(errno.ENOENT, f"kernel BTF has no {k.name.lower()} {name}")
    return found


def struct_id(name: str) -> int:
    return type_id(name, Kind.STRUCT)


def func_id(name: str) -> int:
    return type_id(name, Kind.FUNC)


def struct_ops_stub(ops: str, member: str) -> int:
    """The FUNC giving the prototype (with parameter names) of one ops member."""
    return func_id(f"{ops}__{member}")


@cache
def kfuncs() -> Mapping[str, KfuncDesc]:
    """Every declared kfunc by name, with its BTF ids and flags."""
    btf = kernel_btf()
    out: dict[str, KfuncDesc] = {}
    for spec in KFUNCS:
        name = spec.proto.split("(")[0].split()[-1].lstrip("*")
        fid = func_id(name)
        f = btf[fid]
        assert isinstance(f, Func)
        out[name] = KfuncDesc(name, fid, f.type, spec.flags, spec.kset)
    return MappingProxyType(out)


def kfunc(name: str) -> KfuncDesc | None:
    """The kfunc ``name``, or None if pybpf's kernel does not have it."""
    return kfuncs().get(name)


@cache
def kfunc_by_id() -> Mapping[int, KfuncDesc]:
    """Every declared kfunc by its FUNC id (what a kfunc call instruction holds)."""
    return MappingProxyType({k.func_id: k for k in kfuncs().values()})
