"""Input limits: how much one request may ask of the server (docs/operations.md lists them).

The values come from settings (config/settings.py, ANNOTATOR_MAX_*); the checks are pure and run on
JSON as parsed, before anything is decoded, rasterised or handed to numpy.
"""

from __future__ import annotations

import json
import math

from django.conf import settings

from annotator.geometry import GeometryLimits

# Integers beyond this cannot round-trip through the browser (JavaScript numbers are doubles).
JSON_SAFE_INTEGER = 2**53


def geometry_limits() -> GeometryLimits:
    return GeometryLimits(
        max_parts=settings.ANNOTATOR_MAX_POLYGON_PARTS,
        max_vertices=settings.ANNOTATOR_MAX_POLYGON_VERTICES,
        max_rle_counts=settings.ANNOTATOR_MAX_RLE_COUNTS,
    )


def json_problem(value: object, *, max_bytes: int) -> str | None:
    """Why `value` (parsed JSON) is refused, or None: a number that is not finite or not safe in a
    browser, or a serialized size over `max_bytes`. Walks iteratively, so depth costs no stack."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        if isinstance(item, int):
            if abs(item) > JSON_SAFE_INTEGER:
                return f"Numbers must lie within ±2**53 (safe in a browser); got one of {item.bit_length()} bits."
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "Numbers must be finite."
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            return f"Unexpected value of type {type(item).__name__}."
    try:
        size = len(json.dumps(value, separators=(",", ":")))
    except RecursionError:
        return "Too deeply nested."
    if size > max_bytes:
        return f"Too large ({size} bytes > {max_bytes})."
    return None


def prompts_problem(prompts: object) -> str | None:
    return json_problem(prompts, max_bytes=settings.ANNOTATOR_MAX_PROMPTS_BYTES)
