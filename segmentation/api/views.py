"""Segmentation API: model manifest, embeddings (binary + status + retry), decoders, segment everything.

Access: anything inside a project goes through annotator.access.project_for_user (non-member: 404).
Decoder files are not private (they hold public model weights): any signed-in user may fetch them.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified
from django.urls import reverse
from django.utils.cache import patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import project_for_user
from annotator.models import Image, Role
from segmentation import selectors
from segmentation.api import serializers as s
from segmentation.models import EmbeddingState, SamModel
from segmentation.services import auto_masks as auto_mask_services
from segmentation.services import embeddings as embedding_services
from segmentation.services.models import (
    DECODER_GRAPHS,
    decoder_export,
    decoders_prepare,
    project_model,
    server_decode_mask,
)

_BINARY = OpenApiResponse(OpenApiTypes.BINARY, description="The file's bytes")


def _image_for_member(user, image_id: int) -> Image:
    image = selectors.image_for_project_member(image_id)
    if image is None:
        raise Http404("No such image.")
    project_for_user(user, image.project_id)  # 404 for a non-member
    return image


def _decoder_url(request: Request, model: SamModel, variant: str, sha256: str) -> str:
    """?v= names the content: a URL with the current sha256 prefix may be cached without revalidation."""
    url = reverse("api-model-decoder", args=[model.pk, variant])
    return request.build_absolute_uri(f"{url}?v={sha256[:16]}")


def first_click_manifest(request: Request, model: SamModel, graphs: dict[str, tuple[str, str]]) -> dict:
    """The split for prompts without a mask input (first click, hover): run "prep" once per image on
    the embedding, feed its outputs with the prompt to "fp32"/"int8"; refinement clicks (with the
    previous low-res mask) use the full decoders. graphs: the model's current export record."""
    channels, height, width = model.embedding_shape
    entry = {
        graph.removeprefix("first-click-"): {
            "url": _decoder_url(request, model, graph, graphs[graph][1]),
            "sha256": graphs[graph][1],
        }
        for graph in ("prep", "first-click-fp32", "first-click-int8")
    }
    entry["prep_inputs"] = {"image_embeddings": [1, channels, height, width]}
    entry["prep_outputs"] = ["image_tokens", "t2i_keys", "t2i_values", "i2t_queries"]
    entry["inputs"] = ["point_coords", "point_labels", *entry["prep_outputs"]]
    entry["outputs"] = {"iou_predictions": [1, 4], "low_res_masks": [1, 4, 4 * height, 4 * width]}
    return entry


def manifest(request: Request, model: SamModel) -> dict:
    """The model and its decoders. The graphs described are exactly the current export's
    (DECODER_EXPORT_VERSION): a model whose stored decoders are older gets no decoders here and
    decoder_state "preparing" (a background re-export was queued; ask again) or "unavailable"."""
    channels, height, width = model.embedding_shape
    graphs = decoder_export(model)
    state = "ready" if graphs is not None else decoders_prepare(model)
    if graphs is None and state == "ready":  # exported in this request (eager Celery)
        model.refresh_from_db()
        graphs = decoder_export(model)
    return {
        "model": {
            "id": model.pk,
            "name": model.name,
            "architecture": model.architecture,
            "checkpoint_sha256": model.checkpoint_sha256,
        },
        "encoder_input_size": model.encoder_input_size,
        "embedding": {
            "shape": model.embedding_shape,
            "dtype": "float16",
            "format": "SAMEMB01 (docs/embedding-format.md)",
            "url_template": "/api/images/{image_id}/embedding/",
        },
        "decoder_state": "ready" if graphs else state,
        "decoders": {
            variant: {"url": _decoder_url(request, model, variant, graphs[variant][1]), "sha256": graphs[variant][1]}
            for variant in ("fp32", "int8")
        }
        if graphs
        else {},
        # The registered graphs are low-res (DECODER_EXPORT_VERSION >= 3): no orig_im_size, no full-size
        # masks; the client upscales the low-res logits of the mask it draws (resize to
        # encoder_input_size, crop the padding, resize to the image: one separable pass).
        "decoder_inputs": {
            "image_embeddings": [1, channels, height, width],
            "point_coords": [1, "N", 2],
            "point_labels": [1, "N"],
            "mask_input": [1, 1, 4 * height, 4 * width],
            "has_mask_input": [1],
        },
        "decoder_outputs": {"iou_predictions": [1, 4], "low_res_masks": [1, 4, 4 * height, 4 * width]},
        "upscale": "low_res_masks -> bilinear to encoder_input_size square, crop [0:round(H*scale), 0:round(W*scale)], "
        "bilinear to H x W (align_corners false), mask = logits > mask_threshold",
        "first_click": first_click_manifest(request, model, graphs) if graphs else None,
        "mask_choice": "with <= 2 prompt points: best of outputs 1..3 by predicted IoU; else output 0",
        "coordinates": {
            "scale": "encoder_input_size / max(image_height, image_width)",
            "point": "model_xy = image_xy * scale (x, y order; pixel centres handled inside the graph)",
            "labels": {"background": 0, "foreground": 1, "box_top_left": 2, "box_bottom_right": 3, "padding": -1},
            "padding_point": "without a box, append point (0, 0) with label -1",
            "mask_threshold": 0.0,
        },
    }


class ProjectModelView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id)
        return Response(manifest(request, project_model(project)))


class ProjectEmbeddingProgressView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id)
        return Response(selectors.embedding_progress(project))


class ImageEmbeddingView(APIView):
    @extend_schema(responses={200: _BINARY, 304: None, 409: OpenApiTypes.OBJECT})
    def get(self, request: Request, image_id: int):
        image = _image_for_member(request.user, image_id)
        model = project_model(image.project)
        embedding = selectors.embedding_for_image(image, model)
        if embedding is None or embedding.status != EmbeddingState.READY or not embedding.file:
            body = {
                "detail": "The embedding is not ready.",
                "status": embedding.status if embedding else image.embedding_status,
                "error": embedding.error if embedding else image.embedding_error,
            }
            response = Response(body, status=status.HTTP_409_CONFLICT)
            response["Retry-After"] = "2"
            return response
        # The key (weights, content) identifies the bytes: a strong ETag.
        etag = f'"{model.checkpoint_sha256[:16]}-{image.sha256}"'
        if request.headers.get("If-None-Match") == etag:
            response = HttpResponseNotModified()
        else:
            try:
                handle = default_storage.open(embedding.file.name, "rb")
            except FileNotFoundError as exc:
                raise Http404("The stored embedding is missing; retry it.") from exc
            response = FileResponse(handle, content_type="application/octet-stream")
        response["ETag"] = etag
        response["X-Model-Sha256"] = model.checkpoint_sha256
        # no-cache: the browser keeps it but revalidates (the project's model may change); 304 is cheap.
        patch_cache_control(response, private=True, no_cache=True)
        return response


class DecodeRequestSerializer(serializers.Serializer):
    points = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        required=False,
        default=list,
        max_length=64,
    )
    labels = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=1), required=False, default=list
    )
    box = serializers.ListField(
        child=serializers.FloatField(), min_length=4, max_length=4, required=False, allow_null=True, default=None
    )
    variant = serializers.ChoiceField(choices=["fp32", "int8"], default="int8")

    def validate(self, attrs: dict) -> dict:
        if len(attrs["points"]) != len(attrs["labels"]):
            raise serializers.ValidationError("points and labels differ in length.")
        if not attrs["points"] and attrs["box"] is None:
            raise serializers.ValidationError("A prompt needs at least one point or a box.")
        return attrs


class ImageDecodeView(APIView):
    """The server-side decoder path some peers use (the annotator itself decodes in the browser): the
    project model's exported ONNX decoder runs here on the stored embedding, and the officially chosen
    mask comes back as a PNG at the image's size (255 inside). bench/click_latency.py uses it as the
    baseline. Prompts are in image pixels; labels 1 positive, 0 negative; box x0, y0, x1, y1."""

    @extend_schema(
        request=DecodeRequestSerializer,
        responses={200: OpenApiResponse(OpenApiTypes.BINARY, description="PNG mask"), 409: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, image_id: int):
        import cv2

        image = _image_for_member(request.user, image_id)
        prompt = DecodeRequestSerializer(data=request.data)
        prompt.is_valid(raise_exception=True)
        model = project_model(image.project)
        embedding = selectors.embedding_for_image(image, model)
        if embedding is None or embedding.status != EmbeddingState.READY or not embedding.file:
            return Response({"detail": "The embedding is not ready."}, status=status.HTTP_409_CONFLICT)
        mask = server_decode_mask(
            model, embedding.file.name, height=image.height, width=image.width, **prompt.validated_data
        )
        ok, png = cv2.imencode(".png", mask.astype("uint8") * 255, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise RuntimeError("PNG encoding failed")
        return HttpResponse(png.tobytes(), content_type="image/png")


class ImageEmbeddingStatusView(APIView):
    @extend_schema(responses={200: s.EmbeddingStatusSerializer})
    def get(self, request: Request, image_id: int) -> Response:
        image = _image_for_member(request.user, image_id)
        embedding = selectors.embedding_for_image(image, project_model(image.project))
        if embedding is None:
            return Response({"status": image.embedding_status, "error": image.embedding_error, "attempts": 0})
        return Response(s.EmbeddingStatusSerializer(embedding).data)


class ImageEmbeddingRetryView(APIView):
    @extend_schema(request=None, responses={202: s.EmbeddingStatusSerializer})
    def post(self, request: Request, image_id: int) -> Response:
        image = _image_for_member(request.user, image_id)
        embedding = embedding_services.embedding_retry(image)
        return Response(s.EmbeddingStatusSerializer(embedding).data, status=status.HTTP_202_ACCEPTED)


class ModelDecoderView(APIView):
    @extend_schema(responses={200: _BINARY, 304: None})
    def get(self, request: Request, model_id: int, variant: str):
        model = SamModel.objects.filter(pk=model_id).first()
        # Only graphs of the model's current export record (what the manifest describes).
        graphs = decoder_export(model) if model is not None and variant in DECODER_GRAPHS else None
        if graphs is None:
            raise Http404("No such decoder (or it is being prepared: ask the project's model manifest).")
        name, sha = graphs[variant]
        etag = f'"{sha}"'
        if request.headers.get("If-None-Match") == etag:
            response = HttpResponseNotModified()
        else:
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


class AutoMaskJobListView(APIView):
    @extend_schema(request=s.AutoMaskJobCreateSerializer, responses={201: s.AutoMaskJobSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=[Role.MANAGER])
        serializer = s.AutoMaskJobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        image_id, label_class_id = data.pop("image_id", None), data.pop("label_class_id", None)
        image = project.images.filter(pk=image_id).first() if image_id else None
        if image_id and image is None:
            raise ValidationError({"image_id": "No such image in this project."})
        classes = project.label_classes.all()
        label_class = classes.filter(pk=label_class_id).first() if label_class_id else classes.first()
        if label_class is None:
            raise ValidationError({"label_class_id": "Create a label class first (or name one of this project's)."})
        job = auto_mask_services.auto_mask_job_create(
            project=project, user=request.user, label_class=label_class, image=image, params=data
        )
        return Response(s.AutoMaskJobSerializer(job).data, status=status.HTTP_201_CREATED)


class AutoMaskJobDetailView(APIView):
    @extend_schema(responses={200: s.AutoMaskJobSerializer})
    def get(self, request: Request, project_id: int, job_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id)
        job = selectors.auto_mask_job_get(project=project, job_id=job_id)
        if job is None:
            raise Http404("No such job.")
        return Response(s.AutoMaskJobSerializer(job).data)


class AutoMaskJobCancelView(APIView):
    @extend_schema(request=None, responses={200: s.AutoMaskJobSerializer})
    def post(self, request: Request, project_id: int, job_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=[Role.MANAGER])
        job = selectors.auto_mask_job_get(project=project, job_id=job_id)
        if job is None:
            raise Http404("No such job.")
        return Response(s.AutoMaskJobSerializer(auto_mask_services.auto_mask_job_cancel(job=job)).data)
