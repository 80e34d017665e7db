"""images_ingest / image_delete: files and zips, limits, duplicates, and nothing half-stored."""

import hashlib
import io
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from annotator.media import decode_image
from annotator.models import Image
from annotator.services.images import image_delete, images_ingest
from segmentation.models import Embedding, SamModel
from tests.annotator import media_samples as samples
from tests.factories import image_bytes, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def default_model():
    """A registered default model row, so embeddings_request runs for real without exporting a
    decoder (registration of the real default model takes tens of seconds)."""
    return SamModel.objects.create(
        name="test default",
        architecture="default",
        checkpoint_path="/nonexistent/test.pt",
        checkpoint_sha256="d" * 64,
        encoder_input_size=256,
        embedding_shape=[128, 32, 32],
        is_default=True,
    )


def block_thumbnail_folder(data: bytes) -> str:
    """Put a plain file where this image's thumbnail folder must go: a real OS error on the thumbnail
    write, after the original and display were written (as a full disk or a lost mount would cause).
    Returns the blocker's storage name."""
    digest = hashlib.sha256(decode_image(data, name="x").thumbnail).hexdigest()
    blocker = Path(django_settings.MEDIA_ROOT, "thumbnails", digest[:2])
    assert not blocker.exists(), "pick another seed: the thumbnail folder is shared"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"")
    return f"thumbnails/{digest[:2]}"


def stored_files() -> set[str]:
    root = Path(django_settings.MEDIA_ROOT)
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def ingest(project, *named: tuple[str, bytes], user=None):
    return images_ingest(project=project, files=[(name, io.BytesIO(data)) for name, data in named], user=user)


def test_single_image_is_stored_by_content_hash_with_displayed_size():
    user = make_user()
    project = make_project()
    report = ingest(project, ("photo.jpg", samples.jpeg_exif_rotated(80, 40)), user=user)
    assert report.rejected == []
    [image] = report.accepted
    image.refresh_from_db()
    assert (image.width, image.height, image.format) == (40, 80, "JPEG")
    assert image.original_name == "photo.jpg" and image.uploaded_by == user
    assert image.file.name == f"originals/{image.sha256[:2]}/{image.sha256}.jpg"
    assert image.display.name.startswith("display/") and image.display.name.endswith(".jpg")
    assert image.thumbnail.name.startswith("thumbnails/")
    assert default_storage.open(image.file.name).read() == samples.jpeg_exif_rotated(80, 40)
    assert stored_files() == {image.file.name, image.display.name, image.thumbnail.name}
    # Embeddings were requested for the new image under the project's (default) model.
    assert Embedding.objects.filter(image_sha256=image.sha256, model_sha256="d" * 64).count() == 1


def test_bad_files_are_reported_by_name_and_good_ones_still_succeed():
    project = make_project()
    report = ingest(
        project,
        ("good.png", samples.png(seed=1)),
        ("notes.png", samples.text_named_png()),
        ("cut.jpg", samples.truncated_jpeg()),
        ("also-good.bmp", samples.bmp()),
    )
    assert [image.original_name for image in report.accepted] == ["good.png", "also-good.bmp"]
    assert [name for name, _ in report.rejected] == ["notes.png", "cut.jpg"]
    assert "not a supported image" in report.rejected[0][1]
    assert "truncated" in report.rejected[1][1]
    assert Image.objects.filter(project=project).count() == 2
    assert len(stored_files()) == 6  # 3 blobs per accepted image, none for the rejected


def test_django_uploaded_files_are_accepted():
    upload = SimpleUploadedFile("up.png", samples.png(), content_type="image/png")
    report = images_ingest(project=make_project(), files=[(upload.name, upload)], user=None)
    assert [image.original_name for image in report.accepted] == ["up.png"]


def test_file_over_the_upload_limit_is_refused_before_reading(settings):
    settings.ANNOTATOR_MAX_UPLOAD_BYTES = 1000
    report = ingest(make_project(), ("big.png", image_bytes(100, 100)), ("small.png", samples.png(4, 4)))
    assert [name for name, _ in report.rejected] == ["big.png"]
    assert "over the upload limit" in report.rejected[0][1]
    assert len(report.accepted) == 1


def test_duplicate_in_project_names_the_existing_image():
    project = make_project()
    [first] = ingest(project, ("first.png", samples.png(seed=5))).accepted
    report = ingest(project, ("again.png", samples.png(seed=5)))
    assert report.accepted == []
    assert report.rejected == [("again.png", f"duplicate of first.png (image {first.id})")]
    assert Image.objects.filter(project=project).count() == 1


def test_duplicate_within_one_upload_is_refused():
    report = ingest(make_project(), ("a.png", samples.png(seed=6)), ("b.png", samples.png(seed=6)))
    assert [image.original_name for image in report.accepted] == ["a.png"]
    assert report.rejected == [("b.png", "duplicate of a.png in this upload")]


def test_same_content_in_two_projects_is_stored_once():
    first = ingest(make_project(), ("a.png", samples.png(seed=7))).accepted[0]
    second = ingest(make_project(), ("b.png", samples.png(seed=7))).accepted[0]
    assert (first.file.name, first.display.name, first.thumbnail.name) == (
        second.file.name,
        second.display.name,
        second.thumbnail.name,
    )
    assert len(stored_files()) == 3


def test_zip_with_good_and_bad_members():
    archive = samples.zip_archive(
        {
            "set/one.png": samples.png(seed=10),
            "set/two.jpg": samples.jpeg(seed=11),
            "set/readme.png": samples.text_named_png(),
            "set/": b"",
            "__MACOSX/set/._one.png": b"\x00\x05\x16\x07",
            "set/.DS_Store": b"junk",
        }
    )
    report = ingest(make_project(), ("batch.zip", archive))
    assert sorted(image.original_name for image in report.accepted) == [
        "batch.zip/set/one.png",
        "batch.zip/set/two.jpg",
    ]
    assert [name for name, _ in report.rejected] == ["batch.zip/set/readme.png"]


def test_zip_slip_absolute_and_symlink_members_are_refused():
    archive = samples.zip_archive(
        {
            "../evil.png": samples.png(seed=20),
            "/etc/abs.png": samples.png(seed=21),
            "C:\\windows\\drive.png": samples.png(seed=22),
            "ok/../../deep.png": samples.png(seed=23),
            "fine.png": samples.png(seed=24),
        },
        symlinks={"link.png": "/etc/passwd"},
    )
    report = ingest(make_project(), ("slip.zip", archive))
    assert [image.original_name for image in report.accepted] == ["slip.zip/fine.png"]
    reasons = dict(report.rejected)
    for member in ("../evil.png", "/etc/abs.png", "C:\\windows\\drive.png", "ok/../../deep.png"):
        assert "unsafe path" in reasons[f"slip.zip/{member}"]
    assert "symbolic link" in reasons["slip.zip/link.png"]
    assert len(stored_files()) == 3


def test_zip_over_the_total_uncompressed_limit_is_refused_whole(settings):
    settings.ANNOTATOR_MAX_ZIP_UNCOMPRESSED_BYTES = 50_000
    # Zeros compress to almost nothing: a small archive that expands past the limit.
    archive = samples.zip_archive({"a.png": samples.png(seed=30), "padding.bin": bytes(60_000)})
    assert len(archive) < 20_000
    report = ingest(make_project(), ("bomb.zip", archive))
    assert report.accepted == []
    assert len(report.rejected) == 1 and report.rejected[0][0] == "bomb.zip"
    assert "over the limit" in report.rejected[0][1]
    assert stored_files() == set()


def test_nested_zip_and_broken_zip_are_refused():
    inner = samples.zip_archive({"in.png": samples.png(seed=40)})
    report = ingest(
        make_project(),
        ("outer.zip", samples.zip_archive({"inner.zip": inner, "x.png": samples.png(seed=41)})),
        ("broken.zip", samples.zip_archive({"a.png": samples.png()})[:40]),
    )
    assert [image.original_name for image in report.accepted] == ["outer.zip/x.png"]
    reasons = dict(report.rejected)
    assert "inside a zip archive" in reasons["outer.zip/inner.zip"]
    assert "zip archive" in reasons["broken.zip"]


def test_storage_failure_leaves_no_row_and_no_file():
    project = make_project()
    doomed = samples.png(seed=50)
    blocker = block_thumbnail_folder(doomed)
    report = ingest(project, ("doomed.png", doomed))
    assert report.accepted == []
    assert report.rejected[0][0] == "doomed.png" and "could not be stored" in report.rejected[0][1]
    assert not Image.objects.exists()
    # The original and display written before the failure are gone again.
    assert stored_files() == {blocker}


def test_storage_failure_keeps_files_that_another_image_references():
    kept = ingest(make_project(), ("kept.png", samples.png(seed=51))).accepted[0]
    new = samples.png(seed=52)
    blocker = block_thumbnail_folder(new)
    before = stored_files()
    # Same content in another project reuses every blob, so nothing needs writing and it succeeds;
    # new content fails at its thumbnail and must not touch the shared blobs.
    report = ingest(make_project(), ("same.png", samples.png(seed=51)), ("new.png", new))
    assert [image.original_name for image in report.accepted] == ["same.png"]
    assert [name for name, _ in report.rejected] == ["new.png"]
    assert stored_files() == before and blocker in before
    assert Image.objects.filter(sha256=kept.sha256).count() == 2


def test_image_delete_keeps_shared_files_until_the_last_reference(django_capture_on_commit_callbacks):
    first = ingest(make_project(), ("a.png", samples.png(seed=60))).accepted[0]
    second = ingest(make_project(), ("b.png", samples.png(seed=60))).accepted[0]
    files = stored_files()
    assert len(files) == 3
    with django_capture_on_commit_callbacks(execute=True):
        image_delete(image=first)
    assert stored_files() == files
    with django_capture_on_commit_callbacks(execute=True):
        image_delete(image=second)
    assert stored_files() == set()
    assert not Image.objects.exists()
