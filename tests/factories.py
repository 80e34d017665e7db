"""Test data builders shared by every test module: plain functions with sensible defaults."""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Mapping

import numpy as np
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from annotator import geometry
from annotator.models import Annotation, AnnotationSource, Image, LabelClass, Membership, Project
from annotator.selectors import with_embedding_status
from segmentation.models import Embedding, SamModel

_sequence = itertools.count(1)
PASSWORD = "test-password-123"


def make_user(username: str | None = None, *, superuser: bool = False, password: str | None = None, **fields):
    """A user; without a password it cannot log in by form (use client.force_login), which keeps
    tests fast: hashing a real password costs about a second on a small CPU."""
    username = username or f"user{next(_sequence)}"
    model = get_user_model()
    if superuser:
        return model.objects.create_superuser(username=username, password=password, email=f"{username}@example.org")
    return model.objects.create_user(username=username, password=password, **fields)


def make_project(name: str | None = None, *, members: Mapping | None = None, **fields) -> Project:
    """A project; members maps user -> role ("manager", "annotator", "reviewer")."""
    project = Project.objects.create(name=name or f"Project {next(_sequence)}", **fields)
    for user, role in (members or {}).items():
        Membership.objects.create(project=project, user=user, role=role)
    return project


def make_label_class(
    project: Project, name: str | None = None, *, color: str = "#3cb44b", order: int = 0
) -> LabelClass:
    return LabelClass.objects.create(project=project, name=name or f"class {next(_sequence)}", color=color, order=order)


def _store(prefix: str, data: bytes, extension: str) -> str:
    digest = hashlib.sha256(data).hexdigest()
    name = f"{prefix}/{digest[:2]}/{digest}.{extension}"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(data))
    return name


def image_bytes(width: int, height: int, *, seed: int = 0, image_format: str = "PNG") -> bytes:
    """A small real image whose content differs by seed (so sha256 differs too)."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format=image_format)
    return buffer.getvalue()


def _model_of(project: Project) -> SamModel:
    """The project's model, else the default model; a row without a checkpoint when none is registered
    (enough to key an embedding status; no test that needs a real model goes through here)."""
    if project.sam_model_id:
        return project.sam_model
    return SamModel.objects.filter(is_default=True).first() or SamModel.objects.create(
        name="factory default",
        architecture="default",
        checkpoint_path="/nonexistent/factory.pt",
        checkpoint_sha256="f" * 64,
        encoder_input_size=256,
        embedding_shape=[128, 32, 32],
        is_default=True,
    )


def image_with_embedding_status(image: Image) -> Image:
    """The image read again, with embedding_status and embedding_error from its Embedding row."""
    return with_embedding_status(Image.objects.filter(pk=image.pk)).get()


def make_image(
    project: Project,
    *,
    width: int = 40,
    height: int = 30,
    name: str | None = None,
    embedding_status: str | None = None,
    embedding_error: str = "",
    **fields,
) -> Image:
    """An Image row whose original, display and thumbnail files really exist in default_storage; with
    embedding_status, also its Embedding row in that status (no file) under the project's model."""
    seed = next(_sequence)
    data = image_bytes(width, height, seed=seed)
    sha = hashlib.sha256(data).hexdigest()
    thumbnail = io.BytesIO()
    PILImage.open(io.BytesIO(data)).convert("RGB").save(thumbnail, format="JPEG")
    values = {
        "project": project,
        "file": _store("originals", data, "png"),
        "display": _store("display", data, "png"),
        "thumbnail": _store("thumbnails", thumbnail.getvalue(), "jpg"),
        "original_name": name or f"image{seed}.png",
        "width": width,
        "height": height,
        "sha256": sha,
        "format": "PNG",
        "size_bytes": len(data),
    }
    values.update(fields)
    image = Image.objects.create(**values)
    if embedding_status is not None:
        model = _model_of(project)
        Embedding.objects.create(
            image_sha256=image.sha256,
            model=model,
            model_sha256=model.checkpoint_sha256,
            source_name=image.display.name,
            status=embedding_status,
            error=embedding_error,
        )
    return image


def square_polygons(x: float, y: float, size: float) -> list:
    return [[[x, y, x + size, y, x + size, y + size, x, y + size]]]


def make_annotation(
    image: Image,
    *,
    label_class: LabelClass | None = None,
    author=None,
    polygons: list | None = None,
    source: str = AnnotationSource.MANUAL,
    **fields,
) -> Annotation:
    """A saved annotation with consistent polygons, RLE, bbox and area (default: a 5-pixel square)."""
    label_class = label_class or make_label_class(image.project)
    polygons = polygons or square_polygons(1, 1, 5)
    rle = geometry.polygons_to_rle(polygons, width=image.width, height=image.height)
    return Annotation.objects.create(
        image=image,
        label_class=label_class,
        author=author,
        polygons=polygons,
        rle=rle,
        bbox=geometry.rle_bbox(rle),
        area=geometry.rle_area(rle),
        source=source,
        **fields,
    )
