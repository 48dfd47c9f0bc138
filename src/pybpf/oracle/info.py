"""BPF_OBJ_GET_INFO_BY_FD and the *_GET_FD_BY_ID commands: what the kernel says it holds."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import NamedTuple

from . import buffers
from .abi import GetIdAttr, InfoAttr, MapInfoStruct, ProgInfoStruct
from .syscall import OracleError, sys_bpf
from .uapi import Cmd


class InfoResult(NamedTuple):
    """The errno of BPF_OBJ_GET_INFO_BY_FD and the info bytes the kernel filled."""

    errno: int
    info: bytes


@dataclass(frozen=True, slots=True)
class MapInfo:
    type: int
    id: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int
    name: str
    btf_id: int = 0
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0
    btf_vmlinux_value_type_id: int = 0
    map_extra: int = 0


@dataclass(frozen=True, slots=True)
class ProgInfo:
    type: int
    id: int
    tag: bytes
    name: str
    xlated_prog_len: int
    jited_prog_len: int
    verified_insns: int
    map_ids: tuple[int, ...]
    gpl_compatible: bool
    btf_id: int
    run_time_ns: int
    run_cnt: int


def _get_info(fd: int, info: ctypes.Structure) -> int:
    attr = InfoAttr(
        bpf_fd=fd & 0xFFFFFFFF, info_len=ctypes.sizeof(info), info=ctypes.addressof(info)
    )
    ret = sys_bpf(Cmd.OBJ_GET_INFO_BY_FD, attr)
    return -ret if ret < 0 else 0


def obj_get_info(fd: int, info_size: int = 256) -> InfoResult:
    """The raw info struct of any bpf object fd (map, program, BTF, link)."""
    buf, addr = buffers.out_buffer(info_size)
    attr = InfoAttr(bpf_fd=fd & 0xFFFFFFFF, info_len=info_size, info=addr)
    ret = sys_bpf(Cmd.OBJ_GET_INFO_BY_FD, attr)
    if ret < 0:
        return InfoResult(-ret, b"")
    return InfoResult(0, buffers.read(buf, int(attr.info_len)))


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="backslashreplace")


def map_get_info(fd: int) -> MapInfo:
    """The map's type, id, sizes, flags and name, as the kernel reports them."""
    info = MapInfoStruct()
    err = _get_info(fd, info)
    if err:
        raise OracleError(err, "BPF_OBJ_GET_INFO_BY_FD (map)")
    return MapInfo(
        type=int(info.type),
        id=int(info.id),
        key_size=int(info.key_size),
        value_size=int(info.value_size),
        max_entries=int(info.max_entries),
        flags=int(info.map_flags),
        name=_text(bytes(info.name)),
        btf_id=int(info.btf_id),
        btf_key_type_id=int(info.btf_key_type_id),
        btf_value_type_id=int(info.btf_value_type_id),
        btf_vmlinux_value_type_id=int(info.btf_vmlinux_value_type_id),
        map_extra=int(info.map_extra),
    )


def prog_get_info(fd: int) -> ProgInfo:
    """The program's type, id, tag, sizes, verified instruction count and map ids."""
    info = ProgInfoStruct()
    err = _get_info(fd, info)
    if err:
        raise OracleError(err, "BPF_OBJ_GET_INFO_BY_FD (prog)")
    n_maps = int(info.nr_map_ids)
    ids: tuple[int, ...] = ()
    if n_maps:
        arr = (ctypes.c_uint32 * n_maps)()
        again = ProgInfoStruct(nr_map_ids=n_maps, map_ids=ctypes.addressof(arr))
        if _get_info(fd, again) == 0:
            ids = tuple(int(x) for x in arr[: min(n_maps, int(again.nr_map_ids))])
    return ProgInfo(
        type=int(info.type),
        id=int(info.id),
        tag=bytes(info.tag),
        name=_text(bytes(info.name)),
        xlated_prog_len=int(info.xlated_prog_len),
        jited_prog_len=int(info.jited_prog_len),
        verified_insns=int(info.verified_insns),
        map_ids=ids,
        gpl_compatible=bool(int(info.gpl_bits) & 1),
        btf_id=int(info.btf_id),
        run_time_ns=int(info.run_time_ns),
        run_cnt=int(info.run_cnt),
    )


def prog_xlated_insns(fd: int) -> bytes:
    """The program as the verifier rewrote it (ctx accesses converted, calls fixed up)."""
    first = ProgInfoStruct()
    err = _get_info(fd, first)
    if err:
        raise OracleError(err, "BPF_OBJ_GET_INFO_BY_FD (prog)")
    size = int(first.xlated_prog_len)
    buf, addr = buffers.out_buffer(size)
    again = ProgInfoStruct(xlated_prog_len=size, xlated_prog_insns=addr)
    err = _get_info(fd, again)
    if err:
        raise OracleError(err, "BPF_OBJ_GET_INFO_BY_FD (prog xlated insns)")
    return buffers.read(buf, min(size, int(again.xlated_prog_len)))


def _fd_by_id(cmd: Cmd, obj_id: int, what: str) -> int:
    attr = GetIdAttr(id=obj_id & 0xFFFFFFFF)
    ret = sys_bpf(cmd, attr)
    if ret < 0:
        raise OracleError(-ret, f"{what} {obj_id}")
    return ret


def map_fd_by_id(map_id: int) -> int:
    """A new fd for the map with this id (map-in-map lookups return ids)."""
    return _fd_by_id(Cmd.MAP_GET_FD_BY_ID, map_id, "BPF_MAP_GET_FD_BY_ID")


def prog_fd_by_id(prog_id: int) -> int:
    """A new fd for the program with this id (prog-array lookups return ids)."""
    return _fd_by_id(Cmd.PROG_GET_FD_BY_ID, prog_id, "BPF_PROG_GET_FD_BY_ID")


def btf_fd_by_id(btf_id: int) -> int:
    return _fd_by_id(Cmd.BTF_GET_FD_BY_ID, btf_id, "BPF_BTF_GET_FD_BY_ID")
