"""Helper implementations by id; importing this package registers all of them."""

from __future__ import annotations

from . import core, maps, packet, seq  # noqa: F401  (importing registers them)
from .registry import HELPERS, Helper, HelperFn, helper, neg

__all__ = ["HELPERS", "Helper", "HelperFn", "helper", "neg"]
