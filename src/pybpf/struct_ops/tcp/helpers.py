"""The helpers a congestion-control program may call besides the base set (the
kernel's ``bpf_tcp_ca_get_func_proto``), as the simulator can answer them."""

from __future__ import annotations

import errno

from ...isa.helper_ids import HELPER_IDS
from ...kernel.env import RunEnv
from ...kernel.helpers import Helper
from ...kernel.helpers.registry import neg

HZ = 250
"""pybpf's ``CONFIG_HZ``."""
BPF_SK_STORAGE_GET_F_CREATE = 1


def _jiffies64(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return env.kernel.ktime_ns() * HZ // 1_000_000_000


def _tcp_send_ack(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return 0  # the simulated receiver acknowledges every segment by itself


def _sk_storage_get(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """The simulated sockets carry no local storage: a lookup finds none; creating one
    is refused (the simulator has no socket storage to put it in)."""
    return neg(errno.EOPNOTSUPP) if r4 & BPF_SK_STORAGE_GET_F_CREATE else 0


def _sk_storage_delete(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return neg(errno.ENOENT)


def _sockopt(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return neg(errno.EOPNOTSUPP)  # the simulated socket has no option to change


def tcp_ca_helpers() -> dict[int, Helper]:
    table = {"jiffies64": _jiffies64, "tcp_send_ack": _tcp_send_ack, "sk_storage_get": _sk_storage_get,
             "sk_storage_delete": _sk_storage_delete, "setsockopt": _sockopt, "getsockopt": _sockopt}  # fmt: skip
    return {HELPER_IDS[n]: Helper(HELPER_IDS[n], "bpf_" + n, fn) for n, fn in table.items()}
