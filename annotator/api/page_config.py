"""The annotator page's config: built here, shaped by serializers.AnnotatePageConfigSerializer,
embedded in the page (annotator.views.image_annotate) and served as JSON, so the OpenAPI schema (and
the TypeScript generated from it) describes exactly what the page reads."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator import selectors
from annotator.access import check_image_annotate, check_image_review, check_image_submit
from annotator.api.serializers import AnnotatePageConfigSerializer
from annotator.models import Image
from annotator.selectors_dicom import dicom_annotator_config
from annotator.services.renditions import needs_rendition


def annotate_page_config(*, user, image: Image, role: str) -> dict:
    """Everything the annotator page needs about this image for this member (role in its project)."""
    project = image.project
    previous_id, next_id = _neighbour_image_ids(image)
    following = Image.objects.filter(pk=next_id).only("id", "width", "height").first() if next_id else None
    return {
        "image": {
            "id": image.pk,
            "width": image.width,
            "height": image.height,
            "name": image.original_name,
            "url": _display_url(image),
        },
        "project": {"id": project.pk, "name": project.name, "url": reverse("project-detail", args=[project.pk])},
        "role": role,
        # Assignment and review state decide, as for the API (access.check_image_annotate).
        "can_write": _allowed(check_image_annotate, user, role, image),
        # Review workflow in the same page (frontend/src/tools/reviewPanel.ts decides the mode from these).
        "review": {
            "status": image.review_status,
            "comment": image.review_comment,
            "can_submit": _allowed(check_image_submit, user, role, image),
            "can_review": _allowed(check_image_review, user, role, image),
        },
        "label_classes": [
            {"id": c.pk, "name": c.name, "color": c.color} for c in selectors.label_class_list(project=project)
        ],
        "previous_url": reverse("image-annotate", args=[previous_id]) if previous_id else None,
        "next_url": reverse("image-annotate", args=[next_id]) if next_id else None,
        "next_image_id": next_id,
        # The page hands the next image's embedding to its decoder ahead of time (needs the size)
        # and loads its picture into the HTTP cache.
        "next_image": {
            "id": following.pk,
            "width": following.width,
            "height": following.height,
            "url": _display_url(following),
        }
        if following
        else None,
        "ort_runtime_url": reverse("ort-runtime-file", args=["x"]).removesuffix("x"),
        "user_id": user.pk,
        # Window/level and frames (docs/dicom.md); null for other images.
        "dicom": dicom_annotator_config(image, project, role),
    }


class AnnotatePageConfigView(APIView):
    @extend_schema(responses={200: AnnotatePageConfigSerializer})
    def get(self, request: Request, image_id: int) -> Response:
        image, role = selectors.image_for_user(request.user, image_id)
        config = annotate_page_config(user=request.user, image=image, role=role)
        return Response(AnnotatePageConfigSerializer(config).data)


def _display_url(image: Image) -> str:
    """What the canvas draws: the display file, or for very large images a rendition stretched to
    full size (annotator/services/renditions.py), so the browser never decodes a gigapixel bitmap."""
    url = reverse("api-image-file", args=[image.pk])
    if needs_rendition(image):
        url += f"?max_side={settings.ANNOTATOR_DISPLAY_MAX_SIDE}"
    return url


def _allowed(check: Callable, user, role: str, image: Image) -> bool:
    try:
        check(user, role, image)
    except PermissionDenied:
        return False
    return True


def _neighbour_image_ids(image: Image) -> tuple[int | None, int | None]:
    """Ids of the previous and next image of the same project, in the grid's order (by id)."""
    siblings = Image.objects.filter(project_id=image.project_id)
    previous_id = siblings.filter(pk__lt=image.pk).order_by("-pk").values_list("pk", flat=True).first()
    next_id = siblings.filter(pk__gt=image.pk).order_by("pk").values_list("pk", flat=True).first()
    return previous_id, next_id
