"""Slice propagation with the real default model on a generated CT series (an ellipsoid in noisy
soft tissue): a run from an accepted object on the middle slice makes proposed drafts on the
neighbouring slices, linked to the seed, stops with its reasons, is idempotent; proposals stay out
of exports until accepted; accepted, the set is one SEG segment over its slices; the API checks roles."""

from __future__ import annotations

import numpy as np
import pytest
from rest_framework.test import APIClient

from annotator import geometry
from annotator.models import Annotation, AnnotationSource, PropagationRun, Role
from annotator.models_propagation import PropagationRunStatus
from annotator.services.annotations import annotation_create
from annotator.services.propagation import propagation_run, propagation_start, proposals_accept
from annotator.services.series import series_slices
from segmentation.services.models import default_sam_model
from tests.annotator.dicom.samples import generated_ct, ingest
from tests.annotator.dicom.seg_helpers import dciodvfy_errors, export_zip, read_seg, seg_members
from tests.factories import make_label_class, make_project, make_user

pytestmark = pytest.mark.django_db
SLICES, SIZE = 9, 64
SERIES = "1.2.826.0.1.3680043.8.498.1414"


@pytest.fixture
def default_model(db):
    """The real default model (overrides the package's placeholder row): propagation runs SAM."""
    return default_sam_model()


def phantom() -> tuple[list[bytes], np.ndarray]:
    rng = np.random.default_rng(1)
    z, y, x = np.mgrid[0:SLICES, 0:SIZE, 0:SIZE].astype(np.float32)
    truth = ((x - 34) / 12) ** 2 + ((y - 30) / 10) ** 2 + ((z - 4) / 3.6) ** 2 <= 1
    hu = np.where(truth, 140, 30) + rng.normal(0, 10, truth.shape)
    hu = (np.round(hu / 2) * 2).astype(np.int64)  # generated_ct needs even HU (slope 2)
    files = [generated_ct(hu[k], series_uid=SERIES, instance_number=k + 1) for k in range(SLICES)]
    return files, truth


@pytest.fixture
def series(default_model):
    annotator = make_user()
    project = make_project(members={annotator: Role.ANNOTATOR})
    label_class = make_label_class(project, "lesion")
    files, truth = phantom()
    report = ingest(project, *[(f"s{k + 1}.dcm", files[k]) for k in reversed(range(SLICES))])  # uploaded backwards
    assert report.rejected == []
    slices = series_slices(report.accepted[0])
    assert [s.original_name for s in slices] == [f"s{k + 1}.dcm" for k in range(SLICES)]
    seed = annotation_create(
        image=slices[4],
        label_class=label_class,
        source=AnnotationSource.SAM_CLICK,
        rle=geometry.rle_encode(truth[4].astype(np.uint8)),
        author=annotator,
    )
    return annotator, project, slices, truth, seed


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_run_makes_linked_proposed_drafts_on_neighbouring_slices(series, django_capture_on_commit_callbacks, tmp_path):
    annotator, project, slices, truth, seed = series
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = propagation_start(seed=seed, user=annotator, max_slices=3)
    assert len(callbacks) == 1 and run.status == PropagationRunStatus.QUEUED
    run = propagation_run(run.pk)
    assert run.status == PropagationRunStatus.DONE, run.error
    assert run.progress["total"] == 6 and 1 <= run.progress["done"] <= 6
    assert set(run.progress["stopped"]) == {"after", "before"}
    drafts = list(Annotation.objects.filter(propagated_from=seed).select_related("image"))
    assert len(drafts) == run.progress["created"] >= 2
    index = {s.pk: k for k, s in enumerate(slices)}
    positions = sorted(index[d.image_id] for d in drafts)
    assert 4 not in positions and all(abs(p - 4) <= 3 for p in positions)
    # Contiguous from the seed each way: a walk never skips a slice.
    after = [p for p in positions if p > 4]
    before = [p for p in positions if p < 4]
    assert after == list(range(5, 5 + len(after))) and before == list(range(4 - len(before), 4))
    for draft in drafts:
        assert draft.source == AnnotationSource.PROPAGATED and draft.proposed and draft.author == annotator
        assert draft.prompts["box"] and draft.prompts["points"][0][2] == 1
    nearest = [d for d in drafts if abs(index[d.image_id] - 4) == 1]
    assert nearest, "no draft on a slice next to the seed"
    for draft in nearest:  # the default model is small: the first neighbours must still be the object
        assert iou(geometry.rle_decode(draft.rle).astype(bool), truth[index[draft.image_id]]) >= 0.6

    # Idempotent: a second run replaces the proposals it had made (none left over twice).
    again = propagation_run(PropagationRun.objects.create(project=project, seed=seed, params={"max_slices": 3}).pk)
    assert Annotation.objects.filter(propagated_from=seed).count() == again.progress["created"]

    # Proposals are not exported; accepted, seed + drafts are one segment over their slices.
    archive, _ = export_zip(project)
    (member,) = seg_members(archive)
    assert len(read_seg(archive.read(member)).get_source_image_uids()) == 1  # the seed's slice only
    accepted = proposals_accept(seed=seed)
    assert accepted == again.progress["created"]
    archive, _summary = export_zip(project)
    (member,) = seg_members(archive)
    data = archive.read(member)
    seg = read_seg(data)
    assert seg.number_of_segments == 1 and seg.get_segment_description(1).SegmentLabel == "lesion"
    assert len(seg.get_source_image_uids()) == 1 + accepted
    assert int(seg.NumberOfFrames) == 1 + accepted
    assert dciodvfy_errors(tmp_path / "seg.dcm", data) == []


def test_api_propagate_poll_accept_and_roles(series, django_capture_on_commit_callbacks):
    annotator, project, slices, _truth, seed = series
    client = APIClient()
    client.force_authenticate(annotator)
    bad = client.post(f"/api/annotations/{seed.pk}/propagate/", {"max_slices": 0}, format="json")
    assert bad.status_code == 400 and "max_slices" in bad.json()
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"/api/annotations/{seed.pk}/propagate/", {"max_slices": 1}, format="json")
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    propagation_run(run_id)
    polled = client.get(f"/api/propagations/{run_id}/").json()
    assert polled["status"] == "done" and polled["seed"] == seed.pk and polled["progress"]["total"] == 2
    drafts = list(Annotation.objects.filter(propagated_from=seed))
    listed = client.get(f"/api/images/{drafts[0].image_id}/annotations/").json()
    listed = listed["results"] if isinstance(listed, dict) else listed
    assert any(a["proposed"] and a["propagated_from"] == seed.pk for a in listed)
    one = client.post(f"/api/annotations/{drafts[0].pk}/accept/")
    assert one.status_code == 200 and one.json()["proposed"] is False
    rest = client.post(f"/api/propagations/{run_id}/accept/").json()
    assert rest["accepted"] == len(drafts) - 1
    assert not Annotation.objects.filter(propagated_from=seed, proposed=True).exists()

    # A draft cannot seed; a stranger sees nothing; a reviewer may not propagate.
    with django_capture_on_commit_callbacks(execute=False):
        assert client.post(f"/api/annotations/{seed.pk}/propagate/", {}, format="json").status_code == 202
    stranger = APIClient()
    stranger.force_authenticate(make_user())
    assert stranger.get(f"/api/propagations/{run_id}/").status_code == 404
    assert stranger.post(f"/api/annotations/{seed.pk}/propagate/", {}, format="json").status_code == 404
    reviewer = make_user()
    project.memberships.create(user=reviewer, role=Role.REVIEWER)
    as_reviewer = APIClient()
    as_reviewer.force_authenticate(reviewer)
    assert as_reviewer.post(f"/api/annotations/{seed.pk}/propagate/", {}, format="json").status_code == 403
    ahead = client.post(f"/api/images/{slices[4].pk}/series-ahead/").json()
    assert ahead["image_ids"][:3] == [slices[4].pk, slices[5].pk, slices[3].pk]
