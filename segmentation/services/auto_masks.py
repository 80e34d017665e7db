"""Segment everything: SamAutomaticMaskGenerator over stored embeddings, writing draft annotations.

The generator would run the encoder again through SamPredictor.set_image; the predictor here takes
the stored embedding instead (one crop layer only, so the crop is always the whole image).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotator.models import AnnotationSource, Image, LabelClass, Project
from segmentation.models import AutoMaskJob, AutoMaskJobStatus, EmbeddingState

logger = logging.getLogger(__name__)

# SamAutomaticMaskGenerator's knobs with its own defaults, and the ranges accepted from the API.
DEFAULT_PARAMS: dict[str, float | int] = {
    "points_per_side": 32,
    "pred_iou_thresh": 0.88,
    "stability_score_thresh": 0.95,
    "box_nms_thresh": 0.7,
    "min_mask_region_area": 0,
}
PARAM_RANGES: dict[str, tuple[float, float]] = {
    "points_per_side": (1, 64),
    "pred_iou_thresh": (0.0, 1.0),
    "stability_score_thresh": (0.0, 1.0),
    "box_nms_thresh": (0.0, 1.0),
    "min_mask_region_area": (0, 10**7),
}
MAX_MASKS_PER_IMAGE = 500  # a sanity cap: more drafts than this is noise for a person to review


def _validated_params(params: dict[str, Any]) -> dict[str, float | int]:
    unknown = set(params) - set(DEFAULT_PARAMS)
    if unknown:
        raise ValidationError({"params": f"Unknown parameter(s) {sorted(unknown)}; known: {sorted(DEFAULT_PARAMS)}."})
    result = dict(DEFAULT_PARAMS)
    for key, value in params.items():
        low, high = PARAM_RANGES[key]
        try:
            number = int(value) if isinstance(DEFAULT_PARAMS[key], int) else float(value)
        except (TypeError, ValueError):
            raise ValidationError({key: "Must be a number."}) from None
        if not low <= number <= high:
            raise ValidationError({key: f"Must be between {low} and {high}."})
        result[key] = number
    return result


def auto_mask_job_create(
    *, project: Project, user, label_class: LabelClass, image: Image | None = None, params: dict[str, Any] | None = None
) -> AutoMaskJob:
    if label_class.project_id != project.pk:
        raise ValidationError({"label_class": "The label class belongs to another project."})
    if image is not None and image.project_id != project.pk:
        raise ValidationError({"image": "The image belongs to another project."})
    image_ids = [image.pk] if image else list(project.images.order_by("id").values_list("id", flat=True))
    job = AutoMaskJob.objects.create(
        project=project,
        image=image,
        label_class=label_class,
        params=_validated_params(params or {}),
        image_ids=image_ids,
        created_by=user,
    )
    # Imported here, not at module top: tasks import this module (avoids an import loop).
    from segmentation.tasks import auto_masks_compute

    transaction.on_commit(lambda: auto_masks_compute.delay(job.pk))
    return job


def auto_mask_job_cancel(*, job: AutoMaskJob) -> AutoMaskJob:
    """Ask the running job to stop after the image it is on; a pending job stops at once."""
    AutoMaskJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    AutoMaskJob.objects.filter(pk=job.pk, status=AutoMaskJobStatus.PENDING).update(
        status=AutoMaskJobStatus.CANCELLED, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


def _predictor_with_embedding(sam, embedding, height: int, width: int):
    """A SamPredictor whose set_image installs the stored embedding instead of running the encoder."""
    import torch
    from segment_anything import SamPredictor

    from segmentation.storage import read_embedding

    vector, _ = read_embedding(embedding.file.name)
    device = next(sam.parameters()).device
    features = torch.from_numpy(vector.astype("float32"))[None].to(device)

    class StoredEmbeddingPredictor(SamPredictor):
        def set_image(self, image, image_format: str = "RGB") -> None:
            if image.shape[:2] != (height, width):
                raise ValueError("Only whole-image crops can reuse the stored embedding.")
            self.reset_image()
            self.original_size = (height, width)
            self.input_size = tuple(
                self.transform.get_preprocess_shape(height, width, self.model.image_encoder.img_size)
            )
            self.features = features
            self.is_image_set = True

    return StoredEmbeddingPredictor(sam)


def _masks_for_image(image: Image, params: dict[str, Any]) -> list[dict]:
    import numpy as np
    from segment_anything import SamAutomaticMaskGenerator

    from segmentation.selectors import embedding_for_image
    from segmentation.services.embeddings import embedding_compute, embeddings_request
    from segmentation.services.model_cache import get_sam
    from segmentation.services.models import project_model

    model = project_model(image.project)
    embedding = embedding_for_image(image, model)
    if embedding is None or embedding.status != EmbeddingState.READY:
        if embedding is None:
            embeddings_request(images=[image])
            embedding = embedding_for_image(image, model)
        embedding = embedding_compute(embedding.pk)  # same queue, same worker: compute it here
        if embedding.status != EmbeddingState.READY:
            raise RuntimeError(f"No embedding for image {image.pk}: {embedding.error}")
    sam = get_sam(model)
    generator = SamAutomaticMaskGenerator(sam, output_mode="coco_rle", crop_n_layers=0, **params)
    generator.predictor = _predictor_with_embedding(sam, embedding, image.height, image.width)
    # The generator only reads the array's shape here: pixels are not needed with a stored embedding.
    placeholder = np.zeros((image.height, image.width, 3), dtype=np.uint8)
    records = [r for r in generator.generate(placeholder) if r["area"] > 0]
    records.sort(key=lambda r: r["predicted_iou"], reverse=True)
    return records[:MAX_MASKS_PER_IMAGE]


def auto_masks_compute(job_id: int) -> AutoMaskJob:
    """Run the job image by image; each image's drafts commit with its progress mark (idempotent)."""
    from annotator.services.annotations import annotation_create

    job = AutoMaskJob.objects.select_related("project", "label_class").get(pk=job_id)
    if job.status in (AutoMaskJobStatus.DONE, AutoMaskJobStatus.CANCELLED, AutoMaskJobStatus.FAILED):
        return job
    AutoMaskJob.objects.filter(pk=job.pk).update(status=AutoMaskJobStatus.RUNNING)
    try:
        for image_id in job.image_ids:
            job.refresh_from_db(fields=["cancel_requested", "done_image_ids", "annotations_created"])
            if job.cancel_requested:
                AutoMaskJob.objects.filter(pk=job.pk).update(
                    status=AutoMaskJobStatus.CANCELLED, finished_at=timezone.now()
                )
                return AutoMaskJob.objects.get(pk=job.pk)
            if image_id in job.done_image_ids:
                continue
            image = Image.objects.select_related("project", "project__sam_model").filter(pk=image_id).first()
            records = _masks_for_image(image, job.params) if image is not None else []
            with transaction.atomic():
                locked = AutoMaskJob.objects.select_for_update().get(pk=job.pk)
                for record in records:
                    annotation_create(
                        image=image,
                        label_class=job.label_class,
                        source=AnnotationSource.AUTO,
                        rle=record["segmentation"],
                        prompts={"points": [[*record["point_coords"][0], 1]]},
                        author=job.created_by,
                        status="draft",
                    )
                locked.done_image_ids = [*locked.done_image_ids, image_id]
                locked.annotations_created += len(records)
                locked.save(update_fields=["done_image_ids", "annotations_created", "updated_at"])
    except Exception as exc:
        logger.exception("Auto-mask job %s failed", job_id)
        AutoMaskJob.objects.filter(pk=job.pk).update(
            status=AutoMaskJobStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        return AutoMaskJob.objects.get(pk=job.pk)
    AutoMaskJob.objects.filter(pk=job.pk).update(status=AutoMaskJobStatus.DONE, finished_at=timezone.now())
    return AutoMaskJob.objects.get(pk=job.pk)
