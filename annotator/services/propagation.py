"""Slice propagation of an accepted object through its DICOM series (docs/dicom.md): a run on the
bulk queue walks the series in slice order from the seed's slice, both ways, asks the engine for
each next slice's mask (segmentation.services.propagation; embeddings missing on the way are
computed in the task), and stores each kept mask as a proposed draft (source "propagated", linked
to the seed) that the labeler accepts, edits or deletes."""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotator.geometry import rle_decode, rle_encode
from annotator.models import Annotation, AnnotationSource, AnnotationStatus, Image, PropagationRun
from annotator.models_propagation import PropagationRunStatus
from annotator.selectors_embeddings import project_model
from annotator.services.annotations import annotation_create
from annotator.services.embeddings import embedding_source
from annotator.services.series import series_slices
from common.tasks import enqueue_on_commit
from segmentation.propagation import StopRule, propagate_direction, walk_indices
from segmentation.services.propagation import propagate_to_slice

logger = logging.getLogger(__name__)

PROPAGATION_RUN_TASK = "annotator.tasks.propagation_run"
DEFAULT_MAX_SLICES = 20  # slices tried each way from the seed unless the request says otherwise
MAX_SLICES_LIMIT = 500


def propagation_start(*, seed: Annotation, user: User | None, max_slices: int | None = None) -> PropagationRun:
    """Queue a run from this accepted object (ValidationError with the reason when it cannot run)."""
    max_slices = DEFAULT_MAX_SLICES if max_slices is None else max_slices
    if not 1 <= max_slices <= MAX_SLICES_LIMIT:
        raise ValidationError({"max_slices": f"Must be between 1 and {MAX_SLICES_LIMIT}."})
    if seed.proposed:
        raise ValidationError(
            {"seed": "Accept this propagated draft first: propagation starts from an accepted object."}
        )
    if not seed.rle:
        raise ValidationError({"seed": "The object has no mask to propagate."})
    if len(series_slices(seed.image)) < 2:
        raise ValidationError({"seed": "The image is not a slice of a DICOM series with other slices of its size."})
    with transaction.atomic():
        run = PropagationRun.objects.create(
            project_id=seed.image.project_id, seed=seed, params={"max_slices": max_slices}, created_by=user
        )
        enqueue_on_commit(PROPAGATION_RUN_TASK, run.pk)
    return run


def propagation_run(run_id: int) -> PropagationRun:
    """The task's body: idempotent (a redelivered run replaces the drafts it had made and that are
    still proposed; accepted ones stay and their slices get no second draft)."""
    run = PropagationRun.objects.select_related("seed", "seed__image", "seed__label_class").get(pk=run_id)
    if run.status in (PropagationRunStatus.DONE, PropagationRunStatus.FAILED):
        return run
    seed = run.seed
    if seed is None:
        return _finish(run, PropagationRunStatus.FAILED, error="The seed object was deleted.")
    PropagationRun.objects.filter(pk=run.pk).update(status=PropagationRunStatus.RUNNING)
    try:
        created, stopped = _walk(run, seed)
    except Exception as exc:
        logger.exception("Propagation run %s failed", run_id)
        return _finish(run, PropagationRunStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
    run.refresh_from_db()
    return _finish(run, PropagationRunStatus.DONE, progress={**run.progress, "created": created, "stopped": stopped})


def _walk(run: PropagationRun, seed: Annotation) -> tuple[int, dict[str, str]]:
    image = seed.image
    slices = series_slices(image)
    position = next(i for i, s in enumerate(slices) if s.pk == image.pk)
    after, before = walk_indices(position, len(slices), int(run.params.get("max_slices", DEFAULT_MAX_SLICES)))
    model = project_model(image.project)
    Annotation.objects.filter(propagated_from=seed, proposed=True).delete()
    accepted = set(Annotation.objects.filter(propagated_from=seed).values_list("image_id", flat=True))
    done = 0
    _progress(run, done=0, total=len(after) + len(before), created=0)

    def step(index: int, previous, prompts: dict):
        nonlocal done
        target = slices[index]
        output = propagate_to_slice(
            model=model,
            source=embedding_source(target),
            height=target.height,
            width=target.width,
            previous_mask=previous,
            prompts=prompts,
        )
        done += 1
        _progress(run, done=done)
        return output

    created, stopped = 0, {}
    seed_mask = rle_decode(seed.rle).astype(bool)
    for name, indices in (("after", after), ("before", before)):
        walked = propagate_direction(step, seed_mask=seed_mask, indices=indices, rule=StopRule())
        stopped[name] = walked.stop_reason
        for kept in walked.slices:
            target = slices[kept.index]
            if target.pk not in accepted:
                _draft(seed, target, kept.output.mask, kept.prompts, run)
                created += 1
        _progress(run, created=created)
    return created, stopped


def _draft(seed: Annotation, image: Image, mask, prompts: dict, run: PropagationRun) -> Annotation:
    points = [[x, y, 1] for x, y in prompts.get("points", [])]
    with transaction.atomic():
        draft = annotation_create(
            image=image,
            label_class=seed.label_class,
            source=AnnotationSource.PROPAGATED,
            rle=rle_encode(mask),
            prompts={"points": points, "box": prompts.get("box"), "propagation_run": run.pk},
            author=run.created_by,
            status=AnnotationStatus.DRAFT,
        )
        Annotation.objects.filter(pk=draft.pk).update(propagated_from=seed, proposed=True)
    draft.propagated_from, draft.proposed = seed, True
    return draft


def _progress(run: PropagationRun, **changes) -> None:
    run.progress = {**run.progress, **changes}
    PropagationRun.objects.filter(pk=run.pk).update(progress=run.progress, updated_at=timezone.now())


def _finish(run: PropagationRun, status: str, *, error: str = "", progress: dict | None = None) -> PropagationRun:
    PropagationRun.objects.filter(pk=run.pk).update(
        status=status,
        error=error,
        progress=progress if progress is not None else run.progress,
        finished_at=timezone.now(),
    )
    return PropagationRun.objects.get(pk=run.pk)


def proposal_accept(*, annotation: Annotation) -> Annotation:
    """The labeler accepts a propagated draft as it is (an edit through the annotation API accepts
    it too, see annotator.services.annotations)."""
    Annotation.objects.filter(pk=annotation.pk, proposed=True).update(proposed=False, version=annotation.version + 1)
    annotation.refresh_from_db()
    return annotation


def proposals_accept(*, seed: Annotation) -> int:
    """Accept every draft still proposed from this seed; returns how many."""
    drafts = list(Annotation.objects.filter(propagated_from=seed, proposed=True))
    for draft in drafts:
        proposal_accept(annotation=draft)
    return len(drafts)
