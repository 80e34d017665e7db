"""REST views of the review workflow: jobs, the annotator's queue, submit, review, audit trail, metrics.

Same shape as annotator.api.views: resolve through access rules -> validate -> one service -> render.
"""

from __future__ import annotations

import csv
import io

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator import selectors
from annotator import selectors_review as review_selectors
from annotator.access import check_image_review, check_image_submit, project_for_user, user_of
from annotator.api.serializers import AnnotationSerializer, ImageBriefSerializer
from annotator.api.views import PagePagination
from annotator.models import ImageReviewStatus, Job, Project, Role, StatusTransition
from annotator.services import jobs as job_services
from annotator.services import review as review_services

MANAGERS = (Role.MANAGER,)
REVIEWERS = (Role.REVIEWER, Role.MANAGER)


# --- serializers (only this module uses them) ---


class JobSerializer(serializers.ModelSerializer):
    annotator_username = serializers.CharField(
        source="annotator.username", read_only=True, allow_null=True, default=None
    )
    reviewer_username = serializers.CharField(source="reviewer.username", read_only=True, allow_null=True, default=None)
    image_count = serializers.IntegerField(read_only=True, allow_null=True, default=None)
    new_count = serializers.IntegerField(read_only=True, allow_null=True, default=None)
    submitted_count = serializers.IntegerField(read_only=True, allow_null=True, default=None)
    approved_count = serializers.IntegerField(read_only=True, allow_null=True, default=None)
    rejected_count = serializers.IntegerField(read_only=True, allow_null=True, default=None)

    class Meta:
        model = Job
        fields = [
            "id",
            "name",
            "annotator",
            "annotator_username",
            "reviewer",
            "reviewer_username",
            "created_at",
            "image_count",
            "new_count",
            "submitted_count",
            "approved_count",
            "rejected_count",
        ]
        read_only_fields = fields


class JobSplitSerializer(serializers.Serializer):
    count = serializers.IntegerField(required=False, min_value=1, help_text="Images per job (all unassigned images)")
    image_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, allow_empty=False)
    annotator = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    reviewer = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    name = serializers.CharField(required=False, allow_blank=True, max_length=180, default="")

    def validate(self, attrs: dict) -> dict:
        if ("count" in attrs) == ("image_ids" in attrs):
            raise serializers.ValidationError("Give exactly one of count (images per job) or image_ids.")
        return attrs


class JobUpdateSerializer(serializers.Serializer):
    annotator = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    reviewer = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    name = serializers.CharField(required=False, max_length=200)


class ReviewSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ImageReviewSerializer(ReviewSerializer):
    reject_rest = serializers.BooleanField(
        required=False,
        default=False,
        help_text="With approve=false: also reject the annotations still undecided, with the comment as theirs "
        "(otherwise they stay submitted and the comment stays on the image).",
    )


class TransitionSerializer(serializers.ModelSerializer):
    actor_username = serializers.CharField(source="actor.username", read_only=True, allow_null=True, default=None)
    annotation_author_username = serializers.CharField(
        source="annotation_author.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = StatusTransition
        fields = [
            "id",
            "image",
            "annotation",
            "annotation_author",
            "annotation_author_username",
            "actor",
            "actor_username",
            "from_status",
            "to_status",
            "comment",
            "created_at",
        ]
        read_only_fields = fields


class QueueImageSerializer(ImageBriefSerializer):
    review_status = serializers.ChoiceField(choices=ImageReviewStatus.choices, read_only=True)
    review_comment = serializers.CharField(read_only=True)
    job = serializers.IntegerField(source="job_id", read_only=True, allow_null=True)
    annotation_count = serializers.IntegerField(read_only=True, allow_null=True, default=None)

    class Meta(ImageBriefSerializer.Meta):
        fields = [*ImageBriefSerializer.Meta.fields, "review_status", "review_comment", "job", "annotation_count"]
        read_only_fields = fields


def _valid(serializer_class: type, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _user(user_id: int | None, field: str):
    if user_id is None:
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise ValidationError({field: "No such user."})
    return user


# --- jobs ---


class JobListView(ListAPIView):
    serializer_class = JobSerializer
    pagination_class = None  # a project has few jobs

    def get_queryset(self):
        project, _ = project_for_user(self.request.user, self.kwargs["project_id"])
        return review_selectors.job_list(project=project)

    @extend_schema(request=JobSplitSerializer, responses={201: JobSerializer(many=True)})
    def post(self, request: Request, project_id: int) -> Response:
        """Split unassigned images into jobs of `count` images, or put `image_ids` into one job."""
        project, _ = project_for_user(request.user, project_id, roles=MANAGERS)
        data = _valid(JobSplitSerializer, request.data)
        jobs = job_services.jobs_split(
            project=project,
            count=data.get("count"),
            image_ids=data.get("image_ids"),
            annotator=_user(data.get("annotator"), "annotator"),
            reviewer=_user(data.get("reviewer"), "reviewer"),
            name=data["name"],
        )
        rows = review_selectors.job_list(project=project).filter(pk__in=[job.pk for job in jobs])
        return Response(JobSerializer(rows, many=True).data, status=status.HTTP_201_CREATED)


class JobDetailView(APIView):
    serializer_class = JobSerializer

    def get(self, request: Request, project_id: int, job_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id)
        return Response(JobSerializer(review_selectors.job_in_project(project=project, job_id=job_id)).data)

    @extend_schema(request=JobUpdateSerializer, responses={200: JobSerializer})
    def patch(self, request: Request, project_id: int, job_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=MANAGERS)
        job = review_selectors.job_in_project(project=project, job_id=job_id)
        data = _valid(JobUpdateSerializer, request.data)
        slots = [slot for slot in ("annotator", "reviewer") if slot in data]
        job_services.job_assign(
            job=job,
            annotator=_user(data.get("annotator"), "annotator"),
            reviewer=_user(data.get("reviewer"), "reviewer"),
            name=data.get("name"),
            fields=slots,
        )
        return Response(JobSerializer(review_selectors.job_in_project(project=project, job_id=job_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: int, job_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=MANAGERS)
        job_services.job_delete(job=review_selectors.job_in_project(project=project, job_id=job_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- queue, submit, review ---


class QueueView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_id: int) -> Response:
        """The caller's work: images to annotate (rejections first), the next one, and rejection comments."""
        project, role = project_for_user(request.user, project_id)
        queue = review_selectors.queue_for_user(project=project, user=user_of(request), role=role)
        return Response(
            {
                "next_image": QueueImageSerializer(queue.next_image).data if queue.next_image else None,
                "images": QueueImageSerializer(queue.images, many=True).data,
                "rejections": [
                    {
                        "annotation": a.pk,
                        "image": a.image_id,
                        "label_class": a.label_class.name,
                        "comment": a.review_comment,
                    }
                    for a in queue.rejected_annotations
                ],
                "remaining_count": len(queue.images),
                "done_count": queue.done_count,
            }
        )


class ImageSubmitView(APIView):
    @extend_schema(request=None, responses={200: QueueImageSerializer})
    def post(self, request: Request, image_id: int) -> Response:
        image, role = selectors.image_for_user(request.user, image_id)
        check_image_submit(user_of(request), role, image)
        image = review_services.image_submit(image=image, user=user_of(request))
        return Response(QueueImageSerializer(image).data)


class ImageReviewView(APIView):
    @extend_schema(request=ImageReviewSerializer, responses={200: QueueImageSerializer})
    def post(self, request: Request, image_id: int) -> Response:
        """Approve or reject the whole image (a rejection needs a comment; reject_rest also rejects the
        undecided annotations)."""
        image, role = selectors.image_for_user(request.user, image_id)
        check_image_review(user_of(request), role, image)
        data = _valid(ImageReviewSerializer, request.data)
        image = review_services.image_review(image=image, reviewer=user_of(request), **data)
        return Response(QueueImageSerializer(image).data)


class AnnotationReviewView(APIView):
    @extend_schema(request=ReviewSerializer, responses={200: AnnotationSerializer})
    def post(self, request: Request, annotation_id: int) -> Response:
        annotation, role = selectors.annotation_for_user(request.user, annotation_id)
        check_image_review(user_of(request), role, annotation.image)
        data = _valid(ReviewSerializer, request.data)
        annotation = review_services.annotation_review(annotation=annotation, reviewer=user_of(request), **data)
        return Response(AnnotationSerializer(annotation).data)


# --- audit trail and metrics ---


class TransitionListView(ListAPIView):
    serializer_class = TransitionSerializer
    pagination_class = PagePagination

    @extend_schema(parameters=[OpenApiParameter("image", int, description="Only this image's history")])
    def get(self, request: Request, project_id: int) -> Response:
        return self.list(request)

    def get_queryset(self):
        project, _ = project_for_user(self.request.user, self.kwargs["project_id"])
        image_id = self.request.query_params.get("image")
        if image_id is not None and not image_id.isdigit():
            raise ValidationError({"image": "An image id (integer)."})
        return review_selectors.transition_list(project=project, image_id=int(image_id) if image_id else None)


def _metrics_project(request: Request, project_id: int) -> Project:
    # Throughput of named people is a manager's and reviewer's view, not an annotator's.
    project, _ = project_for_user(request.user, project_id, roles=REVIEWERS)
    return project


class MetricsView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_id: int) -> Response:
        return Response(review_selectors.project_metrics(project=_metrics_project(request, project_id)))


class MetricsCsvView(APIView):
    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One row per person")})
    def get(self, request: Request, project_id: int) -> HttpResponse:
        project = _metrics_project(request, project_id)
        buffer = io.StringIO()
        metrics = review_selectors.project_metrics(project=project)
        csv.writer(buffer).writerows(review_selectors.metrics_csv_rows(metrics))
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="project-{project.pk}-metrics.csv"'
        return response
