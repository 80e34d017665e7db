"""Slice propagation runs (docs/dicom.md): one per "propagate" of an accepted object, with progress
the annotator polls. Imported at the end of annotator.models so Django registers it."""

from django.conf import settings
from django.db import models


class PropagationRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class PropagationRun(models.Model):
    project = models.ForeignKey("annotator.Project", on_delete=models.CASCADE, related_name="propagation_runs")
    seed = models.ForeignKey("annotator.Annotation", null=True, on_delete=models.SET_NULL, related_name="+")
    # {"max_slices": n}: slices tried each way from the seed.
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=PropagationRunStatus.choices, default=PropagationRunStatus.QUEUED)
    # {"done": slices tried, "total": most slices that can be tried, "created": drafts made,
    #  "stopped": {"after": why, "before": why}}
    progress = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"propagation #{self.pk} of annotation {self.seed_id} ({self.status})"
