"""DICOM SEG export: uploaded CT and MR, annotated, exported, read back mask by mask, and validated."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile

import highdicom as hd
import numpy as np
import pydicom
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotator import geometry
from annotator.models import AnnotationSource, AnnotationStatus
from annotator.services.annotations import annotation_create
from annotator.services.exports import export_options_clean, export_write
from tests.annotator.dicom.samples import dataset_bytes, ingest, shipped_bytes
from tests.factories import make_image, make_label_class, make_project

pytestmark = pytest.mark.django_db


def blob(height: int, width: int, top: int, left: int, size: int, hole: bool = False) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[top : top + size, left : left + size] = 1
    if hole:
        mask[top + size // 3 : top + 2 * size // 3, left + size // 3 : left + 2 * size // 3] = 0
    return mask


@pytest.fixture
def annotated(db):
    project = make_project("Radiology")
    organ = make_label_class(project, "liver", color="#aa3322", order=0)
    lesion = make_label_class(project, "lesion", color="#22aa33", order=1)
    report = ingest(project, ("ct.dcm", shipped_bytes("CT_small.dcm")), ("mr", shipped_bytes("MR_small.dcm")))
    assert report.rejected == []
    ct, mr = report.accepted
    masks = {
        (ct.pk, organ.pk): blob(128, 128, 10, 20, 60, hole=True),
        (ct.pk, lesion.pk): blob(128, 128, 40, 50, 30),  # overlaps the organ: segments are separate
        (mr.pk, organ.pk): blob(64, 64, 5, 7, 20),
    }
    for (image_pk, class_pk), mask in masks.items():
        image = ct if image_pk == ct.pk else mr
        label_class = organ if class_pk == organ.pk else lesion
        annotation_create(
            image=image,
            label_class=label_class,
            source=AnnotationSource.SAM_CLICK,
            rle=geometry.rle_encode(mask),
            status=AnnotationStatus.APPROVED,
        )
    # A second, hand-drawn MR organ annotation is united with the first in the one segment.
    annotation_create(
        image=mr,
        label_class=organ,
        source=AnnotationSource.MANUAL,
        polygons=[[[40.0, 40.0, 60.0, 40.0, 60.0, 60.0, 40.0, 60.0]]],
        status=AnnotationStatus.APPROVED,
    )
    mr_mask = masks[(mr.pk, organ.pk)] | geometry.polygons_to_mask(
        [[[40.0, 40.0, 60.0, 40.0, 60.0, 60.0, 40.0, 60.0]]], width=64, height=64
    ).astype(np.uint8)
    masks[(mr.pk, organ.pk)] = mr_mask
    return {"project": project, "ct": ct, "mr": mr, "organ": organ, "lesion": lesion, "masks": masks}


def export_zip(project) -> tuple[zipfile.ZipFile, dict]:
    options = export_options_clean(project=project, format="dicom-seg", options={"statuses": "all"})
    buffer = io.BytesIO()
    summary = export_write(project=project, format="dicom-seg", options=options, handle=buffer)
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue())), summary


def read_segs(archive: zipfile.ZipFile) -> list[hd.seg.Segmentation]:
    return [
        hd.seg.Segmentation.from_dataset(pydicom.dcmread(io.BytesIO(archive.read(name))))
        for name in sorted(archive.namelist())
        if name.endswith(".dcm")
    ]


def test_seg_per_series_reads_back_pixel_exact(annotated):
    archive, summary = export_zip(annotated["project"])
    assert summary == {"segmentations": 2, "images": 2, "annotations": 4, "skipped": []}
    segs = read_segs(archive)
    assert len(segs) == 2
    by_source = {seg.get_source_image_uids()[0][2]: seg for seg in segs}
    ct, mr, organ, lesion = annotated["ct"], annotated["mr"], annotated["organ"], annotated["lesion"]
    assert set(by_source) == {ct.metadata["sop_instance_uid"], mr.metadata["sop_instance_uid"]}

    ct_seg = by_source[ct.metadata["sop_instance_uid"]]
    source = pydicom.dcmread(io.BytesIO(ct.file.open("rb").read()))
    assert ct_seg.SegmentationType == "BINARY"
    assert ct_seg.StudyInstanceUID == source.StudyInstanceUID
    assert ct_seg.FrameOfReferenceUID == source.FrameOfReferenceUID
    assert [ct_seg.get_segment_description(n).SegmentLabel for n in (1, 2)] == ["liver", "lesion"]
    description = ct_seg.get_segment_description(1)
    assert description.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "85756007"
    assert description.SegmentAlgorithmType == "SEMIAUTOMATIC"
    pixels = ct_seg.get_pixels_by_source_instance([ct.metadata["sop_instance_uid"]], segment_numbers=[1, 2])
    assert pixels.shape == (1, 128, 128, 2)
    assert np.array_equal(pixels[0, :, :, 0], annotated["masks"][(ct.pk, organ.pk)])
    assert np.array_equal(pixels[0, :, :, 1], annotated["masks"][(ct.pk, lesion.pk)])

    mr_seg = by_source[mr.metadata["sop_instance_uid"]]
    assert [mr_seg.get_segment_description(1).SegmentLabel] == ["liver"]
    assert mr_seg.get_segment_numbers() == [1]
    pixels = mr_seg.get_pixels_by_source_instance([mr.metadata["sop_instance_uid"]], segment_numbers=[1])
    assert np.array_equal(pixels[0, :, :, 0], annotated["masks"][(mr.pk, organ.pk)])


def test_sources_a_seg_cannot_reference_are_reported_not_fatal(annotated):
    project, organ = annotated["project"], annotated["organ"]
    no_frame_of_reference = pydicom.dcmread(io.BytesIO(shipped_bytes("CT_small.dcm")))
    del no_frame_of_reference.FrameOfReferenceUID
    no_frame_of_reference.SOPInstanceUID = pydicom.uid.generate_uid()
    report = ingest(project, ("nofor.dcm", dataset_bytes(no_frame_of_reference)))
    assert report.rejected == []
    photo = make_image(project, width=40, height=30, name="photo.png")
    for image in (report.accepted[0], photo):
        annotation_create(
            image=image,
            label_class=organ,
            source=AnnotationSource.MANUAL,
            polygons=[[[1.0, 1.0, 20.0, 1.0, 20.0, 20.0]]],
            status=AnnotationStatus.APPROVED,
        )
    archive, summary = export_zip(project)
    assert summary["segmentations"] == 2
    assert summary["skipped"] == [
        "photo.png: not a DICOM image (PNG), so there is nothing a DICOM SEG can reference",
        "nofor.dcm: the DICOM file has no Frame of Reference UID, which its IOD requires, so a DICOM SEG cannot "
        "reference it",
    ]
    assert archive.read("skipped.txt").decode().splitlines() == summary["skipped"]


def test_export_with_nothing_exportable_fails_with_every_reason(db, tmp_path):
    project = make_project("Photos")
    label = make_label_class(project, "cat")
    photo = make_image(project, name="cat.png")
    annotation_create(
        image=photo,
        label_class=label,
        source=AnnotationSource.MANUAL,
        polygons=[[[1.0, 1.0, 20.0, 1.0, 20.0, 20.0]]],
        status=AnnotationStatus.APPROVED,
    )
    with pytest.raises(CommandError, match=r"no DICOM SEG could be written: cat.png: not a DICOM image"):
        call_command(
            "export_dataset", "--project", "Photos", "--format", "dicom-seg", "--out", str(tmp_path / "out" / "s.zip")
        )
    assert list((tmp_path / "out").iterdir()) == []  # neither the zip nor its temporary file is left


def test_export_dataset_command_writes_the_zip(annotated, tmp_path):
    out = io.StringIO()
    call_command(
        "export_dataset",
        "--project",
        "Radiology",
        "--format",
        "dicom-seg",
        "--status",
        "all",
        "--out",
        str(tmp_path / "seg.zip"),
        stdout=out,
    )
    assert "segmentations 2" in out.getvalue()
    assert len(read_segs(zipfile.ZipFile(tmp_path / "seg.zip"))) == 2
    # --out DIR (an existing folder): the zip is written inside it, named after the project.
    call_command(
        "export_dataset",
        "--project",
        "Radiology",
        "--format",
        "dicom-seg",
        "--status",
        "all",
        "--out",
        str(tmp_path),
        stdout=io.StringIO(),
    )
    assert len(read_segs(zipfile.ZipFile(tmp_path / "radiology-dicom-seg.zip"))) == 2


def test_dciodvfy_reports_no_error(annotated, tmp_path):
    # Not skipped when dciodvfy is missing: scripts/bootstrap.sh installs dicom3tools, and this is the
    # acceptance check of the issue.
    archive, _ = export_zip(annotated["project"])
    names = [name for name in archive.namelist() if name.endswith(".dcm")]
    assert len(names) == 2
    for name in names:
        assert dciodvfy_errors(tmp_path / name, archive.read(name)) == []


def test_series_of_single_frame_slices_gives_one_seg_referencing_each_annotated_slice(db):
    from tests.annotator.dicom.samples import generated_ct

    project = make_project("Series")
    organ = make_label_class(project, "organ")
    series = pydicom.uid.generate_uid()
    slices = [
        generated_ct(np.full((16, 16), 2 * k, dtype=np.int32), series_uid=series, instance_number=k + 1)
        for k in range(5)
    ]
    images = ingest(project, *[(f"slice{k + 1}.dcm", data) for k, data in enumerate(slices)]).accepted
    masks = {}
    for image, top in ((images[1], 2), (images[3], 5), (images[4], 9)):
        masks[image.metadata["sop_instance_uid"]] = blob(16, 16, top, 3, 6)
        annotation_create(
            image=image,
            label_class=organ,
            source=AnnotationSource.MANUAL,
            rle=geometry.rle_encode(masks[image.metadata["sop_instance_uid"]]),
            status=AnnotationStatus.APPROVED,
        )
    archive, summary = export_zip(project)
    assert (summary["segmentations"], summary["images"], summary["skipped"]) == (1, 3, [])
    (seg,) = read_segs(archive)
    assert seg.SeriesInstanceUID != series
    assert {uid for _, _, uid in seg.get_source_image_uids()} == set(masks)
    uids = sorted(masks)
    pixels = seg.get_pixels_by_source_instance(uids, segment_numbers=[1])
    for index, uid in enumerate(uids):
        assert np.array_equal(pixels[index, :, :, 0], masks[uid])
    path = zipfile.Path(archive, next(n for n in archive.namelist() if n.endswith(".dcm")))
    assert path.name.endswith("_SEG.dcm")


def test_legacy_multi_frame_source_is_refused_with_a_message_per_frame(db):
    from tests.annotator.dicom.samples import shipped_path

    project = make_project("Dose")
    region = make_label_class(project, "region")
    frames = ingest(project, ("dose.dcm", shipped_path("rtdose.dcm").read_bytes())).accepted
    assert len(frames) == 15
    for frame in (2, 7):
        annotation_create(
            image=frames[frame],
            label_class=region,
            source=AnnotationSource.MANUAL,
            rle=geometry.rle_encode(blob(10, 10, 1, 1, 4)),
            status=AnnotationStatus.APPROVED,
        )
    reason = (
        "a multi-frame DICOM file without per-frame functional groups (legacy multi-frame, e.g. RT dose "
        "or ultrasound) cannot be a DICOM SEG source; enhanced CT/MR files can"
    )
    with pytest.raises(ValueError) as refused:
        export_zip(project)
    assert (
        str(refused.value)
        == f"no DICOM SEG could be written: dose.dcm (frame 3): {reason}; dose.dcm (frame 8): {reason}"
    )


def test_enhanced_multi_frame_source_gets_one_seg_referencing_its_frames(db, tmp_path):
    from tests.annotator.dicom.samples import enhanced_ct, generated_ct

    project = make_project("Enhanced")
    organ = make_label_class(project, "organ")
    series = pydicom.uid.generate_uid()
    enhanced = enhanced_ct(
        [
            generated_ct(np.full((16, 16), 20 * k, dtype=np.int32), series_uid=series, instance_number=k + 1)
            for k in range(5)
        ]
    )
    frames = ingest(project, ("enhanced.dcm", enhanced)).accepted
    assert [image.metadata["frame"] for image in frames] == [0, 1, 2, 3, 4]
    masks = {1: blob(16, 16, 2, 2, 7), 3: blob(16, 16, 6, 8, 5, hole=False)}
    for frame, mask in masks.items():
        annotation_create(
            image=frames[frame],
            label_class=organ,
            source=AnnotationSource.SAM_CLICK,
            rle=geometry.rle_encode(mask),
            status=AnnotationStatus.APPROVED,
        )
    archive, summary = export_zip(project)
    assert (summary["segmentations"], summary["images"], summary["skipped"]) == (1, 2, [])
    (seg,) = read_segs(archive)
    uid = frames[0].metadata["sop_instance_uid"]
    for frame, mask in masks.items():
        pixels = seg.get_pixels_by_source_frame(uid, source_frame_numbers=[frame + 1], segment_numbers=[1])
        assert np.array_equal(pixels[0, :, :, 0], mask)
    empty = seg.get_pixels_by_source_frame(uid, source_frame_numbers=[1], segment_numbers=[1])
    assert not empty.any()  # unannotated frames stay empty
    name = next(n for n in archive.namelist() if n.endswith(".dcm"))
    assert dciodvfy_errors(tmp_path / name, archive.read(name)) == []


def dciodvfy_errors(path, data: bytes) -> list[str]:
    assert shutil.which("dciodvfy"), "dciodvfy missing: install the Debian package dicom3tools"
    path.write_bytes(data)
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = (result.stdout + result.stderr).splitlines()
    assert any("Segmentation" in line for line in lines), lines  # it really recognised a SEG
    return [line for line in lines if line.startswith("Error")]


def test_export_task_path_stores_the_zip_and_the_summary(annotated):
    from annotator.models import Export, ExportStatus
    from annotator.services.exports import export_run

    # Created directly: ExportFormat (annotator/models.py) does not list dicom-seg yet, the service does.
    export = Export.objects.create(project=annotated["project"], format="dicom-seg", options={"statuses": "all"})
    export_run(export.pk)
    export.refresh_from_db()
    assert (export.status, export.error) == (ExportStatus.DONE, "")
    assert export.file.name.endswith(".zip") and export.summary["segmentations"] == 2
    with export.file.open("rb") as handle:
        assert len(read_segs(zipfile.ZipFile(io.BytesIO(handle.read())))) == 2


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit-vr", "explicit-vr"])
def test_data_set_without_preamble_exports_a_valid_seg(db, tmp_path, implicit):
    from tests.annotator.dicom.test_voi_lut_and_raw_files import raw_data_set

    project = make_project("Raw files")
    organ = make_label_class(project, "liver")
    report = ingest(project, ("ct-raw", raw_data_set("CT_small.dcm", implicit=implicit)))
    assert report.rejected == []
    (ct,) = report.accepted
    mask = blob(128, 128, 10, 20, 60, hole=True)
    annotation_create(
        image=ct,
        label_class=organ,
        source=AnnotationSource.SAM_CLICK,
        rle=geometry.rle_encode(mask),
        status=AnnotationStatus.APPROVED,
    )
    archive, summary = export_zip(project)
    assert summary["skipped"] == []
    (name,) = [n for n in archive.namelist() if n.endswith(".dcm")]
    (seg,) = read_segs(archive)
    source = pydicom.dcmread(io.BytesIO(raw_data_set("CT_small.dcm", implicit=implicit)), force=True)
    assert seg.StudyInstanceUID == source.StudyInstanceUID
    assert seg.get_source_image_uids()[0][2] == source.SOPInstanceUID
    pixels = seg.get_pixels_by_source_instance([source.SOPInstanceUID], segment_numbers=[1])
    assert np.array_equal(pixels[0, :, :, 0], mask)
    assert dciodvfy_errors(tmp_path / name, archive.read(name)) == []
