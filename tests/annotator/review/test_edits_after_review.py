"""Edits around a review: an approved annotation changed outside review goes back to review, a reviewer's
corrections are all in the audit trail (one row per run and review round), and only the image's
reviewer writes review comments."""

import pytest
from django.core.exceptions import ValidationError

from annotator.models import Annotation, Image, Job, StatusTransition
from annotator.services.annotations import CORRECTED, annotation_update
from tests.factories import make_annotation, make_label_class, make_user, square_polygons


def _submitted_pair(crew):
    """Two submitted annotations by anton on a submitted image: one can be decided, the other still waits."""
    image = crew["images"][0]
    first, second = (
        make_annotation(image=image, label_class=crew["cell"], author=crew["anton"], status="submitted")
        for _ in range(2)
    )
    Image.objects.filter(pk=image.pk).update(review_status="submitted")
    return image, first, second


def _trail(annotation):
    return list(
        StatusTransition.objects.filter(annotation=annotation)
        .order_by("id")
        .values_list("actor__username", "from_status", "to_status", "comment")
    )


def test_an_approved_annotation_changed_by_its_annotator_goes_back_to_review(crew, api_as):
    image, approved, rejected = _submitted_pair(crew)
    rita, anton = api_as(crew["rita"]), api_as(crew["anton"])
    assert rita.post(f"/api/annotations/{approved.pk}/review/", {"approve": True}, format="json").status_code == 200
    r = rita.post(f"/api/annotations/{rejected.pk}/review/", {"approve": False, "comment": "fix"}, format="json")
    assert r.status_code == 200 and Image.objects.get(pk=image.pk).review_status == "rejected"

    url = f"/api/annotations/{approved.pk}/"
    unchanged = anton.patch(url, {"version": 2, "polygons": approved.polygons}, format="json")
    assert unchanged.status_code == 200 and unchanged.json()["status"] == "approved"  # same mask: nothing to review
    moved = anton.patch(url, {"version": 3, "polygons": square_polygons(20, 20, 5)}, format="json")
    assert moved.status_code == 200, moved.content
    assert (moved.json()["status"], moved.json()["version"]) == ("draft", 4)  # one version step for both
    assert _trail(approved)[-1] == ("anton", "approved", "draft", "Changed after review: geometry.")
    # A rejected annotation stays rejected while it is fixed: the submit sends it back to review anyway.
    fixed = anton.patch(
        f"/api/annotations/{rejected.pk}/", {"version": 2, "polygons": square_polygons(9, 9, 5)}, format="json"
    )
    assert fixed.status_code == 200 and fixed.json()["status"] == "rejected"

    assert anton.post(f"/api/images/{image.pk}/submit/").status_code == 200
    assert set(Annotation.objects.filter(image=image).values_list("status", flat=True)) == {"submitted"}
    assert _trail(approved)[-1] == ("anton", "draft", "submitted", "")
    # Going back to draft is no review decision: anton's rejection rate counts one approval, one rejection.
    metrics = api_as(crew["maria"]).get(f"/api/projects/{crew['project'].pk}/metrics/").json()
    row = next(row for row in metrics["annotators"] if row["username"] == "anton")
    assert (row["reviewed"], row["rejected"]) == (2, 1)


def test_a_new_label_class_on_an_approved_annotation_goes_back_to_review_too(crew, api_as):
    image, approved, rejected = _submitted_pair(crew)
    rita = api_as(crew["rita"])
    assert rita.post(f"/api/annotations/{approved.pk}/review/", {"approve": True}, format="json").status_code == 200
    rita.post(f"/api/annotations/{rejected.pk}/review/", {"approve": False, "comment": "fix"}, format="json")
    assert Image.objects.get(pk=image.pk).review_status == "rejected"
    other = make_label_class(crew["project"], "nucleus")
    relabelled = api_as(crew["anton"]).patch(
        f"/api/annotations/{approved.pk}/", {"version": 2, "label_class": other.pk}, format="json"
    )
    assert relabelled.status_code == 200 and relabelled.json()["status"] == "draft"
    assert _trail(approved)[-1] == ("anton", "approved", "draft", "Changed after review: label class.")


def test_corrections_of_one_run_are_one_row_naming_everything_corrected(crew, api_as):
    _, annotation, _ = _submitted_pair(crew)
    rita = api_as(crew["rita"])
    url = f"/api/annotations/{annotation.pk}/"
    assert rita.patch(url, {"version": 1, "polygons": square_polygons(2, 2, 9)}, format="json").status_code == 200
    assert rita.patch(url, {"version": 2, "polygons": square_polygons(2, 2, 8)}, format="json").status_code == 200
    other = make_label_class(crew["project"], "nucleus")
    assert rita.patch(url, {"version": 3, "label_class": other.pk}, format="json").status_code == 200
    assert _trail(annotation) == [
        ("rita", "submitted", CORRECTED, "Corrected during review: geometry and label class.")
    ]
    # Another person's correction starts a row of its own.
    assert (
        api_as(crew["maria"]).patch(url, {"version": 4, "label_class": crew["cell"].pk}, format="json").status_code
        == 200
    )
    assert _trail(annotation)[1:] == [("maria", "submitted", CORRECTED, "Corrected during review: label class.")]


def test_a_correction_in_the_next_review_round_gets_its_own_row(crew, api_as):
    image, approved, rejected = _submitted_pair(crew)
    rita, anton = api_as(crew["rita"]), api_as(crew["anton"])
    url = f"/api/annotations/{approved.pk}/"
    assert rita.post(f"{url}review/", {"approve": True}, format="json").status_code == 200  # version 2
    assert rita.patch(url, {"version": 2, "polygons": square_polygons(2, 2, 9)}, format="json").status_code == 200
    r = rita.post(f"/api/annotations/{rejected.pk}/review/", {"approve": False, "comment": "fix"}, format="json")
    assert r.status_code == 200 and Image.objects.get(pk=image.pk).review_status == "rejected"
    assert anton.post(f"/api/images/{image.pk}/submit/").status_code == 200  # round 2; the approved one stays
    assert rita.patch(url, {"version": 3, "polygons": square_polygons(3, 3, 9)}, format="json").status_code == 200
    assert [row[2] for row in _trail(approved)] == ["approved", CORRECTED, CORRECTED]


def test_only_the_jobs_reviewer_writes_review_comments(crew, api_as):
    rolf = make_user("rolf")
    crew["project"].memberships.create(user=rolf, role="reviewer")
    image, annotation, _ = _submitted_pair(crew)
    job = Job.objects.create(project=crew["project"], name="j", annotator=crew["anton"], reviewer=crew["rita"])
    Image.objects.filter(pk=image.pk).update(job=job)
    url = f"/api/annotations/{annotation.pk}/"
    denied = api_as(rolf).patch(url, {"version": 1, "review_comment": "mine"}, format="json")
    assert denied.status_code == 403 and "another reviewer" in denied.json()["detail"]
    assert Annotation.objects.get(pk=annotation.pk).review_comment == ""
    allowed = api_as(crew["rita"]).patch(url, {"version": 1, "review_comment": "looks fine"}, format="json")
    assert allowed.status_code == 200 and allowed.json()["review_comment"] == "looks fine"


def test_annotation_update_changes_no_status_itself(crew):
    annotation = make_annotation(crew["images"][0], label_class=crew["cell"], author=crew["anton"])
    with pytest.raises(ValidationError, match="cannot be changed"):
        annotation_update(annotation=annotation, version=1, actor=crew["maria"], status="approved")
    annotation.refresh_from_db()
    assert (annotation.status, annotation.version) == ("draft", 1) and not StatusTransition.objects.exists()
