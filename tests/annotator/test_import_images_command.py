"""manage.py import_images: files, folders and zips; one line per file; exit status 1 on rejects."""

import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from annotator.models import Image, Membership, Project, Role
from segmentation.models import SamModel
from tests.annotator import media_samples as samples
from tests.factories import make_project, make_user
from tests.settings_subprocess import REPO_ROOT, clean_env

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def default_model():
    """A default model row, so embeddings are requested without exporting a real decoder."""
    return SamModel.objects.create(
        name="test default",
        architecture="default",
        checkpoint_path="/nonexistent/test.pt",
        checkpoint_sha256="e" * 64,
        encoder_input_size=256,
        embedding_shape=[128, 32, 32],
        is_default=True,
    )


def run(*args: str) -> tuple[list[str], CommandError | None]:
    out = io.StringIO()
    try:
        call_command("import_images", *args, stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        return out.getvalue().splitlines(), exc
    return out.getvalue().splitlines(), None


def test_files_folder_and_zip_all_accepted(tmp_path):
    make_project("Birds")
    folder = tmp_path / "shots"
    (folder / "day1").mkdir(parents=True)
    (folder / "day1" / "a.png").write_bytes(samples.png(30, 20, seed=1))
    (folder / ".hidden.png").write_bytes(b"not looked at")
    (tmp_path / "rotated.jpg").write_bytes(samples.jpeg_exif_rotated(80, 40))
    (tmp_path / "batch.zip").write_bytes(samples.zip_archive({"in/b.bmp": samples.bmp(16, 8)}))
    lines, error = run("--project", "Birds", str(tmp_path / "rotated.jpg"), str(folder), str(tmp_path / "batch.zip"))
    assert error is None
    assert lines == ["accepted rotated.jpg 40x80", "accepted day1/a.png 30x20", "accepted batch.zip/in/b.bmp 16x8"]
    assert Image.objects.filter(project__name="Birds").count() == 3


def test_rejects_are_listed_with_reasons_and_exit_status_is_1(tmp_path):
    make_project("Mixed")
    (tmp_path / "good.png").write_bytes(samples.png(seed=2))
    (tmp_path / "notes.png").write_bytes(samples.text_named_png())
    (tmp_path / "slip.zip").write_bytes(samples.zip_archive({"../evil.png": samples.png(seed=3)}))
    lines, error = run("--project", "Mixed", str(tmp_path))
    assert error is not None and error.returncode == 1
    assert lines[0] == "accepted good.png 64x48"
    assert lines[1].startswith("rejected notes.png: not a supported image")
    assert lines[2].startswith("rejected slip.zip/../evil.png: unsafe path")
    assert len(lines) == 3


def test_duplicates_on_a_second_run_are_rejected(tmp_path):
    make_project("Again")
    (tmp_path / "one.png").write_bytes(samples.png(seed=4))
    assert run("--project", "Again", str(tmp_path / "one.png"))[1] is None
    lines, error = run("--project", "Again", str(tmp_path / "one.png"))
    image = Image.objects.get(project__name="Again")
    assert lines == [f"rejected one.png: duplicate of one.png (image {image.id})"]
    assert error.returncode == 1


def test_missing_project_needs_create(tmp_path):
    (tmp_path / "x.png").write_bytes(samples.png(seed=5))
    lines, error = run("--project", "New", str(tmp_path / "x.png"))
    assert "--create" in str(error) and not Project.objects.filter(name="New").exists()
    owner = make_user("owner")
    lines, error = run("--project", "New", "--create", "--user", "owner", str(tmp_path / "x.png"))
    assert error is None and lines == ["accepted x.png 64x48"]
    project = Project.objects.get(name="New")
    assert Membership.objects.get(project=project, user=owner).role == Role.MANAGER
    assert Image.objects.get(project=project).uploaded_by == owner


def test_unknown_user_and_missing_path_are_errors(tmp_path):
    make_project("P")
    assert "no user" in str(run("--project", "P", "--user", "ghost", str(tmp_path))[1])
    assert "no such file" in str(run("--project", "P", str(tmp_path / "absent.png"))[1])


@pytest.mark.slow
def test_command_line_exit_status(tmp_path):
    """The real entry point in a fresh process (its own SQLite file): exit status 1 and stdout lines."""
    (tmp_path / "bad.png").write_bytes(b"text")
    (tmp_path / "var").mkdir()  # the var folder is made by deployment, not by settings
    env = {"ANNOTATOR_VAR_DIR": str(tmp_path / "var"), "DJANGO_SECRET_KEY": "test"}
    migrate = run_manage(["migrate", "-v", "0"], env)
    assert migrate.returncode == 0, migrate.stderr
    result = run_manage(["import_images", "--project", "cli", "--create", str(tmp_path / "bad.png")], env)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "rejected bad.png: not a supported image: the content is none of JPEG, PNG, WebP, TIFF, BMP, GIF "
        "or DICOM (the file name's extension is not trusted)"
    ]
    assert "created project cli" in result.stderr and "1 of 1 files rejected" in result.stderr


def run_manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=180,
    )
