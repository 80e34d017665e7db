"""embeddings_request / embedding_compute / embedding_retry, run in this process (CPU, default model)."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from annotator.models import EmbeddingStatus, Image
from annotator.selectors import with_embedding_status
from annotator.services.embeddings import embedding_retry, embeddings_request
from segmentation.models import Embedding, EmbeddingState, SamModel
from segmentation.services.embeddings import embedding_compute
from segmentation.storage import read_embedding
from tests.factories import image_with_embedding_status, make_image, make_project

pytestmark = pytest.mark.django_db


def _copy_of(image: Image, project) -> Image:
    """The same content uploaded again into another project."""
    fields = {f: getattr(image, f) for f in ("file", "display", "thumbnail", "width", "height", "sha256", "format")}
    return Image.objects.create(project=project, original_name="copy.png", **fields)


def test_request_creates_one_pending_embedding_and_enqueues_after_commit(
    default_model, django_capture_on_commit_callbacks
):
    project = make_project()
    first, second = make_image(project), make_image(project)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        embeddings_request(images=[first, second])
    assert len(callbacks) == 2  # one task per new embedding, only after the transaction commits
    rows = Embedding.objects.order_by("id")
    assert [(e.image_sha256, e.model_sha256, e.status) for e in rows] == [
        (first.sha256, default_model.checkpoint_sha256, EmbeddingState.PENDING),
        (second.sha256, default_model.checkpoint_sha256, EmbeddingState.PENDING),
    ]
    assert set(with_embedding_status(Image.objects.all()).values_list("embedding_status", flat=True)) == {
        EmbeddingStatus.PENDING
    }


def test_compute_writes_float16_file_with_model_sha(default_model, django_capture_on_commit_callbacks):
    image = make_image(make_project(), width=64, height=48)
    with django_capture_on_commit_callbacks(execute=False):
        embeddings_request(images=[image])
    embedding = embedding_compute(Embedding.objects.get().pk)
    assert embedding.status == EmbeddingState.READY and embedding.attempts == 1
    values, header = read_embedding(embedding.file.name)
    assert list(values.shape) == default_model.embedding_shape
    assert header["model_sha256"] == default_model.checkpoint_sha256
    assert embedding.file.name == f"embeddings/{default_model.checkpoint_sha256[:16]}/{image.sha256}.f16"
    image = image_with_embedding_status(image)
    assert image.embedding_status == EmbeddingStatus.READY
    # Idempotent: a second delivery of the task changes nothing.
    again = embedding_compute(embedding.pk)
    assert again.attempts == 1 and again.file.name == embedding.file.name


def test_same_content_in_another_project_reuses_the_ready_embedding(default_model, django_capture_on_commit_callbacks):
    image = make_image(make_project())
    with django_capture_on_commit_callbacks(execute=False):
        embeddings_request(images=[image])
    embedding_compute(Embedding.objects.get().pk)
    copy = _copy_of(image, make_project())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        embeddings_request(images=[copy])
    assert callbacks == []  # nothing to compute
    assert Embedding.objects.count() == 1
    copy = image_with_embedding_status(copy)
    assert copy.embedding_status == EmbeddingStatus.READY


def test_one_status_is_read_by_every_project_with_the_content(default_model, django_capture_on_commit_callbacks):
    image = make_image(make_project())
    with django_capture_on_commit_callbacks(execute=False):
        embeddings_request(images=[image])
        copy = _copy_of(image, make_project())
        embeddings_request(images=[copy])
    embedding_compute(Embedding.objects.get().pk)
    assert set(with_embedding_status(Image.objects.all()).values_list("embedding_status", flat=True)) == {
        EmbeddingStatus.READY
    }


def test_permanent_failure_reads_failed_on_the_image_then_retry_recovers(
    default_model, django_capture_on_commit_callbacks
):
    image = make_image(make_project())
    good_bytes = default_storage.open(image.display.name).read()
    with default_storage.open(image.display.name, "wb") as handle:
        handle.write(b"not an image at all")
    with django_capture_on_commit_callbacks(execute=False):
        embeddings_request(images=[image])
    embedding = embedding_compute(Embedding.objects.get().pk)
    assert embedding.status == EmbeddingState.FAILED
    assert "UnidentifiedImageError" in embedding.error
    image = image_with_embedding_status(image)
    assert image.embedding_status == EmbeddingStatus.FAILED and "UnidentifiedImageError" in image.embedding_error

    with default_storage.open(image.display.name, "wb") as handle:
        handle.write(good_bytes)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        retried = embedding_retry(image)
    assert retried.status == EmbeddingState.PENDING and len(callbacks) == 1
    image = image_with_embedding_status(image)
    assert image.embedding_status == EmbeddingStatus.PENDING and image.embedding_error == ""
    assert embedding_compute(retried.pk).status == EmbeddingState.READY
    image = image_with_embedding_status(image)
    assert image.embedding_status == EmbeddingStatus.READY


def test_reupload_of_failed_content_tries_again(default_model, django_capture_on_commit_callbacks):
    image = make_image(make_project())
    Embedding.objects.create(
        image_sha256=image.sha256,
        model=default_model,
        model_sha256=default_model.checkpoint_sha256,
        status=EmbeddingState.FAILED,
        error="old failure",
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        embeddings_request(images=[_copy_of(image, make_project())])
    assert len(callbacks) == 1
    assert Embedding.objects.get().status == EmbeddingState.PENDING


def test_ready_embedding_whose_file_vanished_is_recomputed(default_model, django_capture_on_commit_callbacks):
    image = make_image(make_project())
    with django_capture_on_commit_callbacks(execute=False):
        embeddings_request(images=[image])
    first = embedding_compute(Embedding.objects.get().pk)
    default_storage.delete(first.file.name)
    again = embedding_compute(first.pk)
    assert again.status == EmbeddingState.READY and again.attempts == 2
    assert default_storage.exists(again.file.name)


def test_image_status_is_read_under_the_projects_own_model(default_model):
    own_model = SamModel.objects.create(
        name="own",
        architecture="default",
        checkpoint_path="/nonexistent/own.pt",
        checkpoint_sha256="0" * 64,
        encoder_input_size=256,
        embedding_shape=[128, 32, 32],
    )
    image = make_image(make_project(), embedding_status=EmbeddingState.READY)  # under the default model
    copy = _copy_of(image, make_project(sam_model=own_model))
    assert image_with_embedding_status(image).embedding_status == EmbeddingStatus.READY
    assert image_with_embedding_status(copy).embedding_status == EmbeddingStatus.PENDING  # no row under its model
    Embedding.objects.create(
        image_sha256=image.sha256,
        model=own_model,
        model_sha256=own_model.checkpoint_sha256,
        status=EmbeddingState.FAILED,
        error="CUDA out of memory",
    )
    failed = image_with_embedding_status(copy)
    assert (failed.embedding_status, failed.embedding_error) == (EmbeddingStatus.FAILED, "CUDA out of memory")


def test_compute_fails_cleanly_without_source_pixels(default_model):
    embedding = Embedding.objects.create(
        image_sha256="a" * 64, model=default_model, model_sha256=default_model.checkpoint_sha256
    )
    failed = embedding_compute(embedding.pk)
    assert failed.status == EmbeddingState.FAILED and "names no source pixels" in failed.error
