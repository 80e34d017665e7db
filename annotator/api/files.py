"""Image files over the API: the display file (or a smaller rendition), the original, the thumbnail,
and a DICOM image rendered with another window. Stored names are content hashes, so they are ETags."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import get_conditional_response, patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from annotator import selectors
from annotator.api.errors import ErrorSerializer
from annotator.services.dicom_renditions import image_render_window
from annotator.services.renditions import RenditionError, display_rendition


@dataclass(frozen=True)
class _StoredName:
    """A storage name standing in for a FieldFile where _stream only needs the name."""

    name: str


def _stream(request: Request, field: FieldFile | _StoredName, content_type: str | None) -> HttpResponseBase:
    """Stream a stored file; names are content hashes, so the name is a strong ETag."""
    etag = f'"{field.name.rsplit("/", 1)[-1]}"'
    response: HttpResponseBase | None = get_conditional_response(request, etag=etag)  # 304 on a match
    if response is None:
        try:
            handle = default_storage.open(field.name, "rb")
        except FileNotFoundError as exc:
            raise Http404("The stored file is missing.") from exc
        response = FileResponse(handle, content_type=content_type)
    response["ETag"] = etag
    # private: only this signed-in user's browser may cache; files never change under one name.
    patch_cache_control(response, private=True, max_age=3600)
    return response


_BINARY = OpenApiResponse(OpenApiTypes.BINARY, description="The file's bytes")
_NOT_MODIFIED = OpenApiResponse(description="Not modified: the ETag in If-None-Match still names this file")


class ImageFileView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("original", bool, description="1: the uploaded file byte for byte"),
            OpenApiParameter(
                "max_side",
                int,
                description="a rendition whose longest side is at most this "
                "(256-16384; the display file itself when it already fits)",
            ),
        ],
        # The display file is PNG or JPEG; the original is whatever was uploaded (e.g. application/dicom).
        responses={(200, "*/*"): _BINARY, 304: _NOT_MODIFIED},
    )
    def get(self, request: Request, image_id: int):
        image, _ = selectors.image_for_user(request.user, image_id)
        if request.query_params.get("original") in ("1", "true"):
            return _stream(request, image.file, None)
        if "max_side" in request.query_params:
            try:
                name = display_rendition(image, int(request.query_params["max_side"]))
            except (ValueError, RenditionError) as exc:
                message = str(exc) if isinstance(exc, RenditionError) else "max_side must be an integer."
                raise ValidationError({"max_side": [message]}) from exc
            return _stream(request, _StoredName(name), None)
        return _stream(request, image.display, None)


class ImageThumbnailView(APIView):
    @extend_schema(responses={(200, "image/jpeg"): _BINARY, 304: _NOT_MODIFIED})
    def get(self, request: Request, image_id: int):
        image, _ = selectors.image_for_user(request.user, image_id)
        return _stream(request, image.thumbnail, "image/jpeg")


class ImageRenderView(APIView):
    """A DICOM image rendered from its stored original with another window (the annotator's
    window/level): PNG, for any member; the stored rendition and the embedding do not change."""

    @extend_schema(
        parameters=[OpenApiParameter("center", float, required=True), OpenApiParameter("width", float, required=True)],
        responses={
            (200, "image/png"): _BINARY,
            400: OpenApiResponse(ErrorSerializer, description="not a greyscale DICOM image, or a bad window"),
        },
    )
    def get(self, request: Request, image_id: int):
        image, _ = selectors.image_for_user(request.user, image_id)
        params = request.query_params
        if "center" not in params or "width" not in params:
            raise ValidationError({"window": "give both center and width, e.g. ?center=40&width=400"})
        png = image_render_window(image=image, center=params["center"], width=params["width"])
        response = HttpResponse(png, content_type="image/png")
        patch_cache_control(response, private=True, max_age=3600)
        return response
