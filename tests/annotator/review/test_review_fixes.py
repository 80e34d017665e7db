"""Issue 13, item 4: an image-level rejection touches only what the reviewer says, per-annotation
decisions settle the image, and reviewers add and delete objects during review."""

import pytest
from django.core.exceptions import ValidationError

from annotator.models import Annotation, Image, StatusTransition
from annotator.services.review import annotation_review, image_review, image_submit
from tests.factories import make_annotation, square_polygons


def _fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def _submitted(crew, count: int, index: int = 0) -> tuple[Image, list[Annotation]]:
    image = crew["images"][index]
    annotations = [make_annotation(image, label_class=crew["cell"], author=crew["anton"]) for _ in range(count)]
    image_submit(image=image, user=crew["anton"])
    return _fresh(image), annotations


def test_plain_image_reject_leaves_undecided_annotations_and_their_comments_alone(crew):
    image, (approved, undecided) = _submitted(crew, 2)
    annotation_review(annotation=approved, reviewer=crew["rita"], approve=True)
    image_review(image=image, reviewer=crew["rita"], approve=False, comment="a cell is missing")
    assert (_fresh(image).review_status, _fresh(image).review_comment) == ("rejected", "a cell is missing")
    assert _fresh(approved).status == "approved"
    assert (_fresh(undecided).status, _fresh(undecided).review_comment) == ("submitted", "")
    assert not StatusTransition.objects.filter(annotation=undecided, to_status="rejected").exists()
    # The annotator adds the missing cell and resubmits: the undecided one goes back to review as is.
    image_submit(image=_fresh(image), user=crew["anton"])
    assert _fresh(image).review_status == "submitted" and _fresh(undecided).status == "submitted"


def test_reject_the_rest_rejects_only_the_undecided_with_the_comment(crew):
    image, (approved, rejected, undecided) = _submitted(crew, 3)
    annotation_review(annotation=approved, reviewer=crew["rita"], approve=True)
    annotation_review(annotation=rejected, reviewer=crew["rita"], approve=False, comment="too loose")
    image_review(image=image, reviewer=crew["rita"], approve=False, comment="redo the rest", reject_rest=True)
    assert _fresh(image).review_status == "rejected"
    assert _fresh(approved).status == "approved"
    assert (_fresh(rejected).status, _fresh(rejected).review_comment) == ("rejected", "too loose")
    assert (_fresh(undecided).status, _fresh(undecided).review_comment) == ("rejected", "redo the rest")


def test_reject_the_rest_goes_with_a_rejection_only(crew):
    image, _ = _submitted(crew, 1)
    with pytest.raises(ValidationError, match="Reject the rest"):
        image_review(image=image, reviewer=crew["rita"], approve=True, reject_rest=True)
    assert _fresh(image).review_status == "submitted"


def test_per_annotation_decisions_settle_the_image(crew):
    image, (a, b) = _submitted(crew, 2)
    annotation_review(annotation=a, reviewer=crew["rita"], approve=True)
    assert _fresh(image).review_status == "submitted"
    annotation_review(annotation=b, reviewer=crew["rita"], approve=True)
    assert _fresh(image).review_status == "approved"

    other, (c, d) = _submitted(crew, 2, index=1)
    annotation_review(annotation=c, reviewer=crew["rita"], approve=False, comment="wrong class")
    annotation_review(annotation=d, reviewer=crew["rita"], approve=True)
    assert _fresh(other).review_status == "rejected"


def test_reviewer_adds_and_deletes_objects_and_the_image_still_settles(crew, api_as):
    image, (kept, wrong) = _submitted(crew, 2)
    rita = api_as(crew["rita"])
    added = rita.post(
        f"/api/images/{image.pk}/annotations/",
        {"label_class": crew["cell"].pk, "source": "manual", "polygons": square_polygons(2, 2, 8)},
        format="json",
    )
    assert added.status_code == 201, added.content
    assert added.json()["status"] == "approved"  # the reviewer's own object needs no decision
    row = Annotation.objects.get(pk=added.json()["id"])
    assert row.author == crew["rita"]
    assert StatusTransition.objects.filter(
        annotation=row, to_status="approved", comment="Added during review."
    ).exists()

    assert rita.delete(f"/api/annotations/{wrong.pk}/").status_code == 204
    assert _fresh(image).review_status == "submitted"  # `kept` is still undecided
    reviewed = rita.post(f"/api/annotations/{kept.pk}/review/", {"approve": True}, format="json")
    assert reviewed.status_code == 200, reviewed.content
    assert _fresh(image).review_status == "approved"


def test_deleting_the_last_undecided_annotation_settles_the_image(crew, api_as):
    image, (rejected, wrong) = _submitted(crew, 2)
    annotation_review(annotation=rejected, reviewer=crew["rita"], approve=False, comment="too loose")
    assert api_as(crew["rita"]).delete(f"/api/annotations/{wrong.pk}/").status_code == 204
    assert _fresh(image).review_status == "rejected"


def test_reviewers_add_and_delete_only_during_review(crew, api_as):
    image = crew["images"][2]  # new: the annotator's
    own = make_annotation(image, label_class=crew["cell"], author=crew["anton"])
    rita = api_as(crew["rita"])
    refused = rita.post(
        f"/api/images/{image.pk}/annotations/",
        {"label_class": crew["cell"].pk, "source": "manual", "polygons": square_polygons(2, 2, 8)},
        format="json",
    )
    assert refused.status_code == 403 and "only while the image is submitted" in refused.json()["detail"]
    assert rita.delete(f"/api/annotations/{own.pk}/").status_code == 403
    assert Annotation.objects.filter(pk=own.pk).exists()


def test_image_reject_api_takes_reject_rest(crew, api_as):
    image, (undecided,) = _submitted(crew, 1)
    rita = api_as(crew["rita"])
    response = rita.post(
        f"/api/images/{image.pk}/review/",
        {"approve": False, "comment": "all wrong", "reject_rest": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["review_status"] == "rejected"
    assert (_fresh(undecided).status, _fresh(undecided).review_comment) == ("rejected", "all wrong")
    bad = rita.post(f"/api/images/{image.pk}/review/", {"approve": False, "comment": "x", "reject_rest": "maybe"})
    assert bad.status_code == 400 and "reject_rest" in bad.json()
