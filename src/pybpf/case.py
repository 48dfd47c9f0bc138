"""Case files: one program with its maps and an input, loadable by pybpf and the kernel.

The format is ``shared/spec/case-format.md``: JSON with ``prog_type``, ``insns`` (hex
slots), ``maps`` (referenced by ``BPF_PSEUDO_MAP_IDX`` / ``_IDX_VALUE``) and ``run``.
Parsing checks every field and turns any problem into one :class:`BpfError` line.
"""

from __future__ import annotations

import dataclasses
import errno
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BpfError
from .isa.insn import Insn, decode_hex, encode_hex
from .kernel.progtypes import AttachType, ProgType, attach_type_from_name, prog_type_from_name
from .maps.types import MapSpec


def _bad(what: str) -> BpfError:
    return BpfError(errno.EINVAL, f"bad case file: {what}")


def _hex_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise _bad(f"{what} must be a hex string")
    try:
        return bytes.fromhex("".join(value.split()))
    except ValueError:
        raise _bad(f"{what} is not valid hex") from None


@dataclass(frozen=True)
class MapCase:
    """A map the program references, with what a loader writes into it before the load."""

    spec: MapSpec
    map_init: bytes | None = None
    freeze: bool = False

    @classmethod
    def from_json(cls, obj: Any, index: int) -> MapCase:
        if not isinstance(obj, dict):
            raise _bad(f"maps[{index}] must be an object")
        try:
            spec = MapSpec.from_case(obj)
        except (KeyError, ValueError, TypeError) as exc:
            raise _bad(f"maps[{index}]: {exc}") from None
        init = obj.get("map_init")
        freeze = obj.get("freeze", False)
        if not isinstance(freeze, bool):
            raise _bad(f"maps[{index}].freeze must be true or false")
        return cls(spec, _hex_bytes(init, f"maps[{index}].map_init") if init is not None else None, freeze)

    def to_json(self) -> dict[str, Any]:
        out = self.spec.to_case()
        if self.map_init is not None:
            out["map_init"] = self.map_init.hex()
        if self.freeze:
            out["freeze"] = True
        return out


@dataclass(frozen=True)
class RunInput:
    data: bytes = b""
    ctx: bytes | None = None
    repeat: int = 1

    @classmethod
    def from_json(cls, obj: Any) -> RunInput:
        if not isinstance(obj, dict):
            raise _bad("run must be an object")
        data = _hex_bytes(obj.get("data") or "", "run.data")
        ctx = obj.get("ctx")
        repeat = obj.get("repeat", 1)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 0:
            raise _bad("run.repeat must be a non-negative integer")
        return cls(data, _hex_bytes(ctx, "run.ctx") if ctx is not None else None, repeat)

    def to_json(self) -> dict[str, Any]:
        return {"data": self.data.hex(), "ctx": self.ctx.hex() if self.ctx is not None else None,
                "repeat": self.repeat}  # fmt: skip


@dataclass(frozen=True)
class Case:
    prog_type: ProgType
    insns: tuple[Insn, ...]
    maps: tuple[MapCase, ...] = ()
    run: RunInput | None = None
    name: str = ""
    expected_attach_type: AttachType | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, obj: Any) -> Case:
        if not isinstance(obj, dict):
            raise _bad("the top level must be a JSON object")
        if "prog_type" not in obj or "insns" not in obj:
            raise _bad("prog_type and insns are required")
        if not isinstance(obj["prog_type"], str):
            raise _bad("prog_type must be a string")
        try:
            prog_type = prog_type_from_name(obj["prog_type"])
        except ValueError as exc:
            raise _bad(str(exc)) from None
        attach = obj.get("expected_attach_type")
        attach_type = None
        if attach is not None:
            if not isinstance(attach, str):
                raise _bad("expected_attach_type must be a string or null")
            try:
                attach_type = attach_type_from_name(attach)
            except ValueError as exc:
                raise _bad(str(exc)) from None
        if not isinstance(obj["insns"], str):
            raise _bad("insns must be a hex string")
        try:
            insns = tuple(decode_hex(obj["insns"]))
        except BpfError as exc:
            raise _bad(f"insns: {exc.message}") from None
        maps_obj = obj.get("maps") or []
        if not isinstance(maps_obj, list):
            raise _bad("maps must be a list")
        maps = tuple(MapCase.from_json(m, i) for i, m in enumerate(maps_obj))
        run = RunInput.from_json(obj["run"]) if obj.get("run") is not None else None
        name = obj.get("name") or ""
        known = {"name", "prog_type", "expected_attach_type", "insns", "maps", "run"}
        extra = {k: v for k, v in obj.items() if k not in known}
        return cls(prog_type, insns, maps, run, str(name), attach_type, extra)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        out["prog_type"] = self.prog_type.name.lower()
        out["expected_attach_type"] = (
            self.expected_attach_type.name.lower() if self.expected_attach_type is not None else None
        )
        out["insns"] = encode_hex(self.insns)
        out["maps"] = [m.to_json() for m in self.maps]
        if self.run is not None:
            out["run"] = self.run.to_json()
        out.update(self.extra)
        return out


def load_case(path: str | Path) -> Case:
    """Read and check one case file; every problem is one BpfError line naming the file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise BpfError(exc.errno or errno.EIO, f"{p}: {exc.strerror}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BpfError(errno.EINVAL, f"{p}: bad case file: not JSON ({exc.msg} at line {exc.lineno})") from None
    try:
        return Case.from_json(obj)
    except BpfError as exc:
        raise BpfError(exc.errno, f"{p}: {exc.message}") from None


# --- running a case -------------------------------------------------------------------


@dataclass(frozen=True)
class CaseOutcome:
    """The ``--json`` result of a case: verdict, errno, message, log, run."""

    accepted: bool
    errno: int = 0
    message: str = ""
    log: str = ""
    insns_processed: int = 0
    run: dict[str, Any] | None = None
    maps_after: list[list[tuple[str, str]]] | None = None
    """Each map's (key hex, value hex) pairs after the run, when asked for."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "errno": self.errno,
            "message": self.message,
            "log": self.log,
            "insns_processed": self.insns_processed,
            "run": self.run,
        }
        if self.maps_after is not None:
            out["maps_after"] = [[list(kv) for kv in items] for items in self.maps_after]
        return out


def run_case(
    case: Case,
    kernel: Any = None,
    execute: bool = True,
    dump_maps: bool = False,
    *,
    verify: bool = True,
    log_level: int = 0,
) -> CaseOutcome:
    """Load (verify) the case's program with its maps and, if it has a ``run``, run it.

    A program the verifier rejects is not run: the outcome carries the kernel's errno,
    message and log.  ``verify=False`` runs it unchecked (the runtime still faults
    cleanly).  ``dump_maps`` reads every map back afterwards (as
    ``BPF_MAP_GET_NEXT_KEY`` and ``BPF_MAP_LOOKUP_ELEM`` would), so that a run's side
    effects can be compared.
    """
    from .kernel.state import Kernel
    from .program import ProgramRejected, load_program

    kernel = kernel or Kernel(seed=0)
    maps: list[Any] = []
    try:
        maps = _case_maps(case, kernel)
        prog = load_program(
            case.insns, case.prog_type, maps=maps, kernel=kernel, name=case.name,
            expected_attach_type=case.expected_attach_type, verify=verify, log_level=log_level,
        )  # fmt: skip
    except ProgramRejected as rej:
        for m in maps:
            m.close()
        r = rej.result
        return CaseOutcome(False, r.errno, r.message, r.log, r.insns_processed)
    except BpfError as exc:
        for m in maps:
            m.close()
        return CaseOutcome(False, exc.errno, exc.message)
    checked = prog.verified
    log, processed = (checked.log, checked.insns_processed) if checked is not None else ("", 0)
    outcome = CaseOutcome(True, log=log, insns_processed=processed)
    if execute and case.run is not None:
        try:
            res = prog.run(case.run.data, case.run.ctx, case.run.repeat)
            run = res.to_json()
            if case.run.ctx is not None and res.ctx is not None and len(res.ctx) > len(case.run.ctx):
                # ctx_out is a buffer as large as ctx_in, as loaders pass it: a shorter one
                # cannot take the whole context back (the kernel's ENOSPC, after retval and data)
                run["errno"] = errno.ENOSPC
            outcome = dataclasses.replace(outcome, run=run)
        except BpfError as exc:
            outcome = dataclasses.replace(outcome, run={"retval": 0, "data": "", "duration_ns": 0,
                                                        "errno": exc.errno, "error": exc.message})  # fmt: skip
    if dump_maps:
        outcome = dataclasses.replace(outcome, maps_after=[_dump_map(m) for m in maps])
    for m in maps:
        m.close()
    return outcome


def _dump_map(m: Any) -> list[tuple[str, str]]:
    """Every element in iteration order, values in the syscall layout (per-CPU: all CPUs)."""
    items: list[tuple[str, str]] = []
    key: bytes | None = None
    try:  # ENOENT from get_next_key ends the walk; maps without keys have nothing to show
        while True:
            key = m.get_next_key(key)
            try:
                items.append((key.hex(), m.lookup(key).hex()))
            except BpfError as exc:
                if exc.errno != errno.ENOENT:
                    break
    except BpfError:
        pass
    return items


def _case_maps(case: Case, kernel: Any) -> list[Any]:
    """One map per case entry, initialised and frozen as a loader does, in order.

    Map-in-map entries carry their inner map as a template (``inner``), which is all
    pybpf needs to create the outer map.
    """
    from .maps.base import Map

    made: list[Map] = []
    out = made
    try:
        for mc in case.maps:
            spec = mc.spec
            m = kernel.create_map(spec)
            made.append(m)
            if mc.map_init is not None:
                value = mc.map_init.ljust(spec.value_size, b"\0")[: spec.value_size]
                m.update(bytes(spec.key_size), value)
            if mc.freeze:
                m.freeze()
    except BpfError:
        for m in made:
            m.close()
        raise
    return out
