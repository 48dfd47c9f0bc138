"""Running one function over many inputs on every core, or on a Ray cluster, in order.

``pybpf verify`` over a corpus is embarrassingly parallel: every case or object is
verified in a fresh kernel of its own.  :func:`ordered_map` hands the inputs to worker
processes (or Ray tasks) and yields the results in the inputs' order as soon as each one
and all before it are done, so output streams and stays stable whatever the scheduling.
Workers get batches of inputs, not one at a time, so that the cost of a round trip is
spread over many small programs.

The function must be a module-level function (it is pickled by reference) and must not
raise: anything it cannot do belongs in its result.
"""

from __future__ import annotations

import errno
import importlib
import logging
import multiprocessing
import os
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from .errors import BpfError

T = TypeVar("T")
R = TypeVar("R")

BATCH_TARGET = 4
"""Aim for this many batches per worker: enough to balance uneven work, few enough that
the per-batch cost stays small."""
MAX_BATCH = 64
CONNECT_TIMEOUT_S = 5.0
WINDOW_PER_WORKER = 4
"""Batches in flight per worker; bounds memory for corpora of 10^5 inputs."""


def cpu_count() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def batch_size(n: int, workers: int) -> int:
    return max(1, min(MAX_BATCH, n // max(1, workers * BATCH_TARGET)))


def _run_batch(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    return [fn(x) for x in items]


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def ordered_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    jobs: int | None = None,
    ray_address: str | None = None,
) -> Iterator[R]:
    """``fn`` over ``items``, results in input order.  ``jobs``: worker processes (None:
    every core; 1: in this process).  ``ray_address``: run on that Ray cluster instead
    (``"local"`` starts a private one)."""
    seq = list(items)
    if ray_address is not None:
        yield from _ray_map(fn, seq, ray_address)
        return
    workers = cpu_count() if jobs is None else jobs
    if workers < 1:
        raise BpfError(errno.EINVAL, f"--jobs must be at least 1, not {workers}")
    workers = min(workers, len(seq))
    if workers <= 1:
        for x in seq:
            yield fn(x)
        return
    yield from _pool_map(fn, seq, workers)


def _pool_map(fn: Callable[[T], R], seq: list[T], workers: int) -> Iterator[R]:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    size = batch_size(len(seq), workers)
    batches = _batches(seq, size)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: deque[Future[list[R]]] = deque()
        for b in batches:
            pending.append(pool.submit(_run_batch, fn, b))
            if len(pending) >= workers * WINDOW_PER_WORKER:
                break
        while pending:
            done = pending.popleft().result()
            nxt = next(batches, None)
            if nxt is not None:
                pending.append(pool.submit(_run_batch, fn, nxt))
            yield from done


def _check_reachable(address: str) -> None:
    """A ``host:port`` that does not answer is an error now, not after Ray's minutes of
    retries."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "local", "auto", ray://... : Ray's own business
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        err = exc.errno or errno.ECONNREFUSED
        raise BpfError(
            err, f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}"
        ) from None


def _ray_map(fn: Callable[[T], R], seq: list[T], address: str) -> Iterator[R]:
    try:
        ray: Any = importlib.import_module("ray")
    except ImportError:
        raise BpfError(errno.ENOPKG, "--ray needs Ray: pip install pybpf[ray]") from None
    _check_reachable(address)
    started = False
    if not ray.is_initialized():
        try:
            ray.init(address=None if address == "local" else address, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR)  # fmt: skip
        except Exception as exc:  # Ray's own errors: connection refused, bad address, ...
            raise BpfError(
                errno.ECONNREFUSED, f"cannot reach the Ray cluster at {address}: {exc}"
            ) from None
        started = True
    try:
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(_run_batch)
        batches = _batches(seq, batch_size(len(seq), workers))
        fn_ref = ray.put(fn)
        pending: deque[Any] = deque()
        for b in batches:
            pending.append(remote.remote(fn_ref, b))
            if len(pending) >= workers * WINDOW_PER_WORKER:
                break
        while pending:
            done = ray.get(pending.popleft())
            nxt = next(batches, None)
            if nxt is not None:
                pending.append(remote.remote(fn_ref, nxt))
            yield from done
    finally:
        if started:
            ray.shutdown()
