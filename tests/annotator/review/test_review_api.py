"""Jobs, queue, submit and review over the REST API (roles are covered by test_role_matrix)."""

from annotator.models import Annotation, Membership
from tests.factories import make_annotation, square_polygons


def test_jobs_split_assign_delete(crew, api_as):
    project, maria = crew["project"], api_as(crew["maria"])
    base = f"/api/projects/{project.pk}/jobs/"
    response = maria.post(base, {"count": 3, "annotator": crew["anton"].pk, "reviewer": crew["rita"].pk}, format="json")
    assert response.status_code == 201, response.content
    jobs = response.json()
    assert [(j["name"], j["image_count"], j["new_count"], j["annotator_username"]) for j in jobs] == [
        ("Job 1", 3, 3, "anton"),
        ("Job 2", 1, 1, "anton"),
    ]
    both = maria.post(base, {"count": 1, "image_ids": [1]}, format="json")
    assert both.status_code == 400 and "exactly one" in str(both.json())
    reviewer_as_annotator = maria.patch(f"{base}{jobs[1]['id']}/", {"annotator": crew["rita"].pk}, format="json")
    assert reviewer_as_annotator.status_code == 400 and "annotator" in reviewer_as_annotator.json()
    moved = maria.patch(f"{base}{jobs[1]['id']}/", {"annotator": crew["alina"].pk}, format="json")
    assert moved.status_code == 200 and moved.json()["annotator_username"] == "alina"
    assert moved.json()["reviewer_username"] == "rita"  # untouched slot stays
    assert [j["id"] for j in maria.get(base).json()] == [jobs[0]["id"], jobs[1]["id"]]
    assert maria.delete(f"{base}{jobs[1]['id']}/").status_code == 204
    assert len(maria.get(base).json()) == 1


def test_queue_submit_reject_fix_approve(crew, api_as):
    project, images = crew["project"], crew["images"]
    maria, anton, alina, rita = (api_as(crew[n]) for n in ["maria", "anton", "alina", "rita"])
    maria.post(
        f"/api/projects/{project.pk}/jobs/",
        {"image_ids": [images[0].pk, images[1].pk], "annotator": crew["anton"].pk, "reviewer": crew["rita"].pk},
        format="json",
    )
    maria.post(
        f"/api/projects/{project.pk}/jobs/", {"image_ids": [images[2].pk], "annotator": crew["alina"].pk}, format="json"
    )
    queue = anton.get(f"/api/projects/{project.pk}/queue/").json()
    assert [i["id"] for i in queue["images"]] == [images[0].pk, images[1].pk]
    assert queue["next_image"]["id"] == images[0].pk and queue["rejections"] == []
    assert [i["id"] for i in alina.get(f"/api/projects/{project.pk}/queue/").json()["images"]] == [images[2].pk]

    # Annotating someone else's or an unassigned image is refused by the access rules.
    created = anton.post(
        f"/api/images/{images[0].pk}/annotations/",
        {"label_class": crew["cell"].pk, "source": "manual", "polygons": square_polygons(2, 2, 8)},
        format="json",
    )
    assert created.status_code == 201
    assert alina.post(f"/api/images/{images[0].pk}/submit/").status_code == 403
    assert rita.post(f"/api/images/{images[0].pk}/submit/").status_code == 403
    assert anton.post(f"/api/images/{images[0].pk}/submit/").json()["review_status"] == "submitted"
    annotation_id = created.json()["id"]
    locked = anton.patch(
        f"/api/annotations/{annotation_id}/", {"version": 2, "polygons": square_polygons(1, 1, 4)}, format="json"
    )
    assert locked.status_code == 403 and "submitted" in locked.json()["detail"]

    assert rita.post(f"/api/annotations/{annotation_id}/review/", {"approve": False}, format="json").status_code == 400
    rejected = rita.post(
        f"/api/annotations/{annotation_id}/review/", {"approve": False, "comment": "bigger"}, format="json"
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    queue = anton.get(f"/api/projects/{project.pk}/queue/").json()
    assert queue["next_image"]["id"] == images[0].pk and queue["next_image"]["review_status"] == "rejected"
    assert queue["rejections"] == [
        {"annotation": annotation_id, "image": images[0].pk, "label_class": "cell", "comment": "bigger"}
    ]

    fixed = anton.patch(
        f"/api/annotations/{annotation_id}/",
        {"version": rejected.json()["version"], "polygons": square_polygons(1, 1, 12)},
        format="json",
    )
    assert fixed.status_code == 200
    assert anton.post(f"/api/images/{images[0].pk}/submit/").status_code == 200
    approved = rita.post(f"/api/images/{images[0].pk}/review/", {"approve": True}, format="json")
    assert approved.status_code == 200 and approved.json()["review_status"] == "approved"
    again = rita.post(f"/api/images/{images[0].pk}/review/", {"approve": True}, format="json")
    assert again.status_code == 400 and "only submitted" in again.json()["detail"]
    assert Annotation.objects.get(pk=annotation_id).status == "approved"

    trail = maria.get(f"/api/projects/{project.pk}/transitions/?image={images[0].pk}").json()["results"]
    assert [(t["actor_username"], t["to_status"], t["comment"]) for t in reversed(trail)] == [
        ("anton", "submitted", ""),
        ("anton", "submitted", ""),
        ("rita", "rejected", "bigger"),
        ("rita", "rejected", ""),
        ("anton", "submitted", ""),
        ("anton", "submitted", ""),
        ("rita", "approved", ""),
        ("rita", "approved", ""),
    ]
    done = anton.get(f"/api/projects/{project.pk}/queue/").json()
    assert [i["id"] for i in done["images"]] == [images[1].pk] and done["done_count"] == 1


def test_job_reviewer_keeps_its_images(crew, api_as):
    project, image = crew["project"], crew["images"][0]
    other_reviewer = crew["alina"]
    Membership.objects.filter(project=project, user=other_reviewer).update(role="reviewer")
    api_as(crew["maria"]).post(
        f"/api/projects/{project.pk}/jobs/",
        {"image_ids": [image.pk], "annotator": crew["anton"].pk, "reviewer": crew["rita"].pk},
        format="json",
    )
    make_annotation(image, label_class=crew["cell"], author=crew["anton"])
    assert api_as(crew["anton"]).post(f"/api/images/{image.pk}/submit/").status_code == 200
    denied = api_as(other_reviewer).post(f"/api/images/{image.pk}/review/", {"approve": True}, format="json")
    assert denied.status_code == 403 and "another reviewer" in denied.json()["detail"]
    allowed = api_as(crew["rita"]).post(f"/api/images/{image.pk}/review/", {"approve": True}, format="json")
    assert allowed.status_code == 200


def test_status_change_through_annotation_patch_is_refused(crew, api_as):
    """Status changes happen only through the review endpoints (which write the audit trail)."""
    from annotator.models import StatusTransition

    image = crew["images"][0]
    annotation = make_annotation(image=image, author=crew["anton"], status="submitted")
    for user in ("rita", "maria"):
        response = api_as(crew[user]).patch(
            f"/api/annotations/{annotation.pk}/",
            {"version": annotation.version, "status": "rejected", "review_comment": "edge is off"},
            format="json",
        )
        assert response.status_code == 400, response.content
        assert f"POST /api/annotations/{annotation.pk}/review/" in response.json()["detail"]
        assert "status" in response.json()
    annotation.refresh_from_db()
    assert (annotation.status, annotation.review_comment, annotation.version) == ("submitted", "", 1)
    assert not StatusTransition.objects.exists()


def test_unassigned_annotator_cannot_create_annotations_once_jobs_exist(crew, api_as):
    project, images = crew["project"], crew["images"]
    api_as(crew["maria"]).post(
        f"/api/projects/{project.pk}/jobs/", {"image_ids": [images[0].pk], "annotator": crew["anton"].pk}, format="json"
    )
    label_class = project.label_classes.first()
    response = api_as(crew["alina"]).post(
        f"/api/images/{images[0].pk}/annotations/",
        {
            "label_class": label_class.pk,
            "source": "manual",
            "polygons": square_polygons(2, 2, 4),
        },
        format="json",
    )
    assert response.status_code == 403
    assert not Annotation.objects.filter(image=images[0]).exists()
