"""annotation_create / annotation_update / annotation_delete: validation, derivation, locking."""

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from annotator import geometry
from annotator.models import Annotation, AnnotationSource
from annotator.services.annotations import (
    AnnotationConflict,
    annotation_create,
    annotation_delete,
    annotation_update,
)
from tests.factories import make_annotation, make_image, make_label_class, make_project, make_user, square_polygons

pytestmark = pytest.mark.django_db


@pytest.fixture
def image():
    return make_image(make_project(), width=40, height=30)


def test_create_from_polygons_derives_rle_bbox_area(image):
    label_class = make_label_class(image.project)
    annotation = annotation_create(
        image=image, label_class=label_class, source=AnnotationSource.MANUAL, polygons=square_polygons(2, 3, 10)
    )
    assert annotation.rle["size"] == [30, 40]
    assert annotation.area == 100
    assert annotation.bbox == [2.0, 3.0, 10.0, 10.0]
    assert annotation.version == 1 and annotation.status == "draft"


def test_create_from_rle_derives_polygons(image):
    mask = np.zeros((30, 40), np.uint8)
    mask[5:10, 5:25] = 1
    mask[7, 10] = 0
    annotation = annotation_create(
        image=image,
        label_class=make_label_class(image.project),
        source=AnnotationSource.SAM_CLICK,
        rle=geometry.rle_encode(mask),
        prompts={"points": [[10, 7, 1]]},
        click_count=1,
    )
    assert annotation.area == 99
    assert len(annotation.polygons) == 1 and len(annotation.polygons[0]) == 2  # outer + hole
    assert np.array_equal(geometry.polygons_to_mask(annotation.polygons, width=40, height=30), mask)


def test_create_rejects_label_class_of_another_project(image):
    other = make_label_class(make_project())
    with pytest.raises(ValidationError, match="another project"):
        annotation_create(image=image, label_class=other, source="manual", polygons=square_polygons(0, 0, 3))
    assert Annotation.objects.count() == 0


@pytest.mark.parametrize(
    "geometry_kwargs, message",
    [
        ({}, "rle, polygons"),
        ({"polygons": square_polygons(35, 25, 10)}, "outside the image"),
        ({"rle": geometry.rle_encode(np.ones((30, 41), np.uint8))}, "does not match"),
        ({"rle": geometry.rle_encode(np.zeros((30, 40), np.uint8))}, "empty"),
        ({"rle": {"size": [30, 40], "counts": 12}}, "counts"),
        ({"polygons": [[[1, 1, 1, 1, 1, 1]]]}, "empty"),
    ],
)
def test_create_rejects_bad_geometry(image, geometry_kwargs, message):
    with pytest.raises(ValidationError, match=message):
        annotation_create(image=image, label_class=make_label_class(image.project), source="manual", **geometry_kwargs)
    assert Annotation.objects.count() == 0


def test_create_rejects_unknown_source_and_status(image):
    label_class = make_label_class(image.project)
    with pytest.raises(ValidationError, match="source"):
        annotation_create(image=image, label_class=label_class, source="magic", polygons=square_polygons(0, 0, 3))
    with pytest.raises(ValidationError, match="status"):
        annotation_create(
            image=image, label_class=label_class, source="manual", polygons=square_polygons(0, 0, 3), status="done"
        )


def test_update_increments_version_and_stale_update_conflicts(image):
    annotation = make_annotation(image)
    updated = annotation_update(annotation=annotation, version=1, review_comment="ok")
    assert updated.version == 2 and updated.review_comment == "ok"
    with pytest.raises(AnnotationConflict) as conflict:
        annotation_update(annotation=annotation, version=1, review_comment="lost edit")
    assert conflict.value.current.version == 2
    annotation.refresh_from_db()
    assert annotation.review_comment == "ok" and annotation.version == 2


def test_geometry_change_of_sam_annotation_marks_edited(image):
    annotation = make_annotation(image, source=AnnotationSource.SAM_BOX)
    same = annotation_update(annotation=annotation, version=1, polygons=annotation.polygons)
    assert same.edited_after_sam is False
    moved = annotation_update(annotation=same, version=2, polygons=square_polygons(10, 10, 6))
    assert moved.edited_after_sam is True
    assert moved.area == 36 and moved.bbox == [10.0, 10.0, 6.0, 6.0]


def test_geometry_change_of_manual_annotation_is_not_marked(image):
    annotation = make_annotation(image)
    moved = annotation_update(annotation=annotation, version=1, polygons=square_polygons(10, 10, 6))
    assert moved.edited_after_sam is False


def test_update_rejects_bad_geometry_and_keeps_row(image):
    annotation = make_annotation(image)
    with pytest.raises(ValidationError):
        annotation_update(annotation=annotation, version=1, polygons=square_polygons(39, 29, 5))
    annotation.refresh_from_db()
    assert annotation.version == 1 and annotation.area == 25


def test_update_rejects_unknown_fields(image):
    annotation = make_annotation(image)
    with pytest.raises(ValidationError, match="cannot be changed"):
        annotation_update(annotation=annotation, version=1, author=make_user())


def test_delete(image):
    annotation = make_annotation(image)
    annotation_delete(annotation=annotation)
    assert not Annotation.objects.filter(pk=annotation.pk).exists()


def test_update_of_deleted_annotation_raises_does_not_exist(image):
    annotation = make_annotation(image)
    Annotation.objects.filter(pk=annotation.pk).delete()
    with pytest.raises(Annotation.DoesNotExist):
        annotation_update(annotation=annotation, version=1, review_comment="ok")
