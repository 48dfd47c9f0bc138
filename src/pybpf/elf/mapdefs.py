"""Map definitions in an object: ``SEC(".maps")`` (described by BTF), the legacy ``maps``
section (``struct bpf_map_def``) and the global-data maps.

A BTF-defined map is a global variable of a struct type whose members say what the map
is: ``int (*type)[BPF_MAP_TYPE_HASH]`` carries the number in the array's length (what
``__uint`` expands to), ``typeof(struct key) *key`` the key type (``__type``), and a
trailing zero-length array of pointers the inner map or the programs (``__array``).
"""

from __future__ import annotations

import dataclasses
import errno
import struct
from dataclasses import dataclass, field

from ..btf import Array, Btf, Enum, Enum64, FuncProto, Ptr, Struct, Var, VarLinkage
from ..errors import BpfError
from ..maps.types import PAGE_SIZE, MapFlag, MapSpec, MapType
from .btfview import map_btf, resolve_size, skip_modifiers
from .reader import STT_OBJECT, STT_SECTION, ElfObject
from .spec import MapDef, MapOrigin, PinType, Variable

BPF_OBJ_NAME_LEN = 16

# Map types whose creation libbpf makes without key/value BTF.
NO_BTF_TYPES = frozenset({
    MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.STACK_TRACE,
    MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.DEVMAP, MapType.DEVMAP_HASH,
    MapType.CPUMAP, MapType.XSKMAP, MapType.SOCKMAP, MapType.SOCKHASH, MapType.QUEUE,
    MapType.STACK, MapType.ARENA,
})  # fmt: skip
MAP_IN_MAP = (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)


@dataclass
class BtfMapDef:
    """The attributes one ``.maps`` struct spells out (libbpf's ``btf_map_def``)."""

    map_type: int = 0
    key_size: int = 0
    value_size: int = 0
    max_entries: int = 0
    map_flags: int = 0
    numa_node: int = 0
    map_extra: int = 0
    pinning: int = 0
    key_type_id: int = 0
    value_type_id: int = 0
    inner: BtfMapDef | None = None
    has_values: bool = False
    parts: set[str] = field(default_factory=set)


def _err(label: str, map_name: str, message: str, err: int = errno.EINVAL) -> BpfError:
    return BpfError(err, f"{label}: map '{map_name}': {message}")


def _field_int(btf: Btf, label: str, map_name: str, attr: str, type_id: int) -> int:
    """The number an ``int (*attr)[N]`` member encodes: N."""
    t = btf[skip_modifiers(btf, type_id)]
    if not isinstance(t, Ptr):
        raise _err(label, map_name, f"attr '{attr}': expected PTR, got {t.kind.label}")
    arr = btf.get(t.type)
    if arr is None:
        raise _err(label, map_name, f"attr '{attr}': type [{t.type}] not found")
    if not isinstance(arr, Array):
        raise _err(label, map_name, f"attr '{attr}': expected ARRAY, got {arr.kind.label}")
    return arr.nelems


def _field_long(btf: Btf, label: str, map_name: str, attr: str, type_id: int) -> int:
    """``__ulong``: an enum with one value holds a 64-bit number; ``__uint`` also works."""
    t = btf[skip_modifiers(btf, type_id)]
    if isinstance(t, Ptr):
        return _field_int(btf, label, map_name, attr, type_id)
    if not isinstance(t, Enum | Enum64):
        raise _err(label, map_name, f"attr '{attr}': expected ENUM or ENUM64, got {t.kind.label}")
    if len(t.values) != 1:
        raise _err(label, map_name, f"attr '{attr}': invalid __ulong")
    return t.values[0].value & ((1 << 64) - 1)


def _sized_type(btf: Btf, label: str, map_name: str, what: str, type_id: int) -> tuple[int, int]:
    """(pointee id, its size) of a ``__type(key, T)`` member."""
    t = btf.get(type_id)
    if t is None:
        raise _err(label, map_name, f"{what} type [{type_id}] not found")
    if not isinstance(t, Ptr):
        raise _err(label, map_name, f"{what} spec is not PTR: {t.kind.label}")
    try:
        size = resolve_size(btf, t.type)
    except BpfError as exc:
        raise _err(label, map_name, f"can't determine {what} size for type [{t.type}]: "
                   f"{exc.message}", exc.errno) from None  # fmt: skip
    return t.type, size


def parse_btf_map_def(btf: Btf, label: str, map_name: str, def_t: Struct, strict: bool,
                      inner_allowed: bool = True) -> BtfMapDef:  # fmt: skip
    """Read one map definition struct; ``inner_allowed`` is False for an inner map."""
    d = BtfMapDef()
    n = len(def_t.members)
    for i, m in enumerate(def_t.members):
        name = m.name
        if name == "type":
            d.map_type = _field_int(btf, label, map_name, name, m.type)
        elif name == "max_entries":
            d.max_entries = _field_int(btf, label, map_name, name, m.type)
        elif name == "map_flags":
            d.map_flags = _field_int(btf, label, map_name, name, m.type)
        elif name == "numa_node":
            d.numa_node = _field_int(btf, label, map_name, name, m.type)
        elif name in ("key_size", "value_size"):
            sz = _field_int(btf, label, map_name, name, m.type)
            cur = d.key_size if name == "key_size" else d.value_size
            if cur and cur != sz:
                raise _err(label, map_name, f"conflicting {name.split('_')[0]} size {cur} != {sz}")
            if name == "key_size":
                d.key_size = sz
            else:
                d.value_size = sz
        elif name in ("key", "value"):
            type_id, sz = _sized_type(btf, label, map_name, name, m.type)
            cur = d.key_size if name == "key" else d.value_size
            if cur and cur != sz:
                raise _err(label, map_name, f"conflicting {name} size {cur} != {sz}")
            if name == "key":
                d.key_size, d.key_type_id = sz, type_id
            else:
                d.value_size, d.value_type_id = sz, type_id
        elif name == "values":
            _parse_values(btf, label, map_name, d, m.type, i == n - 1, inner_allowed, strict)
        elif name == "pinning":
            if not inner_allowed:
                raise _err(label, map_name, "inner def can't be pinned")
            val = _field_int(btf, label, map_name, name, m.type)
            if val not in (PinType.NONE, PinType.BY_NAME):
                raise _err(label, map_name, f"invalid pinning value {val}")
            d.pinning = val
        elif name == "map_extra":
            d.map_extra = _field_long(btf, label, map_name, name, m.type)
        elif strict:
            raise _err(label, map_name, f"unknown field '{name}'", errno.EOPNOTSUPP)
        d.parts.add(name)
    if d.map_type == 0:
        raise _err(label, map_name, "map type isn't specified")
    return d


def _parse_values(btf: Btf, label: str, map_name: str, d: BtfMapDef, type_id: int, last: bool,
                  inner_allowed: bool, strict: bool) -> None:  # fmt: skip
    in_map = d.map_type in MAP_IN_MAP
    prog_array = d.map_type == MapType.PROG_ARRAY
    desc = "map-in-map inner" if in_map else "prog-array value"
    if not inner_allowed:
        raise _err(label, map_name, "multi-level inner maps not supported", errno.EOPNOTSUPP)
    if not last:
        raise _err(label, map_name, "'values' member should be last")
    if not in_map and not prog_array:
        raise _err(label, map_name, "should be map-in-map or prog-array", errno.EOPNOTSUPP)
    if d.value_size and d.value_size != 4:
        raise _err(label, map_name, f"conflicting value size {d.value_size} != 4")
    d.value_size = 4
    d.has_values = True
    t = btf.get(type_id)
    if t is None:
        raise _err(label, map_name, f"{desc} type [{type_id}] not found")
    if not isinstance(t, Array) or t.nelems:
        raise _err(label, map_name, f"{desc} spec is not a zero-sized array")
    elem = btf[skip_modifiers(btf, t.type)]
    if not isinstance(elem, Ptr):
        raise _err(label, map_name, f"{desc} def is of unexpected kind {elem.kind.label}")
    target = btf[skip_modifiers(btf, elem.type)]
    if prog_array:
        if not isinstance(target, FuncProto):
            raise _err(label, map_name, f"prog-array value def is of unexpected kind "
                       f"{target.kind.label}")  # fmt: skip
        return
    if not isinstance(target, Struct):
        raise _err(label, map_name, f"map-in-map inner def is of unexpected kind "
                   f"{target.kind.label}")  # fmt: skip
    d.inner = parse_btf_map_def(btf, label, f"{map_name}.inner", target, strict, False)


def _map_type(label: str, name: str, value: int) -> MapType:
    try:
        return MapType(value)
    except ValueError:
        raise _err(label, name, f"unknown map type {value}") from None


def adjust_ringbuf_size(size: int) -> int:
    """libbpf rounds a ring buffer's size up to a power-of-two number of pages."""
    if size == 0 or (size % PAGE_SIZE == 0 and _pow2(size // PAGE_SIZE)):
        return size
    mul = 1
    while mul * PAGE_SIZE <= 0xFFFFFFFF:
        if mul * PAGE_SIZE > size:
            return mul * PAGE_SIZE
        mul <<= 1
    return size


def _pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def kernel_map_name(name: str) -> str:
    """The name the kernel keeps (15 characters at most)."""
    return name[: BPF_OBJ_NAME_LEN - 1]


def spec_from_def(btf: Btf | None, label: str, name: str, d: BtfMapDef) -> MapSpec:
    mtype = _map_type(label, name, d.map_type)
    max_entries = d.max_entries
    if mtype in (MapType.RINGBUF, MapType.USER_RINGBUF):
        max_entries = adjust_ringbuf_size(max_entries)
    inner = None
    if d.inner is not None:
        # libbpf names the template map "<outer>.inner", but the kernel keeps only its
        # attributes (the inner map "meta" has no name), so neither does pybpf
        inner = dataclasses.replace(spec_from_def(btf, label, f"{name}.inner", d.inner), name="")
    mbtf = None
    if btf is not None and mtype not in NO_BTF_TYPES and (d.key_type_id or d.value_type_id):
        try:
            mbtf = map_btf(btf, d.key_type_id, d.value_type_id)
        except BpfError:
            mbtf = None  # libbpf retries without BTF when the kernel refuses it
    return MapSpec(type=mtype, key_size=d.key_size, value_size=d.value_size,
                   max_entries=max_entries, flags=d.map_flags, name=kernel_map_name(name),
                   inner=inner, map_extra=d.map_extra, numa_node=d.numa_node,
                   btf=mbtf)  # fmt: skip


def collect_btf_maps(elf: ElfObject, btf: Btf, maps_shndx: int, strict: bool = True) -> list[MapDef]:
    """Every map of ``SEC(".maps")``, in DATASEC order."""
    from .btfview import datasec_named

    label = elf.label
    found = datasec_named(btf, ".maps")
    if found is None:
        raise BpfError(errno.ENOENT, f"{label}: DATASEC '.maps' not found")
    _, sec = found
    data = elf.section(maps_shndx)
    out: list[MapDef] = []
    for idx, vsi in enumerate(sec.vars):
        var = btf.get(vsi.type)
        name = var.name if var is not None else ""
        if not name:
            raise BpfError(errno.EINVAL, f"{label}: map #{idx}: empty name")
        if vsi.offset + vsi.size > data.size:
            raise _err(label, name, "BTF data is corrupted")
        if not isinstance(var, Var):
            raise _err(label, name, f"unexpected var kind {var.kind.label if var else '?'}")
        if var.linkage != VarLinkage.GLOBAL_ALLOCATED:
            link = {0: "static", 2: "extern"}.get(var.linkage, "unknown")
            raise _err(label, name, f"unsupported map linkage {link}", errno.EOPNOTSUPP)
        def_t = btf[skip_modifiers(btf, var.type)]
        if not isinstance(def_t, Struct):
            raise _err(label, name, f"unexpected def kind {def_t.kind.label}")
        if def_t.size > vsi.size:
            raise _err(label, name, "invalid def size")
        d = parse_btf_map_def(btf, label, name, def_t, strict)
        spec = spec_from_def(btf, label, name, d)
        if d.inner is not None:
            assert spec.inner is not None
        out.append(MapDef(name, MapOrigin.BTF, spec, name, maps_shndx, vsi.offset,
                          PinType(d.pinning), btf_var_idx=idx))  # fmt: skip
    return out


_LEGACY_DEF = struct.Struct("<5I")


def collect_legacy_maps(elf: ElfObject, shndx: int) -> list[MapDef]:
    """``SEC("maps")``: one ``struct bpf_map_def`` per symbol (libbpf before 1.0 and
    iproute2 read these; libbpf 1.0+ refuses them).  Each definition takes an equal
    share of the section, at least the five fields."""
    sec = elf.section(shndx)
    syms = [s for s in elf.symbols_in(shndx) if s.type != STT_SECTION and s.name]
    if not syms:
        return []
    label = elf.label
    def_size = sec.size // len(syms)
    if def_size < _LEGACY_DEF.size or sec.size % len(syms):
        raise BpfError(errno.EINVAL, f"{label}: unable to determine legacy map definition size "
                       f"in section 'maps' ({len(syms)} maps in {sec.size} bytes)")  # fmt: skip
    out: list[MapDef] = []
    for s in syms:
        if s.type not in (STT_OBJECT, 0) or s.value % def_size or s.value + def_size > sec.size:
            raise BpfError(errno.EINVAL, f"{label}: legacy map '{s.name}' is not a valid "
                           "definition")  # fmt: skip
        raw = sec.data[s.value : s.value + def_size]
        mtype, key_size, value_size, max_entries, flags = _LEGACY_DEF.unpack_from(raw)
        if any(raw[_LEGACY_DEF.size :]):
            # inner_map_idx / numa_node of older loaders: only zeros are understood
            raise BpfError(errno.EOPNOTSUPP, f"{label}: legacy map '{s.name}' uses definition "
                           "fields pybpf does not support")  # fmt: skip
        spec = MapSpec(type=_map_type(label, s.name, mtype), key_size=key_size,
                       value_size=value_size, max_entries=max_entries, flags=flags,
                       name=kernel_map_name(s.name))  # fmt: skip
        out.append(MapDef(s.name, MapOrigin.LEGACY, spec, s.name, shndx, s.value))
    return out


# --- global data ------------------------------------------------------------------------


def internal_map_name(obj_name: str, real_name: str) -> str:
    """The kernel-visible name of a global-data map, truncated as libbpf truncates.

    ``.data``, ``.bss``, ``.rodata`` and ``.kconfig`` keep as much of the object's name
    in front as fits with at least seven characters kept for the suffix; names with a
    second dot (``.rodata.str1.1``, ``.data.custom``) are the section's name alone.
    Characters the kernel refuses become ``_``.
    """
    sfx_len = min(max(7, len(real_name)), BPF_OBJ_NAME_LEN - 1)
    if "." in real_name[1:]:
        pfx_len = 0
    else:
        pfx_len = min(BPF_OBJ_NAME_LEN - sfx_len - 1, len(obj_name))
    name = obj_name[:pfx_len] + real_name[:sfx_len]
    name = name[: BPF_OBJ_NAME_LEN - 1]
    return "".join(c if c.isascii() and (c.isalnum() or c in "_.") else "_" for c in name)


def data_section_origin(name: str, nobits: bool) -> MapOrigin | None:
    """Which global-data map a section makes, if any."""
    if nobits:
        return MapOrigin.BSS if name == ".bss" or name.startswith(".bss.") else None
    if name == ".data" or name.startswith(".data."):
        return MapOrigin.DATA
    if name == ".rodata" or name.startswith(".rodata."):
        return MapOrigin.RODATA
    return None


def data_variables(elf: ElfObject, btf: Btf | None, shndx: int, real_name: str,
                   value_type_id: int) -> tuple[Variable, ...]:  # fmt: skip
    """The section's variables: from its DATASEC when there is BTF, else from the
    symbol table (names, offsets and sizes only)."""
    if btf is not None and value_type_id:
        from ..btf import Datasec

        sec = btf[value_type_id]
        if isinstance(sec, Datasec):
            out = []
            for v in sec.vars:
                var = btf.get(v.type)
                if isinstance(var, Var):
                    out.append(Variable(var.name, v.offset, v.size, var.type,
                                        var.linkage == VarLinkage.STATIC))  # fmt: skip
            return tuple(out)
    return tuple(
        Variable(s.name, s.value, s.size, 0, s.bind == 0)
        for s in sorted(elf.symbols_in(shndx), key=lambda s: s.value)
        if s.type == STT_OBJECT and s.name
    )


def make_internal_map(obj_name: str, origin: MapOrigin, real_name: str, shndx: int, size: int,
                      data: bytes | None, btf: Btf | None, elf: ElfObject) -> MapDef:  # fmt: skip
    """One single-element array for a data section (or ``.kconfig``)."""
    name = internal_map_name(obj_name, real_name)
    flags = MapFlag.RDONLY_PROG if origin in (MapOrigin.RODATA, MapOrigin.KCONFIG) else 0
    value_type_id = 0
    mbtf = None
    if btf is not None:
        ids = btf.find_by_name(real_name)
        if ids:
            value_type_id = ids[0]
    variables = data_variables(elf, btf, shndx, real_name, value_type_id)
    if value_type_id and any(not v.static for v in variables):
        flags |= MapFlag.MMAPABLE
    if btf is not None and value_type_id:
        try:
            mbtf = map_btf(btf, 0, value_type_id)
        except BpfError:
            mbtf = None
    spec = MapSpec(type=MapType.ARRAY, key_size=4, value_size=size, max_entries=1,
                   flags=int(flags), name=name, btf=mbtf)  # fmt: skip
    return MapDef(name, origin, spec, real_name, shndx, 0, data=data if data is not None
                  else bytes(size), variables=variables)  # fmt: skip
