"""Record the running kernel's answers for the differential tests of pybpf.kernel.

    .venv/bin/python -m tests.kernel.record_kernel_tables [helpers|caps|args|ctx ...]

writes ``tests/data/kernel/{helpers,caps,helper_args,ctx_access}.json``: which helpers
each program type may call (and which need GPL), which capability tier unlocks them,
what the verifier says about helper arguments, and every accepted context access.
Needs root and bpf(); takes a minute or so.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from pybpf.kernel.ctx_access import ctx_size
from pybpf.kernel.func_proto import func_proto, helper_call_error
from pybpf.kernel.protos import ALL_PROTOS

from . import argcheck
from .kernel_probe import (
    CAPS_CASES,
    CONFIG_BY_NAME,
    CONFIGS,
    Loader,
    ProbeConfig,
    classify_call,
    kernel_loader,
    loadable,
    probe_available_ids,
    probe_ctx,
    probe_helpers,
    probe_sock_access,
    run_with_caps,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "kernel"


def _kernel_release() -> str:
    import os

    return os.uname().release


def record_helpers(load: Loader) -> dict[str, Any]:
    configs: dict[str, Any] = {}
    for cfg in CONFIGS:
        if not loadable(load, cfg):
            configs[cfg.name] = "unloadable"
            continue
        configs[cfg.name] = probe_helpers(load, cfg)
    return {"kernel": _kernel_release(), "configs": configs}


def record_caps(load: Loader) -> dict[str, Any]:
    cases = []
    for name, caps in CAPS_CASES:
        cfg = CONFIG_BY_NAME[name]
        ids = run_with_caps(list(caps), lambda cfg=cfg: probe_available_ids(load, cfg))
        cases.append({"config": name, "caps": list(caps), "available": ids})
    return {"kernel": _kernel_release(), "cases": cases}


def _proto_config(func_id: int, variant: str, usable: list[ProbeConfig]) -> ProbeConfig | None:
    for cfg in usable:
        got = func_proto(cfg.prog_type, func_id, cfg.attach_type, sleepable=cfg.sleepable,
                         attach_btf_name=cfg.btf_name, struct_ops_member=cfg.member)  # fmt: skip
        if got is None or got.variant != variant:
            continue
        blocked = helper_call_error(cfg.prog_type, func_id, cfg.attach_type,
                                    sleepable=cfg.sleepable, attach_btf_name=cfg.btf_name,
                                    struct_ops_member=cfg.member)  # fmt: skip
        if blocked is None:
            return cfg
    return None


def record_args(load: Loader) -> dict[str, Any]:
    from pybpf.oracle import MapFlag, MapType, Session, map_freeze, map_update

    usable = [cfg for cfg in CONFIGS if loadable(load, cfg)]
    probes: dict[str, int] = {}
    messages: dict[str, int] = {}
    with Session() as s:
        hash_fd = s.map_create(MapType.HASH, argcheck.HASH_KEY, argcheck.HASH_VALUE, 4)
        ro_fd = s.map_create(MapType.ARRAY, 4, argcheck.RO_VALUE, 1, MapFlag.RDONLY_PROG)
        map_update(ro_fd, bytes(4), bytes(argcheck.RO_VALUE))
        map_freeze(ro_fd)
        for proto in ALL_PROTOS:
            cfg = _proto_config(proto.func_id, proto.variant, usable)
            if cfg is None:
                continue
            for i in range(min(proto.nargs + 1, 5)):
                kinds = argcheck.PROBE_KINDS if i < proto.nargs else (argcheck.Kind.UNINIT,)
                for kind in kinds:
                    text = argcheck.probe_program(argcheck.probe_kinds(proto, i, kind),
                                                  proto.func_id, hash_fd, ro_fd)  # fmt: skip
                    key = f"{proto.func_id}:{proto.variant}:{i}:{kind.value}"
                    msg = classify_call(load(cfg, text, "GPL", 1))
                    probes[key] = messages.setdefault(msg, len(messages))
    return {"kernel": _kernel_release(), "probes": probes, "messages": list(messages),
            "configs": {f"{p.func_id}:{p.variant}": c.name for p in ALL_PROTOS
                        if (c := _proto_config(p.func_id, p.variant, usable))}}  # fmt: skip


CTX_CONFIGS = (
    "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp", "xdp_devmap",
    "perf_event", "cgroup_skb", "cgroup_sock", "cgroup_sock_post_bind4",
    "cgroup_sock_post_bind6", "lwt_in", "lwt_out", "lwt_xmit", "lwt_seg6local", "sock_ops",
    "sk_skb", "cgroup_device", "sk_msg", "raw_tracepoint", "cgroup_sock_addr4",
    "cgroup_sock_addr6", "cgroup_sock_addr_sendmsg4", "cgroup_sock_addr_sendmsg6",
    "cgroup_sock_addr_recvmsg4", "sk_reuseport", "flow_dissector", "cgroup_sysctl",
    "raw_tracepoint_writable", "cgroup_getsockopt", "cgroup_setsockopt", "tp_btf",
    "iter_task", "tcp_ca_ssthresh", "sk_lookup", "syscall", "netfilter",
)  # fmt: skip


def record_ctx(load: Loader) -> dict[str, Any]:
    configs: dict[str, Any] = {"sock": probe_sock_access(load)}
    for name in CTX_CONFIGS:
        cfg = CONFIG_BY_NAME[name]
        if not loadable(load, cfg):
            configs[name] = "unloadable"
            continue
        configs[name] = probe_ctx(load, cfg, ctx_size(cfg.prog_type, cfg.attach_type))
    sock = configs.pop("sock")
    return {"kernel": _kernel_release(), "configs": configs, "sock": sock}


RECORDERS = {
    "helpers": ("helpers.json", record_helpers),
    "caps": ("caps.json", record_caps),
    "args": ("helper_args.json", record_args),
    "ctx": ("ctx_access.json", record_ctx),
}


def write(name: str, data: dict[str, Any]) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / name
    path.write_text(json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n")
    return path


def main(argv: list[str]) -> int:
    from pybpf.oracle import available, unavailable_reason

    if not available():
        print(f"bpf() unavailable: {unavailable_reason()}", file=sys.stderr)
        return 1
    load = kernel_loader()
    for which in argv or list(RECORDERS):
        filename, recorder = RECORDERS[which]
        start = time.monotonic()
        path = write(filename, recorder(load))
        print(f"{which}: {path} ({time.monotonic() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
