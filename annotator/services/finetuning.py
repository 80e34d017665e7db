"""Fine-tuning a project's decoder on its own labels (docs/models.md): what a run learns from, starting
and cancelling runs, switching the project between model versions, and continuous learning.

The training itself runs in a Celery task on the "training" queue (annotator.services.finetuning_run);
the engine (segmentation.services.finetuning) trains, verifies and registers the version.

Minimums: a run needs MIN_TRAIN_OBJECTS training and MIN_HELDOUT_OBJECTS held-out objects whose
images have embeddings under the project's model. Ten held-out objects are the fewest on which a
mean over clicks 1..5 moves by less than the promotion margin (0.01) from one object's luck alone
only rarely; fewer and the promotion rule would follow noise.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotator import geometry
from annotator.access import require_role, role_in_project
from annotator.models import AnnotationStatus, FinetuneRun, FinetuneRunStatus, Project, Role
from annotator.selectors_embeddings import project_model
from annotator.selectors_finetuning import (
    LabelledObject,
    active_run,
    labelled_objects,
    model_lineage,
    retrain_due_in,
    split_counts,
)
from annotator.services.embeddings import project_embeddings_request
from common.tasks import enqueue_on_commit
from segmentation.models import SamModel
from segmentation.services.embeddings import pixels_for_training
from segmentation.storage import read_embedding
from segmentation.training.examples import Example, is_heldout

logger = logging.getLogger(__name__)

FINETUNE_TASK = "annotator.tasks.finetune_run"
MANAGERS = (Role.MANAGER,)
MIN_TRAIN_OBJECTS = 10
MIN_HELDOUT_OBJECTS = 10
# Loss weight of an object SAM got wrong (edited after SAM, or corrected by a reviewer) against 1 for
# one it got right: those are the masks the model has most to learn from.
CORRECTION_WEIGHT = 3.0
# Statuses a run may learn from; rejected annotations are known to be wrong and never count.
TRAINABLE_STATUSES = (AnnotationStatus.DRAFT, AnnotationStatus.SUBMITTED, AnnotationStatus.APPROVED)
PROMOTE_CHOICES = ("auto", "never", "always")
PARAM_DEFAULTS: dict[str, Any] = {
    "minutes": 10.0,
    "max_epochs": 30,
    "lr": 1e-4,
    "seed": 0,
    "patience": 3,
    "statuses": [AnnotationStatus.APPROVED.value],
    "holdout": 0.2,
    "promote": "auto",
    "train_encoder": False,
}
# (lowest, highest) of each number; minutes stay under the broker's one-hour redelivery timeout.
PARAM_LIMITS: dict[str, tuple[float, float]] = {
    "minutes": (0.05, 50.0),
    "max_epochs": (1, 500),
    "lr": (0.0, 0.01),
    "seed": (0, 2**31 - 1),
    "patience": (1, 100),
    "holdout": (0.05, 0.5),
}
INTEGER_PARAMS = frozenset({"max_epochs", "seed", "patience"})
# A running run whose record has not moved for this long lost its worker (progress is written every
# second, and evaluations and the decoder export take minutes at most): a redelivered task may take
# it over, a cancel ends it at once, and a new start replaces it.
STALE_AFTER = timedelta(minutes=15)


def is_stale(run: FinetuneRun) -> bool:
    return run.status == FinetuneRunStatus.RUNNING and run.updated_at < timezone.now() - STALE_AFTER


def finetune_params_clean(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The run's parameters: the defaults overridden by raw, each checked (ValidationError per field)."""
    raw = dict(raw or {})
    unknown = set(raw) - set(PARAM_DEFAULTS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Unknown fine-tuning parameter."))
    params = {**PARAM_DEFAULTS, **{k: v for k, v in raw.items() if v is not None}}
    errors: dict[str, str] = {}
    for name, (low, high) in PARAM_LIMITS.items():
        value = params[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            errors[name] = f"Must be a number from {low:g} to {high:g}."
        elif name in INTEGER_PARAMS and value != int(value):
            errors[name] = "Must be a whole number."
        else:
            params[name] = int(value) if name in INTEGER_PARAMS else float(value)
    statuses = params["statuses"]
    if not statuses or not isinstance(statuses, list) or not set(statuses) <= set(TRAINABLE_STATUSES):
        errors["statuses"] = f"Choose one or more of {', '.join(TRAINABLE_STATUSES)}."
    else:
        params["statuses"] = [s for s in TRAINABLE_STATUSES if s in statuses]
    if params["promote"] not in PROMOTE_CHOICES:
        errors["promote"] = f"Choose one of {', '.join(PROMOTE_CHOICES)}."
    if not isinstance(params["train_encoder"], bool):
        errors["train_encoder"] = "Must be true or false."
    if errors:
        raise ValidationError(errors)
    return params


def too_few_message(train: int, heldout: int, holdout: float) -> str:
    need_train = max(0, MIN_TRAIN_OBJECTS - train)
    need_heldout = max(0, MIN_HELDOUT_OBJECTS - heldout)
    # Objects to approve so that each side expects its missing ones (rounded first: 9 / 0.2 is 45, not 46).
    more = max(math.ceil(round(need_train / (1 - holdout), 6)), math.ceil(round(need_heldout / holdout, 6)))
    return (
        f"Fine-tuning needs at least {MIN_TRAIN_OBJECTS} training and {MIN_HELDOUT_OBJECTS} held-out objects "
        f"with embeddings ({holdout:.0%} of images are held out); this project has {train} and {heldout}. "
        f"Approve about {more} more objects."
    )


def enough_objects(train: int, heldout: int) -> bool:
    return train >= MIN_TRAIN_OBJECTS and heldout >= MIN_HELDOUT_OBJECTS


@dataclass
class TrainingData:
    train: list[Example] = field(default_factory=list)
    heldout: list[Example] = field(default_factory=list)
    skipped: int = 0  # objects without a ready embedding (or with an empty mask)
    annotations: list[list[int]] = field(default_factory=list)  # [[id, version], ...] of those used


def _stored_prompts(prompts: dict[str, Any]) -> dict[str, Any] | None:
    """The labeler's prompts in image pixels, when they are well formed; None for hand-drawn objects."""
    kept: dict[str, Any] = {}
    points = prompts.get("points")
    if isinstance(points, list) and points and all(isinstance(p, list) and len(p) == 3 for p in points):
        kept["points"] = [[float(x), float(y), int(label)] for x, y, label in points if int(label) in (0, 1)]
    box = prompts.get("box")
    if isinstance(box, list) and len(box) == 4:
        kept["box"] = [float(v) for v in box]
    return kept or None


def training_data(
    *, project: Project, model: SamModel, statuses: tuple[str, ...], holdout: float, pixels: bool = False
) -> TrainingData:
    """Every object in those statuses whose image has a ready embedding under the model's encoder, as
    Examples, split by image. Each image's embedding (and with pixels=True, for training the image
    encoder, its pixels: the embedding's source) is read once and shared by its objects."""
    objects, skipped = labelled_objects(project=project, model=model, statuses=statuses)
    data = TrainingData(skipped=skipped)
    embeddings: dict[str, np.ndarray] = {}
    images: dict[str, np.ndarray] | None = {} if pixels else None
    for item in objects:
        example = _example(item, embeddings, images)
        if example is None:
            data.skipped += 1
            continue
        (data.heldout if is_heldout(example.key, holdout) else data.train).append(example)
        data.annotations.append([item.annotation_id, item.version])
    return data


def _example(
    item: LabelledObject, embeddings: dict[str, np.ndarray], images: dict[str, np.ndarray] | None
) -> Example | None:
    try:
        mask = geometry.rle_decode(item.rle).astype(bool)
    except geometry.GeometryError:
        return None
    if not mask.any():
        return None
    if item.embedding_name not in embeddings:
        embeddings[item.embedding_name] = read_embedding(item.embedding_name)[0]
    image = None
    if images is not None:
        if item.source_name not in images:
            images[item.source_name] = pixels_for_training(item.source_name)
        image = images[item.source_name]
    return Example(
        image=image,
        key=item.key,
        embedding=embeddings[item.embedding_name],
        mask=mask,
        prompts=_stored_prompts(item.prompts),
        weight=CORRECTION_WEIGHT if item.corrected else 1.0,
    )


def examples_for_project(
    project: Project, statuses: tuple[str, ...] = ("approved",), holdout: float = 0.2, *, model: SamModel | None = None
) -> tuple[list[Example], list[Example], int]:
    """(train, held-out, skipped) examples of the project under its current model (or the one given)."""
    data = training_data(project=project, model=model or project_model(project), statuses=statuses, holdout=holdout)
    return data.train, data.heldout, data.skipped


def _check_manager(project: Project, user: User | None) -> None:
    """user None: the system itself (continuous learning, the command line)."""
    if user is not None:
        require_role(role_in_project(user, project) or "", MANAGERS)


@transaction.atomic
def finetune_start(
    *, project: Project, user: User | None, params: dict[str, Any] | None = None, enqueue: bool = True
) -> FinetuneRun:
    """Queue a run on the project's current model (managers only; one active run per project). Refused
    with the reason, and nothing started, when the project has too few objects with embeddings."""
    _check_manager(project, user)
    params = finetune_params_clean(params)
    Project.objects.select_for_update().filter(pk=project.pk).exists()  # serialises starts per project
    active = active_run(project)
    if active is not None and is_stale(active):
        FinetuneRun.objects.filter(pk=active.pk).update(
            status=FinetuneRunStatus.FAILED, finished_at=timezone.now(), message="Its worker stopped answering."
        )
    elif active is not None:
        raise ValidationError({"detail": "A fine-tuning run is already queued or running for this project."})
    model = project_model(project)
    objects, _ = labelled_objects(project=project, model=model, statuses=tuple(params["statuses"]))
    train, heldout = split_counts(objects, params["holdout"])
    if not enough_objects(train, heldout):
        raise ValidationError({"detail": too_few_message(train, heldout, params["holdout"])})
    try:
        with transaction.atomic():
            run = FinetuneRun.objects.create(
                project=project,
                requested_by=user,
                params=params,
                base_model=model,
                train_objects=train,
                heldout_objects=heldout,
            )
    except IntegrityError as exc:  # a concurrent start won
        raise ValidationError({"detail": "A fine-tuning run is already queued or running for this project."}) from exc
    if enqueue:
        enqueue_on_commit(FINETUNE_TASK, run.pk)
    return run


@transaction.atomic
def finetune_cancel(*, run: FinetuneRun, user: User | None) -> FinetuneRun:
    """A queued run is cancelled at once; a running one stops at its next step (the worker reads
    cancel_requested) and registers nothing."""
    _check_manager(run.project, user)
    run = FinetuneRun.objects.select_for_update().get(pk=run.pk)
    if run.status == FinetuneRunStatus.QUEUED:
        run.status, run.finished_at, run.message = (
            FinetuneRunStatus.CANCELLED,
            timezone.now(),
            "Cancelled before it started.",
        )
        run.save(update_fields=["status", "finished_at", "message", "updated_at"])
    elif is_stale(run):
        run.status, run.finished_at, run.message = (
            FinetuneRunStatus.CANCELLED,
            timezone.now(),
            "Cancelled (its worker had stopped answering).",
        )
        run.save(update_fields=["status", "finished_at", "message", "updated_at"])
    elif run.status == FinetuneRunStatus.RUNNING:
        run.cancel_requested = True
        run.save(update_fields=["cancel_requested", "updated_at"])
    else:
        raise ValidationError({"detail": f"This run is {run.status}; only queued or running runs can be cancelled."})
    return run


@transaction.atomic
def model_activate(*, project: Project, model: SamModel, user: User | None) -> Project:
    """Make one model of the project's lineage its model: promote a candidate or roll back. The
    browser picks the new decoder up on its next image."""
    _check_manager(project, user)
    if model.pk not in {m.pk for m in model_lineage(project)}:
        raise ValidationError({"detail": "This model is not a version of this project's model."})
    previous_encoder = project_model(project).encoder_sha256
    project.sam_model = model
    project.save(update_fields=["sam_model"])
    if model.encoder_sha256 != previous_encoder:
        # Another image encoder (a version trained with its encoder, or a rollback from one): the
        # embeddings under it are requested now (content it embedded before is reused at once).
        project_embeddings_request(project.pk)
    logger.info("Project %s now uses model %s (by %s)", project.pk, model.name, user or "the system")
    return project


def finetune_maybe_schedule(project_id: int) -> FinetuneRun | None:
    """Continuous learning, called after approvals: start a run with the defaults (promotion "auto")
    once retrain_every approvals and corrections came in since the last run. Too few objects: none."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None or project.retrain_every <= 0 or active_run(project) is not None:
        return None
    if retrain_due_in(project) != 0:
        return None
    try:
        return finetune_start(project=project, user=None, params={"promote": "auto"})
    except ValidationError as exc:
        logger.info("Continuous learning in project %s waits: %s", project_id, " ".join(exc.messages))
        return None
