"""Helper implementations by id; importing this package registers all of them."""

from __future__ import annotations

from . import core  # noqa: F401  (registers)
from .registry import HELPERS, Helper, HelperFn, helper, neg

__all__ = ["HELPERS", "Helper", "HelperFn", "helper", "neg"]
