"""``BPF_MAP_TYPE_STRUCT_OPS``: one value, a kernel ops struct whose function pointers
are BPF programs, registered with a subsystem by an update of key 0.

The value is the kernel's wrapper struct: a reference count and a state, then the ops
struct itself.  An update checks every member (data members zero unless the type's
``init_member`` hook takes them, function pointers given as program fds of the right
type and member), lets the type validate the whole, and registers it; any failure
leaves the map as it was created.  A lookup gives the value back with program ids in
place of the pointers.  Delete unregisters.  The states follow the kernel's:
``INIT`` (created), ``INUSE`` (registered), ``TOBEFREE`` (unregistered), and ``READY``
for maps created with ``BPF_F_LINK``, which a struct_ops link registers instead.

The subsystem side (what a type accepts, how it registers) is a :class:`StructOpsType`
given at creation; pybpf's types live in :mod:`pybpf.struct_ops`.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from ..errors import BpfError
from .base import Map
from .types import MapSpec, MapType

BPF_F_LINK = 1 << 13
BPF_F_VTYPE_BTF_OBJ_FD = 1 << 15
COMMON_SIZE = 8
"""``struct bpf_struct_ops_common_value``: refcnt (4 bytes) and state (4 bytes)."""


class StructOpsState(IntEnum):
    INIT = 0
    INUSE = 1
    TOBEFREE = 2
    READY = 3


@dataclass(frozen=True)
class OpsMember:
    """One member of an ops struct: where it is and what kind of thing it holds."""

    name: str
    index: int
    offset: int
    """Byte offset inside the ops struct."""
    size: int
    is_func: bool
    is_module_owner: bool = False
    """``struct module *owner``: must be NULL, the kernel fills it in."""


@dataclass(frozen=True)
class ValueLayout:
    """Where the members of the wrapper struct and the ops struct lie: the spans
    between them must be zero in an update."""

    value_size: int
    data_offset: int
    data_size: int
    members: tuple[OpsMember, ...]


@dataclass
class KernelOps:
    """The registered ops (the kernel's ``kdata``): what the subsystem calls."""

    type: StructOpsType
    map: StructOpsMap
    programs: dict[str, Any] = field(default_factory=dict)
    """Program objects by member name (members without a program are absent)."""
    data: dict[str, Any] = field(default_factory=dict)
    """Data members the type's ``init_member`` accepted (``name``, ``flags`` ...)."""
    users: int = 0
    """Subsystem objects using the ops (sockets, for TCP): the value's ``refcnt``."""

    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))

    def get(self) -> bool:
        """A subsystem object starts using the ops (``bpf_struct_ops_get``)."""
        if self.map.state not in (StructOpsState.INUSE, StructOpsState.READY):
            return False
        self.users += 1
        return True

    def put(self) -> None:
        self.users = max(self.users - 1, 0)


class StructOpsType:
    """A subsystem's ops struct as struct_ops sees it (the kernel's ``bpf_struct_ops``).

    Subclasses give the layout and override the hooks; the defaults accept nothing
    special, validate nothing and register nowhere.
    """

    name: str = ""
    type_id: int = 0
    """BTF id of the ops struct: what a program's ``attach_btf_id`` must be."""
    value_type_id: int = 0
    """BTF id of ``bpf_struct_ops_<name>``: the map's ``btf_vmlinux_value_type_id``."""
    layout: ValueLayout

    def init_member(self, member: OpsMember, udata: bytes, kops: KernelOps) -> bool:
        """Take a data member the type knows (True), or leave it to the generic rule
        (False).  Raise ``BpfError`` to refuse the value."""
        return False

    def validate(self, kops: KernelOps) -> None:
        """Judge the ops as a whole after every member was taken."""

    def reg(self, kops: KernelOps, kernel: Any) -> None:
        """Register with the subsystem of ``kernel``; raise ``BpfError`` to refuse."""

    def unreg(self, kops: KernelOps, kernel: Any) -> None:
        """Unregister from the subsystem of ``kernel``."""

    def update(self, new: KernelOps, old: KernelOps, kernel: Any) -> None:
        """Replace ``old`` by ``new`` in the subsystem (a link update)."""
        self.unreg(old, kernel)
        self.reg(new, kernel)


def _zero(data: bytes | memoryview) -> bool:
    return not any(data)


class StructOpsMap(Map):
    """A struct_ops map.  Create it with :func:`create_struct_ops_map`: a plain
    :class:`MapSpec` has no room for the kernel value type, so ``create_map`` refuses
    it as the kernel refuses a struct_ops map without ``btf_vmlinux_value_type_id``."""

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        raise BpfError(errno.EINVAL, "struct_ops maps need btf_vmlinux_value_type_id")

    def __init__(self, spec: MapSpec, num_cpus: int, ops_type: StructOpsType, kernel: Any) -> None:
        super().__init__(spec, num_cpus)
        self.ops_type = ops_type
        self.kernel = kernel
        self.state = StructOpsState.INIT
        self.uvalue = bytes(self.value_size)
        self.kops: KernelOps | None = None
        self.links = 0

    # --- what the kernel reports ------------------------------------------------------
    @property
    def btf_vmlinux_value_type_id(self) -> int:
        return self.ops_type.value_type_id

    def _sys_lookup(self, key: bytes) -> bytes:
        if struct.unpack("<I", key)[0] != 0:
            raise BpfError(errno.ENOENT, "struct_ops maps have only key 0")
        if self.state == StructOpsState.INIT:
            return bytes(self.value_size)
        refcnt = (1 if self.state == StructOpsState.INUSE else 0) + (self.kops.users if self.kops else 0)
        out = bytearray(self.uvalue)
        struct.pack_into("<II", out, 0, refcnt, int(self.state))
        return bytes(out)

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        if key is not None and struct.unpack("<I", key)[0] == 0:
            raise BpfError(errno.ENOENT, "key 0 is the only key")
        return struct.pack("<I", 0)

    # --- register / unregister -------------------------------------------------------
    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        if flags:
            raise BpfError(errno.EINVAL, f"struct_ops updates take no flags (got {flags:#x})")
        if struct.unpack("<I", key)[0] != 0:
            raise BpfError(errno.E2BIG, "struct_ops maps have only key 0")
        lay = self.ops_type.layout
        udata = bytes(value)
        if not _zero(udata[COMMON_SIZE : lay.data_offset]) or not _zero(
            udata[lay.data_offset + lay.data_size :]
        ):
            raise BpfError(errno.EINVAL, "padding of the struct_ops value must be zero")
        self._check_data_holes(udata[lay.data_offset : lay.data_offset + lay.data_size])
        if not _zero(udata[:COMMON_SIZE]):
            raise BpfError(errno.EINVAL, "refcnt and state of a struct_ops value must be zero")
        if self.state != StructOpsState.INIT:
            raise BpfError(errno.EBUSY, f"struct_ops map is {self.state.name.lower()}: it cannot be updated")
        kops = KernelOps(self.ops_type, self)
        out = bytearray(udata)
        registered = self._take_members(udata[lay.data_offset :], kops, out)
        if not registered:
            return  # the kernel's quirk for a non-NULL owner: nothing done, no error
        self.ops_type.validate(kops)
        if self.flags & BPF_F_LINK:
            self.uvalue, self.kops, self.state = bytes(out), kops, StructOpsState.READY
            return
        self.ops_type.reg(kops, self.kernel)
        self.uvalue, self.kops, self.state = bytes(out), kops, StructOpsState.INUSE

    def _check_data_holes(self, data: bytes) -> None:
        end = 0
        for m in sorted(self.ops_type.layout.members, key=lambda m: m.offset):
            if m.offset > end and not _zero(data[end : m.offset]):
                raise BpfError(errno.EINVAL, "holes in the ops struct must be zero")
            end = max(end, m.offset + m.size)
        if not _zero(data[end:]):
            raise BpfError(errno.EINVAL, "holes in the ops struct must be zero")

    def _take_members(self, udata: bytes, kops: KernelOps, out: bytearray) -> bool:
        """Check each member in order, building ``kops``; program ids go into ``out``.
        False for the kernel's silent refusal of a set ``owner``."""
        lay = self.ops_type.layout
        for m in lay.members:
            raw = udata[m.offset : m.offset + m.size]
            if m.is_module_owner:
                if not _zero(raw):
                    return False
                continue
            if self.ops_type.init_member(m, udata, kops):
                continue
            if not m.is_func:
                if not _zero(raw):
                    raise BpfError(errno.EINVAL, f"member {m.name} must be zero")
                continue
            fd = struct.unpack("<q", raw)[0]
            fd = (fd & 0xFFFFFFFF) - ((fd & 0x80000000) << 1)  # the kernel reads an int
            if not fd:
                continue
            prog = self._program(fd)
            info = getattr(prog, "info", {})
            if (
                int(getattr(prog, "prog_type", -1)) != 27
                or info.get("attach_btf_id") != self.ops_type.type_id
                or info.get("expected_attach_type") != m.index
            ):
                raise BpfError(
                    errno.EINVAL,
                    f"member {m.name}: fd {fd} is not a struct_ops program for "
                    f"{self.ops_type.name}.{m.name}",
                )
            kops.programs[m.name] = prog
            struct.pack_into("<Q", out, lay.data_offset + m.offset, int(getattr(prog, "id", 0)))
        return True

    def _program(self, fd: int) -> Any:
        if fd < 0 or self.resolve_fd is None:
            raise BpfError(errno.EBADF, f"fd {fd} is not open")
        obj = self.resolve_fd(fd)  # EBADF for a closed fd
        if not hasattr(obj, "executable"):
            raise BpfError(errno.EINVAL, f"fd {fd} is not a BPF program")
        return obj

    def _sys_delete(self, key: bytes) -> None:
        # The kernel does not look at the key.
        if self.flags & BPF_F_LINK:
            raise BpfError(errno.EOPNOTSUPP, "a struct_ops map with BPF_F_LINK is unregistered through its link")
        if self.state == StructOpsState.INUSE:
            assert self.kops is not None
            self.state = StructOpsState.TOBEFREE
            self.ops_type.unreg(self.kops, self.kernel)
            return
        if self.state == StructOpsState.TOBEFREE:
            raise BpfError(errno.EINPROGRESS, "struct_ops map is already being freed")
        raise BpfError(errno.ENOENT, "struct_ops map holds no registered ops")

    @property
    def programs(self) -> dict[str, Any]:
        """The programs of the registered value by member name (they live as long as
        the map does)."""
        return dict(self.kops.programs) if self.kops else {}


def create_struct_ops_map(
    ops_type: StructOpsType | None,
    kernel: Any,
    *,
    key_size: int = 4,
    value_size: int | None = None,
    max_entries: int = 1,
    flags: int = 0,
    name: str = "",
    has_btf: bool = True,
    num_cpus: int = 1,
) -> StructOpsMap:
    """``BPF_MAP_CREATE`` of a struct_ops map with the checks in the kernel's order.

    ``ops_type`` None stands for a value type id that is no struct_ops value
    (``ENOTSUPP``); ``has_btf`` False for a create without a BTF fd, which the kernel
    needs even though the value type is its own.
    """
    from .types import ENOTSUPP

    if key_size != 4 or max_entries != 1 or flags & ~(BPF_F_LINK | BPF_F_VTYPE_BTF_OBJ_FD):
        raise BpfError(errno.EINVAL, "struct_ops maps have a 4-byte key, one entry, no flags but BPF_F_LINK")
    if ops_type is None:
        raise BpfError(ENOTSUPP, "the value type is not a struct_ops value type")
    vsize = ops_type.layout.value_size if value_size is None else value_size
    if vsize != ops_type.layout.value_size:
        raise BpfError(errno.EINVAL, f"value size {vsize} is not sizeof(bpf_struct_ops_{ops_type.name})")
    if not has_btf:
        raise BpfError(errno.EINVAL, "a struct_ops map needs the object's BTF fd")
    spec = MapSpec(MapType.STRUCT_OPS, key_size, vsize, max_entries, flags, name)
    from . import _check_name

    _check_name(name)
    m = StructOpsMap(spec, num_cpus, ops_type, kernel)
    if kernel is not None:
        m.resolve_fd = kernel.fd_object
        m.id = kernel.new_id("map")
        kernel.maps[m.id] = m
    return m


__all__ = [
    "BPF_F_LINK",
    "KernelOps",
    "OpsMember",
    "StructOpsMap",
    "StructOpsState",
    "StructOpsType",
    "ValueLayout",
    "create_struct_ops_map",
]
