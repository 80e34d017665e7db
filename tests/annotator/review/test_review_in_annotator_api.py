"""The API side of reviewing in the annotator page: reviewers correct geometry of submitted images
(recorded in the audit trail), nothing else changes status, and the page gets its review config."""

import json

from annotator.models import Annotation, Image, Job, StatusTransition
from annotator.services.annotations import CORRECTED
from tests.factories import make_annotation, make_label_class, square_polygons


def _submitted(crew, *, source="sam_click"):
    image = crew["images"][0]
    annotation = make_annotation(
        image=image, label_class=crew["cell"], author=crew["anton"], source=source, prompts={"points": [[3, 3, 1]]}
    )
    Image.objects.filter(pk=image.pk).update(review_status="submitted")
    Annotation.objects.filter(pk=annotation.pk).update(status="submitted")
    annotation.refresh_from_db()
    return image, annotation


def test_reviewer_corrects_geometry_of_a_submitted_image_and_it_is_recorded(crew, api_as):
    image, annotation = _submitted(crew)
    # A second annotation still waits, so the image stays submitted after the first is decided.
    make_annotation(image=image, label_class=crew["cell"], author=crew["anton"], status="submitted")
    rita = api_as(crew["rita"])
    url = f"/api/annotations/{annotation.pk}/"
    moved = rita.patch(
        url,
        {
            "version": 1,
            "polygons": square_polygons(2, 2, 9),
            "prompts": {"points": [[3, 3, 1], [8, 8, 1]], "mask_index": 0},
        },
        format="json",
    )
    assert moved.status_code == 200, moved.content
    body = moved.json()
    assert body["id"] == annotation.pk and body["version"] == 2 and body["area"] == 81
    assert body["edited_after_sam"] is True and body["status"] == "submitted"  # status untouched
    assert body["prompts"]["points"] == [[3, 3, 1], [8, 8, 1]]
    assert body["author"] == crew["anton"].pk  # still the annotator's work
    rows = list(
        StatusTransition.objects.filter(annotation=annotation).values_list(
            "actor__username", "from_status", "to_status", "comment"
        )
    )
    assert rows == [("rita", "submitted", CORRECTED, "Corrected during review: geometry.")]

    # A run of corrections by the same reviewer is one audit row; a new label class after a decision is another.
    again = rita.patch(url, {"version": 2, "polygons": square_polygons(2, 2, 10)}, format="json")
    assert again.status_code == 200 and again.json()["version"] == 3
    assert StatusTransition.objects.filter(annotation=annotation, to_status=CORRECTED).count() == 1
    decided = rita.post(f"{url}review/", {"approve": True}, format="json")
    assert decided.status_code == 200 and decided.json()["version"] == 4
    other = make_label_class(crew["project"], "nucleus")
    relabelled = rita.patch(url, {"version": 4, "label_class": other.pk}, format="json")
    assert relabelled.status_code == 200 and relabelled.json()["label_class"] == other.pk
    assert list(StatusTransition.objects.filter(annotation=annotation).values_list("to_status", "comment")) == [
        (CORRECTED, "Corrected during review: geometry."),
        ("approved", ""),
        (CORRECTED, "Corrected during review: label class."),
    ]
    # Corrections are not review decisions: the rejection rate of anton counts one approval.
    metrics = api_as(crew["maria"]).get(f"/api/projects/{crew['project'].pk}/metrics/").json()
    anton = next(row for row in metrics["annotators"] if row["username"] == "anton")
    assert (anton["reviewed"], anton["rejected"]) == (1, 0)


def test_correction_limits(crew, api_as):
    image, annotation = _submitted(crew, source="manual")
    url = f"/api/annotations/{annotation.pk}/"
    polygons = {"version": 1, "polygons": square_polygons(2, 2, 9)}
    # The annotator may no longer change a submitted image (reviewers add and delete objects during
    # review: test_review_fixes.py).
    locked = api_as(crew["anton"]).patch(url, polygons, format="json")
    assert locked.status_code == 403 and "submitted" in locked.json()["detail"]
    rita = api_as(crew["rita"])
    # Work counters are the annotator's: a reviewer cannot change them.
    assert rita.patch(url, {"version": 1, "click_count": 9}, format="json").status_code == 403
    # Another job's reviewer may not correct; once the image is approved, no reviewer may.
    job = Job.objects.create(project=crew["project"], name="j", annotator=crew["anton"], reviewer=crew["maria"])
    Image.objects.filter(pk=image.pk).update(job=job)
    denied = rita.patch(url, polygons, format="json")
    assert denied.status_code == 403 and "another reviewer" in denied.json()["detail"]
    Image.objects.filter(pk=image.pk).update(job=None, review_status="approved")
    done = rita.patch(url, polygons, format="json")
    assert done.status_code == 403 and "approved" in done.json()["detail"]
    annotation.refresh_from_db()
    assert annotation.version == 1 and annotation.edited_after_sam is False
    assert not StatusTransition.objects.exists()
    # A manual annotation corrected by a manager: recorded, but it never becomes "edited after SAM".
    Image.objects.filter(pk=image.pk).update(review_status="submitted")
    fixed = api_as(crew["maria"]).patch(url, polygons, format="json")
    assert fixed.status_code == 200 and fixed.json()["edited_after_sam"] is False
    assert StatusTransition.objects.get().actor == crew["maria"]


def test_edits_outside_review_are_not_corrections(crew, api_as):
    image = crew["images"][1]
    annotation = make_annotation(image=image, label_class=crew["cell"], author=crew["anton"], source="sam_box")
    response = api_as(crew["anton"]).patch(
        f"/api/annotations/{annotation.pk}/", {"version": 1, "polygons": square_polygons(3, 3, 6)}, format="json"
    )
    assert response.status_code == 200 and response.json()["edited_after_sam"] is True
    assert not StatusTransition.objects.exists()


def test_image_detail_carries_review_state(crew, api_as):
    image = crew["images"][0]
    Image.objects.filter(pk=image.pk).update(review_status="rejected", review_comment="Two cells missing")
    body = api_as(crew["anton"]).get(f"/api/images/{image.pk}/").json()
    assert (body["review_status"], body["review_comment"]) == ("rejected", "Two cells missing")


def _page_config(client, image) -> dict:
    response = client.get(f"/images/{image.pk}/annotate/")
    assert response.status_code == 200
    html = response.content.decode()
    start = html.index('<script id="annotator-config" type="application/json">') + len(
        '<script id="annotator-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_annotator_page_config_tells_the_frontend_who_may_submit_and_review(crew, api_as):
    image = crew["images"][0]
    Image.objects.filter(pk=image.pk).update(review_status="submitted", review_comment="")
    expected = {
        "anton": ("annotator", False, True, False),
        "rita": ("reviewer", False, False, True),
        "maria": ("manager", True, True, True),
    }
    for name, (role, can_write, can_submit, can_review) in expected.items():
        config = _page_config(api_as(crew[name]), image)
        assert config["role"] == role
        assert config["can_write"] is can_write
        assert config["review"] == {
            "status": "submitted",
            "comment": "",
            "can_submit": can_submit,
            "can_review": can_review,
        }
    # Once jobs exist, an annotator of another job may neither submit nor annotate this image.
    Job.objects.create(project=crew["project"], name="j", annotator=crew["anton"])
    config = _page_config(api_as(crew["alina"]), image)
    assert config["review"]["can_submit"] is False and config["can_write"] is False
