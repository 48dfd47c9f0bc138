"""The UAPI enums pybpf already numbers (map, program and attach types), written out
as C from pybpf's own enums so the two can never disagree."""

from __future__ import annotations

from enum import IntEnum

from ...progtypes import AttachType, ProgType


def _enum_c(c_name: str, prefix: str, enum: type[IntEnum], last: str | None) -> str:
    lines = [f"enum {c_name} {{"]
    top = -1
    for name, member in enum.__members__.items():  # aliases included
        lines.append(f"    {prefix}{name} = {int(member)},")
        top = max(top, int(member))
    if last is not None:
        lines.append(f"    {last} = {top + 1},")
    lines.append("};")
    return "\n".join(lines) + "\n"


def uapi_enums() -> str:
    """``enum bpf_map_type``, ``enum bpf_prog_type`` and ``enum bpf_attach_type``."""
    from ....maps.types import MapType  # here: importing pybpf.maps is not cheap

    return "\n".join([
        _enum_c("bpf_map_type", "BPF_MAP_TYPE_", MapType, "__MAX_BPF_MAP_TYPE"),
        _enum_c("bpf_prog_type", "BPF_PROG_TYPE_", ProgType, "__MAX_BPF_PROG_TYPE"),
        _enum_c("bpf_attach_type", "BPF_", AttachType, "__MAX_BPF_ATTACH_TYPE"),
    ])  # fmt: skip
