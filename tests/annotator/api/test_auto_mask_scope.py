"""Issue 15, queues that cannot starve labelers: segment everything needs an explicit scope, and a
project runs at most ANNOTATOR_MAX_BULK_JOBS_PER_PROJECT bulk jobs at once (429 with a clear message)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotator.models import AutoMaskJob, AutoMaskJobStatus, Export, ExportStatus, Role
from tests.factories import make_image, make_label_class, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    manager = make_user()
    project = make_project(members={manager: Role.MANAGER})
    make_label_class(project)
    image = make_image(project, width=32, height=32)
    client = APIClient()
    client.force_authenticate(manager)
    return client, project, image


def test_an_empty_body_is_refused_not_the_whole_project(setup):
    client, project, image = setup
    response = client.post(f"/api/projects/{project.pk}/auto-masks/", {}, format="json")
    assert response.status_code == 400 and "Name the scope" in response.json()["all_images"][0]
    both = client.post(
        f"/api/projects/{project.pk}/auto-masks/", {"image_id": image.pk, "all_images": True}, format="json"
    )
    assert both.status_code == 400
    assert not AutoMaskJob.objects.exists()


def test_an_explicit_whole_project_scope_creates_the_job(setup):
    client, project, image = setup
    response = client.post(f"/api/projects/{project.pk}/auto-masks/", {"all_images": True}, format="json")
    assert response.status_code == 201, response.content
    assert AutoMaskJob.objects.get().image_ids == [image.pk]


def test_bulk_jobs_over_the_project_cap_get_429(setup, settings):
    settings.ANNOTATOR_MAX_BULK_JOBS_PER_PROJECT = 2
    client, project, image = setup
    url = f"/api/projects/{project.pk}/auto-masks/"
    Export.objects.create(project=project, format="coco", status=ExportStatus.RUNNING)
    assert client.post(url, {"image_id": image.pk}, format="json").status_code == 201
    refused = client.post(url, {"image_id": image.pk}, format="json")
    assert refused.status_code == 429 and "at most 2" in refused.json()["detail"]
    assert AutoMaskJob.objects.count() == 1
    # Finished jobs do not count.
    AutoMaskJob.objects.update(status=AutoMaskJobStatus.DONE)
    assert client.post(url, {"image_id": image.pk}, format="json").status_code == 201
    # Another project is not limited by this one's jobs.
    other = make_project(members={make_user(): Role.MANAGER})
    assert AutoMaskJob.objects.filter(project=other).count() == 0
