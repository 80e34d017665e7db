"""Annotation CRUD over the API: derived geometry, optimistic locking (409), clear JSON errors."""

import numpy as np
import pytest

from annotator import geometry
from annotator.models import Annotation
from tests.factories import make_annotation, make_label_class, make_project, square_polygons

pytestmark = pytest.mark.django_db


def create(client, image, **body):
    return client.post(f"/api/images/{image.pk}/annotations/", body, format="json")


def test_create_from_rle_returns_derived_fields(team, api_as):
    mask = np.zeros((30, 40), np.uint8)
    mask[2:12, 4:14] = 1
    response = create(
        api_as(team["annotator"]),
        team["image"],
        label_class=team["label_class"].pk,
        source="sam_click",
        rle=geometry.rle_encode(mask),
        prompts={"points": [[8, 6, 1]]},
        click_count=1,
        time_spent_ms=1200,
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["area"] == 100 and body["bbox"] == [4.0, 2.0, 10.0, 10.0]
    assert body["author_name"] == "annotator" and body["version"] == 1
    assert np.array_equal(geometry.polygons_to_mask(body["polygons"], width=40, height=30), mask)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"label_class": "cell", "source": "manual", "polygons": square_polygons(1, 1, 3)}, "label_class"),
        ({"label_class": 1, "source": "pencil", "polygons": square_polygons(1, 1, 3)}, "source"),
        ({"source": "manual", "polygons": square_polygons(1, 1, 3)}, "label_class"),
        ({"label_class": 1, "source": "manual", "polygons": "square"}, "geometry"),
        ({"label_class": 1, "source": "manual", "polygons": square_polygons(30, 20, 20)}, "geometry"),
        ({"label_class": 1, "source": "manual", "rle": {"size": [10, 10], "counts": "0"}}, "rle"),
        (
            {"label_class": 1, "source": "manual", "polygons": square_polygons(1, 1, 3), "click_count": -1},
            "click_count",
        ),
        ({"label_class": 1, "source": "manual", "polygons": square_polygons(1, 1, 3), "prompts": [1, 2]}, "prompts"),
        ({"label_class": 1, "source": "manual", "polygons": square_polygons(1, 1, 3), "status": "approved"}, "detail"),
    ],
)
def test_bad_input_gets_json_error_and_writes_nothing(team, api_as, body, field):
    if body.get("label_class") == 1:
        body["label_class"] = team["label_class"].pk
    response = create(api_as(team["annotator"]), team["image"], **body)
    assert response.status_code in (400, 403)
    assert field in response.json() and "detail" in response.json()
    assert Annotation.objects.count() == 0


def test_label_class_of_another_project_is_refused(team, api_as):
    foreign_class = make_label_class(make_project())
    response = create(
        api_as(team["manager"]),
        team["image"],
        label_class=foreign_class.pk,
        source="manual",
        polygons=square_polygons(1, 1, 3),
    )
    assert response.status_code == 400
    assert response.json()["label_class"] == ["No such label class in this project."]


def test_stale_update_gets_409_with_current_version(team, api_as):
    annotation = make_annotation(team["image"], label_class=team["label_class"], author=team["annotator"])
    first = api_as(team["annotator"]).patch(
        f"/api/annotations/{annotation.pk}/", {"version": 1, "polygons": square_polygons(5, 5, 4)}, format="json"
    )
    assert first.status_code == 200 and first.json()["version"] == 2
    stale = api_as(team["manager"]).patch(
        f"/api/annotations/{annotation.pk}/", {"version": 1, "polygons": square_polygons(1, 1, 3)}, format="json"
    )
    assert stale.status_code == 409
    body = stale.json()
    assert body["current_version"] == 2 and body["current"]["area"] == 16 and "detail" in body
    annotation.refresh_from_db()
    assert annotation.status == "draft" and annotation.version == 2


def test_update_without_version_is_refused(team, api_as):
    annotation = make_annotation(team["image"], label_class=team["label_class"], author=team["annotator"])
    response = api_as(team["annotator"]).patch(
        f"/api/annotations/{annotation.pk}/", {"status": "submitted"}, format="json"
    )
    assert response.status_code == 400 and "version" in response.json()
    wrong_type = api_as(team["annotator"]).patch(
        f"/api/annotations/{annotation.pk}/", {"version": "latest", "status": "submitted"}, format="json"
    )
    assert wrong_type.status_code == 400 and "version" in wrong_type.json()


def test_reviewer_comments_but_sets_status_only_through_review_endpoints(team, api_as):
    annotation = make_annotation(team["image"], label_class=team["label_class"], author=team["annotator"])
    reviewer = api_as(team["reviewer"])
    url = f"/api/annotations/{annotation.pk}/"
    # Geometry only while the image is submitted (tests/annotator/review/test_review_in_annotator_api.py).
    assert reviewer.patch(url, {"version": 1, "polygons": square_polygons(0, 0, 2)}, format="json").status_code == 403
    refused = reviewer.patch(url, {"version": 1, "status": "rejected", "review_comment": "too loose"}, format="json")
    assert refused.status_code == 400 and f"/api/annotations/{annotation.pk}/review/" in refused.json()["detail"]
    response = reviewer.patch(url, {"version": 1, "review_comment": "too loose"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "draft" and response.json()["review_comment"] == "too loose"


def test_annotator_cannot_approve_own_work(team, api_as):
    annotation = make_annotation(team["image"], label_class=team["label_class"], author=team["annotator"])
    response = api_as(team["annotator"]).patch(
        f"/api/annotations/{annotation.pk}/", {"version": 1, "status": "approved"}, format="json"
    )
    assert response.status_code == 403 and "detail" in response.json()


def test_geometry_edit_of_sam_annotation_sets_flag(team, api_as):
    annotation = make_annotation(
        team["image"], label_class=team["label_class"], author=team["annotator"], source="sam_click"
    )
    response = api_as(team["annotator"]).patch(
        f"/api/annotations/{annotation.pk}/", {"version": 1, "polygons": square_polygons(8, 8, 4)}, format="json"
    )
    assert response.json()["edited_after_sam"] is True


def test_list_is_ordered_and_complete(team, api_as):
    made = [make_annotation(team["image"], label_class=team["label_class"]) for _ in range(3)]
    response = api_as(team["reviewer"]).get(f"/api/images/{team['image'].pk}/annotations/")
    assert [row["id"] for row in response.json()] == [a.pk for a in made]


def test_annotation_list_query_count_does_not_grow(team, api_as, django_assert_max_num_queries):
    client = api_as(team["reviewer"])
    for _ in range(10):
        make_annotation(team["image"], label_class=team["label_class"], author=team["annotator"])
    with django_assert_max_num_queries(8):
        assert client.get(f"/api/images/{team['image'].pk}/annotations/").status_code == 200
