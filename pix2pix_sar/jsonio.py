"""Strict JSON for every JSON file and line the project writes.

Python's json writes NaN and Infinity, which strict parsers (JavaScript, jq, Go, Rust)
refuse; here a number that is not finite becomes null ("not measured"), and numpy
scalars and arrays become plain numbers and lists.
"""

from __future__ import annotations

import json
import math
from typing import Any


def strict(value: Any) -> Any:
    """`value` with every non-finite float (nested in dicts, lists, tuples) as None."""
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars (without importing numpy)
        return strict(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """json.dumps of :func:`strict` `value` (refuses NaN rather than write it)."""
    return json.dumps(strict(value), allow_nan=False, **kwargs)
