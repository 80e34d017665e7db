"""A DICOM series as a volume (pure functions, no ORM): where each frame lies, the slice order, and
which slices to embed first around the one being looked at.

Order: when every slice has an Image Position Patient and an Image Orientation Patient, slices are
sorted by their position projected on the slice normal (row direction x column direction of the
orientation, PS3.3 C.7.6.2.1.1), then Instance Number; a series where any slice lacks either is
ordered by Instance Number (absent last), then frame number. Ties keep the given order (stable)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SliceInfo:
    key: Any  # the caller's handle (an image id)
    position: Sequence[float] | None = None  # Image Position Patient (x, y, z) in mm
    orientation: Sequence[float] | None = None  # Image Orientation Patient (row xyz, column xyz)
    instance_number: int | None = None
    frame: int = 0  # 0-based frame of a multi-frame file


def _floats(value: Any, count: int) -> list[float] | None:
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count and all(np.isfinite(numbers)) else None


def frame_plane(ds: Any, frame: int) -> dict[str, list[float] | None]:
    """{"image_position", "image_orientation"} of one frame: the top-level attributes, else the
    frame's Plane Position / Plane Orientation functional groups (enhanced multi-frame), else the
    shared functional groups; None where absent or malformed."""
    position = _floats(ds.get("ImagePositionPatient"), 3)
    orientation = _floats(ds.get("ImageOrientationPatient"), 6)
    groups = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and 0 <= frame < len(per_frame):
        groups.append(per_frame[frame])
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        groups.append(shared[0])
    for group in groups:
        if position is None and group.get("PlanePositionSequence"):
            position = _floats(group.PlanePositionSequence[0].get("ImagePositionPatient"), 3)
        if orientation is None and group.get("PlaneOrientationSequence"):
            orientation = _floats(group.PlaneOrientationSequence[0].get("ImageOrientationPatient"), 6)
    return {"image_position": position, "image_orientation": orientation}


def slice_normal(orientation: Sequence[float]) -> np.ndarray:
    """Unit normal of a slice: row direction x column direction."""
    row, column = np.asarray(orientation[:3], dtype=np.float64), np.asarray(orientation[3:6], dtype=np.float64)
    normal = np.cross(row, column)
    length = float(np.linalg.norm(normal))
    if length == 0.0:
        raise ValueError("the orientation's row and column directions are parallel")
    return normal / length


def slice_order(slices: Sequence[SliceInfo]) -> list[Any]:
    """The slices' keys in volume order (see the module's docstring)."""
    positioned = all(_floats(s.position, 3) and _floats(s.orientation, 6) for s in slices)
    normal = None
    if positioned and slices:
        try:
            # The first slice's orientation is the series' (a series is one acquisition plane).
            normal = slice_normal(_floats(slices[0].orientation, 6) or [])
        except ValueError:
            normal = None

    def instance_key(s: SliceInfo) -> tuple[int, int, int]:
        missing = s.instance_number is None
        return (1 if missing else 0, s.instance_number if s.instance_number is not None else 0, s.frame)

    if normal is None:
        return [s.key for s in sorted(slices, key=instance_key)]
    distance = {id(s): float(np.dot(np.asarray(_floats(s.position, 3)), normal)) for s in slices}
    return [s.key for s in sorted(slices, key=lambda s: (round(distance[id(s)], 4), *instance_key(s)))]


def ahead_order(position: int, count: int, radius: int) -> list[int]:
    """Slice indices to embed first when slice `position` of `count` is opened: itself, then its
    neighbours outward (next before previous at each distance), at most `radius` away."""
    if not 0 <= position < count:
        return []
    order = [position]
    for step in range(1, max(0, radius) + 1):
        for index in (position + step, position - step):
            if 0 <= index < count:
                order.append(index)
    return order
