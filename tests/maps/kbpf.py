"""A tiny private bpf(2) wrapper for the maps differential tests.

Only what the map tests need: create maps, the element and batch commands, freeze, and a
small socket-filter program that performs program-side map operations (so LRU reference
bits and per-CPU program writes can be compared).  Every call returns ``(err, ...)`` with
``err`` the positive errno (0 on success) instead of raising, so results compare directly
with pybpf's errnos.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
from dataclasses import dataclass

SYS_BPF = 321  # x86-64

MAP_CREATE = 0
MAP_LOOKUP_ELEM = 1
MAP_UPDATE_ELEM = 2
MAP_DELETE_ELEM = 3
MAP_GET_NEXT_KEY = 4
PROG_LOAD = 5
PROG_TEST_RUN = 10
MAP_LOOKUP_AND_DELETE_ELEM = 21
MAP_FREEZE = 22
MAP_LOOKUP_BATCH = 24
MAP_LOOKUP_AND_DELETE_BATCH = 25
MAP_UPDATE_BATCH = 26
MAP_DELETE_BATCH = 27
OBJ_GET_INFO_BY_FD = 15

ATTR_SIZE = 160

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _buf(data: bytes | int) -> ctypes.Array[ctypes.c_char]:
    if isinstance(data, int):
        return ctypes.create_string_buffer(max(data, 1))
    return ctypes.create_string_buffer(bytes(data), max(len(data), 1))


def _addr(b: ctypes.Array[ctypes.c_char] | None) -> int:
    return 0 if b is None else ctypes.addressof(b)


def bpf(cmd: int, attr: bytearray) -> tuple[int, int, bytes]:
    """Run one command; returns (result or -1, errno, the attr after the call)."""
    raw = (ctypes.c_char * ATTR_SIZE).from_buffer(attr)
    ctypes.set_errno(0)
    ret = _libc.syscall(SYS_BPF, cmd, ctypes.byref(raw), ATTR_SIZE)
    err = ctypes.get_errno() if ret < 0 else 0
    return ret, err, bytes(attr)


def available() -> tuple[bool, str]:
    """Whether bpf() works here (map creation succeeds)."""
    try:
        err, fd = create_map(1, 4, 4, 1)
    except OSError as exc:  # pragma: no cover - no libc
        return False, str(exc)
    if err:
        return False, f"bpf() refused: {errno.errorcode.get(err, err)}"
    os.close(fd)
    return True, ""


def create_map(
    map_type: int,
    key_size: int,
    value_size: int,
    max_entries: int,
    flags: int = 0,
    inner_fd: int = 0,
    name: bytes = b"",
    map_extra: int = 0,
    numa_node: int = 0,
) -> tuple[int, int]:
    attr = bytearray(ATTR_SIZE)
    struct.pack_into(
        "<IIIIIII", attr, 0, map_type, key_size, value_size, max_entries, flags, inner_fd, numa_node
    )
    attr[28 : 28 + len(name[:16])] = name[:16]
    struct.pack_into("<Q", attr, 64, map_extra)
    ret, err, _ = bpf(MAP_CREATE, attr)
    return err, ret


def map_info(fd: int) -> dict[str, int]:
    info = ctypes.create_string_buffer(256)
    attr = bytearray(ATTR_SIZE)
    struct.pack_into("<IIQ", attr, 0, fd, 256, ctypes.addressof(info))
    _, err, _ = bpf(OBJ_GET_INFO_BY_FD, attr)
    if err:
        return {"errno": err}
    t, i, k, v, m, f = struct.unpack_from("<IIIIII", info.raw, 0)
    return {"type": t, "id": i, "key_size": k, "value_size": v, "max_entries": m, "flags": f}


def _elem(cmd: int, fd: int, key: bytes | None, value: ctypes.Array[ctypes.c_char] | None,
          flags: int) -> int:
    kb = None if key is None else _buf(key)
    attr = bytearray(ATTR_SIZE)
    struct.pack_into("<IIQQQ", attr, 0, fd, 0, _addr(kb), _addr(value), flags)
    _, err, _ = bpf(cmd, attr)
    return err


def lookup(fd: int, key: bytes | None, value_size: int, flags: int = 0) -> tuple[int, bytes]:
    vb = _buf(value_size)
    err = _elem(MAP_LOOKUP_ELEM, fd, key, vb, flags)
    return err, (b"" if err else vb.raw[:value_size])


def update(fd: int, key: bytes | None, value: bytes, flags: int = 0) -> int:
    return _elem(MAP_UPDATE_ELEM, fd, key, _buf(value), flags)


def delete(fd: int, key: bytes | None) -> int:
    return _elem(MAP_DELETE_ELEM, fd, key, None, 0)


def get_next_key(fd: int, key: bytes | None, key_size: int) -> tuple[int, bytes]:
    nb = _buf(key_size)
    err = _elem(MAP_GET_NEXT_KEY, fd, key, nb, 0)
    return err, (b"" if err else nb.raw[:key_size])


def lookup_and_delete(fd: int, key: bytes | None, value_size: int,
                      flags: int = 0) -> tuple[int, bytes]:
    vb = _buf(value_size)
    err = _elem(MAP_LOOKUP_AND_DELETE_ELEM, fd, key, vb, flags)
    return err, (b"" if err else vb.raw[:value_size])


def freeze(fd: int) -> int:
    attr = bytearray(ATTR_SIZE)
    struct.pack_into("<I", attr, 0, fd)
    return bpf(MAP_FREEZE, attr)[1]


@dataclass
class KBatch:
    err: int
    count: int
    keys: list[bytes]
    values: list[bytes]
    out_batch: bytes | None


def lookup_batch(fd: int, in_batch: bytes | None, count: int, key_size: int, value_size: int,
                 token_size: int, delete: bool = False, elem_flags: int = 0,
                 flags: int = 0) -> KBatch:
    """BPF_MAP_LOOKUP(_AND_DELETE)_BATCH; out_batch is None when the kernel left it alone."""
    sentinel = b"\xa5" * token_size
    ib = None if in_batch is None else _buf(in_batch)
    ob = _buf(sentinel)
    kb = _buf(max(count, 1) * max(key_size, 1))
    vb = _buf(max(count, 1) * max(value_size, 1))
    attr = bytearray(ATTR_SIZE)
    struct.pack_into("<QQQQIIQQ", attr, 0, _addr(ib), _addr(ob), _addr(kb), _addr(vb), count,
                     fd, elem_flags, flags)
    _, err, after = bpf(MAP_LOOKUP_AND_DELETE_BATCH if delete else MAP_LOOKUP_BATCH, attr)
    n = struct.unpack_from("<I", after, 32)[0]
    keys = [kb.raw[i * key_size : (i + 1) * key_size] for i in range(min(n, count))]
    values = [vb.raw[i * value_size : (i + 1) * value_size] for i in range(min(n, count))]
    out = ob.raw[:token_size]
    return KBatch(err, n, keys, values, None if out == sentinel else out)


def update_batch(fd: int, keys: list[bytes], values: list[bytes], elem_flags: int = 0,
                 flags: int = 0) -> tuple[int, int]:
    kb = _buf(b"".join(keys))
    vb = _buf(b"".join(values))
    attr = bytearray(ATTR_SIZE)
    struct.pack_into("<QQQQIIQQ", attr, 0, 0, 0, _addr(kb), _addr(vb), len(keys), fd,
                     elem_flags, flags)
    _, err, after = bpf(MAP_UPDATE_BATCH, attr)
    return err, struct.unpack_from("<I", after, 32)[0]


def delete_batch(fd: int, keys: list[bytes], elem_flags: int = 0, flags: int = 0) -> tuple[int, int]:
    kb = _buf(b"".join(keys))
    attr = bytearray(ATTR_SIZE)
    struct.pack_into("<QQQQIIQQ", attr, 0, 0, 0, _addr(kb), 0, len(keys), fd, elem_flags, flags)
    _, err, after = bpf(MAP_DELETE_BATCH, attr)
    return err, struct.unpack_from("<I", after, 32)[0]


# --- a program that performs map operations from the program side ---------------------

def _insn(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def _ld_map_fd(dst: int, fd: int) -> bytes:
    return _insn(0x18, dst, 1, 0, fd) + _insn(0, 0, 0, 0, 0)


def prog_ops_program(map_fd: int, key_size: int, value_size: int) -> bytes:
    """Socket filter: packet = op u64, flags u64, key (8 bytes), value (32 bytes).

    op 0: lookup (returns 1 + first value byte when found, else 0);
    op 1: update with flags (returns the helper's value); op 2: delete.
    """
    fp = 10
    out = b""
    # r6 = ctx
    out += _insn(0xBF, 6, 1)
    # bpf_skb_load_bytes(ctx, 0, fp-64, 56): op, flags, key, value
    out += _insn(0xBF, 1, 6)
    out += _insn(0xB7, 2, 0, 0, 0)
    out += _insn(0xBF, 3, fp)
    out += _insn(0x07, 3, 0, 0, -64)
    out += _insn(0xB7, 4, 0, 0, 56)
    out += _insn(0x85, 0, 0, 0, 26)
    # r7 = op
    out += _insn(0x79, 7, fp, -64)
    # r2 = &key (fp-48), r3 = &value (fp-40)
    body_lookup = (
        _ld_map_fd(1, map_fd)
        + _insn(0xBF, 2, fp) + _insn(0x07, 2, 0, 0, -48)
        + _insn(0x85, 0, 0, 0, 1)
        + _insn(0x15, 0, 0, 2, 0)          # if r0 == 0 goto +2
        + _insn(0x71, 0, 0, 0)             # r0 = *(u8 *)(r0 + 0)
        + _insn(0x07, 0, 0, 0, 1)          # r0 += 1
        + _insn(0x95)
    )
    body_update = (
        _ld_map_fd(1, map_fd)
        + _insn(0xBF, 2, fp) + _insn(0x07, 2, 0, 0, -48)
        + _insn(0xBF, 3, fp) + _insn(0x07, 3, 0, 0, -40)
        + _insn(0x79, 4, fp, -56)
        + _insn(0x85, 0, 0, 0, 2)
        + _insn(0x95)
    )
    body_delete = (
        _ld_map_fd(1, map_fd)
        + _insn(0xBF, 2, fp) + _insn(0x07, 2, 0, 0, -48)
        + _insn(0x85, 0, 0, 0, 3)
        + _insn(0x95)
    )
    n_upd = len(body_update) // 8
    n_lookup = len(body_lookup) // 8
    # if r7 == 1 goto update; if r7 == 2 goto delete; else lookup
    out += _insn(0x15, 7, 0, 1 + n_lookup, 1)
    out += _insn(0x15, 7, 0, n_lookup + n_upd, 2)
    out += body_lookup + body_update + body_delete
    return out


def load_socket_filter(insns: bytes) -> tuple[int, int, str]:
    log = ctypes.create_string_buffer(1 << 16)
    ib = _buf(insns)
    lic = ctypes.create_string_buffer(b"GPL")
    attr = bytearray(ATTR_SIZE)
    struct.pack_into("<IIQQIIQ", attr, 0, 1, len(insns) // 8, ctypes.addressof(ib),
                     ctypes.addressof(lic), 1, len(log), ctypes.addressof(log))
    ret, err, _ = bpf(PROG_LOAD, attr)
    return err, ret, log.value.decode(errors="replace")


def test_run(prog_fd: int, data: bytes) -> tuple[int, int]:
    db = _buf(data)
    attr = bytearray(ATTR_SIZE)
    # prog_fd, retval, data_size_in, data_size_out, data_in, data_out, repeat, duration
    struct.pack_into("<IIIIQQII", attr, 0, prog_fd, 0, len(data), 0, ctypes.addressof(db), 0, 1, 0)
    _, err, after = bpf(PROG_TEST_RUN, attr)
    return err, struct.unpack_from("<I", after, 4)[0]


def prog_packet(op: int, flags: int, key: bytes, value: bytes = b"") -> bytes:
    # socket filters see the packet after its 14-byte Ethernet header
    return bytes(14) + struct.pack("<QQ", op, flags) + key.ljust(8, b"\0") + value.ljust(32, b"\0")


def prog_info_id(prog_fd: int) -> int:
    info = ctypes.create_string_buffer(256)
    attr = bytearray(ATTR_SIZE)
    struct.pack_into("<IIQ", attr, 0, prog_fd, 256, ctypes.addressof(info))
    _, err, _ = bpf(OBJ_GET_INFO_BY_FD, attr)
    return -err if err else struct.unpack_from("<I", info.raw, 4)[0]


def trivial_program() -> bytes:
    return _insn(0xB7, 0, 0, 0, 0) + _insn(0x95)


def ringbuf_program(map_fd: int) -> bytes:
    """Socket filter on a ring buffer; packet = op u64, arg u64, data (32 bytes).

    op 0: bpf_ringbuf_output(data, arg & 31, 0); op 1: bpf_ringbuf_query(arg);
    op 2: reserve 20 bytes, store arg, discard if arg is odd else submit (returns 0 when
    the reservation failed); op 3: the same with 1000 bytes.
    """
    fp = 10
    out = _insn(0xBF, 6, 1)
    out += _insn(0xBF, 1, 6) + _insn(0xB7, 2, 0, 0, 0) + _insn(0xBF, 3, fp)
    out += _insn(0x07, 3, 0, 0, -48) + _insn(0xB7, 4, 0, 0, 48) + _insn(0x85, 0, 0, 0, 26)
    out += _insn(0x79, 7, fp, -48) + _insn(0x79, 8, fp, -40)

    def reserve(size: int) -> bytes:
        return (
            _ld_map_fd(1, map_fd) + _insn(0xB7, 2, 0, 0, size) + _insn(0xB7, 3, 0, 0, 0)
            + _insn(0x85, 0, 0, 0, 131)
            + _insn(0x55, 0, 0, 2, 0)           # if r0 != 0 goto +2
            + _insn(0xB7, 0, 0, 0, 0) + _insn(0x95)
            + _insn(0x7B, 0, 8, 0)              # *(u64 *)(r0 + 0) = r8
            + _insn(0xBF, 1, 0) + _insn(0xB7, 2, 0, 0, 0)
            + _insn(0xBF, 9, 8) + _insn(0x57, 9, 0, 0, 1)
            + _insn(0x55, 9, 0, 3, 0)           # if r9 != 0 goto discard
            + _insn(0x85, 0, 0, 0, 132) + _insn(0xB7, 0, 0, 0, 1) + _insn(0x95)
            + _insn(0x85, 0, 0, 0, 133) + _insn(0xB7, 0, 0, 0, 2) + _insn(0x95)
        )

    output = (
        _ld_map_fd(1, map_fd) + _insn(0xBF, 2, fp) + _insn(0x07, 2, 0, 0, -32)
        + _insn(0xBF, 3, 8) + _insn(0x57, 3, 0, 0, 31) + _insn(0xB7, 4, 0, 0, 0)
        + _insn(0x85, 0, 0, 0, 130) + _insn(0x95)
    )
    query = _ld_map_fd(1, map_fd) + _insn(0xBF, 2, 8) + _insn(0x85, 0, 0, 0, 134) + _insn(0x95)
    r20, r1000 = reserve(20), reserve(1000)
    n_out, n_q, n_r20 = len(output) // 8, len(query) // 8, len(r20) // 8
    out += _insn(0x15, 7, 0, 2 + n_out, 1)
    out += _insn(0x15, 7, 0, 1 + n_out + n_q, 2)
    out += _insn(0x15, 7, 0, n_out + n_q + n_r20, 3)
    return out + output + query + r20 + r1000


def ringbuf_packet(op: int, arg: int, data: bytes = b"") -> bytes:
    return bytes(14) + struct.pack("<QQ", op, arg) + data.ljust(32, b"\0")[:32]


def lookup_in(fd: int, key: bytes | None, value: bytes, flags: int = 0) -> int:
    """BPF_MAP_LOOKUP_ELEM whose value buffer carries input (a bloom filter's query)."""
    return _elem(MAP_LOOKUP_ELEM, fd, key, _buf(value), flags)
