"""Box annotations over the API: the box as drawn is stored exactly, checked (finite, positive size,
inside the image), its rectangle is the mask every mask reader draws; PATCH moves it."""

import pytest

from annotator import geometry
from annotator.models import Annotation

pytestmark = pytest.mark.django_db


def create(client, image, **body):
    return client.post(f"/api/images/{image.pk}/annotations/", body, format="json")


def test_box_is_stored_as_drawn_with_its_rectangle_as_mask(team, api_as):
    response = create(
        api_as(team["annotator"]),
        team["image"],
        label_class=team["label_class"].pk,
        source="manual",
        kind="box",
        bbox=[2.5, 3.25, 10.5, 6.0],
        click_count=1,
        time_spent_ms=900,
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "box" and body["bbox"] == [2.5, 3.25, 10.5, 6.0]
    assert body["polygons"] == [[[2.5, 3.25, 13.0, 3.25, 13.0, 9.25, 2.5, 9.25]]]
    mask = geometry.rle_decode(body["rle"])
    assert mask.shape == (30, 40) and body["area"] == int(mask.sum()) > 0
    assert body["click_count"] == 1 and body["time_spent_ms"] == 900


@pytest.mark.parametrize(
    "box, message",
    [
        ([1, 1, 0, 5], "positive width"),
        ([1, 1, 5, -2], "positive width"),
        ([35, 1, 10, 5], "outside the image"),
        ([-0.5, 1, 3, 3], "outside the image"),
        ([1, 1, 3], "[x, y, width, height]"),
        ([1, "a", 3, 3], "finite numbers"),
        ([1, 1, 2**70, 3], "outside the image"),
        (None, "needs bbox"),
    ],
)
def test_bad_boxes_get_a_clear_error_and_write_nothing(team, api_as, box, message):
    body = {"label_class": team["label_class"].pk, "source": "manual", "kind": "box"}
    if box is not None:
        body["bbox"] = box
    response = create(api_as(team["annotator"]), team["image"], **body)
    assert response.status_code == 400, response.json()
    assert message in str(response.json()) and "detail" in response.json()
    assert Annotation.objects.count() == 0


def test_non_finite_box_in_raw_json_is_refused(team, api_as):
    client = api_as(team["annotator"])
    raw = f'{{"label_class": {team["label_class"].pk}, "source": "manual", "kind": "box", "bbox": [1, 1, NaN, 3]}}'
    response = client.post(f"/api/images/{team['image'].pk}/annotations/", raw, content_type="application/json")
    assert response.status_code == 400
    assert Annotation.objects.count() == 0


def test_a_box_takes_no_polygons_and_a_mask_takes_no_bbox(team, api_as):
    client = api_as(team["annotator"])
    square = [[[1.0, 1.0, 6.0, 1.0, 6.0, 6.0, 1.0, 6.0]]]
    box_with_polygons = create(
        client, team["image"], label_class=team["label_class"].pk, source="manual", kind="box",
        bbox=[1, 1, 3, 3], polygons=square,
    )  # fmt: skip
    assert box_with_polygons.status_code == 400 and "geometry" in box_with_polygons.json()
    mask_with_bbox = create(
        client, team["image"], label_class=team["label_class"].pk, source="manual", polygons=square, bbox=[1, 1, 3, 3]
    )
    assert mask_with_bbox.status_code == 400 and "bbox" in mask_with_bbox.json()
    assert Annotation.objects.count() == 0


def test_patch_moves_the_box_and_bumps_the_version(team, api_as):
    client = api_as(team["annotator"])
    created = create(
        client, team["image"], label_class=team["label_class"].pk, source="manual", kind="box", bbox=[1, 1, 4, 4]
    ).json()
    response = client.patch(
        f"/api/annotations/{created['id']}/", {"version": 1, "bbox": [20, 10, 8.5, 5], "click_count": 2}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["bbox"] == [20.0, 10.0, 8.5, 5.0] and body["version"] == 2 and body["click_count"] == 2
    assert geometry.rle_bbox(body["rle"])[:2] == [20.0, 10.0]
    bad = client.patch(f"/api/annotations/{created['id']}/", {"version": 2, "bbox": [39, 1, 5, 5]}, format="json")
    assert bad.status_code == 400 and "outside the image" in str(bad.json())
    assert Annotation.objects.get().bbox == [20.0, 10.0, 8.5, 5.0]
