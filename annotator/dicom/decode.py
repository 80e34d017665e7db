"""One frame of a parsed data set -> its stored pixel values, after checks that name what is wrong
(no pixel data, too many pixels, no decoder, truncated data, no such frame); and the frame's facts."""

from __future__ import annotations

from typing import Any

import numpy as np

from annotator.dicom.errors import DicomError
from annotator.dicom.series import frame_plane


def frame_count(ds: Any) -> int:
    """Frames in the data set (NumberOfFrames; 1 when absent or unreadable)."""
    try:
        return int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        return 1


def frame_pixels(ds: Any, *, frame: int, max_pixels: int) -> np.ndarray:
    """The stored pixels of one frame (rows x columns, with a last axis of 3 for colour; YBR already
    converted to RGB by pydicom). `max_pixels` is the decompression-bomb guard, checked before any
    pixel is decoded."""
    from pydicom.pixels import pixel_array

    if pixel_data_keyword(ds) is None:
        raise DicomError("DICOM file without pixel data (not an image)")
    check_pixel_count(int(ds.Columns), int(ds.Rows), max_pixels)
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    check_pixel_data(ds, frames)
    if not 0 <= frame < frames:
        raise DicomError(f"frame {frame} does not exist: the DICOM file has {frames} frame(s)")
    # index= decodes only that frame, not a whole multi-frame series.
    return pixel_array(ds, index=frame)


def check_pixel_count(width: int, height: int, max_pixels: int) -> None:
    """Refuse a matrix over `max_pixels` (or an empty one)."""
    if width <= 0 or height <= 0:
        raise DicomError(f"invalid image size {width}x{height}")
    if width * height > max_pixels:
        raise DicomError(
            f"too many pixels: {width}x{height} is over the limit of {max_pixels:,} pixels (decompression-bomb guard)"
        )


def check_pixel_data(ds: Any, frames: int) -> None:
    """Refuse, with a precise reason, pixel data that no installed decoder reads or that is cut short."""
    from pydicom.pixels import get_decoder

    keyword = pixel_data_keyword(ds) or "PixelData"
    uid = ds.file_meta.TransferSyntaxUID
    if keyword != "PixelData":
        # Float Pixel Data / Double Float Pixel Data (parametric maps, some research data): always
        # native, 32 or 64 bits per sample; pydicom decodes it into float arrays.
        _check_length(ds, keyword, frames)
        return
    try:
        decoder = get_decoder(uid)
    except NotImplementedError as exc:
        raise DicomError(f"unsupported DICOM transfer syntax {uid.name} ({uid}): no decoder exists for it") from exc
    if not decoder.is_available:
        raise DicomError(f"unsupported DICOM transfer syntax {uid.name} ({uid}): its decoder plugin is not installed")
    if uid.is_compressed:
        return  # the decoder itself reports damaged compressed frames
    _check_length(ds, keyword, frames)


def pixel_data_keyword(ds: Any) -> str | None:
    """Which pixel data element the data set has: integer, float (7FE0,0008) or double (7FE0,0009)."""
    for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if keyword in ds:
            return keyword
    return None


def _check_length(ds: Any, keyword: str, frames: int) -> None:
    from pydicom.pixels.utils import get_expected_length

    # pydicom's own count knows the layouts (YBR_FULL_422 subsampling, 1-bit packing, frames).
    expected = get_expected_length(ds, unit="bytes")
    actual = len(ds[keyword].value)
    if actual < expected:
        raise DicomError(
            f"truncated DICOM pixel data: {actual:,} bytes where {frames} frame(s) of "
            f"{ds.Columns}x{ds.Rows} need {expected:,}"
        )


def frame_metadata(ds: Any, *, frame: int) -> dict[str, Any]:
    """JSON-serialisable facts about one frame. No patient name, ID or birth date here: metadata
    reaches exports, logs and the browser."""
    return {
        "photometric": str(ds.get("PhotometricInterpretation", "MONOCHROME2")),
        "frames": int(getattr(ds, "NumberOfFrames", 1) or 1),
        "frame": frame,  # 0-based index into the file's frames (DICOM's frame numbers start at 1)
        "modality": str(ds.get("Modality", "")),
        "study_uid": str(ds.get("StudyInstanceUID", "")),
        "series_uid": str(ds.get("SeriesInstanceUID", "")),
        "sop_instance_uid": str(ds.get("SOPInstanceUID", "")),
        "sop_class_uid": str(ds.get("SOPClassUID", "")),
        "frame_of_reference_uid": str(ds.get("FrameOfReferenceUID", "")),
        "instance_number": _int_or_none(ds.get("InstanceNumber")),
        "transfer_syntax": str(ds.file_meta.TransferSyntaxUID),
        "bits_stored": _int_or_none(ds.get("BitsStored")),
        "signed": ds.get("PixelRepresentation", 0) == 1,
        # (0028,0301) YES/NO, "" when absent: annotator.dicom.burned_in reads it.
        "burned_in_annotation": str(ds.get("BurnedInAnnotation", "") or ""),
        # Where the frame lies (annotator.dicom.series orders a series by them); None when absent.
        **frame_plane(ds, frame),
    }


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
