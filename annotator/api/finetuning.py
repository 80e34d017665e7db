"""Fine-tuning API: start, follow and cancel runs; list the project's model versions and switch between
them (promote a candidate, roll back). Managers start, cancel and switch; every member reads."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import project_for_user, user_of
from annotator.models import FinetuneRun, Project, Role
from annotator.selectors_embeddings import project_model
from annotator.selectors_finetuning import finetune_run_for_member, finetune_run_list, model_lineage
from annotator.services import finetuning as services
from segmentation.models import Architecture, SamModel

MANAGERS = (Role.MANAGER,)
_LIMITS = services.PARAM_LIMITS


# --- serializers (only this module uses them) ---


class FinetuneParamsSerializer(serializers.Serializer):
    """A run's parameters; each omitted one takes its default (annotator.services.finetuning)."""

    minutes = serializers.FloatField(
        required=False, min_value=_LIMITS["minutes"][0], max_value=_LIMITS["minutes"][1], help_text="Training budget."
    )
    max_epochs = serializers.IntegerField(
        required=False, min_value=int(_LIMITS["max_epochs"][0]), max_value=int(_LIMITS["max_epochs"][1])
    )
    lr = serializers.FloatField(required=False, min_value=_LIMITS["lr"][0], max_value=_LIMITS["lr"][1])
    seed = serializers.IntegerField(
        required=False, min_value=int(_LIMITS["seed"][0]), max_value=int(_LIMITS["seed"][1])
    )
    patience = serializers.IntegerField(
        required=False, min_value=int(_LIMITS["patience"][0]), max_value=int(_LIMITS["patience"][1])
    )
    statuses = serializers.ListField(
        child=serializers.ChoiceField(choices=services.TRAINABLE_STATUSES),
        required=False,
        min_length=1,
        help_text="Annotation statuses to learn from (default: approved).",
    )
    holdout = serializers.FloatField(
        required=False,
        min_value=_LIMITS["holdout"][0],
        max_value=_LIMITS["holdout"][1],
        help_text="Share of images held out for the comparison.",
    )
    promote = serializers.ChoiceField(
        choices=services.PROMOTE_CHOICES,
        required=False,
        help_text="auto: only when the held-out score improves by 0.01 and NoC@90 does not worsen.",
    )
    train_encoder = serializers.BooleanField(
        required=False,
        help_text="Train the image encoder too (GPU recommended): the version gets an encoder of its own and "
        "the project's images are embedded again when it becomes the project's model.",
    )


class FinetuneProgressSerializer(serializers.Serializer):
    epoch = serializers.FloatField(required=False, allow_null=True)
    step = serializers.FloatField(required=False, allow_null=True)
    loss = serializers.FloatField(required=False, allow_null=True)
    heldout = serializers.FloatField(required=False, allow_null=True, help_text="Mean held-out mIoU@1..5.")


class FinetuneEpochSerializer(serializers.Serializer):
    epoch = serializers.FloatField()
    loss = serializers.FloatField(allow_null=True)
    heldout = serializers.FloatField(allow_null=True)
    seconds = serializers.FloatField(allow_null=True)


class FinetuneStepSerializer(serializers.Serializer):
    step = serializers.FloatField()
    loss = serializers.FloatField(allow_null=True)


class FinetuneHistorySerializer(serializers.Serializer):
    epochs = FinetuneEpochSerializer(many=True, required=False)
    steps = FinetuneStepSerializer(many=True, required=False, help_text="Thinned step losses (the loss curve).")


class ClickMetricsSerializer(serializers.Serializer):
    """Held-out click-simulator metrics: mIoU@1..5, NoC@85, NoC@90, fail@85/fail@90 (share never reaching)."""

    base = serializers.DictField(child=serializers.FloatField(allow_null=True), required=False)
    tuned = serializers.DictField(child=serializers.FloatField(allow_null=True), required=False)


class FinetuneRunSerializer(serializers.ModelSerializer):
    params = serializers.JSONField()
    progress = FinetuneProgressSerializer()
    history = FinetuneHistorySerializer()
    metrics = ClickMetricsSerializer()
    annotations = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    base_model_name = serializers.CharField(source="base_model.name", read_only=True)
    result_model_name = serializers.CharField(source="result_model.name", read_only=True, allow_null=True, default=None)
    requested_by_username = serializers.CharField(
        source="requested_by.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = FinetuneRun
        fields = [
            "id",
            "project",
            "status",
            "params",
            "base_model",
            "base_model_name",
            "result_model",
            "result_model_name",
            "progress",
            "history",
            "metrics",
            "decision",
            "message",
            "train_objects",
            "heldout_objects",
            "annotations",
            "cancel_requested",
            "requested_by",
            "requested_by_username",
            "created_at",
            "started_at",
            "finished_at",
            "seconds",
        ]
        read_only_fields = fields


class ModelVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    parent_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    active = serializers.BooleanField(help_text="The project's model now.")
    builtin_default = serializers.BooleanField(
        help_text="The project's own built-in model (trained on synthetic shapes only, weak on photographs)."
    )
    metrics = ClickMetricsSerializer(help_text="Held-out metrics from the version's training; {} for registered files.")
    training_seconds = serializers.FloatField(allow_null=True)


def _version_row(model: SamModel, active: SamModel) -> dict:
    training = model.training or {}
    return {
        "id": model.pk,
        "name": model.name,
        "parent_id": model.parent_id,
        "created_at": model.created_at,
        "active": model.pk == active.pk,
        "builtin_default": model.architecture == Architecture.DEFAULT and model.parent_id is None,
        "metrics": training.get("metrics", {}),
        "training_seconds": training.get("seconds"),
    }


def _versions(project: Project) -> Any:
    active = project_model(project)
    return ModelVersionSerializer([_version_row(m, active) for m in model_lineage(project)], many=True).data


# --- views ---


class FinetuneRunListView(APIView):
    @extend_schema(responses={200: FinetuneRunSerializer(many=True)})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id)
        return Response(FinetuneRunSerializer(finetune_run_list(project=project), many=True).data)

    @extend_schema(request=FinetuneParamsSerializer, responses={201: FinetuneRunSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=MANAGERS)
        serializer = FinetuneParamsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = services.finetune_start(project=project, user=user_of(request), params=dict(serializer.validated_data))
        return Response(FinetuneRunSerializer(run).data, status=status.HTTP_201_CREATED)


class FinetuneRunDetailView(APIView):
    @extend_schema(responses={200: FinetuneRunSerializer})
    def get(self, request: Request, run_id: int) -> Response:
        return Response(FinetuneRunSerializer(finetune_run_for_member(request.user, run_id)).data)


class FinetuneRunCancelView(APIView):
    @extend_schema(request=None, responses={200: FinetuneRunSerializer})
    def post(self, request: Request, run_id: int) -> Response:
        run = finetune_run_for_member(request.user, run_id, roles=MANAGERS)
        run = services.finetune_cancel(run=run, user=user_of(request))
        return Response(FinetuneRunSerializer(finetune_run_for_member(request.user, run.pk)).data)


class ModelVersionListView(APIView):
    @extend_schema(responses={200: ModelVersionSerializer(many=True)})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id)
        return Response(_versions(project))


class ModelVersionActivateView(APIView):
    @extend_schema(request=None, responses={200: ModelVersionSerializer(many=True)})
    def post(self, request: Request, project_id: int, model_id: int) -> Response:
        """Make this version the project's model; answers the versions, the new one active."""
        project, _ = project_for_user(request.user, project_id, roles=MANAGERS)
        model = SamModel.objects.filter(pk=model_id).first()
        if model is None or model.pk not in {m.pk for m in model_lineage(project)}:
            return Response({"detail": "No such model version in this project."}, status=status.HTTP_404_NOT_FOUND)
        services.model_activate(project=project, model=model, user=user_of(request))
        return Response(_versions(Project.objects.get(pk=project.pk)))
