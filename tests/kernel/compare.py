"""Hold the kernel's recorded answers against pybpf.kernel's tables.

Each ``compare_*`` takes what a ``record_*`` produced (from the JSON under
``tests/data/kernel`` or fresh from the kernel) and returns a :class:`Tally`: how many
answers it compared and the ones that differ, described for a failure message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pybpf.isa.helper_ids import HELPER_NAMES
from pybpf.kernel.ctx_access import is_valid_access, sock_access_ok
from pybpf.kernel.func_proto import Capability, func_proto, helper_call_error
from pybpf.kernel.protos import VARIANTS
from pybpf.kernel.regtypes import RegType, reg_type_str

from . import argcheck
from .kernel_probe import (
    CAP_BPF,
    CAP_NET_ADMIN,
    CAP_PERFMON,
    CAP_SYS_ADMIN,
    CONFIG_BY_NAME,
    CTX_OPS,
    SOCK_PROBE_BYTES,
    ProbeConfig,
    ctx_func_sigs,
    ctx_offsets,
)


@dataclass
class Tally:
    checked: int = 0
    mismatches: list[str] = field(default_factory=list)

    def check(self, same: bool, what: str) -> None:
        self.checked += 1
        if not same:
            self.mismatches.append(what)

    @property
    def agreed(self) -> int:
        return self.checked - len(self.mismatches)


def _proto(cfg: ProbeConfig, func_id: int, caps: Capability | bool = True) -> Any:
    return func_proto(cfg.prog_type, func_id, cfg.attach_type, caps, sleepable=cfg.sleepable,
                      attach_btf_name=cfg.btf_name, struct_ops_member=cfg.member)  # fmt: skip


def _call_error(cfg: ProbeConfig, func_id: int) -> tuple[int, str] | None:
    return helper_call_error(cfg.prog_type, func_id, cfg.attach_type, sleepable=cfg.sleepable,
                             attach_btf_name=cfg.btf_name,
                             struct_ops_member=cfg.member)  # fmt: skip


_AFTER_LOOKUP = ("helper call is not allowed in probe",
                 "helper call might sleep in a non-sleepable prog")  # fmt: skip


def compare_helpers(data: dict[str, Any]) -> Tally:
    """Availability per program type, the GPL restriction, and the checks between the
    lookup and the arguments (``allowed``, ``might_sleep``)."""
    tally = Tally()
    for name, res in data["configs"].items():
        if res == "unloadable":
            continue
        cfg = CONFIG_BY_NAME[name]
        available = set(res["available"])
        gpl_only = None if res["gpl_only"] is None else set(res["gpl_only"])
        for h in range(1, len(HELPER_NAMES)):
            proto = _proto(cfg, h)
            label = f"{name}: bpf_{HELPER_NAMES[h]}#{h}"
            tally.check(
                (proto is not None) == (h in available),
                f"{label} available: kernel {h in available}, pybpf {proto is not None}",
            )
            if proto is None or h not in available:
                continue
            if gpl_only is not None:
                tally.check(
                    proto.gpl_only == (h in gpl_only),
                    f"{label} gpl_only: kernel {h in gpl_only}, pybpf {proto.gpl_only}",
                )
            kernel_after = res["after"].get(str(h), "")
            kernel_after = kernel_after if kernel_after in _AFTER_LOOKUP else None
            error = _call_error(cfg, h)
            ours = error[1] if error else None
            tally.check(kernel_after == ours, f"{label}: kernel {kernel_after!r}, pybpf {ours!r}")
        tally.check(h + 1 not in available, f"{name}: id {h + 1} should be invalid")
    return tally


_CAPS = {CAP_NET_ADMIN: Capability.NET_ADMIN, CAP_SYS_ADMIN: Capability.SYS_ADMIN,
         CAP_PERFMON: Capability.PERFMON, CAP_BPF: Capability.BPF}  # fmt: skip


def compare_caps(data: dict[str, Any]) -> Tally:
    """Availability with fewer capabilities than root (the base tiers)."""
    tally = Tally()
    for case in data["cases"]:
        if case["available"] == "unloadable":
            continue
        cfg = CONFIG_BY_NAME[case["config"]]
        caps = Capability(0)
        for cap in case["caps"]:
            caps |= _CAPS[cap]
        available = set(case["available"])
        for h in range(1, len(HELPER_NAMES)):
            ours = _proto(cfg, h, caps) is not None
            tally.check(ours == (h in available),
                        f"{cfg.name} caps {case['caps']}: bpf_{HELPER_NAMES[h]}#{h} kernel "
                        f"{h in available}, pybpf {ours}")  # fmt: skip
    return tally


def compare_args(data: dict[str, Any]) -> Tally:
    """The verifier's complaints about helper arguments against the prototypes."""
    tally = Tally()
    messages = data["messages"]
    for key, index in data["probes"].items():
        func_id, variant, arg, kind = key.split(":")
        proto = VARIANTS[(int(func_id), variant)]
        kinds = argcheck.probe_kinds(proto, int(arg), argcheck.Kind(kind))
        predicted = argcheck.predict(proto, kinds)
        if predicted is None:
            continue
        got = argcheck.outcome(messages[index])
        tally.check(got == predicted,
                    f"{proto.name}/{variant or '-'} arg{int(arg) + 1}={kind}: kernel "
                    f"{messages[index]!r}, pybpf {predicted!r}")  # fmt: skip
    return tally


def compare_ctx(data: dict[str, Any]) -> Tally:
    """Every context load/store the probes tried, and the type of accepted loads."""
    tally = Tally()
    sigs = ctx_func_sigs()
    for name, res in data["configs"].items():
        if res == "unloadable":
            continue
        cfg = CONFIG_BY_NAME[name]
        for op in CTX_OPS:
            accepted = res["accepted"][op]
            access = "write" if op in ("stx", "st") else "read"
            for off in ctx_offsets(res["ctx_bytes"]):
                mask = accepted.get(str(off), 0)
                for size in (1, 2, 4) if op == "ldsx" else (1, 2, 4, 8):
                    ours = is_valid_access(cfg.prog_type, off, size, access, cfg.attach_type,
                                           ldsx=op == "ldsx", func_sig=sigs.get(name))  # fmt: skip
                    kernel = bool(mask & size)
                    tally.check(
                        kernel == (ours is not None),
                        f"{name} {op} off={off} size={size}: kernel {kernel}",
                    )
                    if op == "ldx" and kernel and ours is not None:
                        kernel_type = res["reg_types"].get(f"{off}/{size}", "scalar")
                        our_type = reg_type_str(ours.reg_type, ours.btf_type or "")
                        tally.check(kernel_type == our_type,
                                    f"{name} load off={off} size={size}: kernel {kernel_type}, "
                                    f"pybpf {our_type}")  # fmt: skip
    return tally


_SOCK_TYPES = {"sock_common": RegType.PTR_TO_SOCK_COMMON, "sock": RegType.PTR_TO_SOCKET,
               "tcp_sock": RegType.PTR_TO_TCP_SOCK}  # fmt: skip


def compare_sock(data: dict[str, Any]) -> Tally:
    """Loads through socket pointers (``sock_access_ok``)."""
    tally = Tally()
    for chain, accepted in data["sock"].items():
        for off in range(-8, SOCK_PROBE_BYTES[chain] + 8):
            mask = accepted.get(str(off), 0)
            for size in (1, 2, 4, 8):
                ours = sock_access_ok(_SOCK_TYPES[chain], off, size) is not None
                tally.check(
                    ours == bool(mask & size),
                    f"{chain} off={off} size={size}: kernel {bool(mask & size)}",
                )
    return tally
