"""Reads for decoder fine-tuning: a project's labelled objects with embeddings, its runs, the model
versions of its lineage and when continuous learning starts the next run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet
from django.http import Http404

from annotator.access import project_for_user
from annotator.models import Annotation, AnnotationStatus, FinetuneRun, FinetuneRunStatus, Project, StatusTransition
from annotator.selectors_embeddings import project_model
from segmentation.models import Embedding, EmbeddingState, SamModel
from segmentation.training.examples import is_heldout

# The audit rows of reviewer corrections (annotator.services.annotations.CORRECTED; not imported from
# there: the review services import this module, and the annotation services import them).
CORRECTED = "corrected"
ACTIVE_STATUSES = (FinetuneRunStatus.QUEUED, FinetuneRunStatus.RUNNING)
# What continuous learning counts as new labels: approvals and reviewer corrections of annotations.
LEARNING_EVENTS = (AnnotationStatus.APPROVED, CORRECTED)
RUN_LIST_LIMIT = 100


@dataclass(frozen=True)
class LabelledObject:
    """One annotation to learn from, with what its example needs (no pixels, no tensors yet)."""

    annotation_id: int
    version: int
    image_id: int
    rle: dict[str, Any]
    prompts: dict[str, Any]
    corrected: bool  # edited after SAM, or corrected by a reviewer: SAM got it wrong
    embedding_name: str  # storage name of the image's ready embedding under the model's encoder
    source_name: str = ""  # storage name of the pixels that embedding was computed from

    @property
    def key(self) -> str:
        """The image's identity for the held-out split (all objects of an image stay on one side)."""
        return str(self.image_id)


def labelled_objects(
    *, project: Project, model: SamModel, statuses: tuple[str, ...]
) -> tuple[list[LabelledObject], int]:
    """(objects whose image has a ready embedding under the model's encoder, count of those skipped
    for want of one), in annotation id order."""
    rows = list(
        Annotation.objects.filter(image__project=project, status__in=statuses)
        .order_by("id")
        .values_list("id", "version", "image_id", "image__sha256", "rle", "prompts", "edited_after_sam")
    )
    shas = {row[3] for row in rows}
    ready = {
        sha: (file, source)
        for sha, file, source in Embedding.objects.filter(
            image_sha256__in=shas, model_sha256=model.encoder_sha256, status=EmbeddingState.READY
        ).values_list("image_sha256", "file", "source_name")
    }
    corrected = set(
        StatusTransition.objects.filter(project=project, to_status=CORRECTED, annotation__isnull=False).values_list(
            "annotation_id", flat=True
        )
    )
    found = [
        LabelledObject(
            annotation_id=pk,
            version=version,
            image_id=image_id,
            rle=rle,
            prompts=prompts or {},
            corrected=edited or pk in corrected,
            embedding_name=ready[sha][0],
            source_name=ready[sha][1],
        )
        for pk, version, image_id, sha, rle, prompts, edited in rows
        if sha in ready and ready[sha][0]
    ]
    return found, len(rows) - len(found)


def split_counts(objects: list[LabelledObject], holdout: float) -> tuple[int, int]:
    """(training, held-out) object counts under the stable per-image split."""
    heldout = sum(1 for item in objects if is_heldout(item.key, holdout))
    return len(objects) - heldout, heldout


def finetune_run_list(*, project: Project) -> QuerySet[FinetuneRun]:
    return FinetuneRun.objects.filter(project=project).select_related("base_model", "result_model", "requested_by")[
        :RUN_LIST_LIMIT
    ]


def active_run(project: Project) -> FinetuneRun | None:
    return FinetuneRun.objects.filter(project=project, status__in=ACTIVE_STATUSES).first()


def finetune_run_for_member(
    user: User | AnonymousUser, run_id: int, *, roles: tuple[str, ...] | None = None
) -> FinetuneRun:
    """The run when the user is a member of its project (with one of the roles); 404 otherwise."""
    run = (
        FinetuneRun.objects.select_related("project", "base_model", "result_model", "requested_by")
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        raise Http404("No such fine-tuning run.")
    project_for_user(user, run.project_id, roles=roles)
    return run


def model_lineage(project: Project) -> list[SamModel]:
    """The models this project may switch between: its current model, the base and result of each of
    its runs, and their ancestors; oldest first."""
    wanted = {project_model(project).pk}
    for base_id, result_id in FinetuneRun.objects.filter(project=project).values_list(
        "base_model_id", "result_model_id"
    ):
        wanted.update(pk for pk in (base_id, result_id) if pk)
    found: dict[int, SamModel] = {}
    while wanted:
        for model in SamModel.objects.filter(pk__in=wanted):
            found[model.pk] = model
        wanted = {m.parent_id for m in found.values() if m.parent_id and m.parent_id not in found}
    return sorted(found.values(), key=lambda m: (m.created_at, m.pk))


def learning_events_since(project: Project) -> int:
    """Approvals and corrections of annotations since the project's last run was created (all of
    them before its first run)."""
    events = StatusTransition.objects.filter(project=project, annotation__isnull=False, to_status__in=LEARNING_EVENTS)
    last = FinetuneRun.objects.filter(project=project).order_by("-created_at").values_list("created_at", flat=True)
    if last:
        events = events.filter(created_at__gt=last[0])
    return events.count()


def retrain_due_in(project: Project) -> int | None:
    """How many more approvals or corrections start the next automatic run; None when continuous
    learning is off."""
    if project.retrain_every <= 0:
        return None
    return max(0, project.retrain_every - learning_events_since(project))
