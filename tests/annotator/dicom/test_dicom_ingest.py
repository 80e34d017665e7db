"""DICOM ingest on real files shipped with pydicom and on generated ones: every transfer syntax a
radiology user meets, photometric interpretations, rescale and windowing, and multi-frame files as
one Image row per frame sharing one stored original."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from annotator.models import Image
from annotator.services.images import image_delete
from tests.annotator.dicom.samples import dataset_bytes, generated_ct, ingest, shipped_path
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def display_pixels(image: Image) -> np.ndarray:
    with default_storage.open(image.display.name, "rb") as handle:
        return np.asarray(PILImage.open(io.BytesIO(handle.read())).convert("RGB"))


def ingest_one(project, name: str, data: bytes) -> Image:
    report = ingest(project, (name, data))
    assert report.rejected == []
    assert len(report.accepted) == 1
    return report.accepted[0]


LOSSLESS_MR_VARIANTS = [
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_implicit.dcm",
]


def test_lossless_transfer_syntaxes_give_the_same_pixels_as_the_uncompressed_file():
    project = make_project()
    reference = ingest_one(project, "MR_small.dcm", shipped_path("MR_small.dcm").read_bytes())
    expected = display_pixels(reference)
    assert expected.std() > 10  # a real picture, not a flat field
    for name in LOSSLESS_MR_VARIANTS:
        # One project each: the variants are the same instance (SOP Instance UID), one image per project.
        image = ingest_one(make_project(), name, shipped_path(name).read_bytes())
        assert (image.width, image.height, image.format) == (64, 64, "DICOM")
        assert image.metadata["transfer_syntax"] == str(pydicom.dcmread(shipped_path(name)).file_meta.TransferSyntaxUID)
        assert np.array_equal(display_pixels(image), expected), name


def test_ct_keeps_uids_and_key_tags_but_no_patient_data():
    image = ingest_one(make_project(), "ct", shipped_path("CT_small.dcm").read_bytes())
    source = pydicom.dcmread(shipped_path("CT_small.dcm"))
    meta = image.metadata
    assert (meta["study_uid"], meta["series_uid"], meta["sop_instance_uid"]) == (
        source.StudyInstanceUID,
        source.SeriesInstanceUID,
        source.SOPInstanceUID,
    )
    assert meta["frame_of_reference_uid"] == source.FrameOfReferenceUID
    assert (meta["modality"], meta["frames"], meta["frame"], meta["signed"]) == ("CT", 1, 0, True)
    assert meta["window_source"] == ("file" if "WindowCenter" in source else "min-max")  # CT_small has no window
    assert str(source.PatientName) not in str(meta) and source.PatientID not in str(meta)
    with default_storage.open(image.file.name, "rb") as handle:
        assert handle.read() == shipped_path("CT_small.dcm").read_bytes()  # the original, untouched


def test_generated_signed_ct_applies_rescale_then_the_window():
    # Columns of known Hounsfield units; window 40/400 spans -160..240 HU onto 0..255.
    hounsfield = np.tile(np.array([-1000, -160, 40, 240, 1000, -60], dtype=np.int32), (4, 1))
    data = generated_ct(hounsfield)
    assert (pydicom.dcmread(io.BytesIO(data)).pixel_array < 0).any()  # really signed stored values
    image = ingest_one(make_project(), "ct-generated.dcm", data)
    row = display_pixels(image)[0, :, 0]
    # DICOM linear VOI: ((x - 39.5) / 399 + 0.5) * 255, rounded; -160 and 240 are the window edges.
    assert row.tolist() == [0, 0, 128, 255, 255, 64]
    assert image.metadata["window"] == {"center": 40.0, "width": 400.0}


def test_monochrome1_is_the_inverse_of_the_same_pixels_as_monochrome2():
    project = make_project()
    mr = pydicom.dcmread(shipped_path("MR_small.dcm"))
    normal = ingest_one(project, "mono2.dcm", dataset_bytes(mr))
    mr.PhotometricInterpretation = "MONOCHROME1"
    mr.SOPInstanceUID = pydicom.uid.generate_uid()
    inverted = ingest_one(project, "mono1.dcm", dataset_bytes(mr))
    assert inverted.metadata["photometric"] == "MONOCHROME1"
    assert np.array_equal(display_pixels(inverted), 255 - display_pixels(normal))


def test_shipped_monochrome1_computed_radiograph_ingests():
    path = shipped_path("dicomdirtests/77654033/CR1/6154")
    image = ingest_one(make_project(), "cr", path.read_bytes())
    assert image.metadata["photometric"] == "MONOCHROME1"
    display = display_pixels(image)[:, :, 0].astype(int)
    raw = pydicom.dcmread(path).pixel_array
    assert display.std() > 5  # the file's own (narrow) window: low contrast, but a picture
    assert display[np.unravel_index(raw.argmax(), raw.shape)] < display[np.unravel_index(raw.argmin(), raw.shape)]


@pytest.mark.parametrize(
    "name",
    ["examples_palette.dcm", "examples_rgb_color.dcm", "examples_jpeg2k.dcm", "SC_ybr_full_422_uncompressed.dcm"],
)
def test_colour_files_keep_their_colour(name):
    image = ingest_one(make_project(), name, shipped_path(name).read_bytes())
    pixels = display_pixels(image).astype(int)
    source = pydicom.dcmread(shipped_path(name))
    assert (image.height, image.width) == (source.Rows, source.Columns)
    # Colour survived: red, green and blue differ somewhere by a clear margin.
    assert np.abs(pixels[..., 0] - pixels[..., 1]).max() > 40 or np.abs(pixels[..., 1] - pixels[..., 2]).max() > 40


def test_multi_frame_ultrasound_becomes_one_image_per_frame_sharing_one_original():
    project = make_project()
    data = shipped_path("examples_ybr_color.dcm").read_bytes()
    report = ingest(project, ("us.dcm", data))
    assert report.rejected == []
    frames = report.accepted
    assert len(frames) == 30
    assert [image.metadata["frame"] for image in frames] == list(range(30))
    assert len({image.file.name for image in frames}) == 1  # stored once
    assert len({image.sha256 for image in frames}) == 30
    file_hashes = {image.metadata["file_sha256"] for image in frames}
    assert len(file_hashes) == 1 and next(iter(file_hashes)) not in {image.sha256 for image in frames}
    assert len({image.metadata["sop_instance_uid"] for image in frames}) == 1
    first, last = display_pixels(frames[0]), display_pixels(frames[-1])
    assert first.shape == (240, 320, 3) and not np.array_equal(first, last)  # frames really differ

    again = ingest(project, ("us-again.dcm", data))
    assert again.accepted == [] and again.rejected[0][1].startswith("duplicate of us.dcm")

    # Deleting one frame keeps the shared original for the others.
    image_delete(image=frames[0])
    assert default_storage.exists(frames[1].file.name)
    assert Image.objects.filter(project=project).count() == 29


def test_multi_frame_file_with_a_bad_late_frame_stores_nothing():
    dose = pydicom.dcmread(shipped_path("rtdose.dcm"))
    dose.PixelData = dose.PixelData[: len(dose.PixelData) - 50]  # the last frame is cut short
    report = ingest(make_project(), ("dose.dcm", dataset_bytes(dose)))
    assert report.accepted == []
    assert report.rejected[0][1].startswith("truncated DICOM pixel data")
    assert Image.objects.count() == 0


def test_generated_five_slice_series_ingests_as_five_images_of_one_series():
    series = pydicom.uid.generate_uid()
    slices = [
        generated_ct(np.full((8, 8), 2 * k, dtype=np.int32), series_uid=series, instance_number=k + 1) for k in range(5)
    ]
    report = ingest(make_project(), *[(f"slice{k + 1}.dcm", data) for k, data in enumerate(slices)])
    assert report.rejected == []
    assert [image.metadata["instance_number"] for image in report.accepted] == [1, 2, 3, 4, 5]
    assert {image.metadata["series_uid"] for image in report.accepted} == {series}


def test_enhanced_multi_frame_ct_frames_render_like_the_slices_they_came_from():
    from tests.annotator.dicom.samples import enhanced_ct

    project = make_project()
    series = pydicom.uid.generate_uid()
    ramp = np.arange(-200, 300, 4, dtype=np.int32)[:120].reshape(10, 12)  # even HU across the window
    slices = [generated_ct(ramp + 40 * k, series_uid=series, instance_number=k + 1) for k in range(3)]
    singles = ingest(project, *[(f"slice{k}.dcm", data) for k, data in enumerate(slices)]).accepted
    data = enhanced_ct(slices)
    frames = ingest(project, ("enhanced.dcm", data)).accepted
    assert len(frames) == 3
    # highdicom orders the frames by position; slice k lies at z = k + 1.
    positions = [
        float(item.PlanePositionSequence[0].ImagePositionPatient[2])
        for item in pydicom.dcmread(io.BytesIO(data)).PerFrameFunctionalGroupsSequence
    ]
    assert sorted(positions) == [1.0, 2.0, 3.0]
    for frame, z in zip(frames, positions):
        single = singles[int(z) - 1]
        # Rescale (slope 2, intercept -24) and window 40/400 come from the functional groups here.
        assert frame.metadata["window"] == {"center": 40.0, "width": 400.0}
        assert np.array_equal(display_pixels(frame), display_pixels(single))
