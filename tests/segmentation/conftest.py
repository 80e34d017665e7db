"""Fixtures of the engine tests: the registered default model (its decoder export is cached on
local disk under SEGMENTATION_CHECKPOINT_DIR, so only the first test of a run pays for it)."""

from __future__ import annotations

import pytest


@pytest.fixture
def default_model(db):
    from segmentation.services.models import default_sam_model

    return default_sam_model()


def api_client(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def member_with_image(default_model, django_capture_on_commit_callbacks):
    """Factory: an annotator's and an outsider's API clients, a project and an image of the given size
    whose embedding is requested (not computed) under the default model."""
    from annotator.models import Role
    from annotator.services.embeddings import embeddings_request
    from tests.factories import make_image, make_project, make_user

    def make(*, width: int, height: int) -> dict:
        member, outsider = make_user(), make_user()
        project = make_project(members={member: Role.ANNOTATOR})
        image = make_image(project, width=width, height=height)
        with django_capture_on_commit_callbacks(execute=False):
            embeddings_request(images=[image])
        return {
            "member": api_client(member),
            "outsider": api_client(outsider),
            "project": project,
            "image": image,
            "model": default_model,
        }

    return make
