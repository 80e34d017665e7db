import pytest
from rest_framework.test import APIClient

from tests.factories import make_user

pytestmark = pytest.mark.django_db

PATHS = [
    "/api/projects/",
    "/api/projects/{project_id}/",
    "/api/projects/{project_id}/members/",
    "/api/projects/{project_id}/label-classes/",
    "/api/projects/{project_id}/images/",
    "/api/images/{image_id}/",
    "/api/images/{image_id}/file/",
    "/api/images/{image_id}/thumbnail/",
    "/api/images/{image_id}/annotations/",
    "/api/annotations/{annotation_id}/",
    "/api/auth/token/",
]


def test_schema_lists_every_path():
    client = APIClient()
    client.force_login(make_user())
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in PATHS:
        assert path in paths, path
    assert "409" in paths["/api/annotations/{annotation_id}/"]["patch"]["responses"]


def test_schema_generates_without_warnings():
    # Needs SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] naming AnnotationStatus and EmbeddingStatus:
    # several models have a "status" field with different choices.
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    SchemaGenerator().get_schema(request=None, public=True)
    warnings = list(GENERATOR_STATS._warn_cache) + list(GENERATOR_STATS._error_cache)
    assert warnings == []


def test_docs_page_renders():
    client = APIClient()
    client.force_login(make_user())
    assert client.get("/api/docs/").status_code == 200


def test_token_auth_for_scripts():
    user = make_user("scripter", password="a-long-secret-42")
    client = APIClient()
    token = client.post("/api/auth/token/", {"username": "scripter", "password": "a-long-secret-42"}).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/projects/").status_code == 200
    assert user.auth_token.key == token
