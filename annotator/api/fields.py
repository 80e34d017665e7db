"""Input fields of the annotation serializers (types and ranges; the services check the rules)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(
    {"type": "array", "description": "A box's [x, y, width, height] in image pixels", "items": {"type": "number"}}
)
class BoxField(serializers.JSONField):
    """A box annotation's box, COCO's [x, y, width, height] (annotator.geometry.validate_box checks it)."""


def effort_field(**kwargs) -> serializers.IntegerField:
    """A labeling-effort count or time in ms, 32-bit like its column."""
    return serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False, **kwargs)
