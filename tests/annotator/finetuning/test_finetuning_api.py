"""Fine-tuning API: start (with its refusals as JSON), follow, cancel, versions, activate, and the
continuous-learning setting of the project. Roles are in tests/annotator/test_role_matrix.py."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotator.models import FinetuneRun, Project, Role
from segmentation.models import SamModel
from tests.annotator.finetuning.conftest import labelled_images
from tests.factories import make_label_class, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(fake_model):
    manager, reviewer = make_user("api-manager"), make_user("api-reviewer")
    project = make_project("Leaves", members={manager: Role.MANAGER, reviewer: Role.REVIEWER})
    make_label_class(project, "leaf")

    def client(user) -> APIClient:
        api = APIClient()
        api.force_login(user)
        return api

    return {"project": project, "manager": client(manager), "reviewer": client(reviewer), "model": fake_model}


def test_a_manager_starts_a_run_and_members_follow_it(team, django_capture_on_commit_callbacks):
    project = team["project"]
    labelled_images(project, team["model"], holdout=0.5)
    url = f"/api/projects/{project.pk}/finetune-runs/"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = team["manager"].post(url, {"minutes": 2, "holdout": 0.5, "promote": "never"}, format="json")
    assert response.status_code == 201, response.content
    run = response.json()
    assert len(callbacks) == 1
    assert run["status"] == "queued" and run["params"]["promote"] == "never" and run["params"]["minutes"] == 2.0
    assert run["base_model"] == team["model"].pk and run["base_model_name"] == "fake base"
    assert (
        run["result_model"] is None
        and run["progress"] == dict.fromkeys(("epoch", "step", "loss", "heldout"))
        and run["history"] == {}
        and run["metrics"] == {}
    )
    assert run["train_objects"] >= 10 and run["heldout_objects"] >= 10

    listed = team["reviewer"].get(url).json()
    assert [row["id"] for row in listed] == [run["id"]]
    FinetuneRun.objects.filter(pk=run["id"]).update(
        status="running",
        progress={"epoch": 1, "step": 3, "loss": 0.5, "heldout": 0.61},
        history={
            "epochs": [{"epoch": 1, "loss": 0.5, "heldout": 0.61, "seconds": 3.0}],
            "steps": [{"step": 1, "loss": 0.9}],
        },
    )
    detail = team["reviewer"].get(f"/api/finetune-runs/{run['id']}/").json()
    assert detail["progress"]["heldout"] == 0.61 and detail["history"]["steps"] == [{"step": 1.0, "loss": 0.9}]

    second = team["manager"].post(url, {}, format="json")
    assert second.status_code == 400 and "already queued or running" in second.json()["detail"]
    cancelled = team["manager"].post(f"/api/finetune-runs/{run['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["cancel_requested"] is True


def test_refusals_are_clear_json(team):
    url = f"/api/projects/{team['project'].pk}/finetune-runs/"
    too_few = team["manager"].post(url, {}, format="json")
    assert too_few.status_code == 400
    assert too_few.json()["detail"].startswith("Fine-tuning needs at least 10 training and 10 held-out objects")
    assert "Approve about 50 more objects." in too_few.json()["detail"]
    bad = team["manager"].post(url, {"promote": "sometimes", "minutes": -1}, format="json")
    assert bad.status_code == 400 and set(bad.json()) >= {"detail", "promote", "minutes"}
    assert not FinetuneRun.objects.exists()


def test_versions_list_and_activate(team):
    project, base = team["project"], team["model"]
    version = SamModel.objects.create(
        name="Leaves (fine-tune #1)",
        architecture="default",
        checkpoint_path="/nonexistent/v.pt",
        checkpoint_sha256="3" * 64,
        parent=base,
        encoder_sha256=base.encoder_sha256,
        encoder_input_size=64,
        embedding_shape=[4, 4, 4],
        training={"metrics": {"base": {"mIoU@1": 0.4}, "tuned": {"mIoU@1": 0.5}}, "seconds": 12.5},
    )
    FinetuneRun.objects.create(project=project, base_model=base, result_model=version, status="done")
    url = f"/api/projects/{project.pk}/model-versions/"
    rows = team["reviewer"].get(url).json()
    assert [(r["id"], r["active"], r["builtin_default"], r["parent_id"]) for r in rows] == [
        (base.pk, True, True, None),
        (version.pk, False, False, base.pk),
    ]
    assert rows[1]["metrics"]["tuned"] == {"mIoU@1": 0.5} and rows[1]["training_seconds"] == 12.5

    assert team["reviewer"].post(f"{url}{version.pk}/activate/").status_code == 403
    activated = team["manager"].post(f"{url}{version.pk}/activate/")
    assert activated.status_code == 200 and [r["active"] for r in activated.json()] == [False, True]
    project.refresh_from_db()
    assert project.sam_model == version
    manifest = team["reviewer"].get(f"/api/projects/{project.pk}/model/").json()
    assert manifest["model"]["id"] == version.pk

    stranger = SamModel.objects.create(
        name="elsewhere",
        architecture="default",
        checkpoint_path="/nonexistent/x.pt",
        checkpoint_sha256="4" * 64,
        encoder_input_size=64,
        embedding_shape=[4, 4, 4],
    )
    missing = team["manager"].post(f"{url}{stranger.pk}/activate/")
    assert missing.status_code == 404 and "detail" in missing.json()


def test_the_continuous_learning_setting_in_the_project_api(team):
    url = f"/api/projects/{team['project'].pk}/"
    assert team["reviewer"].get(url).json()["retrain_every"] == 0
    assert team["reviewer"].get(url).json()["retrain_due_in"] is None
    changed = team["manager"].patch(url, {"retrain_every": 50}, format="json")
    assert changed.status_code == 200 and changed.json()["retrain_every"] == 50
    assert changed.json()["retrain_due_in"] == 50
    assert team["manager"].patch(url, {"retrain_every": -1}, format="json").status_code == 400
    assert team["reviewer"].patch(url, {"retrain_every": 5}, format="json").status_code == 403


def test_an_official_model_set_as_the_default_is_not_called_the_built_in_one(team):
    """After `download_model vit_b --default` the default is Meta's model: no "synthetic shapes only"."""
    project = team["project"]
    SamModel.objects.filter(is_default=True).update(is_default=False)
    official = SamModel.objects.create(
        name="vit_b (sam_vit_b_01ec64.pth)",
        architecture="vit_b",
        checkpoint_path="/nonexistent/sam_vit_b.pth",
        checkpoint_sha256="5" * 64,
        encoder_input_size=1024,
        embedding_shape=[256, 64, 64],
        is_default=True,
    )
    Project.objects.filter(pk=project.pk).update(sam_model=None)
    rows = team["reviewer"].get(f"/api/projects/{project.pk}/model-versions/").json()
    assert [(r["id"], r["active"], r["builtin_default"]) for r in rows if r["id"] == official.pk] == [
        (official.pk, True, False)
    ]
