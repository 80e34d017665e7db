"""Test images and archives made in code (Pillow/numpy), so no binary fixture is committed.

Each maker returns the bytes of one file; images carry a gradient or distinct colours so tests can
check that pixels survive decoding (not only that something decodes).
"""

from __future__ import annotations

import io
import stat
import zipfile

import numpy as np
from PIL import Image


def _save(im: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    im.save(out, format=fmt, **params)
    return out.getvalue()


def rgb_image(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    """A smooth gradient (compresses predictably) with a seed-dependent colour, so seeds differ."""
    ys, xs = np.mgrid[0:height, 0:width]
    array = np.stack(
        [(xs * 255 // max(width - 1, 1)), (ys * 255 // max(height - 1, 1)), np.full_like(xs, (seed * 37) % 256)],
        axis=-1,
    ).astype(np.uint8)
    return Image.fromarray(array)


def jpeg(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    return _save(rgb_image(width, height, seed), "JPEG", quality=95)


def png(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    return _save(rgb_image(width, height, seed), "PNG")


def webp(width: int = 64, height: int = 48, *, lossless: bool = False) -> bytes:
    return _save(rgb_image(width, height), "WEBP", lossless=lossless, quality=90)


def tiff(width: int = 64, height: int = 48, pages: int = 1) -> bytes:
    first = rgb_image(width, height)
    rest = [rgb_image(width, height, seed=i + 1) for i in range(pages - 1)]
    return _save(first, "TIFF", save_all=pages > 1, append_images=rest)


def bmp(width: int = 64, height: int = 48) -> bytes:
    return _save(rgb_image(width, height), "BMP")


def gif_two_frames(width: int = 40, height: int = 30) -> bytes:
    """First frame pure red, second pure blue: decoding must give the red one."""
    red = Image.new("RGB", (width, height), (255, 0, 0)).convert("P")
    blue = Image.new("RGB", (width, height), (0, 0, 255)).convert("P")
    return _save(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)


def jpeg_exif_rotated(width: int = 80, height: int = 40, orientation: int = 6) -> bytes:
    """Pixels stored width x height; orientation 6 or 8 means a person sees height x width."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(rgb_image(width, height), "JPEG", quality=95, exif=exif.tobytes())


def png_16bit_gray(low: int = 1000, high: int = 4000, width: int = 32, height: int = 8) -> bytes:
    """A horizontal ramp from low to high in a 16-bit container (like a 12-bit sensor)."""
    ramp = np.linspace(low, high, width).round().astype(np.uint16)
    array = np.tile(ramp, (height, 1))
    return _save(Image.fromarray(array), "PNG")


def png_16bit_rgb(width: int = 16, height: int = 8) -> bytes:
    """48-bit colour PNG with channel values 0, 32896 (=128*257) and 65535, written by hand via zlib
    because Pillow cannot write 16-bit-per-channel colour PNGs."""
    import struct
    import zlib

    pixel = struct.pack(">HHH", 0, 32896, 65535)
    raw = b"".join(b"\x00" + pixel * width for _ in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def png_gray(width: int = 32, height: int = 16, value: int = 77) -> bytes:
    return _save(Image.new("L", (width, height), value), "PNG")


def png_1bit(width: int = 16, height: int = 16) -> bytes:
    im = Image.new("1", (width, height), 0)
    im.paste(1, (0, 0, width // 2, height))  # left half white
    return _save(im, "PNG")


def png_palette_transparent(width: int = 16, height: int = 16) -> bytes:
    """Palette image: index 0 transparent (left half), index 1 pure green (right half)."""
    im = Image.new("P", (width, height), 0)
    im.putpalette([0, 0, 0, 0, 255, 0] + [0, 0, 0] * 254)
    im.paste(1, (width // 2, 0, width, height))
    return _save(im, "PNG", transparency=0)


def png_rgba_half_transparent(width: int = 16, height: int = 16) -> bytes:
    """Opaque blue left half, fully transparent right half, 50% red in the top-left pixel."""
    array = np.zeros((height, width, 4), dtype=np.uint8)
    array[:, : width // 2] = (0, 0, 255, 255)
    array[0, 0] = (255, 0, 0, 128)
    return _save(Image.fromarray(array), "PNG")


def png_la(width: int = 16, height: int = 16) -> bytes:
    return _save(Image.new("LA", (width, height), (0, 0)), "PNG")  # black, fully transparent


def jpeg_cmyk(width: int = 32, height: int = 16) -> bytes:
    """Pure cyan in CMYK (100% C): shows as (0, 255, 255)-ish RGB."""
    return _save(Image.new("CMYK", (width, height), (255, 0, 0, 0)), "JPEG", quality=95)


def tiff_cmyk(width: int = 32, height: int = 16) -> bytes:
    return _save(Image.new("CMYK", (width, height), (0, 255, 0, 0)), "TIFF")  # magenta


def png_bomb(width: int = 4000, height: int = 4000) -> bytes:
    """A tiny file that declares many pixels (a 1-bit image compresses to almost nothing)."""
    return _save(Image.new("1", (width, height), 0), "PNG")


def truncated_jpeg() -> bytes:
    data = jpeg(256, 256)
    return data[: len(data) // 2]


def text_named_png() -> bytes:
    return b"This is a text file, whatever its name says.\n" * 10


def zip_archive(members: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    """A zip with the given members written verbatim (names are not sanitised: tests need ../x)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED  # a ZipInfo ignores the archive's default
            archive.writestr(info, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3  # Unix, so external_attr carries the file type
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return out.getvalue()
