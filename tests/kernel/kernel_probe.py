"""Asking the running kernel what pybpf.kernel's tables claim: shared by the recorder
(``record_kernel_tables.py``) and the live differential tests.

Three kinds of probes, each a tiny program loaded with BPF_PROG_LOAD:

- helper availability: ``call N`` for every helper id, per program type (and the GPL
  restriction with a non-GPL license);
- helper arguments: a call whose arguments are all of the type the prototype asks for,
  but one, which is uninitialised, 0, 1, a stack pointer, the ctx or a pointer into a
  read-only map; the verifier's first complaint is compared with what the prototype
  predicts (``argcheck.py``);
- context access: a load/store of every size at every offset of the context.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from pybpf.isa import assemble
from pybpf.kernel.ctx_access import BtfArg, BtfArgKind, BtfFuncSig
from pybpf.kernel.progtypes import AttachType, ProgType
from pybpf.kernel.regtypes import RegType, TypeFlag

SLEEPABLE = 1 << 4
"""``BPF_F_SLEEPABLE``."""


@dataclass(frozen=True)
class ProbeConfig:
    """A program the probes load: its type, attach type and attach target."""

    name: str
    prog_type: ProgType
    attach_type: int | None = None
    attach_btf: tuple[str, str] | None = None
    """(``func`` | ``struct`` | ``typedef``, name) in vmlinux BTF."""
    sleepable: bool = False
    member: str | None = None
    """struct_ops member name (the attach type is its index)."""
    ret: int = 0
    """What the probe programs return (recvmsg hooks insist on 1)."""

    @property
    def btf_name(self) -> str | None:
        return self.attach_btf[1] if self.attach_btf else None

    @property
    def prog_flags(self) -> int:
        return SLEEPABLE if self.sleepable else 0


_AT = AttachType
CONFIGS: tuple[ProbeConfig, ...] = (
    ProbeConfig("socket_filter", ProgType.SOCKET_FILTER),
    ProbeConfig("kprobe", ProgType.KPROBE),
    ProbeConfig("kprobe_sleepable", ProgType.KPROBE, sleepable=True),
    ProbeConfig("kprobe_multi", ProgType.KPROBE, _AT.TRACE_KPROBE_MULTI),
    ProbeConfig("uprobe_multi", ProgType.KPROBE, _AT.TRACE_UPROBE_MULTI),
    ProbeConfig("sched_cls", ProgType.SCHED_CLS),
    ProbeConfig("sched_act", ProgType.SCHED_ACT),
    ProbeConfig("tracepoint", ProgType.TRACEPOINT),
    ProbeConfig("xdp", ProgType.XDP),
    ProbeConfig("xdp_devmap", ProgType.XDP, _AT.XDP_DEVMAP),
    ProbeConfig("perf_event", ProgType.PERF_EVENT),
    ProbeConfig("cgroup_skb", ProgType.CGROUP_SKB),
    ProbeConfig("cgroup_skb_egress", ProgType.CGROUP_SKB, _AT.CGROUP_INET_EGRESS),
    ProbeConfig("cgroup_sock", ProgType.CGROUP_SOCK, _AT.CGROUP_INET_SOCK_CREATE),
    ProbeConfig("cgroup_sock_post_bind4", ProgType.CGROUP_SOCK, _AT.CGROUP_INET4_POST_BIND),
    ProbeConfig("cgroup_sock_post_bind6", ProgType.CGROUP_SOCK, _AT.CGROUP_INET6_POST_BIND),
    ProbeConfig("lwt_in", ProgType.LWT_IN),
    ProbeConfig("lwt_out", ProgType.LWT_OUT),
    ProbeConfig("lwt_xmit", ProgType.LWT_XMIT),
    ProbeConfig("lwt_seg6local", ProgType.LWT_SEG6LOCAL),
    ProbeConfig("sock_ops", ProgType.SOCK_OPS),
    ProbeConfig("sk_skb", ProgType.SK_SKB),
    ProbeConfig("cgroup_device", ProgType.CGROUP_DEVICE, _AT.CGROUP_DEVICE),
    ProbeConfig("sk_msg", ProgType.SK_MSG),
    ProbeConfig("raw_tracepoint", ProgType.RAW_TRACEPOINT),
    ProbeConfig("cgroup_sock_addr4", ProgType.CGROUP_SOCK_ADDR, _AT.CGROUP_INET4_CONNECT),
    ProbeConfig("cgroup_sock_addr6", ProgType.CGROUP_SOCK_ADDR, _AT.CGROUP_INET6_CONNECT),
    ProbeConfig("cgroup_sock_addr_bind4", ProgType.CGROUP_SOCK_ADDR, _AT.CGROUP_INET4_BIND),
    ProbeConfig("cgroup_sock_addr_sendmsg4", ProgType.CGROUP_SOCK_ADDR, _AT.CGROUP_UDP4_SENDMSG),
    ProbeConfig("cgroup_sock_addr_sendmsg6", ProgType.CGROUP_SOCK_ADDR, _AT.CGROUP_UDP6_SENDMSG),
    ProbeConfig(
        "cgroup_sock_addr_recvmsg4", ProgType.CGROUP_SOCK_ADDR, _AT.CGROUP_UDP4_RECVMSG, ret=1
    ),
    ProbeConfig("sk_reuseport", ProgType.SK_REUSEPORT),
    ProbeConfig("flow_dissector", ProgType.FLOW_DISSECTOR),
    ProbeConfig("cgroup_sysctl", ProgType.CGROUP_SYSCTL, _AT.CGROUP_SYSCTL),
    ProbeConfig("raw_tracepoint_writable", ProgType.RAW_TRACEPOINT_WRITABLE),
    ProbeConfig("cgroup_getsockopt", ProgType.CGROUP_SOCKOPT, _AT.CGROUP_GETSOCKOPT),
    ProbeConfig("cgroup_setsockopt", ProgType.CGROUP_SOCKOPT, _AT.CGROUP_SETSOCKOPT),
    ProbeConfig("fentry", ProgType.TRACING, _AT.TRACE_FENTRY, ("func", "bpf_fentry_test1")),
    ProbeConfig("fexit", ProgType.TRACING, _AT.TRACE_FEXIT, ("func", "bpf_fentry_test1")),
    ProbeConfig(
        "tp_btf", ProgType.TRACING, _AT.TRACE_RAW_TP, ("typedef", "btf_trace_sched_switch")
    ),
    ProbeConfig("iter_task", ProgType.TRACING, _AT.TRACE_ITER, ("func", "bpf_iter_task")),
    ProbeConfig("iter_tcp", ProgType.TRACING, _AT.TRACE_ITER, ("func", "bpf_iter_tcp")),
    ProbeConfig("lsm", ProgType.LSM, _AT.LSM_MAC, ("func", "bpf_lsm_file_open")),
    ProbeConfig(
        "tcp_ca_ssthresh",
        ProgType.STRUCT_OPS,
        0,
        ("struct", "tcp_congestion_ops"),
        member="ssthresh",
    ),
    ProbeConfig(
        "tcp_ca_release",
        ProgType.STRUCT_OPS,
        17,
        ("struct", "tcp_congestion_ops"),
        member="release",
    ),
    ProbeConfig("sk_lookup", ProgType.SK_LOOKUP, _AT.SK_LOOKUP),
    ProbeConfig("syscall", ProgType.SYSCALL, sleepable=True),
    ProbeConfig("netfilter", ProgType.NETFILTER, _AT.NETFILTER),
)
CONFIG_BY_NAME = {c.name: c for c in CONFIGS}

MAX_HELPER_PROBED = 212
"""Probe ids 1..211 and one past the end (``invalid func``)."""


# --- vmlinux BTF: just enough to find attach targets -------------------------------------

_BTF_KINDS = {"func": 12, "struct": 4, "typedef": 8}


@dataclass(frozen=True)
class BtfType:
    kind: int
    name: str
    size: int
    members: tuple[tuple[str, int], ...]
    """(name, byte offset) of a struct's or union's members."""


@cache
def vmlinux_btf() -> tuple[BtfType, ...]:
    """The running kernel's vmlinux BTF types, index = type id (0 is void)."""
    with open("/sys/kernel/btf/vmlinux", "rb") as f:
        raw = f.read()
    _magic, _ver, _flags, hdr_len, type_off, type_len, str_off, _ = struct.unpack_from(
        "<HBBIIIII", raw
    )
    tbase, sbase = hdr_len + type_off, hdr_len + str_off

    def name_at(off: int) -> str:
        return raw[sbase + off : raw.index(b"\0", sbase + off)].decode()

    fixed = {1: 4, 3: 12, 14: 4, 17: 4}
    per_member = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}
    types = [BtfType(0, "void", 0, ())]
    pos = tbase
    while pos < tbase + type_len:
        name_off, info, size = struct.unpack_from("<III", raw, pos)
        kind, vlen, kflag = (info >> 24) & 0x1F, info & 0xFFFF, info >> 31
        members: tuple[tuple[str, int], ...] = ()
        if kind in (4, 5):
            fields = [struct.unpack_from("<III", raw, pos + 12 + 12 * i) for i in range(vlen)]
            members = tuple(
                (name_at(m_name), ((m_off & 0xFFFFFF) if kflag else m_off) // 8)
                for m_name, _m_type, m_off in fields
            )
        types.append(BtfType(kind, name_at(name_off), size, members))
        pos += 12 + fixed.get(kind, 0) + per_member.get(kind, 0) * vlen
    return tuple(types)


@cache
def vmlinux_btf_ids() -> dict[tuple[int, str], int]:
    """(BTF kind, name) -> type id of the running kernel's vmlinux BTF."""
    ids: dict[tuple[int, str], int] = {}
    for tid, t in enumerate(vmlinux_btf()):
        ids.setdefault((t.kind, t.name), tid)
    return ids


def vmlinux_struct(name: str) -> BtfType | None:
    tid = vmlinux_btf_ids().get((4, name))
    return vmlinux_btf()[tid] if tid else None


def attach_btf_id(cfg: ProbeConfig) -> int:
    if cfg.attach_btf is None:
        return 0
    kind, name = cfg.attach_btf
    return vmlinux_btf_ids().get((_BTF_KINDS[kind], name), 0)


# --- loading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    errno: int
    log: str

    @property
    def accepted(self) -> bool:
        return self.errno == 0


Loader = Callable[[ProbeConfig, str, str, int], Verdict]

EXIT = "r0 = 0\nexit"
"""How every probe program ends (the loader substitutes the config's return value)."""


def kernel_loader() -> Loader:
    """Loads through the oracle (import deferred: the recorder and kernel tests only)."""
    from pybpf.oracle import prog_load
    from pybpf.oracle.syscall import close

    def load(cfg: ProbeConfig, text: str, license: str = "GPL", log_level: int = 1) -> Verdict:
        if cfg.ret and text.endswith(EXIT):
            text = text[: -len(EXIT)] + f"r0 = {cfg.ret}\nexit"
        res = prog_load(cfg.prog_type, assemble(text), license=license,
                        expected_attach_type=cfg.attach_type or 0,
                        attach_btf_id=attach_btf_id(cfg), prog_flags=cfg.prog_flags,
                        log_level=log_level, log_size=1 << 16)  # fmt: skip
        if res.fd is not None:
            close(res.fd)
        return Verdict(res.errno, res.log)

    return load


def loadable(load: Loader, cfg: ProbeConfig) -> bool:
    """Whether the kernel loads a trivial program of this configuration at all (some
    sandboxes refuse trampolines: fentry, fexit and LSM programs)."""
    return load(cfg, EXIT, "GPL", 1).accepted


_CALL_LINE = re.compile(r"^\d+: \(85\) call ")
_INSN_LINE = re.compile(r"^\d+: ")


def first_error_after_call(log: str) -> str | None:
    """The verifier's first message after the (last) helper call line; "" when it
    continued to the end, None when there is no call line."""
    lines = log.splitlines()
    calls = [i for i, line in enumerate(lines) if _CALL_LINE.match(line)]
    if not calls:
        return None
    for line in lines[calls[-1] + 1 :]:
        if not line or _INSN_LINE.match(line) or line.startswith("processed "):
            continue
        return line
    return ""


# --- helper availability -------------------------------------------------------------------


def classify_call(verdict: Verdict) -> str:
    """``no`` (cannot use helper), ``invalid`` (no such id), or the message that came next
    (``""`` when the program loaded)."""
    if verdict.accepted:
        return ""
    msg = first_error_after_call(verdict.log)
    if msg is None:
        return _last_message(verdict.log) or "?"
    if msg.startswith("program of this type cannot use helper"):
        return "no"
    if msg.startswith("invalid func "):
        return "invalid"
    return msg


def probe_helpers(load: Loader, cfg: ProbeConfig) -> dict[str, Any]:
    """Per helper id: availability, and for available helpers whether a non-GPL program
    is refused and what the verifier said next."""
    out: dict[str, Any] = {"available": [], "gpl_only": [], "after": {}}
    nongpl = load(cfg, EXIT, "Dual MIT/X", 1)
    if not nongpl.accepted:
        out["gpl_only"] = None
        out["nongpl_refused"] = _last_message(nongpl.log)
    for h in range(1, MAX_HELPER_PROBED + 1):
        text = f"call {h}\nr0 = 0\nexit"
        verdict = classify_call(load(cfg, text, "GPL", 1))
        if verdict in ("no", "invalid"):
            continue
        out["available"].append(h)
        if out["gpl_only"] is not None:
            answer = classify_call(load(cfg, text, "Dual MIT/X", 1))
            if answer.startswith("cannot call GPL-restricted function"):
                out["gpl_only"].append(h)
        if verdict and not verdict.startswith("R"):
            out["after"][str(h)] = verdict
    return out


# --- capability tiers (child process with a reduced effective set) -----------------------

CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF = 12, 21, 38, 39


def run_with_caps(caps: list[int], fn: Callable[[], Any]) -> Any:
    """``fn()`` in a forked child whose capabilities are exactly ``caps``."""
    libc = ctypes.CDLL(None, use_errno=True)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]  # fmt: skip

    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(rfd)
        try:
            data = (Data * 2)()
            lo = sum(1 << c for c in caps if c < 32)
            hi = sum(1 << (c - 32) for c in caps if c >= 32)
            data[0].effective = data[0].permitted = lo
            data[1].effective = data[1].permitted = hi
            if libc.capset(ctypes.byref(Header(0x20080522, 0)), data) != 0:
                raise OSError(ctypes.get_errno(), "capset")
            payload = json.dumps({"result": fn()})
        except BaseException as exc:
            payload = json.dumps({"error": repr(exc)})
        os.write(wfd, payload.encode())
        os._exit(0)
    os.close(wfd)
    chunks = []
    while chunk := os.read(rfd, 1 << 16):
        chunks.append(chunk)
    os.close(rfd)
    os.waitpid(pid, 0)
    answer = json.loads(b"".join(chunks) or b'{"error": "no answer"}')
    if "error" in answer:
        raise RuntimeError(answer["error"])
    return answer["result"]


CAPS_CASES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("socket_filter", (CAP_BPF,)),
    ("socket_filter", (CAP_BPF, CAP_PERFMON)),
    ("cgroup_skb", (CAP_BPF,)),
    ("sched_cls", (CAP_BPF, CAP_NET_ADMIN)),
    ("xdp", (CAP_BPF, CAP_NET_ADMIN)),
    ("kprobe", (CAP_BPF, CAP_PERFMON)),
    ("syscall", (CAP_BPF,)),
)


def probe_available_ids(load: Loader, cfg: ProbeConfig) -> list[int] | str:
    if not loadable(load, cfg):
        return "unloadable"
    return [
        h for h in range(1, MAX_HELPER_PROBED)
        if classify_call(load(cfg, f"call {h}\nr0 = 0\nexit", "GPL", 1))
        not in ("no", "invalid")
    ]  # fmt: skip


# --- context access --------------------------------------------------------------------------

_SIZE_TYPE = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
_SIGNED = {1: "s8", 2: "s16", 4: "s32"}
CTX_OPS = ("ldx", "stx", "st", "ldsx")


def ctx_program(op: str, off: int, size: int) -> str:
    addr = f"(r1 {'-' if off < 0 else '+'} {abs(off)})"
    if op == "ldx":
        body = f"r0 = *({_SIZE_TYPE[size]} *){addr}"
    elif op == "ldsx":
        body = f"r0 = *({_SIGNED[size]} *){addr}"
    elif op == "stx":
        body = f"r2 = 0\n*({_SIZE_TYPE[size]} *){addr} = r2"
    else:
        body = f"*({_SIZE_TYPE[size]} *){addr} = 0"
    return f"{body}\nr0 = 0\nexit"


_R0_TYPE = re.compile(r"\bR0(?:_w)?=([A-Za-z_]+)")


def loaded_reg_type(log: str) -> str | None:
    """The type the verifier gave r0 after the load (``pkt``, ``scalar``, ``trusted_ptr_``
    plus the struct name, ...), from a level-2 log."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("0: (") and "r0 = *(" in line:
            for later in [line.partition(";")[2], *lines[i + 1 :]]:
                m = _R0_TYPE.search(later)
                if m:
                    return m.group(1)
            return None
    return None


MAX_INSN_OFF = 0x7FFF
"""The largest offset a load can encode (a modified ctx pointer may not be dereferenced,
so nothing beyond this is reachable)."""


def ctx_offsets(ctx_bytes: int) -> Iterator[int]:
    """Every offset around a context; for the big ones (tracepoint records, the syscall
    buffer) both ends and a few far negative offsets."""
    if ctx_bytes > 1024:
        yield from (-32768, -4096, -72)
        yield from range(-8, 72)
        end = min(ctx_bytes, MAX_INSN_OFF + 1)
        yield from range(end - 32, min(end + 8, MAX_INSN_OFF + 1))
        return
    yield from range(-8, ctx_bytes + 8)


def probe_ctx(load: Loader, cfg: ProbeConfig, ctx_bytes: int) -> dict[str, Any]:
    """Every accepted (op, offset, size), the reg type of accepted loads that are not
    scalars, and rejections whose message is not the usual one."""
    accepted: dict[str, dict[str, int]] = {op: {} for op in CTX_OPS}
    types: dict[str, str] = {}
    unusual: dict[str, str] = {}
    for op in CTX_OPS:
        sizes = (1, 2, 4) if op == "ldsx" else (1, 2, 4, 8)
        for off in ctx_offsets(ctx_bytes):
            mask = 0
            for size in sizes:
                verdict = load(cfg, ctx_program(op, off, size), "GPL", 1)
                if verdict.accepted:
                    mask |= size
                    if op == "ldx":
                        again = load(cfg, ctx_program(op, off, size), "GPL", 2)
                        reg = loaded_reg_type(again.log)
                        if reg and reg != "scalar":
                            types[f"{off}/{size}"] = reg
                    continue
                expected = f"invalid bpf_context access off={off} size={size}"
                if expected not in verdict.log:
                    unusual[f"{op}/{off}/{size}"] = _last_message(verdict.log)
            if mask:
                accepted[op][str(off)] = mask
    return {"ctx_bytes": ctx_bytes, "accepted": accepted, "reg_types": types,
            "unusual": unusual}  # fmt: skip


def _last_message(log: str) -> str:
    lines = [x for x in log.splitlines() if x and not x.startswith("processed ")]
    return lines[-1] if lines else ""


# --- attach signatures for the BTF-typed contexts ------------------------------------------


def ctx_func_sigs() -> dict[str, BtfFuncSig]:
    """The signatures of the probe configs' attach targets (as vmlinux BTF has them)."""
    k = BtfArgKind
    task = BtfArg(k.STRUCT_PTR, "task_struct")
    return {
        "tp_btf": BtfFuncSig("sched_switch", (BtfArg(k.SCALAR), task, task, BtfArg(k.SCALAR))),
        "iter_task": BtfFuncSig("bpf_iter_task", (
            BtfArg(k.STRUCT_PTR, "bpf_iter_meta"),
            BtfArg(k.STRUCT_PTR, "task_struct", reg_type=RegType.PTR_TO_BTF_ID
                   | TypeFlag.PTR_MAYBE_NULL | TypeFlag.PTR_TRUSTED),
        )),
        "tcp_ca_ssthresh": BtfFuncSig("ssthresh", (BtfArg(k.STRUCT_PTR, "sock"),),
                                      BtfArg(k.SCALAR)),
    }  # fmt: skip


# --- loads through socket pointers (cgroup_skb: __sk_buff.sk and what it leads to) ---------

SOCK_CHAINS = {
    "sock_common": "r0 = r2",
    "sock": "r1 = r2\ncall 95\nif r0 == 0 goto out",
    "tcp_sock": "r1 = r2\ncall 96\nif r0 == 0 goto out",
}
"""How a cgroup_skb program gets r0 to point to each socket type."""
SOCK_PROBE_BYTES = {"sock_common": 80, "sock": 80, "tcp_sock": 112}


def sock_program(chain: str, off: int, size: int) -> str:
    return (
        "r2 = *(u64 *)(r1 + 168)\nif r2 == 0 goto out\n"
        f"{SOCK_CHAINS[chain]}\nr0 = *({_SIZE_TYPE[size]} *)(r0 {'-' if off < 0 else '+'} "
        f"{abs(off)})\nout:\n{EXIT}"
    )


def probe_sock_access(load: Loader) -> dict[str, dict[str, int]]:
    """Accepted (offset -> size mask) loads through each socket pointer type."""
    cfg = CONFIG_BY_NAME["cgroup_skb"]
    out: dict[str, dict[str, int]] = {}
    for chain, nbytes in SOCK_PROBE_BYTES.items():
        accepted: dict[str, int] = {}
        for off in range(-8, nbytes + 8):
            mask = 0
            for size in (1, 2, 4, 8):
                if load(cfg, sock_program(chain, off, size), "GPL", 1).accepted:
                    mask |= size
            if mask:
                accepted[str(off)] = mask
        out[chain] = accepted
    return out
