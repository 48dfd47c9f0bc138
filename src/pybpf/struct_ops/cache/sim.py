"""A cache of fixed capacity serving a stream of keys, evicting the entry its policy
scores lowest.  Every entry is a ``pybpf_cache_entry`` kernel object the policy's
programs point at; Python policies (:class:`Lru`, :class:`Lfu`) use the same fields."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ...kernel.vmlinux import KObject, alloc_object


class CachePolicy(Protocol):
    name: str

    def init(self, capacity: int) -> None: ...
    def score(self, e: KObject, now: int) -> int: ...
    def on_hit(self, e: KObject, now: int) -> None: ...
    def on_insert(self, e: KObject, now: int) -> None: ...


class Lru:
    name = "lru"

    def init(self, capacity: int) -> None: ...
    def on_hit(self, e: KObject, now: int) -> None: ...
    def on_insert(self, e: KObject, now: int) -> None: ...

    def score(self, e: KObject, now: int) -> int:
        return int(e["last_access"])


class Lfu:
    """Fewest hits first, the least recently used among equals."""

    name = "lfu"

    def init(self, capacity: int) -> None: ...
    def on_hit(self, e: KObject, now: int) -> None: ...
    def on_insert(self, e: KObject, now: int) -> None: ...

    def score(self, e: KObject, now: int) -> int:
        return (int(e["hits"]) << 40) | (int(e["last_access"]) & ((1 << 40) - 1))


class BpfCachePolicy:
    """The programs of a registered ``pybpf_cache_ops``."""

    def __init__(self, kops: Any, kernel: Any) -> None:
        from ..call import OpsCaller

        self.name = kops.name
        self.call = OpsCaller(kops.programs, kernel)

    def init(self, capacity: int) -> None:
        if self.call.has("init"):
            self.call("init", capacity)

    def score(self, e: KObject, now: int) -> int:
        return self.call("score", e.address, now)

    def on_hit(self, e: KObject, now: int) -> None:
        if self.call.has("on_hit"):
            self.call("on_hit", e.address, now)

    def on_insert(self, e: KObject, now: int) -> None:
        if self.call.has("on_insert"):
            self.call("on_insert", e.address, now)


@dataclass(frozen=True)
class CacheStats:
    policy: str
    requests: int
    hits: int
    evictions: list[int]
    """Keys in the order they were evicted."""

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.requests if self.requests else 0.0


def zipf_keys(n: int, universe: int, s: float = 1.0, seed: int = 1) -> list[int]:
    """``n`` requests over ``universe`` keys with Zipf(s) popularity."""
    rng = random.Random(seed)
    weights = [1.0 / (k + 1) ** s for k in range(universe)]
    return rng.choices(range(universe), weights=weights, k=n)


def simulate(policy: CachePolicy, keys: Iterable[int], capacity: int) -> CacheStats:
    policy.init(capacity)
    entries: dict[int, KObject] = {}
    hits = requests = 0
    evicted: list[int] = []
    try:
        for now, key in enumerate(keys, 1):
            requests += 1
            e = entries.get(key)
            if e is not None:
                hits += 1
                e["hits"] = int(e["hits"]) + 1
                e["last_access"] = now
                policy.on_hit(e, now)
                continue
            if len(entries) >= capacity:
                victim = min(entries.values(), key=lambda x: (policy.score(x, now), int(x["key"])))
                evicted.append(int(victim["key"]))
                del entries[int(victim["key"])]
                victim.free()
            e = alloc_object("pybpf_cache_entry", name="cache_entry")
            e.update(key=key, inserted=now, last_access=now, hits=0, size=1)
            entries[key] = e
            policy.on_insert(e, now)
    finally:
        for e in entries.values():
            e.free()
    return CacheStats(policy.name, requests, hits, evicted)


POLICIES: dict[str, type[Lru] | type[Lfu]] = {"lru": Lru, "lfu": Lfu}


def compare(policies: Sequence[CachePolicy], keys: Sequence[int], capacity: int) -> list[CacheStats]:
    return [simulate(p, keys, capacity) for p in policies]
