"""Reads about DICOM images and projects: frames of one file, and what the project page's DICOM
settings and the annotator's window/level and frame stepper are given."""

from __future__ import annotations

from django.urls import reverse

from annotator.dicom.window import WINDOW_PRESETS, window_presets
from annotator.models import Image, Project, Role
from annotator.services.series import series_slices


def dicom_frame_siblings(image: Image) -> list[tuple[int, int]]:
    """(frame, image id) of every row of this image's file in its project, in frame order."""
    if image.format != "DICOM" or not image.file_sha256 or int(image.metadata.get("frames", 1) or 1) <= 1:
        return [(int(image.metadata.get("frame", 0) or 0), image.pk)]
    rows = Image.objects.filter(project_id=image.project_id, file_sha256=image.file_sha256, format="DICOM")
    return sorted((int(metadata.get("frame", 0) or 0), pk) for pk, metadata in rows.values_list("pk", "metadata"))


def dicom_settings_context(project: Project) -> dict:
    """The project page's DICOM settings block (templates/projects/detail.html)."""
    window = project.dicom_window
    return {
        "presets": [
            {"value": name, "label": f"{modality} {name.split('-', 1)[1].replace('-', ' ')} ({c:g}/{w:g})"}
            for name, (modality, (c, w)) in WINDOW_PRESETS.items()
        ],
        "mode": "file" if window is None else ("preset" if isinstance(window, str) else "custom"),
        "preset": window if isinstance(window, str) else "",
        "center": window.get("center") if isinstance(window, dict) else "",
        "width": window.get("width") if isinstance(window, dict) else "",
        "render": project.dicom_render_state,
        "api_url": reverse("api-project-detail", args=[project.pk]),
    }


def dicom_annotator_config(image: Image, project: Project, role: str) -> dict | None:
    """What the annotator's window/level control and frame stepper need (frontend/src/tools/windowLevel.ts)."""
    if image.format != "DICOM":
        return None
    metadata = image.metadata
    modality = str(metadata.get("modality", ""))
    siblings = dicom_frame_siblings(image)
    return {
        "modality": modality,
        "greyscale": str(metadata.get("photometric", "")).upper() in ("MONOCHROME1", "MONOCHROME2"),
        "window": metadata.get("window"),
        "window_source": metadata.get("window_source"),
        "file_window": metadata.get("file_window"),
        "project_window": project.dicom_window,
        "presets": [{"name": name, "center": c, "width": w} for name, (c, w) in window_presets(modality).items()],
        "render_url": reverse("api-image-render", args=[image.pk]),
        "project_api_url": reverse("api-project-detail", args=[project.pk]),
        "can_manage": role == Role.MANAGER,
        "frame": int(metadata.get("frame", 0) or 0),
        "frames": int(metadata.get("frames", 1) or 1),
        "frame_urls": [reverse("image-annotate", args=[pk]) for _, pk in siblings],
        "frame_position": [pk for _, pk in siblings].index(image.pk)
        if any(pk == image.pk for _, pk in siblings)
        else 0,
        "series": _series_config(image),
    }


def _series_config(image: Image) -> dict:
    """The image's series in slice order (annotator.services.series): PageUp / PageDown and the
    wheel step through it, propagation walks it."""
    slices = series_slices(image)
    ids = [s.pk for s in slices]
    return {
        "image_ids": ids,
        "urls": [reverse("image-annotate", args=[pk]) for pk in ids],
        "position": ids.index(image.pk) if image.pk in ids else 0,
    }
