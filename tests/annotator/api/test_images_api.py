"""Image list (filters, pagination), detail, file and thumbnail streaming, query counts."""

import pytest
from django.core.files.storage import default_storage

from tests.factories import make_annotation, make_image, make_project, make_user

pytestmark = pytest.mark.django_db


def test_list_filters_by_status_annotation_and_name(team, api_as):
    project, first = team["project"], team["image"]
    ready = make_image(project, name="dog-ready.png", embedding_status="ready")
    make_image(project, name="cat.png", embedding_status="failed", embedding_error="out of memory")
    make_annotation(ready, label_class=team["label_class"])
    client = api_as(team["annotator"])
    url = f"/api/projects/{project.pk}/images/"

    def names(**params):
        response = client.get(url, params)
        assert response.status_code == 200
        return [row["original_name"] for row in response.json()["results"]]

    assert names() == ["cells-001.png", "dog-ready.png", "cat.png"]
    assert names(embedding_status="ready") == ["dog-ready.png"]
    assert names(annotated="true") == ["dog-ready.png"]
    assert names(annotated="false") == ["cells-001.png", "cat.png"]
    assert names(search="DOG") == ["dog-ready.png"]
    assert first.pk in [row["id"] for row in client.get(url).json()["results"]]


def test_bad_filter_gets_json_error(team, api_as):
    response = api_as(team["annotator"]).get(
        f"/api/projects/{team['project'].pk}/images/", {"embedding_status": "done"}
    )
    assert response.status_code == 400 and "embedding_status" in response.json()


def test_list_is_paginated(team, api_as, settings):
    for _ in range(4):
        make_image(team["project"])
    client = api_as(team["annotator"])
    url = f"/api/projects/{team['project'].pk}/images/"
    first = client.get(url, {"page_size": 2}).json()
    assert first["count"] == 5 and len(first["results"]) == 2 and first["next"]
    last = client.get(url, {"page_size": 2, "page": 3}).json()
    assert len(last["results"]) == 1 and last["next"] is None
    seen = [
        row["id"] for page in (1, 2, 3) for row in client.get(url, {"page_size": 2, "page": page}).json()["results"]
    ]
    assert len(set(seen)) == 5
    beyond = client.get(url, {"page_size": 2, "page": 9})
    assert beyond.status_code == 404 and "detail" in beyond.json()


def test_detail_has_counts_and_urls(team, api_as):
    make_annotation(team["image"], label_class=team["label_class"])
    body = api_as(team["reviewer"]).get(f"/api/images/{team['image'].pk}/").json()
    assert body["annotation_count"] == 1 and body["width"] == 40 and body["height"] == 30
    assert body["thumbnail_url"] == f"/api/images/{team['image'].pk}/thumbnail/"
    assert "annotate_url" in body


def test_file_thumbnail_and_original_stream_stored_bytes_with_etag(team, api_as):
    image = team["image"]
    client = api_as(team["annotator"])
    for url, field in [
        (f"/api/images/{image.pk}/file/", image.display),
        (f"/api/images/{image.pk}/file/?original=1", image.file),
        (f"/api/images/{image.pk}/thumbnail/", image.thumbnail),
    ]:
        response = client.get(url)
        assert response.status_code == 200
        with default_storage.open(field.name, "rb") as stored:
            assert b"".join(response.streaming_content) == stored.read()
        assert "private" in response["Cache-Control"]
        assert client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_missing_stored_file_is_404_json(team, api_as):
    default_storage.delete(team["image"].thumbnail.name)
    response = api_as(team["annotator"]).get(f"/api/images/{team['image'].pk}/thumbnail/")
    assert response.status_code == 404 and "detail" in response.json()


def test_image_list_query_count_does_not_grow(team, api_as, django_assert_max_num_queries):
    client = api_as(team["annotator"])
    for _ in range(12):
        make_annotation(make_image(team["project"]), label_class=team["label_class"])
    with django_assert_max_num_queries(8):
        assert len(client.get(f"/api/projects/{team['project'].pk}/images/").json()["results"]) == 13


def test_project_list_query_count_does_not_grow(db, api_as, django_assert_max_num_queries):
    user = make_user()
    for _ in range(8):
        project = make_project(members={user: "annotator"})
        make_annotation(make_image(project))
    client = api_as(user)
    with django_assert_max_num_queries(6):
        body = client.get("/api/projects/").json()
    assert body["count"] == 8
    assert all(
        row["image_count"] == 1 and row["annotation_count"] == 1 and row["my_role"] == "annotator"
        for row in body["results"]
    )
