"""Deleting a project or an image removes every file that belongs to it (issue 15): originals, display
renditions, thumbnails, smaller renditions, embeddings no other image uses, and exports. Checked by
listing the media folder before and after; shared content stays while another project holds it."""

import io
from pathlib import Path

import pytest
from django.conf import settings

from annotator.models import Export, ExportFormat
from annotator.services.exports import export_run
from annotator.services.images import image_delete, images_ingest
from annotator.services.projects import project_delete
from annotator.services.renditions import display_rendition
from segmentation.models import Embedding
from segmentation.services.embeddings import embedding_compute
from tests.factories import image_bytes, make_project, make_user

pytestmark = pytest.mark.django_db


def media_files() -> set[str]:
    """Every file in the media folder but the model's decoder graphs (decoders/: the model's, shared
    by every project)."""
    root = Path(settings.MEDIA_ROOT)
    names = {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}
    return {name for name in names if not name.startswith("decoders/")}


def ingest(project, name: str, seed: int):
    report = images_ingest(project=project, files=[(name, io.BytesIO(image_bytes(96, 64, seed=seed)))], user=None)
    assert report.rejected == []
    (image,) = report.accepted
    embedding_compute(Embedding.objects.get(image_sha256=image.sha256).pk)
    display_rendition(image, 32)  # a smaller display rendition, as a large image gets
    return image


@pytest.fixture
def project_with_files(settings):
    settings.ANNOTATOR_DISPLAY_MAX_SIDE = 32
    manager = make_user("owner")
    project = make_project("Doomed", members={manager: "manager"})
    images = [ingest(project, "a.png", 1), ingest(project, "b.png", 2)]
    export = Export.objects.create(project=project, requested_by=manager, format=ExportFormat.COCO, options={})
    export_run(export.pk)
    export.refresh_from_db()
    assert export.file.name
    return project, images, export


def test_project_delete_removes_every_file(project_with_files, django_capture_on_commit_callbacks):
    project, images, export = project_with_files
    doomed = media_files()
    kept = make_project("Other")
    kept_image = ingest(kept, "c.png", 3)
    kept_files = media_files() - doomed
    assert export.file.name in doomed
    for image in images:  # original, display, thumbnail, smaller rendition, embedding
        assert {image.file.name, image.display.name, image.thumbnail.name} <= doomed
        assert sum(1 for name in doomed if image.sha256 in name) >= 1

    with django_capture_on_commit_callbacks(execute=True):
        project_delete(project=project)

    assert media_files() == kept_files
    assert not Embedding.objects.filter(image_sha256__in=[image.sha256 for image in images]).exists()
    assert Embedding.objects.filter(image_sha256=kept_image.sha256).exists()


def test_image_delete_keeps_content_another_project_holds(settings, django_capture_on_commit_callbacks):
    settings.ANNOTATOR_DISPLAY_MAX_SIDE = 32
    first, second = make_project("One"), make_project("Two")
    image = ingest(first, "same.png", 9)
    twin = ingest(second, "same.png", 9)  # same content: the same blobs and embedding
    before = media_files()
    with django_capture_on_commit_callbacks(execute=True):
        image_delete(image=image)
    assert media_files() == before
    assert Embedding.objects.filter(image_sha256=twin.sha256).exists()

    with django_capture_on_commit_callbacks(execute=True):
        image_delete(image=twin)
    assert media_files() == set()
    assert not Embedding.objects.filter(image_sha256=twin.sha256).exists()
