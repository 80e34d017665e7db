"""Segment everything: drafts with source `auto` from the stored embedding, progress, cancel, API."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from annotator.models import Annotation, AnnotationSource, AutoMaskJob, AutoMaskJobStatus, Role
from annotator.selectors_embeddings import project_model
from annotator.services.auto_masks import auto_mask_job_cancel, auto_mask_job_create, auto_masks_compute
from annotator.services.embeddings import embedding_source
from segmentation.models import Embedding, EmbeddingState
from segmentation.services.auto_masks import auto_mask_params_clean, auto_masks_for_image
from tests.factories import make_image, make_label_class, make_project, make_user

pytestmark = pytest.mark.django_db
# Loose thresholds: the default model may be random-init here, so its IoU head predicts little.
LOOSE = {"points_per_side": 4, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "box_nms_thresh": 0.7}


@pytest.fixture
def project_with_images(default_model):
    manager = make_user()
    project = make_project(members={manager: Role.MANAGER})
    images = [make_image(project, width=64, height=40), make_image(project, width=30, height=50)]
    return manager, project, images, make_label_class(project, "thing")


def test_engine_returns_masks_and_creates_no_annotations(project_with_images, django_capture_on_commit_callbacks):
    _manager, project, images, _label_class = project_with_images
    image = images[0]
    with django_capture_on_commit_callbacks(execute=False):
        masks = auto_masks_for_image(
            model=project_model(project),
            source=embedding_source(image),
            height=image.height,
            width=image.width,
            params=auto_mask_params_clean(LOOSE),
        )
    assert masks and set(masks[0]) == {"rle", "score", "point"}
    assert all(mask["rle"]["size"] == [image.height, image.width] and len(mask["point"]) == 2 for mask in masks)
    assert [mask["score"] for mask in masks] == sorted((mask["score"] for mask in masks), reverse=True)
    assert Embedding.objects.get(image_sha256=image.sha256).status == EmbeddingState.READY  # computed on the way
    assert not Annotation.objects.exists()


def test_job_over_project_writes_auto_drafts_and_progress(project_with_images, django_capture_on_commit_callbacks):
    manager, project, images, label_class = project_with_images
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = auto_mask_job_create(project=project, user=manager, label_class=label_class, params=LOOSE)
    assert len(callbacks) == 1 and job.image_ids == [i.pk for i in images]
    job = auto_masks_compute(job.pk)
    assert job.status == AutoMaskJobStatus.DONE, job.error
    assert sorted(job.done_image_ids) == sorted(i.pk for i in images)
    annotations = Annotation.objects.filter(image__project=project)
    assert annotations.count() == job.annotations_created > 0
    assert set(annotations.values_list("source", "status").distinct()) == {(AnnotationSource.AUTO, "draft")}
    for annotation in annotations:
        assert annotation.area > 0 and annotation.rle["size"] == [annotation.image.height, annotation.image.width]
    # A redelivered task does not duplicate drafts.
    auto_masks_compute(job.pk)
    assert Annotation.objects.filter(image__project=project).count() == job.annotations_created


def test_cancelled_job_stops_before_the_next_image(project_with_images, django_capture_on_commit_callbacks):
    manager, project, _images, label_class = project_with_images
    with django_capture_on_commit_callbacks(execute=False):
        job = auto_mask_job_create(project=project, user=manager, label_class=label_class, params=LOOSE)
    AutoMaskJob.objects.filter(pk=job.pk).update(status=AutoMaskJobStatus.RUNNING)
    auto_mask_job_cancel(job=job)
    job = auto_masks_compute(job.pk)
    assert job.status == AutoMaskJobStatus.CANCELLED and job.done_image_ids == []
    assert not Annotation.objects.filter(image__project=project).exists()


def test_invalid_params_are_rejected(project_with_images):
    manager, project, _, label_class = project_with_images
    with pytest.raises(ValidationError):
        auto_mask_job_create(project=project, user=manager, label_class=label_class, params={"points_per_side": 0})
    with pytest.raises(ValidationError):
        auto_mask_job_create(project=project, user=manager, label_class=label_class, params={"crop_n_layers": 2})


def test_api_manager_only_then_progress_and_cancel(project_with_images, django_capture_on_commit_callbacks):
    manager, project, images, label_class = project_with_images
    annotator = make_user()
    project.memberships.create(user=annotator, role=Role.ANNOTATOR)
    client = APIClient()
    client.force_authenticate(annotator)
    url = f"/api/projects/{project.pk}/auto-masks/"
    assert client.post(url, {"image_id": images[0].pk}, format="json").status_code == 403
    client.force_authenticate(manager)
    with django_capture_on_commit_callbacks(execute=False):
        created = client.post(url, {"image_id": images[0].pk, "points_per_side": 8}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "pending" and body["total_images"] == 1 and body["label_class"] == label_class.pk
    assert body["params"]["points_per_side"] == 8
    progress = client.get(f"{url}{body['id']}/")
    assert progress.status_code == 200 and progress.json()["done_images"] == 0
    cancelled = client.post(f"{url}{body['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    outsider = APIClient()
    outsider.force_authenticate(make_user())
    assert outsider.get(f"{url}{body['id']}/").status_code == 404
