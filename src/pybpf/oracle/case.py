"""A case file (``docs: /work/shared/spec/case-format.md``) loaded into the running kernel.

:func:`load_case` does what a loader does before BPF_PROG_LOAD (create the maps, write
``map_init`` at key 0, freeze), loads the program with ``fd_array`` = the map fds so that
``BPF_PSEUDO_MAP_IDX``/``_IDX_VALUE`` resolve, and runs it once loaded when the case has a
``run`` section.  The result has the shape of ``pybpf verify/run --json``, so the two can
be compared field by field.
"""

from __future__ import annotations

import enum
import errno as _errno
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import BpfError
from . import maps as _maps
from .log import summarize_log
from .progs import DEFAULT_LOG_SIZE, MAX_LOG_SIZE, LoadResult, prog_test_run
from .session import Session
from .syscall import OracleError, errno_text
from .uapi import (
    PSEUDO_MAP_IDX,
    PSEUDO_MAP_IDX_VALUE,
    AttachType,
    ElemFlag,
    MapType,
    ProgType,
    attach_type_by_name,
    map_type_by_name,
    prog_type_by_name,
)

_FD_ARRAY_LIMIT = 1 << 16
"""The most fd_array slots a case gets; indexes past its maps read -1 (EBADF), not junk."""
_LDDW = 0x18
_CALL = 0x85
_PSEUDO_KFUNC_CALL = 2

_ARGS_ONLY_TYPES = frozenset(
    {ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE, ProgType.SYSCALL}
)
"""Program types whose test run refuses ``repeat``, ``ctx_out`` and a packet: one run is
asked as ``repeat`` 0, and the context comes back in place (``syscall``) or not at all."""


# --- the case, parsed --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MapSpec:
    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    inner: MapSpec | None = None
    map_init: bytes | None = None
    freeze: bool = False


@dataclass(frozen=True, slots=True)
class RunSpec:
    data: bytes
    ctx: bytes | None
    repeat: int


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    prog_type: ProgType
    expected_attach_type: AttachType | None
    insns: bytes
    maps: tuple[MapSpec, ...]
    run: RunSpec | None


def _bad(what: str) -> BpfError:
    return BpfError(_errno.EINVAL, f"case: {what}")


def _int(d: Mapping[str, Any], key: str, default: int = 0) -> int:
    v = d.get(key, default)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int):
        raise _bad(f"{key} must be an integer, not {v!r}")
    return v


def _hex(v: object, what: str) -> bytes | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise _bad(f"{what} must be a hex string")
    try:
        return bytes.fromhex("".join(v.split()))
    except ValueError:
        raise _bad(f"{what} is not valid hex") from None


def _map_spec(d: object, where: str) -> MapSpec:
    if not isinstance(d, Mapping):
        raise _bad(f"{where} must be an object")
    if "type" not in d:
        raise _bad(f"{where} has no type")
    inner = d.get("inner")
    return MapSpec(
        type=map_type_by_name(d["type"]),
        key_size=_int(d, "key_size"),
        value_size=_int(d, "value_size"),
        max_entries=_int(d, "max_entries"),
        flags=_int(d, "flags"),
        inner=_map_spec(inner, f"{where}.inner") if inner is not None else None,
        map_init=_hex(d.get("map_init"), f"{where}.map_init"),
        freeze=bool(d.get("freeze", False)),
    )


def parse_case(case: Mapping[str, Any]) -> Case:
    """The case's fields, checked; malformed cases raise BpfError(EINVAL)."""
    if not isinstance(case, Mapping):
        raise _bad("a case must be a JSON object")
    if "prog_type" not in case or "insns" not in case:
        raise _bad("prog_type and insns are required")
    insns = _hex(case["insns"], "insns") or b""
    if len(insns) % 8:
        raise _bad(f"insns hold {len(insns)} bytes, not a multiple of 8")
    eat = case.get("expected_attach_type")
    maps = case.get("maps") or []
    if not isinstance(maps, Sequence) or isinstance(maps, str):
        raise _bad("maps must be a list")
    run = case.get("run")
    run_spec = None
    if run is not None:
        if not isinstance(run, Mapping):
            raise _bad("run must be an object")
        run_spec = RunSpec(
            data=_hex(run.get("data"), "run.data") or b"",
            ctx=_hex(run.get("ctx"), "run.ctx"),
            repeat=_int(run, "repeat", 1),
        )
    name = case.get("name")
    return Case(
        name=name if isinstance(name, str) else "",
        prog_type=prog_type_by_name(case["prog_type"]),
        expected_attach_type=attach_type_by_name(eat) if eat is not None else None,
        insns=insns,
        maps=tuple(_map_spec(m, f"maps[{i}]") for i, m in enumerate(maps)),
        run=run_spec,
    )


# --- the result --------------------------------------------------------------------------


class CaseStep(enum.StrEnum):
    """The loader step a case failed at, when it failed before the verifier's verdict."""

    MAP_CREATE = "map_create"
    MAP_INIT = "map_init"
    MAP_FREEZE = "map_freeze"


@dataclass(frozen=True, slots=True)
class CaseRun:
    """The kernel's BPF_PROG_TEST_RUN answer for an accepted case."""

    errno: int
    retval: int
    data: str
    """The packet after the run, hex."""
    duration_ns: int
    ctx: str | None = None
    """The context after the run, hex, where the type returns one."""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "retval": self.retval,
            "data": self.data,
            "duration_ns": self.duration_ns,
        }
        if self.errno:
            out["errno"] = self.errno
        return out


@dataclass(frozen=True, slots=True)
class MapDump:
    """A map's elements after the run, as (key hex, value hex) in iteration order."""

    errno: int
    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The kernel's verdict on a case, in the shape of ``pybpf verify --json``."""

    accepted: bool
    errno: int
    message: str
    log: str
    insns_processed: int | None
    run: CaseRun | None = None
    failed_step: CaseStep | None = None
    maps_after: tuple[MapDump, ...] = ()
    log_truncated: bool = False

    def to_json(self) -> dict[str, object]:
        """The case-format output object: accepted, errno, message, log, insns, run."""
        return {
            "accepted": self.accepted,
            "errno": self.errno,
            "message": self.message,
            "log": self.log,
            "insns_processed": self.insns_processed,
            "run": self.run.to_json() if self.run is not None else None,
        }


# --- loading ------------------------------------------------------------------------------


def _init_value(spec: MapSpec, raw: bytes) -> bytes:
    """``map_init`` at the syscall value size: padded, and per-CPU maps get it per CPU."""
    total = _maps.syscall_value_size(spec.type, spec.value_size)
    if len(raw) == total:
        return raw
    if len(raw) > spec.value_size:
        raise _bad(f"map_init has {len(raw)} bytes, more than value_size {spec.value_size}")
    raw = raw.ljust(spec.value_size, b"\0")
    if total == spec.value_size:
        return raw
    slot = raw.ljust((spec.value_size + 7) & ~7, b"\0")
    return slot * (total // len(slot)) if slot else b""


def _create_map(session: Session, spec: MapSpec, index: int) -> int | CaseResult:
    """A map set up as the case says, or the failed step's result."""
    where = f"map {index} ({spec.type.name.lower()})"
    inner_fd = 0
    if spec.inner is not None:
        got = _create_map(session, spec.inner, index)
        if isinstance(got, CaseResult):
            return got
        inner_fd = got
    try:
        fd = session.map_create(
            spec.type, spec.key_size, spec.value_size, spec.max_entries,
            flags=spec.flags, inner_map_fd=inner_fd,
        )  # fmt: skip
    except OracleError as exc:
        return _setup_failure(
            CaseStep.MAP_CREATE, exc.errno, f"{where}: BPF_MAP_CREATE: {errno_text(exc.errno)}"
        )
    if spec.map_init is not None:
        err = _maps.map_update(
            fd, bytes(spec.key_size) or None, _init_value(spec, spec.map_init), ElemFlag.ANY
        )
        if err:
            return _setup_failure(
                CaseStep.MAP_INIT, err, f"{where}: map_init: BPF_MAP_UPDATE_ELEM: {errno_text(err)}"
            )
    if spec.freeze:
        err = _maps.map_freeze(fd)
        if err:
            return _setup_failure(
                CaseStep.MAP_FREEZE, err, f"{where}: BPF_MAP_FREEZE: {errno_text(err)}"
            )
    return fd


def _setup_failure(step: CaseStep, err: int, message: str) -> CaseResult:
    return CaseResult(False, err, message, "", None, failed_step=step)


def fd_array_for(insns: bytes, map_fds: Sequence[int]) -> list[int]:
    """The map fds, padded with -1 up to the highest slot the program names.

    The kernel reads ``fd_array[imm]`` from user memory without a bound; padding makes an
    index past the case's maps read -1 (EBADF) rather than whatever lies beyond the array.
    Kfunc calls name a BTF fd slot in ``off``, so those count too.
    """
    needed = len(map_fds)
    i = 0
    while i + 8 <= len(insns):
        code, src = insns[i], insns[i + 1] >> 4
        if code == _LDDW:
            if src in (PSEUDO_MAP_IDX, PSEUDO_MAP_IDX_VALUE):
                idx = int.from_bytes(insns[i + 4 : i + 8], "little", signed=True)
                needed = max(needed, idx + 1)
            i += 8  # the second slot carries no opcode
        elif code == _CALL and src == _PSEUDO_KFUNC_CALL:
            off = int.from_bytes(insns[i + 2 : i + 4], "little", signed=True)
            needed = max(needed, off + 1)
        i += 8
    needed = min(needed, _FD_ARRAY_LIMIT)
    return list(map_fds) + [-1] * (needed - len(map_fds))


def _dump(spec: MapSpec, fd: int) -> MapDump:
    total = _maps.syscall_value_size(spec.type, spec.value_size)
    err, items = _maps.map_items(fd, spec.key_size, total, limit=max(spec.max_entries, 1))
    return MapDump(err, tuple((k.hex(), v.hex()) for k, v in items))


def load_case(
    case: Mapping[str, Any] | Case,
    *,
    log_level: int = 1,
    log_size: int = DEFAULT_LOG_SIZE,
    dump_maps: bool = False,
    session: Session | None = None,
) -> CaseResult:
    """Load (and run, if the case says so) one case in the running kernel.

    Objects are created in ``session`` when one is given (so the caller can look at them
    afterwards), else in a private one closed before returning.  A log too large for
    ``log_size`` is asked for again once at the size the kernel says it needs, so that the
    verdict is not lost to ENOSPC.  ``dump_maps`` reads every map back after the run.
    """
    parsed = case if isinstance(case, Case) else parse_case(case)
    if session is None:
        with Session() as own:
            return _load(parsed, own, log_level, log_size, dump_maps)
    return _load(parsed, session, log_level, log_size, dump_maps)


def _load(case: Case, s: Session, log_level: int, log_size: int, dump_maps: bool) -> CaseResult:
    map_fds: list[int] = []
    for i, spec in enumerate(case.maps):
        got = _create_map(s, spec, i)
        if isinstance(got, CaseResult):
            return got
        map_fds.append(got)
    fd_array = fd_array_for(case.insns, map_fds)
    eat = int(case.expected_attach_type) if case.expected_attach_type is not None else 0

    def load(size: int) -> LoadResult:
        return s.prog_load(
            case.prog_type, case.insns, expected_attach_type=eat,
            fd_array=fd_array or None, log_level=log_level, log_size=size,
        )  # fmt: skip

    res = load(log_size)
    if res.log_truncated and log_size < res.log_true_size <= MAX_LOG_SIZE:
        if res.fd is not None:
            s.release(res.fd)
        res = load(res.log_true_size)
    summary = summarize_log(res.log)
    run = None
    if res.fd is not None and case.run is not None:
        repeat = case.run.repeat
        ctx_out_size = len(case.run.ctx) if case.run.ctx else None
        if case.prog_type in _ARGS_ONLY_TYPES:
            repeat = 0 if repeat <= 1 else repeat
            ctx_out_size = None
        out = prog_test_run(
            res.fd, case.run.data, ctx_in=case.run.ctx, repeat=repeat, ctx_size_out=ctx_out_size
        )
        ctx_after = out.ctx_out if out.ctx_out is not None else out.ctx_in_after
        run = CaseRun(
            errno=out.errno,
            retval=out.retval,
            data=out.data_out.hex(),
            duration_ns=out.duration_ns,
            ctx=ctx_after.hex() if ctx_after is not None else None,
        )
    dumps: tuple[MapDump, ...] = ()
    if dump_maps:
        dumps = tuple(_dump(spec, fd) for spec, fd in zip(case.maps, map_fds))
    return CaseResult(
        accepted=res.fd is not None,
        errno=res.errno,
        message="" if res.fd is not None else summary.message,
        log=res.log,
        insns_processed=(
            summary.insns_processed
            if summary.insns_processed is not None or res.fd is None
            else res.verified_insns
        ),
        run=run,
        maps_after=dumps,
        log_truncated=res.log_truncated,
    )


def load_case_file(path: str | os.PathLike[str], **kwargs: Any) -> CaseResult:
    """:func:`load_case` on a JSON file; unreadable or non-JSON files raise BpfError."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise BpfError(exc.errno or _errno.EIO, f"{path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BpfError(_errno.EINVAL, f"{path}: not JSON: {exc}") from None
    return load_case(data, **kwargs)
