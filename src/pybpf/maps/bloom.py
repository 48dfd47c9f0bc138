"""The bloom filter map: a bit set that answers "maybe present" or "surely absent".

Values are pushed (``bpf_map_push_elem``, or a syscall update with a NULL key) and tested
(``bpf_map_peek_elem``, or a syscall lookup with a NULL key and the value to test in the
value buffer).  Nothing can be deleted or listed.  The kernel's rules, kept exactly so
that false positives agree bit for bit:

* ``nr_hash_funcs`` is ``map_extra`` (bits 0-3; 0 means 5);
* the bit set has ``max_entries * nr_hash_funcs / 5 * 7`` bits rounded up to a power of
  two, at least 64, or all 2^32 when that computation overflows 32 bits or passes 2^31;
* hash ``i`` of a value is ``jhash(value, seed + i)`` masked to the bit set (the kernel's
  ``jhash2`` on 32-bit words when the value size is a multiple of 4 is the same number);
* the seed is random unless ``BPF_F_ZERO_SEED``.
"""

from __future__ import annotations

import errno
import random
from typing import Any

from ..errors import BpfError
from .base import Map, ValueLike, to_bytes
from .btfinfo import BtfKind, BtfType
from .jhash import jhash
from .types import ACCESS_MASK, BPF_ANY, KMALLOC_MAX_SIZE, MapFlag, MapSpec

BLOOM_CREATE_FLAG_MASK = int(MapFlag.NUMA_NODE | MapFlag.ZERO_SEED) | ACCESS_MASK
DEFAULT_HASH_FUNCS = 5
U32_MAX = 0xFFFFFFFF


def bitset_mask(max_entries: int, nr_hash_funcs: int) -> int:
    """The kernel's bit-set size minus one for a bloom filter."""
    nr_bits = max_entries * nr_hash_funcs
    if nr_bits > U32_MAX:
        return U32_MAX
    nr_bits = nr_bits // 5 * 7
    if nr_bits > U32_MAX or nr_bits > 1 << 31:
        return U32_MAX
    if nr_bits <= 64:
        return 63
    return (1 << (nr_bits - 1).bit_length()) - 1


class BloomFilterMap(Map):
    """``BPF_MAP_TYPE_BLOOM_FILTER``."""

    BTF_CHECK = True

    @classmethod
    def validate(cls, spec: MapSpec, num_cpus: int) -> None:
        if spec.value_size > KMALLOC_MAX_SIZE:
            raise BpfError(errno.E2BIG, "bloom filter values are at most 4 MiB")
        flags = spec.flags
        if (
            spec.key_size != 0
            or spec.value_size == 0
            or spec.max_entries == 0
            or flags & ~BLOOM_CREATE_FLAG_MASK
            or (flags & MapFlag.RDONLY_PROG and flags & MapFlag.WRONLY_PROG)
            or spec.map_extra & ~0xF
        ):
            raise BpfError(errno.EINVAL, "invalid bloom filter attributes")

    @classmethod
    def check_btf(cls, spec: MapSpec, key: BtfType, value: BtfType) -> None:
        if key.kind is not BtfKind.VOID:
            raise BpfError(errno.EINVAL, "bloom filters have no key type")

    def __init__(self, spec: MapSpec, num_cpus: int) -> None:
        super().__init__(spec, num_cpus)
        self.nr_hash_funcs = spec.map_extra or DEFAULT_HASH_FUNCS
        self.bitset_mask = bitset_mask(spec.max_entries, self.nr_hash_funcs)
        self.seed = 0 if spec.flags & MapFlag.ZERO_SEED else random.getrandbits(32)
        # Set bits only: the largest filters have 2^32 bits, far too many to hold densely.
        self._bits: set[int] = set()

    # ------------------------------------------------------------------- core ---

    def _hashes(self, value: bytes) -> list[int]:
        return [jhash(value, (self.seed + i) & U32_MAX) & self.bitset_mask
                for i in range(self.nr_hash_funcs)]

    def _push(self, value: bytes, flags: int) -> int:
        if flags != BPF_ANY:
            return errno.EINVAL
        self._bits.update(self._hashes(value))
        return 0

    def _peek(self, value: bytes) -> int:
        return 0 if all(h in self._bits for h in self._hashes(value)) else errno.ENOENT

    @property
    def bits_set(self) -> int:
        """How many bits of the set are 1."""
        return len(self._bits)

    # ----------------------------------------------------------- syscall side ---

    def lookup(self, key: Any | None, flags: int = 0, value: ValueLike = None) -> bytes:
        """``BPF_MAP_LOOKUP_ELEM`` on a bloom filter: the value to test goes *in*
        (``value``); ENOENT when it is surely absent.  Returns the value unchanged."""
        if flags & ~4:
            raise BpfError(errno.EINVAL, f"unknown lookup flags 0x{flags:x}")
        self._need_read()
        if flags:
            raise BpfError(errno.EINVAL, "BPF_F_LOCK needs a bpf_spin_lock in the value")
        self._need_key(key)
        if value is None:
            raise BpfError(errno.EFAULT, "a bloom filter lookup needs the value to test")
        v = to_bytes(value, self.value_size, "value")
        err = self._peek(v)
        if err:
            raise BpfError(err, "value is not in the bloom filter")
        return v

    def _sys_update(self, key: bytes, value: Any, flags: int) -> None:
        err = self._push(value, flags)
        if err:
            raise BpfError(err, "bloom filters only take BPF_ANY")

    def _sys_delete(self, key: bytes) -> None:
        raise BpfError(errno.EOPNOTSUPP, "bloom filter elements cannot be deleted")

    def _sys_get_next_key(self, key: bytes | None) -> bytes:
        raise BpfError(errno.EOPNOTSUPP, "bloom filters have no keys")

    # ----------------------------------------------------------- program side ---

    def bpf_push(self, value: bytes, flags: int, cpu: int) -> int:
        self._cpu_ok(cpu)
        return -self._push(bytes(value[: self.value_size]).ljust(self.value_size, b"\0"), flags)

    def bpf_peek_value(self, value: bytes, cpu: int) -> int:
        """``bpf_map_peek_elem`` on a bloom filter reads the value to test from the
        program: 0 (maybe present) or -ENOENT."""
        self._cpu_ok(cpu)
        return -self._peek(bytes(value[: self.value_size]).ljust(self.value_size, b"\0"))

    def bpf_peek(self, cpu: int) -> bytes | int:
        return -errno.EINVAL  # a bloom filter peek needs the value: see bpf_peek_value

    def bpf_pop(self, cpu: int) -> bytes | int:
        return -errno.EOPNOTSUPP

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        return 0

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        return -errno.EINVAL

    def bpf_delete(self, key: bytes, cpu: int) -> int:
        return -errno.EOPNOTSUPP

    # --------------------------------------------------------------- Pythonic ---

    def push(self, value: ValueLike, flags: int = 0) -> None:
        """Add a value (a syscall update with a NULL key)."""
        self.update(None, to_bytes(value, self.value_size, "value"), flags)

    def peek(self, value: ValueLike) -> bool:
        """Whether ``value`` may be in the filter (a syscall lookup)."""
        try:
            self.lookup(None, 0, value)
        except BpfError as exc:
            if exc.errno == errno.ENOENT:
                return False
            raise
        return True

    def __contains__(self, value: object) -> bool:
        try:
            return self.peek(value)
        except BpfError:
            return False

    def __iter__(self) -> Any:
        raise BpfError(errno.EOPNOTSUPP, "bloom filters cannot be listed")

    def __len__(self) -> int:
        raise BpfError(errno.EOPNOTSUPP, "a bloom filter does not know how many values it holds")

    def items(self) -> list[tuple[bytes, Any]]:
        raise BpfError(errno.EOPNOTSUPP, "bloom filters cannot be listed")
