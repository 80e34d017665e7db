"""Bounded annotation input (issue 15): every geometry is checked before it is decoded, numbers of any
size are refused cleanly, polygons and RLE never disagree, prompts are size-capped."""

import tracemalloc

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from annotator import geometry
from annotator.models import Annotation, AnnotationSource
from annotator.services.annotations import annotation_create, annotation_update
from tests.factories import make_annotation, make_image, make_label_class, make_project, square_polygons

pytestmark = pytest.mark.django_db


@pytest.fixture
def image():
    return make_image(make_project(), width=40, height=30)


def create(image, **kwargs):
    return annotation_create(
        image=image, label_class=make_label_class(image.project), source=AnnotationSource.MANUAL, **kwargs
    )


def test_huge_rle_size_is_refused_before_any_decode(image):
    # 98 bytes that asked pycocotools for a 50 000 x 20 000 mask (about 1 GB) before any check.
    rle = {"size": [50_000, 20_000], "counts": "0"}
    tracemalloc.start()
    try:
        with pytest.raises(ValidationError) as caught:
            create(image, rle=rle)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "does not match the image" in str(caught.value)
    assert peak < 20 * 1024 * 1024
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(
    "rle",
    [
        {"size": [2**64, 40], "counts": "0"},
        {"size": [30.0, 40.0], "counts": "0"},
        {"size": [True, True], "counts": "0"},
        {"size": [30, 40], "counts": 12},
        {"size": [30, 40], "counts": [2**70]},
        {"size": [30, 40], "counts": "x" * 101},
    ],
)
def test_malformed_or_oversized_rle_is_a_validation_error(image, settings, rle):
    settings.ANNOTATOR_MAX_RLE_COUNTS = 100
    with pytest.raises(ValidationError):
        create(image, rle=rle)
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("value", [2**64, -(2**64), 2**64 + 0.5, 10**300, float("inf"), float("nan")])
def test_coordinates_of_any_size_are_refused_on_create_and_update(image, value):
    ring = [1, 1, 10, 1, 10, value]
    with pytest.raises(ValidationError):
        create(image, polygons=[[ring]])
    annotation = make_annotation(image)
    with pytest.raises(ValidationError):
        annotation_update(annotation=annotation, version=annotation.version, polygons=[[ring]])
    annotation.refresh_from_db()
    assert annotation.version == 1


def test_vertex_and_part_caps(image, settings):
    settings.ANNOTATOR_MAX_POLYGON_VERTICES = 8
    settings.ANNOTATOR_MAX_POLYGON_PARTS = 2
    square = square_polygons(1, 1, 5)[0]
    with pytest.raises(ValidationError, match="Too many polygon vertices"):
        create(image, polygons=[[[1, 1, 2, 1, 3, 1, 4, 1, 5, 5, 1, 5, 1, 4, 1, 3, 1, 2]]])
    with pytest.raises(ValidationError, match="Too many polygon parts"):
        create(image, polygons=[square, square, square])
    assert create(image, polygons=[square, square]).area == 25


def test_rle_is_the_mask_of_record_when_both_are_given(image):
    mask = np.zeros((30, 40), np.uint8)
    mask[5:10, 5:25] = 1
    disagreeing = square_polygons(30, 20, 5)  # somewhere else entirely
    annotation = create(image, rle=geometry.rle_encode(mask), polygons=disagreeing)
    stored = geometry.polygons_to_mask(annotation.polygons, width=40, height=30)
    assert np.array_equal(stored, mask)
    assert annotation.area == 100
    updated = annotation_update(
        annotation=annotation, version=annotation.version, rle=geometry.rle_encode(mask), polygons=disagreeing
    )
    assert np.array_equal(geometry.polygons_to_mask(updated.polygons, width=40, height=30), mask)


def test_both_given_still_checks_the_polygons(image):
    mask = np.zeros((30, 40), np.uint8)
    mask[5:10, 5:25] = 1
    with pytest.raises(ValidationError):
        create(image, rle=geometry.rle_encode(mask), polygons=[[[1, 1, 2, 2, 3, 2**64]]])


@pytest.mark.parametrize(
    "prompts",
    [
        {"points": [[1, 2, 1]] * 20_000},
        {"points": [[2**64, 2, 1]]},
        {"box": [float("inf"), 0, 1, 1]},
    ],
)
def test_prompts_are_capped_and_finite(image, prompts):
    with pytest.raises(ValidationError) as caught:
        create(image, polygons=square_polygons(1, 1, 5), prompts=prompts)
    assert "prompts" in caught.value.message_dict
    annotation = make_annotation(image)
    with pytest.raises(ValidationError):
        annotation_update(annotation=annotation, version=annotation.version, prompts=prompts)


def test_ordinary_prompts_are_kept(image):
    prompts = {"points": [[3.5, 4.25, 1], [10, 12, 0]], "box": [1, 1, 20, 20]}
    assert create(image, polygons=square_polygons(1, 1, 5), prompts=prompts).prompts == prompts
