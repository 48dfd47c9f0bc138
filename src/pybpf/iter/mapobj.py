"""The ``struct bpf_map`` a program sees behind a map pointer.

A map's object region is laid out as pybpf's kernel BTF declares ``struct bpf_map``;
the iterators fill in the members a program may read (its id, type, sizes, flags,
name and reference counts) before handing the pointer to a program, as the kernel's
object always holds them.
"""

from __future__ import annotations

from typing import Any

from ..kernel.vmlinux import sizeof, view


def sync_map_object(m: Any, refcnt: int = 1, usercnt: int = 1) -> None:
    """Write ``m``'s public description into its ``struct bpf_map`` bytes."""
    region = m.region
    if region.size < sizeof("bpf_map"):
        return
    obj = view(region, "bpf_map")
    spec = m.spec
    name = (getattr(spec, "name", "") or "").encode()[:15]
    obj.update(
        map_type=int(spec.type), key_size=spec.key_size, value_size=spec.value_size,
        max_entries=spec.max_entries, map_flags=int(spec.flags), id=int(m.id),
        map_extra=int(getattr(spec, "map_extra", 0) or 0),
        frozen=int(bool(getattr(m, "frozen", False))),
    )  # fmt: skip
    off = obj.info("name").byte_offset
    region.buf[off : off + 16] = name.ljust(16, b"\0")
    for member, value in (("refcnt", refcnt), ("usercnt", usercnt)):
        o = obj.info(member).byte_offset
        region.buf[o : o + 8] = value.to_bytes(8, "little", signed=True)
