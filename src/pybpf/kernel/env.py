"""What a helper sees of the run that called it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .state import Kernel


@dataclass(eq=False)
class RunEnv:
    """The state of one program run that helpers may read and change.

    ``ctx`` is the packet model behind the program's context (an skb or an xdp buffer),
    ``cpu`` the CPU the run pretends to be on, ``pc`` the calling instruction (for fault
    messages); ``call_function`` runs a BPF subprogram by address (for callbacks) and is
    set by the runtime.
    """

    kernel: Kernel
    cpu: int = 0
    ctx: Any = None
    program: Any = None
    pc: int = -1
    call_function: Callable[[int, tuple[int, ...]], int] | None = None
    redirect: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
