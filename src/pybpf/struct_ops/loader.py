"""Loading an object's struct_ops variables as libbpf does: each becomes a struct_ops
map of the kernel type with the same name, its data members copied by name, its
function pointers set to the fds of the object's programs (loaded for the member they
implement), then registered (``.struct_ops``: by the map update; ``.struct_ops.link``:
by a link)."""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass, field
from typing import Any

from ..elf.struct_ops import StructOpsVar, collect_struct_ops, resolve_kfunc_calls
from ..errors import BpfError
from ..maps.struct_ops import BPF_F_LINK, StructOpsMap
from ..obj import BpfObject
from ..program import Program
from . import create_map
from .link import StructOpsLink
from .prog import load_struct_ops_program
from .registry import BtfOpsType, ops_type


@dataclass
class LoadedOps:
    """One struct_ops variable after loading: its map, programs and link."""

    var: StructOpsVar
    type: BtfOpsType
    map: StructOpsMap
    programs: dict[str, Program] = field(default_factory=dict)
    link: StructOpsLink | None = None

    @property
    def name(self) -> str:
        return str(self.map.kops.name) if self.map.kops else self.var.name

    @property
    def registered(self) -> bool:
        return self.link is not None or self.map.state == 1

    def register(self) -> None:
        """Attach as libbpf's ``bpf_map__attach_struct_ops`` does: update the map with
        the value (and, for ``.struct_ops.link``, create the link that registers it)."""
        if self.map.state == 0:
            self.map.update(0, kernel_value(self.var, self.type, self.programs))
        if self.var.link and self.link is None:
            self.link = StructOpsLink(self.map)

    def unregister(self) -> None:
        if self.link is not None:
            self.link.close()
        elif self.map.state == 1:
            self.map.delete(0)


def kernel_value(var: StructOpsVar, t: BtfOpsType, progs: dict[str, Program]) -> bytes:
    """The map value: the object's data members copied to the kernel struct by name,
    function pointers as program fds."""
    lay = t.layout
    kmembers = {m.name: m for m in lay.members}
    out = bytearray(lay.value_size)
    for lm in var.members:
        km = kmembers.get(lm.name)
        raw = var.data[lm.offset : lm.offset + lm.size]
        if km is None:
            if lm.name in progs or any(raw):
                raise BpfError(errno.ENOTSUP, f"struct_ops {var.name}: member {lm.name} not found in kernel BTF")
            continue
        at = lay.data_offset + km.offset
        if lm.is_func:
            if lm.name in progs:
                struct.pack_into("<Q", out, at, progs[lm.name].fd)
            continue
        if km.is_func:
            raise BpfError(errno.EINVAL, f"struct_ops {var.name}: member {lm.name} is a function in the kernel")
        if lm.size != km.size:
            raise BpfError(errno.EINVAL, f"struct_ops {var.name}: member {lm.name} size {lm.size} != kernel's {km.size}")
        out[at : at + km.size] = raw
    return bytes(out)


def load_struct_ops(obj: BpfObject, *, verify: bool = True, register: bool = False) -> list[LoadedOps]:
    """Create the object's maps, load its struct_ops programs and make one struct_ops
    map per variable; ``register`` attaches them all (else :meth:`LoadedOps.register`
    attaches one, as libbpf registers at attach time, not at load)."""
    with open(obj.path, "rb") as f:
        raw = f.read()
    svars = collect_struct_ops(raw, obj.spec.btf, obj.path)
    if obj.target_btf is None:
        # the programs run on pybpf's kernel objects: relocate against their layout
        from ..kernel.vmlinux import kernel_btf

        obj.target_btf = kernel_btf()
    maps = obj.load_maps()
    out: list[LoadedOps] = []
    loaded: dict[tuple[str, str], Program] = {}
    try:
        for var in svars:
            t = ops_type(var.type_name)
            progs: dict[str, Program] = {}
            for member, pname in var.programs.items():
                key = (pname, member)
                if key not in loaded:
                    op = obj.programs.get(pname)
                    if op is None:
                        raise BpfError(errno.EINVAL, f"struct_ops {var.name}: no program {pname}")
                    insns = resolve_kfunc_calls(op.link().insns, obj.spec.externs)
                    prog = load_struct_ops_program(insns, t, member, kernel=obj.kernel, maps=maps,
                                                   name=pname[:15], verify=verify)  # fmt: skip
                    prog.info.update(section=op.section, object=obj.path)
                    op.program = prog
                    loaded[key] = prog
                progs[member] = loaded[key]
            m = create_map(t.name, kernel=obj.kernel, name=var.name[:15], flags=BPF_F_LINK if var.link else 0)
            lo = LoadedOps(var, t, m, progs)
            out.append(lo)
            if register:
                lo.register()
    except BaseException:
        for lo in out:
            lo.unregister()
        raise
    return out


def open_struct_ops(path: str, *, kernel: Any = None, verify: bool = True,
                    register: bool = True) -> tuple[BpfObject, list[LoadedOps]]:  # fmt: skip
    """Open ``path`` and load (and by default register) its struct_ops."""
    from ..kernel.vmlinux import kernel_btf
    from ..obj import open as open_object

    obj = open_object(path, kernel=kernel, btf=kernel_btf())
    return obj, load_struct_ops(obj, verify=verify, register=register)
