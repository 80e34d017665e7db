"""Windows: a project's choice (a preset or a center/width pair, applied linearly), CT presets, and
the file's own VOI (window with its VOI LUT Function, or a VOI LUT Sequence) through pydicom.

Every function maps modality values (after the modality LUT) to 8-bit display values."""

from __future__ import annotations

from typing import Any

import numpy as np

# Common CT windows (center, width) in Hounsfield units, as radiology viewers offer them. Other
# modalities have no fixed units (MR intensities are arbitrary), so they have no presets.
CT_WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "soft tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}
# A project's window choice (Project.dicom_window) names a preset as "<modality>-<name>" ("ct-lung").
WINDOW_PRESETS: dict[str, tuple[str, tuple[float, float]]] = {
    f"ct-{name.replace(' ', '-')}": ("CT", window) for name, window in CT_WINDOW_PRESETS.items()
}
# Widths beyond this are not a window but a typo (a 32-bit range is 4.3e9).
_MAX_WINDOW_WIDTH = 1e10
# VOI LUT Functions (PS3.3 C.11.2.1.3) pydicom applies; any other value is read as LINEAR, the default.
_VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


def window_presets(modality: str) -> dict[str, tuple[float, float]]:
    """Named windows for a DICOM modality (CT only); empty where units carry no fixed meaning."""
    return dict(CT_WINDOW_PRESETS) if modality.upper() == "CT" else {}


def window_choice_clean(choice: Any) -> str | dict[str, float] | None:
    """A window choice as stored (None, a preset name, or {"center": c, "width": w}); ValueError
    with a readable reason for anything else."""
    if choice is None:
        return None
    if isinstance(choice, str):
        if choice not in WINDOW_PRESETS:
            raise ValueError(f"unknown window preset {choice!r}; known: {', '.join(sorted(WINDOW_PRESETS))}")
        return choice
    if isinstance(choice, dict) and set(choice) == {"center", "width"}:
        if any(isinstance(choice[key], bool) for key in ("center", "width")):
            raise ValueError("window center and width must be numbers, not true/false")
        try:
            center, width = float(choice["center"]), float(choice["width"])
        except OverflowError as exc:  # an integer too large for a float (10**400)
            raise ValueError(f"window center and width must be finite, at most {_MAX_WINDOW_WIDTH:g} wide") from exc
        except (TypeError, ValueError) as exc:
            raise ValueError("window center and width must be numbers") from exc
        if not (np.isfinite(center) and np.isfinite(width)) or not 1 <= width <= _MAX_WINDOW_WIDTH:
            raise ValueError(f"window width must be between 1 and {_MAX_WINDOW_WIDTH:g}, and both values finite")
        return {"center": center, "width": width}
    raise ValueError('a window is null, a preset name such as "ct-lung", or {"center": number, "width": number}')


def resolve_window(choice: Any, modality: str) -> tuple[float, float] | None:
    """(center, width) a choice asks of an image of this modality, or None for the file's own window.

    A (center, width) tuple or {"center", "width"} applies to every greyscale image; a preset only to
    its modality (a CT window in Hounsfield units means nothing for MR intensities)."""
    if choice is None:
        return None
    if isinstance(choice, tuple):
        return float(choice[0]), float(choice[1])
    choice = window_choice_clean(choice)
    if isinstance(choice, str):
        preset_modality, window = WINDOW_PRESETS[choice]
        return window if modality.upper() == preset_modality else None
    return (choice["center"], choice["width"]) if choice is not None else None


def apply_window(values: np.ndarray, *, center: float, width: float) -> np.ndarray:
    """Modality values -> uint8 by the DICOM linear VOI function (PS3.3 C.11.2.1.2), rounded: the
    window a project or the annotator's window/level asks for.

    Values at or below center - 0.5 - (width - 1) / 2 are 0, above center - 0.5 + (width - 1) / 2 are 255.
    """
    values = np.asarray(values, dtype=np.float64)
    if width <= 1:
        # A one-value window is a threshold (the formula would divide by zero).
        return np.where(values > center - 0.5, 255, 0).astype(np.uint8)
    scaled = ((values - (center - 0.5)) / (width - 1.0) + 0.5) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def file_window(voi: Any) -> tuple[float, float, str] | None:
    """The first window of a VOI LUT module (the data set, or a frame's FrameVOILUTSequence item) as
    (center, width, VOI LUT Function), or None when it has none usable (width under 1)."""
    center, width = _first_number(voi.get("WindowCenter")), _first_number(voi.get("WindowWidth"))
    if center is None or width is None or width < 1:
        return None
    function = str(voi.get("VOILUTFunction", "") or "LINEAR").upper()
    return center, width, function if function in _VOI_FUNCTIONS else "LINEAR"


def apply_file_window(values: np.ndarray, *, center: float, width: float, function: str) -> np.ndarray:
    """Modality values -> uint8 through the file's window with its VOI LUT Function (LINEAR,
    LINEAR_EXACT or SIGMOID), by pydicom's `apply_windowing`.

    pydicom maps onto the output range of the data set it is given: a one-window data set with an
    unsigned 8-bit output (BitsStored 8, no rescale) makes that range 0..255, so LINEAR gives exactly
    `apply_window`'s values."""
    from pydicom.dataset import Dataset
    from pydicom.pixels import apply_windowing

    voi = Dataset()
    voi.PhotometricInterpretation = "MONOCHROME2"  # inversion of MONOCHROME1 follows in the caller
    voi.BitsStored, voi.PixelRepresentation = 8, 0
    voi.WindowCenter, voi.WindowWidth, voi.VOILUTFunction = center, width, function
    windowed = apply_windowing(np.asarray(values, dtype=np.float64), voi)
    return np.clip(np.rint(windowed), 0, 255).astype(np.uint8)


def apply_voi_lut_8bit(values: np.ndarray, ds: Any) -> np.ndarray:
    """Modality values -> uint8 through the file's first VOI LUT (pydicom's `apply_voi_lut`), scaled
    from the LUT's output range (LUT Descriptor's bit count, or its largest entry if that is larger:
    some writers get the descriptor wrong) to 0..255."""
    from pydicom.pixels import apply_voi_lut

    item = ds.VOILUTSequence[0]
    bits = int(item.LUTDescriptor[2]) or 16
    lut = apply_voi_lut(values, ds, index=0, prefer_lut=True).astype(np.float64)
    data = item.get("LUTData")
    top = float(2**bits - 1)
    if data is not None:
        entries = np.asarray(
            data if not isinstance(data, bytes) else np.frombuffer(data, dtype=np.uint16 if bits > 8 else np.uint8)
        )
        top = max(top, float(entries.max()) if entries.size else top)
    return np.clip(np.rint(lut * (255.0 / top)), 0, 255).astype(np.uint8)


def _first_number(value: Any) -> float | None:
    """The first value of a possibly multi-valued number (WindowCenter/WindowWidth), or None."""
    from pydicom.multival import MultiValue

    if value is None:
        return None
    if isinstance(value, MultiValue):
        value = value[0] if len(value) else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
