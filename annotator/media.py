"""Untrusted image bytes -> validated, display-ready pixels. Pure functions: no ORM, no storage, no torch.

`decode_image` is the one entry point. It decides the type from the content (never the file name),
dispatches to one decoder per family (Pillow for photos and graphics, pydicom for DICOM), and returns
an 8-bit RGB display rendition plus a JPEG thumbnail. Every failure is a `MediaError` whose message a
person can act on; no decoder exception escapes, because any of them only means "this file is bad".

Choices made here (each also noted where it is applied):
- Display rendition: JPEG q=92 for lossy sources (JPEG, lossy WebP) — re-encoding a photo as PNG
  makes it 5-10x larger with nothing gained; PNG for everything else, so line art, screenshots,
  16-bit and medical images get no new compression artefacts at the edges a mask must follow.
- Transparency is composited on white: SAM's encoder and the browser canvas both need opaque RGB,
  and white is what most viewers show; the original file keeps the alpha channel.
- Single-channel 16-bit/32-bit/float images are stretched from their actual min..max to 0..255:
  such files are mostly scientific or medical data using a fraction of the container's range
  (12-bit sensors), which a full-range scaling would show as nearly black. 16-bit colour PNGs are
  photographic and Pillow already reduces them by the full range (high byte).
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from PIL import Image as PILImage
from PIL import ImageCms, ImageOps

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "DICOM")
# JPEG quality of display renditions of lossy sources (see the module docstring): 92 keeps re-encoding
# loss below what is visible while staying close to the source size.
_LOSSY_DISPLAY_QUALITY = 92
_THUMBNAIL_QUALITY = 85
# How many leading bytes `sniff_format` needs: a DICOM preamble is 128 bytes + "DICM".
SNIFF_BYTES = 132


class MediaError(Exception):
    """A file that cannot be used as an image; `reason` is shown to the person who uploaded it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DecodedImage:
    format: str  # one of SUPPORTED_FORMATS
    width: int  # as displayed (after EXIF orientation)
    height: int
    display: bytes  # 8-bit RGB, PNG or JPEG (see display_extension)
    display_extension: str  # "png" or "jpg"
    thumbnail: bytes  # JPEG, longest side settings.ANNOTATOR_THUMBNAIL_SIZE
    metadata: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable facts about the source


def sniff_format(head: bytes) -> str | None:
    """The container type from the first SNIFF_BYTES bytes: an image format, "ZIP", or None."""
    # DICOM first: its 128-byte preamble is free-form and often holds a TIFF header (dual-format files).
    if head[128:132] == b"DICM":
        return "DICOM"
    if _looks_like_raw_dicom(head):
        return "DICOM"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:2] == b"BM" and len(head) >= 26:
        return "BMP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    # Local file header, or the end-of-central-directory record of an empty archive.
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "ZIP"
    return None


# Value representations of DICOM PS3.5 table 6.2-1, for recognising an explicit-VR element header.
_DICOM_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
)


def _looks_like_raw_dicom(head: bytes) -> bool:
    """A DICOM data set written without the 128-byte preamble and "DICM" (PS3.10 allows neither to be
    missing, but older modalities and PACS exports write bare data sets): the head must parse as a
    little-endian element of group 0x0008 (Identifying, where every image data set starts) or of the
    file meta group 0x0002, with an explicit VR or a plausible implicit-VR length. pydicom confirms
    it when decoding (`force=True`); a wrong guess there is a clear "cannot be read" error."""
    if len(head) < 8 or head[:2] not in (b"\x08\x00", b"\x02\x00"):
        return False
    element = int.from_bytes(head[2:4], "little")
    if element > 0x00FF:
        return False  # a data set starts with a low-numbered element of its first group
    if head[4:6] in _DICOM_VRS:
        return True
    length = int.from_bytes(head[4:8], "little")
    return 0 < length < 1024  # implicit VR: a short value (a UID, a code string)


def original_extension(image_format: str) -> str:
    """File extension for storing an original of a sniffed format."""
    return {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "TIFF": "tif", "BMP": "bmp", "GIF": "gif", "DICOM": "dcm"}[
        image_format
    ]


def decode_image(
    data: bytes, *, name: str, frame: int = 0, window: tuple[float, float] | str | dict | None = None
) -> DecodedImage:
    """Validate and decode one image file; raise MediaError naming what is wrong with it.

    `frame` (0-based) picks a frame of a multi-frame DICOM file, whose metadata["frames"] gives the
    count; other formats only have frame 0 here (their first page or frame is the image).
    `window` replaces the file's window (and VOI LUT) for greyscale DICOM: (center, width), or a
    project's choice as `resolve_window` reads it (a preset name applies to its modality only);
    colour and palette images ignore it. metadata["window_source"] says which window was used:
    "requested", "file", "file-voi-lut" or "min-max".
    """
    if not data:
        raise MediaError("the file is empty")
    image_format = sniff_format(data[:SNIFF_BYTES])
    if image_format is None:
        raise MediaError(
            "not a supported image: the content is none of JPEG, PNG, WebP, TIFF, BMP, GIF or DICOM "
            "(the file name's extension is not trusted)"
        )
    if image_format == "ZIP":
        raise MediaError("a zip archive, not an image")
    if frame and image_format != "DICOM":
        raise MediaError(f"frame {frame} asked of a {image_format} image; only DICOM frames are decoded one by one")
    if image_format == "DICOM":
        return decode_dicom_frame(read_dicom(data), frame=frame, window=window)
    lossy = image_format == "JPEG" or (image_format == "WEBP" and not _webp_is_lossless(data))
    return _decoded(image_format, lambda: _decode_with_pillow(data, image_format), lossy=lossy)


def read_dicom(data: bytes) -> Any:
    """The parsed data set of a DICOM file (MediaError when it is none); decode its frames with
    `decode_dicom_frame`, so a multi-frame file is read and parsed once, not once per frame."""
    try:
        return _read_dicom(data)
    except MediaError:
        raise
    except MemoryError as exc:
        raise MediaError("the image is too large to decode") from exc
    except Exception as exc:
        raise MediaError(f"cannot decode the DICOM image, it is corrupt or truncated ({exc})") from exc


def decode_dicom_frame(
    ds: Any, *, frame: int = 0, window: tuple[float, float] | str | dict | None = None
) -> DecodedImage:
    """One frame of a data set from `read_dicom`, as `decode_image` gives it (same window rules)."""
    return _decoded("DICOM", lambda: _decode_dicom(ds, frame=frame, window=window), lossy=False)


def _decoded(image_format: str, decode: Any, *, lossy: bool) -> DecodedImage:
    """Run a decoder (-> RGB image, metadata); any failure becomes a MediaError; encode the renditions."""
    try:
        rgb, metadata = decode()
    except MediaError:
        raise
    except PILImage.DecompressionBombError as exc:
        raise MediaError(f"too many pixels (decompression-bomb guard): {exc}") from exc
    except PILImage.UnidentifiedImageError as exc:
        raise MediaError(f"looks like {image_format} but its header cannot be read (corrupt file)") from exc
    except MemoryError as exc:
        raise MediaError("the image is too large to decode") from exc
    except Exception as exc:
        raise MediaError(f"cannot decode the {image_format} image, it is corrupt or truncated ({exc})") from exc
    display, extension = _encode_display(rgb, lossy=lossy)
    return DecodedImage(
        format=image_format,
        width=rgb.width,
        height=rgb.height,
        display=display,
        display_extension=extension,
        thumbnail=_encode_thumbnail(rgb),
        metadata=metadata,
    )


def _check_pixel_count(width: int, height: int) -> None:
    """Refuse images over settings.ANNOTATOR_MAX_IMAGE_PIXELS before any pixel is decoded."""
    limit = settings.ANNOTATOR_MAX_IMAGE_PIXELS
    if width <= 0 or height <= 0:
        raise MediaError(f"invalid image size {width}x{height}")
    if width * height > limit:
        raise MediaError(
            f"too many pixels: {width}x{height} is over the limit of {limit:,} pixels (decompression-bomb guard)"
        )


def _decode_with_pillow(data: bytes, image_format: str) -> tuple[PILImage.Image, dict[str, Any]]:
    # Pillow's own guard reads a module global: set it from settings for this call and restore it
    # afterwards, so neither a changed setting nor other Pillow users are affected by a stale value.
    # _check_pixel_count checks again without any global state.
    previous_limit = PILImage.MAX_IMAGE_PIXELS
    PILImage.MAX_IMAGE_PIXELS = settings.ANNOTATOR_MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            return _open_and_convert(data, image_format)
    except PILImage.DecompressionBombWarning as exc:
        raise MediaError(f"too many pixels (decompression-bomb guard): {exc}") from exc
    finally:
        PILImage.MAX_IMAGE_PIXELS = previous_limit


def _open_and_convert(data: bytes, image_format: str) -> tuple[PILImage.Image, dict[str, Any]]:
    # formats=[...]: only the sniffed plugin may parse the bytes, so content decides the type.
    im = PILImage.open(io.BytesIO(data), formats=[image_format])
    _check_pixel_count(*im.size)
    metadata: dict[str, Any] = {"mode": im.mode, "stored_size": list(im.size)}
    # load() decodes every byte of the first frame: verify() alone misses truncated data.
    im.load()
    source = im
    orientation = im.getexif().get(0x0112, 1)
    if orientation in range(2, 9):
        metadata["exif_orientation"] = int(orientation)
        # Orientation first, on the source mode (transpose works for all of them): the stored
        # width/height are what a person sees.
        im = ImageOps.exif_transpose(im)
    rgb = _to_display_rgb(im, metadata)
    # Counted after the first frame was converted: counting seeks through the file.
    frames = getattr(source, "n_frames", 1)
    if frames > 1:
        # Animated GIF/WebP and multi-page TIFF: the first frame is the image.
        metadata["frames"] = int(frames)
    return rgb, metadata


def _to_display_rgb(im: PILImage.Image, metadata: dict[str, Any]) -> PILImage.Image:
    """Any Pillow mode -> opaque 8-bit RGB that looks right; records what was done in metadata."""
    mode = im.mode
    if mode == "P" or mode == "PA":
        # Palette images with a transparent index become RGBA first, then go the alpha route.
        im = im.convert("RGBA") if ("transparency" in im.info or mode == "PA") else im.convert("RGB")
        mode = im.mode
    if mode in ("RGBA", "LA", "La", "RGBa"):
        metadata["alpha_composited_on"] = "white"
        rgba = im.convert("RGBA")
        background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = PILImage.alpha_composite(background, rgba).convert("RGB")
    elif mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        rgb = _stretch_to_8bit(im, metadata).convert("RGB")
    elif mode in ("RGB", "CMYK") and im.info.get("icc_profile"):
        rgb = _icc_to_srgb(im, metadata)
    else:
        # 1, L, RGB, CMYK (Pillow undoes Adobe's inverted CMYK in JPEGs), YCbCr, LAB, HSV.
        rgb = im.convert("RGB")
    return rgb


def _stretch_to_8bit(im: PILImage.Image, metadata: dict[str, Any]) -> PILImage.Image:
    """Single-channel high-bit-depth pixels -> L, scaled from the actual min..max (module docstring)."""
    values = np.asarray(im, dtype=np.float64)
    finite = values[np.isfinite(values)]
    low = float(finite.min()) if finite.size else 0.0
    high = float(finite.max()) if finite.size else 0.0
    if high <= low:
        # A constant image: keep its level relative to the 16-bit range instead of dividing by zero.
        level = 0 if high <= 0 else min(255, round(high / 257))
        scaled = np.full(values.shape, level, dtype=np.uint8)
    else:
        scaled = np.clip((np.nan_to_num(values, nan=low) - low) * (255.0 / (high - low)) + 0.5, 0, 255)
        scaled = scaled.astype(np.uint8)
    metadata["intensity_scaling"] = {"method": "min-max", "low": low, "high": high}
    return PILImage.fromarray(scaled)


def _icc_to_srgb(im: PILImage.Image, metadata: dict[str, Any]) -> PILImage.Image:
    """Convert through the embedded colour profile (wide-gamut RGB, print CMYK) so colours look right."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
        converted = ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        # A broken profile is common in the wild; the plain conversion still gives a usable picture.
        return im.convert("RGB")
    metadata["icc_converted"] = True
    return converted


def _webp_is_lossless(data: bytes) -> bool:
    """True for VP8L (lossless) WebP; extended files (VP8X) are lossless when they hold a VP8L chunk."""
    chunk = data[12:16]
    if chunk == b"VP8L":
        return True
    return chunk == b"VP8X" and b"VP8L" in data[:4096] and b"VP8 " not in data[:4096]


def _encode_display(rgb: PILImage.Image, *, lossy: bool) -> tuple[bytes, str]:
    out = io.BytesIO()
    if lossy:
        rgb.save(out, format="JPEG", quality=_LOSSY_DISPLAY_QUALITY, optimize=True)
        return out.getvalue(), "jpg"
    # compress_level 6: the default trade-off; level 9 costs several times the CPU for ~2% less.
    rgb.save(out, format="PNG", compress_level=6)
    return out.getvalue(), "png"


def _encode_thumbnail(rgb: PILImage.Image) -> bytes:
    size = settings.ANNOTATOR_THUMBNAIL_SIZE
    thumb = rgb.copy()
    thumb.thumbnail((size, size), PILImage.Resampling.LANCZOS)
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=_THUMBNAIL_QUALITY)
    return out.getvalue()


def _decode_dicom(
    ds: Any, *, frame: int = 0, window: tuple[float, float] | str | dict | None = None
) -> tuple[PILImage.Image, dict[str, Any]]:
    """One frame of a parsed DICOM data set: modality LUT, window from the file (else min..max),
    MONOCHROME1 inverted."""
    from pydicom.pixels import apply_modality_lut, pixel_array

    if "PixelData" not in ds:
        raise MediaError("DICOM file without pixel data (not an image)")
    rows, columns = int(ds.Rows), int(ds.Columns)
    _check_pixel_count(columns, rows)
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    _check_dicom_pixel_data(ds, frames)
    if not 0 <= frame < frames:
        raise MediaError(f"frame {frame} does not exist: the DICOM file has {frames} frame(s)")
    # index= decodes only that frame, not a whole multi-frame series.
    pixels = pixel_array(ds, index=frame)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    metadata: dict[str, Any] = {
        "photometric": photometric,
        "frames": frames,
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
    }
    # No patient name, ID or birth date here: metadata reaches exports, logs and the browser.
    if pixels.ndim == 3:
        # Colour: pydicom already converted YBR to RGB; reduce to 8 bits by the stored bit depth.
        bits = int(ds.get("BitsStored", 8))
        rgb = pixels.astype(np.float64) * (255.0 / (2**bits - 1)) if bits > 8 else pixels
        return PILImage.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)), metadata
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        lut = apply_color_lut(pixels, ds).astype(np.float64)
        scale = 255.0 / 65535.0 if lut.max() > 255 else 1.0
        return PILImage.fromarray(np.clip(lut * scale, 0, 255).astype(np.uint8)), metadata
    # Enhanced multi-frame files keep rescale and window in functional groups, not at the top level.
    rescale = _functional_group_item(ds, frame, "PixelValueTransformationSequence")
    values = apply_modality_lut(pixels, rescale if rescale is not None else ds).astype(np.float64)
    voi = _functional_group_item(ds, frame, "FrameVOILUTSequence")
    file_center, file_width = _dicom_window(voi if voi is not None else ds)
    file_window = None if file_center is None or file_width is None or file_width < 1 else (file_center, file_width)
    metadata["file_window"] = {"center": file_center, "width": file_width} if file_window else None
    requested = resolve_window(window, metadata["modality"])
    voi_lut = ds.get("VOILUTSequence") if requested is None else None
    if requested is not None:
        (center, width), metadata["window_source"] = requested, "requested"
    elif voi_lut:
        # A non-linear VOI LUT (PS3.3 C.11.2) is the file's own rendering intent; it wins over a
        # WindowCenter/Width pair that may sit beside it (pydicom's prefer_lut).
        metadata["window_source"] = "file-voi-lut"
        metadata["window"] = metadata["file_window"]
        scaled = _apply_voi_lut_8bit(values, ds)
        return _greyscale_rgb(scaled, photometric), metadata
    elif file_window is not None:
        (center, width), metadata["window_source"] = file_window, "file"
    else:
        # min..max as a DICOM window: width max-min+1 maps min to 0 and max to 255 exactly.
        low, high = float(values.min()), float(values.max())
        width = high - low + 1.0
        center = low + width / 2
        metadata["window_source"] = "min-max"
    metadata["window"] = {"center": center, "width": width}
    return _greyscale_rgb(apply_window(values, center=center, width=width), photometric), metadata


def _greyscale_rgb(scaled: np.ndarray, photometric: str) -> PILImage.Image:
    if photometric == "MONOCHROME1":
        scaled = 255 - scaled  # MONOCHROME1: low values are white
    return PILImage.fromarray(scaled).convert("RGB")


def _apply_voi_lut_8bit(values: np.ndarray, ds: Any) -> np.ndarray:
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


# Common CT windows (center, width) in Hounsfield units, as radiology viewers offer them. Other
# modalities have no fixed units (MR intensities are arbitrary), so they have no presets.
CT_WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "soft tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}


def window_presets(modality: str) -> dict[str, tuple[float, float]]:
    """Named windows for a DICOM modality (CT only); empty where units carry no fixed meaning."""
    return dict(CT_WINDOW_PRESETS) if modality.upper() == "CT" else {}


# A project's window choice (Project.dicom_window) names a preset as "<modality>-<name>" ("ct-lung").
WINDOW_PRESETS: dict[str, tuple[str, tuple[float, float]]] = {
    f"ct-{name.replace(' ', '-')}": ("CT", window) for name, window in CT_WINDOW_PRESETS.items()
}
# Widths beyond this are not a window but a typo (a 32-bit range is 4.3e9).
_MAX_WINDOW_WIDTH = 1e10


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
    """Modality values -> uint8 by the DICOM linear VOI function (PS3.3 C.11.2.1.2), rounded.

    Values at or below center - 0.5 - (width - 1) / 2 are 0, above center - 0.5 + (width - 1) / 2 are 255.
    """
    values = np.asarray(values, dtype=np.float64)
    if width <= 1:
        # A one-value window is a threshold (the formula would divide by zero).
        return np.where(values > center - 0.5, 255, 0).astype(np.uint8)
    scaled = ((values - (center - 0.5)) / (width - 1.0) + 0.5) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


class _RedactValues(logging.Filter):
    """pydicom logs invalid values verbatim ("Invalid value for VR DA: '19700402'"), and such a value
    may be a patient's name, ID or birth date: every quoted fragment of its records is redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "'" in message or '"' in message:
            record.msg, record.args = _QUOTED.sub("'<redacted>'", message), ()
        return True


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_REDACTOR = _RedactValues()


def redact_pydicom_logs() -> None:
    """Install the redacting filter on pydicom's logger (idempotent; called before reading a file)."""
    pydicom_logger = logging.getLogger("pydicom")
    if _REDACTOR not in pydicom_logger.filters:
        pydicom_logger.addFilter(_REDACTOR)


def _read_dicom(data: bytes) -> Any:
    """Parse a file whose sniffed DICM marker (or raw data set head) may be a lie: a real DICOM file
    has a transfer syntax and an SOP class; anything else is refused before its "elements" are used.

    A raw data set (no preamble, no file meta) is read with `force=True`; pydicom finds its encoding
    from the first element, which becomes its transfer syntax (implicit or explicit VR little endian,
    the only encodings a data set without file meta can have: PS3.5 A.1)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    redact_pydicom_logs()
    raw = data[128:132] != b"DICM"
    claim = "looks like a raw DICOM data set" if raw else "claims to be DICOM (DICM marker)"
    try:
        with warnings.catch_warnings():
            # Garbage after a DICM marker makes pydicom warn for every made-up element it reads.
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(data), force=raw)
            if raw:
                _add_raw_file_meta(ds)
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, OverflowError) as exc:
        raise MediaError(f"{claim} but its data set cannot be read ({exc})") from exc
    transfer_syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if not transfer_syntax or "SOPClassUID" not in ds:
        raise MediaError(f"{claim} but is not: no transfer syntax or SOP class in it")
    return ds


def read_stored_dicom_header(stream: Any) -> Any:
    """The data set of a DICOM original that ingest accepted, without its pixels (for exports).

    Raw data sets (no preamble) were accepted by content at upload, so they are read with force=True
    and given the file meta a Part 10 reader expects, as _read_dicom does for the upload."""
    import pydicom

    redact_pydicom_logs()
    head = stream.read(132)
    stream.seek(0)
    raw = head[128:132] != b"DICM"
    ds = pydicom.dcmread(stream, stop_before_pixels=True, force=raw)
    if raw:
        _add_raw_file_meta(ds)
    return ds


def _add_raw_file_meta(ds: Any) -> None:
    """Give a raw data set (no file meta) the transfer syntax pydicom detected from its first element
    (implicit or explicit VR little endian: the only encodings such a data set can have, PS3.5 A.1)."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    ds.ensure_file_meta()
    if not getattr(ds.file_meta, "TransferSyntaxUID", None):
        implicit = ds.original_encoding[0] if ds.original_encoding[0] is not None else True
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian


def _check_dicom_pixel_data(ds: Any, frames: int) -> None:
    """Refuse, with a precise reason, pixel data that no installed decoder reads or that is cut short."""
    from pydicom.pixels import get_decoder
    from pydicom.pixels.utils import get_expected_length

    uid = ds.file_meta.TransferSyntaxUID
    try:
        decoder = get_decoder(uid)
    except NotImplementedError as exc:
        raise MediaError(f"unsupported DICOM transfer syntax {uid.name} ({uid}): no decoder exists for it") from exc
    if not decoder.is_available:
        raise MediaError(f"unsupported DICOM transfer syntax {uid.name} ({uid}): its decoder plugin is not installed")
    if uid.is_compressed:
        return  # the decoder itself reports damaged compressed frames
    # pydicom's own count knows the layouts (YBR_FULL_422 subsampling, 1-bit packing, frames).
    expected = get_expected_length(ds, unit="bytes")
    actual = len(ds.PixelData)
    if actual < expected:
        raise MediaError(
            f"truncated DICOM pixel data: {actual:,} bytes where {frames} frame(s) of "
            f"{ds.Columns}x{ds.Rows} need {expected:,}"
        )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _functional_group_item(ds: Any, frame: int, sequence: str) -> Any | None:
    """The frame's item of a functional group macro (per-frame first, then shared), or None."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and frame < len(per_frame) and per_frame[frame].get(sequence):
        return per_frame[frame].get(sequence)[0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and shared[0].get(sequence):
        return shared[0].get(sequence)[0]
    return None


def _dicom_window(ds: Any) -> tuple[float | None, float | None]:
    """The first window in the file (WindowCenter/WindowWidth may be multi-valued)."""
    from pydicom.multival import MultiValue

    def first(value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, MultiValue):
            value = value[0] if len(value) else None
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    return first(ds.get("WindowCenter")), first(ds.get("WindowWidth"))
