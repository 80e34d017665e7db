"""A DICOM series of a project as a volume: its images in slice order (annotator.dicom.series), and
embeddings requested ahead around the slice a labeler opens."""

from __future__ import annotations

from annotator.dicom.series import SliceInfo, ahead_order, slice_order
from annotator.models import Image
from annotator.selectors_embeddings import project_model
from annotator.services.embeddings import embedding_source
from common.tasks import enqueue_on_commit
from segmentation.models import Embedding, EmbeddingState
from segmentation.services import embeddings as engine

# Slices embedded ahead on each side of an opened slice; the task that computes one embedding.
AHEAD_RADIUS = 10
EMBEDDING_COMPUTE_TASK = "segmentation.tasks.embedding_compute"


def slice_info(image: Image) -> SliceInfo:
    metadata = image.metadata or {}
    number = metadata.get("instance_number")
    return SliceInfo(
        key=image.pk,
        position=metadata.get("image_position"),
        orientation=metadata.get("image_orientation"),
        instance_number=number if isinstance(number, int) else None,
        frame=int(metadata.get("frame", 0) or 0),
    )


def series_slices(image: Image) -> list[Image]:
    """The images of this image's series in its project, in slice order (just the image when it is
    not DICOM or names no series). Images of another matrix size are not slices of the same volume."""
    series_uid = str((image.metadata or {}).get("series_uid") or "") if image.format == "DICOM" else ""
    if not series_uid:
        return [image]
    rows = list(
        Image.objects.filter(
            project_id=image.project_id,
            format="DICOM",
            metadata__series_uid=series_uid,
            width=image.width,
            height=image.height,
        ).select_related("project", "project__sam_model")
    )
    by_id = {row.pk: row for row in rows}
    return [by_id[pk] for pk in slice_order([slice_info(row) for row in sorted(rows, key=lambda r: r.pk)])]


def series_embeddings_ahead(image: Image, *, radius: int = AHEAD_RADIUS) -> list[int]:
    """Request the embeddings of the slices around `image` nearest first (ahead_order) and send the
    compute task again for those still pending, in that order, so the embeddings queue reaches them
    before slices further away queued earlier. Running or ready ones are left alone. Returns the
    image ids in the order their embeddings were requested."""
    slices = series_slices(image)
    position = next((i for i, s in enumerate(slices) if s.pk == image.pk), 0)
    ordered = [slices[i] for i in ahead_order(position, len(slices), radius)]
    if not ordered:
        return []
    model = project_model(image.project)
    held = set(
        Embedding.objects.filter(
            model_sha256=model.encoder_sha256, image_sha256__in=[s.sha256 for s in ordered]
        ).values_list("pk", flat=True)
    )
    embeddings = engine.embeddings_request(model=model, sources=[embedding_source(s) for s in ordered])
    for embedding in embeddings:
        # New rows were sent by embeddings_request; a pending row made earlier is sent again here.
        if embedding.pk in held and embedding.status == EmbeddingState.PENDING:
            enqueue_on_commit(EMBEDDING_COMPUTE_TASK, embedding.pk)
    return [s.pk for s in ordered]
