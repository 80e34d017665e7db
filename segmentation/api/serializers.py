"""Serializers of the segmentation API (shape only; no logic)."""

from rest_framework import serializers

from segmentation.models import AutoMaskJob, Embedding


class EmbeddingStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = Embedding
        fields = ["status", "error", "attempts", "model_sha256", "compute_ms", "updated_at"]


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
