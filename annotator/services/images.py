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
in metadata["file_sha256"] (duplicate checks and frame siblings use it). `images_render_dicom`
re-renders a project's DICOM images after a window change (Celery task annotator.tasks.dicom_render).

In a project with `dicom_deidentify`, the stored original of a DICOM upload is the de-identified
copy made by annotator/dicom_deid.py, and all hashes above are of that copy; its Image.original_name
is "<SOPInstanceUID>.dcm", never the uploaded path (folder names often hold the patient's name/MRN).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import stat
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q

from annotator.media import (
    SNIFF_BYTES,
    DecodedImage,
    MediaError,
    decode_dicom_frame,
    decode_image,
    original_extension,
    read_dicom,
    sniff_format,
    window_choice_clean,
)
from annotator.models import Image, Project
from annotator.services.renditions import delete_renditions_of, renditions_request
from common.storage import save_atomically

logger = logging.getLogger(__name__)

# Most frames of one multi-frame DICOM file turned into Image rows (each is decoded, stored and embedded).
MAX_DICOM_FRAMES = 2_000
# Most members one zip archive may hold (a guard against archives of millions of empty entries).
MAX_ZIP_MEMBERS = 10_000
# Most passes of one re-render run (each re-lists the images; the run stops at a pass that changed nothing).
MAX_RENDER_PASSES = 5
# Bytes of parsed DICOM originals kept per process for the annotator's window/level (the newest one
# is always kept, whatever its size); see _ParsedOriginals.
RENDER_CACHE_BYTES = 256 * 2**20
# Archive entries that are operating-system litter, skipped without a report line.
_IGNORED_ZIP_PARTS = ("__MACOSX",)
_IGNORED_ZIP_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")


@dataclass
class IngestReport:
    accepted: list[Image] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)


@dataclass(frozen=True)
class _Candidate:
    """One file to ingest: its name as reported, and its bytes or the reason it was refused early."""

    name: str
    data: bytes | None = None
    refusal: str | None = None


def images_ingest(
    *, project: Project, files: Iterable[tuple[str, IO[bytes]]], user: AbstractBaseUser | None
) -> IngestReport:
    """Add files (images or zip archives of images) to a project; report every file's outcome.

    Names of zip members are reported as "<archive name>/<member path>". Embeddings are requested
    for the accepted images once their rows are committed. Call it outside a transaction: each file
    commits on its own, and the clean-up of a failed file relies on that.
    """
    report = IngestReport()
    seen_in_upload: dict[str, str] = {}  # sha256 -> name, for duplicates inside this upload
    for name, stream in files:
        for candidate in _expand(name, stream):
            if candidate.refusal is not None:
                report.rejected.append((candidate.name, candidate.refusal))
                continue
            try:
                images = _ingest_one(project, candidate.name, candidate.data, user, seen_in_upload)
            except MediaError as exc:
                report.rejected.append((candidate.name, exc.reason))
            else:
                report.accepted.extend(images)
    if report.accepted:
        _request_embeddings(report.accepted)
        renditions_request(report.accepted)
    return report


def image_delete(*, image: Image) -> None:
    """Delete an image row, then the blobs that no other row references (after the commit)."""
    names = [n for n in (image.file.name, image.display.name, image.thumbnail.name) if n]
    with transaction.atomic():
        image.delete()
        # After commit: a rolled-back delete must keep its files.
        transaction.on_commit(lambda: _delete_unreferenced(names))


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


def _ingest_one(
    project: Project, name: str, data: bytes, user: AbstractBaseUser | None, seen_in_upload: dict[str, str]
) -> list[Image]:
    """One file -> its Image rows (one, or one per frame of a multi-frame DICOM file), all or none."""
    dicom = sniff_format(data[:SNIFF_BYTES]) == "DICOM"
    # The DICOM settings are read per file, not from the request's project object: a window or
    # de-identification change committed while a long upload runs applies to its later files.
    dicom_settings = Project.objects.filter(pk=project.pk).values("dicom_window", "dicom_deidentify").first() or {}
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
    if dicom and deidentify:
        name = _neutral_name(frames[0].metadata.get("sop_instance_uid", ""), sha256)
    written: list[str] = []
    try:
        with transaction.atomic():
            if dicom and not deidentify and _deidentify_locked(project.pk):
                # Turned on since this file was read: project_update counted the DICOM images under
                # the same row lock, so storing this identified original now would slip past it.
                raise MediaError(
                    "de-identification was turned on during this upload; nothing was kept, upload the file again"
                )
            original = _store(f"originals/{sha256[:2]}/{sha256}.{original_extension(frames[0].format)}", data, written)
            images = []
            for index, decoded in enumerate(frames):
                is_dicom = decoded.format == "DICOM"
                metadata = {**decoded.metadata, "file_sha256": sha256} if is_dicom or multi_frame else decoded.metadata
                images.append(
                    Image.objects.create(
                        project=project,
                        file=original,
                        display=_store_by_hash("display", decoded.display, decoded.display_extension, written),
                        thumbnail=_store_by_hash("thumbnails", decoded.thumbnail, "jpg", written),
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
        _delete_unreferenced(written)
        raise MediaError(
            _existing_duplicate(project, sha256, frame_sha256(file_hash, 0)) or "duplicate of an image in this project"
        ) from exc
    except Exception as exc:
        _delete_unreferenced(written)
        logger.exception("Storing %s failed", name)  # neutral when de-identifying (set above)
        raise MediaError(f"could not be stored ({type(exc).__name__}); nothing was kept") from exc
    seen_in_upload[sha256] = name
    if dicom and _current_window(project.pk) != window:
        # The window changed after this file was rendered: a re-render run that listed the images
        # before this commit missed it, so start another (idempotent; it renders only what differs).
        from annotator.services.projects import dicom_render_enqueue

        dicom_render_enqueue(project.pk)
    return images


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
    from annotator.dicom_deid import DeidentificationError, deidentify

    try:
        return deidentify(data)
    except DeidentificationError as exc:
        raise MediaError(f"DICOM file {exc}; nothing was kept (the project de-identifies uploads)") from exc


def _decode_frames(data: bytes, name: str, *, window=None) -> list[DecodedImage]:
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
    originals = _ParsedOriginals(RENDER_CACHE_BYTES)  # one file's frames are parsed once
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


def _render_one(image_id: int, originals: _ParsedOriginals) -> bool:
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
            image.display = _store_by_hash("display", decoded.display, decoded.display_extension, written)
            image.thumbnail = _store_by_hash("thumbnails", decoded.thumbnail, "jpg", written)
            image.sha256 = key
            image.metadata = {**decoded.metadata, "file_sha256": file_hash.hexdigest()}
            image.file_sha256 = file_hash.hexdigest()
            image.save(update_fields=["display", "thumbnail", "sha256", "metadata", "file_sha256"])
            _request_embeddings([image])  # get-or-create; the Celery send waits for the commit
            renditions_request([image])
            transaction.on_commit(lambda: _delete_unreferenced(old_names))
    except Exception as exc:
        _delete_unreferenced(written)
        logger.exception("Storing the re-rendered image %s failed", image_id)
        raise MediaError(f"could not be stored ({type(exc).__name__})") from exc
    return True


def _render_original(image: Image, window: Any, originals: _ParsedOriginals) -> tuple[DecodedImage, hashlib._Hash]:
    """An image's frame rendered from its stored original with a window (shared by the re-render
    task and the annotator's window/level), and the original's hash."""
    ds, file_hash = originals.get(image.file.name)
    return decode_dicom_frame(ds, frame=int(image.metadata.get("frame", 0) or 0), window=window), file_hash


class _ParsedOriginals:
    """Parsed DICOM originals by storage name, least recently used dropped once the files' bytes
    pass `max_bytes` (the newest is always kept). Stored names are content hashes, so an entry never
    goes stale. Thread-safe; pixel decoding only reads a data set."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[Any, hashlib._Hash, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str) -> tuple[Any, hashlib._Hash]:
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None:
                self._entries.move_to_end(name)
                return entry[0], entry[1].copy()
        try:
            with default_storage.open(name, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise MediaError(f"the stored original is unreadable ({type(exc).__name__})") from exc
        ds, file_hash = read_dicom(data), hashlib.sha256(data)
        with self._lock:
            self._entries[name] = (ds, file_hash, len(data))
            self._entries.move_to_end(name)
            while len(self._entries) > 1 and sum(size for *_, size in self._entries.values()) > self.max_bytes:
                self._entries.popitem(last=False)
        return ds, file_hash.copy()


# The annotator's window/level renders many windows of the image on screen: its original is parsed once.
_RENDER_ORIGINALS = _ParsedOriginals(RENDER_CACHE_BYTES)


def image_render_window(*, image: Image, center: object, width: object) -> bytes:
    """PNG of one DICOM image rendered from its stored original with this window (the annotator's
    window/level); the stored rendition and the embedding are untouched. ValidationError for a
    non-DICOM image, a colour image or bad numbers; MediaError for an unreadable original."""
    from django.core.exceptions import ValidationError

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


def dicom_frame_siblings(image: Image) -> list[tuple[int, int]]:
    """(frame, image id) of every row of this image's file in its project, in frame order."""
    if image.format != "DICOM" or not image.file_sha256 or int(image.metadata.get("frames", 1) or 1) <= 1:
        return [(int(image.metadata.get("frame", 0) or 0), image.pk)]
    rows = Image.objects.filter(project_id=image.project_id, file_sha256=image.file_sha256, format="DICOM")
    return sorted((int(metadata.get("frame", 0) or 0), pk) for pk, metadata in rows.values_list("pk", "metadata"))


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


def _store_by_hash(folder: str, data: bytes, extension: str, written: list[str]) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return _store(f"{folder}/{digest[:2]}/{digest}.{extension}", data, written)


def _store(name: str, data: bytes, written: list[str]) -> str:
    """Save content-addressed bytes once (atomically); `written` collects names this call created."""
    if default_storage.exists(name):
        return name  # same name = same bytes: share the blob
    save_atomically(name, data)  # removes its own temporary file when it fails
    written.append(name)
    return name


def _delete_unreferenced(names: Iterable[str]) -> None:
    for name in names:
        if Image.objects.filter(Q(file=name) | Q(display=name) | Q(thumbnail=name)).exists():
            continue
        try:
            default_storage.delete(name)
            delete_renditions_of(name)  # a display file's cached smaller copies go with it
        except OSError:
            logger.exception("Could not delete unreferenced file %s", name)


def _request_embeddings(images: list[Image]) -> None:
    try:
        # Imported here: segmentation depends on annotator models, not the other way round at import.
        from segmentation.services.embeddings import embeddings_request
    except ImportError:
        logger.warning("segmentation.services.embeddings is not available; no embeddings requested")
        return
    embeddings_request(images=images)


def _expand(name: str, stream: IO[bytes]) -> Iterator[_Candidate]:
    """One upload -> candidates: the file itself, or each member of a zip archive."""
    limit = settings.ANNOTATOR_MAX_UPLOAD_BYTES
    size = _stream_size(stream)
    if size is not None and size > limit:
        yield _Candidate(name, refusal=_too_large(size, limit))
        return
    head = stream.read(SNIFF_BYTES)
    if sniff_format(head) != "ZIP":
        data = head + stream.read(limit + 1 - len(head))
        if len(data) > limit:
            yield _Candidate(name, refusal=_too_large(len(data), limit))
        else:
            yield _Candidate(name, data=data)
        return
    archive_source: IO[bytes]
    if stream.seekable():
        stream.seek(0)
        archive_source = stream
    else:
        archive_source = io.BytesIO(head + stream.read(limit + 1 - len(head)))
    yield from _expand_zip(name, archive_source)


def _expand_zip(archive_name: str, source: IO[bytes]) -> Iterator[_Candidate]:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield _Candidate(archive_name, refusal=f"not a readable zip archive ({exc})")
        return
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            yield _Candidate(
                archive_name, refusal=f"zip archive has {len(members):,} entries, over the limit of {MAX_ZIP_MEMBERS:,}"
            )
            return
        # Declared sizes bound what zipfile will decompress (it stops at file_size), so summing them
        # refuses a zip bomb before any member is inflated.
        total = sum(member.file_size for member in members)
        total_limit = settings.ANNOTATOR_MAX_ZIP_UNCOMPRESSED_BYTES
        if total > total_limit:
            yield _Candidate(
                archive_name,
                refusal=f"zip archive would expand to {total:,} bytes, over the limit of {total_limit:,} bytes",
            )
            return
        for member in members:
            if member.is_dir() or _is_litter(member.filename):
                continue
            name = f"{archive_name}/{member.filename}"
            refusal = _member_refusal(member)
            if refusal is not None:
                yield _Candidate(name, refusal=refusal)
                continue
            try:
                with archive.open(member) as member_stream:
                    data = member_stream.read(settings.ANNOTATOR_MAX_UPLOAD_BYTES + 1)
            except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, EOFError) as exc:
                # Bad CRC, unsupported compression, truncated archive, password needed, ...
                yield _Candidate(name, refusal=f"cannot be extracted from the zip archive ({exc})")
                continue
            if sniff_format(data[:SNIFF_BYTES]) == "ZIP":
                yield _Candidate(name, refusal="zip archive inside a zip archive (not supported: upload it separately)")
                continue
            yield _Candidate(name, data=data)


def _member_refusal(member: zipfile.ZipInfo) -> str | None:
    """Why a zip member must not be used, or None. Nothing is extracted to disk, but a path that
    escapes the archive or a link is a sign of a hostile archive, and such names must never reach
    any code that might join them to a folder."""
    path = member.filename.replace("\\", "/")
    parts = path.split("/")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":") or ".." in parts:
        return "unsafe path in zip archive (absolute, or escapes the archive folder with ..)"
    if member.create_system == 3 and stat.S_ISLNK(member.external_attr >> 16):
        return "symbolic link in zip archive (not followed)"
    if member.flag_bits & 0x1:
        return "encrypted zip member (not supported)"
    if member.file_size > settings.ANNOTATOR_MAX_UPLOAD_BYTES:
        return _too_large(member.file_size, settings.ANNOTATOR_MAX_UPLOAD_BYTES)
    return None


def _is_litter(filename: str) -> bool:
    parts = filename.replace("\\", "/").split("/")
    base = parts[-1]
    return any(part in _IGNORED_ZIP_PARTS for part in parts) or base in _IGNORED_ZIP_NAMES or base.startswith("._")


def _stream_size(stream: IO[bytes]) -> int | None:
    """Size without reading: Django's UploadedFile has .size; seekable files can seek to the end."""
    size = getattr(stream, "size", None)
    if isinstance(size, int):
        return size
    if stream.seekable():
        position = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(position)
        return end - position
    return None


def _too_large(size: int, limit: int) -> str:
    return f"file is {size / 2**20:.1f} MiB, over the upload limit of {limit / 2**20:.1f} MiB"
