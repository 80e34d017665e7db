"""A DICOM series as a volume: slice order by position along the normal (oblique too), instance
number when positions are missing, planes from enhanced functional groups, the annotator's series
config, and embeddings requested ahead nearest first."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest

from annotator.dicom.series import SliceInfo, ahead_order, frame_plane, slice_normal, slice_order
from annotator.models import Role
from annotator.selectors_dicom import dicom_annotator_config
from annotator.services import series as series_service
from annotator.services.series import series_embeddings_ahead, series_slices
from segmentation.models import Embedding, EmbeddingState
from tests.annotator.dicom.samples import enhanced_ct, generated_ct, ingest
from tests.factories import make_project

AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
HU = np.tile(np.arange(-100, 100, 8, dtype=np.int64), (25, 1))


def test_axial_slices_follow_z_not_the_instance_number():
    slices = [
        SliceInfo(key="c", position=[0, 0, 30.0], orientation=AXIAL, instance_number=1),
        SliceInfo(key="a", position=[0, 0, -10.0], orientation=AXIAL, instance_number=3),
        SliceInfo(key="b", position=[0, 0, 10.0], orientation=AXIAL, instance_number=2),
    ]
    assert slice_order(slices) == ["a", "b", "c"]


def test_oblique_slices_are_ordered_along_their_normal():
    # Rows along x, columns tilted 30 degrees out of the y axis towards z: normal (0, -sin, cos).
    angle = np.radians(30)
    orientation = [1.0, 0.0, 0.0, 0.0, float(np.cos(angle)), float(np.sin(angle))]
    normal = slice_normal(orientation)
    assert np.allclose(normal, [0, -np.sin(angle), np.cos(angle)])
    # Positions one step apart along the normal, but in-plane offsets that make z alone misleading:
    # sorting by z would put "second" first.
    origin = np.array([5.0, 2.0, 1.0])
    in_plane = np.array([0.0, np.cos(angle), np.sin(angle)])
    first = origin
    second = origin + 1.0 * normal - 4.0 * in_plane
    third = origin + 2.0 * normal
    assert second[2] < first[2]  # z alone would be wrong
    slices = [
        SliceInfo(key=key, position=list(pos), orientation=orientation, instance_number=n)
        for key, pos, n in [("third", third, 1), ("first", first, 2), ("second", second, 3)]
    ]
    assert slice_order(slices) == ["first", "second", "third"]


def test_missing_position_falls_back_to_instance_number_then_frame():
    slices = [
        SliceInfo(key="n3", position=[0, 0, 1.0], orientation=AXIAL, instance_number=3),
        SliceInfo(key="none", position=None, orientation=AXIAL, instance_number=None),
        SliceInfo(key="n1f1", position=[0, 0, 9.0], orientation=AXIAL, instance_number=1, frame=1),
        SliceInfo(key="n1f0", position=[0, 0, 5.0], orientation=AXIAL, instance_number=1, frame=0),
    ]
    assert slice_order(slices) == ["n1f0", "n1f1", "n3", "none"]


def test_equal_positions_are_broken_by_instance_number():
    slices = [
        SliceInfo(key="b", position=[0, 0, 1.0], orientation=AXIAL, instance_number=2),
        SliceInfo(key="a", position=[0, 0, 1.0], orientation=AXIAL, instance_number=1),
    ]
    assert slice_order(slices) == ["a", "b"]


def test_ahead_order_is_nearest_first_and_clipped():
    assert ahead_order(5, 10, 2) == [5, 6, 4, 7, 3]
    assert ahead_order(0, 3, 5) == [0, 1, 2]
    assert ahead_order(9, 10, 1) == [9, 8]
    assert ahead_order(3, 3, 1) == []


def test_enhanced_frames_get_their_plane_from_functional_groups():
    slices = [generated_ct(HU, series_uid="1.2.3.4", instance_number=n) for n in (1, 2, 3)]
    ds = pydicom.dcmread(io.BytesIO(enhanced_ct(slices)))
    assert "ImagePositionPatient" not in ds
    planes = [frame_plane(ds, frame) for frame in range(3)]
    # highdicom orders the frames its own way: each frame keeps its own slice position.
    assert sorted(p["image_position"][2] for p in planes) == [1.0, 2.0, 3.0]
    assert planes[0]["image_orientation"] == AXIAL


@pytest.mark.django_db
def test_ingested_series_is_ordered_by_position_and_the_page_gets_it(monkeypatch):
    project = make_project()
    # Uploaded out of order; instance numbers say 1..4 but positions run the other way round.
    files = []
    for n, z in [(3, 2.0), (1, 4.0), (4, 1.0), (2, 3.0)]:
        ds = pydicom.dcmread(io.BytesIO(generated_ct(HU, series_uid="1.2.826.0.1.3680043.8.498.77", instance_number=n)))
        ds.ImagePositionPatient = [0.0, 0.0, z]
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        files.append((f"i{n}.dcm", buffer.getvalue()))
    files.append(("other.dcm", generated_ct(HU, instance_number=9)))  # another series
    report = ingest(project, *files)
    by_name = {image.original_name: image for image in report.accepted}
    assert by_name["i1.dcm"].metadata["image_position"] == [0.0, 0.0, 4.0]
    ordered = [image.original_name for image in series_slices(by_name["i2.dcm"])]
    assert ordered == ["i4.dcm", "i3.dcm", "i2.dcm", "i1.dcm"]
    assert [i.original_name for i in series_slices(by_name["other.dcm"])] == ["other.dcm"]
    config = dicom_annotator_config(by_name["i3.dcm"], project, Role.ANNOTATOR)
    assert config["series"]["position"] == 1
    assert config["series"]["image_ids"] == [by_name[n].pk for n in ordered]

    # Embeddings ahead: opening slice i3 (index 1) asks for i3, i2, i4, i1 in that order and sends
    # the still-pending ones again in that order.
    Embedding.objects.update(status=EmbeddingState.PENDING)
    Embedding.objects.filter(image_sha256=by_name["i4.dcm"].sha256).update(status=EmbeddingState.RUNNING)
    sent: list[str] = []
    monkeypatch.setattr(
        series_service, "enqueue_on_commit", lambda name, pk: sent.append(Embedding.objects.get(pk=pk).image_sha256)
    )
    requested = series_embeddings_ahead(by_name["i3.dcm"], radius=5)
    assert requested == [by_name[n].pk for n in ["i3.dcm", "i2.dcm", "i4.dcm", "i1.dcm"]]
    # i4 is already being computed: not sent again.
    assert sent == [by_name[n].sha256 for n in ["i3.dcm", "i2.dcm", "i1.dcm"]]
