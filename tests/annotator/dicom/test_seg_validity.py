"""Issue 14 item 1: a SEG is offered only when it is valid. Sources without a frame of reference
(CR, US) get one; a missing Slice Thickness is derived or the series is refused with its reason;
mixed matrix sizes give one SEG per size; person names in highdicom's warnings never reach a log.
dciodvfy runs on every SEG written here (0 errors)."""

from __future__ import annotations

import io
import logging

import numpy as np
import pydicom
import pytest

from annotator.dicom import seg as dicom_seg
from annotator.dicom.seg_check import ExpectedFrame, seg_problems
from tests.annotator.dicom.samples import dataset_bytes, generated_ct, ingest, shipped_path
from tests.annotator.dicom.seg_helpers import (
    annotate,
    dciodvfy_errors,
    export_zip,
    read_seg,
    seg_members,
    square,
)
from tests.factories import make_label_class, make_project

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name",
    ["dicomdirtests/77654033/CR1/6154", "examples_palette.dcm", "examples_rgb_color.dcm"],
    ids=["cr", "us-palette", "us-rgb"],
)
def test_source_without_frame_of_reference_gets_a_valid_pixel_exact_seg(name, tmp_path):
    data = shipped_path(name).read_bytes()
    assert "FrameOfReferenceUID" not in pydicom.dcmread(io.BytesIO(data))
    project = make_project("No frame of reference")
    organ = make_label_class(project, "organ")
    (image,) = ingest(project, ("source.dcm", data)).accepted
    mask = square(image.height, image.width, 2, 3, min(image.height, image.width) // 2)
    annotate(image, organ, mask)

    archive, summary = export_zip(project)

    assert (summary["segmentations"], summary["skipped"]) == (1, [])
    (member,) = seg_members(archive)
    seg = read_seg(archive.read(member))
    uid = image.metadata["sop_instance_uid"]
    pixels = seg.get_pixels_by_source_instance([uid], segment_numbers=[1])
    assert np.array_equal(pixels[0, :, :, 0], mask)
    assert dciodvfy_errors(tmp_path / "seg.dcm", archive.read(member)) == []


def _ct_without_slice_thickness(series: str, k: int, rows: int = 16) -> bytes:
    ds = pydicom.dcmread(
        io.BytesIO(generated_ct(np.full((rows, rows), 2 * k, dtype=np.int32), series_uid=series, instance_number=k + 1))
    )
    ds.SliceThickness = None  # present and empty (Type 2 in the CT Image module)
    ds.ImagePositionPatient = [0.0, 0.0, 2.5 * k]
    return dataset_bytes(ds)


def test_empty_slice_thickness_is_derived_from_the_slice_positions(tmp_path):
    project = make_project("No thickness")
    organ = make_label_class(project, "organ")
    series = pydicom.uid.generate_uid()
    images = ingest(project, *[(f"s{k}.dcm", _ct_without_slice_thickness(series, k)) for k in range(3)]).accepted
    for image in images:
        annotate(image, organ, square(16, 16, 3, 3, 6))

    archive, summary = export_zip(project)

    assert (summary["segmentations"], summary["images"], summary["skipped"]) == (1, 3, [])
    (member,) = seg_members(archive)
    data = archive.read(member)
    measures = pydicom.dcmread(io.BytesIO(data)).SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    assert float(measures.SliceThickness) == pytest.approx(2.5)
    assert read_seg(data).get_segment_numbers() == [1]
    assert dciodvfy_errors(tmp_path / "seg.dcm", data) == []


def test_single_slice_without_slice_thickness_is_refused_not_offered(tmp_path):
    project = make_project("One thin slice")
    organ = make_label_class(project, "organ")
    (image,) = ingest(project, ("one.dcm", _ct_without_slice_thickness(pydicom.uid.generate_uid(), 0))).accepted
    annotate(image, organ, square(16, 16, 3, 3, 6))
    (good,) = ingest(project, ("ct.dcm", shipped_path("CT_small.dcm").read_bytes())).accepted
    annotate(good, organ, square(128, 128, 10, 10, 30))

    archive, summary = export_zip(project)

    assert summary["segmentations"] == 1  # only CT_small's SEG is offered
    assert len(summary["skipped"]) == 1
    assert summary["skipped"][0].startswith("one.dcm: the source has no Slice Thickness and none can be derived")
    (member,) = seg_members(archive)
    assert read_seg(archive.read(member)).get_source_image_uids()[0][2] == good.metadata["sop_instance_uid"]


def test_a_series_of_two_matrix_sizes_gives_one_seg_per_size(tmp_path):
    project = make_project("Two sizes")
    organ = make_label_class(project, "organ")
    series = pydicom.uid.generate_uid()
    small = [generated_ct(np.zeros((16, 16), np.int32), series_uid=series, instance_number=k + 1) for k in range(2)]
    large = [generated_ct(np.zeros((24, 24), np.int32), series_uid=series, instance_number=k + 3) for k in range(2)]
    images = ingest(project, *[(f"s{k}.dcm", data) for k, data in enumerate(small + large)]).accepted
    for image in images:
        annotate(image, organ, square(image.height, image.width, 2, 2, 5))

    archive, summary = export_zip(project)

    assert (summary["segmentations"], summary["images"], summary["skipped"]) == (2, 4, [])
    sizes = set()
    for member in seg_members(archive):
        seg = read_seg(archive.read(member))
        sizes.add((int(seg.Rows), int(seg.Columns)))
        assert len(seg.get_source_image_uids()) == 2
        assert dciodvfy_errors(tmp_path / member, archive.read(member)) == []
    assert sizes == {(16, 16), (24, 24)}


def test_person_names_in_highdicom_warnings_never_reach_logs(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    ds = pydicom.dcmread(shipped_path("CT_small.dcm"))
    ds.PatientName = "Zorbatronix"  # one component: highdicom warns, quoting the name
    project = make_project("Names")
    organ = make_label_class(project, "organ")
    (image,) = ingest(project, ("ct.dcm", dataset_bytes(ds))).accepted
    annotate(image, organ, square(128, 128, 10, 10, 30))

    export_zip(project)

    captured = capsys.readouterr()
    assert "Zorbatronix" not in caplog.text + captured.out + captured.err
    assert any("unlikely to represent" in record.getMessage() for record in caplog.records)


def test_seg_check_finds_pixels_that_differ_and_dciodvfy_errors():
    ds = pydicom.dcmread(shipped_path("CT_small.dcm"), stop_before_pixels=True)
    mask = square(128, 128, 10, 10, 30)
    built = dicom_seg.build_segmentation(
        frames=[dicom_seg.SourceFrame(ds, 0, {1: mask})], label_classes=[{"id": 1, "name": "organ", "color": "#ff0000"}]
    )
    source = shipped_path("CT_small.dcm").read_bytes()
    data = dataset_bytes(built.dataset)
    assert seg_problems(data, expected=built.expected, source_bytes=source) == []

    wrong = [ExpectedFrame(built.expected[0].sop_instance_uid, None, built.expected[0].pixels * 0)]
    assert "pixels for instance" in seg_problems(data, expected=wrong, source_bytes=source)[0]

    del built.dataset.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].SliceThickness
    problems = seg_problems(dataset_bytes(built.dataset), expected=built.expected, source_bytes=source)
    assert any(p.startswith("dciodvfy: Error") and "SliceThickness" in p for p in problems), problems
