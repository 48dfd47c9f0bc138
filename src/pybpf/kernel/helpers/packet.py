"""Packet helpers for skb and XDP programs, with the run-time rules measured on Linux
(``docs/kernel/test-run.md`` section 7)."""

from __future__ import annotations

import errno

from ...errors import MemoryFault, RuntimeFault
from ...maps.base import map_at
from ...maps.types import MapType
from ...memory import MEMORY
from ..env import RunEnv
from ..skb import SkBuff
from ..xdp import XdpBuff
from .registry import helper, neg

BPF_F_RECOMPUTE_CSUM = 1
BPF_F_INVALIDATE_HASH = 2
BPF_F_INGRESS = 1
BPF_F_BROADCAST = 8
BPF_F_EXCLUDE_INGRESS = 16
XDP_REDIRECT = 4
XDP_ABORTED = 0
TC_ACT_SHOT = 2
TC_ACT_REDIRECT = 7


def _skb(env: RunEnv) -> SkBuff:
    if not isinstance(env.ctx, SkBuff):
        raise RuntimeFault(env.pc, "helper needs an skb context")
    return env.ctx


def _xdp(env: RunEnv) -> XdpBuff:
    if not isinstance(env.ctx, XdpBuff):
        raise RuntimeFault(env.pc, "helper needs an xdp context")
    return env.ctx


@helper("skb_load_bytes")
def skb_load_bytes(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    skb = _skb(env)
    offset, size = r2 & 0xFFFFFFFF, r4 & 0xFFFFFFFF
    data = skb.load_bytes(offset, size) if offset <= 0x7FFFFFFF else None
    if data is None:
        MEMORY.write(r3, bytes(size), env.pc)
        return neg(errno.EFAULT)
    MEMORY.write(r3, data, env.pc)
    return 0


@helper("skb_store_bytes")
def skb_store_bytes(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    skb = _skb(env)
    if r5 & ~(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH):
        return neg(errno.EINVAL)
    offset, size = r2 & 0xFFFFFFFF, r4 & 0xFFFFFFFF
    if offset > 0x7FFFFFFF:
        return neg(errno.EFAULT)
    try:
        data = MEMORY.read(r3, size, env.pc)
    except MemoryFault:
        return neg(errno.EFAULT)
    if not skb.store_bytes(offset, data, bool(r5 & BPF_F_RECOMPUTE_CSUM)):
        return neg(errno.EFAULT)
    if r5 & BPF_F_INVALIDATE_HASH:
        skb.set_ctx("hash", 0)
    return 0


@helper("set_hash")
def set_hash(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    _skb(env).set_ctx("hash", r2 & 0xFFFFFFFF)
    return 0


@helper("get_hash_recalc")
def get_hash_recalc(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _skb(env).ctx_value("hash")


@helper("xdp_adjust_head")
def xdp_adjust_head(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    delta = (r2 & 0xFFFFFFFF) - (1 << 32) if r2 & 0x80000000 else r2 & 0xFFFFFFFF
    return 0 if _xdp(env).adjust_head(delta) else neg(errno.EINVAL)


@helper("xdp_adjust_meta")
def xdp_adjust_meta(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    delta = (r2 & 0xFFFFFFFF) - (1 << 32) if r2 & 0x80000000 else r2 & 0xFFFFFFFF
    err = _xdp(env).adjust_meta(delta)
    return neg(err) if err else 0


@helper("xdp_adjust_tail")
def xdp_adjust_tail(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    delta = (r2 & 0xFFFFFFFF) - (1 << 32) if r2 & 0x80000000 else r2 & 0xFFFFFFFF
    return 0 if _xdp(env).adjust_tail(delta) else neg(errno.EINVAL)


@helper("xdp_get_buff_len")
def xdp_get_buff_len(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _xdp(env).buff_len


@helper("redirect")
def redirect(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    if isinstance(env.ctx, XdpBuff):
        if r2:
            return XDP_ABORTED
        env.redirect = ("ifindex", r1 & 0xFFFFFFFF)
        return XDP_REDIRECT
    if r2 & ~BPF_F_INGRESS:
        return TC_ACT_SHOT
    env.redirect = ("ifindex", r1 & 0xFFFFFFFF, r2)
    return TC_ACT_REDIRECT


@helper("redirect_map")
def redirect_map(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    m = map_at(r1)
    if m is None:
        raise RuntimeFault(env.pc, f"0x{r1:x} is not a map")
    fallback = r3 & 3
    extra = r3 & ~3
    devmap = m.spec.type in (MapType.DEVMAP, MapType.DEVMAP_HASH)
    allowed = (BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS) if devmap else 0
    if extra & ~allowed:
        return XDP_ABORTED
    if devmap and extra & BPF_F_BROADCAST:
        env.redirect = ("broadcast", m.id)
        return XDP_REDIRECT
    key = (r2 & 0xFFFFFFFF).to_bytes(4, "little")
    if m.redirect_target(key) is not None:
        env.redirect = ("map", m.id, r2 & 0xFFFFFFFF)
        return XDP_REDIRECT
    return fallback
