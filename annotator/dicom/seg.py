"""Masks drawn on DICOM images -> DICOM Segmentation (SEG) objects, with highdicom. No ORM, no storage.

One SEG per annotated series and matrix size, or per instance: the annotated single-frame instances
of a series that share a matrix size go into one SEG (the usual CT/MR slice stack); an enhanced
multi-frame instance gets a SEG of its own that references its frames; an image without a Frame of
Reference UID (CR, DX, US, secondary capture: IODs that do not require one) gets a SEG of its own,
as highdicom writes one source frame per such SEG, with the source's Patient Orientation. Legacy
multi-frame files (no functional groups) and sources whose IOD requires a frame of reference they
lack are refused with a reason. Each label class that has pixels in that source becomes one segment
(BINARY; several annotations of one class are united, and classes may overlap, since each segment
has frames of its own). Segments carry coded properties: category and type SCT "Tissue" (85756007),
a deliberately generic code, because a label class here is free text (the class name is the SEG's
segment label); a site needing finer codes maps them later. `seg_check.seg_problems` checks every
SEG built here before it is offered.

The masks were drawn on the display rendition, whose pixel grid is the DICOM matrix (Rows x Columns)
with no resampling, so mask pixel (x, y) is stored pixel (column x, row y) of the source frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from annotator.dicom.decode import frame_count
from annotator.dicom.logs import redact_dicom_logs, redacted, warnings_redacted
from annotator.dicom.seg_check import ExpectedFrame
from annotator.dicom.seg_sources import complete_derived_attributes, source_header

MANUFACTURER = "SAM Annotator"
SOFTWARE_VERSION = "1.0"
# Annotation sources that come from a person alone; any other source (SAM clicks, boxes, automatic)
# makes the segment SEMIAUTOMATIC, which DICOM requires to name the algorithm.
MANUAL_SOURCES = frozenset({"manual", "import"})


class SegRefused(ValueError):
    """A source that cannot be given a SEG; `reason` is meant for the person who asked for the export."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class SourceFrame:
    """One annotated frame of a source instance and the masks drawn on it."""

    dataset: Any  # pydicom Dataset of the original file (pixel data not needed)
    frame: int  # 0-based frame index within the instance
    masks: dict[int, np.ndarray] = field(default_factory=dict)  # label class id -> (rows, cols) 0/1 mask
    semiautomatic: set[int] = field(default_factory=set)  # label class ids with a machine-made mask


@dataclass
class BuiltSeg:
    """A SEG as built, and what each source frame's slot must hold (for `seg_check.seg_problems`)."""

    dataset: Any
    expected: list[ExpectedFrame]


def seg_refusal(dataset: Any) -> str | None:
    """Why this dataset cannot be the source of a SEG, or None. Checked before any mask work.

    Pixel data is not checked: datasets may be read without it, and ingest refused files lacking it.
    A missing Frame of Reference UID is left to highdicom: sources whose IOD does not require one
    (CR, DX, US, secondary capture) get a SEG of their own; the others are refused by the builder.
    """
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"):
        if not str(dataset.get(keyword, "") or ""):
            return f"the DICOM file has no {keyword}"
    if frame_count(dataset) > 1 and "PerFrameFunctionalGroupsSequence" not in dataset:
        # highdicom places a multi-frame source's frames by their functional groups (enhanced CT/MR,
        # legacy-converted enhanced); legacy multi-frame files (RT dose, ultrasound) have none.
        return LEGACY_MULTI_FRAME
    return None


LEGACY_MULTI_FRAME = (
    "a multi-frame DICOM file without per-frame functional groups (legacy multi-frame, "
    "e.g. RT dose or ultrasound) cannot be a DICOM SEG source; enhanced CT/MR files can"
)
NO_FRAME_OF_REFERENCE = (
    "the DICOM file has no Frame of Reference UID, which its IOD requires, so a DICOM SEG cannot reference it"
)


def build_segmentation(
    *,
    frames: Sequence[SourceFrame],
    label_classes: Sequence[dict],
    series_number: int = 1,
    series_description: str = "",
) -> BuiltSeg:
    """One highdicom Segmentation for frames of one series and matrix size (single-frame instances),
    one multi-frame instance, or one instance without a frame of reference.

    `label_classes` are {id, name, color} rows in project order; segment numbers follow that order
    among the classes that have pixels here. Raises SegRefused for what the person can act on. Two
    frames of the same instance and frame number (the same image uploaded twice) are refused, never
    merged into one slot.
    """
    redact_dicom_logs()  # highdicom logs source attribute values it finds wanting
    if not frames:
        raise SegRefused("nothing annotated")
    for frame in frames:
        refusal = seg_refusal(frame.dataset)
        if refusal:
            raise SegRefused(refusal)
    _refuse_duplicates(frames)
    first = frames[0].dataset
    multi_frame = "PerFrameFunctionalGroupsSequence" in first
    present = [
        lc for lc in label_classes if any(f.masks.get(lc["id"]) is not None and f.masks[lc["id"]].any() for f in frames)
    ]
    if not present:
        raise SegRefused("no annotation with pixels")
    rows, columns = int(first.Rows), int(first.Columns)
    if multi_frame:
        # One source instance: the SEG's pixel array has one slot per source frame.
        sources = [first]
        slots = frame_count(first)
        slot_of = {id(f): f.frame for f in frames}
    else:
        # One source image per annotated instance, in a stable order (instance number, then UID).
        by_uid: dict[str, Any] = {}
        for f in frames:
            by_uid.setdefault(str(f.dataset.SOPInstanceUID), f.dataset)
        sources = sorted(
            by_uid.values(), key=lambda ds: (int(ds.get("InstanceNumber", 0) or 0), str(ds.SOPInstanceUID))
        )
        index = {str(ds.SOPInstanceUID): i for i, ds in enumerate(sources)}
        slots = len(sources)
        slot_of = {id(f): index[str(f.dataset.SOPInstanceUID)] for f in frames}
    pixels = np.zeros((slots, rows, columns, len(present)), dtype=np.uint8)
    for f in frames:
        if (int(f.dataset.Rows), int(f.dataset.Columns)) != (rows, columns):
            raise SegRefused("the instances of this group have different matrix sizes")
        for segment, lc in enumerate(present):
            mask = f.masks.get(lc["id"])
            if mask is None:
                continue
            if mask.shape != (rows, columns):
                raise SegRefused(
                    f"a mask of {mask.shape[1]}x{mask.shape[0]} pixels does not fit the {columns}x{rows} DICOM matrix"
                )
            pixels[slot_of[id(f)], :, :, segment] |= (mask > 0).astype(np.uint8)
    descriptions = [
        _segment_description(number, lc, semiautomatic=any(lc["id"] in f.semiautomatic for f in frames))
        for number, lc in enumerate(present, start=1)
    ]
    headers = [source_header(ds) for ds in sources]
    seg = _highdicom_segmentation(headers, pixels, descriptions, series_number, series_description)
    problem = complete_derived_attributes(seg, sources=headers)
    if problem:
        raise SegRefused(problem)
    if multi_frame:
        uid = str(first.SOPInstanceUID)
        expected = [ExpectedFrame(uid, f.frame + 1, pixels[f.frame]) for f in frames]
    else:
        expected = [ExpectedFrame(str(ds.SOPInstanceUID), None, pixels[i]) for i, ds in enumerate(sources)]
    return BuiltSeg(dataset=seg, expected=expected)


def _refuse_duplicates(frames: Sequence[SourceFrame]) -> None:
    seen: set[tuple[str, int]] = set()
    for f in frames:
        key = (str(f.dataset.SOPInstanceUID), f.frame)
        if key in seen:
            raise SegRefused(
                f"two images of this project are the same DICOM instance (SOP Instance UID {key[0]}, frame "
                f"{key[1] + 1}), uploaded twice with different bytes; their masks are never merged: delete one"
            )
        seen.add(key)


def _highdicom_segmentation(
    headers: list[Any], pixels: np.ndarray, descriptions: list[Any], series_number: int, series_description: str
) -> Any:
    import highdicom as hd

    try:
        with warnings_redacted():
            return hd.seg.Segmentation(
                source_images=headers,
                pixel_array=pixels,
                segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
                segment_descriptions=descriptions,
                series_instance_uid=hd.UID(),
                series_number=series_number,
                sop_instance_uid=hd.UID(),
                instance_number=1,
                manufacturer=MANUFACTURER,
                manufacturer_model_name=MANUFACTURER,
                software_versions=SOFTWARE_VERSION,
                device_serial_number="1",
                series_description=(series_description or "Segmentation")[:64],
                content_label="SEGMENTATION",
                content_description="Masks annotated with SAM Annotator"[:64],
            )
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        if "Frame Of Reference" in str(exc) and "required" in str(exc):
            raise SegRefused(NO_FRAME_OF_REFERENCE) from exc
        if "SharedFunctionalGroupsSequence" in str(exc):
            # A multi-frame IOD (RT dose, multi-frame ultrasound) holding one frame, without groups.
            raise SegRefused(LEGACY_MULTI_FRAME) from exc
        # highdicom validates its sources; its message says which requirement is not met (values redacted).
        raise SegRefused(f"highdicom cannot build a SEG from this source: {redacted(str(exc))}") from exc


def segment_color(hex_color: str) -> Any:
    """'#rrggbb' -> highdicom CIELabColor (the SEG's recommended display colour)."""
    import highdicom as hd
    from skimage.color import rgb2lab

    value = hex_color.lstrip("#")
    try:
        rgb = np.array([[[int(value[i : i + 2], 16) / 255.0 for i in (0, 2, 4)]]])
    except (ValueError, IndexError):
        rgb = np.array([[[0.5, 0.5, 0.5]]])
    l_star, a_star, b_star = (float(v) for v in rgb2lab(rgb)[0, 0])
    return hd.color.CIELabColor(
        min(max(l_star, 0.0), 100.0), min(max(a_star, -128.0), 127.0), min(max(b_star, -128.0), 127.0)
    )


def _segment_description(number: int, label_class: dict, *, semiautomatic: bool) -> Any:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    algorithm = None
    if semiautomatic:
        algorithm = hd.AlgorithmIdentificationSequence(
            name="Segment Anything (interactive)", family=codes.DCM.ArtificialIntelligence, version=SOFTWARE_VERSION
        )
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=str(label_class["name"])[:64],
        segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Tissue,
        algorithm_type=(
            hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC
            if semiautomatic
            else hd.seg.SegmentAlgorithmTypeValues.MANUAL
        ),
        algorithm_identification=algorithm,
        tracking_id=f"label-class-{label_class['id']}",
        tracking_uid=hd.UID(),
        display_color=segment_color(str(label_class.get("color") or "#808080")),
    )


def seg_group_key(dataset: Any) -> str:
    """Frames with the same key go into one SEG: the series and matrix size for single-frame files
    with a frame of reference (a series of two matrix sizes gives one SEG per size); else the
    instance (multi-frame files, and images without a frame of reference, which highdicom writes
    one source frame per SEG for)."""
    if frame_count(dataset) > 1 or "PerFrameFunctionalGroupsSequence" in dataset:
        return f"instance:{dataset.SOPInstanceUID}"
    if not str(dataset.get("FrameOfReferenceUID", "") or ""):
        return f"instance:{dataset.SOPInstanceUID}"
    return f"series:{dataset.get('SeriesInstanceUID', '')}:{dataset.get('Rows')}x{dataset.get('Columns')}"
