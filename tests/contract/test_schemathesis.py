"""The API keeps its published contract: schemathesis sends generated valid requests to every
operation of the OpenAPI schema (generated from the code, as /api/schema/ serves it) through the WSGI
app, as a project manager, against a seeded project, and checks every answer against the schema."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core import signals as signal
from django.core.files.base import ContentFile
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from annotator.models import Export, ExportFormat, ExportStatus, FinetuneRun, Job, Role
from annotator.selectors_embeddings import project_model
from config.wsgi import application
from tests.factories import make_annotation, make_image, make_label_class, make_project, make_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 25


def _schema_from_code() -> dict:
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document, renderer_context={}))


schema = schemathesis.openapi.from_dict(_schema_from_code())
schema.app = application
schema.config.generation.update(modes=["positive"], max_examples=EXAMPLES_PER_OPERATION, deterministic=True)
schema.config.phases.update(phases=["examples", "fuzzing"])


@pytest.fixture
def wsgi_shares_the_test_connection():
    """The WSGI handler closes the database connection after each request; the test's transaction
    lives on it, so keep it open, as Django's test client does."""
    signal.request_started.disconnect(close_old_connections)
    signal.request_finished.disconnect(close_old_connections)
    yield
    signal.request_started.connect(close_old_connections)
    signal.request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(db, wsgi_shares_the_test_connection):
    """A project the caller manages, with members, label classes, images, annotations, a job and a
    finished export: the path ids of every operation name one of these rows."""
    manager, annotator = make_user("contract-manager"), make_user("contract-annotator")
    project = make_project("Contract", members={manager: Role.MANAGER, annotator: Role.ANNOTATOR})
    label_class = make_label_class(project, "cell")
    make_label_class(project, "nucleus", order=1)
    image = make_image(project, width=40, height=30)
    make_image(project, width=24, height=16)
    annotation = make_annotation(image, label_class=label_class, author=annotator)
    job = Job.objects.create(project=project, name="job 1", annotator=annotator, reviewer=manager)
    export = Export.objects.create(
        project=project, format=ExportFormat.COCO, options={}, status=ExportStatus.DONE, requested_by=manager
    )
    export.file.save("contract.json", ContentFile(b"{}"))
    finetune_run = FinetuneRun.objects.create(project=project, base_model=project_model(project), params={})
    return {
        "token": Token.objects.create(user=manager).key,
        "path": {
            "project_id": project.pk,
            "membership_id": project.memberships.get(user=annotator).pk,
            "label_class_id": label_class.pk,
            "image_id": image.pk,
            "annotation_id": annotation.pk,
            "job_id": job.pk,
            "export_id": export.pk,
            "model_id": project_model(project).pk,
            "run_id": finetune_run.pk,
        },
    }


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_every_operation_keeps_the_contract(case, seeded):
    case.path_parameters = {
        name: seeded["path"].get(name, value) for name, value in (case.path_parameters or {}).items()
    }
    # Every example starts from the same rows: what one request deletes, the next one still finds.
    with transaction.atomic():
        case.call_and_validate(headers={"Authorization": f"Token {seeded['token']}"}, checks=CHECKS)
        transaction.set_rollback(True)
