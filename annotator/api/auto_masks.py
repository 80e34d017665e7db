"""Segment everything: create a job for one image or the whole project (managers), follow it, cancel it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import project_for_user, user_of
from annotator.models import AutoMaskJob, Role
from annotator.selectors_embeddings import auto_mask_job_get
from annotator.services.auto_masks import auto_mask_job_cancel, auto_mask_job_create


class AutoMaskParamsSerializer(serializers.Serializer):
    points_per_side = serializers.IntegerField(required=False, min_value=1, max_value=64)
    pred_iou_thresh = serializers.FloatField(required=False, min_value=0, max_value=1)
    stability_score_thresh = serializers.FloatField(required=False, min_value=0, max_value=1)
    box_nms_thresh = serializers.FloatField(required=False, min_value=0, max_value=1)
    min_mask_region_area = serializers.IntegerField(required=False, min_value=0)


class AutoMaskJobCreateSerializer(AutoMaskParamsSerializer):
    image_id = serializers.IntegerField(required=False, allow_null=True, help_text="Omit for every image.")
    label_class_id = serializers.IntegerField(required=False, help_text="Default: the project's first class.")


class AutoMaskJobSerializer(serializers.ModelSerializer):
    total_images = serializers.SerializerMethodField()
    done_images = serializers.SerializerMethodField()

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
    @extend_schema(request=AutoMaskJobCreateSerializer, responses={201: AutoMaskJobSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=[Role.MANAGER])
        serializer = AutoMaskJobCreateSerializer(data=request.data)
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
        job = auto_mask_job_create(
            project=project, user=user_of(request), label_class=label_class, image=image, params=data
        )
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
