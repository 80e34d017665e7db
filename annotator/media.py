"""Untrusted image bytes -> validated, display-ready pixels. Pure functions: no ORM, no storage, no torch.

`decode_image` is the one entry point. It decides the type from the content (never the file name),
dispatches to one decoder per family (Pillow here for photos and graphics; DICOM files go to the
`annotator.dicom` package, whose pixels are encoded here like any other), and returns
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
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from PIL import Image as PILImage
from PIL import ImageCms, ImageOps

from annotator.dicom.errors import DicomError
from annotator.dicom.parse import looks_like_dicom
from annotator.dicom.parse import read_dicom as read_dicom_data_set
from annotator.dicom.render import render_frame

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
    if looks_like_dicom(head):
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
    project's choice as `annotator.dicom.window.resolve_window` reads it (a preset name applies to its
    modality only);
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
        return read_dicom_data_set(data)
    except DicomError as exc:
        raise MediaError(exc.reason) from exc


def decode_dicom_frame(
    ds: Any, *, frame: int = 0, window: tuple[float, float] | str | dict | None = None
) -> DecodedImage:
    """One frame of a data set from `read_dicom`, as `decode_image` gives it (same window rules)."""
    return _decoded("DICOM", lambda: _render_dicom(ds, frame=frame, window=window), lossy=False)


def _render_dicom(
    ds: Any, *, frame: int, window: tuple[float, float] | str | dict | None
) -> tuple[PILImage.Image, dict]:
    pixels, metadata = render_frame(ds, frame=frame, window=window, max_pixels=settings.ANNOTATOR_MAX_IMAGE_PIXELS)
    return PILImage.fromarray(pixels).convert("RGB"), metadata


def _decoded(image_format: str, decode: Any, *, lossy: bool) -> DecodedImage:
    """Run a decoder (-> RGB image, metadata); any failure becomes a MediaError; encode the renditions."""
    try:
        rgb, metadata = decode()
    except MediaError:
        raise
    except DicomError as exc:
        raise MediaError(exc.reason) from exc
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
    im: PILImage.Image = PILImage.open(io.BytesIO(data), formats=[image_format])
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
