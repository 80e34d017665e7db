"""Server-rendered pages: login, project list, project detail (grid), upload."""

import pytest
from django.urls import reverse

from annotator.models import Membership, Project
from tests.factories import make_annotation, make_image, make_label_class, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(db):
    manager, annotator, outsider = make_user("maria"), make_user("anton"), make_user("olga")
    project = make_project("Cells", members={manager: "manager", annotator: "annotator"})
    make_label_class(project, "nucleus", color="#ff0000")
    ready = make_image(project, name="ready.png", embedding_status="ready")
    make_image(project, name="failed.png", embedding_status="failed", embedding_error="CUDA out of memory")
    make_annotation(ready, label_class=project.label_classes.first())
    other = make_project("Secret", members={outsider: "manager"})
    return {"manager": manager, "annotator": annotator, "outsider": outsider, "project": project, "other": other}


def test_login_page_and_login(client):
    make_user("lena", password="a-long-secret-42")
    page = client.get(reverse("login"))
    assert page.status_code == 200 and b'name="password"' in page.content
    response = client.post(reverse("login"), {"username": "lena", "password": "a-long-secret-42"})
    assert response.status_code == 302 and response["Location"] == reverse("project-list")
    client.logout()
    wrong = client.post(reverse("login"), {"username": "lena", "password": "nope"})
    assert wrong.status_code == 200 and b"did not match" in wrong.content


def test_pages_need_login(client, setup):
    for url in [reverse("project-list"), reverse("project-detail", args=[setup["project"].pk])]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_project_list_shows_only_member_projects(client, setup):
    client.force_login(setup["annotator"])
    content = client.get(reverse("project-list")).content.decode()
    assert "Cells" in content and "Secret" not in content


def test_create_project_from_page(client, setup):
    client.force_login(setup["annotator"])
    response = client.post(reverse("project-list"), {"name": "Mitochondria"})
    project = Project.objects.get(name="Mitochondria")
    assert response.status_code == 302 and response["Location"] == reverse("project-detail", args=[project.pk])
    assert Membership.objects.get(project=project, user=setup["annotator"]).role == "manager"
    duplicate = client.post(reverse("project-list"), {"name": "Mitochondria"})
    assert duplicate.status_code == 400 and "already exists" in duplicate.content.decode()


def test_project_detail_grid(client, setup):
    client.force_login(setup["annotator"])
    response = client.get(reverse("project-detail", args=[setup["project"].pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert "ready.png" in content and "failed.png" in content
    assert "CUDA out of memory" in content  # failure reason shown on the tile
    assert "ready 1" in content and "failed 1" in content and "pending 0" in content
    assert "nucleus" in content and "maria" in content and "anton" in content
    assert "1 ann." in content
    assert reverse("project-upload", args=[setup["project"].pk]) not in content  # annotators do not upload


def test_project_detail_filters(client, setup):
    client.force_login(setup["manager"])
    url = reverse("project-detail", args=[setup["project"].pk])
    content = client.get(url, {"embedding_status": "failed"}).content.decode()
    assert "failed.png" in content and "ready.png" not in content
    content = client.get(url, {"q": "ready"}).content.decode()
    assert "ready.png" in content and "failed.png" not in content


def test_manager_sees_upload_link_and_page(client, setup):
    client.force_login(setup["manager"])
    upload_url = reverse("project-upload", args=[setup["project"].pk])
    assert upload_url in client.get(reverse("project-detail", args=[setup["project"].pk])).content.decode()
    page = client.get(upload_url)
    assert page.status_code == 200
    assert reverse("api-image-list", args=[setup["project"].pk]) in page.content.decode()
    assert b"uploadPage" in page.content and b"<progress" in page.content  # frontend/src/pages/uploadPage.ts


def test_non_member_gets_404_and_annotator_403_on_upload(client, setup):
    client.force_login(setup["outsider"])
    assert client.get(reverse("project-detail", args=[setup["project"].pk])).status_code == 404
    assert client.get(reverse("project-upload", args=[setup["project"].pk])).status_code == 404
    client.force_login(setup["annotator"])
    assert client.get(reverse("project-upload", args=[setup["project"].pk])).status_code == 403


def test_static_assets_are_served(client):
    assert client.get("/static/css/app.css").status_code == 200
    assert client.get("/static/dist/.vite/manifest.json").status_code == 200


def test_project_detail_query_count_does_not_grow(client, setup, django_assert_max_num_queries):
    client.force_login(setup["manager"])
    for _ in range(10):
        make_annotation(make_image(setup["project"]), label_class=setup["project"].label_classes.first())
    # 15: the Model panel reads the project's active model (one query, whatever the image count);
    # 16: the annotators' active time (one query, annotator.selectors_activity).
    with django_assert_max_num_queries(16):
        assert client.get(reverse("project-detail", args=[setup["project"].pk])).status_code == 200
