"""Array maps: array, percpu_array, prog_array and array_of_maps.

An array's elements all exist from creation: updates overwrite, deletes fail with
EINVAL, and ``get_next_key`` counts up from 0.  Values live in one region with the
kernel's stride ``round_up(value_size, 8)``; a per-CPU array keeps one such block per
CPU (block ``cpu`` holds that CPU's copies).  prog_array and array_of_maps hold objects
(programs, maps) rather than bytes: file descriptors on the way in, ids on the way out.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import Any

from ..errors import BpfError
from ..memory import Region, RegionKind
from .base import Map, index_next_key, reject_btf, to_bytes, u32_of
from .btfinfo import BtfKind, BtfType, is_reg_int
from .inner import InnerMapSlot, check_template
from .types import (
    ACCESS_MASK,
    BPF_ANY,
    BPF_EXIST,
    BPF_F_LOCK,
    BPF_NOEXIST,
    ENOTSUPP,
    PAGE_SIZE,
    PCPU_MIN_UNIT_SIZE,
    MapFlag,
    MapSpec,
    MapType,
    round_up,
)

ARRAY_CREATE_FLAG_MASK = int(
    MapFlag.NUMA_NODE | MapFlag.MMAPABLE | ACCESS_MASK | MapFlag.PRESERVE_ELEMS | MapFlag.INNER_MAP
)
INT_MAX = 0x7FFFFFFF


class ArrayMap(Map):
    """``BPF_MAP_TYPE_ARRAY``."""

    BATCH_OPS = frozenset({"lookup_batch", "update_batch"})
    MMAP_OK = True
    BTF_CHECK = True

    @classmethod
    def check_btf(cls, spec: MapSpec, key: BtfType, value: BtfType) -> None:
        """Array keys are u32; only a one-element array may go keyless, and then its
        value is a data section (global data)."""
        if key.kind is BtfKind.VOID:
            if spec.type != MapType.ARRAY or spec.max_entries != 1:
                raise BpfError(errno.EINVAL, "only a one-element array may have no BTF key")
            if value.kind is not BtfKind.DATASEC:
                raise BpfError(errno.EINVAL, "a keyless array's BTF value must be a DATASEC")
            return
        if not is_reg_int(key, 32):
            raise BpfError(errno.EINVAL, "an array's BTF key must be a 32-bit integer")

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        """array_map_alloc_check (and, for fd arrays, its extra rules)."""
        flags = spec.flags
        if cls.FD_VALUES:
            if spec.value_size != 4:
                raise BpfError(errno.EINVAL, f"{spec.type.case_name} values are 4-byte fds")
            if flags & (MapFlag.RDONLY_PROG | MapFlag.WRONLY_PROG):
                raise BpfError(errno.EINVAL, "fd arrays take no program access flags")
        if (
            spec.max_entries == 0
            or spec.key_size != 4
            or spec.value_size == 0
            or flags & ~ARRAY_CREATE_FLAG_MASK
            or (flags & MapFlag.RDONLY_PROG and flags & MapFlag.WRONLY_PROG)
            or (cls.PERCPU and flags & MapFlag.NUMA_NODE)
        ):
            raise BpfError(errno.EINVAL, "invalid array map attributes")
        if spec.type != MapType.ARRAY and flags & (MapFlag.MMAPABLE | MapFlag.INNER_MAP):
            raise BpfError(errno.EINVAL, "only plain arrays can be mmapable or inner-map templates")
        if flags & MapFlag.PRESERVE_ELEMS and spec.type != MapType.PERF_EVENT_ARRAY:
            raise BpfError(errno.EINVAL, "BPF_F_PRESERVE_ELEMS is for perf event arrays")
        if spec.value_size > INT_MAX:
            raise BpfError(errno.E2BIG, "value_size too large")
        if cls.PERCPU and round_up(spec.value_size, 8) > PCPU_MIN_UNIT_SIZE:
            raise BpfError(errno.E2BIG, "per-CPU value larger than 32 KiB")
        if spec.type == MapType.ARRAY_OF_MAPS:
            check_template(spec.inner)

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self.elem_size = round_up(self.value_size, 8)
        self.copies = num_cpus if self.PERCPU else 1
        self._iter_key: Region | None = None
        if not self.FD_VALUES:
            size = self.max_entries * self.elem_size * self.copies
            if self.flags & MapFlag.MMAPABLE:
                size = round_up(size, PAGE_SIZE)
            self.values_region = self._allocate(size, RegionKind.MAP_VALUE, "values")

    # --------------------------------------------------------------- addressing ---

    def _off(self, index: int, cpu: int = 0) -> int:
        return (cpu * self.max_entries + index) * self.elem_size

    def value_addr(self, index: int, cpu: int = 0) -> int:
        """Address of element ``index`` (CPU ``cpu``'s copy for per-CPU arrays)."""
        return self.values_region.base + self._off(index, cpu)

    # -------------------------------------------------------------- syscall side ---

    def _sys_lookup(self, key: bytes) -> bytes:
        index = u32_of(key)
        if index >= self.max_entries:
            raise BpfError(errno.ENOENT, f"index {index} is out of range")
        buf = self.values_region.buf
        if self.PERCPU:
            return b"".join(
                bytes(buf[self._off(index, c) : self._off(index, c) + self.elem_size])
                for c in range(self.copies)
            )
        off = self._off(index)
        return bytes(buf[off : off + self.value_size])

    def _check_update(self, index: int, flags: int) -> int:
        if self.PERCPU:
            if flags > BPF_EXIST:
                return errno.EINVAL
        elif (flags & ~BPF_F_LOCK) > BPF_EXIST:
            return errno.EINVAL
        if index >= self.max_entries:
            return errno.E2BIG
        if flags & BPF_NOEXIST:
            return errno.EEXIST
        if flags & BPF_F_LOCK:
            return errno.EINVAL
        return 0

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        index = u32_of(key)
        err = self._check_update(index, flags)
        if err:
            raise BpfError(err, _array_update_message(err, index))
        buf = self.values_region.buf
        if self.PERCPU:
            for c in range(self.copies):
                off = self._off(index, c)
                self._kptr_free(buf, off)
                chunk = value[c * self.elem_size : (c + 1) * self.elem_size]
                buf[off : off + self.elem_size] = self._kptr_clean(chunk)
        else:
            off = self._off(index)
            self._kptr_free(buf, off)
            buf[off : off + self.value_size] = self._kptr_clean(value)

    def _sys_delete(self, key: bytes) -> None:
        raise BpfError(errno.EINVAL, "array elements cannot be deleted")

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        return index_next_key(key, self.max_entries)

    def _mmap_view(self, writable: bool, offset: int, length: int | None) -> memoryview:
        if not self.flags & MapFlag.MMAPABLE:
            raise BpfError(errno.EINVAL, "array was not created with BPF_F_MMAPABLE")
        limit = round_up(self.max_entries * self.elem_size, PAGE_SIZE)
        if length is None:
            length = limit - offset
        if length <= 0 or offset + length > limit:
            raise BpfError(errno.EINVAL, "mapping extends past the array")
        view = memoryview(self.values_region.buf)[offset : offset + length]
        return view if writable else view.toreadonly()

    # -------------------------------------------------------------- program side ---

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        self._cpu_ok(cpu)
        index = u32_of(key)
        if index >= self.max_entries:
            return 0
        return self.value_addr(index, cpu if self.PERCPU else 0)

    def bpf_lookup_percpu(self, key: bytes, target_cpu: int) -> int:
        if not self.PERCPU or not 0 <= target_cpu < self.num_cpus:
            return 0
        index = u32_of(key)
        if index >= self.max_entries:
            return 0
        return self.value_addr(index, target_cpu)

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        self._cpu_ok(cpu)
        index = u32_of(key)
        # Programs go through the plain array check, per-CPU or not.
        if (flags & ~BPF_F_LOCK) > BPF_EXIST:
            return -errno.EINVAL
        if index >= self.max_entries:
            return -errno.E2BIG
        if flags & BPF_NOEXIST:
            return -errno.EEXIST
        if flags & BPF_F_LOCK:
            return -errno.EINVAL
        off = self._off(index, cpu if self.PERCPU else 0)
        data = bytes(value[: self.value_size]).ljust(self.value_size, b"\0")
        self._kptr_free(self.values_region.buf, off)
        self.values_region.buf[off : off + self.value_size] = self._kptr_clean(data)
        return 0

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        return -errno.EINVAL

    def for_each_elem(self, cpu: int) -> Iterator[tuple[int, int]]:
        """Every index in order; the key lives in a small region of its own (the kernel
        passes a pointer to a local variable), rewritten for each element."""
        self._cpu_ok(cpu)
        if self._iter_key is None:
            self._iter_key = self._allocate(4, RegionKind.MAP_KEY, "iter_key", writable=False)
        key = self._iter_key
        for index in range(self.max_entries):
            key.buf[0:4] = index.to_bytes(4, "little")
            yield key.base, self.value_addr(index, cpu if self.PERCPU else 0)

    def direct_value_addr(self, off: int) -> int:
        """``BPF_PSEUDO_MAP_VALUE``: ``off`` bytes into the only element of a
        single-element array."""
        if self.spec.type != MapType.ARRAY:
            return super().direct_value_addr(off)
        if self.max_entries != 1:
            raise BpfError(ENOTSUPP, "direct value access needs a single-element array")
        if not 0 <= off < self.value_size:
            raise BpfError(errno.EINVAL, f"offset {off} is outside the {self.value_size}-byte value")
        return self.values_region.base + off

    # ------------------------------------------------------------------- Pythonic ---

    def __len__(self) -> int:
        return self.max_entries

    def __contains__(self, key: object) -> bool:
        try:
            return u32_of(to_bytes(key, 4, "key")) < self.max_entries
        except BpfError:
            return False


class PercpuArrayMap(ArrayMap):
    """``BPF_MAP_TYPE_PERCPU_ARRAY``."""

    PERCPU = True
    MMAP_OK = False


class _FdArray(ArrayMap):
    """Arrays whose values are kernel objects named by fd (prog_array, array_of_maps,
    perf_event_array, cgroup_array)."""

    FD_VALUES = True
    MMAP_OK = False
    # map_check_no_btf, except prog_array which has no BTF callback at all
    BTF_CHECK = True

    @classmethod
    def check_btf(cls, spec: MapSpec, key: BtfType, value: BtfType) -> None:
        reject_btf(spec)

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self.slots: list[Any] = [None] * self.max_entries if self.max_entries <= 1 << 24 else []
        self._sparse: dict[int, Any] = {}

    def _get(self, index: int) -> Any:
        if self.slots:
            return self.slots[index]
        return self._sparse.get(index)

    def _set(self, index: int, obj: Any) -> None:
        if self.slots:
            self.slots[index] = obj
        elif obj is None:
            self._sparse.pop(index, None)
        else:
            self._sparse[index] = obj

    def _object_id(self, obj: Any) -> int:
        return int(getattr(obj, "id", 0)) & 0xFFFFFFFF

    def _resolve(self, raw: Any) -> Any:
        raise NotImplementedError

    def _sys_value(self, value: Any) -> Any:
        if value is None:
            raise BpfError(errno.EFAULT, "value is NULL")
        return value  # resolved by _sys_update after the kernel's own checks

    def _sys_lookup(self, key: bytes) -> bytes:
        index = u32_of(key)
        obj = self._get(index) if index < self.max_entries else None
        if obj is None:
            raise BpfError(errno.ENOENT, f"slot {index} is empty")
        return self._object_id(obj).to_bytes(4, "little")

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        index = u32_of(key)
        if flags != BPF_ANY:
            raise BpfError(errno.EINVAL, "fd arrays only take BPF_ANY")
        if index >= self.max_entries:
            raise BpfError(errno.E2BIG, f"index {index} is out of range")
        self._set(index, self._resolve(value))

    def _sys_delete(self, key: bytes) -> None:
        index = u32_of(key)
        if index >= self.max_entries:
            raise BpfError(errno.E2BIG, f"index {index} is out of range")
        if self._get(index) is None:
            raise BpfError(errno.ENOENT, f"slot {index} is empty")
        self._set(index, None)

    def _mmap_view(self, writable: bool, offset: int, length: int | None) -> memoryview:
        raise BpfError(ENOTSUPP, "fd arrays cannot be memory-mapped")

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        return -errno.EINVAL  # the verifier never lets programs store fds

    def direct_value_addr(self, off: int) -> int:
        raise BpfError(errno.EINVAL, "no direct value access support for this map type")

    def for_each_elem(self, cpu: int) -> Iterator[tuple[int, int]]:
        raise BpfError(errno.EINVAL, f"{self.spec.type.case_name} maps have no for-each")

    def __getitem__(self, key: Any) -> Any:
        """The object in slot ``key`` (KeyError when empty)."""
        self._need_read()
        index = u32_of(self._need_key(key))
        obj = self._get(index) if index < self.max_entries else None
        if obj is None:
            raise KeyError(key)
        return obj

    def __contains__(self, key: object) -> bool:
        try:
            index = u32_of(to_bytes(key, 4, "key"))
        except BpfError:
            return False
        return index < self.max_entries and self._get(index) is not None

    def __len__(self) -> int:
        if self.slots:
            return sum(1 for x in self.slots if x is not None)
        return len(self._sparse)


class ProgArrayMap(_FdArray):
    """``BPF_MAP_TYPE_PROG_ARRAY``: tail-call targets.

    Stores program objects as given (opaque to the maps package).  A syscall-side update
    takes a program object or an fd (resolved through ``resolve_fd``); a lookup answers
    the program's ``id`` attribute.  The interpreter fetches ``get_program(index)``.
    """

    BATCH_OPS = frozenset()
    BTF_CHECK = False

    def _resolve(self, raw: Any) -> Any:
        target = raw
        if isinstance(raw, bytes | bytearray | memoryview | int) and not isinstance(raw, bool):
            fd = int.from_bytes(to_bytes(raw, 4, "program fd"), "little", signed=True)
            if self.resolve_fd is None:
                raise BpfError(errno.EBADF, f"fd {fd}: no resolver to turn fds into programs")
            target = self.resolve_fd(fd)
        if target is None or isinstance(target, Map):
            raise BpfError(errno.EINVAL, "the fd does not refer to a program")
        return target

    def get_program(self, index: int) -> Any:
        """The program in slot ``index`` or None (the tail call then falls through)."""
        if not 0 <= index < self.max_entries:
            return None
        return self._get(index)

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        return 0

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        return -errno.EINVAL


class ArrayOfMapsMap(InnerMapSlot, _FdArray):
    """``BPF_MAP_TYPE_ARRAY_OF_MAPS``: programs look up inner maps by index."""

    def _resolve(self, raw: Any) -> Any:
        return self._resolve_inner(raw)

    def _object_id(self, obj: Any) -> int:
        assert isinstance(obj, Map)
        return obj.id & 0xFFFFFFFF

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        index = u32_of(key)
        if index >= self.max_entries:
            return 0
        inner = self._get(index)
        return inner.address if isinstance(inner, Map) else 0

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        return -errno.EINVAL


def _array_update_message(err: int, index: int) -> str:
    return {
        errno.EINVAL: "invalid update flags",
        errno.E2BIG: f"index {index} is out of range",
        errno.EEXIST: "array elements always exist (BPF_NOEXIST)",
    }.get(err, "update failed")
