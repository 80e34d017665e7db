"""Lifecycle services: every transition recorded, invalid ones refused with clear errors."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from annotator.access import check_image_annotate, check_image_review, check_image_submit, image_open_to_annotator
from annotator.models import Annotation, Image, Job, StatusTransition
from annotator.selectors_review import queue_for_user
from annotator.services.jobs import job_assign, job_delete, jobs_split
from annotator.services.review import annotation_review, image_review, image_submit
from tests.factories import make_annotation


def _fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def test_split_by_count_and_selection(crew):
    project, images = crew["project"], crew["images"]
    picked = jobs_split(project=project, image_ids=[images[3].pk], annotator=crew["alina"], reviewer=crew["rita"])
    assert [job.name for job in picked] == ["Job 1"]
    jobs = jobs_split(project=project, count=2, annotator=crew["anton"])
    assert [job.name for job in jobs] == ["Job 2", "Job 3"]
    assert [list(job.images.order_by("id").values_list("pk", flat=True)) for job in jobs] == [
        [images[0].pk, images[1].pk],
        [images[2].pk],
    ]
    with pytest.raises(ValidationError, match="already in a job"):
        jobs_split(project=project, image_ids=[images[0].pk])
    with pytest.raises(ValidationError, match="already in a job"):
        jobs_split(project=project, count=5)
    with pytest.raises(ValidationError, match="annotator or manager"):
        job_assign(job=jobs[0], annotator=crew["rita"], fields=["annotator"])
    job_delete(job=jobs[0])
    assert Image.objects.filter(pk=images[0].pk, job=None).exists() and Job.objects.count() == 2


def test_assignment_rules(crew):
    project, images, anton, alina = crew["project"], crew["images"], crew["anton"], crew["alina"]
    # No jobs yet: every annotator may work on every image.
    assert image_open_to_annotator(alina, images[0]) and image_open_to_annotator(anton, images[0])
    jobs_split(project=project, image_ids=[images[0].pk], annotator=anton, reviewer=crew["rita"])
    first, loose = _fresh(images[0]), _fresh(images[1])
    assert image_open_to_annotator(anton, first) and not image_open_to_annotator(alina, first)
    assert not image_open_to_annotator(anton, loose)  # no job: waits for a manager once jobs exist
    with pytest.raises(PermissionDenied, match="not assigned"):
        check_image_annotate(alina, "annotator", first)
    with pytest.raises(PermissionDenied, match="not assigned"):
        check_image_submit(alina, "annotator", first)
    check_image_annotate(crew["maria"], "manager", loose)
    other_reviewer = crew["maria"]  # a manager may always review
    check_image_review(other_reviewer, "manager", first)
    with pytest.raises(PermissionDenied):
        check_image_review(anton, "annotator", first)


def test_full_lifecycle_with_audit(crew):
    image, anton, rita = crew["images"][0], crew["anton"], crew["rita"]
    a = make_annotation(image, label_class=crew["cell"], author=anton)
    b = make_annotation(image, label_class=crew["cell"], author=anton)
    image_submit(image=image, user=anton)
    assert _fresh(image).review_status == "submitted"
    assert set(Annotation.objects.values_list("status", flat=True)) == {"submitted"}
    with pytest.raises(PermissionDenied, match="submitted"):
        check_image_annotate(anton, "annotator", _fresh(image))
    with pytest.raises(ValidationError, match="only new or rejected"):
        image_submit(image=image, user=anton)
    with pytest.raises(ValidationError, match="needs a comment"):
        annotation_review(annotation=a, reviewer=rita, approve=False, comment=" ")

    annotation_review(annotation=a, reviewer=rita, approve=True)
    assert _fresh(image).review_status == "submitted"  # b still waits
    rejected = annotation_review(annotation=b, reviewer=rita, approve=False, comment="too loose")
    assert rejected.status == "rejected" and rejected.review_comment == "too loose"
    assert rejected.version == 3  # created 1, submitted 2, rejected 3: stale editors get a conflict
    image = _fresh(image)
    assert image.review_status == "rejected"
    check_image_annotate(anton, "annotator", image)  # back with the annotator

    image_submit(image=image, user=anton)
    assert _fresh(a).status == "approved" and _fresh(b).status == "submitted"
    image_review(image=image, reviewer=rita, approve=True)
    assert _fresh(image).review_status == "approved" and _fresh(b).status == "approved"
    with pytest.raises(ValidationError, match="only submitted images"):
        image_review(image=image, reviewer=rita, approve=False, comment="late")

    trail = [
        (t.annotation_id, t.actor.username, t.from_status, t.to_status, t.comment)
        for t in StatusTransition.objects.order_by("id")
    ]
    assert trail == [
        (a.pk, "anton", "draft", "submitted", ""),
        (b.pk, "anton", "draft", "submitted", ""),
        (None, "anton", "new", "submitted", ""),
        (a.pk, "rita", "submitted", "approved", ""),
        (b.pk, "rita", "submitted", "rejected", "too loose"),
        (None, "rita", "submitted", "rejected", ""),
        (b.pk, "anton", "rejected", "submitted", ""),
        (None, "anton", "rejected", "submitted", ""),
        (b.pk, "rita", "submitted", "approved", ""),
        (None, "rita", "submitted", "approved", ""),
    ]


def test_reject_whole_image_keeps_approved_and_reaches_annotator(crew):
    image, anton, rita = crew["images"][1], crew["anton"], crew["rita"]
    kept = make_annotation(image, label_class=crew["cell"], author=anton)
    other = make_annotation(image, label_class=crew["cell"], author=anton)
    image_submit(image=image, user=anton)
    annotation_review(annotation=kept, reviewer=rita, approve=True)
    # "Reject the rest" (issue 13): the undecided one is rejected with the image comment.
    image_review(image=image, reviewer=rita, approve=False, comment="a cell is missing", reject_rest=True)
    image = _fresh(image)
    assert (image.review_status, image.review_comment) == ("rejected", "a cell is missing")
    assert _fresh(kept).status == "approved" and _fresh(other).status == "rejected"
    assert _fresh(other).review_comment == "a cell is missing"


def test_draft_annotation_cannot_be_reviewed_and_empty_image_can_be_submitted(crew):
    image = crew["images"][2]
    draft = make_annotation(image, label_class=crew["cell"], author=crew["anton"])
    with pytest.raises(ValidationError, match="only submitted images"):
        annotation_review(annotation=draft, reviewer=crew["rita"], approve=True)
    empty = crew["images"][3]
    image_submit(image=empty, user=crew["anton"])
    image_review(image=empty, reviewer=crew["rita"], approve=True)
    assert _fresh(empty).review_status == "approved"
    assert StatusTransition.objects.filter(image=empty, annotation=None).count() == 2


def test_queue_puts_rejections_first(crew):
    images, anton, rita = crew["images"], crew["anton"], crew["rita"]
    late = images[3]
    make_annotation(late, label_class=crew["cell"], author=anton)
    image_submit(image=late, user=anton)
    image_review(image=late, reviewer=rita, approve=False, comment="missing cells", reject_rest=True)
    image_submit(image=images[0], user=anton)
    queue = queue_for_user(project=crew["project"], user=anton, role="annotator")
    assert [image.pk for image in queue.images] == [late.pk, images[1].pk, images[2].pk]
    assert queue.next_image.pk == late.pk and queue.done_count == 1
    assert [a.review_comment for a in queue.rejected_annotations] == ["missing cells"]
    assert queue_for_user(project=crew["project"], user=rita, role="reviewer").images == []
