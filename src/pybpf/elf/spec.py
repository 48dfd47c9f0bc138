"""What an object file describes, before anything is created: programs, maps, global data.

The loader (``pybpf.elf.collect``) fills these records from the ELF file; linking
(``pybpf.elf.link``) turns each entry-point program into the instructions the kernel
receives.  Nothing here owns a kernel object: maps are referred to by their index in
:attr:`ObjectSpec.maps`, the way a light skeleton's ``fd_array`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import TYPE_CHECKING

from ..btf.ext import BtfExt, FuncInfo, LineInfo
from ..isa.insn import Insn
from ..kernel.progtypes import AttachType, ProgType
from ..maps.types import MapSpec
from .sections import SecDef

if TYPE_CHECKING:
    from ..btf import Btf


class MapOrigin(Enum):
    """Where a map definition came from (libbpf's ``libbpf_map_type`` plus the two
    kinds of user maps)."""

    BTF = "btf"  # SEC(".maps")
    LEGACY = "legacy"  # SEC("maps"), struct bpf_map_def
    DATA = "data"
    RODATA = "rodata"
    BSS = "bss"
    KCONFIG = "kconfig"

    @property
    def internal(self) -> bool:
        return self in (MapOrigin.DATA, MapOrigin.RODATA, MapOrigin.BSS, MapOrigin.KCONFIG)


class PinType(IntEnum):
    NONE = 0
    BY_NAME = 1


@dataclass(frozen=True)
class Variable:
    """A global variable of a data section: where it is and what BTF says it is."""

    name: str
    offset: int
    size: int
    type_id: int = 0
    static: bool = False


@dataclass
class MapDef:
    """One map the object declares.

    ``name`` is the name users look the map up by (libbpf's, up to 15 characters for
    the global-data maps); ``real_name`` the section or variable it came from.
    ``init_slots`` names the maps (map-in-map) or programs (program arrays) the
    ``.values`` initialiser puts in each slot.
    """

    name: str
    origin: MapOrigin
    spec: MapSpec
    real_name: str
    sec_idx: int = 0
    sec_offset: int = 0
    pinning: PinType = PinType.NONE
    init_slots: list[str | None] = field(default_factory=list)
    data: bytes | None = None
    variables: tuple[Variable, ...] = ()
    btf_var_idx: int = -1

    @property
    def internal(self) -> bool:
        return self.origin.internal


class RelocKind(Enum):
    """What a relocated instruction refers to (libbpf's ``reloc_type``)."""

    LD64 = "map"  # lddw of a map
    DATA = "data"  # lddw of an address in a global-data map
    CALL = "call"  # bpf-to-bpf call
    SUBPROG_ADDR = "subprog_addr"  # lddw of a function (a callback)
    EXTERN_LD64 = "extern_ld64"  # lddw of an extern variable
    EXTERN_CALL = "extern_call"  # call of an extern function (a kfunc)


@dataclass(frozen=True)
class Relocation:
    """One instruction relocation, with ``insn_idx`` local to its program."""

    kind: RelocKind
    insn_idx: int
    sym_name: str
    map_idx: int = -1
    sym_off: int = 0
    ext_idx: int = -1


@dataclass
class ProgramDef:
    """A function of an executable section: an entry point, or a subprogram in ``.text``."""

    name: str
    section: str
    sec_idx: int
    sec_insn_off: int
    insns: list[Insn]
    autoload: bool = True
    elf_section: str = ""
    """The ELF section's own name (with a leading ``?`` if it had one)."""
    sec_def: SecDef | None = None
    prog_type: ProgType = ProgType.UNSPEC
    expected_attach_type: AttachType | None = None
    is_subprog: bool = False
    sym_global: bool = False
    mark_btf_static: bool = False
    relocs: list[Relocation] = field(default_factory=list)

    @property
    def sec_insn_cnt(self) -> int:
        return len(self.insns)

    @property
    def prog_flags(self) -> int:
        return self.sec_def.prog_flags if self.sec_def is not None else 0

    @property
    def attach_target(self) -> str:
        _, _, rest = self.section.partition("/")
        return rest


class ExternKind(Enum):
    KCONFIG = "kconfig"
    KSYM = "ksym"


@dataclass
class Extern:
    """An ``extern`` the object uses: a ``__kconfig`` value or a ``__ksym``."""

    name: str
    kind: ExternKind
    sym_idx: int
    btf_id: int
    weak: bool
    is_func: bool = False
    size: int = 0
    align: int = 1
    data_off: int = 0
    kcfg_type: str = ""
    signed: bool = False


@dataclass
class ObjectSpec:
    """Everything read from one object file."""

    name: str
    path: str
    license: str
    kern_version: int
    programs: list[ProgramDef]
    maps: list[MapDef]
    btf: Btf | None = None
    btf_ext: BtfExt | None = None
    externs: list[Extern] = field(default_factory=list)
    kconfig_map_idx: int = -1

    def program(self, name: str) -> ProgramDef | None:
        for p in self.programs:
            if p.name == name:
                return p
        return None

    def map_index(self, name: str) -> int:
        for i, m in enumerate(self.maps):
            if m.name == name:
                return i
        return -1

    @property
    def entry_programs(self) -> list[ProgramDef]:
        return [p for p in self.programs if not p.is_subprog]


@dataclass(frozen=True)
class CorePoison:
    """An instruction CO-RE could not relocate, left to fail if the verifier reaches it
    (``insn_idx`` local to program ``prog``, or to the linked program once linked)."""

    prog: str
    insn_idx: int
    relo_idx: int
    reason: str


@dataclass(frozen=True)
class LinkedProgram:
    """An entry point with its subprograms appended and every reference relocated: the
    instructions ``BPF_PROG_LOAD`` gets, maps named by index into the object's maps
    (``BPF_PSEUDO_MAP_IDX`` / ``BPF_PSEUDO_MAP_IDX_VALUE``)."""

    name: str
    section: str
    prog_type: ProgType
    expected_attach_type: AttachType | None
    insns: tuple[Insn, ...]
    map_indices: tuple[int, ...]
    func_info: tuple[FuncInfo, ...] = ()
    line_info: tuple[LineInfo, ...] = ()
    prog_flags: int = 0
    attach_target: str = ""
    subprogs: tuple[tuple[str, int], ...] = ()
    core_poisoned: tuple[CorePoison, ...] = ()
