"""Source data sets made fit to be SEG sources, and the attributes a SEG derives from them. Pure.

highdicom copies the Patient, Study and Clinical Trial modules from the first source; a source that
lacks a Type 2 attribute of those modules makes it fail, and the standard lets such an attribute be
present with no value, so a copy of the header gets it empty. Slice Thickness (Type 1C in the SEG's
Pixel Measures) is taken from the source, else from Spacing Between Slices, else from the distance
of the series' slices along their normal; a SEG that would lack it is refused or, where the SEG has
no frame of reference (projection images), written without Pixel Measures.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

# Type 2 attributes of the modules highdicom copies into every SEG (Patient, General Study).
_TYPE2_COPIED = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)


def source_header(dataset: Any) -> Any:
    """A copy of the source header with absent Type 2 attributes of the copied modules present, empty
    (seg_refusal has already refused legacy files of more than one frame)."""
    from pydicom.dataset import Dataset

    # A shallow copy: only top-level elements are added or removed here, never changed in place.
    prepared = Dataset(dataset)
    if hasattr(dataset, "file_meta"):
        prepared.file_meta = dataset.file_meta
    if "PerFrameFunctionalGroupsSequence" not in prepared and "NumberOfFrames" in prepared:
        # A legacy multi-frame IOD holding one frame (NM, RT dose): one frame is a single-frame
        # source to highdicom, which otherwise looks for functional groups it does not have.
        del prepared.NumberOfFrames
    for keyword in _TYPE2_COPIED:
        if keyword not in prepared:
            setattr(prepared, keyword, "")
    return prepared


def slice_thickness(sources: Sequence[Any]) -> float | None:
    """Slice Thickness for the SEG's Pixel Measures: the source's, else its Spacing Between Slices,
    else the smallest distance between distinct slice positions along the slices' normal."""
    first = sources[0]
    for keyword in ("SliceThickness", "SpacingBetweenSlices"):
        value = _positive(first.get(keyword))
        if value is not None:
            return value
    positions = [_position_along_normal(ds) for ds in sources]
    known = sorted({round(p, 6) for p in positions if p is not None})
    gaps = [b - a for a, b in itertools.pairwise(known) if b - a > 1e-6]
    return min(gaps) if gaps else None


def _position_along_normal(dataset: Any) -> float | None:
    try:
        orientation = np.array([float(v) for v in dataset.ImageOrientationPatient], dtype=np.float64)
        position = np.array([float(v) for v in dataset.ImagePositionPatient], dtype=np.float64)
    except (AttributeError, TypeError, ValueError):
        return None
    if orientation.shape != (6,) or position.shape != (3,):
        return None
    return float(np.dot(np.cross(orientation[:3], orientation[3:]), position))


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) and number > 0 else None


def complete_derived_attributes(seg: Any, *, sources: Sequence[Any]) -> str | None:
    """Fill the SEG's Type 1C/2C attributes that highdicom leaves out and the source determines.
    Returns why the SEG cannot be valid, or None.

    - Patient Orientation (Type 2C: required when the SEG has no plane orientation): the source's
      value, empty when the source has none.
    - Slice Thickness in Pixel Measures (Type 1C): `slice_thickness`; when nothing gives it, the
      Pixel Measures are dropped from a SEG without a plane orientation (a projection image), and
      any other SEG is refused.
    """
    shared = seg.get("SharedFunctionalGroupsSequence")
    shared_item = shared[0] if shared else None
    has_plane = shared_item is not None and "PlaneOrientationSequence" in shared_item
    if not has_plane and "PatientOrientation" not in seg:
        seg.PatientOrientation = sources[0].get("PatientOrientation", "") or ""
    measures = shared_item.get("PixelMeasuresSequence") if shared_item is not None else None
    if measures and _positive(measures[0].get("SliceThickness")) is None:
        thickness = slice_thickness(sources)
        if thickness is not None:
            measures[0].SliceThickness = thickness
        elif not has_plane and shared_item is not None:
            del shared_item.PixelMeasuresSequence
        else:
            return (
                "the source has no Slice Thickness and none can be derived (no Spacing Between Slices, "
                "one slice only), so its SEG would lack the Slice Thickness a DICOM SEG requires"
            )
    return None
