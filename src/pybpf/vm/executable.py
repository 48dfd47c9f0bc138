"""A program as the runtime takes it: relocated instructions plus what its calls reach."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..isa.insn import Insn
from ..kernel.helpers import HELPERS, Helper
from ..kernel.progtypes import ProgType
from ..memory import Region, RegionKind, allocate


@dataclass(eq=False)
class Executable:
    """Instructions whose ``lddw`` immediates already hold addresses (maps, map values).

    ``code_region`` gives every instruction an address (``base + 8 * index``), which is
    what a BPF_PSEUDO_FUNC ``lddw`` loads and what callbacks are called through.
    """

    insns: Sequence[Insn]
    name: str = ""
    prog_type: ProgType = ProgType.UNSPEC
    helpers: Mapping[int, Helper] = field(default_factory=lambda: HELPERS)
    owner: Any = None
    probe_loads: frozenset[int] = frozenset()
    """Loads that read 0 where the address is bad (the kernel's ``BPF_PROBE_MEM``)."""
    code_region: Region = field(init=False)

    def __post_init__(self) -> None:
        raw = b"".join(i.encode() for i in self.insns)
        self.code_region = allocate(len(raw), RegionKind.KERNEL, f"code:{self.name}", False, raw, self)

    def function_address(self, pc: int) -> int:
        return self.code_region.base + 8 * pc
