"""A struct_ops map's value as ``bpftool map dump`` shows it: the wrapper's refcnt and
state, then every member of the ops struct (program ids in place of function pointers,
char arrays as their bytes)."""

from __future__ import annotations

import struct
from typing import Any

from ..btf import Array, Int, Struct, Union, resolve_size
from ..btf.resolve import skip_modifiers
from ..kernel.vmlinux import kernel_btf
from ..maps.struct_ops import StructOpsMap


def _value(type_id: int, raw: bytes) -> Any:
    btf = kernel_btf()
    t = btf[skip_modifiers(btf, type_id)]
    if isinstance(t, Struct | Union):
        return {m.name: _value(m.type, raw[m.offset // 8 :]) for m in t.members}
    if isinstance(t, Array):
        es = resolve_size(btf, t.type)
        return [_value(t.type, raw[i * es :]) for i in range(t.nelems)]
    size = resolve_size(btf, type_id)  # ints, enums and pointers (program ids)
    signed = isinstance(t, Int) and t.signed
    return int.from_bytes(raw[:size], "little", signed=signed)


def value_json(m: StructOpsMap) -> dict[str, Any]:
    """``{"refcnt": {"refs": {"counter": N}}, "state": S, "data": {...}}``."""
    raw = m.lookup(0)
    refcnt, state = struct.unpack_from("<II", raw, 0)
    lay = m.ops_type.layout
    data = _value(m.ops_type.type_id, raw[lay.data_offset : lay.data_offset + lay.data_size])
    return {"refcnt": {"refs": {"counter": refcnt}}, "state": state, "data": data}


def map_show_line(m: StructOpsMap) -> str:
    """``bpftool map show``'s two lines for the map."""
    return (f"{m.id}: struct_ops  name {m.spec.name}  flags 0x{m.flags:x}\n"
            f"\tkey {m.key_size}B  value {m.value_size}B  max_entries 1\n"
            f"\tbtf_vmlinux_value_type_id {m.btf_vmlinux_value_type_id}")  # fmt: skip
