"""The project page's Model panel as the server renders it (the live parts are the TypeScript module's,
covered by tests/e2e/test_finetune_loop.py): the active model, the built-in default's warning, the
panel's initial JSON, and the manager-only forms."""

import json

import pytest
from django.urls import reverse

from annotator.selectors_embeddings import project_model
from segmentation.models import SamModel
from tests.factories import make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def project_and_users(db):
    manager, reviewer = make_user("mona"), make_user("rita")
    project = make_project("Cells", members={manager: "manager", reviewer: "reviewer"}, retrain_every=50)
    return project, manager, reviewer


def _page(client, user, project):
    client.force_login(user)
    response = client.get(reverse("project-detail", args=[project.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _panel_config(html: str) -> dict:
    start = html.index('<script id="model-panel-config" type="application/json">') + len(
        '<script id="model-panel-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_a_manager_gets_the_forms_and_the_default_models_plain_warning(client, project_and_users):
    project, manager, _ = project_and_users
    html = _page(client, manager, project)
    model = project_model(project)
    assert model.architecture == "default"
    assert 'id="finetune-form"' in html and 'id="retrain-form"' in html and 'id="finetune-cancel"' in html
    assert "trained on synthetic shapes only, weak on photographs" in html
    assert '<p id="model-default-warning" class="model-warning">' in html  # shown, not hidden
    assert "python manage.py download_model vit_b --default" in html
    config = _panel_config(html)
    assert config == {
        "project_id": project.pk,
        "can_manage": True,
        "retrain_every": 50,
        "next_run_after": 50,  # no approvals yet
        "active": {"id": model.pk, "name": model.name, "builtin_default": True},
    }
    assert "src/pages/projectModel.ts" not in html and "/static/dist/assets/projectModel-" in html


def test_other_members_see_the_model_without_buttons(client, project_and_users):
    project, _, reviewer = project_and_users
    html = _page(client, reviewer, project)
    assert 'id="model-panel"' in html and 'id="finetune-runs"' in html
    assert 'id="finetune-form"' not in html and 'id="retrain-form"' not in html and "finetune-cancel" not in html
    assert _panel_config(html)["can_manage"] is False


def test_a_fine_tuned_version_is_not_called_the_built_in_default(client, project_and_users):
    project, manager, _ = project_and_users
    base = project_model(project)
    version = SamModel.objects.create(
        name="Cells (fine-tune #1)",
        architecture=base.architecture,
        checkpoint_path="/nonexistent/version.pt",
        checkpoint_sha256="e" * 64,
        encoder_sha256=base.encoder_sha256,
        parent=base,
        encoder_input_size=base.encoder_input_size,
        embedding_shape=base.embedding_shape,
    )
    project.sam_model = version
    project.save(update_fields=["sam_model"])
    html = _page(client, manager, project)
    assert _panel_config(html)["active"] == {"id": version.pk, "name": version.name, "builtin_default": False}
    assert '<p id="model-default-warning" class="model-warning" hidden>' in html
