"""Display renditions: a smaller copy of a very large image for the browser to draw.

The annotator draws the image on a canvas; a 20000 x 15000 scan would cost the browser ~1.2 GB of
decoded pixels and seconds to decode, while the screen shows a few megapixels of it. So the page asks
for a rendition whose longest side is at most `settings.ANNOTATOR_DISPLAY_MAX_SIDE` and stretches it to
the image's full size: annotation coordinates stay in full-image pixels, and the encoder keeps reading
the full display image. Renditions are made by the worker right after upload (and after a DICOM
re-render), or on first request if that comes sooner, and cached in storage under a name derived from
the display file's content-hash name, so they never go stale and duplicates share them.
"""

from __future__ import annotations

import io
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from annotator.models import Image
from common.storage import save_atomically
from common.tasks import enqueue_on_commit

FOLDER = "renditions"
DISPLAY_FOLDER = "display"  # where ingest stores display files (services/images.py)


class RenditionError(ValueError):
    pass


def needs_rendition(image: Image, max_side: int | None = None) -> bool:
    return max(image.width, image.height) > (max_side or settings.ANNOTATOR_DISPLAY_MAX_SIDE)


def rendition_name(display_name: str, max_side: int) -> str:
    path = PurePosixPath(display_name)
    # JPEG stays JPEG; everything else (PNG: lossless sources, masks of fine detail) stays PNG.
    suffix = ".jpg" if path.suffix.lower() in (".jpg", ".jpeg") else ".png"
    # One folder per display file, so deleting it lists only its own renditions.
    return f"{FOLDER}/{path.stem}/{max_side}{suffix}"


def display_rendition(image: Image, max_side: int) -> str:
    """Storage name of the image's display file scaled to fit max_side (made once, then reused).
    Images that already fit get their display file itself. Only the configured size is offered: each
    size is a file made inside a request, so clients must not be able to ask for thousands of them."""
    allowed = settings.ANNOTATOR_DISPLAY_MAX_SIDE
    if max_side != allowed:
        raise RenditionError(f"max_side must be {allowed} (the server's ANNOTATOR_DISPLAY_MAX_SIDE).")
    if not needs_rendition(image, max_side):
        return image.display.name
    name = rendition_name(image.display.name, max_side)
    if not default_storage.exists(name):
        save_atomically(name, _scaled(image.display.name, max_side, name.endswith(".jpg")))
    return name


def renditions_request(images: list[Image]) -> None:
    """Queue the worker to make the display renditions of those images that need one (after the
    current transaction commits), so that the first open does not wait for a large image's scaling."""
    ids = [image.pk for image in images if needs_rendition(image)]
    if ids:
        enqueue_on_commit("annotator.tasks.display_renditions_make", ids)


def renditions_make(image_ids: list[int]) -> int:
    """Make the configured display rendition of each image (the task queued by renditions_request);
    deleted images are skipped and one unreadable file does not stop the others. Returns how many
    images now have one."""
    import logging

    made = 0
    for image in Image.objects.filter(pk__in=image_ids):
        if not needs_rendition(image):
            continue
        try:
            display_rendition(image, settings.ANNOTATOR_DISPLAY_MAX_SIDE)
        except (OSError, ValueError) as exc:  # the page still asks later, and gets the error then
            logging.getLogger(__name__).warning("Display rendition of image %s failed: %s", image.pk, exc)
            continue
        made += 1
    return made


def _scaled(display_name: str, max_side: int, jpeg: bool) -> bytes:
    previous = PILImage.MAX_IMAGE_PIXELS
    PILImage.MAX_IMAGE_PIXELS = None  # our own display file, already size-checked at upload
    try:
        with default_storage.open(display_name, "rb") as handle, PILImage.open(handle) as im:
            im.draft("RGB", (max_side, max_side))  # JPEG: decode at 1/2, 1/4 or 1/8 scale directly
            rgb = im.convert("RGB")
    finally:
        PILImage.MAX_IMAGE_PIXELS = previous
    rgb.thumbnail((max_side, max_side), PILImage.Resampling.LANCZOS)
    out = io.BytesIO()
    if jpeg:
        rgb.save(out, "JPEG", quality=90, optimize=True)
    else:
        rgb.save(out, "PNG", compress_level=3)
    return out.getvalue()


def delete_renditions_of(name: str) -> None:
    """Remove the cached renditions of a deleted display file (other stored names have none)."""
    if not name.startswith(f"{DISPLAY_FOLDER}/"):
        return
    folder = f"{FOLDER}/{PurePosixPath(name).stem}"
    try:
        _, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotImplementedError):
        return
    for file_name in files:
        default_storage.delete(f"{folder}/{file_name}")
