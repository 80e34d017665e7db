"""Image embeddings for project members: the binary (conditional GET), status, retry, progress, and
the server-side decoder. Access: annotator.access.project_for_user (non-member: 404)."""

from __future__ import annotations

import cv2
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import get_conditional_response, patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import project_for_user
from annotator.selectors_embeddings import embedding_for_image, embedding_progress, image_for_member, project_model
from annotator.services.embeddings import embedding_retry
from segmentation.api.serializers import DecodeRequestSerializer, EmbeddingStatusSerializer
from segmentation.api.views import BINARY_RESPONSE
from segmentation.models import EmbeddingState
from segmentation.services.models import server_decode_mask


class ProjectEmbeddingProgressView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id)
        return Response(embedding_progress(project))


class ImageEmbeddingView(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): BINARY_RESPONSE, 304: None, 409: OpenApiTypes.OBJECT})
    def get(self, request: Request, image_id: int):
        image = image_for_member(request.user, image_id)
        model = project_model(image.project)
        embedding = embedding_for_image(image, model)
        if embedding is None or embedding.status != EmbeddingState.READY or not embedding.file:
            body = {
                "detail": "The embedding is not ready.",
                "status": embedding.status if embedding else EmbeddingState.PENDING,
                "error": embedding.error if embedding else "",
            }
            not_ready = Response(body, status=status.HTTP_409_CONFLICT)
            not_ready["Retry-After"] = "2"
            return not_ready
        # The key (encoder weights, content) identifies the bytes: a strong ETag. X-Model-Sha256 names
        # the encoder (manifest model.encoder_sha256), shared by a model's fine-tuned versions.
        etag = f'"{model.encoder_sha256[:16]}-{image.sha256}"'
        response: HttpResponseBase | None = get_conditional_response(request, etag=etag)  # 304 on a match
        if response is None:
            try:
                handle = default_storage.open(embedding.file.name, "rb")
            except FileNotFoundError as exc:
                raise Http404("The stored embedding is missing; retry it.") from exc
            response = FileResponse(handle, content_type="application/octet-stream")
        response["ETag"] = etag
        response["X-Model-Sha256"] = model.encoder_sha256
        # no-cache: the browser keeps it but revalidates (the project's model may change); 304 is cheap.
        patch_cache_control(response, private=True, no_cache=True)
        return response


class ImageEmbeddingStatusView(APIView):
    @extend_schema(responses={200: EmbeddingStatusSerializer})
    def get(self, request: Request, image_id: int) -> Response:
        image = image_for_member(request.user, image_id)
        embedding = embedding_for_image(image)
        if embedding is None:
            return Response({"status": EmbeddingState.PENDING, "error": "", "attempts": 0})
        return Response(EmbeddingStatusSerializer(embedding).data)


class ImageEmbeddingRetryView(APIView):
    @extend_schema(request=None, responses={202: EmbeddingStatusSerializer})
    def post(self, request: Request, image_id: int) -> Response:
        image = image_for_member(request.user, image_id)
        embedding = embedding_retry(image)
        return Response(EmbeddingStatusSerializer(embedding).data, status=status.HTTP_202_ACCEPTED)


class ImageDecodeView(APIView):
    """The server-side decoder path some peers use (the annotator itself decodes in the browser): the
    project model's exported ONNX decoder runs here on the stored embedding, and the officially chosen
    mask comes back as a PNG at the image's size (255 inside). bench/click_latency.py uses it as the
    baseline. Prompts are in image pixels; labels 1 positive, 0 negative; box x0, y0, x1, y1."""

    @extend_schema(
        request=DecodeRequestSerializer,
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="PNG mask"),
            409: OpenApiTypes.OBJECT,
        },
    )
    def post(self, request: Request, image_id: int):
        image = image_for_member(request.user, image_id)
        prompt = DecodeRequestSerializer(data=request.data)
        prompt.is_valid(raise_exception=True)
        model = project_model(image.project)
        embedding = embedding_for_image(image, model)
        if embedding is None or embedding.status != EmbeddingState.READY or not embedding.file:
            return Response({"detail": "The embedding is not ready."}, status=status.HTTP_409_CONFLICT)
        mask = server_decode_mask(
            model, embedding.file.name, height=image.height, width=image.width, **prompt.validated_data
        )
        ok, png = cv2.imencode(".png", mask.astype("uint8") * 255, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise RuntimeError("PNG encoding failed")
        return HttpResponse(png.tobytes(), content_type="image/png")
