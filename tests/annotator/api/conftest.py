import pytest
from rest_framework.test import APIClient

from tests.factories import make_image, make_label_class, make_project, make_user


@pytest.fixture
def team(db):
    """A project with one user per role, a label class and an image (40x30)."""
    users = {role: make_user(role) for role in ["manager", "annotator", "reviewer"]}
    project = make_project("Team project", members={user: role for role, user in users.items()})
    return {
        **users,
        "project": project,
        "label_class": make_label_class(project, "cell"),
        "image": make_image(project, width=40, height=30, name="cells-001.png"),
    }


@pytest.fixture
def api_as():
    def client_for(user) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client

    return client_for
