"""Image ingest (single files, many files, zip archives) and deletion.

Each file is decoded outside any transaction (CPU-bound), then stored and recorded in its own
`transaction.atomic()`: one bad or failing file never blocks the others, and nothing is half-stored —
when a file fails after its blobs were written, the blobs this call wrote that no row references are
deleted again. Blobs are named by content hash, so identical content is stored once and shared by
every row (in any project) that holds it; a blob is only deleted when no Image row references it.

Multi-frame DICOM files become one Image row per frame (each frame is annotated and embedded on its
own), all sharing the one stored original. Image.sha256 must be unique per project and is the key of
the embedding, so a frame's row holds a per-frame key, sha256(file bytes + ":frame:N") with N 0-based,
and keeps the file's own hash in metadata["file_sha256"]; single-frame files keep the file's hash.

DICOM renditions follow the project's window (Project.dicom_window). The embedding cache is keyed
by Image.sha256 (and the encoder reads the display rendition of any image holding that key), so the
key names the rendition, not only the file: an image rendered with a window the project chose (not
the file's own) holds sha256(file bytes [+ ":frame:N"] + ":window:C/W"). Changing the window gives
the images new keys, hence new embeddings, and never serves the old rendition's embedding; going
back to an earlier window finds its embeddings again. Every DICOM row keeps the stored file's hash
in metadata["file_sha256"] (duplicate checks and frame siblings use it).
`annotator.services.dicom_render.images_render_dicom` re-renders a project's DICOM images after a
window change (Celery task annotator.tasks.dicom_render).

One DICOM instance is one image: a file whose SOP Instance UID the project (or the same upload)
already holds with other bytes is refused with the reason, never stored beside it (a SEG would merge
their masks into one frame). Ultrasound and secondary-capture files whose Burned In Annotation is
not NO are flagged (metadata["burned_in_annotation_flag"], IngestReport.flagged) or refused, as
`Project.dicom_burned_in` says. A DICOMDIR is reported in IngestReport.skipped, not rejected.

In a project with `dicom_deidentify`, the stored original of a DICOM upload is the de-identified
copy made by annotator/dicom/deidentify.py, and all hashes above are of that copy; its
Image.original_name is "<SOPInstanceUID>.dcm", never the uploaded path (folder names often hold the
patient's name/MRN).

Uploads are split into files by annotator.uploads (zip archives); blobs are stored and deleted by
annotator.services.blobs.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q

from annotator.dicom import deidentify as deid
from annotator.dicom.burned_in import burned_in_risk
from annotator.media import (
    SNIFF_BYTES,
    DecodedImage,
    MediaError,
    decode_dicom_frame,
    decode_image,
    original_extension,
    read_dicom,
    sniff_format,
)
from annotator.models import Image, Project
from annotator.services.blobs import BlobJournal, blob_store, blob_store_by_hash, blobs_delete_unreferenced
from annotator.services.dicom_renditions import dicom_render_enqueue, frame_sha256, rendition_key
from annotator.services.embeddings import embeddings_request
from annotator.services.renditions import renditions_request
from annotator.uploads import upload_candidates
from common.tasks import enqueue_failures
from segmentation.services.embedding_cleanup import embeddings_delete

logger = logging.getLogger(__name__)

# Most frames of one multi-frame DICOM file turned into Image rows (each is decoded, stored and embedded).
MAX_DICOM_FRAMES = 2_000


@dataclass
class IngestReport:
    accepted: list[Image] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason): not images, not failures
    flagged: list[tuple[str, str]] = field(default_factory=list)  # (name, warning): accepted, marked
    # (name, note): accepted, but its embedding could not be queued (broker down); the reconciler
    # (annotator.services.reconcile) requests it again.
    notes: list[tuple[str, str]] = field(default_factory=list)


EMBEDDING_RETRY_NOTE = "embedding will be retried (the task queue could not be reached)"


def images_ingest(*, project: Project, files: Iterable[tuple[str, IO[bytes]]], user: User | None) -> IngestReport:
    """Add files (images or zip archives of images) to a project; report every file's outcome.

    Names of zip members are reported as "<archive name>/<member path>". Each accepted file's
    embeddings (and display renditions) are requested as soon as its rows are committed, so an
    upload cut short (a killed request) leaves no committed image without its request; a request
    the broker refused is noted (`notes`) and left to the reconciler. Call it outside a
    transaction: each file commits on its own, and the clean-up of a failed file relies on that.
    """
    report = IngestReport()
    seen_in_upload: dict[str, str] = {}  # sha256 -> name, for duplicates inside this upload
    for name, stream in files:
        candidates = upload_candidates(
            name,
            stream,
            max_file_bytes=settings.ANNOTATOR_MAX_UPLOAD_BYTES,
            max_zip_bytes=settings.ANNOTATOR_MAX_ZIP_UNCOMPRESSED_BYTES,
        )
        for candidate in candidates:
            if candidate.refusal is not None:
                report.rejected.append((candidate.name, candidate.refusal))
                continue
            if candidate.skipped is not None or candidate.data is None:
                report.skipped.append((candidate.name, candidate.skipped or "nothing to import"))
                continue
            try:
                images = _ingest_one(project, candidate.name, candidate.data, user, seen_in_upload)
            except MediaError as exc:
                report.rejected.append((candidate.name, exc.reason))
            else:
                report.accepted.extend(images)
                if images and not _request_derived(images):
                    report.notes.append((candidate.name, EMBEDDING_RETRY_NOTE))
                warning = (images[0].metadata or {}).get("burned_in_annotation_flag") if images else None
                if warning:
                    report.flagged.append((candidate.name, warning))
    return report


def _request_derived(images: list[Image]) -> bool:
    """Request the embeddings and display renditions of freshly committed images (autocommit: the
    tasks are sent now). False when a send failed (the rows stay pending for the reconciler)."""
    with enqueue_failures() as failed:
        embeddings_request(images=images)
        renditions_request(images)
    return not failed


def image_delete(*, image: Image) -> None:
    """Delete an image row, then (after the commit) the blobs that no other row references and the
    embeddings of its content when no other image (in any project) has that content."""
    names = [n for n in (image.file.name, image.display.name, image.thumbnail.name) if n]
    sha256 = image.sha256
    with transaction.atomic():
        image.delete()
        # After commit: a rolled-back delete must keep its files.
        transaction.on_commit(lambda: _image_files_delete(names, sha256))


def _image_files_delete(names: list[str], sha256: str) -> None:
    blobs_delete_unreferenced(names)
    if not Image.objects.filter(sha256=sha256).exists():
        embeddings_delete(image_sha256s=[sha256])


def _ingest_one(
    project: Project, name: str, data: bytes, user: User | None, seen_in_upload: dict[str, str]
) -> list[Image]:
    """One file -> its Image rows (one, or one per frame of a multi-frame DICOM file), all or none."""
    dicom = sniff_format(data[:SNIFF_BYTES]) == "DICOM"
    # The DICOM settings are read per file, not from the request's project object: a window or
    # de-identification change committed while a long upload runs applies to its later files.
    row = Project.objects.filter(pk=project.pk).values("dicom_window", "dicom_deidentify", "dicom_burned_in").first()
    dicom_settings: dict[str, Any] = dict(row) if row else {}
    window = dicom_settings.get("dicom_window")
    deidentify = bool(dicom_settings.get("dicom_deidentify"))
    if dicom and deidentify:
        data = _deidentified(data)
    file_hash = hashlib.sha256(data)
    sha256 = file_hash.hexdigest()
    if sha256 in seen_in_upload:
        raise MediaError(f"duplicate of {seen_in_upload[sha256]} in this upload")
    existing = _existing_duplicate(project, sha256, frame_sha256(file_hash, 0))
    if existing is not None:
        raise MediaError(existing)
    frames = _decode_frames(data, name, window=window if dicom else None)
    multi_frame = len(frames) > 1
    instance_uid = str(frames[0].metadata.get("sop_instance_uid") or "") if dicom else ""
    if instance_uid:
        _refuse_second_instance(project, instance_uid, seen_in_upload)
    burned_in = burned_in_risk(frames[0].metadata) if dicom else None
    if burned_in and dicom_settings.get("dicom_burned_in") == "refuse":
        raise MediaError(f"refused: {burned_in}, and this project refuses such images; nothing was kept")
    if dicom and deidentify:
        name = _neutral_name(frames[0].metadata.get("sop_instance_uid", ""), sha256)
    written = BlobJournal()  # the blobs this file writes, listed in storage until its row commits
    try:
        with transaction.atomic():
            if instance_uid:
                # Again under the project's row lock: a concurrent upload of another copy may have won.
                _refuse_second_instance(project, instance_uid, {}, lock=True)
            if dicom and not deidentify and _deidentify_locked(project.pk):
                # Turned on since this file was read: project_update counted the DICOM images under
                # the same row lock, so storing this identified original now would slip past it.
                raise MediaError(
                    "de-identification was turned on during this upload; nothing was kept, upload the file again"
                )
            original = blob_store(
                f"originals/{sha256[:2]}/{sha256}.{original_extension(frames[0].format)}", data, written
            )
            images = []
            for index, decoded in enumerate(frames):
                is_dicom = decoded.format == "DICOM"
                metadata = {**decoded.metadata, "file_sha256": sha256} if is_dicom or multi_frame else decoded.metadata
                if burned_in:
                    metadata["burned_in_annotation_flag"] = burned_in
                images.append(
                    Image.objects.create(
                        project=project,
                        file=original,
                        display=blob_store_by_hash("display", decoded.display, decoded.display_extension, written),
                        thumbnail=blob_store_by_hash("thumbnails", decoded.thumbnail, "jpg", written),
                        original_name=name[:255],
                        width=decoded.width,
                        height=decoded.height,
                        sha256=rendition_key(
                            file_hash, frame=index, multi_frame=multi_frame, metadata=decoded.metadata
                        ),
                        format=decoded.format,
                        size_bytes=len(data),
                        metadata=metadata,
                        file_sha256=metadata.get("file_sha256", ""),
                        uploaded_by=user,
                    )
                )
    except MediaError:
        raise
    except IntegrityError as exc:
        # A concurrent upload of the same content won the race for (project, sha256).
        blobs_delete_unreferenced(written)
        written.close()
        raise MediaError(
            _existing_duplicate(project, sha256, frame_sha256(file_hash, 0)) or "duplicate of an image in this project"
        ) from exc
    except Exception as exc:
        blobs_delete_unreferenced(written)
        written.close()
        logger.exception("Storing %s failed", name)  # neutral when de-identifying (set above)
        raise MediaError(f"could not be stored ({type(exc).__name__}); nothing was kept") from exc
    written.close()  # committed: the rows reference the blobs
    seen_in_upload[sha256] = name
    if instance_uid:
        seen_in_upload[f"sop:{instance_uid}"] = name
    if dicom and _current_window(project.pk) != window:
        # The window changed after this file was rendered: a re-render run that listed the images
        # before this commit missed it, so start another (idempotent; it renders only what differs).
        dicom_render_enqueue(project.pk)
    return images


def _refuse_second_instance(project: Project, uid: str, seen_in_upload: dict[str, str], *, lock: bool = False) -> None:
    """One DICOM instance (SOP Instance UID, each of its frames) is one image: a second copy with other
    bytes (the same instance uncompressed and RLE, or edited) is refused, never kept beside the first,
    whose masks a SEG would otherwise merge into one frame. Identical bytes are caught before this."""
    if lock:
        Project.objects.select_for_update().filter(pk=project.pk).exists()
    earlier = seen_in_upload.get(f"sop:{uid}")
    if earlier is not None:
        raise MediaError(
            f"same DICOM instance as {earlier} in this upload (SOP Instance UID {uid}) with different bytes; "
            "a second copy of an instance is refused, never merged"
        )
    existing = (
        Image.objects.filter(project=project, format="DICOM", metadata__sop_instance_uid=uid)
        .only("id", "original_name")
        .first()
    )
    if existing is not None:
        raise MediaError(
            f"this DICOM instance (SOP Instance UID {uid}) is already in the project as {existing.original_name} "
            f"(image {existing.id}) with different bytes; a second copy of an instance is refused, never merged: "
            "delete that image first to replace it"
        )


def _deidentify_locked(project_id: int) -> bool:
    return bool(
        Project.objects.select_for_update().filter(pk=project_id).values_list("dicom_deidentify", flat=True).first()
    )


def _current_window(project_id: int) -> Any:
    return Project.objects.filter(pk=project_id).values_list("dicom_window", flat=True).first()


def _neutral_name(sop_instance_uid: str, sha256: str) -> str:
    """Image.original_name of a de-identified upload: the SOP Instance UID (kept by the profile), or
    the content hash when the file's UID is not a plain UID."""
    if re.fullmatch(r"[0-9.]{1,64}", sop_instance_uid or ""):
        return f"{sop_instance_uid}.dcm"
    return f"{sha256[:16]}.dcm"


def _deidentified(data: bytes) -> bytes:
    try:
        return deid.deidentify(data)
    except deid.DeidentificationError as exc:
        raise MediaError(f"DICOM file {exc}; nothing was kept (the project de-identifies uploads)") from exc


def _decode_frames(data: bytes, name: str, *, window: Any = None) -> list[DecodedImage]:
    """Every frame decoded before anything is stored, so a bad frame late in a file stores nothing.
    A DICOM file is parsed once for all its frames."""
    if sniff_format(data[:SNIFF_BYTES]) != "DICOM":
        return [decode_image(data, name=name)]
    ds = read_dicom(data)
    first = decode_dicom_frame(ds, window=window)
    count = int(first.metadata.get("frames", 1) or 1)
    if count > MAX_DICOM_FRAMES:
        raise MediaError(f"the DICOM file has {count:,} frames, over the limit of {MAX_DICOM_FRAMES:,}")
    return [first] + [decode_dicom_frame(ds, frame=index, window=window) for index in range(1, count)]


def _existing_duplicate(project: Project, *sha256s: str) -> str | None:
    # A DICOM row rendered with a project window has another key; its file hash is in its metadata.
    existing = (
        Image.objects.filter(Q(sha256__in=sha256s) | Q(file_sha256=sha256s[0], format="DICOM"), project=project)
        .only("id", "original_name")
        .first()
    )
    if existing is None:
        return None
    return f"duplicate of {existing.original_name} (image {existing.id})"
