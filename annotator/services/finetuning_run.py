"""Executing a fine-tuning run (the Celery task annotator.tasks.finetune_run, or the command line):
claim it, gather the project's examples, let the engine train and register the version, record
progress as it goes, compare with the base and apply the promotion rule.

Promotion rule ("auto"): the held-out mean of mIoU@1..5 improves by at least PROMOTE_MIN_GAIN and
NoC@90 does not get worse; "always" promotes any new version, "never" keeps it as a candidate.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotator.models import FinetuneDecision, FinetuneRun, FinetuneRunStatus, Project
from annotator.services.embeddings import project_embeddings_request
from annotator.services.finetuning import STALE_AFTER, enough_objects, too_few_message, training_data
from segmentation.services.finetuning import finetune_version
from segmentation.training.examples import FinetuneCancelled, FinetuneParams, score

logger = logging.getLogger(__name__)

PROMOTE_MIN_GAIN = 0.01
EVAL_CLICKS = 5
WRITE_EVERY_S = 1.0  # progress writes (and cancel checks) at most this often
CURVE_POINTS = 300  # step losses kept for the loss curve


def promotion_decision(base: dict[str, float], tuned: dict[str, float], promote: str) -> bool:
    """Whether the tuned version replaces the base as the project's model."""
    if promote == "always":
        return True
    if promote == "never":
        return False
    gain = score(tuned, EVAL_CLICKS) - score(base, EVAL_CLICKS)
    return gain >= PROMOTE_MIN_GAIN - 1e-9 and tuned.get("NoC@90", math.inf) <= base.get("NoC@90", math.inf)


def thin(points: list[dict[str, float]], limit: int = CURVE_POINTS) -> list[dict[str, float]]:
    """Every other point once there are more than limit: the curve keeps its shape in bounded space."""
    while len(points) > limit:
        points = points[::2]
    return points


def _finite(value: Any) -> Any:
    """NaN/inf -> None (an epoch cut short by the time budget has a NaN loss; jsonb refuses NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _Recorder:
    """on_progress / should_stop for the engine: writes progress and history at most once a second
    (and every epoch row at once), reads cancel_requested at most once a second."""

    def __init__(self, run: FinetuneRun, report: Callable[[dict[str, Any]], None] | None):
        self.run_id, self.report = run.pk, report
        self.epochs: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.progress: dict[str, Any] = {}
        self.last_write = self.last_check = 0.0
        self.cancelled = False

    def on_progress(self, row: dict[str, float]) -> None:
        row = {key: _finite(float(value)) for key, value in row.items()}
        if "step" in row:
            self.steps = thin([*self.steps, {"step": row["step"], "loss": row.get("loss")}])
            self.progress.update({k: row.get(k) for k in ("epoch", "step", "loss")})
        else:
            self.epochs.append({k: row.get(k) for k in ("epoch", "loss", "heldout", "seconds")})
            self.progress.update({"epoch": row.get("epoch"), "heldout": row.get("heldout")})
        if self.report is not None:
            self.report(row)
        if "step" not in row or time.monotonic() - self.last_write >= WRITE_EVERY_S:
            self.write()

    def write(self) -> None:
        self.last_write = time.monotonic()
        FinetuneRun.objects.filter(pk=self.run_id).update(
            progress=self.progress, history=self.history(), updated_at=timezone.now()
        )

    def history(self) -> dict[str, list[dict[str, Any]]]:
        return {"epochs": self.epochs, "steps": self.steps}

    def should_stop(self) -> bool:
        if not self.cancelled and time.monotonic() - self.last_check >= WRITE_EVERY_S:
            self.last_check = time.monotonic()
            self.cancelled = FinetuneRun.objects.filter(pk=self.run_id, cancel_requested=True).exists()
        return self.cancelled


def _claim(run_id: int) -> bool:
    """queued -> running; a stale running run (its worker died, the task came back) is taken over."""
    now = timezone.now()
    claimable = Q(status=FinetuneRunStatus.QUEUED) | Q(
        status=FinetuneRunStatus.RUNNING, updated_at__lt=now - STALE_AFTER, cancel_requested=False
    )
    return bool(
        FinetuneRun.objects.filter(claimable, pk=run_id).update(
            status=FinetuneRunStatus.RUNNING, started_at=now, updated_at=now
        )
    )


def _finish(run_id: int, status: str, **fields: Any) -> None:
    FinetuneRun.objects.filter(pk=run_id).update(
        status=status, finished_at=timezone.now(), updated_at=timezone.now(), **fields
    )


def version_name(run: FinetuneRun) -> str:
    """Unique among all models (project names are unique, run ids too), at most 100 characters."""
    return f"{run.project.name[:70]} (fine-tune #{run.pk})"


def finetune_execute(run_id: int, *, report: Callable[[dict[str, Any]], None] | None = None) -> FinetuneRun:
    """Run a queued run to its end: done (with or without a new version, promoted or kept), failed
    (with the reason) or cancelled (nothing registered). A run already claimed or finished: no-op."""
    if not _claim(run_id):
        return FinetuneRun.objects.get(pk=run_id)
    run = FinetuneRun.objects.select_related("project", "base_model").get(pk=run_id)
    params = run.params
    train_encoder = bool(params.get("train_encoder", False))  # runs recorded before the option: False
    recorder = _Recorder(run, report)
    try:
        data = training_data(
            project=run.project,
            model=run.base_model,
            statuses=tuple(params["statuses"]),
            holdout=params["holdout"],
            pixels=train_encoder,
        )
        FinetuneRun.objects.filter(pk=run_id).update(
            train_objects=len(data.train), heldout_objects=len(data.heldout), annotations=data.annotations
        )
        if not enough_objects(len(data.train), len(data.heldout)):
            _finish(
                run_id,
                FinetuneRunStatus.FAILED,
                message=too_few_message(len(data.train), len(data.heldout), params["holdout"]),
            )
            return FinetuneRun.objects.get(pk=run_id)
        result, version = finetune_version(
            base=run.base_model,
            train=data.train,
            heldout=data.heldout,
            params=FinetuneParams(
                minutes=params["minutes"],
                max_epochs=params["max_epochs"],
                lr=params["lr"],
                seed=params["seed"],
                patience=params["patience"],
                eval_clicks=EVAL_CLICKS,
                # "always" asked for a new version: the best trained epoch, even if the base scores higher.
                keep_trained=params["promote"] == "always",
                train_encoder=train_encoder,
            ),
            name=version_name(run),
            on_progress=recorder.on_progress,
            should_stop=recorder.should_stop,
            data={"annotations": data.annotations, "project_id": run.project_id, "run_id": run.pk},
        )
    except FinetuneCancelled:
        _finish(
            run_id, FinetuneRunStatus.CANCELLED, history=recorder.history(), message="Cancelled; nothing registered."
        )
        return FinetuneRun.objects.get(pk=run_id)
    except Exception as exc:
        logger.exception("Fine-tuning run %s failed", run_id)
        _finish(
            run_id, FinetuneRunStatus.FAILED, history=recorder.history(), message=f"{type(exc).__name__}: {exc}"[:2000]
        )
        return FinetuneRun.objects.get(pk=run_id)
    new_version = version.pk != run.base_model_id
    promoted = new_version and promotion_decision(result.base, result.tuned, params["promote"])
    with transaction.atomic():
        if promoted:
            Project.objects.filter(pk=run.project_id).update(sam_model=version)
            if version.encoder_sha256 != run.base_model.encoder_sha256:
                project_embeddings_request(run.project_id)  # its own encoder: every image again
        _finish(
            run_id,
            FinetuneRunStatus.DONE,
            result_model=version if new_version else None,
            metrics={
                name: {k: _finite(float(v)) for k, v in values.items()}
                for name, values in (("base", result.base), ("tuned", result.tuned))
            },
            history=recorder.history(),
            decision=FinetuneDecision.PROMOTED if promoted else FinetuneDecision.KEPT,
            seconds=round(result.seconds, 3),
            message=_outcome(result.stopped, new_version, promoted, version.name),
        )
    return FinetuneRun.objects.select_related("result_model", "base_model").get(pk=run_id)


def _outcome(stopped: str, new_version: bool, promoted: bool, name: str) -> str:
    why = {"epochs": "after its last epoch", "time": "at its time budget", "patience": "when held-out scores stalled"}
    ended = f"Training stopped {why.get(stopped, 'early')}."
    if not new_version:
        return f"{ended} No epoch beat the base model on the held-out objects: no version registered."
    return f"{ended} {'Promoted' if promoted else 'Kept as a candidate:'} {name}."
