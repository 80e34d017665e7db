"""Metrics on a fixture with known times, clicks and reviews: exact numbers, API and CSV."""

import csv
import io

import pytest

from annotator.selectors_review import project_metrics
from annotator.services.review import annotation_review, image_review, image_submit
from tests.factories import make_annotation, make_label_class


@pytest.fixture
def worked(crew):
    anton, alina, rita, cell = crew["anton"], crew["alina"], crew["rita"], crew["cell"]
    membrane = make_label_class(crew["project"], "membrane", order=1)
    first, second = crew["images"][0], crew["images"][1]
    a1 = make_annotation(first, label_class=cell, author=anton, source="sam_click", time_spent_ms=30_000, click_count=2)
    a2 = make_annotation(
        first,
        label_class=cell,
        author=anton,
        source="sam_box",
        time_spent_ms=60_000,
        click_count=1,
        edited_after_sam=True,
    )
    a3 = make_annotation(first, label_class=cell, author=anton, source="manual", time_spent_ms=90_000, click_count=12)
    make_annotation(second, label_class=membrane, author=alina, source="sam_click", time_spent_ms=20_000, click_count=1)
    image_submit(image=first, user=anton)
    annotation_review(annotation=a1, reviewer=rita, approve=True)
    annotation_review(annotation=a2, reviewer=rita, approve=True)
    annotation_review(annotation=a3, reviewer=rita, approve=False, comment="redo")
    image_submit(image=first, user=anton)
    image_review(image=first, reviewer=rita, approve=True)
    return crew


EXPECTED_ANNOTATORS = [
    {
        "username": "alina",
        "objects": 1,
        "hours": 0.0056,
        "objects_per_hour": 180.0,
        "seconds_per_object": 20.0,
        "clicks_per_object": 1.0,
        "sam_accepted_share": 1.0,
        "reviewed": 0,
        "rejected": 0,
        "rejection_rate": None,
    },
    # 180 s for 3 objects; 15 clicks; only a1 is SAM output kept as is; 1 rejection in 4 decisions.
    {
        "username": "anton",
        "objects": 3,
        "hours": 0.05,
        "objects_per_hour": 60.0,
        "seconds_per_object": 60.0,
        "clicks_per_object": 5.0,
        "sam_accepted_share": 0.333,
        "reviewed": 4,
        "rejected": 1,
        "rejection_rate": 0.25,
    },
]


# Active time depends on the rows' real timestamps here: tests/annotator/review/test_active_time.py
# checks those keys on fixed times.
ACTIVITY_KEYS = {"active_hours", "objects_per_active_hour", "idle_gaps", "idle_hours"}


def _without_ids(rows):
    return [{k: v for k, v in row.items() if k != "user_id" and k not in ACTIVITY_KEYS} for row in rows]


def test_metrics_exact_numbers(worked):
    metrics = project_metrics(project=worked["project"])
    assert metrics["images"] == 4
    assert metrics["progress"] == {"not_started": 2, "in_progress": 1, "submitted": 0, "rejected": 0, "approved": 1}
    assert metrics["progress_percent"]["not_started"] == 50.0 and metrics["progress_percent"]["approved"] == 25.0
    assert _without_ids(metrics["annotators"]) == EXPECTED_ANNOTATORS
    assert [(r["name"], r["objects"], r["approved"]) for r in metrics["labels"]] == [("cell", 3, 3), ("membrane", 1, 0)]


def test_metrics_api_and_csv(worked, api_as):
    project = worked["project"]
    body = api_as(worked["maria"]).get(f"/api/projects/{project.pk}/metrics/").json()
    assert _without_ids(body["annotators"]) == EXPECTED_ANNOTATORS
    response = api_as(worked["rita"]).get(f"/api/projects/{project.pk}/metrics.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["section", "name", "metric", "value"]
    assert ["progress", "approved", "images", "1"] in rows
    assert ["annotator", "anton", "objects_per_hour", "60.0"] in rows
    assert ["annotator", "anton", "rejection_rate", "0.25"] in rows
    assert ["annotator", "alina", "rejection_rate", ""] in rows
    assert ["label", "membrane", "objects", "1"] in rows
    assert api_as(worked["anton"]).get(f"/api/projects/{project.pk}/metrics/").status_code == 403


def test_metrics_of_an_empty_project(crew):
    metrics = project_metrics(project=crew["project"])
    assert metrics["annotators"] == [] and metrics["progress"]["not_started"] == 4
