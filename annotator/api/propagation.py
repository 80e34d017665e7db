"""Series and slice propagation (docs/dicom.md): embeddings ahead around an opened slice, propagate
an accepted object through its series (a run on the bulk queue, polled for progress), and accept the
propagated drafts one by one or all at once."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator import selectors
from annotator.access import (
    check_annotation_change,
    check_annotation_create,
    check_image_annotate,
    projects_visible_to,
    role_in_project,
    user_of,
)
from annotator.api.serializers import AnnotationSerializer
from annotator.models import PropagationRun
from annotator.services.propagation import (
    DEFAULT_MAX_SLICES,
    MAX_SLICES_LIMIT,
    propagation_start,
    proposal_accept,
    proposals_accept,
)
from annotator.services.series import series_embeddings_ahead


class PropagateRequestSerializer(serializers.Serializer):
    max_slices = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_SLICES_LIMIT,
        help_text=f"Slices tried each way from the seed (default {DEFAULT_MAX_SLICES}).",
    )


class PropagationRunSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(read_only=True)
    seed = serializers.IntegerField(source="seed_id", read_only=True, allow_null=True)
    progress = serializers.DictField(
        read_only=True, help_text='{"done", "total", "created", "stopped": {"after", "before"}}'
    )
    params = serializers.DictField(read_only=True)

    class Meta:
        model = PropagationRun
        fields = ["id", "seed", "status", "params", "progress", "error", "created_at", "finished_at"]
        read_only_fields = fields


class AcceptedCountSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()


class SeriesAheadSerializer(serializers.Serializer):
    image_ids = serializers.ListField(child=serializers.IntegerField(), help_text="Requested, nearest first.")


def _run_for_user(user, run_id: int) -> tuple[PropagationRun, str]:
    run = (
        PropagationRun.objects.select_related("project", "seed__image", "seed__author")
        .filter(pk=run_id, project__in=projects_visible_to(user))
        .first()
    )
    if run is None:
        raise Http404("No such propagation run.")
    return run, role_in_project(user, run.project)


class PropagateView(APIView):
    @extend_schema(request=PropagateRequestSerializer, responses={202: PropagationRunSerializer})
    def post(self, request: Request, annotation_id: int) -> Response:
        seed, role = selectors.annotation_for_user(request.user, annotation_id)
        check_annotation_create(user_of(request), role, seed.image)
        body = PropagateRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = propagation_start(seed=seed, user=user_of(request), max_slices=body.validated_data.get("max_slices"))
        return Response(PropagationRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class PropagationRunView(APIView):
    @extend_schema(responses={200: PropagationRunSerializer})
    def get(self, request: Request, run_id: int) -> Response:
        run, _ = _run_for_user(request.user, run_id)
        return Response(PropagationRunSerializer(run).data)


class PropagationAcceptView(APIView):
    @extend_schema(request=None, responses={200: AcceptedCountSerializer})
    def post(self, request: Request, run_id: int) -> Response:
        run, role = _run_for_user(request.user, run_id)
        if run.seed is None:
            raise Http404("The seed object of this run was deleted.")
        check_image_annotate(user_of(request), role, run.seed.image)
        return Response({"accepted": proposals_accept(seed=run.seed)})


class AnnotationAcceptView(APIView):
    @extend_schema(request=None, responses={200: AnnotationSerializer})
    def post(self, request: Request, annotation_id: int) -> Response:
        annotation, role = selectors.annotation_for_user(request.user, annotation_id)
        check_annotation_change(user_of(request), role, annotation, ["proposed"])
        return Response(AnnotationSerializer(proposal_accept(annotation=annotation)).data)


class SeriesAheadView(APIView):
    @extend_schema(request=None, responses={200: SeriesAheadSerializer})
    def post(self, request: Request, image_id: int) -> Response:
        image, _ = selectors.image_for_user(request.user, image_id)
        return Response({"image_ids": series_embeddings_ahead(image)})
