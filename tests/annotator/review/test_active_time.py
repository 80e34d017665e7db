"""Active-time throughput: work intervals from the server's timestamps, idle gaps over 60 s left out
and reported; on the metrics API and the project page."""

from datetime import UTC, datetime, timedelta

import pytest

from annotator.models import Annotation
from annotator.selectors_activity import sweep
from annotator.selectors_review import project_metrics
from tests.factories import make_annotation

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_sweep_counts_overlaps_once_short_gaps_as_active_long_gaps_as_idle():
    spans = [
        (at(0), at(30)),  # object 1: 30 s
        (at(20), at(50)),  # overlaps: +20 s
        (at(70), at(100)),  # 20 s gap: active, +30 s
        (at(400), at(410)),  # 300 s gap: idle; +10 s
        (at(420), at(420)),  # a save 10 s later
    ]
    assert sweep(spans) == {"active_ms": 120_000, "idle_gaps": 1, "idle_ms": 300_000}
    assert sweep([]) == {"active_ms": 0, "idle_gaps": 0, "idle_ms": 0}


@pytest.mark.django_db
def test_project_metrics_report_active_hours_and_idle_gaps(crew, api_as):
    anton, cell, image = crew["anton"], crew["cell"], crew["images"][0]
    # 4 objects of 45 s each, 15 s apart, then a 20-minute break, then 2 more objects.
    created = [45, 105, 165, 225, 1425 + 45, 1425 + 105]
    for end in created:
        annotation = make_annotation(image, label_class=cell, author=anton, time_spent_ms=45_000)
        Annotation.objects.filter(pk=annotation.pk).update(created_at=at(end), updated_at=at(end))
    [row] = project_metrics(project=crew["project"])["annotators"]
    # Active: 4*45 s + 3*15 s = 225 s before the break, 45 + 15 + 45 = 105 s after it.
    assert row["active_hours"] == round(330 / 3600, 4)
    assert row["idle_gaps"] == 1 and row["idle_hours"] == round((1425 - 225) / 3600, 4)
    assert row["objects_per_active_hour"] == round(6 * 3600 / 330, 2)
    # The old figure (sum of per-object times) stays beside it.
    assert row["objects_per_hour"] == 80.0
    body = api_as(crew["maria"]).get(f"/api/projects/{crew['project'].pk}/metrics/").json()
    assert body["annotators"][0]["idle_gaps"] == 1
    page = api_as(crew["maria"]).get(f"/projects/{crew['project'].pk}/").content.decode()
    assert 'data-metric="objects_per_active_hour">65.45<' in page
    assert 'data-metric="idle">1 (0.33 h)<' in page
