"""The TCP congestion-control kfuncs (the kernel's ``bpf_tcp_ca`` set), one Python
implementation shared by the BPF programs' calls and the Python reference algorithms
so that both compute the same windows."""

from __future__ import annotations

from collections.abc import Callable

from ...kernel.env import RunEnv
from ...memory import MEMORY
from .sock import _offsets

U32 = 0xFFFFFFFF


def _ld(tp: int, name: str) -> int:
    off, st = _offsets()[name]
    return MEMORY.load(tp + off, st.size)


def _st(tp: int, name: str, value: int) -> None:
    off, st = _offsets()[name]
    MEMORY.store(tp + off, st.size, value & ((1 << (8 * st.size)) - 1))


def _cwnd_limited(tp: int) -> bool:
    """``tcp_is_cwnd_limited``: in slow start, cwnd below twice the most ever in flight;
    otherwise the flag the stack keeps."""
    from ...kernel.vmlinux import object_at

    cwnd, ssthresh = _ld(tp, "snd_cwnd"), _ld(tp, "snd_ssthresh")
    if cwnd < ssthresh:
        return cwnd < 2 * _ld(tp, "max_packets_out")
    obj = object_at(tp)
    return bool(obj["is_cwnd_limited"]) if obj is not None else True


def tcp_slow_start(tp: int, acked: int) -> int:
    """Grow cwnd by ``acked`` up to ssthresh; return what is left of ``acked``."""
    cwnd0 = _ld(tp, "snd_cwnd")
    cwnd = min((cwnd0 + acked) & U32, _ld(tp, "snd_ssthresh"))
    acked = (acked - (cwnd - cwnd0)) & U32
    _st(tp, "snd_cwnd", min(cwnd, _ld(tp, "snd_cwnd_clamp")))
    return acked


def tcp_cong_avoid_ai(tp: int, w: int, acked: int) -> None:
    """Additive increase: one segment per ``w`` acknowledged."""
    w = max(w, 1)
    cnt, cwnd = _ld(tp, "snd_cwnd_cnt"), _ld(tp, "snd_cwnd")
    if cnt >= w:
        cnt, cwnd = 0, cwnd + 1
    cnt = (cnt + acked) & U32
    if cnt >= w:
        delta = cnt // w
        cnt -= delta * w
        cwnd += delta
    _st(tp, "snd_cwnd_cnt", cnt)
    _st(tp, "snd_cwnd", min(cwnd, _ld(tp, "snd_cwnd_clamp")))


def tcp_reno_cong_avoid(tp: int, ack: int, acked: int) -> None:
    if not _cwnd_limited(tp):
        return
    if _ld(tp, "snd_cwnd") < _ld(tp, "snd_ssthresh"):
        acked = tcp_slow_start(tp, acked)
        if not acked:
            return
    tcp_cong_avoid_ai(tp, _ld(tp, "snd_cwnd"), acked)


def tcp_reno_ssthresh(tp: int) -> int:
    return max(_ld(tp, "snd_cwnd") >> 1, 2)


def tcp_reno_undo_cwnd(tp: int) -> int:
    return max(_ld(tp, "snd_cwnd"), _ld(tp, "prior_cwnd"))


KfuncImpl = Callable[[RunEnv, int, int, int, int, int], int]


def _wrap0(f: Callable[..., int | None], nargs: int) -> KfuncImpl:
    def call(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        args = (r1, r2 & U32, r3 & U32, r4, r5)[:nargs]
        return int(f(*args) or 0)

    return call


TCP_CA_KFUNCS: dict[str, KfuncImpl] = {
    "tcp_slow_start": _wrap0(tcp_slow_start, 2),
    "tcp_cong_avoid_ai": _wrap0(tcp_cong_avoid_ai, 3),
    "tcp_reno_cong_avoid": _wrap0(tcp_reno_cong_avoid, 3),
    "tcp_reno_ssthresh": _wrap0(tcp_reno_ssthresh, 1),
    "tcp_reno_undo_cwnd": _wrap0(tcp_reno_undo_cwnd, 1),
}
"""What a ``tcp_congestion_ops`` program may call (``bpf_tcp_ca_check_kfunc_ids``)."""
