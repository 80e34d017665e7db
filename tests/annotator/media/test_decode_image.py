"""decode_image: every supported format, colour modes, orientation, limits and bad files (no database)."""

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from annotator.media import MediaError, decode_image, sniff_format
from tests.annotator import media_samples as samples

DICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def pixels(data: bytes) -> np.ndarray:
    im = Image.open(io.BytesIO(data))
    assert im.mode == "RGB"
    return np.asarray(im)


@pytest.mark.parametrize(
    ("maker", "image_format", "display_extension"),
    [
        (samples.jpeg, "JPEG", "jpg"),
        (samples.png, "PNG", "png"),
        (lambda: samples.webp(lossless=False), "WEBP", "jpg"),
        (lambda: samples.webp(lossless=True), "WEBP", "png"),
        (samples.tiff, "TIFF", "png"),
        (samples.bmp, "BMP", "png"),
    ],
)
def test_formats_decode_with_size_and_rendition_kind(maker, image_format, display_extension):
    decoded = decode_image(maker(), name="x")
    assert (decoded.format, decoded.width, decoded.height) == (image_format, 64, 48)
    assert decoded.display_extension == display_extension
    display = pixels(decoded.display)
    assert display.shape == (48, 64, 3)
    # The gradient survives: red rises left to right, green top to bottom (lossy codecs: loosely).
    assert display[24, 0, 0] < 20 and display[24, 63, 0] > 235
    assert display[0, 32, 1] < 20 and display[47, 32, 1] > 235


def test_lossless_webp_pixels_are_exact():
    decoded = decode_image(samples.webp(lossless=True), name="x")
    assert np.array_equal(pixels(decoded.display), np.asarray(samples.rgb_image()))


def test_thumbnail_is_jpeg_with_longest_side_from_settings(settings):
    settings.ANNOTATOR_THUMBNAIL_SIZE = 32
    decoded = decode_image(samples.png(200, 100), name="x")
    thumb = Image.open(io.BytesIO(decoded.thumbnail))
    assert thumb.format == "JPEG" and thumb.size == (32, 16)


def test_exif_rotated_jpeg_reports_the_size_a_person_sees():
    decoded = decode_image(samples.jpeg_exif_rotated(80, 40, orientation=6), name="x")
    assert (decoded.width, decoded.height) == (40, 80)
    assert decoded.metadata["exif_orientation"] == 6
    display = pixels(decoded.display)
    assert display.shape == (80, 40, 3)
    # Orientation 6 = rotate 90° clockwise to view: the stored left column (red 0) becomes the top row.
    assert display[0, :, 0].max() < 30 and display[-1, :, 0].min() > 225


def test_exif_orientation_8_rotates_the_other_way():
    display = pixels(decode_image(samples.jpeg_exif_rotated(80, 40, orientation=8), name="x").display)
    assert display.shape == (80, 40, 3)
    assert display[0, :, 0].min() > 225 and display[-1, :, 0].max() < 30


def test_gif_uses_the_first_frame():
    decoded = decode_image(samples.gif_two_frames(), name="x")
    assert decoded.format == "GIF" and (decoded.width, decoded.height) == (40, 30)
    assert decoded.metadata["frames"] == 2
    assert tuple(pixels(decoded.display)[5, 5]) == (255, 0, 0)


def test_multipage_tiff_uses_the_first_page():
    decoded = decode_image(samples.tiff(pages=3), name="x")
    assert decoded.metadata["frames"] == 3
    assert np.array_equal(pixels(decoded.display), np.asarray(samples.rgb_image()))


def test_16bit_grayscale_is_stretched_from_its_actual_range():
    decoded = decode_image(samples.png_16bit_gray(low=1000, high=4000, width=32), name="x")
    row = pixels(decoded.display)[0, :, 0]
    assert row[0] == 0 and row[-1] == 255
    assert abs(int(row[16]) - round(255 * (16 / 31))) <= 1  # linear in between
    assert decoded.metadata["intensity_scaling"] == {"method": "min-max", "low": 1000.0, "high": 4000.0}


def test_constant_16bit_image_does_not_divide_by_zero():
    decoded = decode_image(samples.png_16bit_gray(low=25700, high=25700), name="x")
    assert set(pixels(decoded.display).ravel()) == {100}  # 25700 / 257


def test_16bit_colour_png_is_reduced_by_the_full_range():
    display = pixels(decode_image(samples.png_16bit_rgb(), name="x").display)
    assert tuple(display[0, 0]) == (0, 128, 255)


def test_grayscale_and_1bit_become_rgb():
    assert tuple(pixels(decode_image(samples.png_gray(value=77), name="x").display)[0, 0]) == (77, 77, 77)
    one_bit = pixels(decode_image(samples.png_1bit(), name="x").display)
    assert tuple(one_bit[0, 0]) == (255, 255, 255) and tuple(one_bit[0, -1]) == (0, 0, 0)


def test_palette_transparency_is_composited_on_white():
    decoded = decode_image(samples.png_palette_transparent(), name="x")
    display = pixels(decoded.display)
    assert tuple(display[0, 0]) == (255, 255, 255) and tuple(display[0, -1]) == (0, 255, 0)
    assert decoded.metadata["alpha_composited_on"] == "white"


def test_rgba_and_la_are_composited_on_white():
    display = pixels(decode_image(samples.png_rgba_half_transparent(), name="x").display)
    assert tuple(display[5, 0]) == (0, 0, 255)  # opaque stays
    assert tuple(display[5, -1]) == (255, 255, 255)  # transparent shows white
    assert tuple(int(v) for v in display[0, 0]) in {(255, 127, 127), (255, 128, 128)}  # half red on white
    assert set(pixels(decode_image(samples.png_la(), name="x").display).ravel()) == {255}


@pytest.mark.parametrize(
    ("maker", "expected"), [(samples.jpeg_cmyk, (0, 255, 255)), (samples.tiff_cmyk, (255, 0, 255))]
)
def test_cmyk_becomes_rgb(maker, expected):
    decoded = decode_image(maker(), name="x")
    assert decoded.metadata["mode"] == "CMYK"
    assert np.abs(pixels(decoded.display)[4, 4].astype(int) - expected).max() <= 3


def test_decompression_bomb_is_refused_by_the_pixel_limit(settings):
    settings.ANNOTATOR_MAX_IMAGE_PIXELS = 1_000_000
    data = samples.png_bomb(4000, 4000)  # 16 Mpx in a few kilobytes, 16x the limit
    assert len(data) < 10_000
    with pytest.raises(MediaError, match="too many pixels"):
        decode_image(data, name="bomb.png")


def test_image_just_over_the_limit_is_refused_and_at_the_limit_accepted(settings):
    settings.ANNOTATOR_MAX_IMAGE_PIXELS = 100 * 100
    assert decode_image(samples.png(100, 100), name="x").width == 100
    with pytest.raises(MediaError, match="too many pixels"):
        decode_image(samples.png(101, 100), name="x")


def test_truncated_jpeg_is_refused():
    with pytest.raises(MediaError, match="corrupt or truncated"):
        decode_image(samples.truncated_jpeg(), name="cut.jpg")


def test_text_file_named_png_is_refused_by_content():
    with pytest.raises(MediaError, match="not a supported image"):
        decode_image(samples.text_named_png(), name="notes.png")


def test_empty_file_is_refused():
    with pytest.raises(MediaError, match="empty"):
        decode_image(b"", name="empty.png")


def test_unknown_binary_type_is_refused():
    with pytest.raises(MediaError, match="not a supported image"):
        decode_image(b"\x00\x01\x02\x03" * 100, name="blob.jpg")


def test_png_signature_with_garbage_after_it_is_refused():
    with pytest.raises(MediaError, match="PNG"):
        decode_image(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, name="x.png")


def test_zip_given_to_decode_image_is_refused():
    with pytest.raises(MediaError, match="zip"):
        decode_image(samples.zip_archive({"a.png": samples.png()}), name="x.png")


def test_jpeg_content_named_png_decodes_as_jpeg():
    assert decode_image(samples.jpeg(), name="misnamed.png").format == "JPEG"


def test_sniff_format_by_content():
    assert sniff_format(samples.jpeg()[:132]) == "JPEG"
    assert sniff_format(samples.png()[:132]) == "PNG"
    assert sniff_format(samples.webp()[:132]) == "WEBP"
    assert sniff_format(samples.tiff()[:132]) == "TIFF"
    assert sniff_format(samples.bmp()[:132]) == "BMP"
    assert sniff_format(samples.gif_two_frames()[:132]) == "GIF"
    assert sniff_format(samples.zip_archive({"a": b"x"})[:132]) == "ZIP"
    assert sniff_format(samples.text_named_png()[:132]) is None
    assert sniff_format(b"") is None


def test_dicom_with_a_tiff_preamble_is_sniffed_as_dicom():
    data = (DICOM_FILES / "CT_small.dcm").read_bytes()
    assert data[:4] == b"II*\x00"  # a dual-format preamble
    assert sniff_format(data[:132]) == "DICOM"


def test_dicom_monochrome2_uses_the_window_from_the_file():
    decoded = decode_image((DICOM_FILES / "MR_small.dcm").read_bytes(), name="mr.dcm")
    assert (decoded.format, decoded.width, decoded.height) == ("DICOM", 64, 64)
    assert decoded.display_extension == "png"
    assert decoded.metadata["window"] == {"center": 600.0, "width": 1600.0}
    assert decoded.metadata["window_source"] == "file"
    assert decoded.metadata["sop_instance_uid"]


def test_dicom_without_window_uses_min_max_and_multiframe_takes_frame_0():
    decoded = decode_image((DICOM_FILES / "rtdose.dcm").read_bytes(), name="dose.dcm")
    assert decoded.metadata["window_source"] == "min-max" and decoded.metadata["frames"] == 15
    display = pixels(decoded.display)
    assert display.min() == 0 and display.max() == 255


def test_dicom_monochrome1_is_inverted():
    path = next((DICOM_FILES / "dicomdirtests" / "77654033" / "CR1").iterdir())
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    display = pixels(decode_image(path.read_bytes(), name="cr.dcm").display)[:, :, 0].astype(int)
    raw = ds.pixel_array.astype(float)
    # Brightest stored value must be the darkest displayed pixel.
    assert display[np.unravel_index(raw.argmax(), raw.shape)] == display.min()
    assert display[np.unravel_index(raw.argmin(), raw.shape)] == display.max()


def test_dicom_without_pixel_data_and_truncated_dicom_are_refused():
    with pytest.raises(MediaError, match="without pixel data"):
        decode_image((DICOM_FILES / "rtplan.dcm").read_bytes(), name="plan.dcm")
    with pytest.raises(MediaError, match="DICOM"):
        decode_image((DICOM_FILES / "MR_truncated.dcm").read_bytes(), name="cut.dcm")


def test_pillow_global_limit_is_restored_after_each_call(settings):
    before = Image.MAX_IMAGE_PIXELS
    settings.ANNOTATOR_MAX_IMAGE_PIXELS = 10
    with pytest.raises(MediaError):
        decode_image(samples.png(), name="x")
    assert before == Image.MAX_IMAGE_PIXELS


def test_embedded_icc_profile_is_converted_to_srgb():
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = io.BytesIO()
    samples.rgb_image().save(data, format="PNG", icc_profile=profile)
    decoded = decode_image(data.getvalue(), name="x")
    assert decoded.metadata["icc_converted"] is True
    # sRGB -> sRGB keeps the colours (within the colour engine's rounding).
    assert np.abs(pixels(decoded.display).astype(int) - np.asarray(samples.rgb_image()).astype(int)).max() <= 2


def test_broken_icc_profile_falls_back_to_plain_conversion():
    data = io.BytesIO()
    samples.rgb_image().save(data, format="PNG", icc_profile=b"not a profile")
    decoded = decode_image(data.getvalue(), name="x")
    assert "icc_converted" not in decoded.metadata
    assert np.array_equal(pixels(decoded.display), np.asarray(samples.rgb_image()))
