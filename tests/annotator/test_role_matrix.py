"""Every endpoint x {anonymous, non-member, annotator, reviewer, manager, superuser} x {own, foreign}.

"own" objects live in the project where the user holds the role; "foreign" objects live in another
project where the same user holds no role. A non-member must get 404 (existence not revealed), a
member without the role 403, anonymous 403 (session auth first: no WWW-Authenticate challenge).
Lists must never contain a foreign object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotator.models import FinetuneRun, Image, Job, Membership
from segmentation.models import SamModel
from tests.factories import (
    image_bytes,
    make_annotation,
    make_image,
    make_label_class,
    make_project,
    make_user,
    square_polygons,
)

ROLES = ["anonymous", "non_member", "annotator", "reviewer", "manager", "superuser"]
MEMBER_ROLES = {"annotator", "reviewer", "manager"}
ALL_MEMBERS = MEMBER_ROLES | {"superuser"}
MANAGERS = {"manager", "superuser"}


def build_project(prefix: str, users: dict) -> dict:
    project = make_project(
        f"{prefix} project",
        members={
            users["manager"]: "manager",
            users["annotator"]: "annotator",
            users["reviewer"]: "reviewer",
        },
    )
    label_class = make_label_class(project, "used")
    spare_class = make_label_class(project, "spare")
    image = make_image(project, width=40, height=30)
    # Review workflow: the project has a job (so assignment rules apply), a submitted image waiting for
    # review, and an image in no job (for splitting).
    submitted_image = make_image(project, width=40, height=30, review_status="submitted")
    job = Job.objects.create(project=project, name="job", annotator=users["annotator"], reviewer=users["reviewer"])
    Image.objects.filter(pk__in=[image.pk, submitted_image.pk]).update(job=job)
    image.refresh_from_db()
    # Fine-tuning (issue 12): a default-model row without files (so nothing registers the real one)
    # and a queued run on it.
    model = SamModel.objects.filter(is_default=True).first() or SamModel.objects.create(
        name="matrix model",
        architecture="default",
        checkpoint_path="/nonexistent/matrix.pt",
        checkpoint_sha256="9" * 64,
        encoder_input_size=64,
        embedding_shape=[4, 4, 4],
        is_default=True,
    )
    return {
        "model": model,
        "finetune_run": FinetuneRun.objects.create(project=project, base_model=model, params={}),
        "project": project,
        "label_class": label_class,
        "spare_class": spare_class,
        "image": image,
        "submitted_image": submitted_image,
        "loose_image": make_image(project, width=40, height=30),
        "job": job,
        "submitted": make_annotation(
            submitted_image, label_class=label_class, author=users["annotator"], status="submitted"
        ),
        "by_annotator": make_annotation(image, label_class=label_class, author=users["annotator"]),
        "by_manager": make_annotation(image, label_class=label_class, author=users["manager"]),
        "annotator_membership": Membership.objects.get(project=project, user=users["annotator"]),
        "reviewer_membership": Membership.objects.get(project=project, user=users["reviewer"]),
        # An image whose job names the manager as its reviewer: the project's reviewer may not review it.
        "managers_job_annotation": make_annotation(
            make_image(
                project,
                width=40,
                height=30,
                job=Job.objects.create(
                    project=project, name="manager's job", annotator=users["annotator"], reviewer=users["manager"]
                ),
            ),
            label_class=label_class,
            author=users["annotator"],
        ),
    }


@pytest.fixture
def world(db):
    users = {role: make_user(role) for role in ["annotator", "reviewer", "manager", "non_member"]}
    users["superuser"] = make_user("root", superuser=True)
    foreign_users = {role: make_user(f"foreign_{role}") for role in ["annotator", "reviewer", "manager"]}
    return {"users": users, "own": build_project("own", users), "foreign": build_project("foreign", foreign_users)}


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    url: Callable[[dict], str]
    allowed: frozenset  # roles (in the object's project) that succeed
    success: int
    body: Callable[[dict], dict] | None = None
    multipart: bool = False


def upload_body(objects: dict) -> dict:
    return {"files": [SimpleUploadedFile("new.png", image_bytes(12, 10, seed=999), content_type="image/png")]}


ENDPOINTS = [
    Endpoint("project-detail", "get", lambda o: f"/api/projects/{o['project'].pk}/", ALL_MEMBERS, 200),
    Endpoint(
        "project-patch",
        "patch",
        lambda o: f"/api/projects/{o['project'].pk}/",
        MANAGERS,
        200,
        lambda o: {"description": "changed"},
    ),
    Endpoint("project-delete", "delete", lambda o: f"/api/projects/{o['project'].pk}/", MANAGERS, 204),
    Endpoint("member-list", "get", lambda o: f"/api/projects/{o['project'].pk}/members/", ALL_MEMBERS, 200),
    Endpoint(
        "member-add",
        "post",
        lambda o: f"/api/projects/{o['project'].pk}/members/",
        MANAGERS,
        201,
        lambda o: {"username": "non_member", "role": "annotator"},
    ),
    Endpoint(
        "member-detail",
        "get",
        lambda o: f"/api/projects/{o['project'].pk}/members/{o['annotator_membership'].pk}/",
        ALL_MEMBERS,
        200,
    ),
    Endpoint(
        "member-patch",
        "patch",
        lambda o: f"/api/projects/{o['project'].pk}/members/{o['annotator_membership'].pk}/",
        MANAGERS,
        200,
        lambda o: {"role": "reviewer"},
    ),
    Endpoint(
        "member-delete",
        "delete",
        lambda o: f"/api/projects/{o['project'].pk}/members/{o['reviewer_membership'].pk}/",
        MANAGERS,
        204,
    ),
    Endpoint("label-class-list", "get", lambda o: f"/api/projects/{o['project'].pk}/label-classes/", ALL_MEMBERS, 200),
    Endpoint(
        "label-class-add",
        "post",
        lambda o: f"/api/projects/{o['project'].pk}/label-classes/",
        MANAGERS,
        201,
        lambda o: {"name": "brand new", "color": "#112233"},
    ),
    Endpoint(
        "label-class-detail",
        "get",
        lambda o: f"/api/projects/{o['project'].pk}/label-classes/{o['spare_class'].pk}/",
        ALL_MEMBERS,
        200,
    ),
    Endpoint(
        "label-class-patch",
        "patch",
        lambda o: f"/api/projects/{o['project'].pk}/label-classes/{o['spare_class'].pk}/",
        MANAGERS,
        200,
        lambda o: {"color": "#abcdef"},
    ),
    Endpoint(
        "label-class-delete",
        "delete",
        lambda o: f"/api/projects/{o['project'].pk}/label-classes/{o['spare_class'].pk}/",
        MANAGERS,
        204,
    ),
    Endpoint("image-list", "get", lambda o: f"/api/projects/{o['project'].pk}/images/", ALL_MEMBERS, 200),
    Endpoint(
        "image-upload",
        "post",
        lambda o: f"/api/projects/{o['project'].pk}/images/",
        MANAGERS,
        201,
        upload_body,
        multipart=True,
    ),
    Endpoint("image-detail", "get", lambda o: f"/api/images/{o['image'].pk}/", ALL_MEMBERS, 200),
    Endpoint("image-delete", "delete", lambda o: f"/api/images/{o['image'].pk}/", MANAGERS, 204),
    Endpoint("image-file", "get", lambda o: f"/api/images/{o['image'].pk}/file/", ALL_MEMBERS, 200),
    Endpoint("image-original", "get", lambda o: f"/api/images/{o['image'].pk}/file/?original=1", ALL_MEMBERS, 200),
    Endpoint("image-thumbnail", "get", lambda o: f"/api/images/{o['image'].pk}/thumbnail/", ALL_MEMBERS, 200),
    # DICOM (issue 5): the render endpoint answers members only; these images are PNGs, hence its 400.
    Endpoint(
        "image-render-not-dicom",
        "get",
        lambda o: f"/api/images/{o['image'].pk}/render/?center=1&width=2",
        ALL_MEMBERS,
        400,
    ),
    Endpoint(
        "project-dicom-settings",
        "patch",
        lambda o: f"/api/projects/{o['project'].pk}/",
        MANAGERS,
        200,
        lambda o: {"dicom_window": "ct-lung", "dicom_deidentify": True},
    ),
    Endpoint("annotation-list", "get", lambda o: f"/api/images/{o['image'].pk}/annotations/", ALL_MEMBERS, 200),
    Endpoint(
        "annotation-create",
        "post",
        lambda o: f"/api/images/{o['image'].pk}/annotations/",
        {"annotator", "manager", "superuser"},
        201,
        lambda o: {"label_class": o["label_class"].pk, "source": "manual", "polygons": square_polygons(2, 2, 8)},
    ),
    Endpoint("annotation-detail", "get", lambda o: f"/api/annotations/{o['by_annotator'].pk}/", ALL_MEMBERS, 200),
    # Status changes go through the review endpoints: the generic PATCH refuses them with a 400 (issue 6).
    Endpoint(
        "annotation-status-refused",
        "patch",
        lambda o: f"/api/annotations/{o['by_annotator'].pk}/",
        ALL_MEMBERS,
        400,
        lambda o: {"version": 1, "status": "submitted"},
    ),
    Endpoint(
        "annotation-geometry-own",
        "patch",
        lambda o: f"/api/annotations/{o['by_annotator'].pk}/",
        {"annotator", "manager", "superuser"},
        200,
        lambda o: {"version": 1, "polygons": square_polygons(3, 3, 9)},
    ),
    Endpoint(
        "annotation-geometry-others",
        "patch",
        lambda o: f"/api/annotations/{o['by_manager'].pk}/",
        MANAGERS,
        200,
        lambda o: {"version": 1, "polygons": square_polygons(3, 3, 9)},
    ),
    Endpoint(
        "annotation-review-status-refused",
        "patch",
        lambda o: f"/api/annotations/{o['by_annotator'].pk}/",
        {"reviewer", "manager", "superuser"},
        400,
        lambda o: {"version": 1, "status": "approved", "review_comment": "good"},
    ),
    Endpoint(
        "annotation-review-comment",
        "patch",
        lambda o: f"/api/annotations/{o['by_annotator'].pk}/",
        {"reviewer", "manager", "superuser"},
        200,
        lambda o: {"version": 1, "review_comment": "good"},
    ),
    Endpoint(
        "annotation-review-comment-other-reviewer",
        "patch",
        lambda o: f"/api/annotations/{o['managers_job_annotation'].pk}/",
        MANAGERS,
        200,
        lambda o: {"version": 1, "review_comment": "good"},
    ),
    # While the image is submitted its reviewer corrects geometry; the annotator may no longer.
    Endpoint(
        "annotation-correct-submitted",
        "patch",
        lambda o: f"/api/annotations/{o['submitted'].pk}/",
        {"reviewer", "manager", "superuser"},
        200,
        lambda o: {"version": 1, "polygons": square_polygons(4, 4, 7), "label_class": o["spare_class"].pk},
    ),
    Endpoint(
        "annotation-delete-own",
        "delete",
        lambda o: f"/api/annotations/{o['by_annotator'].pk}/",
        {"annotator", "manager", "superuser"},
        204,
    ),
    Endpoint("annotation-delete-others", "delete", lambda o: f"/api/annotations/{o['by_manager'].pk}/", MANAGERS, 204),
    # While the image is submitted its reviewer adds a missed object and deletes a wrong one (issue 13).
    Endpoint(
        "annotation-create-during-review",
        "post",
        lambda o: f"/api/images/{o['submitted_image'].pk}/annotations/",
        {"reviewer", "manager", "superuser"},
        201,
        lambda o: {"label_class": o["label_class"].pk, "source": "manual", "polygons": square_polygons(2, 2, 8)},
    ),
    Endpoint(
        "annotation-delete-during-review",
        "delete",
        lambda o: f"/api/annotations/{o['submitted'].pk}/",
        {"reviewer", "manager", "superuser"},
        204,
    ),
    # Review workflow (issue 6).
    Endpoint("job-list", "get", lambda o: f"/api/projects/{o['project'].pk}/jobs/", ALL_MEMBERS, 200),
    Endpoint(
        "job-split",
        "post",
        lambda o: f"/api/projects/{o['project'].pk}/jobs/",
        MANAGERS,
        201,
        lambda o: {"image_ids": [o["loose_image"].pk]},
    ),
    Endpoint("job-detail", "get", lambda o: f"/api/projects/{o['project'].pk}/jobs/{o['job'].pk}/", ALL_MEMBERS, 200),
    Endpoint(
        "job-patch",
        "patch",
        lambda o: f"/api/projects/{o['project'].pk}/jobs/{o['job'].pk}/",
        MANAGERS,
        200,
        lambda o: {"name": "renamed"},
    ),
    Endpoint("job-delete", "delete", lambda o: f"/api/projects/{o['project'].pk}/jobs/{o['job'].pk}/", MANAGERS, 204),
    Endpoint("queue", "get", lambda o: f"/api/projects/{o['project'].pk}/queue/", ALL_MEMBERS, 200),
    Endpoint("transitions", "get", lambda o: f"/api/projects/{o['project'].pk}/transitions/", ALL_MEMBERS, 200),
    Endpoint(
        "metrics",
        "get",
        lambda o: f"/api/projects/{o['project'].pk}/metrics/",
        {"reviewer", "manager", "superuser"},
        200,
    ),
    Endpoint(
        "metrics-csv",
        "get",
        lambda o: f"/api/projects/{o['project'].pk}/metrics.csv",
        {"reviewer", "manager", "superuser"},
        200,
    ),
    Endpoint(
        "image-submit",
        "post",
        lambda o: f"/api/images/{o['image'].pk}/submit/",
        {"annotator", "manager", "superuser"},
        200,
    ),
    Endpoint(
        "image-review",
        "post",
        lambda o: f"/api/images/{o['submitted_image'].pk}/review/",
        {"reviewer", "manager", "superuser"},
        200,
        lambda o: {"approve": False, "comment": "redo"},
    ),
    Endpoint(
        "annotation-review",
        "post",
        lambda o: f"/api/annotations/{o['submitted'].pk}/review/",
        {"reviewer", "manager", "superuser"},
        200,
        lambda o: {"approve": True},
    ),
    # Fine-tuning (issue 12): members follow, only managers train, cancel, promote and roll back. The
    # project has no labels with embeddings, so a manager's start is refused with 400 (after the role).
    Endpoint("finetune-run-list", "get", lambda o: f"/api/projects/{o['project'].pk}/finetune-runs/", ALL_MEMBERS, 200),
    Endpoint(
        "finetune-start",
        "post",
        lambda o: f"/api/projects/{o['project'].pk}/finetune-runs/",
        MANAGERS,
        400,
        lambda o: {"minutes": 1},
    ),
    Endpoint("finetune-run-detail", "get", lambda o: f"/api/finetune-runs/{o['finetune_run'].pk}/", ALL_MEMBERS, 200),
    Endpoint(
        "finetune-run-cancel", "post", lambda o: f"/api/finetune-runs/{o['finetune_run'].pk}/cancel/", MANAGERS, 200
    ),
    Endpoint(
        "model-version-list", "get", lambda o: f"/api/projects/{o['project'].pk}/model-versions/", ALL_MEMBERS, 200
    ),
    Endpoint(
        "model-version-activate",
        "post",
        lambda o: f"/api/projects/{o['project'].pk}/model-versions/{o['model'].pk}/activate/",
        MANAGERS,
        200,
    ),
    Endpoint(
        "project-retrain-setting",
        "patch",
        lambda o: f"/api/projects/{o['project'].pk}/",
        MANAGERS,
        200,
        lambda o: {"retrain_every": 50},
    ),
]


def anonymous_status() -> int:
    """DRF answers 401 only when the first authentication class sends a challenge header."""
    from rest_framework.settings import api_settings

    first = api_settings.DEFAULT_AUTHENTICATION_CLASSES[0]()
    return 401 if first.authenticate_header(None) else 403


def expected_status(endpoint: Endpoint, role: str, where: str) -> int:
    if role == "anonymous":
        return anonymous_status()
    if role == "superuser":
        return endpoint.success
    if where == "foreign" or role == "non_member":
        return 404
    return endpoint.success if role in endpoint.allowed else 403


def client_for(world: dict, role: str) -> APIClient:
    client = APIClient()
    if role != "anonymous":
        client.force_login(world["users"][role])
    return client


def call(client: APIClient, endpoint: Endpoint, objects: dict):
    body = endpoint.body(objects) if endpoint.body else None
    return getattr(client, endpoint.method)(
        endpoint.url(objects), body, format="multipart" if endpoint.multipart else "json"
    )


def ids_in(response) -> set[int]:
    data = response.json()
    rows = data["results"] if isinstance(data, dict) and "results" in data else data
    return {row["id"] for row in rows} if isinstance(rows, list) else set()


@pytest.mark.parametrize("where", ["own", "foreign"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_endpoint_access(world, endpoint, role, where):
    objects = world[where]
    response = call(client_for(world, role), endpoint, objects)
    assert response.status_code == expected_status(endpoint, role, where), response.content[:300]
    assert response.status_code == 204 or response["Content-Type"].startswith(
        ("application/json", "image/", "text/csv")
    )
    if response.status_code >= 400:
        assert "detail" in response.json()
    if (
        role != "superuser"
        and response.status_code == 200
        and endpoint.method == "get"
        and "json" in response["Content-Type"]
    ):
        foreign = world["foreign"]
        foreign_ids = {
            foreign["project"].pk,
            foreign["image"].pk,
            foreign["label_class"].pk,
            foreign["spare_class"].pk,
            foreign["by_annotator"].pk,
            foreign["by_manager"].pk,
            foreign["annotator_membership"].pk,
            foreign["reviewer_membership"].pk,
            foreign["job"].pk,
            foreign["submitted_image"].pk,
            foreign["submitted"].pk,
        }
        # Ids of different tables may coincide, so compare against the same table's foreign ids.
        same_table = {
            "member-list": {foreign["annotator_membership"].pk, foreign["reviewer_membership"].pk},
            "label-class-list": {foreign["label_class"].pk, foreign["spare_class"].pk},
            "image-list": {foreign["image"].pk},
            "annotation-list": {foreign["by_annotator"].pk, foreign["by_manager"].pk},
            "job-list": {foreign["job"].pk},
            "finetune-run-list": {foreign["finetune_run"].pk},
        }.get(endpoint.name)
        if endpoint.name == "queue":
            queued = {row["id"] for row in response.json()["images"]}
            assert not queued & {foreign["image"].pk, foreign["submitted_image"].pk, foreign["loose_image"].pk}
        if endpoint.name == "transitions":
            assert {row["image"] for row in response.json()["results"]} <= {
                objects["image"].pk,
                objects["submitted_image"].pk,
                objects["loose_image"].pk,
            }
        if same_table is not None:
            assert not ids_in(response) & same_table
        assert foreign_ids  # the foreign world exists, so "no leak" above is a real check


@pytest.mark.parametrize("role", ROLES)
def test_project_list_shows_only_own_projects(world, role):
    response = client_for(world, role).get("/api/projects/")
    if role == "anonymous":
        assert response.status_code == anonymous_status()
        return
    assert response.status_code == 200
    listed = ids_in(response)
    own, foreign = world["own"]["project"].pk, world["foreign"]["project"].pk
    if role == "superuser":
        assert {own, foreign} <= listed
    elif role == "non_member":
        assert listed == set()
    else:
        assert listed == {own}


@pytest.mark.parametrize("role", ROLES)
def test_any_signed_in_user_may_create_a_project(world, role):
    response = client_for(world, role).post("/api/projects/", {"name": f"new by {role}"}, format="json")
    assert response.status_code == (anonymous_status() if role == "anonymous" else 201)
    if role != "anonymous":
        assert response.json()["my_role"] == "manager"
