import pytest
from rest_framework.test import APIClient

from tests.factories import make_image, make_label_class, make_project, make_user


@pytest.fixture
def crew(db):
    """A project run by a manager with two annotators and a reviewer, one label class, four images."""
    users = {name: make_user(name) for name in ["maria", "anton", "alina", "rita"]}
    project = make_project(
        "Review project",
        members={
            users["maria"]: "manager",
            users["anton"]: "annotator",
            users["alina"]: "annotator",
            users["rita"]: "reviewer",
        },
    )
    return {
        **users,
        "project": project,
        "cell": make_label_class(project, "cell"),
        "images": [make_image(project, name=f"img{n}.png") for n in range(4)],
    }


@pytest.fixture
def api_as():
    def client_for(user) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client

    return client_for
