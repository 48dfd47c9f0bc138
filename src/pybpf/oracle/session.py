"""A scope that owns the kernel objects it creates and closes their fds when it ends."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from . import btf as _btf
from . import maps as _maps
from . import progs as _progs
from .syscall import close

P = ParamSpec("P")


class _HasFd(Protocol):
    @property
    def fd(self) -> int | None: ...


R = TypeVar("R", bound=_HasFd)


def _tracks_fd(fn: Callable[P, int]) -> Callable[Concatenate[Session, P], int]:
    def method(self: Session, /, *args: P.args, **kwargs: P.kwargs) -> int:
        return self.track(fn(*args, **kwargs))

    method.__doc__ = fn.__doc__
    method.__name__ = fn.__name__
    return method


def _tracks_result_fd(fn: Callable[P, R]) -> Callable[Concatenate[Session, P], R]:
    def method(self: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        res = fn(*args, **kwargs)
        if res.fd is not None:
            self.track(res.fd)
        return res

    method.__doc__ = fn.__doc__
    method.__name__ = fn.__name__
    return method


class Session:
    """Creates maps, programs and BTF objects and closes them all on exit.

    >>> with Session() as s:                                   # doctest: +SKIP
    ...     fd = s.map_create(MapType.HASH, 4, 8, 16)
    ...     res = s.prog_load(ProgType.XDP, insns, fd_array=[fd])
    """

    def __init__(self) -> None:
        self._fds: list[int] = []

    @property
    def fds(self) -> tuple[int, ...]:
        return tuple(self._fds)

    def track(self, fd: int) -> int:
        """Take ownership of ``fd`` (closed with the session); returns it."""
        if fd >= 0:
            self._fds.append(fd)
        return fd

    def release(self, fd: int) -> None:
        """Close one fd now, if this session owns it."""
        if fd in self._fds:
            self._fds.remove(fd)
            close(fd)

    map_create = _tracks_fd(_maps.map_create)

    prog_load = _tracks_result_fd(_progs.prog_load)
    btf_load = _tracks_result_fd(_btf.btf_load)

    def close(self) -> None:
        """Close every fd the session owns, newest first (programs before their maps)."""
        while self._fds:
            close(self._fds.pop())

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
