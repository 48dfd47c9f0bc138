"""The ELF container of a BPF object: sections, symbols and relocation tables as numbers.

pyelftools does the byte-level parsing; this module turns its answers into small frozen
records (names resolved, enums as the ELF numbers) and checks what a loader relies on:
a 64-bit little-endian relocatable file for the BPF machine with one symbol table.
Anything pyelftools trips over becomes one :class:`BpfError` line naming the file, never
a traceback.
"""

from __future__ import annotations

import errno
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import BpfError

EM_BPF = 247

SHT_NULL = 0
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_RELA = 4
SHT_NOBITS = 8
SHT_REL = 9
SHT_LLVM_ADDRSIG = 0x6FFF4C03

SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4

STB_LOCAL = 0
STB_GLOBAL = 1
STB_WEAK = 2

STT_NOTYPE = 0
STT_OBJECT = 1
STT_FUNC = 2
STT_SECTION = 3
STT_FILE = 4

STV_DEFAULT = 0
STV_INTERNAL = 1
STV_HIDDEN = 2
STV_PROTECTED = 3

SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_ABS = 0xFFF1
SHN_COMMON = 0xFFF2

# Relocation types of the BPF machine (llvm's BPF ELF relocation list).
R_BPF_NONE = 0
R_BPF_64_64 = 1
R_BPF_64_ABS64 = 2
R_BPF_64_ABS32 = 3
R_BPF_64_NODYLD32 = 4
R_BPF_64_32 = 10
RELOC_TYPE_NAMES = {
    R_BPF_NONE: "R_BPF_NONE",
    R_BPF_64_64: "R_BPF_64_64",
    R_BPF_64_ABS64: "R_BPF_64_ABS64",
    R_BPF_64_ABS32: "R_BPF_64_ABS32",
    R_BPF_64_NODYLD32: "R_BPF_64_NODYLD32",
    R_BPF_64_32: "R_BPF_64_32",
}

_SHT = {"SHT_NULL": SHT_NULL, "SHT_PROGBITS": SHT_PROGBITS, "SHT_SYMTAB": SHT_SYMTAB,
        "SHT_STRTAB": SHT_STRTAB, "SHT_RELA": SHT_RELA, "SHT_NOBITS": SHT_NOBITS,
        "SHT_REL": SHT_REL, "SHT_LLVM_ADDRSIG": SHT_LLVM_ADDRSIG}  # fmt: skip
_STB = {"STB_LOCAL": STB_LOCAL, "STB_GLOBAL": STB_GLOBAL, "STB_WEAK": STB_WEAK}
_STT = {"STT_NOTYPE": STT_NOTYPE, "STT_OBJECT": STT_OBJECT, "STT_FUNC": STT_FUNC,
        "STT_SECTION": STT_SECTION, "STT_FILE": STT_FILE}  # fmt: skip
_STV = {"STV_DEFAULT": STV_DEFAULT, "STV_INTERNAL": STV_INTERNAL, "STV_HIDDEN": STV_HIDDEN,
        "STV_PROTECTED": STV_PROTECTED}  # fmt: skip
_SHN = {"SHN_UNDEF": SHN_UNDEF, "SHN_ABS": SHN_ABS, "SHN_COMMON": SHN_COMMON}


@dataclass(frozen=True)
class Section:
    """One section header with its bytes (empty for ``SHT_NOBITS``; ``size`` still set)."""

    index: int
    name: str
    type: int
    flags: int
    size: int
    link: int
    info: int
    entsize: int
    data: bytes

    @property
    def is_exec(self) -> bool:
        return self.type == SHT_PROGBITS and bool(self.flags & SHF_EXECINSTR)


@dataclass(frozen=True)
class Symbol:
    index: int
    name: str
    value: int
    size: int
    type: int
    bind: int
    visibility: int
    shndx: int

    @property
    def is_extern(self) -> bool:
        """An undefined global or weak symbol without a type: an ``extern`` variable or
        function the loader must resolve."""
        return (self.shndx == SHN_UNDEF and self.bind in (STB_GLOBAL, STB_WEAK)
                and self.type == STT_NOTYPE and bool(self.name))  # fmt: skip


@dataclass(frozen=True)
class Reloc:
    """One ``Elf64_Rel``: where, against which symbol, of which type."""

    offset: int
    sym: int
    type: int

    @property
    def type_name(self) -> str:
        return RELOC_TYPE_NAMES.get(self.type, f"type {self.type}")


@dataclass(frozen=True)
class RelocTable:
    """A ``.rel*`` section and the section its entries patch."""

    section: Section
    target: int
    relocs: tuple[Reloc, ...]


T = TypeVar("T")


def _num(value: Any, table: dict[str, int]) -> int:
    if isinstance(value, int):
        return value
    if value in table:
        return table[value]
    raise ValueError(f"unknown ELF value {value!r}")


class ElfObject:
    """A BPF relocatable ELF file read into plain records."""

    def __init__(self, raw: bytes, label: str = "<memory>") -> None:
        self.label = label
        self.raw = raw
        self.sections: list[Section] = []
        self.symbols: list[Symbol] = []
        self.symtab_index = 0
        self.reloc_tables: list[RelocTable] = []
        self._guard(self._read)

    # -- errors ----------------------------------------------------------------------
    def error(self, message: str, err: int = errno.EINVAL) -> BpfError:
        return BpfError(err, f"{self.label}: {message}")

    def _guard(self, fn: Callable[[], T]) -> T:
        """Run ``fn``; whatever pyelftools raises on a malformed file becomes one line."""
        try:
            return fn()
        except BpfError:
            raise
        except RecursionError:
            raise self.error("bad ELF: structure nests too deeply") from None
        except Exception as exc:  # pyelftools raises many kinds on corrupt input
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise self.error(f"bad ELF: {detail[:160]}") from None

    # -- reading ---------------------------------------------------------------------
    def _read(self) -> None:
        from elftools.elf.elffile import ELFFile

        if len(self.raw) < 4 or self.raw[:4] != b"\x7fELF":
            raise self.error("not an ELF file")
        elf = ELFFile(io.BytesIO(self.raw))
        hdr = elf.header
        if elf.elfclass != 64:
            raise self.error("not a valid ELF64 file")
        if not elf.little_endian:
            raise self.error("endianness mismatch: big-endian BPF objects are not supported")
        if hdr["e_type"] not in ("ET_REL", 1):
            raise self.error("not a relocatable object (ET_REL)")
        if _num(hdr["e_machine"], {"EM_BPF": EM_BPF}) != EM_BPF:
            raise self.error(f"not a BPF object (e_machine {hdr['e_machine']})")
        count = elf.num_sections()
        for idx in range(count):
            s = elf.get_section(idx)
            sh = s.header
            sh_type = _num(sh["sh_type"], _SHT) if not isinstance(sh["sh_type"], int) else sh["sh_type"]
            size = int(sh["sh_size"])
            if sh_type in (SHT_NOBITS, SHT_NULL):
                data = b""
            else:
                if int(sh["sh_offset"]) + size > len(self.raw):
                    raise self.error(f"section {idx} ({s.name!r}) runs past the end of the file")
                data = bytes(s.data())
            self.sections.append(Section(idx, s.name, sh_type, int(sh["sh_flags"]), size,
                                         int(sh["sh_link"]), int(sh["sh_info"]),
                                         int(sh["sh_entsize"]), data))  # fmt: skip
        self._read_symbols(elf)
        self._read_relocs(elf)

    def _read_symbols(self, elf: Any) -> None:
        symtabs = [s for s in self.sections if s.type == SHT_SYMTAB]
        if not symtabs:
            raise self.error("no symbol table (stripped object file?)", errno.ENOENT)
        if len(symtabs) > 1:
            raise self.error("more than one symbol table")
        tab = symtabs[0]
        self.symtab_index = tab.index
        if not 0 < tab.link < len(self.sections) or self.sections[tab.link].type != SHT_STRTAB:
            raise self.error("symbol strings section missing or invalid")
        if tab.entsize != 24 or tab.size % 24:
            raise self.error("symbol table has a bad entry size")
        section = elf.get_section(tab.index)
        for i, sym in enumerate(section.iter_symbols()):
            info, other = sym["st_info"], sym["st_other"]
            shndx = sym["st_shndx"]
            self.symbols.append(Symbol(
                i, sym.name, int(sym["st_value"]), int(sym["st_size"]), _num(info["type"], _STT),
                _num(info["bind"], _STB), _num(other["visibility"], _STV), _num(shndx, _SHN),
            ))  # fmt: skip

    def _read_relocs(self, elf: Any) -> None:
        for sec in self.sections:
            if sec.type == SHT_RELA:
                raise self.error(f"section {sec.name!r}: RELA relocations are not used by BPF")
            if sec.type != SHT_REL:
                continue
            if sec.entsize != 16 or sec.size % 16 or not 0 < sec.info < len(self.sections):
                raise self.error(f"relocation section {sec.name!r} is malformed")
            relocs = tuple(
                Reloc(int(r["r_offset"]), int(r["r_info_sym"]), int(r["r_info_type"]))
                for r in elf.get_section(sec.index).iter_relocations()
            )
            self.reloc_tables.append(RelocTable(sec, sec.info, relocs))

    # -- queries ---------------------------------------------------------------------
    def section(self, index: int) -> Section:
        if not 0 <= index < len(self.sections):
            raise self.error(f"section index {index} does not exist")
        return self.sections[index]

    def section_named(self, name: str) -> Section | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def symbol(self, index: int) -> Symbol:
        if not 0 <= index < len(self.symbols):
            raise self.error(f"symbol #{index} not found")
        return self.symbols[index]

    def symbols_in(self, shndx: int) -> Iterator[Symbol]:
        return (s for s in self.symbols if s.shndx == shndx)

    def symbol_name(self, sym: Symbol) -> str:
        """The symbol's name, or its section's for the nameless section symbols that
        relocations against static functions and variables use."""
        if sym.type == STT_SECTION and not sym.name and 0 < sym.shndx < len(self.sections):
            return self.sections[sym.shndx].name
        return sym.name

    def relocs_for(self, target: int) -> RelocTable | None:
        for t in self.reloc_tables:
            if t.target == target:
                return t
        return None


def read_elf(raw: bytes, label: str = "<memory>") -> ElfObject:
    return ElfObject(raw, label)
