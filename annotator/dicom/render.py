"""One frame of a parsed data set -> 8-bit display pixels and the facts about how they were made."""

from __future__ import annotations

from typing import Any

import numpy as np

from annotator.dicom.decode import frame_metadata, frame_pixels
from annotator.dicom.window import apply_file_window, apply_voi_lut_8bit, apply_window, file_window, resolve_window


def render_frame(
    ds: Any, *, frame: int = 0, window: tuple[float, float] | str | dict | None = None, max_pixels: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """uint8 pixels of one frame (rows x columns greyscale, or rows x columns x 3 colour) and its
    metadata: modality LUT, then the requested window, else the file's VOI LUT, else the file's
    window (with its VOI LUT Function), else min..max; MONOCHROME1 inverted.

    `window` is a (center, width) tuple or a project's choice as `resolve_window` reads it; colour
    and palette images ignore it. metadata["window_source"] says which window was used: "requested",
    "file", "file-voi-lut" or "min-max". DicomError names what is wrong with a bad file."""
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    pixels = frame_pixels(ds, frame=frame, max_pixels=max_pixels)
    metadata = frame_metadata(ds, frame=frame)
    photometric = metadata["photometric"]
    if pixels.ndim == 3:
        # Colour: pydicom already converted YBR to RGB; reduce to 8 bits by the stored bit depth.
        bits = int(ds.get("BitsStored", 8))
        rgb = pixels.astype(np.float64) * (255.0 / (2**bits - 1)) if bits > 8 else pixels
        return np.clip(rgb, 0, 255).astype(np.uint8), metadata
    if photometric == "PALETTE COLOR":
        lut = apply_color_lut(pixels, ds).astype(np.float64)
        scale = 255.0 / 65535.0 if lut.max() > 255 else 1.0
        return np.clip(lut * scale, 0, 255).astype(np.uint8), metadata
    # Enhanced multi-frame files keep rescale and window in functional groups, not at the top level.
    rescale = _functional_group_item(ds, frame, "PixelValueTransformationSequence")
    values = apply_modality_lut(pixels, rescale if rescale is not None else ds).astype(np.float64)
    if not np.isfinite(values).all():
        # Float pixel data may hold NaN or infinities (no value measured): drawn as the lowest value.
        finite = values[np.isfinite(values)]
        values = np.where(np.isfinite(values), values, float(finite.min()) if finite.size else 0.0)
    voi = _functional_group_item(ds, frame, "FrameVOILUTSequence")
    in_file = file_window(voi if voi is not None else ds)
    metadata["file_window"] = {"center": in_file[0], "width": in_file[1]} if in_file else None
    requested = resolve_window(window, metadata["modality"])
    if requested is not None:
        (center, width), metadata["window_source"] = requested, "requested"
        scaled = apply_window(values, center=center, width=width)
    elif ds.get("VOILUTSequence"):
        # A non-linear VOI LUT (PS3.3 C.11.2) is the file's own rendering intent; it wins over a
        # WindowCenter/Width pair that may sit beside it (pydicom's prefer_lut).
        metadata["window_source"] = "file-voi-lut"
        metadata["window"] = metadata["file_window"]
        return _greyscale(apply_voi_lut_8bit(values, ds), photometric), metadata
    elif in_file is not None:
        center, width, function = in_file
        metadata["window_source"] = "file"
        scaled = apply_file_window(values, center=center, width=width, function=function)
    else:
        # min..max as a DICOM window: width max-min+1 maps min to 0 and max to 255 exactly.
        low, high = float(values.min()), float(values.max())
        width = high - low + 1.0
        center = low + width / 2
        metadata["window_source"] = "min-max"
        scaled = apply_window(values, center=center, width=width)
    metadata["window"] = {"center": center, "width": width}
    return _greyscale(scaled, photometric), metadata


def _greyscale(scaled: np.ndarray, photometric: str) -> np.ndarray:
    return 255 - scaled if photometric == "MONOCHROME1" else scaled  # MONOCHROME1: low values are white


def _functional_group_item(ds: Any, frame: int, sequence: str) -> Any | None:
    """The frame's item of a functional group macro (per-frame first, then shared), or None."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and frame < len(per_frame) and per_frame[frame].get(sequence):
        return per_frame[frame].get(sequence)[0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and shared[0].get(sequence):
        return shared[0].get(sequence)[0]
    return None
