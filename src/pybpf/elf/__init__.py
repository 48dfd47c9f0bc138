"""Object files from clang: read them and relocate their programs as libbpf does.

``open_object`` / ``open_file`` read an ELF object into an :class:`ObjectSpec` (programs,
maps, global data, BTF, externs, relocations); ``link_program`` turns one entry point
into the instructions the kernel gets, maps named by index.  Creating maps and loading
programs is the job of :mod:`pybpf.obj`.
"""

from __future__ import annotations

from .collect import object_name, open_file, open_object
from .link import link_program
from .sections import SECTION_DEFS, SecDef, find_sec_def
from .spec import (
    Extern,
    ExternKind,
    LinkedProgram,
    MapDef,
    MapOrigin,
    ObjectSpec,
    PinType,
    ProgramDef,
    Relocation,
    RelocKind,
    Variable,
)

__all__ = [
    "SECTION_DEFS",
    "Extern",
    "ExternKind",
    "LinkedProgram",
    "MapDef",
    "MapOrigin",
    "ObjectSpec",
    "PinType",
    "ProgramDef",
    "RelocKind",
    "Relocation",
    "SecDef",
    "Variable",
    "find_sec_def",
    "link_program",
    "object_name",
    "open_file",
    "open_object",
]
