"""Object-local storage: sk_storage, inode_storage, task_storage and cgrp_storage.

Each map keeps at most one value per kernel object (socket, inode, task, cgroup), created
by programs (``bpf_sk_storage_get(..., BPF_LOCAL_STORAGE_GET_F_CREATE)`` and friends, see
:meth:`storage_get`) or through bpf() where the key is a file descriptor naming the
object (a socket, any open file for its inode, a pidfd, a cgroup directory).  The maps
have no size of their own: ``max_entries`` must be 0, ``BPF_F_NO_PREALLOC`` is required,
the key is a 4-byte int, and BTF for key and value is mandatory (EINVAL without it), so
that user space can dump them.  They cannot be walked (``get_next_key`` is ENOTSUPP).

Python callers may use the objects themselves as keys: ``m[sock] = value``.
"""

from __future__ import annotations

import errno
from typing import Any, ClassVar

from ..errors import BpfError
from ..memory import Region, RegionKind
from .base import KeyLike, Map, to_bytes
from .btfinfo import BtfType, is_reg_int
from .cgroup_storage import LOCAL_STORAGE_MAX_VALUE_SIZE
from .standins import Cgroup, Inode, Socket, Task
from .types import BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, ENOTSUPP, MapFlag, MapSpec

LOCAL_STORAGE_CREATE_FLAG_MASK = int(MapFlag.NO_PREALLOC | MapFlag.CLONE)
BPF_LOCAL_STORAGE_GET_F_CREATE = 1


class LocalStorageMap(Map):
    """Shared rules of the four object-local storage types."""

    OWNER: ClassVar[type] = object
    OWNER_NAME: ClassVar[str] = "object"
    # errno for an fd that is open but names something else
    WRONG_FD: ClassVar[int] = errno.EBADF
    # every open fd names a file, so inode storage takes any of them
    ANY_FD: ClassVar[bool] = False
    BTF_CHECK = True

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        flags = spec.flags
        if (flags & ~LOCAL_STORAGE_CREATE_FLAG_MASK or not flags & MapFlag.NO_PREALLOC
                or spec.max_entries or spec.key_size != 4 or not spec.value_size
                or not spec.btf_key_type_id or not spec.btf_value_type_id):
            raise BpfError(errno.EINVAL, f"{spec.type.case_name} maps need BPF_F_NO_PREALLOC, "
                           "max_entries 0, a 4-byte key and BTF for key and value")
        if spec.value_size > LOCAL_STORAGE_MAX_VALUE_SIZE:
            raise BpfError(errno.E2BIG, f"value_size above {LOCAL_STORAGE_MAX_VALUE_SIZE}")

    @classmethod
    def check_btf(cls, spec: MapSpec, key: BtfType, value: BtfType) -> None:
        if not is_reg_int(key, 32):
            raise BpfError(errno.EINVAL, "local storage BTF keys must be a 32-bit int")

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self._store: dict[int, tuple[object, Region]] = {}

    # ------------------------------------------------------------------ owners ---

    def _sys_key(self, key: Any) -> Any:
        if isinstance(key, self.OWNER):
            return key
        return super()._sys_key(key)

    def _owner(self, key: Any) -> object:
        """The object a syscall key names (the object, or an fd through resolve_fd)."""
        if isinstance(key, self.OWNER):
            return key
        fd = int.from_bytes(to_bytes(key, 4, "key"), "little", signed=True)
        if self.resolve_fd is None:
            raise BpfError(errno.EBADF, f"fd {fd}: no resolver to turn fds into objects")
        target = self.resolve_fd(fd)
        if not self.ANY_FD and not isinstance(target, self.OWNER):
            raise BpfError(self.WRONG_FD, f"fd {fd} does not name a {self.OWNER_NAME}")
        return target

    def _value_region(self, data: bytes) -> Region:
        """A fresh value: kptrs start empty whatever the caller's bytes say."""
        region = self._allocate(self.value_size, RegionKind.MAP_VALUE, self.OWNER_NAME)
        data = self._kptr_clean(bytes(data[: self.value_size]))
        region.buf[: len(data)] = data
        return region

    def _drop(self, region: Region) -> None:
        """A value leaves the map (replaced, deleted, its owner gone): it gives back the
        objects its kptrs hold; the memory itself lives until RCU is done."""
        self._kptr_free(region.buf, 0)
        self._retire(region)

    def _kptr_free_all(self) -> None:
        """The map is freed: every object's value releases what it holds."""
        for _, region in self._store.values():
            self._kptr_free(region.buf, 0)

    def _check_flags(self, exists: bool, flags: int) -> int:
        if (flags & ~BPF_F_LOCK) > BPF_EXIST or flags & BPF_F_LOCK:
            return errno.EINVAL
        if exists and flags == BPF_NOEXIST:
            return errno.EEXIST
        if not exists and flags == BPF_EXIST:
            return errno.ENOENT
        return 0

    def _put(self, owner: object, value: bytes, flags: int) -> int:
        """bpf_local_storage_update: 0 or a positive errno; a new value replaces the
        old one (whose memory lives until RCU is done)."""
        old = self._store.get(id(owner))
        err = self._check_flags(old is not None, flags)
        if err:
            return err
        self._store[id(owner)] = (owner, self._value_region(value))
        if old is not None:
            self._drop(old[1])
        return 0

    def _remove(self, owner: object) -> int:
        old = self._store.pop(id(owner), None)
        if old is None:
            return errno.ENOENT
        self._drop(old[1])
        return 0

    # ----------------------------------------------------------- syscall side ---

    def _sys_lookup(self, key: Any) -> bytes:
        got = self._store.get(id(self._owner(key)))
        if got is None:
            raise BpfError(errno.ENOENT, f"the {self.OWNER_NAME} has no storage in this map")
        return bytes(got[1].buf[: self.value_size])

    def _sys_update(self, key: Any, value: Any, flags: int) -> None:
        err = self._put(self._owner(key), value, flags)
        if err:
            raise BpfError(err, {errno.EEXIST: "storage exists (BPF_NOEXIST)",
                                 errno.ENOENT: "no storage (BPF_EXIST)"}.get(err, "bad flags"))

    def _sys_delete(self, key: Any) -> None:
        if self._remove(self._owner(key)):
            raise BpfError(errno.ENOENT, f"the {self.OWNER_NAME} has no storage in this map")

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        raise BpfError(ENOTSUPP, "local storage maps cannot be walked")

    # ----------------------------------------------------------- program side ---

    def storage_get(self, owner: object, init: bytes | None, flags: int) -> int:
        """``bpf_{sk,inode,task,cgrp}_storage_get``: the address of ``owner``'s value,
        creating it (from ``init``, or zeroed) with ``BPF_LOCAL_STORAGE_GET_F_CREATE``;
        0 when absent or not creatable."""
        if flags & ~BPF_LOCAL_STORAGE_GET_F_CREATE or owner is None:
            return 0
        got = self._store.get(id(owner))
        if got is not None:
            return got[1].base
        if not flags & BPF_LOCAL_STORAGE_GET_F_CREATE:
            return 0
        data = bytes(init[: self.value_size]) if init is not None else bytes(self.value_size)
        if self._put(owner, data.ljust(self.value_size, b"\0"), BPF_NOEXIST):
            return 0
        return self._store[id(owner)][1].base

    def storage_delete(self, owner: object) -> int:
        """``bpf_*_storage_delete``: 0 or -ENOENT."""
        return -self._remove(owner)

    def forget(self, owner: object) -> None:
        """The object went away: its storage goes with it."""
        self._remove(owner)

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        return 0  # programs use the storage helpers

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        return -errno.EINVAL

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        return -errno.EINVAL

    # --------------------------------------------------------------- Pythonic ---

    def __getitem__(self, key: KeyLike | object) -> Any:
        try:
            return self.lookup(key)  # type: ignore[arg-type]
        except BpfError as exc:
            if exc.errno == errno.ENOENT:
                raise KeyError(key) from None
            raise

    def __contains__(self, key: object) -> bool:
        return isinstance(key, self.OWNER) and id(key) in self._store

    def owners(self) -> list[object]:
        """The objects that have storage in this map."""
        return [o for o, _ in self._store.values()]

    def __iter__(self) -> Any:
        raise BpfError(ENOTSUPP, "local storage maps cannot be walked; see owners()")

    def items(self) -> list[tuple[Any, Any]]:
        return [(o, bytes(r.buf[: self.value_size])) for o, r in self._store.values()]

    def __len__(self) -> int:
        return len(self._store)


class SkStorageMap(LocalStorageMap):
    """``BPF_MAP_TYPE_SK_STORAGE``: per-socket values."""

    OWNER = Socket
    OWNER_NAME = "socket"
    WRONG_FD = errno.ENOTSOCK


class InodeStorageMap(LocalStorageMap):
    """``BPF_MAP_TYPE_INODE_STORAGE``: per-inode values (BPF LSM).  On the syscall side
    any open fd will do: the object it names stands for its file's inode."""

    OWNER = Inode
    OWNER_NAME = "inode"
    ANY_FD = True


class TaskStorageMap(LocalStorageMap):
    """``BPF_MAP_TYPE_TASK_STORAGE``: per-task values (keyed by pidfd on the syscall side)."""

    OWNER = Task
    OWNER_NAME = "task"


class CgrpStorageMap(LocalStorageMap):
    """``BPF_MAP_TYPE_CGRP_STORAGE``: per-cgroup values (keyed by a cgroup directory fd)."""

    OWNER = Cgroup
    OWNER_NAME = "cgroup"
