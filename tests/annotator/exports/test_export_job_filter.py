"""Exports filtered by job: only that job's images and their annotations; foreign jobs refused."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from annotator.models import Job
from annotator.services.exports import export_options_clean
from tests.annotator.exports.conftest import coco_from, run_export
from tests.factories import make_project


def test_coco_export_of_one_job_holds_only_its_images_and_annotations(dataset, tmp_path):
    _first, second, _empty = dataset["images"]
    job = Job.objects.create(project=dataset["project"], name="Job A", annotator=dataset["annotator"])
    second.job = job
    second.save(update_fields=["job"])
    coco = coco_from(run_export(dataset["project"], "coco", job_id=job.pk), tmp_path)
    assert [image["id"] for image in coco.dataset["images"]] == [second.pk]
    assert {a["id"] for a in coco.dataset["annotations"]} == {dataset["triangle"].pk}  # approved only
    everything = coco_from(run_export(dataset["project"], "coco"), tmp_path, name="all.json")
    assert len(everything.dataset["images"]) == 3


def test_job_of_another_project_is_refused(dataset):
    other = make_project("Other project")
    foreign = Job.objects.create(project=other, name="Foreign")
    with pytest.raises(ValidationError, match="Not a job of this project"):
        export_options_clean(project=dataset["project"], format="coco", options={"job_id": foreign.pk})


def test_export_dataset_command_takes_a_job_by_name(dataset, tmp_path):
    job = Job.objects.create(project=dataset["project"], name="Job B")
    dataset["images"][0].job = job
    dataset["images"][0].save(update_fields=["job"])
    out = io.StringIO()
    call_command(
        "export_dataset",
        "--project",
        "Export project",
        "--format",
        "coco",
        "--job",
        "Job B",
        "--out",
        str(tmp_path / "b.json"),
        stdout=out,
    )
    coco = coco_from((tmp_path / "b.json").read_bytes(), tmp_path)
    assert [image["id"] for image in coco.dataset["images"]] == [dataset["images"][0].pk]
    assert {a["id"] for a in coco.dataset["annotations"]} == {dataset["hand"].pk, dataset["sam"].pk}


def test_api_export_of_a_job(dataset):
    from rest_framework.test import APIClient

    job = Job.objects.create(project=dataset["project"], name="Job C")
    client = APIClient()
    client.force_authenticate(dataset["manager"])
    response = client.post(
        f"/api/projects/{dataset['project'].pk}/exports/", {"format": "coco", "job_id": job.pk}, format="json"
    )
    assert response.status_code == 202 and response.json()["options"]["job_id"] == job.pk
    foreign = Job.objects.create(project=make_project("Elsewhere"), name="X")
    refused = client.post(
        f"/api/projects/{dataset['project'].pk}/exports/", {"format": "coco", "job_id": foreign.pk}, format="json"
    )
    assert refused.status_code == 400 and "job_id" in refused.json()
