"""Export and import endpoints: thin views over `annotator.services.exports` / `.imports`.

Managers and reviewers may export (reviewers vouch for the data); only managers import, since an
import writes annotations into the project. Non-members get 404, other roles 403.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator import selectors_exports
from annotator.access import project_for_user, require_role, user_of
from annotator.exports.coco import SEGMENTATION_MODES
from annotator.models import AnnotationStatus, Export, ExportFormat, ExportStatus, Role
from annotator.services import exports as export_services
from annotator.services import imports as import_services

EXPORTERS = (Role.MANAGER, Role.REVIEWER)
IMPORTERS = (Role.MANAGER,)

MAX_ID = 2**63 - 1


class ExportSerializer(serializers.ModelSerializer):
    # Plain strings, not enums: several models have a "status" field with different choices.
    status = serializers.CharField(read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, allow_null=True, default=None)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id",
            "project",
            "format",
            "options",
            "status",
            "progress",
            "summary",
            "error",
            "requested_by",
            "created_at",
            "finished_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, export: Export) -> str | None:
        if export.status != ExportStatus.DONE:
            return None
        return f"/api/exports/{export.pk}/download/"


class ExportCreateSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=ExportFormat.choices)
    segmentation = serializers.ChoiceField(choices=SEGMENTATION_MODES, default="rle")
    statuses = serializers.ListField(
        child=serializers.ChoiceField(choices=AnnotationStatus.choices),
        required=False,
        help_text="Annotation statuses to export; default approved only; an empty list exports all.",
    )
    # Ids are database keys: bounded to 64-bit, so an absurd number is a 400, not a database overflow.
    label_class_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=10_000
    )
    job_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID, help_text="Only the images of this job."
    )
    include_images = serializers.BooleanField(default=False)


class ImportReportSerializer(serializers.Serializer):
    imported = serializers.IntegerField()
    skipped = serializers.ListField(child=serializers.DictField())
    created_label_classes = serializers.ListField(child=serializers.CharField())


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A COCO instances JSON file")


class ProjectExportListView(APIView):
    serializer_class = ExportSerializer

    @extend_schema(responses={200: ExportSerializer(many=True)})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=EXPORTERS)
        exports = selectors_exports.export_list(project=project)[:50]
        return Response(ExportSerializer(exports, many=True).data)

    @extend_schema(request=ExportCreateSerializer, responses={202: ExportSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=EXPORTERS)
        serializer = ExportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options = dict(serializer.validated_data)
        export_format = options.pop("format")
        export = export_services.export_request(
            project=project, user=user_of(request), format=export_format, options=options
        )
        return Response(ExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailView(APIView):
    serializer_class = ExportSerializer

    def get(self, request: Request, export_id: int) -> Response:
        export, role = selectors_exports.export_for_user(request.user, export_id)
        require_role(role, EXPORTERS)
        return Response(ExportSerializer(export).data)


class ExportDownloadView(APIView):
    @extend_schema(
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="A COCO instances file"),
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="A zip (images or masks)"),
        }
    )
    def get(self, request: Request, export_id: int) -> FileResponse:
        export, role = selectors_exports.export_for_user(request.user, export_id)
        require_role(role, EXPORTERS)
        if export.status != ExportStatus.DONE or not export.file:
            raise Http404("This export has no file (yet).")
        return FileResponse(
            export.file.open("rb"), as_attachment=True, filename=export_services.export_download_name(export)
        )


class CocoImportView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": ImportUploadSerializer}, responses={200: ImportReportSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=IMPORTERS)
        serializer = ImportUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = import_services.coco_load(serializer.validated_data["file"])
        report = import_services.coco_import_annotations(project=project, data=data, user=user_of(request))
        return Response(report.as_dict())
