"""Annotation data model: fields, constraints and small invariants only (no jobs started here)."""

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    MANAGER = "manager", "Manager"
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"


class Project(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # The SAM model whose embeddings and decoder this project uses; null = the default model.
    sam_model = models.ForeignKey(
        "segmentation.SamModel", null=True, blank=True, on_delete=models.PROTECT, related_name="projects"
    )
    # DICOM (docs/dicom.md): store a de-identified copy of uploaded DICOM files (annotator/dicom_deid.py).
    dicom_deidentify = models.BooleanField(default=False)
    # The window of the DICOM renditions: null = the file's own; a preset name ("ct-lung"); or
    # {"center": c, "width": w}. Validated by annotator.media.window_choice_clean.
    dicom_window = models.JSONField(null=True, blank=True, default=None)
    # Progress of the re-render after a window change: {"status": "queued"|"running"|"done"|"failed",
    # "done": n, "total": m, "error": "..."}; empty before the first change.
    dicom_render_state = models.JSONField(default=dict, blank=True)
    # US and secondary-capture uploads whose Burned In Annotation is not NO (text such as a patient's
    # name may be in the pixels): "flag" keeps them marked in Image.metadata, "refuse" stores nothing.
    dicom_burned_in = models.CharField(max_length=8, choices=[("flag", "Flag"), ("refuse", "Refuse")], default="flag")
    # Continuous learning (docs/models.md): fine-tune again after this many new approvals and
    # reviewer corrections; 0 = off.
    retrain_every = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user")]
        ordering = ["project_id", "user_id"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"


class LabelClass(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="label_classes")
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, default="#e6194b")  # "#rrggbb"
    order = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="labelclass_unique_name")]
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class EmbeddingStatus(models.TextChoices):
    # The engine's EmbeddingState values: an image's status is read from its Embedding row
    # (annotator.selectors.with_embedding_status), never stored on the image.
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class ImageReviewStatus(models.TextChoices):
    # new: being annotated (or not started); submitted: waiting for review; rejected: back with the
    # annotator; approved: done. "In progress" is derived (new with annotations), never stored.
    NEW = "new", "New"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Image(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="images")
    # The uploaded file, byte for byte (named by content hash).
    file = models.FileField(max_length=300)
    # 8-bit RGB PNG/JPEG as a person sees it (EXIF applied, DICOM windowed): what the browser
    # shows and the encoder reads.
    display = models.FileField(max_length=300)
    thumbnail = models.FileField(max_length=300)
    original_name = models.CharField(max_length=255)
    # Size as displayed (after EXIF orientation).
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    format = models.CharField(max_length=16)  # JPEG, PNG, WEBP, TIFF, BMP, GIF, DICOM
    size_bytes = models.PositiveBigIntegerField(default=0)
    # Format-specific facts (DICOM UIDs, frame number, window, …).
    metadata = models.JSONField(default=dict, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Review workflow (docs/review.md): the job that owns the image (at most one) and where the
    # image stands; changed only by annotator.services.review and annotator.services.jobs.
    job = models.ForeignKey("Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="images")
    review_status = models.CharField(max_length=16, choices=ImageReviewStatus.choices, default=ImageReviewStatus.NEW)
    review_comment = models.TextField(blank=True)  # the reviewer's last word on the whole image
    # The uploaded file's sha256 where it differs from `sha256` or is shared by several rows (DICOM,
    # multi-frame files); also in metadata["file_sha256"]. A column, so duplicate checks and frame
    # siblings are an index lookup rather than a scan of every row's JSON.
    file_sha256 = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "sha256"], name="image_unique_content")]
        ordering = ["id"]
        indexes = [
            models.Index(fields=["project", "review_status"]),
            models.Index(fields=["project", "file_sha256"]),
        ]

    def __str__(self) -> str:
        return self.original_name


class AnnotationSource(models.TextChoices):
    MANUAL = "manual", "Manual polygon"
    SAM_CLICK = "sam_click", "SAM click"
    SAM_BOX = "sam_box", "SAM box"
    AUTO = "auto", "Segment everything"
    IMPORT = "import", "Imported"
    PROPAGATED = "propagated", "Propagated through a series"


class AnnotationKind(models.TextChoices):
    # mask: polygons / RLE (SAM, hand-drawn, brushed); box: a plain bounding box (detection), whose
    # polygons and RLE are its rectangle so that every mask-based reader still draws it.
    MASK = "mask", "Mask"
    BOX = "box", "Bounding box"


class AnnotationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Annotation(models.Model):
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations")
    label_class = models.ForeignKey(LabelClass, on_delete=models.PROTECT, related_name="annotations")
    # Polygons in image pixels: [[outer ring, hole ring, ...], ...] — one entry per separate part,
    # each ring a flat [x0, y0, x1, y1, ...] list.
    polygons = models.JSONField(default=list)
    # COCO compressed RLE of the mask: {"size": [height, width], "counts": "..."}.
    rle = models.JSONField(default=dict)
    # [x, y, width, height]: derived from the mask, or for a box annotation the box as drawn (floats).
    bbox = models.JSONField(default=list)
    kind = models.CharField(max_length=8, choices=AnnotationKind.choices, default=AnnotationKind.MASK)
    area = models.PositiveBigIntegerField(default=0)  # mask pixels
    source = models.CharField(max_length=16, choices=AnnotationSource.choices)
    # The prompts that produced a SAM mask: {"points": [[x, y, label], ...], "box": [x0, y0, x1, y1]}.
    prompts = models.JSONField(default=dict, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="annotations"
    )
    time_spent_ms = models.PositiveIntegerField(default=0)
    # Labeling effort (docs/annotator.md "Metrics"): time from the first action on the object to its
    # accept (plus later touch-ups), SAM clicks and box drags, polygon vertices placed, brush strokes.
    click_count = models.PositiveIntegerField(default=0)
    vertex_count = models.PositiveIntegerField(default=0)
    stroke_count = models.PositiveIntegerField(default=0)
    # True once the geometry was changed after SAM produced it.
    edited_after_sam = models.BooleanField(default=False)
    # Slice propagation (docs/dicom.md): the seed a propagated mask came from, and whether the
    # labeler has still to accept it (a proposal is left out of exports until accepted).
    propagated_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    proposed = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=AnnotationStatus.choices, default=AnnotationStatus.DRAFT)
    review_comment = models.TextField(blank=True)
    # Optimistic locking: every update must name the version it was based on.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["image", "status"])]

    def __str__(self) -> str:
        return f"{self.label_class} on {self.image_id}"


class ExportFormat(models.TextChoices):
    COCO = "coco", "COCO instances"
    YOLO = "yolo", "YOLO segmentation"
    YOLO_DETECT = "yolo-detect", "YOLO detection boxes"
    MASKS = "masks", "PNG masks"
    DICOM_SEG = "dicom-seg", "DICOM SEG"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Export(models.Model):
    """One requested dataset export; a Celery task fills in progress, then the file or the error."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    format = models.CharField(max_length=16, choices=ExportFormat.choices)
    # {"segmentation": "rle"|"polygon", "statuses": [...], "label_class_ids": [...], "include_images": bool}
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    progress = models.FloatField(default=0.0)  # 0..1
    file = models.FileField(max_length=300, blank=True)
    # Counts written (images, annotations) and notes such as polygon losses.
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.format} export of {self.project_id} ({self.status})"


class Job(models.Model):
    """A batch of a project's images for one annotator and one reviewer (an image is in at most one job,
    through Image.job)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="jobs")
    name = models.CharField(max_length=200)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotation_jobs"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="review_jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class StatusTransition(models.Model):
    """Audit trail: one row per status change of an image (annotation null) or of one annotation."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="status_transitions")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="status_transitions")
    # SET_NULL keeps the history of a deleted annotation; annotation_author keeps whose work it was.
    annotation = models.ForeignKey(
        Annotation, null=True, blank=True, on_delete=models.SET_NULL, related_name="status_transitions"
    )
    # The annotation's author at the time (for rejection rates even after the annotation is gone).
    annotation_author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["project", "created_at"]), models.Index(fields=["image", "created_at"])]

    def __str__(self) -> str:
        what = f"annotation {self.annotation_id}" if self.annotation_id else f"image {self.image_id}"
        return f"{what}: {self.from_status} -> {self.to_status}"


class AutoMaskJobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class AutoMaskJob(models.Model):
    """A "segment everything" run over one image or a whole project, with progress and cancel: the
    engine returns masks per image, annotator.services.auto_masks turns them into draft annotations."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="auto_mask_jobs")
    # One image, or null for every image of the project (those present when the job started).
    image = models.ForeignKey(Image, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    label_class = models.ForeignKey(LabelClass, on_delete=models.CASCADE, related_name="+")
    # SamAutomaticMaskGenerator knobs: points_per_side, pred_iou_thresh, stability_score_thresh,
    # box_nms_thresh, min_mask_region_area.
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=AutoMaskJobStatus.choices, default=AutoMaskJobStatus.PENDING)
    image_ids = models.JSONField(default=list)  # the work list, fixed at creation
    # Images finished, committed together with their annotations, so a redelivered task skips them.
    done_image_ids = models.JSONField(default=list)
    annotations_created = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Created by the engine app before the job moved here (issue 11): the table keeps its name.
        db_table = "segmentation_automaskjob"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"auto masks #{self.pk} in project {self.project_id} ({self.status})"


class FinetuneRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class FinetuneDecision(models.TextChoices):
    PROMOTED = "promoted", "Promoted"  # the version became the project's model
    KEPT = "kept", "Kept as a candidate"
    NONE = "", "Not decided (the run did not finish)"


class FinetuneRun(models.Model):
    """One fine-tuning of a project's decoder on its labels (annotator.services.finetuning): the
    parameters, live progress, the base vs tuned held-out metrics and the promotion decision."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="finetune_runs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )  # null: started by continuous learning or the command line
    status = models.CharField(max_length=16, choices=FinetuneRunStatus.choices, default=FinetuneRunStatus.QUEUED)
    # {"minutes", "max_epochs", "lr", "seed", "patience", "statuses", "holdout", "promote"}
    params = models.JSONField(default=dict, blank=True)
    base_model = models.ForeignKey("segmentation.SamModel", on_delete=models.PROTECT, related_name="+")
    # The registered version; null until done (and for failed or cancelled runs).
    result_model = models.ForeignKey(
        "segmentation.SamModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    progress = models.JSONField(default=dict, blank=True)  # the latest {"epoch", "step", "loss", "heldout"}
    # {"epochs": [{"epoch", "loss", "heldout", "seconds"}, ...], "steps": [{"step", "loss"}, ...]}; the
    # steps thinned to at most a few hundred points (the page's loss curve).
    history = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)  # {"base": {...}, "tuned": {...}} held-out clicks
    decision = models.CharField(max_length=16, choices=FinetuneDecision.choices, default="", blank=True)
    message = models.TextField(blank=True)  # why it failed, or how it ended
    train_objects = models.PositiveIntegerField(default=0)
    heldout_objects = models.PositiveIntegerField(default=0)
    annotations = models.JSONField(default=list, blank=True)  # [[annotation id, version], ...] trained on
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by every progress write: a running run whose worker died shows it by going quiet.
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(default=0.0)  # training time

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status__in=["queued", "running"]),
                name="finetunerun_one_active_per_project",
            )
        ]

    def __str__(self) -> str:
        return f"fine-tune #{self.pk} of project {self.project_id} ({self.status})"


from annotator.models_propagation import PropagationRun  # noqa: E402, F401 - registered with the app
