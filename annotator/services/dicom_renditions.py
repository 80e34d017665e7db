"""DICOM renditions from stored originals: the Image.sha256 key of a rendition, a project's images
re-rendered after its window changed (Celery task annotator.tasks.dicom_render, queued here), and
one image rendered with any window for the annotator's window/level. annotator.services.images
(ingest) explains in its module docstring why a window the project chose is part of the key."""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction

from annotator.dicom.window import window_choice_clean
from annotator.media import DecodedImage, MediaError, decode_dicom_frame, read_dicom
from annotator.models import Image, Project
from annotator.services.blobs import blob_store_by_hash, blobs_delete_unreferenced
from annotator.services.embeddings import embeddings_request
from annotator.services.renditions import renditions_request
from common.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)

# Most passes of one re-render run (each re-lists the images; the run stops at a pass that changed nothing).
MAX_RENDER_PASSES = 5
# Bytes of parsed DICOM originals kept per process for the annotator's window/level (the newest one
# is always kept, whatever its size); see parsed_originals_cache.
RENDER_CACHE_BYTES = 256 * 2**20


def frame_sha256(file_hash: hashlib._Hash, frame: int) -> str:
    """The Image.sha256 of one frame of a multi-frame file (module docstring): file bytes + ":frame:N"."""
    key = file_hash.copy()
    key.update(f":frame:{frame}".encode("ascii"))
    return key.hexdigest()


def rendition_key(file_hash: hashlib._Hash, *, frame: int, multi_frame: bool, metadata: dict) -> str:
    """Image.sha256 of one rendition (module docstring): the file's hash, per frame for multi-frame
    files, and with the window when the project chose one (window_source "requested")."""
    if not multi_frame and metadata.get("window_source") != "requested":
        return file_hash.hexdigest()
    key = file_hash.copy()
    if multi_frame:
        key.update(f":frame:{frame}".encode("ascii"))
    if metadata.get("window_source") == "requested":
        window = metadata["window"]
        key.update(f":window:{float(window['center']):.6g}/{float(window['width']):.6g}".encode("ascii"))
    return key.hexdigest()


@transaction.atomic
def dicom_render_enqueue(project_id: int) -> None:
    """Start a re-render of a project's DICOM images (after the commit), e.g. when an upload was
    rendered with a window that changed before it committed."""
    if Project.objects.select_for_update().filter(pk=project_id).exists():
        Project.objects.filter(pk=project_id).update(dicom_render_state=dicom_render_queue(project_id))


def dicom_render_queue(project_id: int) -> dict:
    """The "queued" render state with the next generation (read under a row lock), and the task
    enqueued after the commit for that generation: a run of an older generation stops
    (images_render_dicom). Call it inside a transaction that saves the state it returns."""
    current = Project.objects.select_for_update().filter(pk=project_id).values_list("dicom_render_state", flat=True)[0]
    generation = int((current or {}).get("generation", 0) or 0) + 1
    total = Image.objects.filter(project_id=project_id, format="DICOM").count()
    enqueue_on_commit("annotator.tasks.dicom_render", project_id, generation)
    return {"status": "queued", "done": 0, "total": total, "error": "", "generation": generation}


@dataclass(frozen=True)
class ParsedOriginal:
    dataset: Any  # pydicom Dataset; pixel decoding only reads it, so threads may share it
    file_hash: Any  # hashlib sha256 of the file's bytes: copy it before updating
    size: int  # the file's bytes


def parsed_originals_cache(max_bytes: int) -> LRUCache:
    """Parsed DICOM originals by storage name, least recently used dropped once the files' bytes
    pass `max_bytes`. An entry larger than the bound counts as the bound, so the newest entry is
    always kept (alone). Stored names are content hashes, so an entry never goes stale."""
    return LRUCache(maxsize=max_bytes, getsizeof=lambda entry: min(entry.size, max_bytes))


# cachetools caches are not thread-safe; parsing happens outside the lock (two threads may both
# parse one file the first time, and keep one).
_CACHE_LOCK = threading.Lock()
# The annotator's window/level renders many windows of the image on screen: its original is parsed once.
_RENDER_ORIGINALS = parsed_originals_cache(RENDER_CACHE_BYTES)


def parsed_original(cache: LRUCache, name: str) -> tuple[Any, hashlib._Hash]:
    """The parsed data set of a stored DICOM original and a copy of its file's hash, from the cache
    or read from storage (MediaError when it is unreadable)."""
    with _CACHE_LOCK:
        entry = cache.get(name)
    if entry is None:
        try:
            with default_storage.open(name, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise MediaError(f"the stored original is unreadable ({type(exc).__name__})") from exc
        entry = ParsedOriginal(dataset=read_dicom(data), file_hash=hashlib.sha256(data), size=len(data))
        with _CACHE_LOCK:
            cache[name] = entry
    return entry.dataset, entry.file_hash.copy()


def images_render_dicom(*, project_id: int, generation: int | None = None) -> None:
    """Re-render every DICOM image of a project with its current window (display, thumbnail, key),
    requesting each changed image's embedding in the same transaction as its new key. Idempotent: an
    image already rendered with the current window is skipped. Runs passes until one changes nothing
    (each pass lists the images again, so an upload committed meanwhile is included).

    `generation` is the Project.dicom_render_state generation this run was started for (by
    project_update); once a newer change has bumped it, this run stops and leaves the state alone:
    the newer run owns it. Each image is saved only if the project's window is still the one it was
    rendered with (checked under a row lock), so an older run never overwrites a newer rendition.
    Progress goes to Project.dicom_render_state."""
    originals = parsed_originals_cache(RENDER_CACHE_BYTES)  # one file's frames are parsed once
    for _ in range(MAX_RENDER_PASSES):
        # File, then frame order: the frames of one file follow each other and share one parse.
        image_ids = list(
            Image.objects.filter(project_id=project_id, format="DICOM")
            .order_by("file", "id")
            .values_list("id", flat=True)
        )
        total = len(image_ids)
        if not _render_state(project_id, generation, status="running", done=0, total=total):
            return
        changed = 0
        failures: list[str] = []
        for done, image_id in enumerate(image_ids, start=1):
            if _superseded(project_id, generation):
                return
            try:
                changed += _render_one(image_id, originals)
            except MediaError as exc:
                if not Image.objects.filter(pk=image_id).exists():
                    continue  # deleted while this run read its original: nothing to render
                failures.append(f"image {image_id}: {exc.reason}")
                logger.warning("Re-rendering DICOM image %s failed: %s", image_id, exc.reason)
            if done == total or done % 10 == 0:
                _render_state(project_id, generation, status="running", done=done, total=total)
        if not changed:
            break
    _render_state(
        project_id,
        generation,
        status="failed" if failures else "done",
        done=total,
        total=total,
        error="; ".join(failures)[:2000],
    )


def _superseded(project_id: int, generation: int | None) -> bool:
    if generation is None:
        return False
    state = Project.objects.filter(pk=project_id).values_list("dicom_render_state", flat=True).first()
    return state is None or int((state or {}).get("generation", 0) or 0) > generation


def _render_state(project_id: int, generation: int | None, **state) -> bool:
    """Write the run's progress unless a newer run owns the state; False when this run is superseded."""
    if _superseded(project_id, generation):
        return False
    extra = {"generation": generation} if generation is not None else {}
    Project.objects.filter(pk=project_id).update(dicom_render_state={"error": "", **state, **extra})
    return True


def _render_one(image_id: int, originals: LRUCache) -> bool:
    """One image with its project's current window; True if its rendition changed. Its embedding is
    requested in the same transaction as its new key, so a run that dies later leaves no image
    whose key has no embedding."""
    image = Image.objects.select_related("project").filter(pk=image_id).first()
    if image is None:
        return False  # deleted meanwhile
    window = image.project.dicom_window
    decoded, file_hash = _render_original(image, window, originals)
    frame = int(image.metadata.get("frame", 0) or 0)
    multi_frame = int(decoded.metadata.get("frames", 1) or 1) > 1
    key = rendition_key(file_hash, frame=frame, multi_frame=multi_frame, metadata=decoded.metadata)
    if key == image.sha256:
        return False
    written: list[str] = []
    try:
        with transaction.atomic():
            # Locked and read again: another run may have saved this image, or the window changed,
            # since it was read above. Saving then would overwrite a newer rendition.
            image = Image.objects.select_for_update().select_related("project").filter(pk=image_id).first()
            current = (
                Project.objects.filter(pk=image.project_id).values_list("dicom_window", flat=True).first()
                if image is not None
                else None
            )
            if image is None or current != window or image.sha256 == key:
                return False
            old_names = [image.display.name, image.thumbnail.name]
            image.display = blob_store_by_hash("display", decoded.display, decoded.display_extension, written)
            image.thumbnail = blob_store_by_hash("thumbnails", decoded.thumbnail, "jpg", written)
            image.sha256 = key
            image.metadata = {**decoded.metadata, "file_sha256": file_hash.hexdigest()}
            image.file_sha256 = file_hash.hexdigest()
            image.save(update_fields=["display", "thumbnail", "sha256", "metadata", "file_sha256"])
            embeddings_request(images=[image])  # get-or-create; the Celery send waits for the commit
            renditions_request([image])
            transaction.on_commit(lambda: blobs_delete_unreferenced(old_names))
    except Exception as exc:
        blobs_delete_unreferenced(written)
        logger.exception("Storing the re-rendered image %s failed", image_id)
        raise MediaError(f"could not be stored ({type(exc).__name__})") from exc
    return True


def _render_original(image: Image, window: Any, originals: LRUCache) -> tuple[DecodedImage, hashlib._Hash]:
    """An image's frame rendered from its stored original with a window (shared by the re-render
    task and the annotator's window/level), and the original's hash."""
    ds, file_hash = parsed_original(originals, image.file.name)
    return decode_dicom_frame(ds, frame=int(image.metadata.get("frame", 0) or 0), window=window), file_hash


def image_render_window(*, image: Image, center: object, width: object) -> bytes:
    """PNG of one DICOM image rendered from its stored original with this window (the annotator's
    window/level); the stored rendition and the embedding are untouched. ValidationError for a
    non-DICOM image, a colour image or bad numbers; MediaError for an unreadable original."""
    if image.format != "DICOM":
        raise ValidationError({"detail": f"Only DICOM images have a window; this one is {image.format}."})
    if str(image.metadata.get("photometric", "")).upper() not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValidationError(
            {
                "detail": "Only greyscale DICOM images have a window; this one is "
                f"{image.metadata.get('photometric', 'colour')}."
            }
        )
    try:
        window = window_choice_clean({"center": center, "width": width})
    except ValueError as exc:
        raise ValidationError({"detail": f"Bad window: {exc}."}) from exc
    try:
        decoded, _ = _render_original(image, window, _RENDER_ORIGINALS)
    except MediaError as exc:
        raise ValidationError({"detail": f"The stored DICOM file cannot be rendered: {exc.reason}."}) from exc
    return decoded.display
