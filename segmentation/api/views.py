"""Engine API that needs no project: a model's decoder files (project-scoped views live in annotator.api).

Decoder files are not private (they hold public model weights): any signed-in user may fetch them.
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.http.response import HttpResponseBase
from django.utils.cache import get_conditional_response, patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from segmentation.models import SamModel
from segmentation.services.models import DECODER_GRAPHS, decoder_export

BINARY_RESPONSE = OpenApiResponse(OpenApiTypes.BINARY, description="The file's bytes")


class ModelDecoderView(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): BINARY_RESPONSE, 304: None})
    def get(self, request: Request, model_id: int, variant: str):
        model = SamModel.objects.filter(pk=model_id).first()
        # Only graphs of the model's current export record (what the manifest describes).
        graphs = decoder_export(model) if model is not None and variant in DECODER_GRAPHS else None
        if graphs is None:
            raise Http404("No such decoder (or it is being prepared: ask the project's model manifest).")
        name, sha = graphs[variant]
        etag = f'"{sha}"'
        response: HttpResponseBase | None = get_conditional_response(request, etag=etag)  # 304 on a match
        if response is None:
            try:
                response = FileResponse(default_storage.open(name, "rb"), content_type="application/octet-stream")
            except FileNotFoundError as exc:
                raise Http404("The decoder file is missing; run ensure_models.") from exc
        response["ETag"] = etag
        if request.GET.get("v") == sha[:16]:
            # The manifest's URL names this content: no revalidation round trip when a page opens.
            patch_cache_control(response, private=True, max_age=365 * 24 * 3600, immutable=True)
        else:
            patch_cache_control(response, private=True, no_cache=True)
        return response
