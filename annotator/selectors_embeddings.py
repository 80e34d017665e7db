"""Reads that join the annotator's images and projects to the engine's models and embeddings."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.http import Http404

from annotator.access import project_for_user
from annotator.models import AutoMaskJob, Image, Project
from annotator.selectors import embedding_status_counts
from segmentation.models import Embedding, SamModel
from segmentation.selectors import embedding_get
from segmentation.services.models import model_or_default


def project_model(project: Project) -> SamModel:
    """The project's active model: its own choice, else the default (registered on first use)."""
    return model_or_default(project.sam_model if project.sam_model_id else None)


def embedding_for_image(image: Image, model: SamModel | None = None) -> Embedding | None:
    """The embedding of the image's content under its project's model (or the model given)."""
    return embedding_get(image_sha256=image.sha256, model=model or project_model(image.project))


def embedding_progress(project: Project) -> dict[str, int]:
    """Counts of the project's images per embedding status, and their total (the progress bar)."""
    counts = embedding_status_counts(project=project)
    counts["total"] = sum(counts.values())
    return counts


def image_for_member(user: User | AnonymousUser, image_id: int) -> Image:
    """The image with its project and model when the user is a member of its project; 404 otherwise."""
    image = Image.objects.select_related("project", "project__sam_model").filter(pk=image_id).first()
    if image is None:
        raise Http404("No such image.")
    project_for_user(user, image.project_id)  # 404 for a non-member
    return image


def auto_mask_job_get(*, project: Project, job_id: int) -> AutoMaskJob:
    job = AutoMaskJob.objects.filter(project=project, pk=job_id).first()
    if job is None:
        raise Http404("No such job.")
    return job
