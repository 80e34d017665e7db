"""Segment everything: create a job for one image or the whole project (managers), follow it, cancel it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import project_for_user, user_of
from annotator.api.errors import ErrorSerializer
from annotator.models import AutoMaskJob, Role
from annotator.selectors_embeddings import auto_mask_job_get
from annotator.services.auto_masks import BulkJobLimitReached, auto_mask_job_cancel, auto_mask_job_create


class AutoMaskParamsSerializer(serializers.Serializer):
    points_per_side = serializers.IntegerField(required=False, min_value=1, max_value=64)
    pred_iou_thresh = serializers.FloatField(required=False, min_value=0, max_value=1)
    stability_score_thresh = serializers.FloatField(required=False, min_value=0, max_value=1)
    box_nms_thresh = serializers.FloatField(required=False, min_value=0, max_value=1)
    min_mask_region_area = serializers.IntegerField(required=False, min_value=0)


class AutoMaskJobCreateSerializer(AutoMaskParamsSerializer):
    """The scope is explicit: one image (`image_id`) or every image (`all_images: true`), never both;
    an empty body is refused (a whole-project run is minutes of bulk work)."""

    image_id = serializers.IntegerField(required=False, allow_null=True, help_text="One image of the project.")
    all_images = serializers.BooleanField(
        required=False, default=False, help_text="true: every image of the project (instead of image_id)."
    )
    label_class_id = serializers.IntegerField(required=False, help_text="Default: the project's first class.")

    def validate(self, attrs: dict) -> dict:
        one, every = attrs.get("image_id") is not None, attrs.get("all_images", False)
        if one == every:
            raise serializers.ValidationError(
                {
                    "all_images": "Name the scope: image_id for one image, or all_images: true for every image (not both)."
                }
            )
        return attrs


class AutoMaskJobSerializer(serializers.ModelSerializer):
    total_images = serializers.SerializerMethodField()
    done_images = serializers.SerializerMethodField()
    # Declared: a field derived from the model gets database-dependent bounds in the schema.
    annotations_created = serializers.IntegerField(read_only=True)

    class Meta:
        model = AutoMaskJob
        fields = [
            "id",
            "project",
            "image",
            "label_class",
            "params",
            "status",
            "total_images",
            "done_images",
            "annotations_created",
            "cancel_requested",
            "error",
            "created_at",
            "updated_at",
            "finished_at",
        ]

    def get_total_images(self, job: AutoMaskJob) -> int:
        return len(job.image_ids)

    def get_done_images(self, job: AutoMaskJob) -> int:
        return len(job.done_image_ids)


class AutoMaskJobListView(APIView):
    @extend_schema(
        request=AutoMaskJobCreateSerializer,
        responses={
            201: AutoMaskJobSerializer,
            429: OpenApiResponse(ErrorSerializer, description="Too many bulk jobs of this project at once"),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=[Role.MANAGER])
        serializer = AutoMaskJobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        image_id, label_class_id = data.pop("image_id", None), data.pop("label_class_id", None)
        data.pop("all_images", None)
        image = project.images.filter(pk=image_id).first() if image_id else None
        if image_id and image is None:
            raise ValidationError({"image_id": "No such image in this project."})
        classes = project.label_classes.all()
        label_class = classes.filter(pk=label_class_id).first() if label_class_id else classes.first()
        if label_class is None:
            raise ValidationError({"label_class_id": "Create a label class first (or name one of this project's)."})
        try:
            job = auto_mask_job_create(
                project=project, user=user_of(request), label_class=label_class, image=image, params=data
            )
        except BulkJobLimitReached as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        return Response(AutoMaskJobSerializer(job).data, status=status.HTTP_201_CREATED)


class AutoMaskJobDetailView(APIView):
    @extend_schema(responses={200: AutoMaskJobSerializer})
    def get(self, request: Request, project_id: int, job_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id)
        return Response(AutoMaskJobSerializer(auto_mask_job_get(project=project, job_id=job_id)).data)


class AutoMaskJobCancelView(APIView):
    @extend_schema(request=None, responses={200: AutoMaskJobSerializer})
    def post(self, request: Request, project_id: int, job_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=[Role.MANAGER])
        job = auto_mask_job_cancel(job=auto_mask_job_get(project=project, job_id=job_id))
        return Response(AutoMaskJobSerializer(job).data)
