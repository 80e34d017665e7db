"""Real fine-tuning runs on the shipped default model (CPU): started through the API and run by the
Celery task (eager), a version trained, registered, promoted and rolled back; the command line's last
line; a cancelled run leaves no version. Objects: striped ellipses on noise of the same brightness,
a domain the default model never saw."""

from __future__ import annotations

import re
from io import StringIO

import cv2
import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image as PILImage
from rest_framework.test import APIClient

from annotator.models import FinetuneRun, FinetuneRunStatus, Role
from annotator.services.finetuning import finetune_cancel, finetune_start
from annotator.services.finetuning_run import finetune_execute
from config.celery import app as celery_app
from segmentation.models import Embedding, SamModel
from segmentation.sam.encoder import encode_images
from segmentation.sam.loader import load_sam
from segmentation.services.models import committed_default_checkpoint, default_sam_model
from tests.annotator.finetuning.conftest import labelled_images
from tests.factories import make_label_class, make_project, make_user

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

LAST_LINE = re.compile(
    r"^held-out NoC@90 (\d+\.\d\d) -> (\d+\.\d\d); mIoU@1 (\d\.\d{3}) -> (\d\.\d{3}); (promoted|kept) (.+)$"
)


def _cell_scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    height, width = 120, 160
    background = rng.normal(90, 25, (height, width)).clip(0, 255).astype(np.uint8)
    mask = np.zeros((height, width), np.uint8)
    center = (int(rng.integers(40, 120)), int(rng.integers(30, 90)))
    axes = (int(rng.integers(14, 30)), int(rng.integers(12, 25)))
    cv2.ellipse(mask, center, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    stripes = ((np.indices((height, width)).sum(0) // 3) % 2 * 80 + 50).astype(np.uint8)
    return np.stack([np.where(mask > 0, stripes, background)] * 3, -1), mask.astype(bool)


@pytest.fixture(scope="module")
def scenes() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(rgb, mask, embedding by the default model) of 32 generated scenes."""
    made = [_cell_scene(seed) for seed in range(32)]
    sam = load_sam("default", committed_default_checkpoint())
    embeddings = encode_images(sam, [rgb for rgb, _ in made], "cpu", batch_size=4)
    return [(rgb, mask, np.asarray(emb, np.float32)) for (rgb, mask), emb in zip(made, embeddings)]


@pytest.fixture
def cells(db, scenes, settings, tmp_path):
    """A project whose approved objects (10+ training, 10+ held-out at holdout 0.5) have embeddings
    under the registered default model. Versions go to this test's checkpoint folder (the default
    model is registered first, so its decoder export stays cached in the shared one)."""
    base = default_sam_model()
    settings.SEGMENTATION_CHECKPOINT_DIR = tmp_path / "checkpoints"
    manager = make_user("cells-manager")
    project = make_project("Cells", members={manager: Role.MANAGER})
    make_label_class(project, "cell")
    labelled_images(project, base, holdout=0.5, scenes=[(mask, emb) for _, mask, emb in scenes])
    client = APIClient()
    client.force_login(manager)
    return {
        "project": project,
        "base": base,
        "manager": manager,
        "client": client,
        "checkpoints": tmp_path / "checkpoints",
    }


@pytest.fixture
def eager_tasks():
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def test_a_run_trains_registers_promotes_and_rolls_back(
    cells, eager_tasks, scenes, tmp_path, django_capture_on_commit_callbacks
):
    project, base, client = cells["project"], cells["base"], cells["client"]
    params = {"minutes": 5, "max_epochs": 2, "lr": 5e-4, "holdout": 0.5, "promote": "always", "seed": 1}
    with django_capture_on_commit_callbacks(execute=True):  # the commit sends the task; eager runs it here
        response = client.post(f"/api/projects/{project.pk}/finetune-runs/", params, format="json")
    assert response.status_code == 201, response.content
    run = FinetuneRun.objects.select_related("result_model").get(pk=response.json()["id"])
    assert run.status == FinetuneRunStatus.DONE, run.message
    version = run.result_model
    assert run.decision == "promoted" and version is not None and version.pk != base.pk
    assert version.parent == base and version.encoder_sha256 == base.encoder_sha256 and not version.is_default
    assert version.decoder_fp32_sha256 != base.decoder_fp32_sha256
    project.refresh_from_db()
    assert project.sam_model == version
    # The record: objects, data, metrics, progress and the loss curve.
    assert len(run.annotations) == run.train_objects + run.heldout_objects >= 20
    assert version.training["data"]["annotations"] == run.annotations
    assert set(run.metrics["base"]) >= {"mIoU@1", "mIoU@3", "NoC@85", "NoC@90", "fail@90"}
    assert run.metrics == version.training["metrics"]
    assert [row["epoch"] for row in run.history["epochs"]][:1] == [1.0] and run.history["steps"]
    assert run.progress["heldout"] is not None and run.seconds > 0 and run.finished_at is not None

    # The browser's manifest names the version; rolling back names the base again.
    manifest = client.get(f"/api/projects/{project.pk}/model/").json()
    assert manifest["model"]["id"] == version.pk
    versions = client.get(f"/api/projects/{project.pk}/model-versions/").json()
    assert [(row["id"], row["active"]) for row in versions] == [(base.pk, False), (version.pk, True)]
    assert client.post(f"/api/projects/{project.pk}/model-versions/{base.pk}/activate/").status_code == 200
    assert client.get(f"/api/projects/{project.pk}/model/").json()["model"]["id"] == base.pk

    # evaluate_clicks evaluates the version by its name.
    folder = tmp_path / "eval"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for index, (rgb, mask, _) in enumerate(scenes[:2]):
        PILImage.fromarray(rgb).save(folder / "images" / f"cell{index}.png")
        PILImage.fromarray((mask * 255).astype(np.uint8)).save(folder / "masks" / f"cell{index}.png")
    out = StringIO()
    call_command("evaluate_clicks", str(folder), "--model", version.name, "--max-clicks", "2", stdout=out)
    assert out.getvalue().startswith(f"{version.name}: 2 objects in 2 images")


def test_the_command_line_prints_the_comparison_last(cells):
    """lr 0: nothing changes, so "auto" keeps the base and the numbers on both sides are equal."""
    out, err = StringIO(), StringIO()
    before = SamModel.objects.count()
    call_command(
        "finetune_decoder",
        "--project",
        "Cells",
        "--minutes",
        "2",
        "--holdout",
        "0.5",
        "--max-epochs",
        "1",
        "--lr",
        "0",
        stdout=out,
        stderr=err,
    )
    last = out.getvalue().strip().splitlines()[-1]
    match = LAST_LINE.match(last)
    assert match, last
    noc_base, noc_tuned, miou_base, miou_tuned, decision, name = match.groups()
    assert (noc_base, miou_base) == (noc_tuned, miou_tuned) and decision == "kept" and name == cells["base"].name
    assert "epoch 1:" in err.getvalue() and "no version registered" in err.getvalue()
    assert SamModel.objects.count() == before
    run = FinetuneRun.objects.get()
    assert run.status == "done" and run.decision == "kept" and run.result_model is None and run.requested_by is None


def test_a_cancelled_run_leaves_no_version(cells):
    run = finetune_start(
        project=cells["project"],
        user=cells["manager"],
        params={"holdout": 0.5, "max_epochs": 4, "patience": 4, "lr": 5e-4},
        enqueue=False,
    )
    before = SamModel.objects.count()

    def cancel_at_first_step(row: dict) -> None:
        if row.get("step") == 1:
            finetune_cancel(run=run, user=cells["manager"])

    run = finetune_execute(run.pk, report=cancel_at_first_step)
    assert run.status == FinetuneRunStatus.CANCELLED and run.result_model is None and run.decision == ""
    assert SamModel.objects.count() == before
    assert not list(cells["checkpoints"].glob("finetuned-*"))
    cells["project"].refresh_from_db()
    assert cells["project"].sam_model is None


@pytest.mark.timeout(1500)  # encoder passes, five decoder graphs exported and checked: minutes on a busy CPU
def test_the_command_line_trains_the_encoder_too_and_the_project_is_embedded_again(
    cells, django_capture_on_commit_callbacks
):
    """--train-encoder: the version has an encoder of its own; promoted, it makes every image of the
    project wait for an embedding under that encoder (requested after the commit)."""
    out, err = StringIO(), StringIO()
    with django_capture_on_commit_callbacks(execute=False) as sent:
        call_command(
            "finetune_decoder",
            "--project",
            "Cells",
            "--minutes",
            "3",
            "--holdout",
            "0.5",
            "--max-epochs",
            "1",
            "--lr",
            "5e-4",
            "--promote",
            "always",
            "--train-encoder",
            stdout=out,
            stderr=err,
        )
    match = LAST_LINE.match(out.getvalue().strip().splitlines()[-1])
    assert match and match.group(5) == "promoted", out.getvalue() + err.getvalue()
    run = FinetuneRun.objects.select_related("result_model").get()
    version = run.result_model
    assert run.params["train_encoder"] is True and version.training["params"]["train_encoder"] is True
    assert version.encoder_sha256 == version.checkpoint_sha256 != cells["base"].encoder_sha256
    project = cells["project"]
    project.refresh_from_db()
    assert project.sam_model == version
    waiting = Embedding.objects.filter(model_sha256=version.encoder_sha256)
    assert waiting.count() == project.images.count() and len(sent) >= project.images.count()
