"""Reads of the segmentation engine (all query shaping lives here)."""

from __future__ import annotations

from django.db.models import Count

from annotator.models import Image, Project
from segmentation.models import AutoMaskJob, Embedding, EmbeddingState, SamModel


def embedding_for_image(image: Image, model: SamModel) -> Embedding | None:
    """The embedding of this image's content under this model (shared across projects)."""
    return (
        Embedding.objects.select_related("model")
        .filter(image_sha256=image.sha256, model_sha256=model.checkpoint_sha256)
        .first()
    )


def embedding_progress(project: Project) -> dict[str, int]:
    """Counts of the project's images per embedding status (the project page's progress bar)."""
    counts = dict.fromkeys(EmbeddingState.values, 0)
    for row in Image.objects.filter(project=project).values("embedding_status").annotate(n=Count("id")):
        counts[row["embedding_status"]] = row["n"]
    counts["total"] = sum(counts.values())
    return counts


def image_for_project_member(image_id: int) -> Image | None:
    return Image.objects.select_related("project", "project__sam_model").filter(pk=image_id).first()


def auto_mask_job_get(*, project: Project, job_id: int) -> AutoMaskJob | None:
    return AutoMaskJob.objects.filter(project=project, pk=job_id).first()
