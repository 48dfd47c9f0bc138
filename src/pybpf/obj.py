"""``pybpf.open``: an object file from clang, opened and loaded as libbpf does.

>>> obj = pybpf.open("counter.o")          # read: programs, maps, global data
>>> obj.rodata.debug = 1                   # set constants before the load
>>> obj.load()                             # create maps, verify and load every program
>>> obj.programs["xdp_count"].run(b"\\0" * 64).retval
>>> obj.maps["counts"][0], obj.bss.packets  # maps and globals after runs

A load creates every map (global-data maps filled from the object, ``.rodata`` and
``.kconfig`` frozen before any program is verified, so the verifier reads their values
as constants), fills map-in-map slots, links and verifies each program that loads
automatically, then fills program arrays.  If anything fails, everything created so far
is removed again and the error is raised: nothing is left half loaded.
"""

from __future__ import annotations

import builtins
import dataclasses
import errno
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BpfError
from .kernel.state import Kernel
from .maps.base import Map
from .maps.types import MapSpec, MapType

if TYPE_CHECKING:
    from .btf import Btf
    from .elf.spec import LinkedProgram, MapDef, ObjectSpec, ProgramDef
    from .elf.srclines import SourceLines
    from .program import Program
    from .verifier.core import VerifyResult
    from .vm.testrun import TestRunResult

GPL_COMPATIBLE = frozenset({
    "GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL",
})  # fmt: skip
"""The kernel's ``license_is_gpl_compatible`` list: these may call GPL-only helpers."""


_ON_KERNEL_OBJECTS = (26, 27, 29)
"""Tracing (BTF-typed contexts, iterators), struct_ops and LSM programs: their context
hands them typed pointers into pybpf's kernel, whose loads the verifier checks against
pybpf's kernel BTF, so CO-RE relocates an object with any such program against that BTF
first, every program of it included; what cannot be relocated there (a member pybpf's
kernel does not declare) takes the host's layout (:func:`_core_fallback`)."""


def _core_fallback(spec: Any, mine: tuple[dict[int, list[Any]], list[Any]],
                   host: tuple[dict[int, list[Any]], list[Any]]) -> tuple[dict[int, list[Any]], list[Any]]:  # fmt: skip
    """CO-RE relocated against pybpf's kernel BTF, except the instructions it could not
    relocate there and the host's BTF could: those take the host's layout."""
    index = {p.name: i for i, p in enumerate(spec.programs)}
    host_poisoned = {(c.prog, c.insn_idx) for c in host[1]}
    code = {i: list(insns) for i, insns in mine[0].items()}
    left = []
    for c in mine[1]:
        i = index.get(c.prog)
        theirs = host[0].get(i) if i is not None else None
        if theirs is None or (c.prog, c.insn_idx) in host_poisoned or i not in code:
            left.append(c)
            continue
        width = 2 if theirs[c.insn_idx].code == 0x18 else 1  # ld_imm64 takes two slots
        code[i][c.insn_idx : c.insn_idx + width] = theirs[c.insn_idx : c.insn_idx + width]
    return code, left


def license_is_gpl_compatible(text: str) -> bool:
    return text in GPL_COMPATIBLE


class ProgramLoadError(BpfError):
    """A program of the object failed to load; ``log`` is the verifier's (with source
    lines when the object has line info)."""

    def __init__(self, program: str, err: int, message: str, log: str = "",
                 result: VerifyResult | None = None) -> None:  # fmt: skip
        super().__init__(err, f"prog '{program}': {message}")
        self.program = program
        self.reason = message
        self.log = log
        self.result = result


@dataclass(frozen=True)
class ProgramVerdict:
    """One program's answer from :meth:`BpfObject.verify` (and ``pybpf verify prog.o``)."""

    name: str
    section: str
    accepted: bool
    errno: int
    message: str
    log: str
    insns_processed: int
    insn_cnt: int

    @property
    def verdict(self) -> str:
        return "accepted" if self.accepted else "rejected"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "section": self.section, "verdict": self.verdict,
                "accepted": self.accepted, "errno": self.errno, "message": self.message,
                "insns_processed": self.insns_processed, "insn_cnt": self.insn_cnt,
                "log": self.log}  # fmt: skip


# --- programs ---------------------------------------------------------------------------


class ObjectProgram:
    """One entry point of the object: its section, types, and after the load the loaded
    :class:`~pybpf.program.Program`."""

    def __init__(self, obj: BpfObject, pdef: ProgramDef) -> None:
        self._obj = obj
        self.definition = pdef
        self.autoload = pdef.autoload
        self.program: Program | None = None
        self.linked: LinkedProgram | None = None

    def __repr__(self) -> str:
        state = "loaded" if self.program is not None else "not loaded"
        return f"<ObjectProgram {self.name!r} SEC({self.section!r}) {state}>"

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def section(self) -> str:
        return self.definition.section

    @property
    def prog_type(self) -> Any:
        return self.definition.prog_type

    @property
    def expected_attach_type(self) -> Any:
        return self.definition.expected_attach_type

    @property
    def insns(self) -> tuple[Any, ...]:
        """The relocated instructions (linked on first use)."""
        return self.link().insns

    def link(self) -> LinkedProgram:
        if self.linked is None:
            self.linked = self._obj._link(self.definition)
        return self.linked

    @property
    def source_lines(self) -> SourceLines:
        from .elf.srclines import SourceLines

        return SourceLines(self.link().line_info)

    @property
    def log(self) -> str:
        if self.program is None or self.program.verified is None:
            return ""
        return self.program.verified.log

    def _loaded(self) -> Program:
        if self.program is None:
            raise BpfError(errno.EINVAL, f"program '{self.name}' is not loaded (call load() first"
                           + ("" if self.autoload else "; it does not load automatically") + ")")
        return self.program

    def run(self, data: bytes = b"", ctx: bytes | None = None, repeat: int = 1,
            cpu: int = 0) -> TestRunResult:  # fmt: skip
        """One ``BPF_PROG_TEST_RUN`` of the loaded program."""
        return self._loaded().run(data, ctx, repeat, cpu)


# --- maps -------------------------------------------------------------------------------


class ObjectMap:
    """A map of the object.  Before the load its definition can be changed; after, it
    works as the created :class:`~pybpf.maps.base.Map` (``m[key]``, ``m.lookup``...)."""

    def __init__(self, obj: BpfObject, mdef: MapDef) -> None:
        self._obj = obj
        self.definition = mdef
        self.map: Map | None = None
        self._reuse: Map | None = None
        self._shared_pin: str | None = None

    def reuse(self, m: Map) -> None:
        """Use an existing map instead of creating one (``bpf_map__reuse_fd``): it must
        have this definition's type, sizes and flags; the object will not close it."""
        self._before_load("the map to use")
        _check_compatible(self.name, m, self.spec, "reuse map")
        self._reuse = m

    def __repr__(self) -> str:
        return f"<ObjectMap {self.name!r} {self.spec.type.case_name}>"

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def spec(self) -> MapSpec:
        return self.definition.spec

    def set_max_entries(self, n: int) -> None:
        self._before_load("max_entries")
        self.definition.spec = dataclasses.replace(self.spec, max_entries=n)

    def _before_load(self, what: str) -> None:
        if self._obj.loaded:
            raise BpfError(errno.EBUSY, f"map '{self.name}': {what} can only change before load")

    def _created(self) -> Map:
        if self.map is None:
            raise BpfError(errno.EINVAL, f"map '{self.name}' is not created yet (load the object)")
        return self.map

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_") or attr in ("definition", "map"):
            raise AttributeError(attr)
        return getattr(self._created(), attr)

    def __getitem__(self, key: Any) -> Any:
        return self._created()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._created()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._created()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._created()

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._created())

    def __len__(self) -> int:
        return len(self._created())


# --- global data ------------------------------------------------------------------------


class GlobalData:
    """The variables of one global-data section, skeleton-like.

    ``obj.rodata.limit = 10`` and ``obj.rodata["limit"]`` read and write a variable;
    ``obj.rodata.update(limit=10)`` sets several; ``dict(obj.bss)`` reads them all.
    Before the load the values are the object's initial image; after it they are the
    map's (``.rodata`` and ``.kconfig`` are then read-only).
    """

    _obj: BpfObject
    _index: int

    def __init__(self, obj: BpfObject, index: int) -> None:
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_index", index)

    @property
    def _def(self) -> MapDef:
        return self._obj.spec.maps[self._index]

    def _var(self, name: str) -> Any:
        for v in self._def.variables:
            if v.name == name:
                return v
        raise AttributeError(f"{self._def.real_name} has no variable {name!r}")

    def _image(self) -> bytes:
        obj: BpfObject = self._obj
        m = obj._maps[self._def.name].map
        if m is not None and not m.closed:
            return m.lookup(bytes(4))
        return bytes(obj._images[self._index])

    def _store(self, offset: int, data: bytes) -> None:
        mdef = self._def
        m = self._obj._maps[mdef.name].map
        if m is None:
            if mdef.origin.value == "kconfig":
                raise BpfError(errno.EPERM, ".kconfig values come from the kernel configuration")
            self._obj._images[self._index][offset : offset + len(data)] = data
            return
        if mdef.origin.value in ("rodata", "kconfig"):
            raise BpfError(errno.EPERM, f"{mdef.real_name} is read-only once the object is loaded")
        value = bytearray(m.lookup(bytes(4)))
        value[offset : offset + len(data)] = data
        m.update(bytes(4), bytes(value))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        from .elf.values import decode_value

        v = self._var(name)
        raw = self._image()[v.offset : v.offset + v.size]
        return decode_value(self._obj.spec.btf, _var_type(self._obj.spec.btf, v), raw)

    def __setattr__(self, name: str, value: Any) -> None:
        from .elf.values import encode_value

        try:
            v = self._var(name)
        except AttributeError:
            raise BpfError(errno.ENOENT, f"{self._def.real_name} has no variable {name!r}") from None
        cur = self._image()[v.offset : v.offset + v.size]
        data = encode_value(self._obj.spec.btf, _var_type(self._obj.spec.btf, v), value, v.size,
                            name, cur)  # fmt: skip
        self._store(v.offset, data)

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None

    def __setitem__(self, name: str, value: Any) -> None:
        setattr(self, name, value)

    def update(self, values: Mapping[str, Any] | None = None, **kw: Any) -> None:
        for k, v in {**(values or {}), **kw}.items():
            setattr(self, k, v)

    def keys(self) -> list[str]:
        return [v.name for v in self._def.variables]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __dir__(self) -> list[str]:
        return self.keys()

    def items(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self.keys()]

    @property
    def raw(self) -> bytes:
        """The whole section image."""
        return self._image()

    def __repr__(self) -> str:
        return f"<{self._def.real_name} {dict(self.items())!r}>"


_LIVE: weakref.WeakKeyDictionary[Kernel, dict[str, list[Any]]] = weakref.WeakKeyDictionary()


def _live_pins(kernel: Kernel) -> dict[str, list[Any]]:
    """Maps pinned by name that objects of ``kernel`` have open: name -> [map, users]."""
    return _LIVE.setdefault(kernel, {})


def _check_compatible(name: str, m: Map, spec: MapSpec, what: str) -> None:
    a = m.spec
    if (a.type, a.key_size, a.value_size, a.max_entries, a.flags, a.map_extra) != (
            spec.type, spec.key_size, spec.value_size, spec.max_entries, spec.flags,
            spec.map_extra):  # fmt: skip
        raise BpfError(errno.EINVAL, f"map '{name}': {what}: parameter mismatch")


class _MapTable(dict[str, "ObjectMap"]):
    """Maps by name; a name starting with a dot is a global-data section's own name
    (``obj.maps[".rodata"]``), as ``bpf_object__find_map_by_name`` takes it."""

    def __missing__(self, key: str) -> ObjectMap:
        if key.startswith("."):
            for om in self.values():
                if om.definition.internal and om.definition.real_name == key:
                    return om
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


def _var_type(btf: Btf | None, v: Any) -> int:
    if btf is None or not v.type_id:
        return 0
    return int(v.type_id)


def _btf_kwargs(verify: Any, btf: Btf | None, linked: LinkedProgram) -> dict[str, Any]:
    """The program's BTF, func_info and line_info, for a verifier that takes them (what
    ``BPF_PROG_LOAD`` gets as ``prog_btf_fd``, ``func_info`` and ``line_info``)."""
    import inspect

    try:
        params = inspect.signature(verify).parameters
    except (TypeError, ValueError):
        return {}
    offer = {"btf": btf, "func_info": linked.func_info, "line_info": linked.line_info}
    return {k: v for k, v in offer.items() if k in params and btf is not None}


# --- the object -------------------------------------------------------------------------


class BpfObject:
    """An opened object file; see the module docstring."""

    def __init__(self, spec: ObjectSpec, *, kernel: Kernel | None = None,
                 target_btf: Btf | str | Path | None = None,
                 kconfig: str | Mapping[str, str] | None = None,
                 log_level: int = 0, unprivileged: bool = False) -> None:  # fmt: skip
        self.spec = spec
        self.kernel = kernel if kernel is not None else Kernel(seed=0)
        self.target_btf = target_btf
        self.kconfig = kconfig
        self.log_level = log_level
        self.unprivileged = unprivileged
        self.loaded = False
        self.programs: dict[str, ObjectProgram] = {
            p.name: ObjectProgram(self, p) for p in spec.programs if not p.is_subprog
        }
        self._maps = _MapTable((m.name, ObjectMap(self, m)) for m in spec.maps)
        self._images: dict[int, bytearray] = {
            i: bytearray(m.data or bytes(m.spec.value_size))
            for i, m in enumerate(spec.maps) if m.internal
        }  # fmt: skip
        self._core: tuple[dict[int, list[Any]], list[Any]] | None = None

    # -- names -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def path(self) -> str:
        return self.spec.path

    @property
    def license(self) -> str:
        return self.spec.license

    @property
    def kern_version(self) -> int:
        """The ``version`` section's value (0 without one); kernels since 5.0 ignore it."""
        return self.spec.kern_version

    @property
    def maps(self) -> dict[str, ObjectMap]:
        return self._maps

    def __repr__(self) -> str:
        return (f"<BpfObject {self.name!r} {len(self.programs)} programs, {len(self._maps)} maps"
                f"{', loaded' if self.loaded else ''}>")  # fmt: skip

    def __enter__(self) -> BpfObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- global data -------------------------------------------------------------------
    def section(self, name: str) -> GlobalData:
        """The variables of a data section by its ELF name (``.rodata``, ``.data.custom``)."""
        for i, m in enumerate(self.spec.maps):
            if m.internal and m.real_name == name:
                return GlobalData(self, i)
        raise BpfError(errno.ENOENT, f"{self.path}: no global data section {name!r}")

    @property
    def rodata(self) -> GlobalData:
        return self.section(".rodata")

    @property
    def data(self) -> GlobalData:
        return self.section(".data")

    @property
    def bss(self) -> GlobalData:
        return self.section(".bss")

    @property
    def kconfig_data(self) -> GlobalData:
        return self.section(".kconfig")

    # -- linking -----------------------------------------------------------------------
    def _core_code(self) -> tuple[dict[int, list[Any]], list[Any]]:
        """Per-program instructions with CO-RE relocations applied, and what was poisoned."""
        if self._core is None:
            ext = self.spec.btf_ext
            if ext is None or not ext.core_relos:
                self._core = ({}, [])
            else:
                from .elf.core import apply_core, target_btf_for

                given = self.target_btf
                if given is None and any(p.prog_type in _ON_KERNEL_OBJECTS for p in self.spec.programs):
                    from .kernel.vmlinux import kernel_btf

                    # typed pointers lead to pybpf's kernel objects: their layouts first,
                    # the host's for what pybpf's kernel does not declare
                    mine = apply_core(self.spec, kernel_btf())
                    self._core = mine
                    if mine[1]:
                        try:
                            host = apply_core(self.spec, target_btf_for(None, self.kernel))
                        except BpfError:  # no host BTF to fall back on
                            host = ({}, [])
                        self._core = _core_fallback(self.spec, mine, host)
                else:
                    self._core = apply_core(self.spec, target_btf_for(given, self.kernel))
        return self._core

    def _link(self, pdef: ProgramDef) -> LinkedProgram:
        from .elf.link import link_program

        code, poisoned = self._core_code()
        linked = link_program(self.spec, pdef, code, poisoned)
        if any(e.is_func for e in self.spec.externs):  # kfuncs bound to pybpf's kernel
            from .elf.link import POISON_CALL_KFUNC_BASE
            from .kernel.vmlinux.runtime import bind_kfunc_externs

            names = [e.name for e in self.spec.externs]
            insns = bind_kfunc_externs(linked.insns, names, POISON_CALL_KFUNC_BASE)
            linked = dataclasses.replace(linked, insns=insns)
        return linked

    # -- loading -----------------------------------------------------------------------
    def _map_list(self) -> list[Map]:
        out = []
        for m in self.spec.maps:
            created = self._maps[m.name].map
            assert created is not None
            out.append(created)
        return out

    def _create_maps(self) -> None:
        from .elf.kconfig import fill_kconfig, parse_kconfig
        from .elf.spec import MapOrigin, PinType
        from .pinning import open_pinned

        cfg: Mapping[str, str] | None
        cfg = parse_kconfig(self.kconfig) if isinstance(self.kconfig, str) else self.kconfig
        for idx, mdef in enumerate(self.spec.maps):
            om = self._maps[mdef.name]
            if mdef.spec.type == MapType.PERF_EVENT_ARRAY and mdef.spec.max_entries == 0:
                # as libbpf: a perf event array without a size gets one slot per CPU
                mdef.spec = dataclasses.replace(mdef.spec, max_entries=self.kernel.num_cpus)
            spec = mdef.spec
            if om._reuse is not None:
                om.map = om._reuse
                continue
            if mdef.pinning == PinType.BY_NAME:
                m = self._reuse_pinned(mdef, open_pinned)
                if m is not None:
                    om.map = m
                    om._shared_pin = mdef.name
                    continue
            try:
                m = self.kernel.create_map(spec)
            except BpfError as exc:
                if spec.btf is None:
                    raise BpfError(exc.errno, f"map '{mdef.name}': failed to create: "
                                   f"{exc.message}") from None  # fmt: skip
                # as libbpf: try again without BTF
                try:
                    m = self.kernel.create_map(dataclasses.replace(spec, btf=None))
                except BpfError as exc2:
                    raise BpfError(exc2.errno, f"map '{mdef.name}': failed to create: "
                                   f"{exc2.message}") from None  # fmt: skip
            om.map = m
            if mdef.pinning == PinType.BY_NAME:
                _live_pins(self.kernel)[mdef.name] = [m, 1]
                om._shared_pin = mdef.name
            if mdef.internal:
                if mdef.origin == MapOrigin.KCONFIG:
                    image = fill_kconfig(self.spec.externs, spec.value_size, cfg)
                    self._images[idx][:] = image
                m.update(bytes(4), bytes(self._images[idx]))
                if mdef.origin in (MapOrigin.RODATA, MapOrigin.KCONFIG):
                    m.freeze()

    def _reuse_pinned(self, mdef: MapDef, open_pinned: Any) -> Map | None:
        """The map pinned as ``mdef.name``: the live one when another object of this
        kernel has it open (they share it), else one read back from the state directory;
        None when nothing is pinned (the map is created, then pinned after the load)."""
        live = _live_pins(self.kernel)
        entry = live.get(mdef.name)
        if entry is not None and not entry[0].closed:
            shared: Map = entry[0]
            _check_compatible(mdef.name, shared, mdef.spec, "couldn't reuse pinned map")
            entry[1] += 1
            return shared
        try:
            m: Map = open_pinned(mdef.name, self.kernel)
        except BpfError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise
        try:
            _check_compatible(mdef.name, m, mdef.spec, "couldn't reuse pinned map")
        except BpfError:
            m.close()
            raise
        live[mdef.name] = [m, 1]
        return m

    def _init_slots(self, prog_arrays: bool) -> None:
        for mdef in self.spec.maps:
            if not mdef.init_slots:
                continue
            is_prog_array = mdef.spec.type == MapType.PROG_ARRAY
            if is_prog_array != prog_arrays:
                continue
            outer = self._maps[mdef.name].map
            assert outer is not None
            for slot, target in enumerate(mdef.init_slots):
                if target is None:
                    continue
                obj: Any
                if is_prog_array:
                    op = self.programs.get(target)
                    obj = op.program if op is not None else None
                    if obj is None:
                        raise BpfError(errno.EBADF, f"map '{mdef.name}': can't use BPF program "
                                       f"'{target}' for slot {slot}: it is not loaded")  # fmt: skip
                else:
                    obj = self._maps[target].map
                try:
                    outer.update(slot.to_bytes(mdef.spec.key_size, "little"), obj)
                except BpfError as exc:
                    raise BpfError(exc.errno, f"map '{mdef.name}': failed to initialize slot "
                                   f"[{slot}] to '{target}': {exc.message}") from None  # fmt: skip

    def _options(self, log_level: int) -> Any:
        from .verifier.env import Options

        gpl = license_is_gpl_compatible(self.license)
        if self.unprivileged:
            return dataclasses.replace(Options.unprivileged(log_level), gpl=gpl)
        return Options(log_level=log_level, gpl=gpl)

    def _check_loadable(self, op: ObjectProgram) -> None:
        pdef = op.definition
        if pdef.sec_def is None:
            raise ProgramLoadError(op.name, errno.EINVAL, "missing BPF prog type, check ELF "
                                   f"section name '{pdef.section}'")  # fmt: skip
        from .kernel.iter_targets import missing_target_message

        missing = missing_target_message(pdef.expected_attach_type, pdef.attach_target)
        if missing is not None:
            raise ProgramLoadError(op.name, errno.ESRCH, missing)

    def _verify_one(self, op: ObjectProgram, maps: list[Map], log_level: int) -> VerifyResult:
        from .elf.srclines import SourceLines
        from .kernel.iter_targets import attach_btf_name
        from .verifier.core import verify

        linked = op.link()
        insns = list(linked.insns)
        extra = _btf_kwargs(verify, self.spec.btf, linked)
        sleepable = bool(linked.prog_flags & 0x10)  # BPF_F_SLEEPABLE: a ``.s`` section
        attach = attach_btf_name(linked.expected_attach_type, linked.attach_target)
        if linked.prog_type == 27:  # struct_ops: the member the object's variables attach it to
            from .elf.struct_ops import struct_ops_attach

            insns, attach = struct_ops_attach(self.spec, self.path, op.name, insns)
        res = verify(insns, linked.prog_type, maps=maps, kernel=self.kernel,
                     expected_attach_type=linked.expected_attach_type,
                     options=dataclasses.replace(self._options(log_level), attach_btf_name=attach, sleepable=sleepable),
                     **extra)  # fmt: skip
        if not res.accepted and log_level == 0:
            # as libbpf: a failed load is repeated with a log to show why
            res = verify(insns, linked.prog_type, maps=maps, kernel=self.kernel,
                         expected_attach_type=linked.expected_attach_type,
                         options=dataclasses.replace(self._options(1), attach_btf_name=attach, sleepable=sleepable),
                         **extra)  # fmt: skip
        lines = SourceLines(linked.line_info)
        if lines and res.log:
            res = dataclasses.replace(res, log=lines.annotate_log(res.log))
        return res

    def load(self) -> BpfObject:
        """Create the maps, verify and load every program that loads automatically."""
        from .elf.kconfig import check_ksyms
        from .program import load_program

        if self.loaded:
            raise BpfError(errno.EINVAL, f"{self.path}: object is already loaded")
        try:
            check_ksyms(self.spec.externs, _has_kfunc)
            self._core_code()
            self._create_maps()
            self._init_slots(prog_arrays=False)
            maps = self._map_list()
            for op in self.programs.values():
                if not op.autoload:
                    continue
                self._check_loadable(op)
                linked = op.link()
                res = self._verify_one(op, maps, self.log_level)
                if not res.accepted:
                    raise ProgramLoadError(op.name, res.errno, res.message or "rejected by the "
                                           "verifier", res.log, res)  # fmt: skip
                prog = load_program(list(linked.insns), linked.prog_type, maps=maps,
                                    kernel=self.kernel, name=op.name[:15],
                                    expected_attach_type=linked.expected_attach_type,
                                    verify=False)  # fmt: skip
                prog.verified = res
                prog.info.update(section=op.section, object=self.path,
                                 line_info=linked.line_info, func_info=linked.func_info)
                op.program = prog
            self._init_slots(prog_arrays=True)
            self._pin_maps()
        except BaseException:
            self._unload()
            raise
        self.loaded = True
        return self

    def load_maps(self) -> list[Map]:
        """Create the maps only (global data filled, map-in-map slots set), for a loader
        that loads the programs itself (:mod:`pybpf.struct_ops.loader`); the object
        counts as loaded.  Returns the maps in the order programs refer to them."""
        if self.loaded:
            raise BpfError(errno.EINVAL, f"{self.path}: object is already loaded")
        try:
            self._core_code()
            self._create_maps()
            self._init_slots(prog_arrays=False)
        except BaseException:
            self._unload()
            raise
        self.loaded = True
        return self._map_list()

    def verify(self, prog: str | None = None, log_level: int = 1) -> list[ProgramVerdict]:
        """Each entry point's verdict, as loading it alone would give; nothing is kept.

        Unlike :meth:`load`, a rejected program does not stop the others, and programs
        that do not load automatically are verified too.  When the object fails before
        any program is verified (a map the kernel would not create, a missing kernel
        symbol), every program gets that error as its answer, as each would alone.
        """
        from .elf.kconfig import check_ksyms

        if prog is not None and prog not in self.programs:
            raise BpfError(errno.ENOENT, f"{self.path}: no program named {prog!r}")
        chosen = [p for p in self.programs.values() if prog is None or p.name == prog]
        out: list[ProgramVerdict] = []
        try:
            try:
                check_ksyms(self.spec.externs, _has_kfunc)
                self._core_code()
                self._create_maps()
                self._init_slots(prog_arrays=False)
            except BpfError as exc:
                return [ProgramVerdict(op.name, op.section, False, exc.errno, exc.message, "", 0, 0)
                        for op in chosen]  # fmt: skip
            maps = self._map_list()
            for op in chosen:
                n = 0
                try:
                    self._check_loadable(op)
                    n = len(op.link().insns)
                    res = self._verify_one(op, maps, log_level)
                except BpfError as exc:
                    msg = exc.reason if isinstance(exc, ProgramLoadError) else exc.message
                    out.append(ProgramVerdict(op.name, op.section, False, exc.errno, msg, "", 0, n))
                    continue
                out.append(ProgramVerdict(op.name, op.section, res.accepted, res.errno,
                                          res.message, res.log, res.insns_processed, n))
        finally:
            self._unload()
        return out

    def export_case(self, prog: str) -> Any:
        """A case file (``shared/spec/case-format.md``) for one program: its relocated
        instructions with the maps it uses renumbered from 0, global-data maps with their
        current image (``map_init``) and ``.rodata`` frozen.  What a case cannot hold
        (the license, BTF line info, initial map-in-map and program-array slots) goes in
        the ignored ``meta`` field."""
        import dataclasses as dc

        from .case import Case, MapCase
        from .elf.spec import MapOrigin
        from .isa.opcodes import PseudoLdImm64

        op = self.programs.get(prog)
        if op is None:
            raise BpfError(errno.ENOENT, f"{self.path}: no program named {prog!r}")
        self._check_loadable(op)
        linked = op.link()
        renumber = {old: new for new, old in enumerate(linked.map_indices)}
        insns = list(linked.insns)
        for i, insn in enumerate(insns):
            if insn.code == 0x18 and insn.src in (PseudoLdImm64.MAP_IDX, PseudoLdImm64.MAP_IDX_VALUE):
                insns[i] = dc.replace(insn, imm=renumber[insn.imm])
        maps = []
        slots: dict[str, list[str | None]] = {}
        for old in linked.map_indices:
            mdef = self.spec.maps[old]
            init = None
            if mdef.internal:
                image = bytes(self._images[old])
                if mdef.origin == MapOrigin.KCONFIG:
                    from .elf.kconfig import fill_kconfig, parse_kconfig

                    cfg = parse_kconfig(self.kconfig) if isinstance(self.kconfig, str) else self.kconfig
                    image = fill_kconfig(self.spec.externs, mdef.spec.value_size, cfg)
                init = image if any(image) or mdef.origin != MapOrigin.BSS else None
            freeze = mdef.origin in (MapOrigin.RODATA, MapOrigin.KCONFIG)
            maps.append(MapCase(mdef.spec, init, freeze))
            if mdef.init_slots:
                slots[mdef.name] = list(mdef.init_slots)
        meta: dict[str, Any] = {"object": Path(self.path).name, "program": op.name,
                                "section": op.section, "license": self.license}  # fmt: skip
        if slots:
            meta["initial_slots"] = slots
        if linked.line_info:
            meta["line_info"] = [[li.insn_off, li.line_num, li.log_text()] for li in linked.line_info]
        return Case(linked.prog_type, tuple(insns), tuple(maps), None,
                    f"{self.name}:{op.name}", linked.expected_attach_type, {"meta": meta})

    def _pin_maps(self) -> None:
        from .elf.spec import PinType
        from .pinning import pin

        for mdef in self.spec.maps:
            m = self._maps[mdef.name].map
            if mdef.pinning == PinType.BY_NAME and m is not None:
                pin(m, mdef.name)

    def save_pins(self) -> None:
        """Write the maps pinned by name back to the state directory (after runs)."""
        if self.loaded:
            self._pin_maps()

    def _unload(self) -> None:
        for op in self.programs.values():
            p = op.program
            if p is not None:
                self.kernel.programs.pop(p.id, None)
                self.kernel._fds.pop(p.fd, None)
                op.program = None
        for om in self._maps.values():
            m = om.map
            om.map = None
            if m is None or m is om._reuse:
                continue
            pin_name, om._shared_pin = om._shared_pin, None
            if pin_name is not None:
                live = _live_pins(self.kernel)
                entry = live.get(pin_name)
                if entry is not None and entry[0] is m:
                    entry[1] -= 1
                    if entry[1] > 0:
                        continue  # another object of this kernel still uses it
                    del live[pin_name]
            self.kernel.maps.pop(m.id, None)
            if not m.closed:
                m.close()

    def close(self) -> None:
        """Write pinned maps back, then remove the object's programs and maps."""
        if self.loaded:
            self._pin_maps()
        self._unload()
        self.loaded = False


def open(path: str | Path | bytes, *, name: str | None = None, kernel: Kernel | None = None,
         btf: Btf | str | Path | None = None, kconfig: str | Mapping[str, str] | None = None,
         log_level: int = 0, strict_maps: bool = True,
         unprivileged: bool = False) -> BpfObject:  # fmt: skip
    """Open an object file (or its bytes) as ``bpf_object__open`` does.

    ``btf`` is the target BTF for CO-RE relocations (a parsed BTF or a path; by default
    pybpf's kernel BTF, else ``/sys/kernel/btf/vmlinux``); ``kconfig`` adds to or
    overrides pybpf's kernel configuration for ``__kconfig`` externs; ``unprivileged``
    verifies as a loader without ``CAP_BPF`` would be.
    """
    from .elf.collect import open_object

    if isinstance(path, bytes | bytearray):
        raw, label = bytes(path), "<memory>"
        name = name or "obj"
    else:
        label = str(path)
        try:
            with builtins.open(path, "rb") as f:
                raw = f.read()
        except OSError as exc:
            raise BpfError(exc.errno or errno.EIO, f"{label}: {exc.strerror}") from None
    spec = open_object(raw, label, name, strict_maps)
    return BpfObject(spec, kernel=kernel, target_btf=btf, kconfig=kconfig, log_level=log_level,
                     unprivileged=unprivileged)  # fmt: skip


def _has_kfunc(name: str) -> bool:
    """Whether pybpf's kernel has the kernel function ``name`` (a ``__ksym`` extern)."""
    from .kernel.vmlinux import kfunc

    return kfunc(name) is not None
