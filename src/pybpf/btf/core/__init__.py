"""CO-RE (compile once, run everywhere): relocations resolved against a target BTF
with libbpf's rules, and applied to raw instructions."""

from __future__ import annotations

from .compat import fields_are_compat, types_are_compat, types_match
from .patch import patch_insn, poison
from .relo import (
    POISON_IMM,
    Candidate,
    CoreRelocator,
    CoreReloError,
    CoreResolution,
    CoreResult,
    CoreTarget,
    calc_relo,
    find_candidates,
    match_spec,
    resolve_relos,
)
from .spec import Accessor, CoreSpec, essential_name, parse_spec

__all__ = [
    "POISON_IMM",
    "Accessor",
    "Candidate",
    "CoreReloError",
    "CoreRelocator",
    "CoreResolution",
    "CoreResult",
    "CoreSpec",
    "CoreTarget",
    "calc_relo",
    "essential_name",
    "fields_are_compat",
    "find_candidates",
    "match_spec",
    "parse_spec",
    "patch_insn",
    "poison",
    "resolve_relos",
    "types_are_compat",
    "types_match",
]
