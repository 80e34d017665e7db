"""Pages of the review workflow: jobs and progress on the project page, My queue, the review list."""

import json

from django.urls import reverse

from annotator.models import Image, Job
from annotator.services.jobs import jobs_split
from annotator.services.review import image_submit
from tests.factories import make_annotation


def test_project_page_jobs_and_progress(crew, client):
    project = crew["project"]
    client.force_login(crew["maria"])
    response = client.post(
        reverse("jobs-split", args=[project.pk]),
        {"count": "3", "annotator": crew["anton"].pk, "reviewer": crew["rita"].pk},
    )
    assert response.status_code == 302 and response["Location"].endswith("#jobs")
    assert list(Job.objects.values_list("name", "annotator__username")) == [("Job 1", "anton"), ("Job 2", "anton")]
    bad = client.post(reverse("jobs-split", args=[project.pk]), {"count": "2"}, follow=True)
    assert "already in a job" in bad.content.decode()
    job = Job.objects.get(name="Job 2")
    client.post(reverse("job-assign", args=[project.pk, job.pk]), {"annotator": crew["alina"].pk, "reviewer": ""})
    job.refresh_from_db()
    assert (job.annotator, job.reviewer) == (crew["alina"], None)

    make_annotation(crew["images"][0], label_class=crew["cell"], author=crew["anton"], time_spent_ms=36_000)
    content = client.get(reverse("project-detail", args=[project.pk])).content.decode()
    assert 'id="jobs"' in content and 'id="progress"' in content
    assert "Not started: <strong>3</strong>" in content and "In progress: <strong>1</strong>" in content
    assert 'data-annotator="anton"' in content and "100.0" in content  # 1 object in 36 s = 100/h
    assert reverse("api-metrics-csv", args=[project.pk]) in content

    client.force_login(crew["anton"])
    content = client.get(reverse("project-detail", args=[project.pk])).content.decode()
    assert 'id="progress"' in content and 'data-annotator="anton"' not in content  # no metrics for annotators
    assert reverse("jobs-split", args=[project.pk]) not in content
    assert client.post(reverse("jobs-split", args=[project.pk]), {"count": "1"}).status_code == 403


def test_queue_submit_and_review_pages(crew, client):
    project, image = crew["project"], crew["images"][0]
    annotation = make_annotation(image, label_class=crew["cell"], author=crew["anton"])
    client.force_login(crew["anton"])
    page = client.get(reverse("review-queue", args=[project.pk])).content.decode()
    assert 'id="next-image"' in page and f'data-image-id="{image.pk}"' in page
    client.post(reverse("image-submit", args=[image.pk]))
    assert Image.objects.get(pk=image.pk).review_status == "submitted"
    assert client.get(reverse("review-page", args=[project.pk])).status_code == 403

    client.force_login(crew["rita"])
    page = client.get(reverse("review-page", args=[project.pk])).content.decode()
    assert f'data-annotation-id="{annotation.pk}"' in page and "Manual polygon" in page
    needs_comment = client.post(reverse("annotation-review", args=[annotation.pk]), {"decision": "reject"}, follow=True)
    assert "needs a comment" in needs_comment.content.decode()
    client.post(reverse("annotation-review", args=[annotation.pk]), {"decision": "reject", "comment": "wrong cell"})
    assert Image.objects.get(pk=image.pk).review_status == "rejected"

    client.force_login(crew["anton"])
    page = client.get(reverse("review-queue", args=[project.pk])).content.decode()
    assert 'data-review-status="rejected"' in page and "wrong cell" in page
    image_submit(image=image, user=crew["anton"])
    client.force_login(crew["rita"])
    client.post(reverse("image-review", args=[image.pk]), {"decision": "approve"})
    assert Image.objects.get(pk=image.pk).review_status == "approved"
    assert "No submitted images" in client.get(reverse("review-page", args=[project.pk])).content.decode()


def test_annotator_page_can_write_follows_assignment_and_review(crew, client):
    image = crew["images"][0]
    jobs_split(project=crew["project"], image_ids=[image.pk], annotator=crew["anton"])

    def can_write(user) -> bool:
        client.force_login(user)
        content = client.get(reverse("image-annotate", args=[image.pk])).content.decode()
        start = content.index('id="annotator-config"')
        payload = content[content.index(">", start) + 1 : content.index("</script>", start)]
        return json.loads(payload)["can_write"]

    assert can_write(crew["anton"]) and can_write(crew["maria"])
    assert not can_write(crew["alina"]) and not can_write(crew["rita"])
    image_submit(image=image, user=crew["anton"])
    assert not can_write(crew["anton"]) and can_write(crew["maria"])
