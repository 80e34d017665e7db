"""The reconciler: sends again the work whose task was lost, and requests missing embeddings.

A task is lost when its worker dies (kill -9, out of memory: Redis redelivers an unacknowledged
message only after the broker's visibility timeout, the filesystem broker never), or when the broker
was down at the send (common.tasks.enqueue logs it and leaves the row). Every task is idempotent, so
sending one again is safe; the reconciler sends again only rows that made no progress for
`stale_after` (ANNOTATOR_RECONCILE_STALE_AFTER_S), and bumps their clock, so a row is sent at most
once per timeout. Celery beat runs `reconcile()` every ANNOTATOR_RECONCILE_EVERY_S (task
annotator.tasks.reconcile, CELERY_BEAT_SCHEDULE).

The clock of each kind of work:
- Embedding (engine): updated_at, set at the request and at the claim (segmentation.services.embedding_recovery).
- AutoMaskJob, FinetuneRun: updated_at, written with every image done / every progress report
  (a fine-tuning run is taken over only past finetuning.STALE_AFTER of silence too).
- Export and the DICOM re-render (Project.dicom_render_state) have no clock column: the reconciler
  leaves a sighting on the row (Export.summary["reconcile_seen"], dicom_render_state["reconcile_seen"])
  with its progress; a later pass that finds the same sighting older than the timeout (no progress
  in between: a progress write of the render replaces the state, an export's progress differs) sends
  it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from annotator.models import (
    AutoMaskJob,
    AutoMaskJobStatus,
    Export,
    ExportStatus,
    FinetuneRun,
    FinetuneRunStatus,
    Image,
    Project,
)
from annotator.selectors_embeddings import project_model
from annotator.services.auto_masks import AUTO_MASKS_COMPUTE_TASK
from annotator.services.blobs import blob_journals_sweep
from annotator.services.dicom_renditions import dicom_render_enqueue
from annotator.services.embeddings import embeddings_request
from annotator.services.finetuning import FINETUNE_TASK, STALE_AFTER
from common.tasks import enqueue
from segmentation.models import Embedding
from segmentation.services.embedding_recovery import embedding_requeue, embeddings_stale

logger = logging.getLogger(__name__)

EXPORT_TASK = "annotator.tasks.export_run"
# Most images whose missing embeddings one pass requests (the rest wait for the next pass).
MISSING_EMBEDDINGS_PER_PASS = 500


@dataclass
class ReconcileReport:
    embeddings: list[int] = field(default_factory=list)  # Embedding ids sent again
    missing_embeddings: list[int] = field(default_factory=list)  # Image ids whose embedding was requested
    exports: list[int] = field(default_factory=list)
    auto_mask_jobs: list[int] = field(default_factory=list)
    finetune_runs: list[int] = field(default_factory=list)
    dicom_renders: list[int] = field(default_factory=list)  # Project ids
    blob_journals: list[str] = field(default_factory=list)  # journals of killed ingests, blobs deleted

    def total(self) -> int:
        return sum(len(v) for v in vars(self).values())


def reconcile(*, stale_after: timedelta | None = None) -> ReconcileReport:
    """One pass over every kind of background work (see the module docstring)."""
    if stale_after is None:
        stale_after = timedelta(seconds=settings.ANNOTATOR_RECONCILE_STALE_AFTER_S)
    now = timezone.now()
    report = ReconcileReport()
    for embedding in embeddings_stale(older_than=stale_after):
        if embedding_requeue(embedding.pk):
            report.embeddings.append(embedding.pk)
    report.missing_embeddings = images_without_embeddings_request()
    report.auto_mask_jobs = _auto_mask_jobs_requeue(now - stale_after)
    report.finetune_runs = _finetune_runs_requeue(now, stale_after)
    report.exports = _exports_requeue(now, stale_after)
    report.dicom_renders = _dicom_renders_requeue(now, stale_after)
    report.blob_journals = blob_journals_sweep(older_than=stale_after)
    if report.total():
        logger.warning("Reconciler sent lost work again: %s", report)
    return report


def images_without_embeddings_request(limit: int = MISSING_EMBEDDINGS_PER_PASS) -> list[int]:
    """Request the embeddings of images that have no Embedding row under their project's model
    (their request was never sent: broker down at the upload, a request killed mid-way)."""
    requested: list[Image] = []
    for project in Project.objects.select_related("sam_model").order_by("id"):
        model = project_model(project)
        known = Embedding.objects.filter(model_sha256=model.encoder_sha256).values("image_sha256")
        images = list(
            Image.objects.filter(project=project)
            .exclude(sha256__in=known)
            .select_related("project")[: limit - len(requested)]
        )
        if images:
            embeddings_request(images=images)
            requested += images
        if len(requested) >= limit:
            break
    return [image.pk for image in requested]


def _auto_mask_jobs_requeue(cutoff: datetime) -> list[int]:
    sent = []
    stale = AutoMaskJob.objects.filter(
        status__in=[AutoMaskJobStatus.PENDING, AutoMaskJobStatus.RUNNING], updated_at__lt=cutoff
    )
    for job_id in stale.values_list("id", flat=True):
        # The clock moves first: the next pass leaves it alone while the task waits in the queue.
        moved = AutoMaskJob.objects.filter(pk=job_id, updated_at__lt=cutoff).update(updated_at=timezone.now())
        if moved and enqueue(AUTO_MASKS_COMPUTE_TASK, job_id):
            sent.append(job_id)
    return sent


def _finetune_runs_requeue(now: datetime, stale_after: timedelta) -> list[int]:
    """Queued runs whose task was lost are sent again; a running run silent past the training
    heartbeat (at least finetuning.STALE_AFTER) goes back to queued and is sent again (its claim
    takes it over), or ends cancelled when a cancel was asked for."""
    sent = []
    silent = now - max(stale_after, STALE_AFTER)
    FinetuneRun.objects.filter(status=FinetuneRunStatus.RUNNING, updated_at__lt=silent, cancel_requested=True).update(
        status=FinetuneRunStatus.CANCELLED, finished_at=now, updated_at=now, message="Cancelled (its worker stopped)."
    )
    stale = Q(status=FinetuneRunStatus.QUEUED, updated_at__lt=now - stale_after) | Q(
        status=FinetuneRunStatus.RUNNING, updated_at__lt=silent
    )
    for run_id in FinetuneRun.objects.filter(stale).values_list("id", flat=True):
        moved = FinetuneRun.objects.filter(stale, pk=run_id).update(status=FinetuneRunStatus.QUEUED, updated_at=now)
        if moved and enqueue(FINETUNE_TASK, run_id):
            sent.append(run_id)
    return sent


def _sighting(progress: float, now: datetime) -> dict:
    return {"progress": progress, "at": now.isoformat()}


def _unchanged_since(seen: object, progress: float, cutoff: datetime) -> bool:
    """True when an earlier pass saw this same progress before `cutoff`."""
    if not isinstance(seen, dict) or seen.get("progress") != progress:
        return False
    try:
        return datetime.fromisoformat(str(seen.get("at"))) < cutoff
    except ValueError:
        return False


def _exports_requeue(now: datetime, stale_after: timedelta) -> list[int]:
    sent = []
    for export in Export.objects.filter(status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]):
        summary = export.summary if isinstance(export.summary, dict) else {}
        seen = summary.get("reconcile_seen")
        if _unchanged_since(seen, export.progress, now - stale_after):
            Export.objects.filter(pk=export.pk).update(status=ExportStatus.QUEUED, summary={})
            if enqueue(EXPORT_TASK, export.pk):
                sent.append(export.pk)
            continue
        if not isinstance(seen, dict) or seen.get("progress") != export.progress:
            summary = {**summary, "reconcile_seen": _sighting(export.progress, now)}
            Export.objects.filter(pk=export.pk, status=export.status).update(summary=summary)
    return sent


def _dicom_renders_requeue(now: datetime, stale_after: timedelta) -> list[int]:
    """A re-render queued or running with no progress write since the last sighting gets a new
    generation (dicom_render_enqueue): a still-living older run sees it superseded and stops."""
    sent = []
    active = Q(dicom_render_state__status="queued") | Q(dicom_render_state__status="running")
    for project in Project.objects.filter(active).only("id", "dicom_render_state"):
        state = project.dicom_render_state
        done = float(state.get("done") or 0)
        if _unchanged_since(state.get("reconcile_seen"), done, now - stale_after):
            dicom_render_enqueue(project.pk)
            sent.append(project.pk)
        elif "reconcile_seen" not in state:
            Project.objects.filter(pk=project.pk).update(
                dicom_render_state={**state, "reconcile_seen": _sighting(done, now)}
            )
    return sent
