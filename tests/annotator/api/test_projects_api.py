"""Projects, members and label classes over the API: rules and JSON errors."""

import pytest
from django.core.files.storage import default_storage

from annotator.models import Annotation, LabelClass, Membership, Project
from tests.factories import make_annotation, make_user

pytestmark = pytest.mark.django_db


def test_create_project_and_duplicate_name(db, api_as):
    client = api_as(make_user())
    created = client.post("/api/projects/", {"name": "Cells", "description": "HeLa"}, format="json")
    assert created.status_code == 201 and created.json()["my_role"] == "manager"
    again = api_as(make_user()).post("/api/projects/", {"name": "Cells"}, format="json")
    assert again.status_code == 400 and "name" in again.json() and "detail" in again.json()
    assert Project.objects.count() == 1 and Membership.objects.count() == 1


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": ["a"]}, {"name": "x" * 201}])
def test_create_project_bad_input(db, api_as, body):
    response = api_as(make_user()).post("/api/projects/", body, format="json")
    assert response.status_code == 400 and "name" in response.json()
    assert Project.objects.count() == 0


def test_malformed_json_is_a_json_error(db, api_as):
    response = api_as(make_user()).post("/api/projects/", "{not json", content_type="application/json")
    assert response.status_code == 400 and "detail" in response.json()


def test_rename_project(team, api_as):
    response = api_as(team["manager"]).patch(f"/api/projects/{team['project'].pk}/", {"name": "Renamed"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Renamed"


def test_add_member_by_username_and_id(team, api_as):
    client = api_as(team["manager"])
    url = f"/api/projects/{team['project'].pk}/members/"
    newcomer, other = make_user("newcomer"), make_user("other")
    assert client.post(url, {"username": "newcomer", "role": "annotator"}, format="json").status_code == 201
    assert client.post(url, {"user": other.pk, "role": "reviewer"}, format="json").status_code == 201
    duplicate = client.post(url, {"user": newcomer.pk, "role": "reviewer"}, format="json")
    assert duplicate.status_code == 400 and "already a member" in duplicate.json()["user"][0]
    unknown = client.post(url, {"username": "ghost", "role": "reviewer"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["user"] == ["No such user."]
    both = client.post(url, {"user": other.pk, "username": "other", "role": "reviewer"}, format="json")
    assert both.status_code == 400
    bad_role = client.post(url, {"username": "ghost", "role": "owner"}, format="json")
    assert bad_role.status_code == 400 and "role" in bad_role.json()
    assert {m["username"] for m in client.get(url).json()} == {"manager", "annotator", "reviewer", "newcomer", "other"}


def test_last_manager_cannot_be_removed(team, api_as):
    membership = Membership.objects.get(project=team["project"], user=team["manager"])
    url = f"/api/projects/{team['project'].pk}/members/{membership.pk}/"
    response = api_as(team["manager"]).delete(url)
    assert response.status_code == 400 and "at least one manager" in response.json()["role"][0]
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_label_class_crud_and_rules(team, api_as):
    client = api_as(team["manager"])
    url = f"/api/projects/{team['project'].pk}/label-classes/"
    created = client.post(url, {"name": "mitochondrion", "color": "#00FF00"}, format="json")
    assert created.status_code == 201 and created.json()["color"] == "#00ff00"
    duplicate = client.post(url, {"name": "cell"}, format="json")
    assert duplicate.status_code == 400 and "already has" in duplicate.json()["name"][0]
    bad_colour = client.patch(f"{url}{created.json()['id']}/", {"color": "green"}, format="json")
    assert bad_colour.status_code == 400 and "color" in bad_colour.json()
    make_annotation(team["image"], label_class=team["label_class"])
    in_use = client.delete(f"{url}{team['label_class'].pk}/")
    assert in_use.status_code == 400 and "used by 1" in in_use.json()["detail"]
    assert LabelClass.objects.filter(pk=team["label_class"].pk).exists()
    assert [row["name"] for row in client.get(url).json()] == ["cell", "mitochondrion"]


def test_delete_project_removes_rows_and_files(team, api_as, django_capture_on_commit_callbacks):
    make_annotation(team["image"], label_class=team["label_class"])
    names = [team["image"].file.name, team["image"].display.name, team["image"].thumbnail.name]
    with django_capture_on_commit_callbacks(execute=True):
        assert api_as(team["manager"]).delete(f"/api/projects/{team['project'].pk}/").status_code == 204
    assert not Project.objects.exists() and not LabelClass.objects.exists() and not Annotation.objects.exists()
    assert not any(default_storage.exists(name) for name in names)
