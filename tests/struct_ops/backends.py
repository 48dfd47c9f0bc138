"""The two backends of :mod:`.scenarios`: pybpf's kernel and the running one."""

from __future__ import annotations

import struct
from typing import Any

from pybpf.errors import BpfError
from pybpf.isa import assemble

from .scenarios import Backend, Layout, errno_of


class PybpfBackend(Backend):
    def __init__(self) -> None:
        from pybpf.kernel.state import Kernel
        from pybpf.struct_ops import ops_type

        self.k = Kernel(num_cpus=1, seed=0)
        self.t = ops_type("tcp_congestion_ops")
        lay = self.t.layout
        self.layout = Layout(lay.value_size, lay.data_offset, {m.name: m.offset for m in lay.members},
                             {m.name: m.index for m in lay.members})  # fmt: skip

    def create(self, **kw: Any) -> Any:
        from pybpf.maps.struct_ops import create_struct_ops_map

        t = None if kw.pop("badid", False) else self.t
        if kw.pop("noid", False):
            return -22
        has_btf = not kw.pop("nobtf", False)
        return errno_of(lambda: create_struct_ops_map(t, self.k, has_btf=has_btf, **kw))

    def load(self, member: int, prog_type: int = 27, ret: int = 0) -> Any:
        from pybpf.program import load_program
        from pybpf.struct_ops import load_struct_ops_program

        insns = assemble(f"r0 = {ret}\nexit")
        if prog_type != 27:
            return load_program(insns, prog_type, kernel=self.k)
        return errno_of(lambda: load_struct_ops_program(insns, self.t, member, kernel=self.k, verify=False))

    def update(self, m: Any, key: bytes, value: bytes, flags: int = 0) -> int:
        r = errno_of(lambda: m.update(key, value, flags))
        return -r if r else 0

    def lookup(self, m: Any, key: bytes) -> tuple[int, bytes | None]:
        try:
            return 0, m.lookup(key)
        except BpfError as exc:
            return exc.errno, None

    def delete(self, m: Any, key: bytes) -> int:
        r = errno_of(lambda: m.delete(key))
        return -r if r else 0

    def next_key(self, m: Any, key: bytes | None) -> int:
        r = errno_of(lambda: m.get_next_key(key))
        return -r if isinstance(r, int) else 0

    def prog_id(self, p: Any) -> int:
        return int(p.id)

    def fd(self, p: Any) -> int:
        return int(p.fd)


class KernelBackend(Backend):
    """The running kernel (its own layout of the value, read from its BTF)."""

    def __init__(self) -> None:
        from pybpf.btf import BtfBuilder, Struct, encode, load_vmlinux
        from pybpf.oracle import btf_load

        btf = load_vmlinux()
        self.vid = btf.find_by_name_kind("bpf_struct_ops_tcp_congestion_ops", Struct.kind)
        self.tid = btf.find_by_name_kind("tcp_congestion_ops", Struct.kind)
        if self.vid is None or self.tid is None:
            raise BpfError(95, "the running kernel has no tcp_congestion_ops struct_ops")
        v, t = btf[self.vid], btf[self.tid]
        assert isinstance(v, Struct) and isinstance(t, Struct)
        data = next(m for m in v.members if m.name == "data")
        self.layout = Layout(v.size, data.offset // 8, {m.name: m.offset // 8 for m in t.members},
                             {m.name: i for i, m in enumerate(t.members)})  # fmt: skip
        b = BtfBuilder()
        b.int_type("int", 4, signed=True)
        r = btf_load(encode(b.btf))
        if r.fd is None:
            raise BpfError(r.errno, "BTF_LOAD refused")
        self.btf_fd = r.fd
        self.fds: list[int] = [r.fd]

    def create(self, **kw: Any) -> Any:
        from pybpf.oracle import OracleError, map_create

        a: dict[str, Any] = dict(map_type=26, key_size=4, value_size=self.layout.value_size, max_entries=1,
                                 btf_vmlinux_value_type_id=self.vid, btf_fd=self.btf_fd)  # fmt: skip
        if kw.pop("noid", False):
            a["btf_vmlinux_value_type_id"] = 0
        if kw.pop("badid", False):
            a["btf_vmlinux_value_type_id"] = self.tid
        if kw.pop("nobtf", False):
            a["btf_fd"] = 0
        if "value_size" in kw:
            kw["value_size"] = kw["value_size"] - self.layout.value_size + 256 - 64
        a.update(kw)
        try:
            fd = map_create(**a)
        except OracleError as exc:
            return -exc.errno
        self.fds.append(fd)
        return fd

    def load(self, member: int, prog_type: int = 27, ret: int = 0) -> Any:
        from pybpf.oracle import prog_load

        sops = prog_type == 27
        r = prog_load(prog_type, assemble(f"r0 = {ret}\nexit"), expected_attach_type=member if sops else 0,
                      attach_btf_id=self.tid if sops else 0, log_level=0)  # fmt: skip
        if r.fd is None:
            return -r.errno
        self.fds.append(r.fd)
        return r.fd

    def update(self, m: Any, key: bytes, value: bytes, flags: int = 0) -> int:
        from pybpf.oracle import map_update

        return map_update(m, key, value, flags)

    def lookup(self, m: Any, key: bytes) -> tuple[int, bytes | None]:
        from pybpf.oracle import map_lookup

        r = map_lookup(m, key, self.layout.value_size)
        return r.errno, r.value

    def delete(self, m: Any, key: bytes) -> int:
        from pybpf.oracle import map_delete

        return map_delete(m, key)

    def next_key(self, m: Any, key: bytes | None) -> int:
        from pybpf.oracle import map_get_next_key

        return map_get_next_key(m, key, 4).errno

    def prog_id(self, p: Any) -> int:
        from pybpf.oracle import prog_get_info

        return int(prog_get_info(p).id)

    def fd(self, p: Any) -> int:
        return int(p)

    def close(self) -> None:
        from pybpf.oracle import close

        for fd in reversed(self.fds):
            close(fd)
        self.fds.clear()


def pack_u32(v: int) -> bytes:
    return struct.pack("<I", v)
