"""Map commands of bpf(): create, the element operations, freeze, and the batch operations.

Element and batch operations return the errno (0 on success) with whatever the kernel
wrote back, because a comparison with pybpf needs the errno of a failure as much as the
value of a success.  Values are given and returned at their *syscall* size: for per-CPU
maps that is ``round_up(value_size, 8) * possible_cpus()`` (see :func:`syscall_value_size`).
"""

from __future__ import annotations

import errno as _errno
import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from . import buffers
from .abi import MapBatchAttr, MapCreateAttr, MapElemAttr
from .syscall import OracleError, sys_bpf
from .uapi import PERCPU_MAP_TYPES, Cmd, MapType

Bytes = bytes | bytearray | memoryview


class ElemResult(NamedTuple):
    """The errno of an element operation and the bytes it returned (None on failure)."""

    errno: int
    value: bytes | None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a batch operation did: errno, the element count the kernel wrote back, and,
    for the lookup variants, the keys and values it copied out and the resume token."""

    errno: int
    count: int
    keys: tuple[bytes, ...] = ()
    values: tuple[bytes, ...] = ()
    out_batch: bytes | None = None


def parse_cpu_list(text: str) -> int:
    """How many CPUs a kernel cpu list such as ``0-3,8,10-11`` names."""
    total = 0
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        total += (int(hi) - int(lo) + 1) if hi else 1
    return total


@functools.cache
def possible_cpus() -> int:
    """num_possible_cpus() of the running kernel, the per-CPU value multiplier."""
    try:
        with open("/sys/devices/system/cpu/possible", encoding="ascii") as f:
            return max(1, parse_cpu_list(f.read()))
    except (OSError, ValueError):
        return os.cpu_count() or 1


def syscall_value_size(map_type: MapType | int, value_size: int) -> int:
    """The value size bpf() copies for a map: per-CPU maps carry one padded slot per CPU."""
    if map_type in PERCPU_MAP_TYPES:
        return ((value_size + 7) & ~7) * possible_cpus()
    return value_size


@dataclass(frozen=True, slots=True)
class _Layout:
    key_size: int
    value_total: int


def _layout(fd: int) -> _Layout | None:
    """The key and syscall value sizes of the map behind ``fd``, from /proc's fdinfo.

    The kernel copies the map's own sizes in and out whatever the caller meant, so buffers
    are sized from these (a wrong ``value_size_total`` would otherwise let the kernel
    write past a buffer).  None when ``fd`` is not a map or /proc is not there.
    """
    try:
        f = os.open(f"/proc/self/fdinfo/{fd}", os.O_RDONLY)
    except (OSError, ValueError):
        return None
    try:
        text = os.read(f, 4096)
    except OSError:
        return None
    finally:
        os.close(f)
    fields: dict[bytes, int] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(b":")
        if sep and name in (b"map_type", b"key_size", b"value_size"):
            try:
                fields[name] = int(value.strip())
            except ValueError:
                return None
    if len(fields) != 3:
        return None
    return _Layout(
        fields[b"key_size"], syscall_value_size(fields[b"map_type"], fields[b"value_size"])
    )


def _fit(data: Bytes | None, size: int | None) -> Bytes | None:
    """``data`` zero-padded to ``size``: the kernel reads that many bytes regardless."""
    if data is None or size is None or len(data) >= size or len(data) == 0:
        return data
    return bytes(data).ljust(size, b"\0")


def map_create(
    map_type: MapType | int,
    key_size: int,
    value_size: int,
    max_entries: int,
    flags: int = 0,
    inner_map_fd: int = 0,
    name: str | bytes = "",
    map_extra: int = 0,
    numa_node: int = 0,
    btf_fd: int = 0,
    btf_key_type_id: int = 0,
    btf_value_type_id: int = 0,
    btf_vmlinux_value_type_id: int = 0,
    value_type_btf_obj_fd: int = 0,
    map_ifindex: int = 0,
) -> int:
    """BPF_MAP_CREATE: the new map's fd, or :class:`OracleError` with the kernel's errno."""
    attr = MapCreateAttr()
    attr.map_type = int(map_type)
    attr.key_size = key_size & 0xFFFFFFFF
    attr.value_size = value_size & 0xFFFFFFFF
    attr.max_entries = max_entries & 0xFFFFFFFF
    attr.map_flags = flags & 0xFFFFFFFF
    attr.inner_map_fd = inner_map_fd & 0xFFFFFFFF
    attr.numa_node = numa_node & 0xFFFFFFFF
    attr.map_name = buffers.name_bytes(name)
    attr.map_ifindex = map_ifindex
    attr.btf_fd = btf_fd
    attr.btf_key_type_id = btf_key_type_id
    attr.btf_value_type_id = btf_value_type_id
    attr.btf_vmlinux_value_type_id = btf_vmlinux_value_type_id
    attr.map_extra = map_extra & 0xFFFFFFFFFFFFFFFF
    attr.value_type_btf_obj_fd = value_type_btf_obj_fd
    ret = sys_bpf(Cmd.MAP_CREATE, attr)
    if ret < 0:
        try:
            kind = MapType(int(map_type)).name.lower()
        except ValueError:
            kind = str(int(map_type))
        raise OracleError(-ret, f"BPF_MAP_CREATE ({kind})")
    return ret


def _elem(
    cmd: Cmd, fd: int, key: Bytes | None, value_addr: int, flags: int, layout: _Layout | None
) -> int:
    key_buf, key_addr = buffers.in_buffer(_fit(key, layout.key_size if layout else None))
    attr = MapElemAttr(map_fd=fd & 0xFFFFFFFF, key=key_addr, value=value_addr, flags=flags)
    ret = sys_bpf(cmd, attr)
    del key_buf
    return -ret if ret < 0 else 0


def _value_out(layout: _Layout | None, value_size_total: int) -> int:
    return layout.value_total if layout is not None else value_size_total


def map_lookup(fd: int, key: Bytes | None, value_size_total: int, flags: int = 0) -> ElemResult:
    """BPF_MAP_LOOKUP_ELEM (None key: a NULL pointer, as for queue/stack peek).

    The value comes back at the map's own syscall size, which the kernel always writes;
    ``value_size_total`` is used only when that size cannot be learned from /proc.
    """
    layout = _layout(fd)
    out, addr = buffers.out_buffer(_value_out(layout, value_size_total))
    err = _elem(Cmd.MAP_LOOKUP_ELEM, fd, key, addr, flags, layout)
    return ElemResult(err, None if err else buffers.read(out))


def map_update(fd: int, key: Bytes | None, value: Bytes, flags: int = 0) -> int:
    """BPF_MAP_UPDATE_ELEM: 0 or the errno (EEXIST for NOEXIST on a present key, ...).

    A value shorter than the map's syscall value size is zero-padded (the kernel would
    read past it); keys likewise.
    """
    layout = _layout(fd)
    val, addr = buffers.in_buffer(_fit(value, layout.value_total if layout else None))
    err = _elem(Cmd.MAP_UPDATE_ELEM, fd, key, addr, flags, layout)
    del val
    return err


def map_delete(fd: int, key: Bytes | None, flags: int = 0) -> int:
    """BPF_MAP_DELETE_ELEM: 0 or the errno."""
    return _elem(Cmd.MAP_DELETE_ELEM, fd, key, 0, flags, _layout(fd))


def map_get_next_key(fd: int, key: Bytes | None, key_size: int) -> ElemResult:
    """BPF_MAP_GET_NEXT_KEY; None asks for the first key."""
    layout = _layout(fd)
    out, addr = buffers.out_buffer(layout.key_size if layout is not None else key_size)
    err = _elem(Cmd.MAP_GET_NEXT_KEY, fd, key, addr, 0, layout)
    return ElemResult(err, None if err else buffers.read(out))


def map_lookup_and_delete(
    fd: int, key: Bytes | None, value_size_total: int, flags: int = 0
) -> ElemResult:
    """BPF_MAP_LOOKUP_AND_DELETE_ELEM (None key for a queue/stack pop)."""
    layout = _layout(fd)
    out, addr = buffers.out_buffer(_value_out(layout, value_size_total))
    err = _elem(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, fd, key, addr, flags, layout)
    return ElemResult(err, None if err else buffers.read(out))


def map_freeze(fd: int) -> int:
    """BPF_MAP_FREEZE: 0 or the errno (EBUSY if it is mapped writable, ...)."""
    return _elem(Cmd.MAP_FREEZE, fd, None, 0, 0, None)


def map_items(
    fd: int, key_size: int, value_size_total: int, limit: int = 1 << 20
) -> tuple[int, list[tuple[bytes, bytes]]]:
    """Every (key, value) in iteration order, via GET_NEXT_KEY and LOOKUP.

    Returns the errno that stopped the walk (0 once GET_NEXT_KEY says ENOENT) and the
    elements read so far.  A key that vanishes between the two calls is skipped.
    """
    items: list[tuple[bytes, bytes]] = []
    key: bytes | None = None
    for _ in range(limit):
        err, nxt = map_get_next_key(fd, key, key_size)
        if err:
            return (0 if err == _errno.ENOENT else err), items
        assert nxt is not None
        err, value = map_lookup(fd, nxt, value_size_total)
        if err == 0 and value is not None:
            items.append((nxt, value))
        elif err != _errno.ENOENT:
            return err, items
        key = nxt
    return 0, items


def _batch_lookup(
    cmd: Cmd,
    fd: int,
    count: int,
    key_size: int,
    value_size_total: int,
    in_batch: Bytes | None,
    elem_flags: int,
    flags: int,
    token_size: int | None,
) -> BatchResult:
    layout = _layout(fd)
    if layout is not None:
        key_size, value_size_total = layout.key_size, layout.value_total
    tok_size = token_size if token_size is not None else max(key_size, 8)
    in_buf, in_addr = buffers.in_buffer(_fit(in_batch, tok_size))
    out_tok, out_addr = buffers.out_buffer(tok_size)
    keys, keys_addr = buffers.out_buffer(max(count, 0) * key_size)
    vals, vals_addr = buffers.out_buffer(max(count, 0) * value_size_total)
    attr = MapBatchAttr(
        in_batch=in_addr,
        out_batch=out_addr,
        keys=keys_addr,
        values=vals_addr,
        count=max(count, 0) & 0xFFFFFFFF,
        map_fd=fd & 0xFFFFFFFF,
        elem_flags=elem_flags,
        flags=flags,
    )
    ret = sys_bpf(cmd, attr)
    del in_buf
    got = min(int(attr.count), max(count, 0))
    raw_keys = buffers.read(keys)
    raw_vals = buffers.read(vals)
    return BatchResult(
        errno=-ret if ret < 0 else 0,
        count=int(attr.count),
        keys=tuple(raw_keys[i * key_size : (i + 1) * key_size] for i in range(got)),
        values=tuple(
            raw_vals[i * value_size_total : (i + 1) * value_size_total] for i in range(got)
        ),
        out_batch=buffers.read(out_tok) if out_tok is not None else None,
    )


def map_lookup_batch(
    fd: int,
    count: int,
    key_size: int,
    value_size_total: int,
    in_batch: Bytes | None = None,
    elem_flags: int = 0,
    flags: int = 0,
    token_size: int | None = None,
) -> BatchResult:
    """BPF_MAP_LOOKUP_BATCH: up to ``count`` elements after the ``in_batch`` token.

    ``out_batch`` is the token to pass back as ``in_batch`` to go on; the kernel answers
    ENOENT (with the last elements still copied) once the walk is over.  The token buffer
    is ``max(key_size, 8)`` bytes unless ``token_size`` says otherwise.
    """
    return _batch_lookup(
        Cmd.MAP_LOOKUP_BATCH, fd, count, key_size, value_size_total,
        in_batch, elem_flags, flags, token_size,
    )  # fmt: skip


def map_lookup_and_delete_batch(
    fd: int,
    count: int,
    key_size: int,
    value_size_total: int,
    in_batch: Bytes | None = None,
    elem_flags: int = 0,
    flags: int = 0,
    token_size: int | None = None,
) -> BatchResult:
    """BPF_MAP_LOOKUP_AND_DELETE_BATCH, the same contract as :func:`map_lookup_batch`."""
    return _batch_lookup(
        Cmd.MAP_LOOKUP_AND_DELETE_BATCH, fd, count, key_size, value_size_total,
        in_batch, elem_flags, flags, token_size,
    )  # fmt: skip


def _batch_write(
    cmd: Cmd,
    fd: int,
    keys: Sequence[Bytes],
    values: Sequence[Bytes] | None,
    elem_flags: int,
    flags: int,
) -> BatchResult:
    layout = _layout(fd)
    ks = layout.key_size if layout is not None else None
    vs = layout.value_total if layout is not None else None
    raw_keys = b"".join(bytes(_fit(k, ks) or b"") for k in keys)
    raw_vals = b"".join(bytes(_fit(v, vs) or b"") for v in values) if values is not None else None
    if ks is not None:  # the kernel reads count whole keys (and values), listed or not
        raw_keys = raw_keys.ljust(len(keys) * ks, b"\0")
    if vs is not None and raw_vals is not None:
        raw_vals = raw_vals.ljust(len(keys) * vs, b"\0")
    key_buf, key_addr = buffers.in_buffer(raw_keys)
    val_buf, val_addr = buffers.in_buffer(raw_vals)
    attr = MapBatchAttr(
        keys=key_addr,
        values=val_addr,
        count=len(keys) & 0xFFFFFFFF,
        map_fd=fd & 0xFFFFFFFF,
        elem_flags=elem_flags,
        flags=flags,
    )
    ret = sys_bpf(cmd, attr)
    del key_buf, val_buf
    return BatchResult(errno=-ret if ret < 0 else 0, count=int(attr.count))


def map_update_batch(
    fd: int,
    keys: Sequence[Bytes],
    values: Sequence[Bytes],
    elem_flags: int = 0,
    flags: int = 0,
) -> BatchResult:
    """BPF_MAP_UPDATE_BATCH; ``count`` in the result is how many the kernel applied."""
    return _batch_write(Cmd.MAP_UPDATE_BATCH, fd, keys, values, elem_flags, flags)


def map_delete_batch(
    fd: int, keys: Sequence[Bytes], elem_flags: int = 0, flags: int = 0
) -> BatchResult:
    """BPF_MAP_DELETE_BATCH; ``count`` in the result is how many the kernel deleted."""
    return _batch_write(Cmd.MAP_DELETE_BATCH, fd, keys, None, elem_flags, flags)
